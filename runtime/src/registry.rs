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
    /// Tokens left now under the token limit (`tpm`); `None` without one.
    pub tokens_remaining: Option<f64>,
    /// How long every caller is still held off by a retry-after hint (zero: not held off).
    pub held_off_for: std::time::Duration,
    /// Retries made since the policy was created.
    pub retries: u64,
    /// Calls that finally failed or were rejected, in a way worth a fallback (and were handed to
    /// it, if there is one), since the policy was created.
    pub fallbacks: u64,
    /// Calls answered from a stale cache (`stale(…)`) since the policy was created.
    pub stale_served: u64,
}

/// What a provider said of its own limits in a response (the `x-ratelimit-remaining-*` and
/// `x-ratelimit-reset-*` headers of OpenAI-style APIs), for [`Handle::observe`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let seen = staunch_runtime::Observed {
///     remaining_requests: Some(0),
///     reset_requests: Some(Duration::from_secs(2)),
///     ..Default::default()
/// };
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    /// Requests left in the provider's window.
    pub remaining_requests: Option<u64>,
    /// When the provider's request window resets.
    pub reset_requests: Option<std::time::Duration>,
    /// Tokens left in the provider's window.
    pub remaining_tokens: Option<u64>,
    /// When the provider's token window resets.
    pub reset_tokens: Option<std::time::Duration>,
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
            tokens_remaining: s.tokens.as_ref().map(|t| t.remaining(now)),
            retries: s.counts.retries.load(crate::sync::Ordering::Relaxed),
            fallbacks: s.counts.fallbacks.load(crate::sync::Ordering::Relaxed),
            stale_served: s.counts.stale_served.load(crate::sync::Ordering::Relaxed),
            held_off_for: std::time::Duration::from_nanos(
                s.hold_until
                    .load(crate::sync::Ordering::Acquire)
                    .saturating_sub(now),
            ),
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
        let held = s
            .hold_until
            .load(crate::sync::Ordering::Acquire)
            .saturating_sub(now);
        if held > 0 {
            return Err(Error::RateLimited {
                policy: s.name.clone(),
                retry_after: std::time::Duration::from_nanos(held),
            });
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
        if let Some(t) = &self.shared.tokens {
            t.reset();
        }
        self.shared
            .hold_until
            .store(0, crate::sync::Ordering::Release);
    }

    /// Tightens the limiters to what the provider reported: our buckets never hold more than
    /// the provider says is left, and with nothing left they wait for its reset. Never loosens
    /// them. No effect on a keyed limiter.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use staunch_runtime::{MockClock, Observed, Policy};
    /// let clock = MockClock::new();
    /// let _g = clock.install(); // time stands still between the two reads below
    /// let p = Policy::builder("docs-observe").rpm(600.0).tpm(100_000.0).build().unwrap();
    /// p.handle().observe(Observed { remaining_tokens: Some(500), ..Default::default() });
    /// assert_eq!(p.handle().signals().tokens_remaining, Some(500.0));
    /// ```
    pub fn observe(&self, seen: Observed) {
        let s = &*self.shared;
        let now = clock::now_observed();
        let nanos = |d: Option<std::time::Duration>| d.map(clock::duration_to_nanos);
        if let Some(Limiter::Direct(d)) = &s.limiter {
            d.learn(now, seen.remaining_requests, nanos(seen.reset_requests));
        }
        if let Some(t) = &s.tokens {
            t.learn(now, seen.remaining_tokens, nanos(seen.reset_tokens));
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
