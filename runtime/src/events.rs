//! What happens to a policy, as typed [`Event`]s, for subscribers: a closure
//! ([`subscribe`]) or a channel ([`channel`]), for one policy or all of them, for the kinds of
//! event they ask for.
//!
//! Events are delivered off the call path, in the order they happened, by one thread of
//! staunch's own (`staunch-events`), through a bounded queue. A call never waits for a
//! subscriber: when the queue is full (a subscriber slower than the calls), the newest events
//! are dropped and counted ([`dropped`]). A subscriber that panics is reported once (in
//! [`warnings`](crate::warnings)) and stays subscribed; the others still get every event.
//!
//! A policy asks whether anyone wants an event of a kind with one relaxed load before it builds
//! it: with no subscriber, or none for that kind, an event costs nothing more.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use staunch_runtime::events::{self, EventKind, Filter, Kinds};
//! use staunch_runtime::{Breaker, CircuitState, Error, Policy};
//!
//! let seen = Arc::new(Mutex::new(Vec::new()));
//! let sink = seen.clone();
//! let _subscription = events::subscribe(
//!     Filter::policy("docs-events").kinds(Kinds::STATE),
//!     move |e| sink.lock().unwrap().push(e.kind.clone()),
//! );
//! let p = Policy::builder("docs-events").breaker(Breaker::new().threshold(1)).build().unwrap();
//! let _ = p.call(|| Err::<(), _>(Error::Timeout { policy: "upstream".into(), after: Default::default() }));
//! events::flush();
//! assert_eq!(
//!     *seen.lock().unwrap(),
//!     [EventKind::StateChange { from: CircuitState::Closed, to: CircuitState::Open }]
//! );
//! ```

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, SystemTime};

use crate::breaker::CircuitState;
use crate::sync::global::{lock, AtomicBool, AtomicU32, AtomicU64, Mutex};
use crate::sync::Ordering;

/// A set of event kinds, for a [`Filter`].
///
/// # Examples
///
/// ```
/// use staunch_runtime::events::Kinds;
/// let k = Kinds::STATE | Kinds::REJECTED;
/// assert!(k.contains(Kinds::STATE));
/// assert!(!k.contains(Kinds::ATTEMPT));
/// assert!(Kinds::ALL.contains(k));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Kinds(u32);

impl Kinds {
    /// [`EventKind::Attempt`]: every attempt's outcome, successes included.
    pub const ATTEMPT: Kinds = Kinds(1);
    /// [`EventKind::Retry`].
    pub const RETRY: Kinds = Kinds(1 << 1);
    /// [`EventKind::Rejected`].
    pub const REJECTED: Kinds = Kinds(1 << 2);
    /// [`EventKind::Fallback`].
    pub const FALLBACK: Kinds = Kinds(1 << 3);
    /// [`EventKind::StateChange`].
    pub const STATE: Kinds = Kinds(1 << 4);
    /// [`EventKind::HoldOff`].
    pub const HOLD_OFF: Kinds = Kinds(1 << 5);
    /// [`EventKind::Backend`].
    pub const BACKEND: Kinds = Kinds(1 << 6);
    /// No kind.
    pub const NONE: Kinds = Kinds(0);
    /// Every kind.
    pub const ALL: Kinds = Kinds((1 << 7) - 1);
    /// Not a kind of event: attempts are timed for the latency histogram (`metrics` feature).
    pub(crate) const TIMED: Kinds = Kinds(1 << 7);
    /// Not a kind of event: the breaker times attempts (a slow-call bound, a time window).
    pub(crate) const CLOCKED: Kinds = Kinds(1 << 8);
    /// Not a kind of event: a `tracing` subscriber may want attempt spans (`tracing` feature).
    pub(crate) const TRACING: Kinds = Kinds(1 << 9);
    /// Not a kind of event: the policy's state is in Redis (`redis` feature).
    pub(crate) const REMOTE: Kinds = Kinds(1 << 10);

    pub(crate) const fn bits(self) -> u32 {
        self.0
    }

    /// Whether every kind of `other` is in `self`.
    ///
    /// # Examples
    ///
    /// ```
    /// use staunch_runtime::events::Kinds;
    /// assert!(Kinds::ALL.contains(Kinds::RETRY));
    /// assert!(!Kinds::RETRY.contains(Kinds::ALL));
    /// ```
    #[must_use]
    pub const fn contains(self, other: Kinds) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for Kinds {
    type Output = Kinds;
    fn bitor(self, rhs: Kinds) -> Kinds {
        Kinds(self.0 | rhs.0)
    }
}

/// How the breaker judged an attempt.
///
/// # Examples
///
/// ```
/// use staunch_runtime::events::Verdict;
/// assert_eq!(Verdict::Failure.to_string(), "failure");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Verdict {
    /// A success.
    Success,
    /// A failure: an error that counts, a timeout, or a panic.
    Failure,
    /// An error that does not count against the provider (the caller's own fault): neither.
    Ignored,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Success => "success",
            Verdict::Failure => "failure",
            Verdict::Ignored => "ignored",
        })
    }
}

/// The part of a policy that turned a call away.
///
/// # Examples
///
/// ```
/// use staunch_runtime::events::Part;
/// assert_eq!(Part::Bulkhead.to_string(), "bulkhead");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Part {
    /// The breaker, open or with no free trial ([`Error::CircuitOpen`](crate::Error::CircuitOpen)).
    Breaker,
    /// The rate or token limit, or a hold-off ([`Error::RateLimited`](crate::Error::RateLimited)).
    Limiter,
    /// The bulkhead, full ([`Error::BulkheadFull`](crate::Error::BulkheadFull)).
    Bulkhead,
    /// Chaos, rehearsing a rejection
    /// ([`Error::InjectedRejection`](crate::Error::InjectedRejection)).
    Chaos,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::Breaker => "breaker",
            Part::Limiter => "limiter",
            Part::Bulkhead => "bulkhead",
            Part::Chaos => "chaos",
        })
    }
}

impl Part {
    /// What turned the call away, in a sentence: "the breaker", …, "chaos".
    fn by(self) -> &'static str {
        match self {
            Part::Breaker => "the breaker",
            Part::Limiter => "the limiter",
            Part::Bulkhead => "the bulkhead",
            Part::Chaos => "chaos",
        }
    }
}

/// Why a call went to its fallback.
///
/// # Examples
///
/// ```
/// use staunch_runtime::events::{Part, Reason};
/// assert_eq!(Reason::Rejected(Part::Breaker).to_string(), "rejected by the breaker");
/// assert_eq!(Reason::Rejected(Part::Chaos).to_string(), "rejected by chaos");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// Its last attempt failed (and no retry was left, allowed or worth it).
    Failed,
    /// A part of the policy turned it away.
    Rejected(Part),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Failed => f.write_str("failed"),
            Reason::Rejected(part) => write!(f, "rejected by {}", part.by()),
        }
    }
}

/// What happened.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum EventKind {
    /// An attempt ended (`attempt` 1 is the call's first).
    Attempt {
        /// 1 for the first attempt of a call, 2 for its first retry, ….
        attempt: u32,
        /// How the breaker judged it.
        verdict: Verdict,
        /// The error's text, for an attempt that failed or was ignored.
        error: Option<String>,
        /// How long the attempt took, on the policy's clock (tokio's for async calls).
        elapsed: Duration,
    },
    /// A failed attempt will be retried after `wait`.
    Retry {
        /// 1 for the call's first retry, ….
        retry: u32,
        /// The backoff wait (or the provider's hint) before it.
        wait: Duration,
        /// The error of the attempt that failed.
        error: String,
    },
    /// A part of the policy turned a call away.
    Rejected {
        /// Which part.
        part: Part,
        /// When a call could pass: the time until a breaker trial or a token (zero for the
        /// bulkhead).
        retry_in: Duration,
    },
    /// A call went to its fallback (emitted only for functions that have one).
    Fallback {
        /// Why.
        reason: Reason,
        /// The error it would have returned.
        error: String,
    },
    /// The breaker changed state.
    StateChange {
        /// The state before.
        from: CircuitState,
        /// The state after.
        to: CircuitState,
    },
    /// A provider's retry-after hint holds every caller of the policy off for `hold`.
    HoldOff {
        /// How long from now.
        hold: Duration,
    },
    /// The shared state in Redis (feature `redis`) became unavailable, or available again:
    /// once per outage, not per call. While unavailable, the policy's fail mode decides.
    Backend {
        /// Whether Redis answers again (`false`: it just stopped).
        available: bool,
        /// What went wrong (empty once it answers again).
        reason: String,
    },
}

impl EventKind {
    /// The kind, as a [`Kinds`] of one.
    ///
    /// # Examples
    ///
    /// ```
    /// use staunch_runtime::events::{EventKind, Kinds};
    /// assert_eq!(EventKind::HoldOff { hold: Default::default() }.kind(), Kinds::HOLD_OFF);
    /// ```
    #[must_use]
    pub const fn kind(&self) -> Kinds {
        match self {
            EventKind::Attempt { .. } => Kinds::ATTEMPT,
            EventKind::Retry { .. } => Kinds::RETRY,
            EventKind::Rejected { .. } => Kinds::REJECTED,
            EventKind::Fallback { .. } => Kinds::FALLBACK,
            EventKind::StateChange { .. } => Kinds::STATE,
            EventKind::HoldOff { .. } => Kinds::HOLD_OFF,
            EventKind::Backend { .. } => Kinds::BACKEND,
        }
    }

    /// The kind's name, as tracing and metrics label it: `attempt`, `retry`, `rejected`,
    /// `fallback`, `state_change`, `hold_off`.
    ///
    /// # Examples
    ///
    /// ```
    /// use staunch_runtime::events::EventKind;
    /// assert_eq!(EventKind::HoldOff { hold: Default::default() }.name(), "hold_off");
    /// ```
    #[must_use]
    pub const fn name(&self) -> &'static str {
        match self {
            EventKind::Attempt { .. } => "attempt",
            EventKind::Retry { .. } => "retry",
            EventKind::Rejected { .. } => "rejected",
            EventKind::Fallback { .. } => "fallback",
            EventKind::StateChange { .. } => "state_change",
            EventKind::HoldOff { .. } => "hold_off",
            EventKind::Backend { .. } => "backend",
        }
    }
}

/// Something that happened to a policy.
///
/// Its `Display` is one line for a log: the policy's name, then what happened.
///
/// # Examples
///
/// ```
/// use staunch_runtime::events::{Event, EventKind};
/// use staunch_runtime::CircuitState;
/// let e = Event::new("openai", EventKind::StateChange { from: CircuitState::Closed, to: CircuitState::Open });
/// assert_eq!(e.to_string(), "openai: breaker closed -> open");
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Event {
    /// The policy's name.
    pub policy: Arc<str>,
    /// When it happened, on the wall clock.
    pub at: SystemTime,
    /// What happened.
    pub kind: EventKind,
}

impl Event {
    /// An event of `policy`, now. Policies build their own; this is for tests of subscribers.
    ///
    /// # Examples
    ///
    /// ```
    /// use staunch_runtime::events::{Event, EventKind, Part};
    /// use std::time::Duration;
    /// let e = Event::new("p", EventKind::Rejected { part: Part::Limiter, retry_in: Duration::from_millis(5) });
    /// assert_eq!(e.to_string(), "p: rejected by the limiter, retry in 5ms");
    /// ```
    #[must_use]
    pub fn new(policy: &str, kind: EventKind) -> Self {
        Event {
            policy: policy.into(),
            at: SystemTime::now(),
            kind,
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.policy)?;
        match &self.kind {
            EventKind::Attempt {
                attempt,
                verdict,
                error,
                elapsed,
            } => {
                write!(f, "attempt {attempt}: {verdict} after {elapsed:?}")?;
                if let Some(e) = error {
                    write!(f, " ({e})")?;
                }
                Ok(())
            }
            EventKind::Retry { retry, wait, error } => {
                write!(f, "retry {retry} in {wait:?} after: {error}")
            }
            EventKind::Rejected { part, retry_in } => {
                write!(f, "rejected by {}", part.by())?;
                if !retry_in.is_zero() {
                    write!(f, ", retry in {retry_in:?}")?;
                }
                Ok(())
            }
            EventKind::Fallback { reason, error } => write!(f, "fallback: {reason} ({error})"),
            EventKind::StateChange { from, to } => {
                write!(f, "breaker {} -> {}", state_name(*from), state_name(*to))
            }
            EventKind::HoldOff { hold } => write!(f, "every caller held off for {hold:?}"),
            EventKind::Backend {
                available: true, ..
            } => f.write_str("shared state available"),
            EventKind::Backend { reason, .. } => write!(f, "shared state unavailable: {reason}"),
        }
    }
}

/// `closed`, `open`, `half_open`: a state as events, tracing and metrics name it.
pub(crate) fn state_name(s: CircuitState) -> &'static str {
    match s {
        CircuitState::Closed => "closed",
        CircuitState::Open => "open",
        CircuitState::HalfOpen => "half_open",
    }
}

/// Which events a subscriber gets: of one policy or all, of some kinds or all.
///
/// # Examples
///
/// ```
/// use staunch_runtime::events::{Filter, Kinds};
/// let f = Filter::policy("openai").kinds(Kinds::STATE | Kinds::REJECTED);
/// assert!(f.wants("openai", Kinds::STATE));
/// assert!(!f.wants("openai", Kinds::ATTEMPT));
/// assert!(!f.wants("anthropic", Kinds::STATE));
/// assert!(Filter::all().wants("anything", Kinds::ATTEMPT));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    policy: Option<String>,
    kinds: Kinds,
}

impl Filter {
    /// Every event of every policy.
    #[must_use]
    pub fn all() -> Self {
        Filter {
            policy: None,
            kinds: Kinds::ALL,
        }
    }

    /// Every event of the policy named `name` (as registered: see
    /// [`Policy::name`](crate::Policy::name)).
    #[must_use]
    pub fn policy(name: &str) -> Self {
        Filter {
            policy: Some(name.to_owned()),
            kinds: Kinds::ALL,
        }
    }

    /// Only events of these kinds.
    #[must_use]
    pub fn kinds(mut self, kinds: Kinds) -> Self {
        self.kinds = kinds;
        self
    }

    /// Whether an event of `kind` of the policy `name` passes.
    #[must_use]
    pub fn wants(&self, name: &str, kind: Kinds) -> bool {
        self.kinds.0 & kind.0 != 0 && self.policy.as_deref().is_none_or(|p| p == name)
    }

    /// The kinds this filter lets through for the policy `name`.
    fn mask(&self, name: &str) -> u32 {
        if self.policy.as_deref().is_none_or(|p| p == name) {
            self.kinds.0
        } else {
            0
        }
    }
}

enum Deliver {
    Closure(Box<dyn Fn(&Event) + Send + Sync>),
    Channel(tokio::sync::mpsc::Sender<Event>),
}

struct Subscriber {
    id: u64,
    filter: Filter,
    deliver: Deliver,
}

static SUBSCRIBERS: LazyLock<Mutex<Vec<Arc<Subscriber>>>> = LazyLock::new(Mutex::default);
static NEXT_ID: AtomicU64 = AtomicU64::new(1);
static DROPPED: AtomicU64 = AtomicU64::new(0);
/// Whether the delivering thread was started (by a first subscription).
static STARTED: AtomicBool = AtomicBool::new(false);
/// Whether attempts are timed for the latency histogram.
static TIMING: AtomicBool = AtomicBool::new(false);

/// Times every attempt of every policy (or stops), for the latency histogram.
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) fn set_timing(on: bool) {
    TIMING.store(on, Ordering::Relaxed);
    refresh();
}

/// How many events the queue holds before it drops new ones.
const QUEUE: usize = 16_384;

enum Msg {
    Event(Event),
    Flush(mpsc::Sender<()>),
}

/// The queue to the delivering thread, started with the first subscription.
static QUEUE_TX: LazyLock<SyncSender<Msg>> = LazyLock::new(|| {
    let (tx, rx) = mpsc::sync_channel(QUEUE);
    std::thread::Builder::new()
        .name("staunch-events".into())
        .spawn(move || deliver(&rx))
        .map_or_else(
            |e| {
                crate::env::report(
                    "events thread",
                    format!("cannot start the thread that delivers events ({e}); none will be"),
                );
            },
            drop,
        );
    tx
});

fn deliver(rx: &Receiver<Msg>) {
    let mut matching: Vec<Arc<Subscriber>> = Vec::new();
    while let Ok(msg) = rx.recv() {
        let event = match msg {
            Msg::Event(event) => event,
            Msg::Flush(done) => {
                let _ = done.send(());
                continue;
            }
        };
        let kind = event.kind.kind();
        matching.extend(
            lock(&SUBSCRIBERS)
                .iter()
                .filter(|s| s.filter.wants(&event.policy, kind))
                .cloned(),
        );
        for s in matching.drain(..) {
            match &s.deliver {
                Deliver::Closure(f) => {
                    if catch_unwind(AssertUnwindSafe(|| f(&event))).is_err() {
                        crate::env::report(
                            &format!("subscriber {} panicked", s.id),
                            format!(
                                "an event subscriber panicked on `{event}`; it stays subscribed"
                            ),
                        );
                    }
                }
                Deliver::Channel(tx) => match tx.try_send(event.clone()) {
                    Ok(()) => {}
                    Err(tokio::sync::mpsc::error::TrySendError::Full(_)) => {
                        DROPPED.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => unsubscribe(s.id),
                },
            }
        }
    }
}

/// A subscription: events stop when it is dropped (or [`cancel`](Subscription::cancel)led).
/// To keep one for the life of the process, [`forget`](std::mem::forget) it.
#[derive(Debug)]
#[must_use = "dropping a subscription ends it at once"]
pub struct Subscription {
    id: u64,
}

impl Subscription {
    /// Ends the subscription (as dropping it does).
    ///
    /// # Examples
    ///
    /// ```
    /// use staunch_runtime::events::{subscribe, Filter};
    /// let s = subscribe(Filter::all(), |_| {});
    /// s.cancel();
    /// ```
    pub fn cancel(self) {}
}

impl Drop for Subscription {
    fn drop(&mut self) {
        unsubscribe(self.id);
    }
}

fn add(filter: Filter, deliver: Deliver) -> Subscription {
    LazyLock::force(&QUEUE_TX);
    STARTED.store(true, Ordering::Release);
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    lock(&SUBSCRIBERS).push(Arc::new(Subscriber {
        id,
        filter,
        deliver,
    }));
    refresh();
    Subscription { id }
}

fn unsubscribe(id: u64) {
    lock(&SUBSCRIBERS).retain(|s| s.id != id);
    refresh();
}

/// Calls `f` with every event that passes `filter`, on staunch's delivering thread, until the
/// [`Subscription`] is dropped.
///
/// `f` runs off the call path: a slow `f` delays the events after it (and, once the queue is
/// full, makes them dropped), never a call. A panic in `f` is caught and reported once.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use staunch_runtime::events::{self, Filter, Kinds};
/// use staunch_runtime::{Error, Policy};
///
/// let rejected = Arc::new(AtomicUsize::new(0));
/// let count = rejected.clone();
/// let _s = events::subscribe(Filter::policy("docs-subscribe").kinds(Kinds::REJECTED), move |_| {
///     count.fetch_add(1, Ordering::Relaxed);
/// });
/// let p = Policy::builder("docs-subscribe")
///     .rps(1.0)
///     .wait(std::time::Duration::ZERO)
///     .build()
///     .unwrap();
/// for _ in 0..3 {
///     let _ = p.call(|| Ok::<_, Error>(()));
/// }
/// events::flush();
/// assert_eq!(rejected.load(Ordering::Relaxed), 2);
/// ```
pub fn subscribe(filter: Filter, f: impl Fn(&Event) + Send + Sync + 'static) -> Subscription {
    add(filter, Deliver::Closure(Box::new(f)))
}

/// A channel of every event that passes `filter`, holding at most `capacity` undelivered
/// events (more are dropped and counted in [`dropped`]), until the [`Subscription`] is dropped
/// or the receiver closed. The receiver is tokio's: `recv().await` in async code,
/// `blocking_recv()` or `try_recv()` in sync code.
///
/// # Panics
///
/// If `capacity` is 0.
///
/// # Examples
///
/// ```
/// use staunch_runtime::events::{self, EventKind, Filter, Kinds, Part};
/// use staunch_runtime::{Error, Policy};
///
/// let (_s, mut rx) = events::channel(Filter::policy("docs-channel").kinds(Kinds::REJECTED), 64);
/// let p = Policy::builder("docs-channel").max_inflight(1).build().unwrap();
/// let _ = p.call(|| p.call(|| Ok::<_, Error>(())));
/// events::flush();
/// let e = rx.try_recv().unwrap();
/// assert_eq!(e.kind, EventKind::Rejected { part: Part::Bulkhead, retry_in: Default::default() });
/// ```
pub fn channel(
    filter: Filter,
    capacity: usize,
) -> (Subscription, tokio::sync::mpsc::Receiver<Event>) {
    let (tx, rx) = tokio::sync::mpsc::channel(capacity);
    (add(filter, Deliver::Channel(tx)), rx)
}

/// Waits until every event emitted before this call has been delivered to its subscribers.
/// For tests, and for a clean shutdown. Returns at once if nothing was ever subscribed. Never
/// call it from inside a subscriber: it would wait for itself.
///
/// # Examples
///
/// See [`subscribe`].
pub fn flush() {
    if !STARTED.load(Ordering::Acquire) {
        return;
    }
    let (done, wait) = mpsc::channel();
    if QUEUE_TX.send(Msg::Flush(done)).is_ok() {
        let _ = wait.recv();
    }
}

/// Events dropped since the process started because a subscriber fell behind: the queue to
/// the delivering thread was full, or a [`channel`]'s receiver was.
///
/// # Examples
///
/// ```
/// assert_eq!(staunch_runtime::events::dropped(), 0);
/// ```
#[must_use]
pub fn dropped() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

/// Recomputes every policy's mask from the subscribers.
fn refresh() {
    for shared in crate::registry::all() {
        shared.refresh_events();
    }
}

/// A policy's outlet for events: its name, and which kinds anyone wants (one relaxed load).
#[derive(Debug)]
pub(crate) struct Sink {
    pub(crate) name: Arc<str>,
    wanted: AtomicU32,
    /// The policy's latency histogram, registered at its first sample.
    #[cfg(feature = "metrics")]
    pub(crate) latency: crate::metrics::LatencyCell,
}

impl Sink {
    pub(crate) fn new(name: &str) -> Arc<Self> {
        let sink = Sink {
            name: name.into(),
            wanted: AtomicU32::new(0),
            #[cfg(feature = "metrics")]
            latency: crate::metrics::LatencyCell::default(),
        };
        sink.refresh();
        Arc::new(sink)
    }

    /// Takes the kinds the subscribers want now; returns them.
    pub(crate) fn refresh(&self) -> u32 {
        let timed = if TIMING.load(Ordering::Relaxed) {
            Kinds::TIMED.0
        } else {
            0
        };
        let mask = lock(&SUBSCRIBERS)
            .iter()
            .fold(timed, |m, s| m | s.filter.mask(&self.name));
        self.wanted.store(mask, Ordering::Relaxed);
        mask
    }

    /// Whether anyone wants events of `kind`.
    #[inline(always)]
    pub(crate) fn wants(&self, kind: Kinds) -> bool {
        self.wanted.load(Ordering::Relaxed) & kind.0 != 0
    }

    /// Queues an event (dropped, and counted, if the queue is full). Call only if
    /// [`wants`](Self::wants) its kind.
    #[cold]
    #[inline(never)]
    pub(crate) fn emit(&self, kind: EventKind) {
        let event = Event {
            policy: self.name.clone(),
            at: SystemTime::now(),
            kind,
        };
        if let Err(TrySendError::Full(_)) = QUEUE_TX.try_send(Msg::Event(event)) {
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// An event of the policy, to `tracing` (with the feature, if its level is enabled) and to
    /// the subscribers that want its kind.
    #[cold]
    #[inline(never)]
    pub(crate) fn tell(&self, kind: EventKind) {
        if crate::trace::enabled(kind.kind()) {
            crate::trace::event(&self.name, &kind);
        }
        if self.wants(kind.kind()) {
            self.emit(kind);
        }
    }

    /// A state change, if anyone wants one and the state did change.
    #[cold]
    pub(crate) fn state_change(&self, from: CircuitState, to: CircuitState) {
        let (queued, traced) = (
            self.wants(Kinds::STATE),
            crate::trace::enabled(Kinds::STATE),
        );
        if from != to && (queued || traced) {
            let kind = EventKind::StateChange { from, to };
            crate::trace::event(&self.name, &kind);
            if queued {
                self.emit(kind);
            }
        }
    }
}
