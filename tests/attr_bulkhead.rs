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

// `queue`: one named policy shared by an async and a sync function, so both kinds of callers
// wait in one queue and one order.

#[resilient(name = "bulkhead-queue", max_inflight = 1, queue = 2)]
async fn queued_async(gate: Arc<Notify>, id: u32, log: Log) -> Result<u32, Fail> {
    log.lock().unwrap().push(id);
    gate.notified().await;
    Ok(id)
}

#[resilient(name = "bulkhead-queue", max_inflight = 1, queue = 2)]
fn queued_sync(id: u32, log: Log) -> Result<u32, Fail> {
    log.lock().unwrap().push(id);
    Ok(id)
}

type Log = Arc<std::sync::Mutex<Vec<u32>>>;

#[tokio::test(start_paused = true)]
async fn a_queue_serves_async_and_sync_callers_in_arrival_order() {
    let log = Log::default();
    let gate = Arc::new(Notify::new());
    let holder = tokio::spawn(queued_async(gate.clone(), 0, log.clone()));
    tokio::task::yield_now().await;
    // an async waiter, then a sync one blocked on its thread; a third finds the queue full
    let waiter = tokio::spawn(queued_async(gate.clone(), 1, log.clone()));
    tokio::task::yield_now().await;
    let sync_waiter = std::thread::spawn({
        let log = log.clone();
        move || queued_sync(2, log)
    });
    while signals("bulkhead-queue").unwrap().queued < 2 {
        std::thread::yield_now(); // until the thread is in the queue
    }
    assert!(queued_sync(3, log.clone()).unwrap_err().is_bulkhead_full());
    assert_eq!(signals("bulkhead-queue").unwrap().rejections.bulkhead, 1);

    gate.notify_one();
    assert_eq!(holder.await.unwrap(), Ok(0));
    tokio::task::yield_now().await;
    gate.notify_one();
    assert_eq!(waiter.await.unwrap(), Ok(1));
    assert_eq!(sync_waiter.join().unwrap(), Ok(2));
    assert_eq!(*log.lock().unwrap(), [0, 1, 2]);
    let s = signals("bulkhead-queue").unwrap();
    assert_eq!((s.inflight, s.queued), (0, 0));
}

#[resilient(
    name = "bulkhead-queue-wait",
    max_inflight = 1,
    queue = 1,
    queue_wait = "2s"
)]
async fn queue_bounded(gate: Arc<Notify>) -> Result<(), Fail> {
    gate.notified().await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn queue_wait_ends_the_wait_with_bulkhead_full() {
    let gate = Arc::new(Notify::new());
    let holder = tokio::spawn(queue_bounded(gate.clone()));
    tokio::task::yield_now().await;
    let start = tokio::time::Instant::now();
    assert!(queue_bounded(gate.clone())
        .await
        .unwrap_err()
        .is_bulkhead_full());
    assert_eq!(start.elapsed(), std::time::Duration::from_secs(2));
    gate.notify_one();
    assert_eq!(holder.await.unwrap(), Ok(()));
}

#[resilient(
    name = "bulkhead-queue-deadline",
    max_inflight = 1,
    queue = 1,
    deadline = "3s"
)]
async fn queue_until_deadline(gate: Arc<Notify>) -> Result<(), Fail> {
    gate.notified().await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn without_queue_wait_the_deadline_ends_the_wait() {
    let gate = Arc::new(Notify::new());
    let holder = tokio::spawn(queue_until_deadline(gate.clone()));
    tokio::task::yield_now().await;
    let start = tokio::time::Instant::now();
    assert!(queue_until_deadline(gate.clone())
        .await
        .unwrap_err()
        .is_bulkhead_full());
    assert_eq!(start.elapsed(), std::time::Duration::from_secs(3));
    assert_eq!(signals("bulkhead-queue-deadline").unwrap().queued, 0);
    gate.notify_one();
    assert_eq!(holder.await.unwrap(), Ok(()));
}
