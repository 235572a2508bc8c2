//! Hedging: after a delay, a second copy of a call that is still running; the first success
//! wins and the others are cancelled. The settings ([`Hedge`]) and the delay a function learns
//! from its own recent latencies ([`Learned`]).
//!
//! **Only for calls that are safe to repeat**: a hedged call may run twice (or up to
//! `max + 1` times) at once, and a copy that lost is cancelled wherever it stands, so the
//! upstream may have done its work twice.

use std::time::Duration;

use crate::clock::Nanos;
use crate::sync::{AtomicU64, Ordering};

/// When a call still running gets a second copy, and how many extra copies at most.
///
/// Hedging belongs to a function (or a call of the builder's API), never to a policy's name:
/// a name is shared by functions that may not be safe to repeat. Set it with
/// [`PolicyBuilder::hedge`](crate::PolicyBuilder::hedge); only
/// [`Policy::call_hedged`](crate::Policy::call_hedged) (and the attribute's `hedge(…)`) hedge.
///
/// - `after = D`: a fixed delay.
/// - `percentile = P`: the delay is the P-quantile of this function's recent successful
///   attempt latencies (the last [`Hedge::WINDOW`] samples, relearned every
///   [`Hedge::EVERY`]), never less than `min_after`. Until [`Hedge::WARM_UP`] samples are in,
///   the delay is `after` if given, else there is no hedge at all.
/// - Neither: `percentile = 0.95`.
///
/// Each copy passes the breaker, the limiter and the bulkhead like any attempt; a hedge one of
/// them turns away is not started (it never waits for a token), and does not fail the call.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use staunch_runtime::Hedge;
/// let fixed = Hedge::new().after(Duration::from_millis(200));
/// assert_eq!(fixed.delay(), Some(Duration::from_millis(200)));
/// assert_eq!(fixed.learns(), None);
/// let learned = Hedge::new().max(2);
/// assert_eq!(learned.learns(), Some(0.95));
/// assert_eq!(learned.extra(), 2);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Hedge {
    pub(crate) after: Option<Duration>,
    pub(crate) percentile: Option<f64>,
    pub(crate) min_after: Duration,
    pub(crate) max: u32,
    /// Which of `min_after` and `max` were set (a value equal to the default is still the
    /// user's, for `describe()`); not compared.
    pub(crate) set: u8,
}

impl PartialEq for Hedge {
    fn eq(&self, o: &Self) -> bool {
        (self.after, self.percentile, self.min_after, self.max)
            == (o.after, o.percentile, o.min_after, o.max)
    }
}

impl Default for Hedge {
    fn default() -> Self {
        Hedge::new()
    }
}

impl Hedge {
    const SET_MIN_AFTER: u8 = 1;
    const SET_MAX: u8 = 2;

    /// Whether `min_after` was set.
    pub(crate) const fn min_after_set(&self) -> bool {
        self.set & Self::SET_MIN_AFTER != 0
    }

    /// Whether `max` was set.
    pub(crate) const fn max_set(&self) -> bool {
        self.set & Self::SET_MAX != 0
    }

    /// The percentile learned when neither `after` nor `percentile` is set.
    pub const DEFAULT_PERCENTILE: f64 = 0.95;
    /// The floor under a learned delay when `min_after` is not set.
    pub const DEFAULT_MIN_AFTER: Duration = Duration::from_millis(1);
    /// The most extra copies a call may get (`max`).
    pub const MAX: u32 = 3;
    /// The smallest percentile that may be learned.
    pub const MIN_PERCENTILE: f64 = 0.5;
    /// The largest percentile that may be learned (the window holds 512 samples: a higher one
    /// would rest on a handful).
    pub const MAX_PERCENTILE: f64 = 0.99;
    /// How many recent successful latencies the learned delay is drawn from.
    pub const WINDOW: usize = 512;
    /// Samples needed before a learned delay is used.
    pub const WARM_UP: u64 = 64;
    /// The learned delay is recomputed every this many samples.
    pub const EVERY: u64 = 16;

    /// No delay given: `percentile = 0.95` learned, `min_after = 1ms`, `max = 1`.
    ///
    /// # Examples
    ///
    /// ```
    /// let h = staunch_runtime::Hedge::new();
    /// assert_eq!(h.learns(), Some(0.95));
    /// assert_eq!(h.delay(), None);
    /// assert_eq!(h.extra(), 1);
    /// ```
    #[must_use]
    pub const fn new() -> Self {
        Hedge {
            after: None,
            percentile: None,
            min_after: Self::DEFAULT_MIN_AFTER,
            max: 1,
            set: 0,
        }
    }

    /// A fixed delay after which a call still running gets a copy (greater than 0). With
    /// [`percentile`](Self::percentile) too, the delay used until the percentile is learned.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let h = staunch_runtime::Hedge::new().after(Duration::from_millis(150));
    /// assert_eq!(h.delay(), Some(Duration::from_millis(150)));
    /// ```
    #[must_use]
    pub const fn after(mut self, d: Duration) -> Self {
        self.after = Some(d);
        self
    }

    /// Learns the delay: the `p`-quantile of the function's recent successful attempt
    /// latencies (between 0.5 and 0.99).
    ///
    /// # Examples
    ///
    /// ```
    /// let h = staunch_runtime::Hedge::new().percentile(0.9);
    /// assert_eq!(h.learns(), Some(0.9));
    /// ```
    #[must_use]
    pub const fn percentile(mut self, p: f64) -> Self {
        self.percentile = Some(p);
        self
    }

    /// The floor under a learned delay (default 1 ms), so that a fast upstream is not hedged
    /// on every call.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let h = staunch_runtime::Hedge::new().min_after(Duration::from_millis(20));
    /// assert_eq!(h.floor(), Duration::from_millis(20));
    /// ```
    #[must_use]
    pub const fn min_after(mut self, d: Duration) -> Self {
        self.min_after = d;
        self.set |= Self::SET_MIN_AFTER;
        self
    }

    /// Extra copies at most (1 to 3, default 1): the `k`-th starts `k` delays after the first,
    /// if the call is still running.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(staunch_runtime::Hedge::new().max(3).extra(), 3);
    /// ```
    #[must_use]
    pub const fn max(mut self, n: u32) -> Self {
        self.max = n;
        self.set |= Self::SET_MAX;
        self
    }

    /// The fixed delay, if one was given.
    ///
    /// # Examples
    ///
    /// See [`after`](Self::after).
    #[must_use]
    pub const fn delay(&self) -> Option<Duration> {
        self.after
    }

    /// The percentile learned, if the delay is learned (`0.95` when no delay was given).
    ///
    /// # Examples
    ///
    /// See [`percentile`](Self::percentile).
    #[must_use]
    pub fn learns(&self) -> Option<f64> {
        match (self.after, self.percentile) {
            (_, Some(p)) => Some(p),
            (Some(_), None) => None,
            (None, None) => Some(Self::DEFAULT_PERCENTILE),
        }
    }

    /// The floor under a learned delay.
    ///
    /// # Examples
    ///
    /// See [`min_after`](Self::min_after).
    #[must_use]
    pub const fn floor(&self) -> Duration {
        self.min_after
    }

    /// Extra copies at most.
    ///
    /// # Examples
    ///
    /// See [`max`](Self::max).
    #[must_use]
    pub const fn extra(&self) -> u32 {
        self.max
    }

    /// What is wrong with these settings, if anything.
    pub(crate) fn invalid(&self) -> Option<&'static str> {
        if !(1..=Self::MAX).contains(&self.max) {
            return Some("`hedge(max)` must be between 1 and 3");
        }
        if self
            .percentile
            .is_some_and(|p| !(Self::MIN_PERCENTILE..=Self::MAX_PERCENTILE).contains(&p))
        {
            return Some("`hedge(percentile)` must be between 0.5 and 0.99");
        }
        if self.after == Some(Duration::ZERO) {
            return Some("`hedge(after)` must be greater than 0");
        }
        None
    }
}

/// A function's hedging: its settings and what it has learned of its latencies.
#[derive(Debug)]
pub(crate) struct Hedging {
    pub(crate) settings: Hedge,
    learned: Learned,
}

impl Hedging {
    pub(crate) fn new(settings: Hedge) -> Self {
        Hedging {
            settings,
            learned: Learned::new(Hedge::WINDOW),
        }
    }

    /// The delay before the next copy of a call: learned (floored by `min_after`) once warm,
    /// else `after`; `None`: no hedge yet.
    pub(crate) fn delay(&self) -> Option<Duration> {
        if self.settings.learns().is_some() {
            if let Some(d) = self.learned.delay() {
                return Some(Duration::from_nanos(d).max(self.settings.min_after));
            }
        }
        self.settings.after
    }

    /// A successful attempt took `nanos` (or a cancelled one had run that long at least).
    pub(crate) fn learn(&self, nanos: Nanos) {
        if let Some(p) = self.settings.learns() {
            self.learned.record(nanos, p);
        }
    }
}

/// The recent successful latencies of one function: a ring of samples written with one
/// `fetch_add` and one store each, and the quantile recomputed from it by every
/// [`Hedge::EVERY`]-th writer (from a copy of the ring, no lock). A reader loads
/// one word. Races only make the window a little stale: a slot overwritten while it is copied
/// gives the old or the new sample, both real.
#[derive(Debug)]
pub(crate) struct Learned {
    /// Nanoseconds, at least 1; 0: empty.
    samples: Box<[AtomicU64]>,
    /// Samples recorded so far.
    next: AtomicU64,
    /// The learned quantile in nanoseconds; 0 until warm.
    delay: AtomicU64,
}

impl Learned {
    pub(crate) fn new(window: usize) -> Self {
        Learned {
            samples: (0..window).map(|_| AtomicU64::new(0)).collect(),
            next: AtomicU64::new(0),
            delay: AtomicU64::new(0),
        }
    }

    /// The learned quantile in nanoseconds, once warm.
    pub(crate) fn delay(&self) -> Option<u64> {
        Some(self.delay.load(Ordering::Relaxed)).filter(|&d| d != 0)
    }

    /// Records a sample; every [`Hedge::EVERY`]-th (once warm) recomputes the `p`-quantile.
    pub(crate) fn record(&self, nanos: Nanos, p: f64) {
        let window = self.samples.len() as u64;
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        #[allow(clippy::cast_possible_truncation)] // below the window's length
        self.samples[(i % window) as usize].store(nanos.max(1), Ordering::Relaxed);
        let n = i + 1;
        if n >= Hedge::WARM_UP.min(window) && n % Hedge::EVERY.min(window) == 0 {
            self.relearn(p);
        }
    }

    #[cold]
    fn relearn(&self, p: f64) {
        let mut seen: Vec<u64> = self
            .samples
            .iter()
            .map(|s| s.load(Ordering::Relaxed))
            .filter(|&s| s != 0)
            .collect();
        if let Some(q) = quantile(&mut seen, p) {
            self.delay.store(q, Ordering::Relaxed);
        }
    }
}

/// The `p`-quantile of `samples` (the smallest sample at or above a fraction `p` of them).
fn quantile(samples: &mut [u64], p: f64) -> Option<u64> {
    if samples.is_empty() {
        return None;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )] // p in [0.5, 0.99], the length small
    let rank = ((p * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1;
    Some(*samples.select_nth_unstable(rank).1)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn the_quantile_is_the_sample_at_its_rank() {
        let mut s: Vec<u64> = (1..=100).collect();
        assert_eq!(quantile(&mut s, 0.95), Some(95));
        assert_eq!(quantile(&mut s, 0.5), Some(50));
        assert_eq!(quantile(&mut [7], 0.99), Some(7));
        assert_eq!(quantile(&mut [], 0.99), None);
    }

    #[test]
    fn nothing_is_learned_before_the_warm_up() {
        let l = Learned::new(Hedge::WINDOW);
        for i in 1..Hedge::WARM_UP {
            l.record(i * 1000, 0.95);
            assert_eq!(l.delay(), None);
        }
        l.record(Hedge::WARM_UP * 1000, 0.95);
        // 64 samples of 1..=64 µs: the 95th percentile is the 61st
        assert_eq!(l.delay(), Some(61_000));
    }

    #[test]
    fn the_window_forgets_old_samples() {
        let l = Learned::new(64);
        for _ in 0..64 {
            l.record(1_000_000, 0.5);
        }
        assert_eq!(l.delay(), Some(1_000_000));
        for _ in 0..64 {
            l.record(5_000, 0.5);
        }
        assert_eq!(l.delay(), Some(5_000));
    }

    #[test]
    fn the_learned_delay_is_floored_and_the_fixed_one_waits_for_it() {
        let h = Hedging::new(
            Hedge::new()
                .percentile(0.5)
                .after(Duration::from_millis(300))
                .min_after(Duration::from_millis(2)),
        );
        assert_eq!(h.delay(), Some(Duration::from_millis(300)));
        for _ in 0..Hedge::WARM_UP {
            h.learn(1_000); // 1 µs
        }
        assert_eq!(h.delay(), Some(Duration::from_millis(2)));
        // a fixed delay learns nothing
        let fixed = Hedging::new(Hedge::new().after(Duration::from_millis(300)));
        for _ in 0..Hedge::WARM_UP {
            fixed.learn(1_000);
        }
        assert_eq!(fixed.delay(), Some(Duration::from_millis(300)));
        assert_eq!(Hedging::new(Hedge::new()).delay(), None);
    }

    #[test]
    fn settings_out_of_bounds_are_named() {
        assert_eq!(Hedge::new().invalid(), None);
        assert!(Hedge::new().max(0).invalid().is_some());
        assert!(Hedge::new().max(4).invalid().is_some());
        assert!(Hedge::new().percentile(0.3).invalid().is_some());
        assert!(Hedge::new().percentile(f64::NAN).invalid().is_some());
        assert!(Hedge::new().after(Duration::ZERO).invalid().is_some());
    }
}
