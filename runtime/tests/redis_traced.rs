//! An attempt admitted through Redis and traced, against a real server: alone in its own test
//! binary, because a scoped `tracing` subscriber is judged, while it is the only one, against
//! whatever thread registers a callsite or rebuilds interest (`tracing-core`'s fast path for a
//! single dispatcher): tests running beside it on other threads could hide its spans.
#![cfg(all(feature = "redis", feature = "tracing"))]

mod redis_server;

use std::sync::Arc;
use std::time::Duration;

use redis_server::Server;
use staunch_runtime::redis::Redis;
use staunch_runtime::{Breaker, Error, Policy, Retry};

/// How long a poll of Redis may take to see what a task sends (a hang detector).
const HANG: Duration = Duration::from_secs(20);

fn down() -> Result<u8, Error> {
    Err(Error::Injected {
        policy: "upstream".into(),
    })
}

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
    let p = Policy::builder("settle-traced")
        .retry(
            Retry::new()
                .max(3)
                .delay(Duration::from_secs(3600))
                .jitter(0.0),
        )
        .breaker(
            Breaker::new()
                .threshold(1)
                .cooldown(Duration::from_secs(3600)),
        )
        .redis(
            Redis::new()
                .url(&server.url())
                .fail_closed()
                .timeout(Duration::from_secs(5)),
        )
        .build()
        .unwrap();
    let (failed_tx, failed_rx) = tokio::sync::oneshot::channel();
    let call = tokio::spawn({
        let p = p.clone();
        async move {
            let mut failed = Some(failed_tx);
            p.call_async(|| {
                let failed = failed.take();
                async move {
                    if let Some(tx) = failed {
                        tx.send(()).unwrap();
                    }
                    down()
                }
            })
            .await
        }
    });
    failed_rx.await.unwrap();
    let seen = async {
        while server
            .command(&["HGET", "staunch:settle-traced:breaker", "s"])
            .as_deref()
            != Some("1")
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(HANG, seen)
        .await
        .expect("the failure reached Redis during the backoff");
    assert!(!call.is_finished(), "the call waits out its backoff");
    assert!(
        entered.load(Ordering::SeqCst) > 0,
        "the body ran in the attempt's span"
    );
    call.abort();
}
