//! Events of annotated functions: the error's text (its `Display`, else its `Debug`, else its
//! type's name), and a fallback reported only when there is one.

use std::sync::{Arc, Mutex};

use staunch::events::{self, EventKind, Filter, Kinds, Reason, Verdict};
use staunch::{resilient, Error};

/// An error with `Display`.
#[derive(Debug)]
struct Shown;

impl std::fmt::Display for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("shown by Display")
    }
}

impl From<Error> for Shown {
    fn from(_: Error) -> Self {
        Shown
    }
}

/// An error with only `Debug`.
#[derive(Debug)]
struct Debugged {
    #[allow(dead_code)] // read only by `Debug`
    code: u16,
}

impl From<Error> for Debugged {
    fn from(_: Error) -> Self {
        Debugged { code: 0 }
    }
}

/// An error with neither.
struct Bare;

impl From<Error> for Bare {
    fn from(_: Error) -> Self {
        Bare
    }
}

#[resilient(name = "attr-ev-shown")]
fn shown() -> Result<(), Shown> {
    Err(Shown)
}

#[resilient(name = "attr-ev-debugged")]
fn debugged() -> Result<(), Debugged> {
    Err(Debugged { code: 503 })
}

#[resilient(name = "attr-ev-bare")]
fn bare() -> Result<(), Bare> {
    Err(Bare)
}

fn spare() -> Result<u8, Shown> {
    Ok(7)
}

#[resilient(name = "attr-ev-fallback", fallback = spare)]
fn with_spare() -> Result<u8, Shown> {
    Err(Shown)
}

#[resilient(name = "attr-ev-nothing-to-fall-back-on", max_inflight = 1)]
fn without_spare() -> Result<u8, Shown> {
    Err(Shown)
}

fn texts(policy: &str, run: impl FnOnce()) -> Vec<EventKind> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let _s = events::subscribe(Filter::policy(policy), move |e| {
        sink.lock().unwrap().push(e.kind.clone());
    });
    run();
    events::flush();
    let seen = seen.lock().unwrap().clone();
    seen
}

fn failed(error: &str) -> EventKind {
    EventKind::Attempt {
        attempt: 1,
        verdict: Verdict::Failure,
        error: Some(error.to_owned()),
        elapsed: std::time::Duration::ZERO,
    }
}

/// The attempt's time is real here: keep only its text.
fn without_time(mut events: Vec<EventKind>) -> Vec<EventKind> {
    for e in &mut events {
        if let EventKind::Attempt { elapsed, .. } = e {
            *elapsed = std::time::Duration::ZERO;
        }
    }
    events
}

#[test]
fn an_error_is_written_by_its_display_else_its_debug_else_its_type() {
    let seen = without_time(texts("attr-ev-shown", || drop(shown())));
    assert_eq!(seen, [failed("shown by Display")]);
    let seen = without_time(texts("attr-ev-debugged", || drop(debugged())));
    assert_eq!(seen, [failed("Debugged { code: 503 }")]);
    let seen = without_time(texts("attr-ev-bare", || drop(bare())));
    assert_eq!(seen, [failed("an error of type `attr_events::Bare`")]);
}

#[test]
fn a_fallback_is_reported_only_when_there_is_one() {
    let seen = without_time(texts("attr-ev-fallback", || {
        assert_eq!(with_spare().ok(), Some(7));
    }));
    assert_eq!(
        seen,
        [
            failed("shown by Display"),
            EventKind::Fallback {
                reason: Reason::Failed,
                error: "shown by Display".into()
            }
        ]
    );
    let seen = texts("attr-ev-nothing-to-fall-back-on", || {
        assert!(without_spare().is_err());
    });
    assert!(seen.iter().all(|e| e.kind() != Kinds::FALLBACK), "{seen:?}");
}
