//! `tracing` (feature `tracing`): a span per call and an event per [`EventKind`], at the levels
//! an operator expects. Without the feature, nothing here costs anything.
//!
//! | event | level | fields |
//! |---|---|---|
//! | the call's span `staunch.call` | `DEBUG` | `policy`, `attempt` |
//! | an attempt's end | `DEBUG` | `policy`, `attempt`, `verdict`, `elapsed`, `error` |
//! | a retry | `INFO` | `policy`, `retry`, `wait`, `error` |
//! | a rejection | `INFO` | `policy`, `part`, `retry_in` |
//! | a fallback | `INFO` | `policy`, `reason`, `error` |
//! | the breaker opens | `WARN` | `policy`, `from`, `to` |
//! | the breaker turns half-open or closes | `INFO` | `policy`, `from`, `to` |
//! | a hold-off | `WARN` | `policy`, `hold` |
//!
//! Every event's target is `staunch`, its message the kind's name (`attempt`, `retry`,
//! `rejected`, `fallback`, `state_change`, `hold_off`). The happy path is silent at `INFO`.

use crate::events::{EventKind, Kinds};

#[cfg(feature = "tracing")]
use tracing::Span;

/// A call's span: there only if `DEBUG` was enabled when the call began.
#[cfg(feature = "tracing")]
pub(crate) type CallSpan = Option<Span>;

/// Without `tracing`, nothing (the call and its futures carry no span).
#[cfg(not(feature = "tracing"))]
pub(crate) type CallSpan = ();

/// A borrowed [`CallSpan`].
#[cfg(feature = "tracing")]
pub(crate) type SpanRef<'a> = Option<&'a Span>;

/// Without `tracing`, nothing.
#[cfg(not(feature = "tracing"))]
pub(crate) type SpanRef<'a> = std::marker::PhantomData<&'a ()>;

/// A copy of a call's span (for the attempt to enter while it lends the call).
#[cfg(feature = "tracing")]
#[inline(always)]
pub(crate) fn clone_span(span: &CallSpan) -> CallSpan {
    span.clone()
}

#[cfg(not(feature = "tracing"))]
#[inline(always)]
pub(crate) fn clone_span(_: &CallSpan) -> CallSpan {}

/// No span: the current one.
#[cfg(feature = "tracing")]
pub(crate) const NO_SPAN: SpanRef<'static> = None;

/// No span.
#[cfg(not(feature = "tracing"))]
pub(crate) const NO_SPAN: SpanRef<'static> = std::marker::PhantomData;

/// Borrows a call's span.
#[cfg(feature = "tracing")]
#[inline(always)]
pub(crate) fn span_ref(span: &CallSpan) -> SpanRef<'_> {
    span.as_ref()
}

#[cfg(not(feature = "tracing"))]
#[inline(always)]
pub(crate) fn span_ref(_: &CallSpan) -> SpanRef<'_> {
    std::marker::PhantomData
}

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

/// The span of one call of `policy`, if `DEBUG` is enabled.
#[cfg(feature = "tracing")]
#[inline(always)]
pub(crate) fn call_span(policy: &str) -> CallSpan {
    if tracing::level_enabled!(tracing::Level::DEBUG) {
        call_span_slow(policy)
    } else {
        None
    }
}

#[cfg(feature = "tracing")]
#[cold]
fn call_span_slow(policy: &str) -> Option<Span> {
    let span = tracing::debug_span!(
        target: "staunch",
        "staunch.call",
        policy = %policy,
        attempt = tracing::field::Empty
    );
    (!span.is_disabled()).then_some(span)
}

#[cfg(not(feature = "tracing"))]
#[inline(always)]
pub(crate) fn call_span(_: &str) -> CallSpan {}

/// The span's `attempt` field.
#[cfg(feature = "tracing")]
#[inline(always)]
pub(crate) fn record_attempt(span: SpanRef<'_>, attempt: u32) {
    if let Some(span) = span {
        span.record("attempt", attempt);
    }
}

#[cfg(not(feature = "tracing"))]
#[inline(always)]
pub(crate) fn record_attempt(_: SpanRef<'_>, _: u32) {}

/// The call's span entered, while the guard lives.
#[cfg(feature = "tracing")]
pub(crate) type Entered<'a> = Option<tracing::span::Entered<'a>>;

#[cfg(not(feature = "tracing"))]
pub(crate) type Entered<'a> = std::marker::PhantomData<&'a ()>;

/// Enters the call's span, if it has one.
#[cfg(feature = "tracing")]
#[inline(always)]
pub(crate) fn enter(span: SpanRef<'_>) -> Entered<'_> {
    span.map(Span::enter)
}

#[cfg(not(feature = "tracing"))]
#[inline(always)]
pub(crate) fn enter(_: SpanRef<'_>) -> Entered<'_> {
    std::marker::PhantomData
}

/// `kind` as a `tracing` event of `policy`, in `span` (the current one if `None`).
#[cfg(feature = "tracing")]
#[cold]
pub(crate) fn event(span: SpanRef<'_>, policy: &str, kind: &EventKind) {
    use crate::breaker::CircuitState;
    use tracing::{event, Level};
    let parent = span.map_or_else(Span::current, Clone::clone);
    let _entered = parent.enter();
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
    }
}

#[cfg(not(feature = "tracing"))]
pub(crate) fn event(_: SpanRef<'_>, _: &str, _: &EventKind) {}
