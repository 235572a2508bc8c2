//! Policies by name, process-wide; looked up only when created and when inspected.

use std::collections::BTreeMap;

use once_cell::sync::Lazy;

use crate::breaker::CircuitState;
use crate::clock;
use crate::limiter::Limiter;
use crate::policy::{Config, Shared};
use crate::sync::{lock, Arc, Mutex};
use crate::Error;

static REGISTRY: Lazy<Mutex<BTreeMap<String, Arc<Shared>>>> = Lazy::new(Mutex::default);

/// The shared state of `name`, created by `make` if there is none. A `unique` policy never
/// shares: it takes the first free name of `name`, `name#2`, `name#3`, ….
pub(crate) fn register(name: &str, unique: bool, make: impl FnOnce(&str) -> Shared) -> Arc<Shared> {
    let mut map = lock(&REGISTRY);
    if !unique {
        if let Some(s) = map.get(name) {
            return s.clone();
        }
        let shared = Arc::new(make(name));
        map.insert(name.to_owned(), shared.clone());
        return shared;
    }
    let mut taken = name.to_owned();
    let mut n = 1;
    while map.contains_key(&taken) {
        n += 1;
        taken = format!("{name}#{n}");
    }
    let shared = Arc::new(make(&taken));
    map.insert(taken, shared.clone());
    shared
}

/// A snapshot of one policy's state.
///
/// # Examples
///
/// ```
/// use staunch_runtime::{CircuitState, Policy};
/// let p = Policy::builder("docs-signals").rps(5.0).build().unwrap();
/// let s = staunch_runtime::signals("docs-signals").unwrap();
/// assert_eq!(s.circuit, CircuitState::Closed);
/// assert_eq!(s.inflight, 0);
/// assert_eq!(s.rate_remaining, Some(5.0));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct Signals {
    /// The breaker's state as a call arriving now would find it (`Closed` without a breaker).
    pub circuit: CircuitState,
    /// Calls in flight.
    pub inflight: usize,
    /// Tokens left now; `None` without a limiter or with a keyed one.
    pub rate_remaining: Option<f64>,
    /// Failures in a row counted by the breaker (0 without one).
    pub consecutive_failures: u32,
    /// Keys a keyed limiter remembers now; `None` otherwise.
    pub keys: Option<usize>,
}

/// An operator's handle on a named policy: its signals, a preflight, and manual control.
///
/// # Examples
///
/// ```
/// use staunch_runtime::{Breaker, CircuitState, Policy};
/// Policy::builder("docs-ops").breaker(Breaker::new()).build().unwrap();
/// let h = staunch_runtime::policy("docs-ops").unwrap();
/// h.force_open();
/// assert_eq!(h.signals().circuit, CircuitState::Open);
/// assert!(h.preflight().is_err());
/// h.reset();
/// assert!(h.preflight().is_ok());
/// ```
#[derive(Clone, Debug)]
pub struct Handle {
    pub(crate) shared: Arc<Shared>,
}

impl Handle {
    /// The policy's name.
    ///
    /// # Examples
    ///
    /// ```
    /// staunch_runtime::Policy::builder("docs-h-name").build().unwrap();
    /// assert_eq!(staunch_runtime::policy("docs-h-name").unwrap().name(), "docs-h-name");
    /// ```
    #[must_use]
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// A snapshot of the policy's state now.
    ///
    /// # Examples
    ///
    /// ```
    /// staunch_runtime::Policy::builder("docs-h-signals").build().unwrap();
    /// let s = staunch_runtime::policy("docs-h-signals").unwrap().signals();
    /// assert_eq!(s.rate_remaining, None);
    /// ```
    #[must_use]
    pub fn signals(&self) -> Signals {
        let s = &*self.shared;
        let now = clock::now_observed();
        Signals {
            circuit: s
                .breaker
                .as_ref()
                .map_or(CircuitState::Closed, |b| b.state(now)),
            inflight: s.bulkhead.inflight(),
            rate_remaining: match &s.limiter {
                Some(Limiter::Direct(d)) => Some(d.remaining(now)),
                _ => None,
            },
            consecutive_failures: s.breaker.as_ref().map_or(0, |b| b.consecutive_failures()),
            keys: match &s.limiter {
                Some(Limiter::Keyed(k)) => Some(k.keys()),
                _ => None,
            },
        }
    }

    /// Would a call be admitted now (breaker, limiter, bulkhead)? Takes nothing: no token, no
    /// slot, no trial. For a keyed limiter, use [`preflight_key`](Self::preflight_key).
    ///
    /// # Errors
    ///
    /// The [`Error`] the call would be rejected with (a limiter's wait counts as a rejection).
    ///
    /// # Examples
    ///
    /// ```
    /// staunch_runtime::Policy::builder("docs-preflight").rps(1.0).build().unwrap();
    /// assert!(staunch_runtime::policy("docs-preflight").unwrap().preflight().is_ok());
    /// ```
    pub fn preflight(&self) -> Result<(), Error> {
        self.preflight_key(0)
    }

    /// [`preflight`](Self::preflight) for one key of a keyed limiter (`key` as given by
    /// [`key_hash`](crate::key_hash)).
    ///
    /// # Errors
    ///
    /// The [`Error`] the call would be rejected with.
    ///
    /// # Examples
    ///
    /// ```
    /// staunch_runtime::Policy::builder("docs-preflight-key").rps(1.0).keyed().build().unwrap();
    /// let h = staunch_runtime::policy("docs-preflight-key").unwrap();
    /// assert!(h.preflight_key(staunch_runtime::key_hash("alice")).is_ok());
    /// ```
    pub fn preflight_key(&self, key: u64) -> Result<(), Error> {
        let s = &*self.shared;
        let now = clock::now_observed();
        if let Some(b) = &s.breaker {
            b.check(now).map_err(|retry_in| Error::CircuitOpen {
                policy: s.name.clone(),
                retry_in,
            })?;
        }
        if let Some(l) = &s.limiter {
            l.check(key, now).map_err(|w| Error::RateLimited {
                policy: s.name.clone(),
                retry_after: std::time::Duration::from_nanos(w),
            })?;
        }
        if s.bulkhead.is_full() {
            return Err(Error::BulkheadFull {
                policy: s.name.clone(),
                limit: s.bulkhead.limit().unwrap_or(usize::MAX),
            });
        }
        Ok(())
    }

    /// Holds the breaker open: every call is rejected with [`Error::CircuitOpen`] until
    /// [`force_closed`](Self::force_closed) or [`reset`](Self::reset). No effect without a breaker.
    ///
    /// # Examples
    ///
    /// See [`Handle`].
    pub fn force_open(&self) {
        if let Some(b) = &self.shared.breaker {
            b.force_open(clock::now_observed());
        }
    }

    /// Holds the breaker closed: failures are not counted until [`reset`](Self::reset).
    ///
    /// # Examples
    ///
    /// ```
    /// use staunch_runtime::{Breaker, CircuitState, Policy};
    /// Policy::builder("docs-force-closed").breaker(Breaker::new()).build().unwrap();
    /// let h = staunch_runtime::policy("docs-force-closed").unwrap();
    /// h.force_closed();
    /// assert_eq!(h.signals().circuit, CircuitState::Closed);
    /// ```
    pub fn force_closed(&self) {
        if let Some(b) = &self.shared.breaker {
            b.force_closed();
        }
    }

    /// Back to a fresh start: breaker closed and counting from zero, buckets full. Calls in
    /// flight keep their bulkhead slots.
    ///
    /// # Examples
    ///
    /// See [`Handle`].
    pub fn reset(&self) {
        if let Some(b) = &self.shared.breaker {
            b.reset();
        }
        if let Some(l) = &self.shared.limiter {
            l.reset();
        }
    }

    /// The configuration as resolved when the name was first created (settings, then
    /// environment).
    ///
    /// # Examples
    ///
    /// ```
    /// staunch_runtime::Policy::builder("docs-h-config").max_inflight(2).build().unwrap();
    /// assert_eq!(staunch_runtime::policy("docs-h-config").unwrap().config().max_inflight, Some(2));
    /// ```
    #[must_use]
    pub fn config(&self) -> Config {
        self.shared.config.clone()
    }
}

/// The handle of the policy named `name`, if one was created.
///
/// # Examples
///
/// ```
/// assert!(staunch_runtime::policy("docs-no-such-policy").is_none());
/// ```
#[must_use]
pub fn policy(name: &str) -> Option<Handle> {
    lock(&REGISTRY).get(name).map(|shared| Handle {
        shared: shared.clone(),
    })
}

/// A snapshot of the policy named `name`, if one was created.
///
/// # Examples
///
/// ```
/// staunch_runtime::Policy::builder("docs-signals-fn").build().unwrap();
/// assert_eq!(staunch_runtime::signals("docs-signals-fn").unwrap().inflight, 0);
/// ```
#[must_use]
pub fn signals(name: &str) -> Option<Signals> {
    policy(name).map(|h| h.signals())
}

/// Every policy's name with its signals, in name order.
///
/// # Examples
///
/// ```
/// staunch_runtime::Policy::builder("docs-snapshot").build().unwrap();
/// for (name, signals) in staunch_runtime::snapshot() {
///     println!("{name}: {:?}", signals.circuit);
/// }
/// assert!(staunch_runtime::snapshot().iter().any(|(n, _)| n == "docs-snapshot"));
/// ```
#[must_use]
pub fn snapshot() -> Vec<(String, Signals)> {
    let handles: Vec<Handle> = lock(&REGISTRY)
        .values()
        .map(|shared| Handle {
            shared: shared.clone(),
        })
        .collect();
    handles
        .into_iter()
        .map(|h| (h.name().to_owned(), h.signals()))
        .collect()
}
