//! Retry settings and the backoff between attempts.

use std::time::Duration;

use crate::sync::{AtomicU64, Ordering};

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
    pub(crate) budget: Option<f64>,
}

impl Retry {
    /// The defaults: `max = 3`, `backoff = 2.0`, `delay = 100ms`, `max_delay = 30s`,
    /// `jitter = 1.0` (full jitter).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(staunch_runtime::Retry::new().max_retries(), 3);
    /// ```
    #[must_use]
    pub const fn new() -> Self {
        Retry {
            max: 3,
            backoff: 2.0,
            delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(30),
            jitter: 1.0,
            budget: None,
        }
    }

    /// Retries after the first attempt (at least 1): at most `max + 1` calls.
    ///
    /// # Examples
    ///
    /// ```
    /// let r = staunch_runtime::Retry::new().max(1);
    /// assert_eq!(r.max_retries(), 1);
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
    /// assert_eq!(r.backoff_factor(), 1.5);
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
    /// assert_eq!(r.first_delay().as_millis(), 250);
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
    /// assert_eq!(r.delay_cap().as_secs(), 5);
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
    /// assert_eq!(r.jitter_fraction(), 0.2);
    /// ```
    #[must_use]
    pub const fn jitter(mut self, j: f64) -> Self {
        self.jitter = j;
        self
    }

    /// Retries may add at most this fraction of the policy's recent first attempts (`0.1`: at
    /// most one retry per ten calls), so that an outage cannot multiply the load on a service
    /// that is already struggling. A retry the budget cannot pay for is not made: the call ends
    /// with its error (or its fallback). The budget saves credit from at most the last hundred
    /// retries' worth of first attempts. Default: no budget.
    ///
    /// # Examples
    ///
    /// ```
    /// let r = staunch_runtime::Retry::new().budget(0.1);
    /// assert_eq!(r.budget_ratio(), Some(0.1));
    /// ```
    #[must_use]
    pub const fn budget(mut self, fraction: f64) -> Self {
        self.budget = Some(fraction);
        self
    }

    /// Retries after the first attempt: at most this many more calls.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(staunch_runtime::Retry::new().max(7).max_retries(), 7);
    /// ```
    #[must_use]
    pub const fn max_retries(&self) -> u32 {
        self.max
    }

    /// The factor by which each wait grows.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(staunch_runtime::Retry::new().backoff_factor(), 2.0);
    /// ```
    #[must_use]
    pub const fn backoff_factor(&self) -> f64 {
        self.backoff
    }

    /// The wait before the first retry.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(staunch_runtime::Retry::new().first_delay().as_millis(), 100);
    /// ```
    #[must_use]
    pub const fn first_delay(&self) -> Duration {
        self.delay
    }

    /// The longest wait between two attempts.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(staunch_runtime::Retry::new().delay_cap().as_secs(), 30);
    /// ```
    #[must_use]
    pub const fn delay_cap(&self) -> Duration {
        self.max_delay
    }

    /// The fraction of each wait drawn at random (0: exact waits, 1: full jitter).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(staunch_runtime::Retry::new().jitter_fraction(), 1.0);
    /// ```
    #[must_use]
    pub const fn jitter_fraction(&self) -> f64 {
        self.jitter
    }

    /// The retry budget: retries per first attempt, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(staunch_runtime::Retry::new().budget(0.1).budget_ratio(), Some(0.1));
    /// ```
    #[must_use]
    pub const fn budget_ratio(&self) -> Option<f64> {
        self.budget
    }

    /// The configured number of retries.
    ///
    /// # Examples
    ///
    /// ```
    /// # #![allow(deprecated)]
    /// assert_eq!(staunch_runtime::Retry::new().max(7).max_value(), 7);
    /// ```
    #[deprecated(since = "0.1.1", note = "renamed to `max_retries`")]
    #[must_use]
    pub const fn max_value(&self) -> u32 {
        self.max_retries()
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

/// A retry budget: every first attempt deposits `fraction` of a retry, every retry withdraws one.
#[derive(Debug)]
pub(crate) struct Budget {
    /// Credit in millionths of a retry.
    credit: AtomicU64,
    deposit: u64,
    cap: u64,
}

const ONE: u64 = 1_000_000;

impl Budget {
    pub(crate) fn new(fraction: f64) -> Self {
        let deposit = ((fraction * ONE as f64).round() as u64).max(1);
        Budget {
            credit: AtomicU64::new(0),
            deposit,
            cap: 100 * ONE,
        }
    }

    /// A first attempt was made.
    pub(crate) fn deposit(&self) {
        let _ = self
            .credit
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |c| {
                (c < self.cap).then(|| (c + self.deposit).min(self.cap))
            });
    }

    /// Pays for one retry, if the credit allows.
    pub(crate) fn withdraw(&self) -> bool {
        self.credit
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |c| c.checked_sub(ONE))
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_never_exceed_the_fraction_of_first_attempts() {
        let b = Budget::new(0.1);
        let mut retries = 0;
        for first in 1..=1000u32 {
            b.deposit();
            // every call wants all three retries
            for _ in 0..3 {
                if b.withdraw() {
                    retries += 1;
                }
            }
            assert!(
                f64::from(retries) <= 0.1 * f64::from(first) + 1e-9,
                "{retries} retries for {first} calls"
            );
        }
        assert_eq!(retries, 100);
    }
}
