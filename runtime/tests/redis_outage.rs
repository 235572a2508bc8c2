//! Redis killed mid-run and restarted, or answering never: calls go on by each policy's fail
//! mode (open: the in-memory state decides; closed: `Error::BackendUnavailable`), nothing
//! panics, nothing hangs past its bound, and the shared state is used again once Redis is back.
//!
//! `tokio::time::timeout` here is a hang detector, far past every bound: never a threshold.
#![cfg(feature = "redis")]

mod redis_server;

use std::net::TcpListener;
use std::time::Duration;

use redis_server::Server;
use staunch_runtime::events::{self, EventKind, Filter, Kinds};
use staunch_runtime::redis::Redis;
use staunch_runtime::{Breaker, Error, Policy};

/// Far longer than any bound below: a call that takes this long hangs.
const HANG: Duration = Duration::from_secs(20);

async fn call(p: &Policy) -> Result<u8, Error> {
    tokio::time::timeout(HANG, p.call_async(|| async { Ok(1) }))
        .await
        .unwrap_or_else(|_| panic!("a call of `{}` hung", p.name()))
}

fn policy(name: &str, redis: Redis) -> Policy {
    Policy::builder(name)
        .rpm(6000.0)
        .breaker(Breaker::new().threshold(3))
        .redis(redis.timeout(Duration::from_millis(500)))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_and_restarted_each_mode_goes_on() {
    let mut server = Server::start();
    let port = server.port;
    let (_subscription, mut told) =
        events::channel(Filter::policy("outage-open").kinds(Kinds::BACKEND), 16);
    let open = policy("outage-open", Redis::new().url(&server.url()));
    let closed = policy(
        "outage-closed",
        Redis::new().url(&server.url()).fail_closed(),
    );
    assert_eq!(call(&open).await, Ok(1));
    assert_eq!(call(&closed).await, Ok(1));
    // both went through Redis: the closed one would have been refused, the open one would
    // have said the outage (a bucket's key is no proof: at 100 a second it expires in 11 ms)
    events::flush();
    assert!(told.try_recv().is_err(), "no outage before the kill");

    server.kill();
    for _ in 0..20 {
        // fail open: the in-memory limiter and breaker decide
        assert_eq!(call(&open).await, Ok(1));
        // fail closed: the clear error
        match call(&closed).await {
            Err(Error::BackendUnavailable { policy, reason }) => {
                assert_eq!(policy, "outage-closed");
                assert!(!reason.is_empty());
                // a refused connection fails at once: no call waits out its bound for it (the
                // client's own retries used to wait a second, so every attempt to reconnect
                // timed out: "cannot connect to Redis within 500ms")
                assert!(!waited_out(&reason), "{reason}");
            }
            other => panic!("expected BackendUnavailable, got {other:?}"),
        }
        // 20 × 20 ms: past the 200 ms between attempts to reconnect
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // the outage is reported once per policy, not per call
    let reported: Vec<_> = staunch_runtime::warnings()
        .into_iter()
        .filter(|w| w.contains("`outage-open`: its shared state is unavailable"))
        .collect();
    assert_eq!(reported.len(), 1, "{reported:?}");
    assert!(reported[0].contains("the in-memory state decides"));
    // and one event
    events::flush();
    match told.try_recv().map(|e| e.kind) {
        Ok(EventKind::Backend {
            available: false,
            reason,
        }) => assert!(!reason.is_empty()),
        other => panic!("expected a Backend event, got {other:?}"),
    }
    assert!(told.try_recv().is_err(), "one event per outage");

    let server = Server::start_on(port);
    // the connection comes back by itself (at most one attempt per 200 ms): poll until the
    // shared state answers again (bounded by the hang detector, not a timing assertion)
    let back = async {
        loop {
            if call(&closed).await == Ok(1) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // the open one says so when an admission goes through Redis again
        loop {
            assert_eq!(call(&open).await, Ok(1));
            events::flush();
            if let Ok(e) = told.try_recv() {
                assert!(
                    matches!(
                        e.kind,
                        EventKind::Backend {
                            available: true,
                            ..
                        }
                    ),
                    "{e:?}"
                );
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(HANG, back)
        .await
        .expect("the shared state is used again once Redis is back");
    // and the bucket is in Redis again (read within the bucket's life: a key that lives 11 ms
    // is polled for, made by a call each time)
    let bucket = async {
        loop {
            assert_eq!(call(&open).await, Ok(1));
            if server
                .command(&["EXISTS", "staunch:outage-open:rate"])
                .as_deref()
                == Some(":1")
            {
                break;
            }
        }
    };
    tokio::time::timeout(HANG, bucket)
        .await
        .expect("the open policy's bucket is in Redis again");

    // a second outage: an event again, but still one line in `warnings()` (a Redis that comes
    // and goes must not grow the list for as long as the process lives)
    drop(server);
    assert_eq!(call(&open).await, Ok(1));
    events::flush();
    assert!(matches!(
        told.try_recv().map(|e| e.kind),
        Ok(EventKind::Backend {
            available: false,
            ..
        })
    ));
    let reported = staunch_runtime::warnings()
        .into_iter()
        .filter(|w| w.contains("`outage-open`: its shared state is unavailable"))
        .count();
    assert_eq!(reported, 1);
}

/// The URL of a server that accepts connections (64 at most) and never answers: every round
/// trip to it runs into its bound.
fn mute() -> String {
    let mute = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://{}", mute.local_addr().unwrap());
    std::thread::spawn(move || {
        // accept and hold every connection, answering nothing
        let mut conns = Vec::new();
        for c in mute.incoming().take(64) {
            conns.push(c);
        }
    });
    url
}

/// A server that never answers: no call hangs on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_that_never_answers_never_hangs_a_call() {
    let url = mute();
    let open = policy("mute-open", Redis::new().url(&url));
    let closed = policy("mute-closed", Redis::new().url(&url).fail_closed());
    // a Redis timeout far past the hang detector: only the call's deadline can bound it
    let deadline = Policy::builder("mute-deadline")
        .rps(10.0)
        .deadline(Duration::from_millis(100))
        .redis(
            Redis::new()
                .url(&url)
                .fail_closed()
                .timeout(Duration::from_secs(60)),
        )
        .build()
        .unwrap();
    for _ in 0..3 {
        assert_eq!(call(&open).await, Ok(1));
        assert!(matches!(
            call(&closed).await,
            Err(Error::BackendUnavailable { .. })
        ));
        assert!(matches!(
            call(&deadline).await,
            Err(Error::BackendUnavailable { .. })
        ));
    }
}

/// Whether a call waited out its bound for Redis (to connect, or for an answer), by its reason.
/// (A call told at once says "Redis is down", with the last attempt's reason.)
fn waited_out(reason: &str) -> bool {
    !reason.starts_with("Redis is down")
        && (reason.contains("within") || reason.contains("timed out"))
}

/// While Redis is known to be down, only one call waits on an attempt to reconnect: the others
/// go to the fail mode at once (they used to queue behind it, each waiting out its bound).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_redis_is_down_one_call_waits_to_reconnect_not_all() {
    let url = mute();
    let closed = policy("mute-many", Redis::new().url(&url).fail_closed());
    // the first call times out connecting: Redis is down
    let first = call(&closed).await;
    assert!(
        matches!(&first, Err(Error::BackendUnavailable { reason, .. }) if waited_out(reason)),
        "{first:?}"
    );
    // within the 200 ms between attempts to reconnect: told at once, no attempt made
    match call(&closed).await {
        Err(Error::BackendUnavailable { reason, .. }) => {
            assert!(reason.contains("the next attempt to connect"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // past the 200 ms between attempts to reconnect: the next calls, at once, find one of them
    // reconnecting (and waiting its bound), the others told so at once
    tokio::time::sleep(Duration::from_millis(250)).await;
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(8));
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let (p, start, done) = (closed.clone(), start.clone(), done.clone());
            tokio::spawn(async move {
                start.wait().await;
                let out = call(&p).await;
                (out, done.fetch_add(1, std::sync::atomic::Ordering::SeqCst))
            })
        })
        .collect();
    // one call waited out its bound reconnecting, and it was the last to end: the seven others
    // ended before it (had they queued behind it, they would have ended after)
    let mut waited = Vec::new();
    for c in calls {
        match c.await.unwrap() {
            (Err(Error::BackendUnavailable { reason, .. }), order) => {
                if waited_out(&reason) {
                    waited.push(order);
                }
            }
            (other, _) => panic!("{other:?}"),
        }
    }
    assert_eq!(
        waited,
        [7],
        "which calls waited out their bound, by when they ended"
    );
}

/// No server anywhere (none registered, `STAUNCH_REDIS_URL` unset): reported once, never a
/// panic, and each mode decides.
#[tokio::test]
async fn no_server_configured_is_reported_once() {
    assert!(
        std::env::var("STAUNCH_REDIS_URL").is_err(),
        "run without STAUNCH_REDIS_URL"
    );
    let open = policy("nowhere-open", Redis::new());
    let closed = policy("nowhere-closed", Redis::new().fail_closed());
    for _ in 0..3 {
        assert_eq!(call(&open).await, Ok(1));
        assert!(matches!(
            call(&closed).await,
            Err(Error::BackendUnavailable { reason, .. }) if reason.contains("STAUNCH_REDIS_URL")
        ));
    }
    let reported = staunch_runtime::warnings()
        .into_iter()
        .filter(|w| w.contains("`nowhere-open`") && w.contains("no Redis server"))
        .count();
    assert_eq!(reported, 1);
}

/// A sync call of a policy that shares its state cannot wait for Redis: it uses the in-memory
/// state, and says so once.
#[test]
fn a_sync_call_uses_the_in_memory_state_and_says_so() {
    let p = Policy::builder("sync-redis")
        .rps(1.0)
        .redis(Redis::new().fail_closed())
        .build()
        .unwrap();
    let clock = staunch_runtime::MockClock::new();
    let _g = clock.install();
    assert_eq!(p.call(|| Ok::<_, Error>(1)), Ok(1));
    // the in-memory bucket (one token a second) decides: the next call waits for its token
    assert_eq!(p.call(|| Ok::<_, Error>(2)), Ok(2));
    assert!(clock.elapsed() >= Duration::from_millis(999));
    let said = staunch_runtime::warnings()
        .into_iter()
        .filter(|w| w.contains("`sync-redis`") && w.contains("sync calls use the in-memory state"))
        .count();
    assert_eq!(said, 1);
}

/// A field of `INFO <section>` (`name:value`), as a number.
fn info(conn: &mut redis::Connection, section: &str, field: &str) -> u64 {
    let text: String = redis::cmd("INFO").arg(section).query(conn).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no `{field}` in INFO {section}: {text}"))
        .trim()
        .parse()
        .unwrap()
}

/// Many first calls at once: one connects, the others wait for its connection (within their
/// bound) instead of failing, or connecting on their own.
///
/// The server counts every connection it ever accepted (`INFO stats`
/// `total_connections_received`): the count after the calls less the count before, read on
/// one connection of the test's own opened before, is what the policy opened, including any
/// connection a call opened and dropped again (which `connected_clients` would miss). A policy
/// whose calls each connected on their own would open 16.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_calls_share_one_connection() {
    const CALLS: usize = 16;
    let server = Server::start();
    let mut own = redis::Client::open(server.url())
        .unwrap()
        .get_connection()
        .expect("the test's own connection");
    let p = policy("first-calls", Redis::new().url(&server.url()).fail_closed());
    let before = info(&mut own, "stats", "total_connections_received");
    // every call is spawned and waits at the barrier before any asks: the first calls overlap
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(CALLS));
    let calls: Vec<_> = (0..CALLS)
        .map(|_| {
            let (p, start) = (p.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                call(&p).await
            })
        })
        .collect();
    for c in calls {
        assert_eq!(c.await.unwrap(), Ok(1));
    }
    // the calls went through Redis (fail closed: an outage would have been an error), and
    // left its bucket there
    let exists: u8 = redis::cmd("EXISTS")
        .arg("staunch:first-calls:rate")
        .query(&mut own)
        .unwrap();
    assert_eq!(exists, 1);
    let opened = info(&mut own, "stats", "total_connections_received") - before;
    assert_eq!(
        opened, 1,
        "the policy opened {opened} connections for {CALLS} first calls"
    );
    // and it is still open, the one the policy's scripts run on (`CLIENT LIST` names each
    // connection's last command, here a script's run or load: a success's settlement may still
    // be on its way; a connection closed before is not listed, or not as this)
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut own).unwrap();
    let scripts = list
        .lines()
        .filter(|l| {
            [" cmd=evalsha ", " cmd=eval ", " cmd=script|load "]
                .iter()
                .any(|c| l.contains(c))
        })
        .count();
    assert_eq!(scripts, 1, "{list}");
}
