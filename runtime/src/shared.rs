//! The parts of one policy, composed: what every policy of one name shares.
//!
//! One list of parts, in one order: the breaker, the hold-off (a retry-after hint seen by any
//! caller), the request limiter, the token limit, and then, after any wait for a token, the
//! bulkhead (and its queue, if it has one). Admission, preflight, signals, reset and
//! observation all walk it in that order; a preflight is an admission that takes nothing. The
//! parts know nothing of each other.

use std::time::Duration;

use crate::breaker::{BreakerState, CircuitState, Pass};
use crate::bulkhead::{Bulkhead, Entering, Joined, Slot};
use crate::clock::{self, duration_to_nanos, Nanos};
use crate::config::Config;
use crate::events::{Kinds, Part, Sink};
use crate::limiter::{max_wait, Limiter};
use crate::retry::Budget;
use crate::sync::{global, Arc, AtomicU64, Ordering};
use crate::Error;

/// Whether an admission takes what it is granted (a call) ...
pub(crate) const TAKE: bool = true;
/// ... or only looks (a preflight).
pub(crate) const LOOK: bool = false;

/// Counts of what happened off the happy path (never touched on it); plain counters, outside
/// any model.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    pub(crate) retries: global::AtomicU64,
    pub(crate) fallbacks: global::AtomicU64,
    pub(crate) stale_served: global::AtomicU64,
    /// Attempts that failed: errors that count, timeouts, panics.
    pub(crate) failures: global::AtomicU64,
    /// Attempts whose error does not count (the caller's own fault).
    pub(crate) ignored: global::AtomicU64,
    /// Rejections, by [`Part`] (breaker, limiter, bulkhead, chaos).
    pub(crate) rejected: [global::AtomicU64; 4],
    /// Errors injected by chaos (and returned: not those cut short by a timeout).
    pub(crate) injected_errors: global::AtomicU64,
    /// Attempts chaos delayed.
    pub(crate) injected_delays: global::AtomicU64,
    /// Hedged copies started (`hedge`).
    pub(crate) hedges: global::AtomicU64,
    /// Copies of hedged rounds that ended (succeeded or failed) beyond each round's first.
    pub(crate) hedge_ends: global::AtomicU64,
}

/// What every policy of one name shares: the breaker, the limiters and the bulkhead.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) name: String,
    breaker: Option<BreakerState>,
    limiter: Option<Limiter>,
    tokens: Option<Limiter>,
    max_wait: Nanos,
    /// Until when every caller is held off (a retry-after hint); 0: no hold-off.
    hold_until: AtomicU64,
    bulkhead: Bulkhead,
    /// The retry budget of every function of the name.
    budget: Option<Budget>,
    /// An `Ok` needs only the breaker told: no budget to pay into, no tokens to reconcile.
    plain_ok: bool,
    /// The event kinds anyone wants (a copy of the sink's, next to what a call reads), and
    /// [`Kinds::CLOCKED`] if the breaker times attempts.
    watched: global::AtomicU32,
    /// [`Kinds::CLOCKED`]'s bit if the breaker times attempts (a slow-call bound or a time
    /// window), and [`Kinds::REMOTE`]'s if the state is in Redis; kept in `watched` always.
    clocked: u32,
    pub(crate) config: Config,
    pub(crate) counts: Counts,
    /// Where its events go.
    pub(crate) events: Arc<Sink>,
    /// Chaos, armed if configured and active (boxed: a policy without it pays one word).
    #[cfg(feature = "chaos")]
    chaos: Option<Box<crate::chaos::Injector>>,
    /// The state kept in Redis, if the policy declares `redis` (boxed: a policy without it
    /// pays one word and, on an async attempt, one branch).
    #[cfg(feature = "redis")]
    remote: Option<Box<crate::redis::Remote>>,
}

/// A pass through the breaker: given back (without an outcome) when dropped unrecorded (a
/// dropped future, an attempt turned away after the breaker let it through).
pub(crate) struct Admitted<'a> {
    /// `None` for a preflight's look, which holds nothing.
    breaker: Option<&'a BreakerState>,
    pass: Pass,
    /// Tokens taken from the token limit for this attempt.
    pub(crate) cost: u64,
}

impl Admitted<'_> {
    /// The attempt, begun at `started` (0 if it was not timed), succeeded; `clock` reads when
    /// it ended, if the breaker needs it.
    #[inline(always)]
    pub(crate) fn success(self, started: Nanos, clock: fn() -> Nanos) {
        if let Some(b) = self.breaker {
            b.success(self.pass, started, clock);
        }
        std::mem::forget(self);
    }

    /// The attempt, begun at `started` (0 if it was not timed), failed (an `Err`, a timeout or
    /// a panic) at `now`.
    pub(crate) fn failure(self, started: Nanos, now: Nanos) {
        if let Some(b) = self.breaker {
            b.failure(self.pass, started, now);
        }
        std::mem::forget(self);
    }
}

impl Drop for Admitted<'_> {
    // inlined into the caller's crate like the rest of the attempt: an out-of-line drop makes
    // the optimizer keep the pass in memory across the body (measured: +20 to +40 Ir a call)
    #[inline]
    fn drop(&mut self) {
        if let Some(b) = self.breaker {
            b.release(self.pass);
        }
    }
}

/// Why an attempt was turned away, before it becomes an [`Error`] (off the hot path).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Refusal {
    /// By the breaker: a trial may pass after this long.
    Open(Duration),
    /// By the hold-off or a limiter: a token would come after this long.
    Limited(Nanos),
    /// By the bulkhead, at its limit.
    Full(usize),
    /// By chaos, rehearsing a rejection.
    #[cfg_attr(not(feature = "chaos"), allow(dead_code))]
    Chaos,
}

impl Refusal {
    /// The part that refused, and when a call could pass.
    pub(crate) fn part(self) -> (Part, Duration) {
        match self {
            Refusal::Open(d) => (Part::Breaker, d),
            Refusal::Limited(wait) => (Part::Limiter, Duration::from_nanos(wait)),
            Refusal::Full(_) => (Part::Bulkhead, Duration::ZERO),
            Refusal::Chaos => (Part::Chaos, Duration::ZERO),
        }
    }
}

impl Shared {
    pub(crate) fn new(name: &str, config: &Config) -> Self {
        let mut config = config.clone();
        name.clone_into(&mut config.name);
        let events = Sink::new(name);
        let clocked = if config.breaker.is_some_and(|b| b.needs_clock()) {
            Kinds::CLOCKED.bits()
        } else {
            0
        };
        #[cfg(feature = "redis")]
        let remote = crate::redis::Remote::new(&config, &events);
        // a policy whose state is in Redis: marked in the mask its calls read anyway, so that
        // a sync call of one is told apart at no cost to the others (`Call::start`)
        #[cfg(feature = "redis")]
        let clocked = if remote.is_some() {
            clocked | Kinds::REMOTE.bits()
        } else {
            clocked
        };
        Shared {
            name: name.to_owned(),
            breaker: config.breaker.map(|b| {
                if b.keyed {
                    BreakerState::keyed(b, Some(events.clone()))
                } else {
                    BreakerState::reporting(b, Some(events.clone()))
                }
            }),
            clocked,
            watched: global::AtomicU32::new(events.refresh() | clocked),
            events,
            limiter: config
                .rate
                .map(|r| Limiter::new(r.rate, r.per, r.burst, r.keyed)),
            tokens: config
                .tokens
                .map(|t| Limiter::new(t.rate, t.per, t.burst, false)),
            max_wait: max_wait(config.rate.or(config.tokens).and_then(|r| r.wait)),
            hold_until: AtomicU64::new(0),
            counts: Counts::default(),
            bulkhead: match (config.max_inflight, config.queue) {
                (Some(limit), Some(queue)) => Bulkhead::with_queue(limit, queue, config.queue_wait),
                (limit, _) => Bulkhead::new(limit),
            },
            budget: config.retry.and_then(|r| r.budget).map(Budget::new),
            plain_ok: config.tokens.is_none() && config.retry.is_none_or(|r| r.budget.is_none()),
            #[cfg(feature = "chaos")]
            chaos: config.chaos.filter(crate::Chaos::is_active).map(|c| {
                let seed = c.seed.unwrap_or_else(rand::random);
                Box::new(crate::chaos::Injector::new(&c, seed))
            }),
            #[cfg(feature = "redis")]
            remote,
            config,
        }
    }

    /// The name's chaos, if it injects anything.
    #[cfg(feature = "chaos")]
    #[inline(always)]
    pub(crate) fn chaos(&self) -> Option<&crate::chaos::Injector> {
        self.chaos.as_deref()
    }

    /// The name's state in Redis, if it declares `redis`.
    #[cfg(feature = "redis")]
    #[inline(always)]
    pub(crate) fn remote(&self) -> Option<&crate::redis::Remote> {
        self.remote.as_deref()
    }

    /// The admission of an attempt the state in Redis admitted: only the hold-off is left
    /// (the breaker and the limiters were Redis's).
    #[cfg(feature = "redis")]
    pub(crate) fn admit_held(
        &self,
        clock: fn() -> Nanos,
        limit: Nanos,
    ) -> Result<(Admitted<'_>, Nanos), Refusal> {
        let admitted = Admitted {
            breaker: None,
            pass: Pass::Closed,
            cost: 0,
        };
        let hold = self.hold_until.load(Ordering::Relaxed);
        if hold == 0 {
            return Ok((admitted, 0));
        }
        let wait = self.held_off::<TAKE>(hold, clock(), self.max_wait.min(limit))?;
        Ok((admitted, wait))
    }

    /// The parts before the bulkhead, in order: the breaker's pass, and how long to wait for
    /// the hold-off and the reserved tokens (`key`'s request token and `cost` tokens of the
    /// token limit) before the call, at most `limit` (the time left before the call's
    /// deadline). With [`LOOK`], takes nothing and counts any wait as a refusal. Reads `clock` only when the breaker is not closed, or there is a limiter or a
    /// hold-off.
    #[inline(always)]
    pub(crate) fn admit<const TAKE: bool>(
        &self,
        key: u64,
        cost: u64,
        clock: fn() -> Nanos,
        limit: Nanos,
    ) -> Result<(Admitted<'_>, Nanos), Refusal> {
        let pass = match &self.breaker {
            None => Pass::Closed,
            Some(b) => b.admit_key::<TAKE>(key, clock).map_err(Refusal::Open)?,
        };
        let admitted = Admitted {
            breaker: if TAKE { self.breaker.as_ref() } else { None },
            pass,
            cost,
        };
        let hold = self.hold_until.load(Ordering::Relaxed);
        let tokens = self.tokens.as_ref().filter(|_| cost > 0);
        if hold == 0 && self.limiter.is_none() && tokens.is_none() {
            return Ok((admitted, 0));
        }
        let wait = self.wait::<TAKE>(key, cost, hold, tokens, clock(), limit)?;
        Ok((admitted, wait))
    }

    /// How long the hold-off until `hold` (not 0) holds a call at `now`, refused past
    /// `max_wait`; with `TAKE`, a hold-off that is over is cleared, so that later calls need not
    /// read the clock for it.
    #[inline(always)]
    fn held_off<const TAKE: bool>(
        &self,
        hold: Nanos,
        now: Nanos,
        max_wait: Nanos,
    ) -> Result<Nanos, Refusal> {
        if now >= hold {
            if TAKE {
                let _ =
                    self.hold_until
                        .compare_exchange(hold, 0, Ordering::AcqRel, Ordering::Relaxed);
            }
            return Ok(0);
        }
        let wait = hold - now;
        if wait > max_wait {
            return Err(Refusal::Limited(wait));
        }
        Ok(wait)
    }

    /// The hold-off, the request token and the cost, whose waits run at once: the longest
    /// counts. All or nothing: a refusal by one gives back what the others took.
    #[inline(always)]
    fn wait<const TAKE: bool>(
        &self,
        key: u64,
        cost: u64,
        hold: Nanos,
        tokens: Option<&Limiter>,
        now: Nanos,
        limit: Nanos,
    ) -> Result<Nanos, Refusal> {
        let max_wait = if TAKE { self.max_wait.min(limit) } else { 0 };
        let mut wait = if hold == 0 {
            0
        } else {
            self.held_off::<TAKE>(hold, now, max_wait)?
        };
        if let Some(l) = &self.limiter {
            match l.take_one::<TAKE>(key, now, max_wait) {
                Ok(w) => wait = wait.max(w),
                Err(w) => return Err(Refusal::Limited(w.max(wait))),
            }
        }
        if let Some(t) = tokens {
            match t.take::<TAKE>(0, now, cost, max_wait) {
                Ok(w) => wait = wait.max(w),
                Err(w) => {
                    if let (true, Some(l)) = (TAKE, &self.limiter) {
                        l.adjust(key, -1);
                    }
                    return Err(Refusal::Limited(w.max(wait)));
                }
            }
        }
        Ok(wait)
    }

    /// The bulkhead, after any wait for a token (a call waiting for a token holds no slot).
    #[inline(always)]
    pub(crate) fn enter(&self) -> Result<Slot<'_>, Refusal> {
        self.bulkhead.enter().map_err(Refusal::Full)
    }

    /// Whether a call that finds every bulkhead slot taken may wait for one.
    #[inline]
    pub(crate) fn has_queue(&self) -> bool {
        self.bulkhead.has_queue()
    }

    /// A sync call that found every slot taken waits (blocking the thread) in the queue, in
    /// arrival order, at most the queue's wait and until `until` (the call's deadline on the
    /// sync clock; 0: none); then, or at once if the queue is full, the bulkhead refuses it.
    #[cold]
    #[inline(never)]
    pub(crate) fn enter_queued_sync(&self, until: Nanos) -> Result<Slot<'_>, Refusal> {
        let full = |limit| Refusal::Full(limit);
        let until = match self.bulkhead.queue_wait() {
            None => until,
            Some(w) => {
                let end = clock::now_sync().saturating_add(duration_to_nanos(w));
                if until == 0 {
                    end
                } else {
                    end.min(until)
                }
            }
        };
        match self.bulkhead.join(None) {
            Joined::Entered(slot) => Ok(slot),
            Joined::Full(limit) => Err(full(limit)),
            Joined::Waiting(id) => self
                .bulkhead
                .wait_ticket(id, until)
                .ok_or_else(|| full(self.bulkhead.limit().unwrap_or(usize::MAX))),
        }
    }

    /// An async call that found every slot taken waits (awaiting) in the queue, as
    /// [`enter_queued_sync`](Self::enter_queued_sync) does, on tokio's clock. Dropped while it
    /// waits, it leaves the queue as if it had never joined.
    pub(crate) async fn enter_queued_async(&self, until: Nanos) -> Result<Slot<'_>, Refusal> {
        let left =
            (until != 0).then(|| Duration::from_nanos(until.saturating_sub(clock::now_async())));
        let bound = match (self.bulkhead.queue_wait(), left) {
            (Some(w), Some(l)) => Some(w.min(l)),
            (w, l) => w.or(l),
        };
        let limit = self.bulkhead.limit().unwrap_or(usize::MAX);
        let entering = Entering::new(&self.bulkhead);
        let entered = match bound {
            None => entering.await,
            Some(bound) => tokio::time::timeout(bound, entering)
                .await
                .unwrap_or(Err(limit)),
        };
        entered.map_err(Refusal::Full)
    }

    /// Would a call with `key` be admitted at once? An admission that takes nothing, then a
    /// look at the bulkhead.
    pub(crate) fn preflight(&self, key: u64, clock: fn() -> Nanos) -> Result<(), Refusal> {
        self.admit::<LOOK>(key, 0, clock, 0)?;
        match self.bulkhead.limit() {
            Some(limit) if self.bulkhead.inflight() >= limit => Err(Refusal::Full(limit)),
            _ => Ok(()),
        }
    }

    /// The error a refusal reaches the caller as (the only place a rejection allocates).
    #[cold]
    #[inline(never)]
    pub(crate) fn error(&self, refusal: Refusal) -> Error {
        let policy = self.name.clone();
        match refusal {
            Refusal::Open(retry_in) => Error::CircuitOpen { policy, retry_in },
            Refusal::Limited(wait) => Error::RateLimited {
                policy,
                retry_after: Duration::from_nanos(wait),
            },
            Refusal::Full(limit) => Error::BulkheadFull { policy, limit },
            Refusal::Chaos => Error::InjectedRejection { policy },
        }
    }

    /// Whether anyone wants events of `kind`: one relaxed load.
    #[inline(always)]
    pub(crate) fn watches(&self, kind: Kinds) -> bool {
        self.watched.load(Ordering::Relaxed) & kind.bits() != 0 || crate::trace::enabled(kind)
    }

    /// Takes the event kinds anyone wants now.
    pub(crate) fn refresh_events(&self) {
        crate::trace::store_mask(&self.watched, self.events.refresh() | self.clocked);
    }

    /// Sets (`bit` is [`Kinds::TRACING`]'s) or clears (`bit` is 0) the mark that `tracing` may
    /// want attempt spans (only from `trace.rs`, under its lock).
    #[cfg_attr(not(feature = "tracing"), allow(dead_code))]
    pub(crate) fn set_tracing(&self, bit: u32) {
        if bit == 0 {
            self.watched
                .fetch_and(!Kinds::TRACING.bits(), Ordering::Relaxed);
        } else {
            self.watched.fetch_or(bit, Ordering::Relaxed);
        }
    }

    /// The event kinds anyone wants, and the marks kept with them ([`Kinds::TIMED`],
    /// [`Kinds::CLOCKED`], [`Kinds::TRACING`]): one relaxed load.
    #[inline(always)]
    pub(crate) fn mask(&self) -> u32 {
        self.watched.load(Ordering::Relaxed)
    }

    /// Counts a success off the happy path (one that needed accounting).
    pub(crate) fn count_success(&self) {
        self.bulkhead.count_success();
    }

    /// A policy with a limit (requests or tokens) honours a retry-after hint for every caller.
    #[inline]
    pub(crate) fn is_limited(&self) -> bool {
        self.limiter.is_some() || self.tokens.is_some()
    }

    /// Whether an `Ok` needs only the breaker told (no retry budget, no token limit).
    #[inline]
    pub(crate) fn plain_ok(&self) -> bool {
        self.plain_ok
    }

    /// The retry budget of the name, if it has one.
    pub(crate) fn budget(&self) -> Option<&Budget> {
        self.budget.as_ref()
    }

    /// Gives back what an admission reserved for a call that never ran: `key`'s request token
    /// and `cost` tokens of the token limit. The buckets are as if it had never asked.
    #[cold]
    pub(crate) fn refund(&self, key: u64, cost: u64) {
        if let Some(l) = &self.limiter {
            l.adjust(key, -1);
        }
        if let (Some(t), true) = (&self.tokens, cost > 0) {
            t.adjust(0, -i64::try_from(cost).unwrap_or(i64::MAX));
        }
    }

    /// Holds off every caller until `until` (a retry-after hint seen by one of them).
    #[cold]
    pub(crate) fn hold_off(&self, until: Nanos) {
        self.hold_until.fetch_max(until, Ordering::AcqRel);
    }

    /// Reconciles the token limit with what a call reports it used, against the `cost` it was
    /// charged: the difference is refunded or charged.
    pub(crate) fn reconcile(&self, cost: u64, used: u64) {
        if let Some(t) = &self.tokens {
            let used = i64::try_from(used).unwrap_or(i64::MAX);
            t.adjust(
                0,
                used.saturating_sub(i64::try_from(cost).unwrap_or(i64::MAX)),
            );
        }
    }

    /// A snapshot of every part at `now`.
    pub(crate) fn signals(&self, now: Nanos) -> Signals {
        let breaker = self.breaker.as_ref();
        Signals {
            circuit: breaker.map_or(CircuitState::Closed, |b| b.state(now)),
            open_keys: breaker
                .and_then(BreakerState::keys)
                .map(|k| k.open_keys(now)),
            breaker_keys: breaker.and_then(BreakerState::keys).map(|k| k.len()),
            consecutive_failures: breaker.map_or(0, BreakerState::consecutive_failures),
            failure_rate: breaker.and_then(|b| b.rates(now)).map(|r| r.0),
            slow_rate: breaker.and_then(|b| b.rates(now)).map(|r| r.1),
            held_off_for: Duration::from_nanos(
                self.hold_until.load(Ordering::Acquire).saturating_sub(now),
            ),
            rate_remaining: self.limiter.as_ref().and_then(|l| l.remaining(now)),
            keys: self.limiter.as_ref().and_then(Limiter::keys),
            tokens_remaining: self.tokens.as_ref().and_then(|t| t.remaining(now)),
            inflight: self.bulkhead.inflight(),
            queued: self.bulkhead.queued(),
            retries: self.counts.retries.load(Ordering::Relaxed),
            fallbacks: self.counts.fallbacks.load(Ordering::Relaxed),
            stale_served: self.counts.stale_served.load(Ordering::Relaxed),
            successes: self.bulkhead.succeeded(),
            failures: self.counts.failures.load(Ordering::Relaxed),
            ignored: self.counts.ignored.load(Ordering::Relaxed),
            rejections: Rejections {
                breaker: self.counts.rejected[0].load(Ordering::Relaxed),
                limiter: self.counts.rejected[1].load(Ordering::Relaxed),
                bulkhead: self.counts.rejected[2].load(Ordering::Relaxed),
                chaos: self.counts.rejected[3].load(Ordering::Relaxed),
            },
            injected: Injections {
                errors: self.counts.injected_errors.load(Ordering::Relaxed),
                delays: self.counts.injected_delays.load(Ordering::Relaxed),
                rejections: self.counts.rejected[3].load(Ordering::Relaxed),
            },
            hedges: self.counts.hedges.load(Ordering::Relaxed),
            hedge_ends: self.counts.hedge_ends.load(Ordering::Relaxed),
        }
    }

    /// Back to a fresh start: breaker closed and counting from zero, no hold-off, buckets full.
    /// Calls in flight keep their bulkhead slots.
    pub(crate) fn reset(&self, now: Nanos) {
        if let Some(b) = &self.breaker {
            b.reset(now);
        }
        self.hold_until.store(0, Ordering::Release);
        if let Some(l) = &self.limiter {
            l.reset();
        }
        if let Some(t) = &self.tokens {
            t.reset();
        }
    }

    /// Tightens the limiters to what the provider reported at `now`.
    pub(crate) fn observe(&self, seen: Observed, now: Nanos) {
        let nanos = |d: Option<Duration>| d.map(duration_to_nanos);
        if let Some(l) = &self.limiter {
            l.learn(now, seen.remaining_requests, nanos(seen.reset_requests));
        }
        if let Some(t) = &self.tokens {
            t.learn(now, seen.remaining_tokens, nanos(seen.reset_tokens));
        }
    }

    /// The breaker, by hand (an operator's handle): `None` does nothing without a breaker.
    pub(crate) fn breaker(&self) -> Option<&BreakerState> {
        self.breaker.as_ref()
    }
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
/// assert_eq!(s.queued, 0); // no bulkhead queue
/// assert_eq!(s.rate_remaining, Some(5.0));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct Signals {
    /// The breaker's state as a call arriving now would find it (`Closed` without a breaker).
    pub circuit: CircuitState,
    /// Calls in flight.
    pub inflight: usize,
    /// Calls waiting in the bulkhead's queue for a slot, not yet handed one (0 without a
    /// queue: see [`PolicyBuilder::queue`](crate::PolicyBuilder::queue)).
    pub queued: usize,
    /// Tokens left now; `None` without a limiter or with a keyed one.
    pub rate_remaining: Option<f64>,
    /// Failures in a row counted by the breaker (0 without one, for a failure-rate breaker, and
    /// for a keyed breaker: see [`open_keys`](Self::open_keys)).
    pub consecutive_failures: u32,
    /// The failure rate of a failure-rate breaker's window now (a fraction; 0 while it holds no
    /// call); `None` without one (and for a keyed breaker, whose keys each have a window).
    pub failure_rate: Option<f64>,
    /// The slow-call rate of a failure-rate breaker's window now (a fraction; 0 while it holds
    /// no call); `None` without one.
    pub slow_rate: Option<f64>,
    /// Keys a keyed limiter remembers now; `None` otherwise.
    pub keys: Option<usize>,
    /// Keys of a keyed breaker whose breaker is open or half-open now (the overflow breaker of
    /// the keys past `max_keys` counts as one key; while forced open, every key remembered and
    /// the overflow); `None` without a keyed breaker, whose [`circuit`](Self::circuit) is
    /// `Closed` unless forced open.
    pub open_keys: Option<usize>,
    /// Keys a keyed breaker remembers now (at most its `max_keys`); `None` otherwise.
    pub breaker_keys: Option<usize>,
    /// Tokens left now under the token limit (`tpm`); `None` without one.
    pub tokens_remaining: Option<f64>,
    /// How long every caller is still held off by a retry-after hint (zero: not held off).
    pub held_off_for: Duration,
    /// Retries made since the policy was created.
    pub retries: u64,
    /// Calls that finally failed or were rejected, in a way worth a fallback (and were handed to
    /// it, if there is one), since the policy was created.
    pub fallbacks: u64,
    /// Calls answered from a stale cache (`stale(…)`) since the policy was created.
    pub stale_served: u64,
    /// Attempts that succeeded, since the policy was created.
    pub successes: u64,
    /// Attempts that failed (an error that counts against the provider, a timeout, a panic),
    /// since the policy was created.
    pub failures: u64,
    /// Attempts whose error does not count against the provider (the caller's own fault, see
    /// [`Classify::is_caller_fault`](crate::Classify::is_caller_fault)), since the policy was
    /// created.
    pub ignored: u64,
    /// Attempts turned away, by the part that turned them away, since the policy was created.
    pub rejections: Rejections,
    /// What chaos injected since the policy was created (all zero without the `chaos`
    /// feature).
    pub injected: Injections,
    /// Hedged copies started (a call's second, third or fourth copy, by `hedge`), since the
    /// policy was created: the extra load hedging adds, at most, beyond the calls. A hedge the
    /// breaker, limiter or bulkhead turned away was not started and is not counted.
    pub hedges: u64,
    /// Copies of hedged rounds that ended (with a success or a failure) beyond each round's
    /// first: each is one more attempt of the same call, as a retry is (see [`calls`](Self::calls)).
    pub(crate) hedge_ends: u64,
}

impl Signals {
    /// Calls that ended, since the policy was created: every attempt that ended or was turned
    /// away, less the retries (each retry is one more attempt of the same call) and the hedged
    /// copies that ended beyond each round's first (likewise). A call whose future was dropped
    /// mid-attempt is not counted.
    ///
    /// # Examples
    ///
    /// ```
    /// use staunch_runtime::{Error, Policy, Retry};
    /// let p = Policy::builder("docs-calls").retry(Retry::new().jitter(0.0)).build().unwrap();
    /// let clock = staunch_runtime::MockClock::new();
    /// let _g = clock.install(); // backoff waits move the mock clock
    /// let mut n = 0;
    /// let down = Error::Timeout { policy: "up".into(), after: Default::default() };
    /// // a call that fails once, then succeeds; and one that succeeds at once
    /// let _ = p.call(|| { n += 1; if n == 1 { Err(down.clone()) } else { Ok(()) } });
    /// let _ = p.call(|| Ok::<_, Error>(()));
    /// let s = p.handle().signals();
    /// assert_eq!((s.successes, s.failures, s.retries), (2, 1, 1));
    /// assert_eq!(s.calls(), 2);
    /// ```
    #[must_use]
    pub fn calls(&self) -> u64 {
        (self.successes + self.failures + self.ignored + self.rejections.total())
            .saturating_sub(self.retries)
            .saturating_sub(self.hedge_ends)
    }
}

/// Attempts turned away, by the part that turned them away.
///
/// # Examples
///
/// ```
/// use staunch_runtime::{Error, Policy};
/// use std::time::Duration;
/// let p = Policy::builder("docs-rejections").rps(1.0).wait(Duration::ZERO).build().unwrap();
/// let _ = p.call(|| Ok::<_, Error>(()));
/// let _ = p.call(|| Ok::<_, Error>(())); // no token left, and no waiting for one
/// let r = p.handle().signals().rejections;
/// assert_eq!((r.breaker, r.limiter, r.bulkhead), (0, 1, 0));
/// assert_eq!(r.total(), 1);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rejections {
    /// By the breaker (open, or no free trial).
    pub breaker: u64,
    /// By the rate or token limit, or a hold-off.
    pub limiter: u64,
    /// By the bulkhead.
    pub bulkhead: u64,
    /// By chaos, rehearsing a rejection ([`Chaos::reject`](crate::Chaos::reject)).
    pub chaos: u64,
}

impl Rejections {
    /// All of them.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.breaker + self.limiter + self.bulkhead + self.chaos
    }
}

/// What chaos injected into a policy's attempts (see [`Chaos`](crate::Chaos)).
///
/// # Examples
///
/// ```
/// use staunch_runtime::{Chaos, Error, Policy};
/// let p = Policy::builder("docs-injections").chaos(Chaos::new().error(1.0)).build().unwrap();
/// let _ = p.call(|| Ok::<_, Error>(()));
/// let i = p.handle().signals().injected;
/// let expected = if Chaos::ENABLED { 1 } else { 0 };
/// assert_eq!((i.errors, i.delays, i.rejections), (expected, 0, 0));
/// assert_eq!(i.total(), expected);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Injections {
    /// Attempts failed with [`Error::Injected`](crate::Error::Injected) (counted as failures
    /// too).
    pub errors: u64,
    /// Attempts delayed by [`Chaos::latency`](crate::Chaos::latency).
    pub delays: u64,
    /// Attempts turned away with [`Error::InjectedRejection`](crate::Error::InjectedRejection)
    /// (the same as [`Rejections::chaos`]).
    pub rejections: u64,
}

impl Injections {
    /// Faults of every kind.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.errors + self.delays + self.rejections
    }
}

/// What a provider said of its own limits in a response (the `x-ratelimit-remaining-*` and
/// `x-ratelimit-reset-*` headers of OpenAI-style APIs), for
/// [`Handle::observe`](crate::Handle::observe).
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
/// assert_eq!(seen.remaining_tokens, None);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    /// Requests left in the provider's window.
    pub remaining_requests: Option<u64>,
    /// When the provider's request window resets.
    pub reset_requests: Option<Duration>,
    /// Tokens left in the provider's window.
    pub remaining_tokens: Option<u64>,
    /// When the provider's token window resets.
    pub reset_tokens: Option<Duration>,
}
