//! A circuit breaker's settings, as the builder and the attribute give them.

use std::time::Duration;

/// A circuit breaker's settings: open after `threshold` failures in a row, stay open for
/// `cooldown`, then let `half_open` trial calls through at a time; that many successes in a row
/// close it and one failure re-opens it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let b = staunch_runtime::Breaker::new().threshold(3).cooldown(Duration::from_secs(10)).half_open(2);
/// assert_eq!(b.failure_threshold(), 3);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Breaker {
    pub(crate) threshold: u32,
    pub(crate) cooldown: Duration,
    pub(crate) half_open: u32,
    pub(crate) max_half_open: Option<Duration>,
}

impl Breaker {
    /// The defaults: `threshold = 5`, `cooldown = 30s`, `half_open = 1`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(staunch_runtime::Breaker::new(), staunch_runtime::Breaker::default());
    /// ```
    #[must_use]
    pub const fn new() -> Self {
        Breaker {
            threshold: 5,
            cooldown: Duration::from_secs(30),
            half_open: 1,
            max_half_open: None,
        }
    }

    /// Failures in a row that open the breaker (at least 1).
    ///
    /// # Examples
    ///
    /// ```
    /// let b = staunch_runtime::Breaker::new().threshold(1);
    /// assert_eq!(b.failure_threshold(), 1);
    /// ```
    #[must_use]
    pub const fn threshold(mut self, n: u32) -> Self {
        self.threshold = n;
        self
    }

    /// How long the breaker stays open before it lets trial calls through.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = staunch_runtime::Breaker::new().cooldown(std::time::Duration::from_secs(5));
    /// assert_eq!(b.open_duration().as_secs(), 5);
    /// ```
    #[must_use]
    pub const fn cooldown(mut self, d: Duration) -> Self {
        self.cooldown = d;
        self
    }

    /// Trial calls let through at a time while half-open, and successes in a row that close it
    /// (at least 1).
    ///
    /// # Examples
    ///
    /// ```
    /// let b = staunch_runtime::Breaker::new().half_open(3);
    /// assert_eq!(b.trial_calls(), 3);
    /// ```
    #[must_use]
    pub const fn half_open(mut self, m: u32) -> Self {
        self.half_open = m;
        self
    }

    /// The longest the breaker stays half-open without a verdict (resilience4j's
    /// `maxWaitDurationInHalfOpenState`): past it, the breaker re-opens for a full cooldown, the
    /// trials still running give up their slots, and their late answers are ignored. Greater
    /// than 0. Default: no bound.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = staunch_runtime::Breaker::new().max_half_open(Duration::from_secs(20));
    /// assert_eq!(b.half_open_limit(), Some(Duration::from_secs(20)));
    /// ```
    #[must_use]
    pub const fn max_half_open(mut self, d: Duration) -> Self {
        self.max_half_open = Some(d);
        self
    }

    /// How long the breaker may stay half-open without a verdict, if bounded.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(staunch_runtime::Breaker::new().half_open_limit(), None);
    /// ```
    #[must_use]
    pub const fn half_open_limit(&self) -> Option<Duration> {
        self.max_half_open
    }

    /// The most trial calls a half-open breaker may let through at a time (the runtime counts a
    /// half-open period's trials in 16 bits).
    ///
    /// # Examples
    ///
    /// ```
    /// use staunch_runtime::{Breaker, Policy};
    /// let most = Breaker::new().half_open(Breaker::MAX_HALF_OPEN);
    /// assert!(Policy::builder("docs-most-trials").breaker(most).build().is_ok());
    /// let too_many = Breaker::new().half_open(Breaker::MAX_HALF_OPEN + 1);
    /// let e = Policy::builder("docs-too-many-trials").breaker(too_many).build().unwrap_err();
    /// assert_eq!(
    ///     e.to_string(),
    ///     "policy `docs-too-many-trials`: `breaker(half_open)` must be between 1 and 65535"
    /// );
    /// ```
    pub const MAX_HALF_OPEN: u32 = 0xffff;

    /// Failures in a row that open the breaker.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(staunch_runtime::Breaker::new().failure_threshold(), 5);
    /// ```
    #[must_use]
    pub const fn failure_threshold(&self) -> u32 {
        self.threshold
    }

    /// How long the breaker stays open before it lets trial calls through.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(staunch_runtime::Breaker::new().open_duration().as_secs(), 30);
    /// ```
    #[must_use]
    pub const fn open_duration(&self) -> Duration {
        self.cooldown
    }

    /// Trial calls let through at a time while half-open (and successes in a row that close it).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(staunch_runtime::Breaker::new().trial_calls(), 1);
    /// ```
    #[must_use]
    pub const fn trial_calls(&self) -> u32 {
        self.half_open
    }

    /// The configured threshold.
    ///
    /// # Examples
    ///
    /// ```
    /// # #![allow(deprecated)]
    /// assert_eq!(staunch_runtime::Breaker::new().threshold_value(), 5);
    /// ```
    #[deprecated(since = "0.1.1", note = "renamed to `failure_threshold`")]
    #[must_use]
    pub const fn threshold_value(&self) -> u32 {
        self.failure_threshold()
    }

    /// The configured cooldown.
    ///
    /// # Examples
    ///
    /// ```
    /// # #![allow(deprecated)]
    /// assert_eq!(staunch_runtime::Breaker::new().cooldown_value().as_secs(), 30);
    /// ```
    #[deprecated(since = "0.1.1", note = "renamed to `open_duration`")]
    #[must_use]
    pub const fn cooldown_value(&self) -> Duration {
        self.open_duration()
    }

    /// The configured number of half-open trials.
    ///
    /// # Examples
    ///
    /// ```
    /// # #![allow(deprecated)]
    /// assert_eq!(staunch_runtime::Breaker::new().half_open_value(), 1);
    /// ```
    #[deprecated(since = "0.1.1", note = "renamed to `trial_calls`")]
    #[must_use]
    pub const fn half_open_value(&self) -> u32 {
        self.trial_calls()
    }
}

impl Default for Breaker {
    fn default() -> Self {
        Self::new()
    }
}
