//! How an attempt admitted through Redis is settled there, against a real server: its outcome
//! reaches Redis before its backoff, whatever happens to the call after; a success ends other
//! replicas' failures in a row; an attempt turned away after admission gives back only what it
//! took. Regression tests for defects a review found.
#![cfg(feature = "redis")]

mod redis_server;

use std::sync::Arc;
use std::time::Duration;

use redis_server::calls::{backing_off, closed, down, failing, holding, until, HANG};
use redis_server::Server;
use staunch_runtime::redis::Redis;
use staunch_runtime::{Breaker, Error, Policy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A failure is settled in Redis before the retry's backoff: a replica sees the breaker open
/// while the failing call still waits to retry, and a call dropped during its backoff has lost
/// nothing (its failure was told before the wait; it used to be told after it, or lost with
/// the call).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_reaches_redis_before_the_backoff() {
    let server = Server::start();
    let p = backing_off("settle-backoff", &server);
    let call = failing(&p).await;
    // the call now waits an hour to retry: the failure is in Redis already
    until(
        &server,
        &["HGET", "staunch:settle-backoff:breaker", "s"],
        "1",
    )
    .await;
    assert!(!call.is_finished(), "the call waits out its backoff");
    call.abort();
    assert!(call.await.unwrap_err().is_cancelled());
    assert_eq!(
        server
            .command(&["HGET", "staunch:settle-backoff:breaker", "s"])
            .as_deref(),
        Some("1"),
        "the dropped call's failure stays counted"
    );
}

/// A success is told to Redis even when the breaker had no failures in a row at admission:
/// other replicas' failures that came meanwhile are ended by it, as in one process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_success_ends_failures_in_a_row_that_came_during_it() {
    let server = Arc::new(Server::start());
    let p = Policy::builder("settle-success")
        .breaker(
            Breaker::new()
                .threshold(3)
                .cooldown(Duration::from_secs(3600)),
        )
        .redis(closed(&server))
        .build()
        .unwrap();
    let key = "staunch:settle-success:breaker";
    let during = {
        let server = server.clone();
        move || {
            let server = server.clone();
            async move {
                // two failures of other replicas while this attempt runs
                server.command(&["HSET", key, "f", "2"]);
                Ok::<u8, Error>(1)
            }
        }
    };
    assert_eq!(p.call_async(during).await, Ok(1));
    // told without waiting (a success while closed): polled
    until(&server, &["HGET", key, "f"], "0").await;
    // with failures in a row at admission, a success is waited for: they are gone when the
    // call returns
    server.command(&["HSET", key, "f", "2"]);
    assert_eq!(p.call_async(|| async { Ok::<u8, Error>(3) }).await, Ok(3));
    assert_eq!(server.command(&["HGET", key, "f"]).as_deref(), Some("0"));
    // so one more failure does not open the breaker (three in a row would)
    assert_eq!(p.call_async(|| async { down() }).await, down());
    assert_eq!(p.call_async(|| async { Ok::<u8, Error>(2) }).await, Ok(2));
}

/// An attempt Redis admitted, then turned away by the bulkhead: its tokens go back to Redis's
/// bucket, and the in-memory limiter, which took nothing for it, is left as it was (it used to
/// be given a token it never lent).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turned_away_after_a_shared_admission_gives_back_only_what_it_took() {
    let server = Server::start();
    let p = Policy::builder("settle-refund")
        .rpm(1.0)
        .burst(2)
        .max_inflight(1)
        .redis(closed(&server))
        .build()
        .unwrap();
    // a sync call takes one of the in-memory bucket's two tokens (sync calls use it)
    assert_eq!(p.call(|| Ok::<u8, Error>(0)), Ok(0));
    let before = p.handle().signals().rate_remaining.unwrap();
    assert!(before < 1.5, "{before}");
    // one call holds the bulkhead (Redis's first token)
    let (holder, release_tx) = holding(&p).await;
    // Redis admits the next (its second token), the bulkhead turns it away
    let turned: Result<u8, Error> = p.call_async(|| async { Ok(2) }).await;
    assert!(
        matches!(turned, Err(Error::BulkheadFull { .. })),
        "{turned:?}"
    );
    let after = p.handle().signals().rate_remaining.unwrap();
    assert!(
        after < before + 0.5,
        "the in-memory limiter gained a token: {before} -> {after}"
    );
    // Redis got its token back: the next call is admitted once the holder is done
    release_tx.send(()).unwrap();
    assert_eq!(holder.await.unwrap(), Ok(1));
    let next = async {
        loop {
            match p.call_async(|| async { Ok::<u8, Error>(3) }).await {
                Ok(3) => return,
                Err(Error::RateLimited { .. }) => {
                    tokio::time::sleep(Duration::from_millis(5)).await
                }
                other => panic!("{other:?}"),
            }
        }
    };
    tokio::time::timeout(HANG, next)
        .await
        .expect("the turned-away call's Redis token came back");
}

/// A TCP proxy to a server that, once armed, holds what the client sends after the server's
/// next reply, until released.
struct Proxy {
    port: u16,
    state: Arc<watch::Sender<Hold>>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Hold {
    Pass,
    /// Hold after the next reply.
    Armed,
    /// Holding what the client sends next.
    Holding,
    /// Holding bytes.
    Held,
}

impl Proxy {
    async fn start(to: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(watch::channel(Hold::Pass).0);
        let s = state.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let server = TcpStream::connect(("127.0.0.1", to)).await.unwrap();
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let up = s.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0; 64 * 1024];
                    loop {
                        let n = match cr.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        if *up.borrow() == Hold::Holding {
                            up.send_replace(Hold::Held);
                            let mut rx = up.subscribe();
                            let _ = rx.wait_for(|h| *h == Hold::Pass).await;
                        }
                        if sw.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                });
                let down = s.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0; 64 * 1024];
                    loop {
                        let n = match sr.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        if cw.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                        down.send_if_modified(|h| {
                            let armed = *h == Hold::Armed;
                            if armed {
                                *h = Hold::Holding;
                            }
                            armed
                        });
                    }
                });
            }
        });
        Proxy { port, state }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn arm(&self) {
        self.state.send_replace(Hold::Armed);
    }

    /// Holds what the client sends next.
    fn hold_next(&self) {
        self.state.send_replace(Hold::Holding);
    }

    async fn held(&self) {
        let mut rx = self.state.subscribe();
        let _ = rx.wait_for(|h| *h == Hold::Held).await;
    }

    fn release(&self) {
        self.state.send_replace(Hold::Pass);
    }
}

/// A call dropped while its attempt is being settled in Redis loses nothing: a half-open
/// trial turned away by the bulkhead after its admission gives its trial slot and its token
/// back all the same (the two used to be sent one after the other by the call itself, and the
/// slot was lost with it: held until the half-open period was forfeited).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_dropped_while_it_settles_loses_nothing() {
    let server = Server::start();
    let proxy = Proxy::start(server.port).await;
    let p = Policy::builder("settle-drop")
        .breaker(
            Breaker::new()
                .threshold(1)
                .half_open(2)
                .cooldown(Duration::from_secs(3600)),
        )
        .rpm(6000.0)
        .max_inflight(1)
        .redis(
            Redis::new()
                .url(&proxy.url())
                .fail_closed()
                .timeout(Duration::from_secs(20)),
        )
        .build()
        .unwrap();
    let key = "staunch:settle-drop:breaker";
    // connected, then open with its cooldown over: the next two calls are trials
    assert_eq!(p.call_async(|| async { down() }).await, down());
    assert_eq!(server.command(&["HGET", key, "s"]).as_deref(), Some("1"));
    server.command(&["HSET", key, "until", "0"]);
    // the first trial holds the bulkhead
    let (holder, release_tx) = holding(&p).await;
    // the second is admitted, turned away by the bulkhead, and what it sends after its
    // admission's reply (its settlement) is held; the call is dropped meanwhile
    proxy.arm();
    let trial = tokio::spawn({
        let p = p.clone();
        async move { p.call_async(|| async { Ok::<u8, Error>(2) }).await }
    });
    tokio::time::timeout(HANG, proxy.held())
        .await
        .expect("the second trial sent its settlement");
    assert_eq!(server.command(&["HGET", key, "tr"]).as_deref(), Some("2"));
    trial.abort();
    let _ = trial.await;
    proxy.release();
    // its trial slot comes back all the same
    until(&server, &["HGET", key, "tr"], "1").await;
    release_tx.send(()).unwrap();
    assert_eq!(holder.await.unwrap(), Ok(1));
}

/// The wait for a token that Redis grants is checked again against the deadline once the
/// answer is back: the round trip took some of the time left, and a wait now past the deadline
/// is refused at once, the body never run (it used to be waited out, the body then run past
/// the deadline).
///
/// Time: tokio's paused clock, moved by hand while the admission is held at the proxy. A task
/// that only yields keeps the runtime busy, so that the clock never jumps by itself while a
/// round trip is on the wire (tokio advances a paused clock when the runtime is idle).
#[tokio::test(start_paused = true)]
async fn a_token_wait_past_the_deadline_after_the_round_trip_is_refused() {
    let busy = tokio::spawn(async {
        loop {
            tokio::task::yield_now().await;
        }
    });
    let server = Server::start();
    let proxy = Proxy::start(server.port).await;
    let p = Policy::builder("settle-deadline")
        .rpm(1.0)
        .burst(1)
        .wait(Duration::from_secs(120))
        .deadline(Duration::from_secs(100))
        .redis(
            Redis::new()
                .url(&proxy.url())
                .fail_closed()
                .timeout(Duration::from_secs(60)),
        )
        .build()
        .unwrap();
    // the bucket's one token: the next waits about a minute for its own
    assert_eq!(p.call_async(|| async { Ok::<u8, Error>(1) }).await, Ok(1));
    proxy.hold_next();
    let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let call = tokio::spawn({
        let (p, ran) = (p.clone(), ran.clone());
        async move {
            p.call_async(|| {
                let ran = ran.clone();
                async move {
                    ran.store(true, std::sync::atomic::Ordering::SeqCst);
                    Ok::<u8, Error>(2)
                }
            })
            .await
        }
    });
    proxy.held().await;
    // 50 s of the deadline's 100 go by on the wire: the minute's wait no longer fits
    tokio::time::advance(Duration::from_secs(50)).await;
    proxy.release();
    // the answer comes over the wire in real time: waited with the runtime kept busy (a hang
    // detector in real time, not a timing assertion: a call that waits out its token never
    // finishes, the paused clock standing still)
    let asked = std::time::Instant::now();
    while !call.is_finished() {
        assert!(
            asked.elapsed() < HANG,
            "the call waits for its token past its deadline"
        );
        tokio::task::yield_now().await;
    }
    let out = call.await.unwrap();
    assert!(matches!(out, Err(Error::RateLimited { .. })), "{out:?}");
    assert!(
        !ran.load(std::sync::atomic::Ordering::SeqCst),
        "the body never ran"
    );
    busy.abort();
}

/// A request the service rightly refused (the caller's own fault).
#[derive(Debug, PartialEq)]
enum Mine {
    Refused,
    Staunch(String),
}

impl From<Error> for Mine {
    fn from(e: Error) -> Self {
        Mine::Staunch(e.to_string())
    }
}

impl staunch_runtime::Classify for Mine {
    fn is_caller_fault(&self) -> bool {
        matches!(self, Mine::Refused)
    }
}

/// The caller's own fault counts neither for nor against the shared breaker, as in one process:
/// it does not open it, and a half-open trial that ends in it gives its slot back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callers_own_fault_counts_neither_way_in_redis() {
    let server = Server::start();
    let p = Policy::builder("settle-mine")
        .breaker(
            Breaker::new()
                .threshold(1)
                .half_open(1)
                .cooldown(Duration::from_secs(3600)),
        )
        .redis(closed(&server))
        .build()
        .unwrap();
    let key = "staunch:settle-mine:breaker";
    let refused = || async { Err::<u8, Mine>(Mine::Refused) };
    assert_eq!(p.call_async_classified(refused).await, Err(Mine::Refused));
    // not a failure: closed still (a failure would have opened it, threshold 1)
    assert_eq!(
        p.call_async_classified(|| async { Ok::<u8, Mine>(1) })
            .await,
        Ok(1)
    );
    assert_ne!(server.command(&["HGET", key, "s"]).as_deref(), Some("1"));
    // a trial that ends in it: its slot back, the next call is the trial
    assert_eq!(
        p.call_async_classified(|| async { Err::<u8, Mine>(Mine::Staunch("down".into())) })
            .await,
        Err(Mine::Staunch("down".into()))
    );
    assert_eq!(server.command(&["HGET", key, "s"]).as_deref(), Some("1"));
    server.command(&["HSET", key, "until", "0"]);
    assert_eq!(p.call_async_classified(refused).await, Err(Mine::Refused));
    assert_eq!(server.command(&["HGET", key, "tr"]).as_deref(), Some("0"));
    assert_eq!(
        p.call_async_classified(|| async { Ok::<u8, Mine>(2) })
            .await,
        Ok(2)
    );
    assert_eq!(server.command(&["HGET", key, "s"]).as_deref(), Some("0"));
}

/// A call dropped while it waits for the token Redis reserved for it gives the token back: the
/// bucket is as if it had never asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_dropped_while_it_waits_for_its_token_gives_it_back() {
    let server = Server::start();
    let p = Policy::builder("settle-wait")
        .rpm(1.0)
        .burst(1)
        .wait(Duration::from_secs(120))
        .redis(closed(&server))
        .build()
        .unwrap();
    let key = "staunch:settle-wait:rate";
    assert_eq!(p.call_async(|| async { Ok::<u8, Error>(1) }).await, Ok(1));
    let taken = server.command(&["GET", key]).unwrap();
    // the next call waits a minute for its token, reserved in Redis
    let waiting = tokio::spawn({
        let p = p.clone();
        async move { p.call_async(|| async { Ok::<u8, Error>(2) }).await }
    });
    let reserved = async {
        while server.command(&["GET", key]).as_deref() == Some(taken.as_str()) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(HANG, reserved)
        .await
        .expect("the second call reserved its token");
    waiting.abort();
    assert!(waiting.await.unwrap_err().is_cancelled());
    until(&server, &["GET", key], &taken).await;
}
