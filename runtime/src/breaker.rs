//! Circuit breaker: consecutive failures (or a failure rate over a sliding window) open it, a
//! cooldown later trial calls test it.
//!
//! All state is in atomics. The phase word packs the state, a "forced by an operator" flag and
//! a generation that every transition bumps; the trial word packs the half-open period's
//! generation with its trials in flight and its successes, so a trial of an earlier period can
//! neither close nor re-open a later one, and the counters of a new period start at zero without
//! anyone resetting them. Only the thread that opens a period writes when it opened (and for how
//! long: the exponential open period), published with its generation, so a late failure cannot
//! move a later cooldown. A period half-open too long (`max_half_open`) is forfeited: its
//! trials' slots are cleared and their outcomes ignored. The closed state's path is one load.
//! `loom_models.rs` checks these protocols.
//!
//! # The failure-rate breaker, against resilience4j
//!
//! With `failure_rate` (or any window option), the closed breaker keeps a sliding window
//! (`breaker/window.rs`) instead of a count of failures in a row, as resilience4j's `CircuitBreaker` does.
//! Its options are resilience4j's, with rates as fractions: `failure_rate` is
//! `failureRateThreshold` / 100, `slow_rate` is `slowCallRateThreshold` / 100, `slow_call` is
//! `slowCallDurationThreshold`, `min_calls` is `minimumNumberOfCalls`, `window_calls` and
//! `window_time` are `slidingWindowSize` with `slidingWindowType` `COUNT_BASED` and
//! `TIME_BASED`, `cooldown` is `waitDurationInOpenState`, and `max_cooldown` with
//! `cooldown_multiplier` is `waitIntervalFunctionInOpenState` set to
//! `IntervalFunction.ofExponentialBackoff(cooldown, multiplier, max)`. The defaults are
//! resilience4j's where the option is the same: a count window of 100, `min_calls` 100 (capped
//! to a count window's size, as resilience4j caps it), `failure_rate` 0.5, `slow_rate` 1.0. For
//! the same sequence of outcomes (tested in `rate_props.rs` against a reference model of ours,
//! and case by case in `tests/breaker_rate.rs`):
//!
//! | Sequence | resilience4j | staunch |
//! |---|---|---|
//! | window 10, rate 0.3: S S F S S F S F S S | opens on the 10th call (a success): 3 of 10 ≥ 30 % once 10 calls are in | the same: a success that brings a filling count window to `min_calls` is judged |
//! | window 4, rate 0.5: (F S S S) × 100, then F F | closed through the 400 calls (25 %), opens at the last F (S S F F: 50 %) | the same |
//! | `min_calls` 10: nine failures, then a tenth | closed (no verdict under the minimum), opens at the tenth | the same |
//! | an error the caller caused (`is_caller_fault`, a 4xx) or that `breaker(on = …)` leaves out | an exception in `ignoreExceptions` is neither a success nor a failure and stays out of the window (one that `recordExceptions` leaves out counts as a success) | neither a success nor a failure: it stays out of the window (the contract) |
//! | `slow_call` 2 s: calls of 2 s, 2 s, 3 s, 2.000000001 s, `slow_rate` 0.5 | a call is slow when it lasts more than the bound: 2 slow of 4, opens | the same (strictly longer than the bound) |
//! | a slow failure | counts as a failure and as a slow call | the same |
//! | time window 10 s: 3 F at t, then 11 s later S S F S | the failures left the window (resilience4j's buckets are 1 s each); 1 of 4, closed | the same, with buckets of a tenth of the window each (here 1 s): an outcome leaves between 9/10 and 10/10 of the window after it |
//! | time window: a success that brings the window to `min_calls` while the failure rate is over | opens on that success | judged at the next failure or slow call (a success is recorded, not judged: summing ten buckets on every success would cost every call) |
//! | half-open (`permittedNumberOfCallsInHalfOpenState` = M, default 10) | lets M trials through, then judges their failure and slow rates against the thresholds | the contract's: up to `half_open` (default 1) trials at a time, that many successes close it, **one failure re-opens it**, and so does **one slow trial** (the half-open rates are not computed) |
//! | closing | a new, empty window | the same (the window is emptied when it closes, by `reset` and `force_closed` too) |
//! | `maxWaitDurationInHalfOpenState` | re-opens | `max_half_open`: the same, and it counts as a re-open for the exponential open period |
//! | exponential open: `cooldown` 10 s, `max_cooldown` 35 s, ×2, trials failing | 10 s, 20 s, 35 s, 35 s… | the same; the first success that closes it brings it back to 10 s |
//! | window of more than 1,000,000 calls | allowed | a `ConfigError` (sums of 20 bits) |
//! | more than 65,535 calls in one tenth of a time window | counted | the rest of that tenth is not counted (a bucket's counts are 16 bits) |
//!
//! A call's duration, for `slow_call`, runs from its admission by the policy to its outcome (the
//! bulkhead, the token wait and the body's timeout included), read from the clock of the call
//! (tokio's for async, the sync clock or `MockClock` for sync). Only a policy whose breaker has
//! `slow_call` or `window_time` reads the clock for it.

use std::time::Duration;

use crate::clock::{duration_to_nanos, Nanos};

pub(crate) mod keyed;
#[cfg(all(test, not(loom)))]
mod keyed_props;
#[cfg(all(test, not(loom)))]
mod props;
#[cfg(all(test, not(loom)))]
mod rate_props;
mod settings;
pub(crate) mod window;
use crate::events::Sink;
use crate::sync::{Arc, AtomicU32, AtomicU64, Ordering};
pub use settings::{Breaker, SlidingWindow};
use window::{Window, CALL, FAILED, SLOW};

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

const CLOSED: u64 = 0;
const OPEN: u64 = 1;
const HALF_OPEN: u64 = 2;
/// A keyed breaker's dispatcher (never closed, so that its admission takes the slow path to the
/// key's breaker).
const KEYED: u64 = 3;
const STATE_MASK: u64 = 0b11;
const FORCED: u64 = 0b100;
const GEN_SHIFT: u32 = 3;

const fn phase(state: u64, forced: bool, gen: u64) -> u64 {
    state | if forced { FORCED } else { 0 } | (gen << GEN_SHIFT)
}
const fn state_of(p: u64) -> u64 {
    p & STATE_MASK
}
/// The state of phase `p`.
const fn circuit(p: u64) -> CircuitState {
    match state_of(p) {
        CLOSED => CircuitState::Closed,
        OPEN => CircuitState::Open,
        _ => CircuitState::HalfOpen,
    }
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
    /// A call let through by a key's breaker of a keyed breaker: the key's slot and its pass,
    /// packed (`keyed.rs`).
    Keyed(u64),
}

// the attempt carries a pass: a keyed one takes no more room than the others
const _: () = assert!(std::mem::size_of::<Pass>() == 16);

/// Whether the trial word was last written by a period after `gen`'s (its generation's low 32
/// bits compared with wrapping).
const fn written_after(t: u64, gen: u64) -> bool {
    #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)] // wrapping on purpose
    let ahead = ((t >> 32) as u32).wrapping_sub(gen as u32) as i32;
    ahead > 0
}

/// A circuit breaker's state.
#[derive(Debug)]
pub(crate) struct BreakerState {
    cfg: Breaker,
    cooldown: Nanos,
    /// The bound on a half-open period without a verdict; 0: none.
    max_half_open: Nanos,
    phase: AtomicU64,
    failures: AtomicU32,
    /// When the open period of generation `opened_gen` began: written only by the thread that
    /// opened it, then published by `opened_gen`.
    opened_at: AtomicU64,
    opened_gen: AtomicU64,
    /// When the current half-open period began.
    half_since: AtomicU64,
    /// The latest half-open generation whose trials were forfeited (0: none): their slots were
    /// cleared, and their outcomes count for nothing.
    forfeited: AtomicU64,
    trials: AtomicU64,
    /// Where state changes are reported (none in the models).
    events: Option<Arc<Sink>>,
    /// The failure-rate breaker's window and thresholds (`None`: failures in a row).
    rate: Option<Rate>,
    /// The longest cooldown of an exponential open period (0: every period lasts `cooldown`),
    /// and each re-open's factor.
    max_cooldown: Nanos,
    multiplier: f64,
    /// Re-opens from half-open since the breaker last closed.
    reopens: AtomicU32,
    /// The cooldown of the open period `opened_gen`, written and published with `opened_at`.
    open_for: AtomicU64,
    /// A keyed breaker's keys (then this breaker is only their dispatcher, its phase `KEYED`),
    /// boxed: a breaker without keys pays one word.
    keyed: Option<Box<keyed::KeyedBreakers>>,
}

/// A failure-rate breaker's window and thresholds, resolved.
#[derive(Debug)]
pub(crate) struct Rate {
    window: Window,
    failure_rate: f64,
    slow_rate: f64,
    min_calls: u64,
    /// A call longer than this is slow (0: none is).
    slow_call: Nanos,
}

impl Rate {
    /// Whether a call that began at `started` and ended at `now` was slow.
    fn is_slow(&self, started: Nanos, now: Nanos) -> bool {
        self.slow_call != 0 && started != 0 && now.saturating_sub(started) > self.slow_call
    }

    /// Whether the window at `now` holds enough calls and a rate at its threshold.
    fn trips(&self, now: Nanos) -> bool {
        let s = self.window.sums(now);
        #[allow(clippy::cast_precision_loss)] // counts below 2^21
        let rate = |n: u64| n as f64 / s.calls as f64;
        s.calls >= self.min_calls.max(1)
            && (rate(s.failures) >= self.failure_rate || rate(s.slow) >= self.slow_rate)
    }
}

impl BreakerState {
    #[cfg(any(test, loom))]
    pub(crate) fn new(cfg: Breaker) -> Self {
        Self::reporting(cfg, None)
    }

    /// A breaker that reports its state changes to `events`.
    pub(crate) fn reporting(cfg: Breaker, events: Option<Arc<Sink>>) -> Self {
        BreakerState {
            events,
            cfg,
            cooldown: duration_to_nanos(cfg.cooldown),
            max_half_open: cfg.max_half_open.map_or(0, duration_to_nanos),
            phase: AtomicU64::new(phase(CLOSED, false, 0)),
            failures: AtomicU32::new(0),
            opened_at: AtomicU64::new(0),
            opened_gen: AtomicU64::new(0),
            half_since: AtomicU64::new(0),
            forfeited: AtomicU64::new(0),
            trials: AtomicU64::new(0),
            rate: cfg.rate.map(|_| Rate {
                window: match cfg.sliding_window() {
                    Some(SlidingWindow::Time(d)) => Window::time(d),
                    Some(SlidingWindow::Calls(n)) => Window::calls(n),
                    None => Window::calls(100),
                },
                failure_rate: cfg.failure_rate_threshold().unwrap_or(0.5),
                slow_rate: cfg.slow_call_rate_threshold().unwrap_or(1.0),
                min_calls: u64::from(cfg.minimum_calls().unwrap_or(100)),
                slow_call: cfg.slow_call_bound().map_or(0, duration_to_nanos),
            }),
            max_cooldown: cfg
                .open_duration_cap()
                .map_or(0, |(d, _)| duration_to_nanos(d)),
            multiplier: cfg.open_duration_cap().map_or(1.0, |(_, f)| f),
            reopens: AtomicU32::new(0),
            open_for: AtomicU64::new(duration_to_nanos(cfg.cooldown)),
            keyed: None,
        }
    }

    /// The dispatcher of a keyed breaker (`cfg.keyed`): one breaker per key, reporting to
    /// `events`. It counts nothing itself (no window), and its phase is never closed.
    pub(crate) fn keyed(cfg: Breaker, events: Option<Arc<Sink>>) -> Self {
        let keys = keyed::KeyedBreakers::new(cfg, events.clone());
        BreakerState {
            phase: AtomicU64::new(phase(KEYED, false, 0)),
            keyed: Some(Box::new(keys)),
            ..Self::reporting(Breaker { rate: None, ..cfg }, events)
        }
    }

    /// A keyed breaker's keys, if this is one's dispatcher.
    pub(crate) fn keys(&self) -> Option<&keyed::KeyedBreakers> {
        self.keyed.as_deref()
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
        self.admit_key::<TAKE>(0, now)
    }

    /// [`admit`](Self::admit) for a call with `key` (which only a keyed breaker reads).
    #[inline]
    pub(crate) fn admit_key<const TAKE: bool>(
        &self,
        key: u64,
        now: impl FnOnce() -> Nanos,
    ) -> Result<Pass, Duration> {
        let p = self.phase.load(Ordering::Acquire);
        if state_of(p) == CLOSED {
            return Ok(Pass::Closed);
        }
        self.admit_slow::<TAKE>(p, key, now)
    }

    /// The one decision behind admission and preflight, for a breaker that is not closed (or a
    /// keyed breaker's dispatcher, which hands the call to its key's breaker). `now` is read
    /// here, not by the caller: with the key as one more argument, reading it before the call
    /// cost `async_ours_attribute` 6 Ir a call in the attempt's code (registers), reading it
    /// here none (BENCHMARKS.md).
    #[cold]
    fn admit_slow<const TAKE: bool>(
        &self,
        mut p: u64,
        key: u64,
        now: impl FnOnce() -> Nanos,
    ) -> Result<Pass, Duration> {
        if let Some(keys) = &self.keyed {
            // not generic: the key's breaker's admission is this function again
            let (mut read, mut at) = (Some(now), 0);
            return keys.admit::<TAKE>(key, &mut || {
                if let Some(read) = read.take() {
                    at = read();
                }
                at
            });
        }
        let now = now();
        loop {
            match state_of(p) {
                CLOSED => return Ok(Pass::Closed),
                OPEN => {
                    if forced_of(p) {
                        return Err(self.cfg.cooldown);
                    }
                    let Some(until) = self.open_until(p) else {
                        return Err(self.current_cooldown()); // opened this very moment
                    };
                    if now < until {
                        return Err(Duration::from_nanos(until - now));
                    }
                    let half = phase(HALF_OPEN, false, gen_of(p) + 1);
                    if !TAKE {
                        // judged as the half-open period that would begin now
                        return self.trial::<TAKE>(gen_of(half));
                    }
                    // every contender writes about the same time; it is read only once the
                    // phase is half-open
                    self.half_since.store(now, Ordering::Release);
                    p = match self.phase.compare_exchange(
                        p,
                        half,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    ) {
                        Ok(_) => {
                            self.changed(CircuitState::Open, CircuitState::HalfOpen);
                            half
                        }
                        Err(actual) => actual,
                    };
                }
                _ => {
                    if !self.half_open_too_long(now) {
                        return self.trial::<TAKE>(gen_of(p));
                    }
                    // half-open too long without a verdict: a full cooldown again
                    if !TAKE {
                        return Err(self.current_cooldown());
                    }
                    self.forfeit(p, now);
                    p = self.phase.load(Ordering::Acquire);
                }
            }
        }
    }

    /// A trial of the half-open period `gen`, if it has room: at most `half_open` trials in
    /// flight and successes counted. With `TAKE`, the slot is taken.
    fn trial<const TAKE: bool>(&self, gen: u64) -> Result<Pass, Duration> {
        let max = u64::from(self.cfg.half_open);
        let room = |t: u64| {
            if written_after(t, gen) {
                return None; // a later period began: this one is over
            }
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
        if got {
            Ok(Pass::Trial(gen))
        } else {
            Err(Duration::ZERO)
        }
    }

    /// Re-opens a breaker that stayed half-open (phase `from`) too long: its trials give up their
    /// slots, and their late answers are ignored.
    #[cold]
    fn forfeit(&self, from: u64, now: Nanos) {
        if self.open(from, now) {
            let gen = gen_of(from);
            // the generation first: a trial that sees the cleared word sees it forfeited. The
            // word is cleared by a read-modify-write, so that it is ordered with the trials'
            // own (a plain store lost to a racing trial's answer under loom)
            self.forfeited.fetch_max(gen, Ordering::AcqRel);
            self.trials.swap(trials(gen + 1, 0, 0), Ordering::AcqRel);
        }
    }

    /// Whether the current half-open period has gone on longer than `max_half_open` at `now`.
    fn half_open_too_long(&self, now: Nanos) -> bool {
        self.max_half_open != 0
            && now
                >= self
                    .half_since
                    .load(Ordering::Acquire)
                    .saturating_add(self.max_half_open)
    }

    /// Whether the trials of `gen` were forfeited.
    fn is_forfeited(&self, gen: u64) -> bool {
        gen <= self.forfeited.load(Ordering::Acquire)
    }

    /// Records a success of a call the breaker let through, which began at `started` (0 if
    /// the attempt was not timed); `clock` reads the time it ended, if the breaker needs it.
    #[inline]
    pub(crate) fn success(&self, pass: Pass, started: Nanos, clock: fn() -> Nanos) {
        match pass {
            Pass::Closed => match &self.rate {
                None => {
                    // A load first: the common case writes nothing, so threads do not fight
                    // over the cache line.
                    if self.failures.load(Ordering::Relaxed) != 0 {
                        self.failures.store(0, Ordering::Relaxed);
                    }
                }
                Some(rate) => self.rate_success(rate, started, clock),
            },
            Pass::Trial(gen) => self.trial_ended(gen, started, clock),
            Pass::Keyed(x) => self.keyed_success(x, started, clock),
        }
    }

    /// A success through a key's breaker.
    #[cold]
    #[inline(never)]
    fn keyed_success(&self, x: u64, started: Nanos, clock: fn() -> Nanos) {
        if let Some(keys) = &self.keyed {
            keys.record(x, |b, pass| b.success(pass, started, clock));
        }
    }

    /// A failure through a key's breaker.
    #[cold]
    #[inline(never)]
    fn keyed_failure(&self, x: u64, started: Nanos, now: Nanos) {
        if let Some(keys) = &self.keyed {
            keys.record(x, |b, pass| b.failure(pass, started, now));
        }
    }

    /// A key's breaker's pass given back without an outcome.
    #[cold]
    #[inline(never)]
    fn keyed_release(&self, x: u64) {
        if let Some(keys) = &self.keyed {
            keys.record(x, BreakerState::release);
        }
    }

    /// The generation of a trial of this breaker, from its low 32 bits (a keyed pass keeps
    /// no more): the latest generation up to the current one with those bits. A trial's
    /// period is at most the current one, and fewer than 2^32 periods pass during one
    /// attempt (the assumption `written_after` makes too).
    pub(crate) fn trial_gen(&self, low: u64) -> u64 {
        let now = gen_of(self.phase.load(Ordering::Acquire));
        #[allow(clippy::cast_possible_truncation)] // wrapping on purpose
        let behind = (now as u32).wrapping_sub(low as u32);
        now.wrapping_sub(u64::from(behind))
    }

    /// A success of a call let through while closed, into the window.
    #[inline(never)]
    fn rate_success(&self, rate: &Rate, started: Nanos, clock: fn() -> Nanos) {
        let now = if started != 0 || rate.window.timed() {
            clock()
        } else {
            0
        };
        let slow = if rate.is_slow(started, now) { SLOW } else { 0 };
        if rate.window.record(CALL | slow, now) {
            self.judge(rate, if now == 0 { clock() } else { now });
        }
    }

    /// Opens a closed breaker whose window trips at `now`.
    #[cold]
    fn judge(&self, rate: &Rate, now: Nanos) {
        let p = self.phase.load(Ordering::Acquire);
        if state_of(p) == CLOSED && !forced_of(p) && rate.trips(now) {
            self.open(p, now);
        }
    }

    /// A trial ended without an error: a success, unless it was slow (then it re-opens the
    /// breaker, as a failure would).
    #[cold]
    fn trial_ended(&self, gen: u64, started: Nanos, clock: fn() -> Nanos) {
        if let Some(rate) = self
            .rate
            .as_ref()
            .filter(|r| r.slow_call != 0 && started != 0)
        {
            let now = clock();
            if rate.is_slow(started, now) {
                self.failure(Pass::Trial(gen), started, now);
                return;
            }
        }
        self.trial_success(gen);
    }

    #[cold]
    fn trial_success(&self, gen: u64) {
        let max = u64::from(self.cfg.half_open);
        let Ok(prev) = self
            .trials
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                if self.is_forfeited(gen) {
                    return None; // its slot was cleared: a late answer, ignored
                }
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
            // the count of the period before goes first: a call that finds the breaker closed
            // must not add its failure to it (one failure would re-open it). Cleared while the
            // breaker is still half-open, the count is unused until it closes.
            self.failures.store(0, Ordering::Release);
            self.reopens.store(0, Ordering::Release);
            if let Some(rate) = &self.rate {
                rate.window.clear();
            }
            let closed = self.phase.compare_exchange(
                phase(HALF_OPEN, false, gen),
                phase(CLOSED, false, gen + 1),
                Ordering::AcqRel,
                Ordering::Acquire,
            );
            if closed.is_ok() {
                self.changed(CircuitState::HalfOpen, CircuitState::Closed);
            }
        }
    }

    /// Records a failure (an `Err`, a timeout or a panic) at `now` of a call the breaker let
    /// through, which began at `started` (0 if the attempt was not timed).
    pub(crate) fn failure(&self, pass: Pass, started: Nanos, now: Nanos) {
        match pass {
            Pass::Closed => {
                let p = self.phase.load(Ordering::Acquire);
                if state_of(p) != CLOSED || forced_of(p) {
                    return;
                }
                if let Some(rate) = &self.rate {
                    let slow = if rate.is_slow(started, now) { SLOW } else { 0 };
                    if rate.window.record(CALL | FAILED | slow, now) && rate.trips(now) {
                        self.open(p, now);
                    }
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
            Pass::Keyed(x) => self.keyed_failure(x, started, now),
        }
    }

    /// Opens the breaker if it is still in phase `from`; whether it did.
    fn open(&self, from: u64, now: Nanos) -> bool {
        let open = phase(OPEN, false, gen_of(from) + 1);
        let opened = self
            .phase
            .compare_exchange(from, open, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if opened {
            // only the opener writes the time (a late trial of an earlier period that fails
            // cannot move this period's cooldown), and publishes it with the generation
            let cooldown = self.cooldown_after(state_of(from) == HALF_OPEN);
            self.publish_opened(gen_of(open), now, cooldown);
            self.changed(circuit(from), CircuitState::Open);
        }
        opened
    }

    /// The cooldown of an open period the opener begins: the base one, or with an exponential
    /// open period, the base times the multiplier for each re-open from half-open since the
    /// breaker last closed (`reopen`: this is one), at most `max_cooldown`.
    fn cooldown_after(&self, reopen: bool) -> Nanos {
        if self.max_cooldown == 0 {
            return self.cooldown;
        }
        let n = if reopen {
            self.reopens
                .fetch_add(1, Ordering::AcqRel)
                .saturating_add(1)
        } else {
            self.reopens.store(0, Ordering::Release);
            0
        };
        exponential(self.cooldown, self.multiplier, n, self.max_cooldown)
    }

    /// The cooldown of the latest open period.
    fn current_cooldown(&self) -> Duration {
        Duration::from_nanos(self.open_for.load(Ordering::Acquire))
    }

    /// The open period `gen` began at `now`, for `cooldown`.
    fn publish_opened(&self, gen: u64, now: Nanos, cooldown: Nanos) {
        self.open_for.store(cooldown, Ordering::Release);
        self.opened_at.store(now, Ordering::Release);
        self.opened_gen.store(gen, Ordering::Release);
    }

    /// Gives back a trial slot without an outcome (a later part rejected the call, or its future
    /// was dropped).
    pub(crate) fn release(&self, pass: Pass) {
        match pass {
            Pass::Closed => {}
            Pass::Trial(gen) => {
                let _ = self
                    .trials
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                        let inflight = inflight_of(t);
                        // a forfeited trial's slot was cleared already
                        (inflight > 0 && !self.is_forfeited(gen))
                            .then(|| with_inflight(t, inflight - 1))
                    });
            }
            Pass::Keyed(x) => self.keyed_release(x),
        }
    }

    /// The state as a caller arriving at `now` would find it: an open breaker whose cooldown has
    /// passed reads as half-open.
    pub(crate) fn state(&self, now: Nanos) -> CircuitState {
        let p = self.phase.load(Ordering::Acquire);
        match state_of(p) {
            CLOSED => CircuitState::Closed,
            KEYED => self
                .keyed
                .as_ref()
                .map_or(CircuitState::Closed, |k| k.state()),
            OPEN if forced_of(p) => CircuitState::Open,
            OPEN => {
                if self.open_until(p).is_none_or(|until| now < until) {
                    CircuitState::Open
                } else {
                    CircuitState::HalfOpen
                }
            }
            _ if self.half_open_too_long(now) => CircuitState::Open,
            _ => CircuitState::HalfOpen,
        }
    }

    /// When the cooldown of the open period `p` ends; `None` until its opener has published
    /// the time (the period has only just begun).
    fn open_until(&self, p: u64) -> Option<Nanos> {
        if self.opened_gen.load(Ordering::Acquire) != gen_of(p) {
            return None;
        }
        Some(
            self.opened_at
                .load(Ordering::Acquire)
                .saturating_add(self.open_for.load(Ordering::Acquire)),
        )
    }

    pub(crate) fn consecutive_failures(&self) -> u32 {
        self.failures.load(Ordering::Acquire)
    }

    /// Whether the breaker holds nothing a new one would not: closed (not forced), no failure
    /// counted, an empty window. A keyed breaker may give such a key's breaker to another key.
    pub(crate) fn is_idle(&self, now: Nanos) -> bool {
        let p = self.phase.load(Ordering::Acquire);
        p == phase(CLOSED, false, gen_of(p))
            && self.failures.load(Ordering::Acquire) == 0
            && self
                .rate
                .as_ref()
                .is_none_or(|r| r.window.sums(now).calls == 0)
    }

    /// Holds the breaker open (rejecting every call) until [`force_closed`](Self::force_closed)
    /// or [`reset`](Self::reset).
    pub(crate) fn force_open(&self, now: Nanos) {
        if let Some(keys) = &self.keyed {
            let before = keys.force(keyed::FORCED_OPEN);
            self.changed(before, CircuitState::Open);
            return;
        }
        let (before, p) = self.set(|p| phase(OPEN, true, gen_of(p) + 1));
        self.publish_opened(gen_of(p), now, self.cooldown);
        self.changed(self.seen(before, now), CircuitState::Open);
    }

    /// Holds the breaker closed (failures are not counted) until [`reset`](Self::reset).
    pub(crate) fn force_closed(&self, now: Nanos) {
        if let Some(keys) = &self.keyed {
            let before = keys.force(keyed::FORCED_CLOSED);
            self.changed(before, CircuitState::Closed);
            return;
        }
        self.forget();
        let (before, _) = self.set(|p| phase(CLOSED, true, gen_of(p) + 1));
        self.changed(self.seen(before, now), CircuitState::Closed);
    }

    /// Back to closed, counting failures from zero.
    pub(crate) fn reset(&self, now: Nanos) {
        if let Some(keys) = &self.keyed {
            let before = keys.reset(now);
            self.changed(before, CircuitState::Closed);
            return;
        }
        self.forget();
        let (before, _) = self.set(|p| phase(CLOSED, false, gen_of(p) + 1));
        self.changed(self.seen(before, now), CircuitState::Closed);
    }

    /// Forgets the outcomes counted: the failures in a row, the window, the re-opens.
    fn forget(&self) {
        self.failures.store(0, Ordering::Release);
        self.reopens.store(0, Ordering::Release);
        if let Some(rate) = &self.rate {
            rate.window.clear();
        }
    }

    /// The failure rate and slow-call rate of the window at `now` (`None` without a window; 0
    /// when it holds no call).
    pub(crate) fn rates(&self, now: Nanos) -> Option<(f64, f64)> {
        let s = self.rate.as_ref()?.window.sums(now);
        #[allow(clippy::cast_precision_loss)] // counts below 2^21
        let rate = |n: u64| {
            if s.calls == 0 {
                0.0
            } else {
                n as f64 / s.calls as f64
            }
        };
        Some((rate(s.failures), rate(s.slow)))
    }

    /// Moves the phase by `f`; the phases before and after.
    fn set(&self, f: impl Fn(u64) -> u64) -> (u64, u64) {
        let Ok(before) = self
            .phase
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |p| Some(f(p)))
        else {
            unreachable!("the update always gives a phase")
        };
        (before, f(before))
    }

    /// The state phase `p` showed callers at `now` (an open breaker past its cooldown reads as
    /// half-open).
    fn seen(&self, p: u64, now: Nanos) -> CircuitState {
        match circuit(p) {
            CircuitState::Open if !forced_of(p) && self.open_until(p).is_some_and(|u| now >= u) => {
                CircuitState::HalfOpen
            }
            s => s,
        }
    }

    /// Reports a state change, if anyone wants it.
    #[inline]
    fn changed(&self, from: CircuitState, to: CircuitState) {
        if let Some(events) = &self.events {
            events.state_change(from, to);
        }
    }
}

/// `base × multiplier^n`, at most `max`.
fn exponential(base: Nanos, multiplier: f64, n: u32, max: Nanos) -> Nanos {
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let d = (base as f64 * multiplier.powi(i32::try_from(n).unwrap_or(i32::MAX))).min(max as f64)
        as Nanos;
    d.clamp(base.min(max), max)
}
