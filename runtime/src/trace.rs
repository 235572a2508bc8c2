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
//! `rejected`, `fallback`, `state_change`, `hold_off`). The happy path is silent at `INFO`.

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
    // no subscriber was ever set (global or scoped): one relaxed load
    tracing::dispatcher::has_been_set() && tracing::level_enabled!(tracing::Level::DEBUG)
}

#[cfg(not(feature = "tracing"))]
#[inline(always)]
pub(crate) const fn debug_enabled() -> bool {
    false
}

/// The span of one attempt of `policy`.
#[cfg(feature = "tracing")]
pub(crate) fn attempt_span(policy: &str, attempt: u32) -> tracing::Span {
    tracing::debug_span!(target: "staunch", "staunch.attempt", policy = %policy, attempt)
}

/// Without the feature, no span.
#[cfg(not(feature = "tracing"))]
pub(crate) fn attempt_span(_: &str, _: u32) {}

/// Enters a span while the guard lives.
#[cfg(feature = "tracing")]
pub(crate) fn enter(span: &tracing::Span) -> tracing::span::Entered<'_> {
    span.enter()
}

#[cfg(not(feature = "tracing"))]
pub(crate) fn enter(_: &()) {}

/// A future in a span.
#[cfg(feature = "tracing")]
pub(crate) fn instrument<F: std::future::Future>(
    f: F,
    span: tracing::Span,
) -> tracing::instrument::Instrumented<F> {
    tracing::Instrument::instrument(f, span)
}

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
    }
}

#[cfg(not(feature = "tracing"))]
pub(crate) fn event(_: &str, _: &EventKind) {}
