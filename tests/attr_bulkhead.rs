//! `max_inflight`: the bulkhead.
mod common;

use std::sync::Arc;

use common::Fail;
use staunch::{resilient, signals};
use tokio::sync::Notify;

#[resilient(max_inflight = 1, name = "bulkhead-async")]
async fn guarded(gate: Arc<Notify>) -> Result<u32, Fail> {
    gate.notified().await;
    Ok(1)
}

#[tokio::test(start_paused = true)]
async fn one_more_call_fails_at_once() {
    let gate = Arc::new(Notify::new());
    let first = tokio::spawn(guarded(gate.clone()));
    tokio::task::yield_now().await;
    assert_eq!(signals("bulkhead-async").unwrap().inflight, 1);
    assert!(guarded(gate.clone()).await.unwrap_err().is_bulkhead_full());
    gate.notify_one();
    assert_eq!(first.await.unwrap(), Ok(1));
    assert_eq!(signals("bulkhead-async").unwrap().inflight, 0);
}

#[resilient(max_inflight = 1, name = "bulkhead-drop")]
async fn held(gate: Arc<Notify>) -> Result<(), Fail> {
    gate.notified().await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn dropping_the_future_releases_the_slot() {
    let gate = Arc::new(Notify::new());
    {
        let fut = held(gate.clone());
        tokio::pin!(fut);
        assert!(futures_poll_once(fut.as_mut()).await);
        assert_eq!(signals("bulkhead-drop").unwrap().inflight, 1);
    }
    assert_eq!(signals("bulkhead-drop").unwrap().inflight, 0);
    gate.notify_one();
    assert_eq!(held(gate).await, Ok(()));
}

/// Polls once; true if still pending.
async fn futures_poll_once<F: std::future::Future>(f: std::pin::Pin<&mut F>) -> bool {
    let mut f = Some(f);
    std::future::poll_fn(move |cx| {
        let pending = f.take().unwrap().poll(cx).is_pending();
        std::task::Poll::Ready(pending)
    })
    .await
}

#[resilient(max_inflight = 2, name = "bulkhead-panic")]
fn panics(n: u32) -> Result<u32, Fail> {
    assert!(n != 0, "boom");
    Ok(n)
}

#[test]
fn a_panic_releases_the_slot_and_goes_on_unwinding() {
    let caught = std::panic::catch_unwind(|| panics(0));
    assert_eq!(
        caught
            .expect_err("the panic goes on")
            .downcast_ref::<&str>(),
        Some(&"boom")
    );
    assert_eq!(signals("bulkhead-panic").unwrap().inflight, 0);
    assert_eq!(panics(3), Ok(3));
}

#[resilient(max_inflight = 1, name = "bulkhead-nested")]
fn reentrant(depth: u32) -> Result<u32, Fail> {
    if depth == 0 {
        Ok(0)
    } else {
        reentrant(depth - 1)
    }
}

#[test]
fn a_sync_call_holds_its_slot_while_it_runs() {
    assert!(reentrant(1).unwrap_err().is_bulkhead_full());
    assert_eq!(reentrant(0), Ok(0));
}
