//! `tracing` (feature `tracing`): the events of a scripted scenario, captured by a test
//! subscriber, at the levels an operator expects, inside the attempt's span.
#![cfg(feature = "tracing")]

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use staunch_runtime::attempt::{Req, Step};
use staunch_runtime::{Breaker, Class, Error, MockClock, Policy, Retry};
use tracing::field::{Field, Visit};
use tracing::{Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{filter::LevelFilter, Layer, Registry};

/// One captured event: its level, its message, its fields, and the span it is in.
#[derive(Clone, Debug, PartialEq)]
struct Seen {
    level: Level,
    message: String,
    fields: BTreeMap<String, String>,
    span: Option<String>,
}

#[derive(Default)]
struct Fields(BTreeMap<String, String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

/// A span's name and fields.
type SpanSeen = (String, BTreeMap<String, String>);

/// Captures staunch's events and the fields of its spans.
#[derive(Clone, Default)]
struct Capture {
    events: Arc<Mutex<Vec<Seen>>>,
    spans: Arc<Mutex<Vec<SpanSeen>>>,
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        if event.metadata().target() != "staunch" {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let message = fields.0.remove("message").unwrap_or_default();
        self.events.lock().unwrap().push(Seen {
            level: *event.metadata().level(),
            message,
            fields: fields.0,
            span: ctx.event_span(event).map(|s| s.name().to_owned()),
        });
    }

    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _: &tracing::span::Id,
        _: Context<'_, S>,
    ) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        self.spans
            .lock()
            .unwrap()
            .push((attrs.metadata().name().to_owned(), fields.0));
    }

    fn on_record(
        &self,
        _: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        _: Context<'_, S>,
    ) {
        let mut fields = Fields::default();
        values.record(&mut fields);
        if let Some(last) = self.spans.lock().unwrap().last_mut() {
            last.1.extend(fields.0);
        }
    }
}

fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn down() -> Error {
    Error::Timeout {
        policy: "upstream".into(),
        after: Duration::from_secs(1),
    }
}

/// Runs `f` with the capture installed at `level`.
fn captured(level: LevelFilter, f: impl FnOnce()) -> Capture {
    let capture = Capture::default();
    let subscriber = Registry::default().with(capture.clone().with_filter(level));
    tracing::subscriber::with_default(subscriber, f);
    capture
}

#[test]
fn at_info_the_happy_path_is_silent_and_trouble_is_told() {
    let clock = MockClock::new();
    let _g = clock.install();
    let capture = captured(LevelFilter::INFO, || {
        let p = Policy::builder("tr-info")
            .retry(
                Retry::new()
                    .max(1)
                    .delay(Duration::from_millis(100))
                    .jitter(0.0),
            )
            .breaker(
                Breaker::new()
                    .threshold(2)
                    .cooldown(Duration::from_secs(30)),
            )
            .build()
            .unwrap();
        for _ in 0..10 {
            assert_eq!(p.call(|| Ok::<_, Error>(1)), Ok(1));
        }
        assert_eq!(p.call(|| Err::<u32, _>(down())), Err(down()));
        assert!(matches!(
            p.call(|| Ok::<_, Error>(1)),
            Err(Error::CircuitOpen { .. })
        ));
    });
    let events = capture.events.lock().unwrap().clone();
    assert_eq!(
        events,
        [
            Seen {
                level: Level::INFO,
                message: "retry".into(),
                fields: fields(&[
                    ("policy", "tr-info"),
                    ("retry", "1"),
                    ("wait", "100ms"),
                    ("error", "an error of type `staunch_runtime::error::Error`"),
                ]),
                span: None,
            },
            Seen {
                level: Level::WARN,
                message: "state_change".into(),
                fields: fields(&[("policy", "tr-info"), ("from", "closed"), ("to", "open")]),
                span: None,
            },
            Seen {
                level: Level::INFO,
                message: "rejected".into(),
                fields: fields(&[
                    ("policy", "tr-info"),
                    ("part", "breaker"),
                    ("retry_in", "30s")
                ]),
                span: None,
            },
        ]
    );
    assert!(
        capture.spans.lock().unwrap().is_empty(),
        "no span below DEBUG"
    );
}

#[test]
fn at_debug_every_attempt_is_told_in_its_own_span() {
    let clock = MockClock::new();
    let _g = clock.install();
    let capture = captured(LevelFilter::DEBUG, || {
        let p = Policy::builder("tr-debug")
            .retry(
                Retry::new()
                    .max(1)
                    .delay(Duration::from_millis(100))
                    .jitter(0.0),
            )
            .build()
            .unwrap();
        let mut n = 0;
        let r = p.call(|| {
            n += 1;
            if n == 1 {
                Err(down())
            } else {
                Ok(n)
            }
        });
        assert_eq!(r, Ok(2));
    });
    let events = capture.events.lock().unwrap().clone();
    let summary: Vec<(Level, &str, Option<&str>, Option<&str>)> = events
        .iter()
        .map(|e| {
            (
                e.level,
                e.message.as_str(),
                e.fields.get("verdict").map(String::as_str),
                e.span.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                Level::DEBUG,
                "attempt",
                Some("failure"),
                Some("staunch.attempt")
            ),
            (Level::INFO, "retry", None, Some("staunch.attempt")),
            (
                Level::DEBUG,
                "attempt",
                Some("success"),
                Some("staunch.attempt")
            ),
        ]
    );
    assert_eq!(events[0].fields["attempt"], "1");
    assert_eq!(events[2].fields["attempt"], "2");
    assert_eq!(events[2].fields["elapsed"], "0ns");
    // one span per attempt
    let spans = capture.spans.lock().unwrap().clone();
    assert_eq!(
        spans,
        [
            (
                "staunch.attempt".to_owned(),
                fields(&[("policy", "tr-debug"), ("attempt", "1")])
            ),
            (
                "staunch.attempt".to_owned(),
                fields(&[("policy", "tr-debug"), ("attempt", "2")])
            )
        ]
    );
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn an_async_call_s_body_runs_in_its_attempt_s_span() {
    let capture = Capture::default();
    let subscriber = Registry::default().with(capture.clone().with_filter(LevelFilter::DEBUG));
    let _default = tracing::subscriber::set_default(subscriber);
    let p = Policy::builder("tr-async").build().unwrap();
    let r = p
        .call_async(|| async {
            tokio::time::sleep(Duration::from_millis(5)).await;
            // the body's own events are in the attempt's span
            tracing::info!(target: "staunch", "inside");
            Ok::<_, Error>(7)
        })
        .await;
    assert_eq!(r, Ok(7));
    let events = capture.events.lock().unwrap().clone();
    let inside = events.iter().find(|e| e.message == "inside").unwrap();
    assert_eq!(inside.span.as_deref(), Some("staunch.attempt"));
    let attempt = events.iter().find(|e| e.message == "attempt").unwrap();
    assert_eq!(attempt.fields["elapsed"], "5ms");
    assert_eq!(attempt.fields["verdict"], "success");
}

/// The attribute's own loop (`Call::attempt_async`) takes the traced attempt's path from its
/// entry too (the builder's `call_async` is tested above).
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn an_async_attempt_of_the_attribute_s_loop_runs_its_body_in_its_span() {
    let capture = Capture::default();
    let subscriber = Registry::default().with(capture.clone().with_filter(LevelFilter::DEBUG));
    let _default = tracing::subscriber::set_default(subscriber);
    let p = Policy::builder("tr-async-each").build().unwrap();
    let mut call = p.begin::<Result<u8, Error>>(|_| Class::DEFAULT);
    let step = call
        .attempt_async(Req::new(), async {
            tokio::time::sleep(Duration::from_millis(3)).await;
            tracing::info!(target: "staunch", "inside");
            Ok(5)
        })
        .await;
    assert_eq!(step, Step::Done(Ok(5)));
    tracing::info!(target: "staunch", "after");
    let events = capture.events.lock().unwrap().clone();
    let inside = events.iter().find(|e| e.message == "inside").unwrap();
    assert_eq!(inside.span.as_deref(), Some("staunch.attempt"));
    let after = events.iter().find(|e| e.message == "after").unwrap();
    assert_eq!(after.span, None);
    let attempt = events.iter().find(|e| e.message == "attempt").unwrap();
    assert_eq!(attempt.fields["elapsed"], "3ms");
    let spans: Vec<(String, String)> = capture
        .spans
        .lock()
        .unwrap()
        .iter()
        .map(|(_, f)| (f["policy"].clone(), f["attempt"].clone()))
        .collect();
    assert_eq!(spans, [("tr-async-each".to_owned(), "1".to_owned())]);
}

#[test]
fn a_panicking_sync_body_leaves_its_span_and_nested_calls_nest() {
    let capture = captured(LevelFilter::DEBUG, || {
        let outer = Policy::builder("tr-outer").build().unwrap();
        let inner = Policy::builder("tr-inner").build().unwrap();
        let r = outer.call(|| {
            let r = inner.call(|| {
                tracing::info!(target: "staunch", "in-inner");
                Ok::<_, Error>(1)
            });
            tracing::info!(target: "staunch", "in-outer");
            r
        });
        assert_eq!(r, Ok(1));
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            outer.call(|| -> Result<u8, Error> { panic!("boom") })
        }));
        assert!(panicked.is_err());
        // the panic's attempt left its span: what follows is in none
        tracing::info!(target: "staunch", "after");
        // and a call after it has a span of its own again
        let r = outer.call(|| {
            tracing::info!(target: "staunch", "again");
            Ok::<_, Error>(2)
        });
        assert_eq!(r, Ok(2));
    });
    let events = capture.events.lock().unwrap().clone();
    let span_of = |message: &str| {
        events
            .iter()
            .find(|e| e.message == message)
            .unwrap_or_else(|| panic!("no event {message}"))
            .span
            .clone()
    };
    assert_eq!(span_of("in-inner").as_deref(), Some("staunch.attempt"));
    assert_eq!(span_of("in-outer").as_deref(), Some("staunch.attempt"));
    assert_eq!(span_of("after"), None);
    assert_eq!(span_of("again").as_deref(), Some("staunch.attempt"));
    let panic_event = events
        .iter()
        .find(|e| e.fields.get("verdict").map(String::as_str) == Some("failure"))
        .expect("the panic's attempt is told");
    assert_eq!(panic_event.span.as_deref(), Some("staunch.attempt"));
    // a span per attempt, in the order they began: outer, inner, the panic's, the last
    let spans: Vec<String> = capture
        .spans
        .lock()
        .unwrap()
        .iter()
        .map(|(_, f)| f["policy"].clone())
        .collect();
    assert_eq!(spans, ["tr-outer", "tr-inner", "tr-outer", "tr-outer"]);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn an_async_attempt_s_span_ends_with_it_and_its_events_name_it() {
    let capture = Capture::default();
    let subscriber = Registry::default().with(capture.clone().with_filter(LevelFilter::DEBUG));
    let _default = tracing::subscriber::set_default(subscriber);
    let p = Policy::builder("tr-async-2")
        .retry(
            Retry::new()
                .max(1)
                .delay(Duration::from_millis(10))
                .jitter(0.0),
        )
        .build()
        .unwrap();
    let mut n = 0;
    let r = p
        .call_async(|| {
            n += 1;
            let n = n;
            async move {
                tracing::info!(target: "staunch", n, "body");
                if n == 1 {
                    Err(down())
                } else {
                    Ok(n)
                }
            }
        })
        .await;
    assert_eq!(r, Ok(2));
    tracing::info!(target: "staunch", "after");
    let events = capture.events.lock().unwrap().clone();
    let bodies: Vec<_> = events.iter().filter(|e| e.message == "body").collect();
    assert_eq!(bodies.len(), 2);
    assert!(bodies
        .iter()
        .all(|e| e.span.as_deref() == Some("staunch.attempt")));
    let after = events.iter().find(|e| e.message == "after").unwrap();
    assert_eq!(after.span, None);
    let attempts: Vec<(&str, &str, &str)> = events
        .iter()
        .filter(|e| e.message == "attempt")
        .map(|e| {
            (
                e.fields["policy"].as_str(),
                e.fields["attempt"].as_str(),
                e.fields["verdict"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        attempts,
        [
            ("tr-async-2", "1", "failure"),
            ("tr-async-2", "2", "success")
        ]
    );
    let spans: Vec<String> = capture
        .spans
        .lock()
        .unwrap()
        .iter()
        .map(|(_, f)| f["attempt"].clone())
        .collect();
    assert_eq!(spans, ["1", "2"]);
}

/// Regression: an attempt that chaos ends in place of its body left its span entered on the
/// thread, so everything logged after it looked like part of it.
#[cfg(feature = "chaos")]
#[test]
fn an_attempt_ended_by_chaos_leaves_its_span() {
    use staunch_runtime::Chaos;
    let capture = captured(LevelFilter::DEBUG, || {
        for (name, chaos) in [
            ("tr-chaos-error", Chaos::new().error(1.0)),
            ("tr-chaos-reject", Chaos::new().reject(1.0)),
        ] {
            let p = Policy::builder(name).chaos(chaos).build().unwrap();
            let r = p.call(|| Ok::<_, Error>(1));
            assert!(r.is_err(), "{name}: chaos answers");
            tracing::info!(target: "staunch", name, "after");
        }
    });
    let events = capture.events.lock().unwrap().clone();
    let after: Vec<_> = events.iter().filter(|e| e.message == "after").collect();
    assert_eq!(after.len(), 2);
    assert!(after.iter().all(|e| e.span.is_none()), "{after:?}");
}
