//! `tracing` (feature `tracing`): a span per attempt and an event per [`EventKind`], at the levels
//! an operator expects. Without the feature, nothing here costs anything.
//!
//! | event | level | fields |
//! |---|---|---|
//! | each attempt's span `staunch.attempt` | `DEBUG` | `policy`, `attempt` |
//! | an attempt's end | `DEBUG` | `policy`, `attempt`, `verdict`, `elapsed`, `error` |
//! | a retry | `INFO` | `policy`, `retry`, `wait`, `error` |
//! | a rejection | `INFO` | `policy`, `part`, `retry_in` |
//! | a fallback | `INFO` | `policy`, `reason`, `error` |
//! | the breaker opens | `WARN` | `policy`, `from`, `to` |
//! | the breaker turns half-open or closes | `INFO` | `policy`, `from`, `to` |
//! | a hold-off | `WARN` | `policy`, `hold` |
//!
//! Every event's target is `staunch`, its message the kind's name (`attempt`, `retry`,
//! `rejected`, `fallback`, `state_change`, `hold_off`, `backend`). The happy path is silent at `INFO`.
//!
//! What runs in the span: a sync attempt runs in it whole (its body, and staunch's events of
//! the attempt); an async attempt's body is polled in it, so that what the body logs is in the
//! span, and staunch's own events of the attempt carry `policy` and `attempt` (or `retry`) as
//! fields instead. Keeping the span across the whole async attempt cost 5 % to 10 % of a call
//! with `DEBUG` off (see `BENCHMARKS.md`).
//!
//! Whether to make the span is not asked of `tracing` on every call: a callsite of staunch's
//! own ([`Probe`]) is told by `tracing` whenever a subscriber is set (global or scoped) or a
//! filter reloaded whether any subscriber may want the span, and marks every policy's event
//! mask ([`Kinds::TRACING`]), which the attempt reads anyway. Only a marked attempt asks
//! `tracing`, by making the span.

use crate::events::{EventKind, Kinds};

/// Whether `tracing` wants events of `kind` now (their level is enabled): a static compare and
/// a relaxed load.
#[cfg(feature = "tracing")]
#[inline(always)]
pub(crate) fn enabled(kind: Kinds) -> bool {
    use tracing::{level_enabled, Level};
    // state changes and hold-offs are WARN or INFO, retries, rejections and fallbacks INFO:
    // all of them are told at INFO; attempts only at DEBUG
    if kind.bits() & Kinds::ATTEMPT.bits() != 0 {
        level_enabled!(Level::DEBUG)
    } else if kind.bits() & Kinds::ALL.bits() != 0 {
        level_enabled!(Level::INFO)
    } else {
        false
    }
}

#[cfg(not(feature = "tracing"))]
#[inline(always)]
pub(crate) const fn enabled(_: Kinds) -> bool {
    false
}

/// Whether `DEBUG` is enabled: a static compare and a relaxed load (`false` without the
/// feature).
#[cfg(feature = "tracing")]
#[inline(always)]
pub(crate) fn debug_enabled() -> bool {
    // the global max level is `OFF` until a subscriber is set (global or scoped): one relaxed
    // load and a compare
    tracing::level_enabled!(tracing::Level::DEBUG)
}

#[cfg(not(feature = "tracing"))]
#[inline(always)]
pub(crate) const fn debug_enabled() -> bool {
    false
}

/// Whether a `tracing` subscriber may want the attempt's span, as `tracing` last told the
/// [`Probe`]; kept in every policy's event mask as [`Kinds::TRACING`], which the attempt reads
/// anyway, so that a call with nobody listening at `DEBUG` pays no check of `tracing`'s level.
#[cfg(feature = "tracing")]
static INTERESTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Every policy's shared state, for [`Probe::set_interest`] to set or clear the bit in its mask.
/// A lock of its own, under which nothing else is locked or called: `set_interest` runs under
/// `tracing`'s lock of its subscribers, and a policy is registered under the registry's lock,
/// which may call `tracing` (a warning); taking either of those under this one could deadlock.
#[cfg(feature = "tracing")]
static MASKED: crate::sync::global::Mutex<Vec<crate::sync::Arc<crate::shared::Shared>>> =
    crate::sync::global::Mutex::new(Vec::new());

#[cfg(feature = "tracing")]
fn masked() -> std::sync::MutexGuard<'static, Vec<crate::sync::Arc<crate::shared::Shared>>> {
    crate::sync::global::lock(&MASKED)
}

/// [`Kinds::TRACING`]'s bit if a subscriber may want attempt spans now.
#[cfg(feature = "tracing")]
fn tracing_bit() -> u32 {
    if INTERESTED.load(std::sync::atomic::Ordering::Relaxed) {
        Kinds::TRACING.bits()
    } else {
        0
    }
}

/// A callsite of `tracing` with the attempt span's metadata (its target, name, level and
/// fields), never used to make a span: `tracing` tells it, through `set_interest`, whether any
/// subscriber may want such a span, each time that can change (a subscriber set, global or
/// scoped; a filter reloaded).
#[cfg(feature = "tracing")]
struct Probe;

#[cfg(feature = "tracing")]
static PROBE: Probe = Probe;

#[cfg(feature = "tracing")]
static PROBE_META: tracing::Metadata<'static> = tracing::Metadata::new(
    SPAN,
    TARGET,
    tracing::Level::DEBUG,
    Some(file!()),
    Some(line!()),
    Some(module_path!()),
    tracing::field::FieldSet::new(
        &["policy", "attempt"],
        tracing::callsite::Identifier(&PROBE),
    ),
    tracing::metadata::Kind::SPAN,
);

#[cfg(feature = "tracing")]
impl tracing::callsite::Callsite for Probe {
    fn set_interest(&self, interest: tracing::subscriber::Interest) {
        INTERESTED.store(!interest.is_never(), std::sync::atomic::Ordering::Relaxed);
        // read again under the lock: of two calls racing, the last to lock writes the last word
        let all = masked();
        let bit = tracing_bit();
        for shared in all.iter() {
            shared.set_tracing(bit);
        }
    }

    fn metadata(&self) -> &tracing::Metadata<'_> {
        &PROBE_META
    }
}

/// Registers the [`Probe`] with `tracing`, once. Called with no lock held (registering asks
/// every subscriber, under `tracing`'s lock, and may call `set_interest`).
#[cfg(feature = "tracing")]
pub(crate) fn probe() {
    static REGISTER: std::sync::Once = std::sync::Once::new();
    REGISTER.call_once(|| tracing::callsite::register(&PROBE));
}

#[cfg(not(feature = "tracing"))]
pub(crate) const fn probe() {}

/// A new policy's shared state, from now on told whether `tracing` wants attempt spans.
#[cfg(feature = "tracing")]
pub(crate) fn track(shared: &crate::sync::Arc<crate::shared::Shared>) {
    let mut all = masked();
    all.push(shared.clone());
    shared.set_tracing(tracing_bit());
}

#[cfg(not(feature = "tracing"))]
pub(crate) fn track(_: &crate::sync::Arc<crate::shared::Shared>) {}

/// Stores a policy's event `mask`, with [`Kinds::TRACING`] as it stands (under the lock that
/// [`Probe::set_interest`] takes, so that neither loses the other's word).
#[cfg(feature = "tracing")]
pub(crate) fn store_mask(watched: &std::sync::atomic::AtomicU32, mask: u32) {
    let _all = masked();
    watched.store(mask | tracing_bit(), std::sync::atomic::Ordering::Relaxed);
}

#[cfg(not(feature = "tracing"))]
pub(crate) fn store_mask(watched: &std::sync::atomic::AtomicU32, mask: u32) {
    watched.store(mask, std::sync::atomic::Ordering::Relaxed);
}

/// The attempt span's name and target, which the [`Probe`] shares: `tracing` judges it by
/// them.
#[cfg(feature = "tracing")]
const SPAN: &str = "staunch.attempt";
#[cfg(feature = "tracing")]
const TARGET: &str = "staunch";

/// The span of one attempt of `policy` after `retries` retries.
#[cfg(feature = "tracing")]
#[cold]
#[inline(never)]
fn attempt_span(policy: &str, retries: u32) -> tracing::Span {
    let attempt = retries.saturating_add(1);
    tracing::debug_span!(target: TARGET, SPAN, policy = %policy, attempt)
}

/// How an async attempt's body is polled: as it is (`()`, every attempt that no subscriber may
/// want a span of), or in its span (`BodySpan`, feature `tracing`).
pub(crate) trait PollIn: Unpin {
    /// `poll()`, in the span if there is one.
    fn poll_in<T>(&self, poll: impl FnOnce() -> T) -> T;
}

impl PollIn for () {
    #[inline(always)]
    fn poll_in<T>(&self, poll: impl FnOnce() -> T) -> T {
        poll()
    }
}

/// The span of an async attempt's body, entered around each poll of the body, so that what the
/// body logs is in it, and closed when the body is done. staunch's own events of the attempt
/// carry its `policy` and `attempt` as fields instead.
///
/// Only an attempt that a subscriber may want a span of has one: it runs on a path of its own
/// (`Call::attempt_async_traced`, boxed), so that the future of every other attempt carries no
/// span, nor a test of one. A span in the attempt's own future (an `Option<Box<Span>>`, `None`
/// here, tested at each poll and at its drop) cost +20 Ir a call on the smallest async call.
/// A span around the whole attempt measured +25 to +150 Ir a call however it was held (an
/// `async fn` around the attempt's future, `Instrumented`, a wrapper of our own, a choice
/// between two futures, the span in the attempt's future or in the call): each adds a move of
/// the attempt's future or drop glue on its way out.
#[cfg(feature = "tracing")]
pub(crate) struct BodySpan(tracing::Span);

#[cfg(feature = "tracing")]
impl BodySpan {
    /// The span of an attempt of `policy` after `retries` retries (disabled if no subscriber
    /// wants it after all: the mark says only that one may).
    pub(crate) fn open(policy: &str, retries: u32) -> Self {
        BodySpan(attempt_span(policy, retries))
    }
}

#[cfg(feature = "tracing")]
impl PollIn for BodySpan {
    fn poll_in<T>(&self, poll: impl FnOnce() -> T) -> T {
        let _entered = self.0.enter();
        poll()
    }
}

#[cfg(feature = "tracing")]
std::thread_local! {
    /// The spans of the sync attempts running on this thread, innermost last (an attempt's
    /// body may call another policy).
    static SYNC_SPANS: std::cell::RefCell<Vec<tracing::span::EnteredSpan>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Enters the span of a sync attempt of `policy` if `DEBUG` is enabled, and says whether it
/// did; [`sync_leave`] leaves it. The span is kept on a thread-local stack rather than in the
/// attempt's frame, so that an attempt without one carries one `bool`.
#[inline(always)]
pub(crate) fn sync_enter(policy: &str, retries: u32) -> bool {
    debug_enabled() && sync_push(policy, retries)
}

#[cfg(feature = "tracing")]
#[cold]
#[inline(never)]
fn sync_push(policy: &str, retries: u32) -> bool {
    let span = attempt_span(policy, retries).entered();
    // `false` in a thread-local's destructor, where the stack is gone: no span then
    SYNC_SPANS
        .try_with(|spans| spans.borrow_mut().push(span))
        .is_ok()
}

#[cfg(not(feature = "tracing"))]
const fn sync_push(_: &str, _: u32) -> bool {
    false
}

/// Leaves (and closes) the innermost span entered by [`sync_enter`].
#[cfg(feature = "tracing")]
#[cold]
#[inline(never)]
pub(crate) fn sync_leave() {
    // the span is left and closed after the stack's borrow ends: a subscriber may call a
    // policy while it hears of it
    let span = SYNC_SPANS.try_with(|spans| spans.borrow_mut().pop());
    drop(span);
}

#[cfg(not(feature = "tracing"))]
pub(crate) const fn sync_leave() {}

/// `kind` as a `tracing` event of `policy`, in the current span.
#[cfg(feature = "tracing")]
#[cold]
pub(crate) fn event(policy: &str, kind: &EventKind) {
    use crate::breaker::CircuitState;
    use tracing::{event, Level};
    match kind {
        EventKind::Attempt {
            attempt,
            verdict,
            error,
            elapsed,
        } => event!(
            target: "staunch",
            Level::DEBUG,
            policy,
            attempt,
            verdict = %verdict,
            elapsed = ?elapsed,
            error = error.as_deref(),
            "attempt"
        ),
        EventKind::Retry { retry, wait, error } => event!(
            target: "staunch",
            Level::INFO,
            policy,
            retry,
            wait = ?wait,
            error = %error,
            "retry"
        ),
        EventKind::Rejected { part, retry_in } => event!(
            target: "staunch",
            Level::INFO,
            policy,
            part = %part,
            retry_in = ?retry_in,
            "rejected"
        ),
        EventKind::Fallback { reason, error } => event!(
            target: "staunch",
            Level::INFO,
            policy,
            reason = %reason,
            error = %error,
            "fallback"
        ),
        EventKind::StateChange { from, to } => {
            let (from, to) = (
                crate::events::state_name(*from),
                crate::events::state_name(*to),
            );
            if to == crate::events::state_name(CircuitState::Open) {
                event!(target: "staunch", Level::WARN, policy, from, to, "state_change");
            } else {
                event!(target: "staunch", Level::INFO, policy, from, to, "state_change");
            }
        }
        EventKind::HoldOff { hold } => event!(
            target: "staunch",
            Level::WARN,
            policy,
            hold = ?hold,
            "hold_off"
        ),
        EventKind::Backend {
            available: false,
            reason,
        } => event!(target: "staunch", Level::WARN, policy, reason = %reason, "backend"),
        EventKind::Backend { .. } => event!(
            target: "staunch",
            Level::INFO,
            policy,
            available = true,
            "backend"
        ),
    }
}

#[cfg(not(feature = "tracing"))]
pub(crate) fn event(_: &str, _: &EventKind) {}
