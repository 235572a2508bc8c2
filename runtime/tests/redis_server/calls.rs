//! Policies and calls that the tests of a policy in Redis make again and again.

use std::time::Duration;

use staunch_runtime::redis::Redis;
use staunch_runtime::{Breaker, Error, Policy, Retry};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::Server;

/// How long a poll of Redis may take to see what a task sends (a hang detector, not a timing
/// assertion: each poll ends as soon as Redis shows it).
pub const HANG: Duration = Duration::from_secs(20);

/// An upstream's failure.
pub fn down() -> Result<u8, Error> {
    Err(Error::Injected {
        policy: "upstream".into(),
    })
}

/// Polls `command` until its answer is `want` (bounded by [`HANG`]).
pub async fn until(server: &Server, command: &[&str], want: &str) {
    let seen = async {
        loop {
            if server.command(command).as_deref() == Some(want) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(HANG, seen).await.unwrap_or_else(|_| {
        panic!(
            "{command:?} never answered {want:?} (last: {:?})",
            server.command(command)
        )
    });
}

/// `server`'s Redis, failing closed, a round trip bounded by 5 s.
pub fn closed(server: &Server) -> Redis {
    Redis::new()
        .url(&server.url())
        .fail_closed()
        .timeout(Duration::from_secs(5))
}

/// A policy in `server`'s Redis, failing closed, whose breaker opens at the first failure and
/// whose retries wait an hour: a failing call is left in its backoff.
pub fn backing_off(name: &str, server: &Server) -> Policy {
    let hour = Duration::from_secs(3600);
    Policy::builder(name)
        .retry(Retry::new().max(3).delay(hour).jitter(0.0))
        .breaker(Breaker::new().threshold(1).cooldown(hour))
        .redis(closed(server))
        .build()
        .unwrap()
}

/// A call of `p` whose every attempt fails; returned once the first attempt's body has run.
pub async fn failing(p: &Policy) -> JoinHandle<Result<u8, Error>> {
    let (failed_tx, failed_rx) = oneshot::channel();
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
    call
}

/// A call of `p` that holds its bulkhead slot: returned once its body runs, with what releases
/// it (it then answers `Ok(1)`).
pub async fn holding(p: &Policy) -> (JoinHandle<Result<u8, Error>>, oneshot::Sender<()>) {
    let (release_tx, release_rx) = oneshot::channel::<()>();
    let (entered_tx, entered_rx) = oneshot::channel();
    let holder = tokio::spawn({
        let p = p.clone();
        async move {
            let mut gate = Some((entered_tx, release_rx));
            p.call_async(|| {
                let (entered, release) = gate.take().unwrap();
                async move {
                    entered.send(()).unwrap();
                    release.await.unwrap();
                    Ok::<u8, Error>(1)
                }
            })
            .await
        }
    });
    entered_rx.await.unwrap();
    (holder, release_tx)
}
