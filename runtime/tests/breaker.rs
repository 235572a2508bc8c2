//! Circuit breaker transitions, driven by the mock clock (sync) and tokio's paused clock (async).

use std::sync::mpsc;
use std::time::Duration;

use staunch_runtime::{signals, Breaker, CircuitState, Error, MockClock, Policy};

fn failing() -> Result<(), Error> {
    Err(Error::Timeout {
        policy: "upstream".into(),
        after: Duration::ZERO,
    })
}

/// The message of the panic `caught` holds (and fails if it holds none).
fn panic_message<T: std::fmt::Debug>(caught: std::thread::Result<T>) -> String {
    let payload = caught.expect_err("the call panics");
    payload
        .downcast_ref::<&str>()
        .map(ToString::to_string)
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .expect("a panic with a message")
}

fn state(name: &str) -> CircuitState {
    signals(name).unwrap().circuit
}

#[test]
fn opens_exactly_at_the_threshold_and_rejects_without_calling() {
    let clock = MockClock::new();
    let _g = clock.install();
    let p = Policy::builder("breaker-threshold")
        .breaker(
            Breaker::new()
                .threshold(3)
                .cooldown(Duration::from_secs(10)),
        )
        .build()
        .unwrap();
    for _ in 0..2 {
        assert_eq!(p.call(failing), failing());
        assert_eq!(state("breaker-threshold"), CircuitState::Closed);
    }
    assert_eq!(p.call(failing), failing());
    assert_eq!(state("breaker-threshold"), CircuitState::Open);

    let mut called = false;
    let r: Result<(), Error> = p.call(|| {
        called = true;
        Ok(())
    });
    assert!(!called);
    assert_eq!(
        r,
        Err(Error::CircuitOpen {
            policy: "breaker-threshold".into(),
            retry_in: Duration::from_secs(10)
        })
    );
}

#[test]
fn a_success_resets_the_count_of_failures_in_a_row() {
    let p = Policy::builder("breaker-in-a-row")
        .breaker(Breaker::new().threshold(2))
        .build()
        .unwrap();
    for _ in 0..5 {
        assert_eq!(p.call(failing), failing());
        assert_eq!(p.call(|| Ok::<_, Error>(())), Ok(()));
    }
    assert_eq!(state("breaker-in-a-row"), CircuitState::Closed);
    assert_eq!(signals("breaker-in-a-row").unwrap().consecutive_failures, 0);
}

#[test]
fn cooldown_ends_to_the_nanosecond_and_a_trial_success_closes() {
    let clock = MockClock::new();
    let _g = clock.install();
    let p = Policy::builder("breaker-cooldown")
        .breaker(
            Breaker::new()
                .threshold(1)
                .cooldown(Duration::from_secs(30)),
        )
        .build()
        .unwrap();
    assert_eq!(p.call(failing), failing());
    clock.advance(Duration::from_secs(30) - Duration::from_nanos(1));
    assert_eq!(state("breaker-cooldown"), CircuitState::Open);
    assert_eq!(
        p.call(|| Ok::<_, Error>(())),
        Err(Error::CircuitOpen {
            policy: "breaker-cooldown".into(),
            retry_in: Duration::from_nanos(1)
        })
    );
    clock.advance(Duration::from_nanos(1));
    assert_eq!(state("breaker-cooldown"), CircuitState::HalfOpen);
    assert_eq!(p.call(|| Ok::<_, Error>(7)), Ok(7));
    assert_eq!(state("breaker-cooldown"), CircuitState::Closed);
}

#[test]
fn a_failure_while_half_open_reopens_for_a_full_cooldown() {
    let clock = MockClock::new();
    let _g = clock.install();
    let p = Policy::builder("breaker-half-open-failure")
        .breaker(Breaker::new().threshold(1).cooldown(Duration::from_secs(5)))
        .build()
        .unwrap();
    assert_eq!(p.call(failing), failing());
    clock.advance(Duration::from_secs(7));
    assert_eq!(p.call(failing), failing()); // the trial fails
    assert_eq!(state("breaker-half-open-failure"), CircuitState::Open);
    clock.advance(Duration::from_secs(4));
    assert!(matches!(
        p.call(|| Ok::<_, Error>(())),
        Err(Error::CircuitOpen { .. })
    ));
    clock.advance(Duration::from_secs(1));
    assert_eq!(p.call(|| Ok::<_, Error>(())), Ok(()));
}

#[test]
fn m_successes_in_a_row_close_it() {
    let clock = MockClock::new();
    let _g = clock.install();
    let p = Policy::builder("breaker-m-successes")
        .breaker(
            Breaker::new()
                .threshold(1)
                .cooldown(Duration::from_secs(1))
                .half_open(3),
        )
        .build()
        .unwrap();
    assert_eq!(p.call(failing), failing());
    clock.advance(Duration::from_secs(1));
    for _ in 0..2 {
        assert_eq!(p.call(|| Ok::<_, Error>(())), Ok(()));
        assert_eq!(state("breaker-m-successes"), CircuitState::HalfOpen);
    }
    assert_eq!(p.call(|| Ok::<_, Error>(())), Ok(()));
    assert_eq!(state("breaker-m-successes"), CircuitState::Closed);
}

/// Two threads: while one holds the only trial slot, the other is rejected at once.
#[test]
fn a_trial_slot_held_by_one_thread_rejects_another() {
    let clock = MockClock::new();
    let _g = clock.install();
    let p = Policy::builder("breaker-trial-threads")
        .breaker(
            Breaker::new()
                .threshold(1)
                .cooldown(Duration::from_secs(1))
                .half_open(1),
        )
        .build()
        .unwrap();
    assert_eq!(p.call(failing), failing());
    clock.advance(Duration::from_secs(1));

    let (entered_tx, entered_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (clock2, p2) = (clock.clone(), &p);
    std::thread::scope(|s| {
        let trial = s.spawn(move || {
            let _g = clock2.install();
            p2.call(|| {
                entered_tx.send(()).unwrap();
                release_rx.recv().unwrap();
                Ok::<_, Error>("trial")
            })
        });
        entered_rx.recv().unwrap();
        let other = s
            .spawn(|| {
                let _g = clock.install();
                p.call(|| Ok::<_, Error>("other"))
            })
            .join()
            .unwrap();
        assert_eq!(
            other,
            Err(Error::CircuitOpen {
                policy: "breaker-trial-threads".into(),
                retry_in: Duration::ZERO
            })
        );
        release_tx.send(()).unwrap();
        assert_eq!(trial.join().unwrap(), Ok("trial"));
    });
    assert_eq!(state("breaker-trial-threads"), CircuitState::Closed);
}

/// A trial that belongs to an earlier half-open period must not re-open a breaker that an
/// operator has reset meanwhile.
#[test]
fn a_late_trial_of_an_earlier_period_changes_nothing() {
    let clock = MockClock::new();
    let _g = clock.install();
    let p = Policy::builder("breaker-late-trial")
        .breaker(Breaker::new().threshold(1).cooldown(Duration::from_secs(1)))
        .build()
        .unwrap();
    let handle = p.handle();
    assert_eq!(p.call(failing), failing());
    clock.advance(Duration::from_secs(1));
    let r = p.call(|| {
        handle.reset(); // the period ends while the trial is in flight
        failing()
    });
    assert_eq!(r, failing());
    assert_eq!(state("breaker-late-trial"), CircuitState::Closed);
}

#[test]
fn a_panic_counts_as_a_failure_and_releases_the_trial() {
    let clock = MockClock::new();
    let _g = clock.install();
    let p = Policy::builder("breaker-panic")
        .breaker(Breaker::new().threshold(1).cooldown(Duration::from_secs(1)))
        .build()
        .unwrap();
    let caught = std::panic::catch_unwind(|| p.call(|| -> Result<(), Error> { panic!("boom") }));
    assert_eq!(panic_message(caught), "boom", "the panic goes on unwinding");
    assert_eq!(state("breaker-panic"), CircuitState::Open);
    clock.advance(Duration::from_secs(1));
    let caught =
        std::panic::catch_unwind(|| p.call(|| -> Result<(), Error> { panic!("boom again") }));
    assert_eq!(panic_message(caught), "boom again");
    assert_eq!(
        state("breaker-panic"),
        CircuitState::Open,
        "the panicking trial re-opened it"
    );
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        p.call(|| Ok::<_, Error>(())),
        Ok(()),
        "its trial slot was given back"
    );
}

/// A sync attempt has no `catch_unwind`: the drop of its breaker pass is what sees a panicking
/// body. A call made from a `Drop` while the thread unwinds for another panic must still be judged
/// by its own outcome: turned away by the bulkhead, it gives its pass back (regression: it was
/// counted as a failure, and opened the breaker).
#[test]
fn a_call_made_while_the_thread_unwinds_is_judged_by_its_own_outcome() {
    struct CallsOnDrop(Policy);
    impl Drop for CallsOnDrop {
        fn drop(&mut self) {
            assert!(std::thread::panicking());
            let p = &self.0;
            let outer: Result<(), Error> = p.call(|| {
                // the outer call holds the only slot: the inner one is turned away
                let inner: Result<(), Error> = p.call(|| Ok(()));
                assert!(
                    matches!(inner, Err(Error::BulkheadFull { .. })),
                    "{inner:?}"
                );
                Ok(())
            });
            assert_eq!(outer, Ok(()));
        }
    }
    let p = Policy::builder("breaker-call-while-unwinding")
        .breaker(Breaker::new().threshold(1))
        .max_inflight(1)
        .build()
        .unwrap();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _d = CallsOnDrop(p.clone());
        panic!("an unrelated panic");
    }));
    assert_eq!(panic_message(caught), "an unrelated panic");
    assert_eq!(state("breaker-call-while-unwinding"), CircuitState::Closed);
    assert_eq!(signals("breaker-call-while-unwinding").unwrap().inflight, 0);
}

#[tokio::test(start_paused = true)]
async fn async_cooldown_follows_tokio_time() {
    let p = Policy::builder("breaker-async-cooldown")
        .breaker(
            Breaker::new()
                .threshold(2)
                .cooldown(Duration::from_secs(30)),
        )
        .build()
        .unwrap();
    for _ in 0..2 {
        assert_eq!(p.call_async(|| async { failing() }).await, failing());
    }
    assert!(matches!(
        p.call_async(|| async { Ok::<_, Error>(()) }).await,
        Err(Error::CircuitOpen { .. })
    ));
    tokio::time::advance(Duration::from_secs(30)).await;
    assert_eq!(p.call_async(|| async { Ok::<_, Error>(1) }).await, Ok(1));
    assert_eq!(state("breaker-async-cooldown"), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_trial_future_gives_its_slot_back() {
    let p = Policy::builder("breaker-dropped-trial")
        .breaker(Breaker::new().threshold(1).cooldown(Duration::from_secs(1)))
        .build()
        .unwrap();
    assert_eq!(p.call_async(|| async { failing() }).await, failing());
    tokio::time::advance(Duration::from_secs(1)).await;

    let p2 = p.clone();
    let stuck = tokio::spawn(async move {
        p2.call_async(std::future::pending::<Result<(), Error>>)
            .await
    });
    tokio::task::yield_now().await; // the trial is in flight now
    assert!(matches!(
        p.call_async(|| async { Ok::<_, Error>(()) }).await,
        Err(Error::CircuitOpen { .. })
    ));
    stuck.abort();
    assert!(stuck.await.unwrap_err().is_cancelled());
    assert_eq!(p.call_async(|| async { Ok::<_, Error>(2) }).await, Ok(2));
}

#[tokio::test(start_paused = true)]
async fn an_async_panic_counts_as_a_failure_and_goes_on_unwinding() {
    let p = Policy::builder("breaker-async-panic")
        .breaker(Breaker::new().threshold(1))
        .max_inflight(1)
        .build()
        .unwrap();
    let p2 = p.clone();
    let joined = tokio::spawn(async move {
        p2.call_async(|| async {
            tokio::task::yield_now().await;
            panic!("boom");
            #[allow(unreachable_code)]
            Ok::<(), Error>(())
        })
        .await
    })
    .await;
    assert!(joined.unwrap_err().is_panic());
    let s = signals("breaker-async-panic").unwrap();
    assert_eq!(s.circuit, CircuitState::Open);
    assert_eq!(s.inflight, 0);
}

#[test]
fn forced_states_hold_until_reset() {
    let p = Policy::builder("breaker-forced")
        .breaker(Breaker::new().threshold(1))
        .build()
        .unwrap();
    let h = staunch_runtime::policy("breaker-forced").unwrap();
    h.force_closed();
    for _ in 0..3 {
        assert_eq!(p.call(failing), failing());
    }
    assert_eq!(state("breaker-forced"), CircuitState::Closed);
    let clock = MockClock::new();
    let _g = clock.install();
    h.force_open();
    // held open past any cooldown, until reset
    clock.advance(Duration::from_secs(3600));
    assert_eq!(state("breaker-forced"), CircuitState::Open);
    assert_eq!(
        p.call(|| Ok::<_, Error>(())),
        Err(Error::CircuitOpen {
            policy: "breaker-forced".into(),
            retry_in: Duration::from_secs(30)
        })
    );
    h.reset();
    assert_eq!(p.call(|| Ok::<_, Error>(())), Ok(()));
}

/// Regression: a trial still running when its half-open period ended used to lose its slot, so
/// the next period let `half_open` more through and more than `half_open` trials ran at once.
#[tokio::test(start_paused = true)]
async fn a_trial_outliving_its_period_keeps_its_slot() {
    let p = Policy::builder("breaker-trial-outlives-period")
        .breaker(
            Breaker::new()
                .threshold(1)
                .cooldown(Duration::from_secs(1))
                .half_open(2),
        )
        .build()
        .unwrap();
    assert_eq!(p.call_async(|| async { failing() }).await, failing());
    tokio::time::advance(Duration::from_secs(1)).await;

    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let p2 = p.clone();
    let mut released = Some(released);
    let slow = tokio::spawn(async move {
        p2.call_async(|| {
            let released = released.take().unwrap();
            async move {
                released.await.unwrap();
                Ok::<_, Error>(())
            }
        })
        .await
    });
    tokio::task::yield_now().await; // trial 1 of the period is running
    assert_eq!(p.call_async(|| async { failing() }).await, failing()); // trial 2 fails: re-open
    tokio::time::advance(Duration::from_secs(1)).await;

    // the new period has one free slot, not two
    let (hold, held) = tokio::sync::oneshot::channel::<()>();
    let p3 = p.clone();
    let mut held = Some(held);
    let second = tokio::spawn(async move {
        p3.call_async(|| {
            let held = held.take().unwrap();
            async move {
                held.await.unwrap();
                Ok::<_, Error>(())
            }
        })
        .await
    });
    tokio::task::yield_now().await;
    assert!(matches!(
        p.call_async(|| async { Ok::<_, Error>(()) }).await,
        Err(Error::CircuitOpen { .. })
    ));

    release.send(()).unwrap();
    assert_eq!(
        slow.await.unwrap(),
        Ok(()),
        "the old trial ends; its success counts for nothing"
    );
    assert_eq!(
        state("breaker-trial-outlives-period"),
        CircuitState::HalfOpen
    );
    hold.send(()).unwrap();
    assert_eq!(second.await.unwrap(), Ok(()));
    assert_eq!(p.call_async(|| async { Ok::<_, Error>(()) }).await, Ok(()));
    assert_eq!(state("breaker-trial-outlives-period"), CircuitState::Closed);
}

/// Found by review: with two trials of one half-open period, the second failing late moved the
/// cooldown the first failure had started.
#[test]
fn a_late_trial_cannot_move_a_later_cooldown() {
    let clock = MockClock::new();
    let _g = clock.install();
    let p = Policy::builder("breaker-late-trial-cooldown")
        .breaker(
            Breaker::new()
                .threshold(1)
                .cooldown(Duration::from_secs(10))
                .half_open(2),
        )
        .build()
        .unwrap();
    let name = "breaker-late-trial-cooldown";
    assert_eq!(p.call(failing), failing());
    clock.advance(Duration::from_secs(11));
    // two trials at 11 s: the first fails at 12 s, the second at 20 s
    let second = p.call(|| {
        clock.advance(Duration::from_secs(1));
        assert_eq!(p.call(failing), failing(), "the first trial");
        assert_eq!(state(name), CircuitState::Open);
        clock.advance(Duration::from_secs(8));
        failing()
    });
    assert_eq!(second, failing());
    // re-opened at 12 s until 22 s, not until 30 s
    clock.advance(Duration::from_secs(2) - Duration::from_nanos(1));
    assert_eq!(state(name), CircuitState::Open);
    clock.advance(Duration::from_nanos(1));
    assert_eq!(state(name), CircuitState::HalfOpen);
    assert_eq!(p.call(|| Ok::<_, Error>(1)), Ok(1));
}

#[tokio::test(start_paused = true)]
async fn a_breaker_half_open_too_long_reopens_and_ignores_the_late_answer() {
    let name = "breaker-max-half-open";
    let p = Policy::builder(name)
        .breaker(
            Breaker::new()
                .threshold(1)
                .cooldown(Duration::from_secs(1))
                .half_open(1)
                .max_half_open(Duration::from_secs(5)),
        )
        .build()
        .unwrap();
    assert_eq!(p.call_async(|| async { failing() }).await, failing());
    tokio::time::advance(Duration::from_secs(1)).await;
    // a trial that does not answer for a long while
    let (answer, told) = tokio::sync::oneshot::channel::<()>();
    let hung = {
        let p = p.clone();
        tokio::spawn(async move {
            let mut told = Some(told);
            p.call_async(|| {
                let told = told.take();
                async move {
                    let _ = told.unwrap().await;
                    failing()
                }
            })
            .await
        })
    };
    tokio::task::yield_now().await;
    assert_eq!(state(name), CircuitState::HalfOpen);
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(
        p.call_async(|| async { Ok::<_, Error>(()) }).await,
        Err(Error::CircuitOpen {
            policy: name.into(),
            retry_in: Duration::ZERO
        }),
        "the only trial slot is taken"
    );
    // 5 s half-open without a verdict: open again, for a full cooldown
    tokio::time::advance(Duration::from_secs(4)).await;
    assert_eq!(state(name), CircuitState::Open);
    assert_eq!(
        p.call_async(|| async { Ok::<_, Error>(()) }).await,
        Err(Error::CircuitOpen {
            policy: name.into(),
            retry_in: Duration::from_secs(1)
        })
    );
    tokio::time::advance(Duration::from_secs(1)).await;
    // the hung trial gave its slot up: a new trial passes, and holds the one slot...
    let (go_on, told) = tokio::sync::oneshot::channel::<()>();
    let next = spawn_trial(&p, told, Ok(2));
    tokio::task::yield_now().await;
    // ...whatever the late answer does: a failure, ignored, that gives back no slot of this period
    answer.send(()).unwrap();
    assert_eq!(hung.await.unwrap(), failing());
    assert_eq!(state(name), CircuitState::HalfOpen);
    assert_eq!(
        p.call_async(|| async { Ok::<_, Error>(()) }).await,
        Err(Error::CircuitOpen {
            policy: name.into(),
            retry_in: Duration::ZERO
        }),
        "one trial at a time"
    );
    go_on.send(()).unwrap();
    assert_eq!(next.await.unwrap(), Ok(2));
    assert_eq!(state(name), CircuitState::Closed);
    assert_eq!(signals(name).unwrap().consecutive_failures, 0);
}

/// A trial call that answers `out` once told to.
fn spawn_trial(
    p: &Policy,
    told: tokio::sync::oneshot::Receiver<()>,
    out: Result<u32, Error>,
) -> tokio::task::JoinHandle<Result<u32, Error>> {
    let p = p.clone();
    tokio::spawn(async move {
        let mut told = Some(told);
        p.call_async(|| {
            let (told, out) = (told.take(), out.clone());
            async move {
                let _ = told.expect("one attempt").await;
                out
            }
        })
        .await
    })
}

#[tokio::test(start_paused = true)]
async fn a_late_success_of_an_earlier_period_counts_for_nothing_in_the_next() {
    let name = "breaker-late-success";
    let p = Policy::builder(name)
        .breaker(
            Breaker::new()
                .threshold(1)
                .cooldown(Duration::from_secs(1))
                .half_open(2),
        )
        .build()
        .unwrap();
    assert_eq!(p.call_async(|| async { failing() }).await, failing());
    tokio::time::advance(Duration::from_secs(1)).await;
    // two trials of the first half-open period: one hangs, the other fails and re-opens it
    let (a_go, a_told) = tokio::sync::oneshot::channel();
    let a = spawn_trial(&p, a_told, Ok(1));
    tokio::task::yield_now().await;
    assert_eq!(p.call_async(|| async { failing() }).await, failing());
    assert_eq!(state(name), CircuitState::Open);
    tokio::time::advance(Duration::from_secs(1)).await;
    // the next period's first trial; then the first period's trial succeeds, late
    let (c_go, c_told) = tokio::sync::oneshot::channel();
    let c = spawn_trial(&p, c_told, Ok(3));
    tokio::task::yield_now().await;
    a_go.send(()).unwrap();
    assert_eq!(a.await.unwrap(), Ok(1));
    assert_eq!(state(name), CircuitState::HalfOpen);
    // one success of this period is not the two it needs
    c_go.send(()).unwrap();
    assert_eq!(c.await.unwrap(), Ok(3));
    assert_eq!(state(name), CircuitState::HalfOpen);
    assert_eq!(p.call_async(|| async { Ok::<_, Error>(4) }).await, Ok(4));
    assert_eq!(state(name), CircuitState::Closed);
}
