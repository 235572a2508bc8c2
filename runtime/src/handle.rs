//! The operator's handle on a named policy: its signals, a preflight, and manual control; and
//! the process-wide look-ups by name.

use crate::clock;
use crate::config::Config;
use crate::describe::{self, Description};
use crate::registry;
use crate::shared::{Observed, Shared, Signals};
use crate::sync::Arc;
use crate::Error;

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
/// assert!(matches!(h.preflight(), Err(staunch_runtime::Error::CircuitOpen { .. })));
/// h.reset();
/// assert!(h.preflight().is_ok());
/// ```
#[derive(Clone, Debug)]
pub struct Handle {
    shared: Arc<Shared>,
}

impl Handle {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Handle { shared }
    }
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
        self.shared.signals(clock::now_observed())
    }

    /// Would a call be admitted now (breaker, limiter, bulkhead)? Takes nothing: no token, no
    /// slot, no trial. For a keyed limiter, use [`preflight_key`](Self::preflight_key).
    ///
    /// # Errors
    ///
    /// The [`Error`] the call would be rejected with. A wait counts as a rejection: a limiter's
    /// wait for a token, and a full bulkhead even when its queue has room (the call would wait
    /// in it).
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
        s.preflight(key, clock::now_observed)
            .map_err(|refusal| s.error(refusal))
    }

    /// Holds the breaker open: every call is rejected with [`Error::CircuitOpen`] until
    /// [`force_closed`](Self::force_closed) or [`reset`](Self::reset). No effect without a breaker.
    /// A keyed breaker ([`Breaker::keyed`](crate::Breaker::keyed)) rejects every key's calls,
    /// new keys' too.
    ///
    /// # Examples
    ///
    /// See [`Handle`].
    pub fn force_open(&self) {
        if let Some(b) = self.shared.breaker() {
            b.force_open(clock::now_observed());
        }
    }

    /// Holds the breaker closed: failures are not counted until [`reset`](Self::reset). A keyed
    /// breaker lets every key's calls through, whatever its key's breaker says.
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
        if let Some(b) = self.shared.breaker() {
            b.force_closed(clock::now_observed());
        }
    }

    /// Back to a fresh start: breaker closed and counting from zero, buckets full. Calls in
    /// flight keep their bulkhead slots. A keyed breaker closes every key's breaker and forgets
    /// every key without a call in flight.
    ///
    /// # Examples
    ///
    /// See [`Handle`].
    pub fn reset(&self) {
        self.shared.reset(clock::now_observed());
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
        self.shared.observe(seen, clock::now_observed());
    }

    /// [`Policy::describe`](crate::Policy::describe) of the name's first policy: the parts of
    /// the name as every policy of it uses them, with the first policy's own retry, hedging,
    /// timeout and deadline (each function has its own).
    ///
    /// # Examples
    ///
    /// ```
    /// staunch_runtime::Policy::builder("docs-h-describe").max_inflight(2).build().unwrap();
    /// let d = staunch_runtime::policy("docs-h-describe").unwrap().describe();
    /// assert_eq!(d.setting("bulkhead", "max_inflight").unwrap().value, "2");
    /// ```
    #[must_use]
    pub fn describe(&self) -> Description {
        let origin = self
            .shared
            .config
            .origin
            .0
            .as_ref()
            .expect("every policy is built with its origin");
        describe::describe(self.name(), origin, origin, false)
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
    registry::get(name).map(|shared| Handle { shared })
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
    let now = clock::now_observed();
    registry::all()
        .into_iter()
        .map(|shared| (shared.name.clone(), shared.signals(now)))
        .collect()
}
