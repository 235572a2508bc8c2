//! Retry settings and the backoff between attempts.

use std::time::Duration;

use crate::clock::Nanos;
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
#[derive(Clone, Copy, Debug)]
pub struct Retry {
    pub(crate) max: u32,
    pub(crate) backoff: f64,
    pub(crate) delay: Duration,
    pub(crate) max_delay: Duration,
    pub(crate) jitter: f64,
    pub(crate) budget: Option<f64>,
    /// Which values were set (`SET_*` bits), for [`describe`](crate::Policy::describe); not
    /// part of a comparison.
    pub(crate) set: u8,
}

// Whether a value was set or left at its default is not a difference between two retries.
impl PartialEq for Retry {
    fn eq(&self, o: &Self) -> bool {
        (
            self.max,
            self.backoff,
            self.delay,
            self.max_delay,
            self.jitter,
            self.budget,
        ) == (o.max, o.backoff, o.delay, o.max_delay, o.jitter, o.budget)
    }
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
            set: 0,
        }
    }

    pub(crate) const SET_MAX: u8 = 1;
    pub(crate) const SET_BACKOFF: u8 = 2;
    pub(crate) const SET_DELAY: u8 = 4;
    pub(crate) const SET_MAX_DELAY: u8 = 8;
    pub(crate) const SET_JITTER: u8 = 16;

    /// Whether the value of `bit` was set.
    pub(crate) const fn is_set(&self, bit: u8) -> bool {
        self.set & bit != 0
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
        self.set |= Self::SET_MAX;
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
        self.set |= Self::SET_BACKOFF;
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
        self.set |= Self::SET_DELAY;
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
        self.set |= Self::SET_MAX_DELAY;
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
        self.set |= Self::SET_JITTER;
        self
    }

    /// Retries may add at most this fraction of the policy's first attempts of the last ten
    /// seconds (`0.1`: one retry per ten calls), plus a floor of one retry a second (ten over the
    /// window), so that an outage cannot multiply the load on a service that is already
    /// struggling while a quiet client still retries. The budget belongs to the policy's name:
    /// every function of one name pays into and draws from one budget (the first to create the
    /// name sets its fraction). A retry the budget cannot pay for is not made: the call ends
    /// with its error (or its fallback). Default: no budget.
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

/// How far back a retry budget looks, in seconds.
const WINDOW_SECS: u64 = 10;
/// The retries a budget allows a second whatever the first attempts (tower's `min_per_sec`).
const FLOOR_PER_SEC: u64 = 1;
/// A slot's fields: the second it counts (low 24 bits), first attempts (20), retries (20). The
/// second is known modulo 2^24 (194 days): a slot last written exactly a multiple of 194 days
/// ago, to the second, would be read as current, once. Counts saturate at 2^20 − 1 a second.
const SECOND_BITS: u32 = 24;
const COUNT_BITS: u32 = 20;
const COUNT_MAX: u64 = (1 << COUNT_BITS) - 1;

const fn slot(second: u64, deposits: u64, retries: u64) -> u64 {
    (second & ((1 << SECOND_BITS) - 1))
        | (deposits << SECOND_BITS)
        | (retries << (SECOND_BITS + COUNT_BITS))
}
const fn second_of(s: u64) -> u64 {
    s & ((1 << SECOND_BITS) - 1)
}
const fn deposits_of(s: u64) -> u64 {
    (s >> SECOND_BITS) & COUNT_MAX
}
const fn retries_of(s: u64) -> u64 {
    s >> (SECOND_BITS + COUNT_BITS)
}

/// A retry budget over the last ten seconds, one slot a second (tower's `TpsBudget`, without a
/// lock): retries may number at most `FLOOR_PER_SEC × 10 + ratio × first attempts` over the
/// window. Two retries racing for the last unit may both pass; the budget bounds load, it is
/// not a lock.
#[derive(Debug)]
pub(crate) struct Budget {
    /// Retries per first attempt, in millionths.
    ratio: u64,
    slots: [AtomicU64; WINDOW_SECS as usize],
}

const ONE: u64 = 1_000_000;

impl Budget {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // saturating cast
    pub(crate) fn new(ratio: f64) -> Self {
        Budget {
            ratio: ((ratio * ONE as f64).round() as u64).max(1),
            slots: std::array::from_fn(|_| AtomicU64::new(slot(u64::MAX, 0, 0))),
        }
    }

    /// Adds `deposits` first attempts and `retries` retries to the slot of `second`.
    fn record(&self, second: u64, deposits: u64, retries: u64) {
        #[allow(clippy::cast_possible_truncation)] // below WINDOW_SECS
        let cell = &self.slots[(second % WINDOW_SECS) as usize];
        let _ = cell.fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
            let (d, r) = if second_of(s) == second_of(second) {
                (deposits_of(s), retries_of(s))
            } else {
                (0, 0) // a slot of an earlier window: counted afresh
            };
            Some(slot(
                second,
                (d + deposits).min(COUNT_MAX),
                (r + retries).min(COUNT_MAX),
            ))
        });
    }

    /// A first attempt was made at `now`.
    pub(crate) fn deposit(&self, now: Nanos) {
        self.record(now / 1_000_000_000, 1, 0);
    }

    /// Pays for one retry at `now`, if the window's first attempts and the floor allow it.
    pub(crate) fn withdraw(&self, now: Nanos) -> bool {
        let second = now / 1_000_000_000;
        let (mut deposits, mut retries) = (0, 0);
        for cell in &self.slots {
            let s = cell.load(Ordering::Acquire);
            // in the window: one of the last ten seconds (on 20 bits, which wrap)
            let age = second_of(second).wrapping_sub(second_of(s)) & ((1 << SECOND_BITS) - 1);
            if age < WINDOW_SECS {
                deposits += deposits_of(s);
                retries += retries_of(s);
            }
        }
        let allowance =
            (FLOOR_PER_SEC * WINDOW_SECS * ONE).saturating_add(deposits.saturating_mul(self.ratio));
        if (retries + 1) * ONE > allowance {
            return false;
        }
        self.record(second, 0, 1);
        true
    }
}

#[cfg(test)]
mod props {
    //! The budget against a reference that keeps every second's counts, over random first
    //! attempts, retries and clock moves (gaps up to a month), at fractions from the smallest
    //! to the huge.

    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    const SEC: u64 = 1_000_000_000;

    #[derive(Clone, Debug)]
    enum Op {
        Advance(u64),
        Deposit,
        Withdraw,
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn the_budget_allows_what_its_window_and_floor_allow(
            ratio in prop_oneof![Just(1e-6), Just(0.1), Just(1.0), Just(1e300), 0.001f64..10.0],
            t0 in prop_oneof![Just(0u64), Just(1u64 << 40), 0u64..1u64 << 62],
            ops in proptest::collection::vec(prop_oneof![
                (0u64..3 * SEC).prop_map(Op::Advance),
                (0u64..30 * 24 * 3600 * SEC).prop_map(Op::Advance),
                // the period of the 20-bit seconds an earlier version kept (12 days)
                Just(Op::Advance((1 << 20) * SEC)),
                Just(Op::Deposit),
                Just(Op::Withdraw),
            ], 1..200),
        ) {
            let b = Budget::new(ratio);
            // second -> (first attempts, retries)
            let mut seen: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
            let mut now = t0;
            for op in ops {
                match op {
                    Op::Advance(d) => now = now.saturating_add(d),
                    Op::Deposit => {
                        b.deposit(now);
                        seen.entry(now / SEC).or_default().0 += 1;
                    }
                    Op::Withdraw => {
                        let second = now / SEC;
                        let (d, r) = seen
                            .range(second.saturating_sub(WINDOW_SECS - 1)..=second)
                            .fold((0u64, 0u64), |(d, r), (_, (dd, rr))| (d + dd, r + rr));
                        let allowance = (FLOOR_PER_SEC * WINDOW_SECS * ONE)
                            .saturating_add(d.saturating_mul(b.ratio));
                        let allowed = (r + 1) * ONE <= allowance;
                        prop_assert_eq!(b.withdraw(now), allowed, "{:?} at {}", seen, second);
                        if allowed {
                            seen.entry(second).or_default().1 += 1;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000_000;

    /// Found by a review of the packing: with the second kept in 20 bits, a slot written
    /// exactly 2^20 s (12 days) earlier read as the current second, and its retries counted.
    #[test]
    fn a_slot_from_twelve_days_ago_is_not_this_second() {
        let b = Budget::new(0.1);
        let t0 = 100 * SEC;
        while b.withdraw(t0) {}
        assert!(
            b.withdraw(t0 + (1 << 20) * SEC),
            "a new window, twelve days on"
        );
    }

    #[test]
    fn a_quiet_client_still_retries_once_a_second() {
        let b = Budget::new(0.1);
        let t0 = 100 * SEC;
        // no first attempt at all: the floor alone, ten over the window
        for i in 0..10 {
            assert!(b.withdraw(t0), "retry {i} within the floor");
        }
        assert!(!b.withdraw(t0));
        // ten seconds later the window has moved on: the floor again
        assert!(b.withdraw(t0 + 10 * SEC));
    }

    #[test]
    fn retries_never_exceed_the_floor_plus_the_fraction_of_first_attempts() {
        let b = Budget::new(0.1);
        let mut retries = 0u32;
        let t = 50 * SEC; // all in one second
        for first in 1..=1000u32 {
            b.deposit(t);
            // every call wants all three retries
            for _ in 0..3 {
                if b.withdraw(t) {
                    retries += 1;
                }
            }
            assert!(
                f64::from(retries) <= 10.0 + 0.1 * f64::from(first) + 1e-9,
                "{retries} retries for {first} calls"
            );
        }
        assert_eq!(retries, 10 + 100);
    }

    #[test]
    fn first_attempts_older_than_ten_seconds_pay_for_nothing() {
        let b = Budget::new(1.0);
        let t0 = 7 * SEC;
        for _ in 0..100 {
            b.deposit(t0);
        }
        let mut ok = 0;
        while b.withdraw(t0 + 9 * SEC) {
            ok += 1;
        }
        assert_eq!(
            ok, 110,
            "the floor and the hundred deposits, still in the window"
        );
        let mut later = 0;
        while b.withdraw(t0 + 10 * SEC) {
            later += 1;
        }
        // the deposits (and the retries) of second 7 left the window; the retries of second 16
        // still count against the floor
        assert_eq!(later, 0);
        assert!(b.withdraw(t0 + 20 * SEC));
    }
}
