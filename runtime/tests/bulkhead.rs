//! Bulkhead: the limit, and slots given back on every way out.

use std::time::Duration;

use staunch_runtime::{signals, Error, Policy};
use tokio::sync::oneshot;

#[tokio::test(start_paused = true)]
async fn the_call_past_the_limit_fails_at_once_and_slots_come_back() {
    let p = Policy::builder("bulkhead-limit")
        .max_inflight(2)
        .build()
        .unwrap();
    let mut releases = Vec::new();
    let mut held = Vec::new();
    for _ in 0..2 {
        let (tx, rx) = oneshot::channel::<()>();
        releases.push(tx);
        let p = p.clone();
        held.push(tokio::spawn(async move {
            let mut rx = Some(rx);
            p.call_async(|| {
                let rx = rx.take().unwrap();
                async move {
                    rx.await.unwrap();
                    Ok::<_, Error>(())
                }
            })
            .await
        }));
    }
    tokio::task::yield_now().await;
    assert_eq!(signals("bulkhead-limit").unwrap().inflight, 2);
    assert_eq!(
        p.call_async(|| async { Ok::<_, Error>(()) }).await,
        Err(Error::BulkheadFull {
            policy: "bulkhead-limit".into(),
            limit: 2
        })
    );
    releases.pop().unwrap().send(()).unwrap();
    held.pop().unwrap().await.unwrap().unwrap();
    assert_eq!(signals("bulkhead-limit").unwrap().inflight, 1);
    assert_eq!(p.call_async(|| async { Ok::<_, Error>(()) }).await, Ok(()));

    // a dropped future gives its slot back too
    held.pop().unwrap().abort();
    tokio::task::yield_now().await;
    assert_eq!(signals("bulkhead-limit").unwrap().inflight, 0);
}

#[test]
fn a_panic_gives_the_slot_back() {
    let p = Policy::builder("bulkhead-panic")
        .max_inflight(1)
        .build()
        .unwrap();
    let caught = std::panic::catch_unwind(|| p.call(|| -> Result<(), Error> { panic!("boom") }));
    assert_eq!(
        caught
            .expect_err("the panic goes on")
            .downcast_ref::<&str>(),
        Some(&"boom")
    );
    assert_eq!(signals("bulkhead-panic").unwrap().inflight, 0);
    assert_eq!(p.call(|| Ok::<_, Error>(1)), Ok(1));
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_attempt_gives_the_slot_back() {
    let p = Policy::builder("bulkhead-timeout")
        .max_inflight(1)
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let r = p
        .call_async(std::future::pending::<Result<(), Error>>)
        .await;
    assert_eq!(
        r,
        Err(Error::Timeout {
            policy: "bulkhead-timeout".into(),
            after: Duration::from_secs(1)
        })
    );
    assert_eq!(signals("bulkhead-timeout").unwrap().inflight, 0);
}

#[test]
fn errors_give_the_slot_back() {
    let p = Policy::builder("bulkhead-error")
        .max_inflight(1)
        .build()
        .unwrap();
    for _ in 0..3 {
        let failed = Error::Timeout {
            policy: "x".into(),
            after: Duration::ZERO,
        };
        assert_eq!(p.call(|| Err::<(), _>(failed.clone())), Err(failed));
    }
    assert_eq!(signals("bulkhead-error").unwrap().inflight, 0);
}

/// An async attempt has no `catch_unwind`: its slot comes back as the panic unwinds through the
/// attempt, not only when its owner drops the future, and the breaker counts the failure then.
#[test]
fn an_async_panic_gives_the_slot_back_as_it_unwinds() {
    let p = Policy::builder("bulkhead-async-panic")
        .breaker(staunch_runtime::Breaker::new().threshold(1))
        .max_inflight(1)
        .build()
        .unwrap();
    let mut call = Box::pin(p.call_async(|| async {
        panic!("boom");
        #[allow(unreachable_code)]
        Ok::<(), Error>(())
    }));
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        std::future::Future::poll(call.as_mut(), &mut cx)
    }));
    assert_eq!(
        caught
            .expect_err("the panic goes on")
            .downcast_ref::<&str>(),
        Some(&"boom"),
        "the panic goes on unwinding"
    );
    // the future is still alive here
    let s = signals("bulkhead-async-panic").unwrap();
    assert_eq!(s.inflight, 0);
    assert_eq!(s.circuit, staunch_runtime::CircuitState::Open);
    drop(call);
    assert_eq!(signals("bulkhead-async-panic").unwrap().inflight, 0);
}
