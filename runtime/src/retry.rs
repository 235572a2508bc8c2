//! Retry settings and the backoff between attempts.

use std::time::Duration;

/// How a failed attempt is retried: at most `max` more times; before retry `k` (from 0) wait
/// `w = min(delay * backoff^k, max_delay)`, drawn uniformly from `[(1 - jitter) * w, w]`, and
/// never less than the error's retry-after hint.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use staunch_runtime::Retry;
///
/// let r = Retry::new().max(5).backoff(3.0).delay(Duration::from_millis(10)).jitter(0.0);
/// assert_eq!(r.wait(0, None), Duration::from_millis(10));
/// assert_eq!(r.wait(2, None), Duration::from_millis(90));
/// assert_eq!(r.wait(0, Some(Duration::from_secs(1))), Duration::from_secs(1));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Retry {
    pub(crate) max: u32,
    pub(crate) backoff: f64,
    pub(crate) delay: Duration,
    pub(crate) max_delay: Duration,
    pub(crate) jitter: f64,
}

impl Retry {
    /// The defaults: `max = 3`, `backoff = 2.0`, `delay = 100ms`, `max_delay = 30s`,
    /// `jitter = 1.0` (full jitter).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(staunch_runtime::Retry::new().max_value(), 3);
    /// ```
    #[must_use]
    pub const fn new() -> Self {
        Retry {
            max: 3,
            backoff: 2.0,
            delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(30),
            jitter: 1.0,
        }
    }

    /// Retries after the first attempt (at least 1): at most `max + 1` calls.
    ///
    /// # Examples
    ///
    /// ```
    /// let r = staunch_runtime::Retry::new().max(1);
    /// ```
    #[must_use]
    pub const fn max(mut self, n: u32) -> Self {
        self.max = n;
        self
    }

    /// Factor by which each wait grows (at least 1.0).
    ///
    /// # Examples
    ///
    /// ```
    /// let r = staunch_runtime::Retry::new().backoff(1.5);
    /// ```
    #[must_use]
    pub const fn backoff(mut self, f: f64) -> Self {
        self.backoff = f;
        self
    }

    /// The wait before the first retry.
    ///
    /// # Examples
    ///
    /// ```
    /// let r = staunch_runtime::Retry::new().delay(std::time::Duration::from_millis(250));
    /// ```
    #[must_use]
    pub const fn delay(mut self, d: Duration) -> Self {
        self.delay = d;
        self
    }

    /// The longest wait between two attempts (a retry-after hint may still ask for more).
    ///
    /// # Examples
    ///
    /// ```
    /// let r = staunch_runtime::Retry::new().max_delay(std::time::Duration::from_secs(5));
    /// ```
    #[must_use]
    pub const fn max_delay(mut self, d: Duration) -> Self {
        self.max_delay = d;
        self
    }

    /// The fraction of each wait drawn at random: `0.0` for exact waits, `1.0` for full jitter.
    ///
    /// # Examples
    ///
    /// ```
    /// let r = staunch_runtime::Retry::new().jitter(0.2);
    /// ```
    #[must_use]
    pub const fn jitter(mut self, j: f64) -> Self {
        self.jitter = j;
        self
    }

    /// The configured number of retries.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(staunch_runtime::Retry::new().max(7).max_value(), 7);
    /// ```
    #[must_use]
    pub const fn max_value(&self) -> u32 {
        self.max
    }

    /// The wait before retry `k` (0 for the first retry), given the failed attempt's hint.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let r = staunch_runtime::Retry::new().delay(Duration::from_secs(1)).max_delay(Duration::from_secs(4));
    /// for k in 0..10 {
    ///     assert!(r.wait(k, None) <= Duration::from_secs(4));
    /// }
    /// ```
    #[must_use]
    pub fn wait(&self, k: u32, hint: Option<Duration>) -> Duration {
        let factor = self.backoff.powi(i32::try_from(k).unwrap_or(i32::MAX));
        let cap = self.max_delay.as_secs_f64();
        let w = (self.delay.as_secs_f64() * factor).min(cap);
        let w = if w.is_finite() { w } else { cap };
        let drawn = if self.jitter > 0.0 {
            let low = w * (1.0 - self.jitter);
            low + (w - low) * rand::random::<f64>()
        } else {
            w
        };
        let d = Duration::try_from_secs_f64(drawn).unwrap_or(self.max_delay);
        hint.map_or(d, |h| d.max(h))
    }
}

impl Default for Retry {
    fn default() -> Self {
        Self::new()
    }
}
