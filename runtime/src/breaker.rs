//! Circuit breaker: consecutive failures open it, a cooldown later trial calls test it.
//!
//! All state is in atomics. The phase word packs the state, a "forced by an operator" flag and
//! a generation that every transition bumps; the trial word packs the half-open period's
//! generation with its trials in flight and its successes, so a trial of an earlier period can
//! neither close nor re-open a later one, and the counters of a new period start at zero without
//! anyone resetting them. The closed state's path is one load.

use std::time::Duration;

use crate::clock::{duration_to_nanos, Nanos};
use crate::sync::{AtomicU32, AtomicU64, Ordering};

/// The state of a circuit breaker.
///
/// # Examples
///
/// ```
/// use staunch_runtime::CircuitState;
/// assert_ne!(CircuitState::Closed, CircuitState::Open);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CircuitState {
    /// Calls pass; failures in a row are counted.
    Closed,
    /// Calls are rejected until the cooldown has passed.
    Open,
    /// A few trial calls pass; their outcome closes or re-opens the breaker.
    HalfOpen,
}

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

const CLOSED: u64 = 0;
const OPEN: u64 = 1;
const HALF_OPEN: u64 = 2;
const STATE_MASK: u64 = 0b11;
const FORCED: u64 = 0b100;
const GEN_SHIFT: u32 = 3;

const fn phase(state: u64, forced: bool, gen: u64) -> u64 {
    state | if forced { FORCED } else { 0 } | (gen << GEN_SHIFT)
}
const fn state_of(p: u64) -> u64 {
    p & STATE_MASK
}
const fn forced_of(p: u64) -> bool {
    p & FORCED != 0
}
const fn gen_of(p: u64) -> u64 {
    p >> GEN_SHIFT
}

/// Trial word: the low 32 bits of the generation of the half-open period that last admitted a
/// trial, that period's successes, and the trials in flight of any period. Trials in flight are
/// counted across periods: a trial still running when its period ended keeps its slot until it
/// finishes, so that no period ever has more than `half_open` trials running at once.
const fn trials(gen: u64, inflight: u64, successes: u64) -> u64 {
    ((gen & 0xffff_ffff) << 32) | ((inflight & 0xffff) << 16) | (successes & 0xffff)
}
const fn same_period(t: u64, gen: u64) -> bool {
    t >> 32 == gen & 0xffff_ffff
}
const fn inflight_of(t: u64) -> u64 {
    (t >> 16) & 0xffff
}
const fn with_inflight(t: u64, inflight: u64) -> u64 {
    (t & !(0xffff << 16)) | ((inflight & 0xffff) << 16)
}
/// The successes of period `gen`: none if the word was last written by another period.
const fn successes_of(t: u64, gen: u64) -> u64 {
    if same_period(t, gen) {
        t & 0xffff
    } else {
        0
    }
}

/// What the breaker let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pass {
    /// A call while closed (or forced closed).
    Closed,
    /// A trial call of the half-open period with this generation.
    Trial(u64),
}

/// A circuit breaker's state.
#[derive(Debug)]
pub(crate) struct BreakerState {
    cfg: Breaker,
    cooldown: Nanos,
    phase: AtomicU64,
    failures: AtomicU32,
    opened_at: AtomicU64,
    trials: AtomicU64,
}

impl BreakerState {
    pub(crate) fn new(cfg: Breaker) -> Self {
        BreakerState {
            cfg,
            cooldown: duration_to_nanos(cfg.cooldown),
            phase: AtomicU64::new(phase(CLOSED, false, 0)),
            failures: AtomicU32::new(0),
            opened_at: AtomicU64::new(0),
            trials: AtomicU64::new(0),
        }
    }

    /// Whether a call may pass now: with `TAKE`, a trial slot is taken if it passes as a trial
    /// (an open breaker past its cooldown turns half-open); without, nothing changes (a
    /// preflight). `now` is read only when the breaker is not closed. On rejection, returns how
    /// long until a trial may pass.
    #[inline]
    pub(crate) fn admit<const TAKE: bool>(
        &self,
        now: impl FnOnce() -> Nanos,
    ) -> Result<Pass, Duration> {
        let p = self.phase.load(Ordering::Acquire);
        if state_of(p) == CLOSED {
            return Ok(Pass::Closed);
        }
        self.admit_slow::<TAKE>(p, now())
    }

    /// The one decision behind admission and preflight, for a breaker that is not closed.
    #[cold]
    fn admit_slow<const TAKE: bool>(&self, mut p: u64, now: Nanos) -> Result<Pass, Duration> {
        loop {
            match state_of(p) {
                CLOSED => return Ok(Pass::Closed),
                OPEN => {
                    if forced_of(p) {
                        return Err(self.cfg.cooldown);
                    }
                    let until = self.open_until();
                    if now < until {
                        return Err(Duration::from_nanos(until - now));
                    }
                    let half = phase(HALF_OPEN, false, gen_of(p) + 1);
                    if !TAKE {
                        // judged as the half-open period that would begin now
                        p = half;
                        continue;
                    }
                    p = match self.phase.compare_exchange(
                        p,
                        half,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    ) {
                        Ok(_) => half,
                        Err(actual) => actual,
                    };
                }
                _ => {
                    let gen = gen_of(p);
                    let max = u64::from(self.cfg.half_open);
                    let room = |t: u64| {
                        let (inflight, successes) = (inflight_of(t), successes_of(t, gen));
                        (inflight + successes < max).then(|| trials(gen, inflight + 1, successes))
                    };
                    let got = if TAKE {
                        self.trials
                            .fetch_update(Ordering::AcqRel, Ordering::Acquire, room)
                            .is_ok()
                    } else {
                        room(self.trials.load(Ordering::Acquire)).is_some()
                    };
                    return if got {
                        Ok(Pass::Trial(gen))
                    } else {
                        Err(Duration::ZERO)
                    };
                }
            }
        }
    }

    /// Records a success of a call the breaker let through.
    #[inline]
    pub(crate) fn success(&self, pass: Pass) {
        match pass {
            Pass::Closed => {
                // A load first: the common case writes nothing, so threads do not fight over
                // the cache line.
                if self.failures.load(Ordering::Relaxed) != 0 {
                    self.failures.store(0, Ordering::Relaxed);
                }
            }
            Pass::Trial(gen) => self.trial_success(gen),
        }
    }

    #[cold]
    fn trial_success(&self, gen: u64) {
        let max = u64::from(self.cfg.half_open);
        let Ok(prev) = self
            .trials
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                let inflight = inflight_of(t).saturating_sub(1);
                Some(if same_period(t, gen) {
                    trials(gen, inflight, successes_of(t, gen) + 1)
                } else {
                    // a trial of an earlier period: it gives its slot back, and counts for nothing
                    with_inflight(t, inflight)
                })
            })
        else {
            return;
        };
        if same_period(prev, gen) && successes_of(prev, gen) + 1 >= max {
            let half = phase(HALF_OPEN, false, gen);
            if self
                .phase
                .compare_exchange(
                    half,
                    phase(CLOSED, false, gen + 1),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok()
            {
                self.failures.store(0, Ordering::Release);
            }
        }
    }

    /// Records a failure (an `Err`, a timeout or a panic) of a call the breaker let through.
    pub(crate) fn failure(&self, pass: Pass, now: Nanos) {
        match pass {
            Pass::Closed => {
                let p = self.phase.load(Ordering::Acquire);
                if state_of(p) != CLOSED || forced_of(p) {
                    return;
                }
                let n = self
                    .failures
                    .fetch_add(1, Ordering::AcqRel)
                    .saturating_add(1);
                if n >= self.cfg.threshold {
                    self.open(p, now);
                }
            }
            Pass::Trial(gen) => {
                self.release(pass);
                self.open(phase(HALF_OPEN, false, gen), now);
            }
        }
    }

    /// Opens the breaker if it is still in phase `from`.
    fn open(&self, from: u64, now: Nanos) {
        // The time goes in first: whoever sees the new phase must see its cooldown start. If the
        // exchange fails, another thread moved the phase (and wrote its own, equally recent time).
        self.opened_at.store(now, Ordering::Release);
        let _ = self.phase.compare_exchange(
            from,
            phase(OPEN, false, gen_of(from) + 1),
            Ordering::AcqRel,
            Ordering::Acquire,
        );
    }

    /// Gives back a trial slot without an outcome (a later part rejected the call, or its future
    /// was dropped).
    pub(crate) fn release(&self, pass: Pass) {
        if let Pass::Trial(_) = pass {
            let _ = self
                .trials
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                    let inflight = inflight_of(t);
                    (inflight > 0).then(|| with_inflight(t, inflight - 1))
                });
        }
    }

    /// The state as a caller arriving at `now` would find it: an open breaker whose cooldown has
    /// passed reads as half-open.
    pub(crate) fn state(&self, now: Nanos) -> CircuitState {
        let p = self.phase.load(Ordering::Acquire);
        match state_of(p) {
            CLOSED => CircuitState::Closed,
            OPEN if forced_of(p) => CircuitState::Open,
            OPEN => {
                let until = self.open_until();
                if now < until {
                    CircuitState::Open
                } else {
                    CircuitState::HalfOpen
                }
            }
            _ => CircuitState::HalfOpen,
        }
    }

    /// When the current open period's cooldown ends.
    fn open_until(&self) -> Nanos {
        self.opened_at
            .load(Ordering::Acquire)
            .saturating_add(self.cooldown)
    }

    pub(crate) fn consecutive_failures(&self) -> u32 {
        self.failures.load(Ordering::Acquire)
    }

    /// Holds the breaker open (rejecting every call) until [`force_closed`](Self::force_closed)
    /// or [`reset`](Self::reset).
    pub(crate) fn force_open(&self, now: Nanos) {
        self.opened_at.store(now, Ordering::Release);
        self.set(|p| phase(OPEN, true, gen_of(p) + 1));
    }

    /// Holds the breaker closed (failures are not counted) until [`reset`](Self::reset).
    pub(crate) fn force_closed(&self) {
        self.failures.store(0, Ordering::Release);
        self.set(|p| phase(CLOSED, true, gen_of(p) + 1));
    }

    /// Back to closed, counting failures from zero.
    pub(crate) fn reset(&self) {
        self.failures.store(0, Ordering::Release);
        self.set(|p| phase(CLOSED, false, gen_of(p) + 1));
    }

    fn set(&self, f: impl Fn(u64) -> u64) {
        let _ = self
            .phase
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |p| Some(f(p)));
    }
}
