//! `tracing` (feature `tracing`): a subscriber set after a policy is made still gets the
//! policy's attempt spans. staunch does not check `tracing`'s level on every call: a callsite of
//! its own is told by `tracing` whether any subscriber may want its spans, each time that can
//! change, and marks every policy. Alone in its process, so that no other test's subscriber has
//! marked the policies first.
#![cfg(feature = "tracing")]

use std::sync::{Arc, Mutex};

use staunch_runtime::{Error, MockClock, Policy};
use tracing::{Level, Subscriber};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{Layer, Registry};

/// Counts the spans made.
#[derive(Clone, Default)]
struct Spans(Arc<Mutex<usize>>);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Spans {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _: &tracing::span::Id,
        _: Context<'_, S>,
    ) {
        assert_eq!(attrs.metadata().name(), "staunch.attempt");
        *self.0.lock().unwrap() += 1;
    }
}

/// How many spans `f` makes under a subscriber that lets `filter` through.
fn spans_under<F>(filter: F, f: impl FnOnce()) -> usize
where
    F: tracing_subscriber::layer::Filter<Registry> + Send + Sync + 'static,
{
    let spans = Spans::default();
    let subscriber = Registry::default().with(spans.clone().with_filter(filter));
    tracing::subscriber::with_default(subscriber, f);
    let n = *spans.0.lock().unwrap();
    n
}

#[test]
fn a_subscriber_set_after_the_policy_gets_its_spans() {
    let clock = MockClock::new();
    let _g = clock.install();
    let p = Policy::builder("tr-later").build().unwrap();
    let call = || assert_eq!(p.call(|| Ok::<_, Error>(1)), Ok(1));
    call();
    assert_eq!(spans_under(LevelFilter::DEBUG, call), 1);
    // gone again: a subscriber at INFO
    assert_eq!(spans_under(LevelFilter::INFO, call), 0);
    // by target
    let twice = || {
        call();
        call();
    };
    assert_eq!(
        spans_under(Targets::new().with_target("staunch", Level::DEBUG), twice),
        2
    );
    assert_eq!(
        spans_under(Targets::new().with_target("elsewhere", Level::TRACE), twice),
        0
    );
    assert_eq!(
        spans_under(Targets::new().with_target("staunch", Level::INFO), twice),
        0
    );
    // an async call's body, on a runtime of its own
    let p = Policy::builder("tr-later-async").build().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let call = || {
        let r = rt.block_on(p.call_async(|| async { Ok::<_, Error>(2) }));
        assert_eq!(r, Ok(2));
    };
    call();
    assert_eq!(spans_under(LevelFilter::DEBUG, call), 1);
    assert_eq!(spans_under(LevelFilter::INFO, call), 0);
}
