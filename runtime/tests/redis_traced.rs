//! An attempt admitted through Redis and traced, against a real server: alone in its own test
//! binary, because a scoped `tracing` subscriber is judged, while it is the only one, against
//! whatever thread registers a callsite or rebuilds interest (`tracing-core`'s fast path for a
//! single dispatcher): tests running beside it on other threads could hide its spans.
#![cfg(all(feature = "redis", feature = "tracing"))]

mod redis_server;

use std::sync::Arc;

use redis_server::calls::{backing_off, failing, until};
use redis_server::Server;

/// An attempt Redis admitted, with a `tracing` subscriber that wants its span: the traced
/// attempt (a path of its own) settles the failure before its backoff too, its body in its
/// span.
#[tokio::test]
async fn a_traced_attempt_settles_before_its_backoff_too() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tracing_subscriber::layer::{Context, SubscriberExt};
    use tracing_subscriber::{filter::LevelFilter, Layer, Registry};

    /// Counts the spans entered while the body runs.
    struct Entered(Arc<AtomicUsize>);
    impl<S: tracing::Subscriber> Layer<S> for Entered {
        fn on_enter(&self, _: &tracing::span::Id, _: Context<'_, S>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let entered = Arc::new(AtomicUsize::new(0));
    let _subscriber = tracing::subscriber::set_default(
        Registry::default()
            .with(LevelFilter::DEBUG)
            .with(Entered(entered.clone())),
    );
    let server = Server::start();
    let p = backing_off("settle-traced", &server);
    let call = failing(&p).await;
    until(
        &server,
        &["HGET", "staunch:settle-traced:breaker", "s"],
        "1",
    )
    .await;
    assert!(!call.is_finished(), "the call waits out its backoff");
    assert!(
        entered.load(Ordering::SeqCst) > 0,
        "the body ran in the attempt's span"
    );
    call.abort();
}
