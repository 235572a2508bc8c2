//! A storm: 100,000 async calls on two threads through one policy (breaker, limiter, bulkhead,
//! timeout), each at random cancelled at an await point, panicking, failing or succeeding.
//! Afterwards nothing is in flight, no trial slot is held, and every body that started is
//! accounted for: admitted = succeeded + failed + cancelled + panicked.

use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use staunch_runtime::{signals, Breaker, CircuitState, Error, Policy};

#[derive(Default)]
struct Tally {
    started: AtomicU64,
    succeeded: AtomicU64,
    failed: AtomicU64,
    panicked: AtomicU64,
}

const CALLS: u64 = 100_000;

#[test]
fn a_storm_of_cancelled_panicking_and_failing_calls_leaks_nothing() {
    // the bodies' own panics are expected: keep them off the output, report any other
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<&str>() != Some(&"storm") {
            report(info);
        }
    }));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let name = "storm";
    let half_open = 4;
    let p = Policy::builder(name)
        .breaker(
            Breaker::new()
                .threshold(8)
                .cooldown(Duration::ZERO)
                .half_open(half_open),
        )
        .rps(1e9)
        .max_inflight(64)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let tally = Arc::new(Tally::default());
    rt.block_on(async {
        let mut tasks = Vec::with_capacity(CALLS as usize);
        for i in 0..CALLS {
            let (p, tally) = (p.clone(), tally.clone());
            // what this call does: 0 succeed, 1 fail, 2 panic, 3 take its time; and after how
            // many of its own yields the caller gives up on it (cancelling it where it waits)
            let fate = rand::random::<u8>() % 4;
            let patience = rand::random::<u8>() % 8;
            tasks.push(tokio::spawn(async move {
                let call = p.call_async(|| {
                    let tally = tally.clone();
                    async move {
                        tally.started.fetch_add(1, SeqCst);
                        tokio::task::yield_now().await;
                        match fate {
                            0 => {}
                            1 => {
                                tally.failed.fetch_add(1, SeqCst);
                                return Err(Error::BulkheadFull {
                                    policy: "upstream".into(),
                                    limit: 0,
                                });
                            }
                            2 => {
                                tally.panicked.fetch_add(1, SeqCst);
                                panic!("storm");
                            }
                            _ => {
                                for _ in 0..4 {
                                    tokio::task::yield_now().await;
                                }
                            }
                        }
                        tally.succeeded.fetch_add(1, SeqCst);
                        Ok(i)
                    }
                });
                let give_up = async {
                    for _ in 0..patience {
                        tokio::task::yield_now().await;
                    }
                };
                tokio::select! {
                    biased;
                    r = call => Some(r),
                    () = give_up => None,
                }
            }));
            if i % 64 == 63 {
                tokio::task::yield_now().await;
            }
        }
        for task in tasks {
            let _ = task.await; // a panic, a cancellation or the call's own result
        }
    });
    let started = tally.started.load(SeqCst);
    let finished =
        tally.succeeded.load(SeqCst) + tally.failed.load(SeqCst) + tally.panicked.load(SeqCst);
    let cancelled = started - finished;
    // every fate happened (how many bodies start depends on the scheduling of two threads and
    // on the breaker: a fixed share of the calls, once asserted here, failed on a loaded
    // machine; what the accounting below needs is that none of its terms is empty)
    assert!(
        cancelled > 0
            && tally.panicked.load(SeqCst) > 0
            && tally.failed.load(SeqCst) > 0
            && tally.succeeded.load(SeqCst) > 0,
        "{started} bodies started: {cancelled} cancelled, {} panicked, {} failed, {} succeeded",
        tally.panicked.load(SeqCst),
        tally.failed.load(SeqCst),
        tally.succeeded.load(SeqCst)
    );
    assert_eq!(
        started,
        tally.succeeded.load(SeqCst)
            + tally.failed.load(SeqCst)
            + cancelled
            + tally.panicked.load(SeqCst)
    );
    // nothing in flight
    assert_eq!(signals(name).unwrap().inflight, 0);
    // the policy's totals agree with the bodies': every success and failure counted once (a
    // panic is a failure), a cancelled body neither
    let s = signals(name).unwrap();
    assert_eq!(s.successes, tally.succeeded.load(SeqCst));
    assert_eq!(
        s.failures + s.ignored,
        tally.failed.load(SeqCst) + tally.panicked.load(SeqCst)
    );
    // no trial slot held: open the breaker, and every one of its trials gets through at once
    rt.block_on(async {
        let failing = || async {
            Err::<(), _>(Error::BulkheadFull {
                policy: "upstream".into(),
                limit: 0,
            })
        };
        // a fresh half-open period: closed, then opened by failures in a row
        staunch_runtime::policy(name).unwrap().reset();
        while signals(name).unwrap().circuit == CircuitState::Closed {
            let _ = p.call_async(failing).await;
        }
        let held = Arc::new(tokio::sync::Barrier::new(half_open as usize + 1));
        let trials: Vec<_> = (0..half_open)
            .map(|_| {
                let (p, held) = (p.clone(), held.clone());
                tokio::spawn(async move {
                    p.call_async(|| {
                        let held = held.clone();
                        async move {
                            held.wait().await;
                            Ok::<_, Error>(())
                        }
                    })
                    .await
                })
            })
            .collect();
        // every trial is inside its body: none was turned away for want of a slot
        let all_in = tokio::time::timeout(Duration::from_secs(10), held.wait()).await;
        assert!(all_in.is_ok(), "a trial slot is still held after the storm");
        for t in trials {
            assert_eq!(t.await.unwrap(), Ok(()));
        }
        assert_eq!(signals(name).unwrap().circuit, CircuitState::Closed);
    });
    assert_eq!(signals(name).unwrap().inflight, 0);
}
