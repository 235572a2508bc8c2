//! One breaker for a fleet, through a real Redis: a replica that opens it opens it for all
//! (seen by the others' very next call, one round trip), the cooldown is the same everywhere,
//! and half-open trials are counted across the fleet.
#![cfg(feature = "redis")]

mod redis_server;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use redis_server::{replica_result, spawn_replica, Server, ROLE};
use staunch_runtime::redis::Redis;
use staunch_runtime::{Breaker, Error, Policy};

const COOLDOWN: Duration = Duration::from_secs(60);

fn breaker_policy(name: &str, redis: Redis) -> Policy {
    Policy::builder(name)
        .breaker(Breaker::new().threshold(3).cooldown(COOLDOWN))
        .redis(redis.fail_closed().timeout(Duration::from_secs(2)))
        .build()
        .unwrap()
}

#[test]
fn a_breaker_opened_by_one_replica_is_open_for_all() {
    if std::env::var(ROLE).is_ok() {
        return;
    }
    let server = Server::start();
    let url = [("STAUNCH_REDIS_URL", server.url())];
    // one replica fails three times in a row: it opens the breaker
    let opener = replica_result(spawn_replica("breaker_replica", "open", &url));
    assert_eq!(opener, "3 failures, then circuit open");
    // three other processes: their first call is turned away, the body never runs, and the
    // cooldown they are told is the opener's, on the server's clock
    let others: Vec<_> = (0..3)
        .map(|_| spawn_replica("breaker_replica", "see", &url))
        .collect();
    for r in others {
        assert_eq!(
            replica_result(r),
            "circuit open, body not run, cooldown shared"
        );
    }
}

/// A replica: `open` fails until its breaker opens; `see` makes one call.
#[test]
fn breaker_replica() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let policy = breaker_policy("fleet-breaker", Redis::new());
    let runs = AtomicU32::new(0);
    let call = || async {
        policy
            .call_async(|| async {
                runs.fetch_add(1, Ordering::Relaxed);
                Err::<(), _>(Error::Injected {
                    policy: "upstream".into(),
                })
            })
            .await
    };
    let result = rt.block_on(async {
        match role.as_str() {
            "open" => {
                for _ in 0..3 {
                    assert!(matches!(call().await, Err(Error::Injected { .. })));
                }
                assert!(matches!(call().await, Err(Error::CircuitOpen { .. })));
                assert_eq!(runs.load(Ordering::Relaxed), 3);
                "3 failures, then circuit open".to_owned()
            }
            "see" => match call().await {
                Err(Error::CircuitOpen { retry_in, .. }) => {
                    assert_eq!(runs.load(Ordering::Relaxed), 0);
                    assert!(
                        retry_in > Duration::ZERO && retry_in <= COOLDOWN,
                        "{retry_in:?}"
                    );
                    "circuit open, body not run, cooldown shared".to_owned()
                }
                other => format!("{other:?}"),
            },
            other => panic!("unknown role {other}"),
        }
    });
    println!("result={result}");
}

/// Two policies of different names whose keys are the same (`t:` + `half` = `t:h` + `alf`):
/// two replicas in one process, each with its own in-memory state and connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_trials_are_counted_across_the_fleet() {
    if std::env::var(ROLE).is_ok() {
        return;
    }
    let server = Server::start();
    let redis = Redis::new().url(&server.url());
    let one = Policy::builder("half")
        .breaker(Breaker::new().threshold(1).cooldown(COOLDOWN).half_open(1))
        .redis(
            redis
                .clone()
                .prefix("t:")
                .fail_closed()
                .timeout(Duration::from_secs(2)),
        )
        .build()
        .unwrap();
    let two = Policy::builder("alf")
        .breaker(Breaker::new().threshold(1).cooldown(COOLDOWN).half_open(1))
        .redis(
            redis
                .prefix("t:h")
                .fail_closed()
                .timeout(Duration::from_secs(2)),
        )
        .build()
        .unwrap();
    let down = || async {
        Err::<(), _>(Error::Injected {
            policy: "up".into(),
        })
    };
    assert!(matches!(
        one.call_async(down).await,
        Err(Error::Injected { .. })
    ));
    // opened by one, open for two
    let r: Result<(), Error> = two.call_async(|| async { unreachable!() }).await;
    assert!(matches!(r, Err(Error::CircuitOpen { retry_in, .. }) if retry_in > Duration::ZERO));
    // the cooldown ends (on the server: its end moved to the past, no waiting here)
    assert_eq!(
        server
            .command(&["HSET", "t:half:breaker", "until", "0"])
            .as_deref(),
        Some(":0")
    );
    // one's trial is in flight...
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let (finish_tx, finish_rx) = tokio::sync::oneshot::channel::<()>();
    let trial = tokio::spawn({
        let one = one.clone();
        async move {
            let mut started = Some(started_tx);
            let mut finish = Some(finish_rx);
            one.call_async(|| {
                let (s, f) = (started.take().unwrap(), finish.take().unwrap());
                async move {
                    s.send(()).unwrap();
                    f.await.unwrap();
                    Ok::<_, Error>(())
                }
            })
            .await
        }
    });
    started_rx.await.unwrap();
    // ...so two finds the fleet's only trial slot taken: half-open, turned away
    let r: Result<(), Error> = two.call_async(|| async { unreachable!() }).await;
    assert_eq!(
        r,
        Err(Error::CircuitOpen {
            policy: "alf".into(),
            retry_in: Duration::ZERO
        })
    );
    // the trial succeeds: closed for the fleet
    finish_tx.send(()).unwrap();
    assert_eq!(trial.await.unwrap(), Ok(()));
    let r: Result<u8, Error> = two.call_async(|| async { Ok(7) }).await;
    assert_eq!(r, Ok(7));
}

/// A trial whose future is dropped gives its fleet-wide slot back (no verdict); a trial that
/// panics re-opens the breaker for the fleet. Both told to Redis from a task of their own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_trial_gives_its_slot_back_and_a_panicking_one_reopens() {
    if std::env::var(ROLE).is_ok() {
        return;
    }
    let server = Server::start();
    let redis = Redis::new()
        .url(&server.url())
        .fail_closed()
        .timeout(Duration::from_secs(2));
    let make = |name: &str, prefix: &str| {
        Policy::builder(name)
            .breaker(Breaker::new().threshold(1).cooldown(COOLDOWN))
            .redis(redis.clone().prefix(prefix))
            .build()
            .unwrap()
    };
    let (one, two) = (make("drop", "d:"), make("rop", "d:d"));
    let down = || async {
        Err::<(), _>(Error::Injected {
            policy: "up".into(),
        })
    };
    assert!(one.call_async(down).await.is_err());
    let half_open = || server.command(&["HSET", "d:drop:breaker", "until", "0"]);
    half_open();

    // a trial in flight, then dropped
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let trial = tokio::spawn({
        let one = one.clone();
        async move {
            let mut started = Some(started_tx);
            one.call_async(|| {
                let s = started.take().unwrap();
                async move {
                    s.send(()).unwrap();
                    std::future::pending::<Result<(), Error>>().await
                }
            })
            .await
        }
    });
    started_rx.await.unwrap();
    trial.abort();
    assert!(trial.await.unwrap_err().is_cancelled());
    // its slot comes back: two's call becomes the trial (polled: the release is a task's)
    let trial_of_two = async {
        loop {
            let r: Result<u8, Error> = two.call_async(|| async { Ok(2) }).await;
            match r {
                Ok(2) => break,
                Err(Error::CircuitOpen { retry_in, .. }) if retry_in.is_zero() => {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                other => panic!("{other:?}"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), trial_of_two)
        .await
        .expect("the dropped trial's slot came back");

    // open again, half-open again: a trial that panics re-opens it for the fleet
    assert!(one.call_async(down).await.is_err());
    half_open();
    let panicked = tokio::spawn({
        let one = one.clone();
        async move {
            one.call_async(|| async { panic!("the body panics") as Result<(), Error> })
                .await
        }
    })
    .await;
    assert!(panicked.unwrap_err().is_panic());
    let reopened = async {
        loop {
            let r: Result<u8, Error> = two.call_async(|| async { Ok(2) }).await;
            match r {
                Err(Error::CircuitOpen { retry_in, .. }) if !retry_in.is_zero() => break,
                Err(Error::CircuitOpen { .. }) => {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                other => panic!("{other:?}"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), reopened)
        .await
        .expect("the panicking trial re-opened the breaker");
}

/// Regression: the admission script tested its rate and token arguments against the text
/// `'0'`, but redis-rs writes `0.0` for a policy without them: a breaker-only policy wrote a
/// request and a token bucket on every admission, and a call that costs nothing went through
/// the token bucket (in memory, it skips it).
#[test]
fn only_the_parts_a_policy_has_are_written() {
    if std::env::var(ROLE).is_ok() {
        return;
    }
    let server = Server::start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let breaker_only = breaker_policy("parts-breaker", Redis::new().url(&server.url()));
    let tokens = Policy::builder("parts-tokens")
        .tpm(600.0)
        .redis(Redis::new().url(&server.url()).fail_closed())
        .build()
        .unwrap();
    rt.block_on(async {
        assert_eq!(
            breaker_only
                .call_async(|| async { Ok::<_, Error>(1) })
                .await,
            Ok(1)
        );
        // a call that costs nothing: the token bucket is not touched
        let mut call = tokens.begin::<Result<u32, Error>>(|_| staunch_runtime::Class::DEFAULT);
        let step = call
            .attempt_async(staunch_runtime::attempt::Req::new().cost(0), async {
                Ok(2)
            })
            .await;
        assert_eq!(step, staunch_runtime::attempt::Step::Done(Ok(2)));
    });
    for key in [
        "staunch:parts-breaker:rate",
        "staunch:parts-breaker:tokens",
        "staunch:parts-tokens:tokens",
    ] {
        assert_eq!(
            server.command(&["EXISTS", key]).as_deref(),
            Some(":0"),
            "{key}"
        );
    }
}
