//! The bulkhead's queue (`queue`, `queue_wait`): callers that find every slot taken wait for
//! one in arrival order, leave it when dropped, and give up at their bound.
//!
//! Async calls are polled by hand (a future per caller, polled once to join the queue), so
//! who holds a slot and who waits is decided by the test, not by a scheduler. Sync callers
//! run on threads that meet the test at handshakes; time moves only by tokio's paused clock
//! or a `MockClock`.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Barrier, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use staunch_runtime::events::{self, EventKind, Filter, Kinds, Part};
use staunch_runtime::{Error, MockClock, Policy};
use tokio::sync::oneshot;

type Log = Arc<Mutex<Vec<u32>>>;
type Pinned<'a> = Pin<Box<dyn Future<Output = Result<u32, Error>> + 'a>>;

fn poll(f: &mut Pinned<'_>) -> Poll<Result<u32, Error>> {
    f.as_mut().poll(&mut Context::from_waker(Waker::noop()))
}

/// An async call whose body logs `id` when it starts and then holds its slot until the
/// returned sender is used (or dropped).
fn held<'a>(p: &'a Policy, id: u32, log: &Log) -> (Pinned<'a>, oneshot::Sender<()>) {
    let (tx, rx) = oneshot::channel::<()>();
    let mut rx = Some(rx);
    let log = log.clone();
    let fut = p.call_async(move || {
        let rx = rx.take();
        let log = log.clone();
        async move {
            log.lock().unwrap().push(id);
            if let Some(rx) = rx {
                let _ = rx.await;
            }
            Ok(id)
        }
    });
    (Box::pin(fut), tx)
}

/// An async call whose body logs `id` and returns at once.
fn quick<'a>(p: &'a Policy, id: u32, log: &Log) -> Pinned<'a> {
    let log = log.clone();
    Box::pin(p.call_async(move || {
        let log = log.clone();
        async move {
            log.lock().unwrap().push(id);
            Ok(id)
        }
    }))
}

fn log() -> Log {
    Arc::new(Mutex::new(Vec::new()))
}

fn seen(log: &Log) -> Vec<u32> {
    log.lock().unwrap().clone()
}

fn queued(p: &Policy) -> (usize, usize) {
    let s = p.handle().signals();
    (s.inflight, s.queued)
}

fn full(name: &str, limit: usize) -> Result<u32, Error> {
    Err(Error::BulkheadFull {
        policy: name.into(),
        limit,
    })
}

#[tokio::test(start_paused = true)]
async fn waiters_get_freed_slots_in_arrival_order() {
    let p = Policy::builder("queue-order")
        .max_inflight(1)
        .queue(3)
        .build()
        .unwrap();
    let log = log();
    let (mut holder, release) = held(&p, 0, &log);
    assert!(poll(&mut holder).is_pending());
    let (mut a, release_a) = held(&p, 1, &log);
    let mut b = quick(&p, 2, &log);
    let mut c = quick(&p, 3, &log);
    for w in [&mut a, &mut b, &mut c] {
        assert!(poll(w).is_pending());
    }
    assert_eq!(queued(&p), (1, 3));

    release.send(()).unwrap();
    assert_eq!(poll(&mut holder), Poll::Ready(Ok(0)));
    // the slot went to the longest waiter, even polled last
    assert!(poll(&mut c).is_pending());
    assert!(poll(&mut b).is_pending());
    assert!(poll(&mut a).is_pending()); // runs its body, holds the slot
    assert_eq!(seen(&log), [0, 1]);
    assert_eq!(queued(&p), (1, 2));

    release_a.send(()).unwrap();
    assert_eq!(poll(&mut a), Poll::Ready(Ok(1)));
    // b has the slot, and gives it to c when it ends
    assert!(poll(&mut c).is_pending());
    assert_eq!(poll(&mut b), Poll::Ready(Ok(2)));
    assert_eq!(poll(&mut c), Poll::Ready(Ok(3)));
    assert_eq!(seen(&log), [0, 1, 2, 3]);
    assert_eq!(queued(&p), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn a_newcomer_queues_behind_a_waiter_handed_a_slot() {
    let p = Policy::builder("queue-no-barging")
        .max_inflight(1)
        .queue(2)
        .build()
        .unwrap();
    let log = log();
    let (mut holder, release) = held(&p, 0, &log);
    assert!(poll(&mut holder).is_pending());
    let mut a = quick(&p, 1, &log);
    assert!(poll(&mut a).is_pending());
    release.send(()).unwrap();
    assert_eq!(poll(&mut holder), Poll::Ready(Ok(0)));
    // the slot is a's, though a has not run yet: a newcomer waits behind it
    let mut newcomer = quick(&p, 2, &log);
    assert!(poll(&mut newcomer).is_pending());
    assert_eq!(queued(&p), (1, 1));
    assert_eq!(poll(&mut a), Poll::Ready(Ok(1)));
    assert_eq!(poll(&mut newcomer), Poll::Ready(Ok(2)));
    assert_eq!(seen(&log), [0, 1, 2]);
}

#[tokio::test(start_paused = true)]
async fn a_full_queue_turns_the_next_caller_away_at_once_with_a_rejected_event() {
    let name = "queue-full";
    let (_s, mut rx) = events::channel(Filter::policy(name).kinds(Kinds::REJECTED), 8);
    let p = Policy::builder(name)
        .max_inflight(1)
        .queue(1)
        .build()
        .unwrap();
    let log = log();
    let (mut holder, _release) = held(&p, 0, &log);
    assert!(poll(&mut holder).is_pending());
    let mut a = quick(&p, 1, &log);
    assert!(poll(&mut a).is_pending());
    let mut b = quick(&p, 2, &log);
    assert_eq!(poll(&mut b), Poll::Ready(full(name, 1)));
    assert_eq!(p.handle().signals().rejections.bulkhead, 1);
    events::flush();
    let e = rx.try_recv().unwrap();
    assert_eq!(
        e.kind,
        EventKind::Rejected {
            part: Part::Bulkhead,
            retry_in: Duration::ZERO
        }
    );
    assert_eq!(queued(&p), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn a_dropped_waiter_leaves_the_queue_as_if_it_had_never_joined() {
    let p = Policy::builder("queue-dropped")
        .max_inflight(1)
        .queue(2)
        .build()
        .unwrap();
    let log = log();
    let (mut holder, release) = held(&p, 0, &log);
    assert!(poll(&mut holder).is_pending());
    let mut a = quick(&p, 1, &log);
    let mut b = quick(&p, 2, &log);
    assert!(poll(&mut a).is_pending());
    assert!(poll(&mut b).is_pending());
    drop(a);
    assert_eq!(queued(&p), (1, 1));
    // its place is free again: one more may queue
    let mut c = quick(&p, 3, &log);
    assert!(poll(&mut c).is_pending());
    release.send(()).unwrap();
    assert_eq!(poll(&mut holder), Poll::Ready(Ok(0)));
    assert_eq!(poll(&mut b), Poll::Ready(Ok(2)));
    assert_eq!(poll(&mut c), Poll::Ready(Ok(3)));
    assert_eq!(seen(&log), [0, 2, 3]);
    assert_eq!(queued(&p), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn a_slot_handed_to_a_waiter_dropped_before_it_ran_goes_to_the_next() {
    let p = Policy::builder("queue-dropped-granted")
        .max_inflight(1)
        .queue(2)
        .build()
        .unwrap();
    let log = log();
    let (mut holder, release) = held(&p, 0, &log);
    assert!(poll(&mut holder).is_pending());
    let mut a = quick(&p, 1, &log);
    let mut b = quick(&p, 2, &log);
    assert!(poll(&mut a).is_pending());
    assert!(poll(&mut b).is_pending());
    release.send(()).unwrap();
    assert_eq!(poll(&mut holder), Poll::Ready(Ok(0)));
    assert_eq!(queued(&p), (1, 1)); // the slot is a's now
    drop(a);
    assert_eq!(queued(&p), (1, 0)); // and b's
    assert_eq!(poll(&mut b), Poll::Ready(Ok(2)));
    assert_eq!(queued(&p), (0, 0));
    assert_eq!(seen(&log), [0, 2]);
    // nothing was lost: the one slot is free
    assert_eq!(poll(&mut quick(&p, 3, &log)), Poll::Ready(Ok(3)));
}

#[tokio::test(start_paused = true)]
async fn a_waiter_cancelled_by_a_select_leaves_the_queue() {
    let p = Policy::builder("queue-select")
        .max_inflight(1)
        .queue(1)
        .build()
        .unwrap();
    let log = log();
    let (mut holder, release) = held(&p, 0, &log);
    assert!(poll(&mut holder).is_pending());
    tokio::select! {
        _ = quick(&p, 1, &log) => unreachable!("the slot is held"),
        () = tokio::time::sleep(Duration::from_secs(5)) => {}
    }
    assert_eq!(queued(&p), (1, 0));
    release.send(()).unwrap();
    assert_eq!(poll(&mut holder), Poll::Ready(Ok(0)));
    assert_eq!(queued(&p), (0, 0));
    assert_eq!(seen(&log), [0]);
}

#[tokio::test(start_paused = true)]
async fn queue_wait_bounds_the_wait_then_bulkhead_full() {
    let name = "queue-wait";
    let p = Policy::builder(name)
        .max_inflight(1)
        .queue(4)
        .queue_wait(Duration::from_secs(2))
        .build()
        .unwrap();
    let log = log();
    let (mut holder, _release) = held(&p, 0, &log);
    assert!(poll(&mut holder).is_pending());
    let start = tokio::time::Instant::now();
    assert_eq!(quick(&p, 1, &log).await, full(name, 1));
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    assert_eq!(queued(&p), (1, 0));
    assert_eq!(seen(&log), [0]);
}

#[tokio::test(start_paused = true)]
async fn the_wait_ends_at_the_deadline_with_bulkhead_full() {
    let name = "queue-deadline";
    let p = Policy::builder(name)
        .max_inflight(1)
        .queue(4)
        .queue_wait(Duration::from_secs(60))
        .deadline(Duration::from_secs(3))
        .build()
        .unwrap();
    let log = log();
    let (mut holder, _release) = held(&p, 0, &log);
    assert!(poll(&mut holder).is_pending());
    let start = tokio::time::Instant::now();
    assert_eq!(quick(&p, 1, &log).await, full(name, 1));
    assert_eq!(start.elapsed(), Duration::from_secs(3));
    assert_eq!(queued(&p), (1, 0));
}

#[tokio::test(start_paused = true)]
async fn a_waiter_served_before_its_bound_runs() {
    let p = Policy::builder("queue-served")
        .max_inflight(1)
        .queue(1)
        .queue_wait(Duration::from_secs(10))
        .build()
        .unwrap();
    let log = log();
    let holder = {
        let p = p.clone();
        tokio::spawn(async move {
            p.call_async(|| async {
                tokio::time::sleep(Duration::from_secs(4)).await;
                Ok::<_, Error>(0)
            })
            .await
        })
    };
    tokio::task::yield_now().await;
    let start = tokio::time::Instant::now();
    assert_eq!(quick(&p, 1, &log).await, Ok(1));
    assert_eq!(start.elapsed(), Duration::from_secs(4));
    assert_eq!(holder.await.unwrap(), Ok(0));
}

/// Sync callers wait by blocking, in one order with async ones: a sync holder, an async
/// waiter, then a sync waiter; each runs in arrival order.
#[tokio::test(start_paused = true)]
async fn sync_and_async_callers_share_one_queue_and_one_order() {
    let p = Policy::builder("queue-mixed")
        .max_inflight(1)
        .queue(2)
        .build()
        .unwrap();
    let log = log();
    let (entered, release) = (Barrier::new(2), Barrier::new(2));
    std::thread::scope(|s| {
        let holder = s.spawn(|| {
            p.call(|| {
                log.lock().unwrap().push(0);
                entered.wait();
                release.wait();
                Ok::<_, Error>(0)
            })
        });
        entered.wait();
        let mut a = quick(&p, 1, &log);
        assert!(poll(&mut a).is_pending());
        let sync_waiter = s.spawn(|| {
            p.call(|| {
                log.lock().unwrap().push(2);
                Ok::<_, Error>(2)
            })
        });
        while p.handle().signals().queued < 2 {
            std::thread::yield_now(); // until the thread is in the queue
        }
        release.wait();
        assert_eq!(holder.join().unwrap(), Ok(0));
        // the slot is the async waiter's: the sync one still waits
        assert_eq!(queued(&p), (1, 1));
        assert_eq!(poll(&mut a), Poll::Ready(Ok(1)));
        assert_eq!(sync_waiter.join().unwrap(), Ok(2));
    });
    assert_eq!(seen(&log), [0, 1, 2]);
    assert_eq!(queued(&p), (0, 0));
}

#[test]
fn a_panic_in_the_body_hands_the_slot_to_the_next_waiter() {
    let p = Policy::builder("queue-panic")
        .max_inflight(1)
        .queue(1)
        .build()
        .unwrap();
    let (entered, boom) = (Barrier::new(2), Barrier::new(2));
    std::thread::scope(|s| {
        let panicking = s.spawn(|| {
            p.call(|| -> Result<(), Error> {
                entered.wait();
                boom.wait();
                panic!("boom")
            })
        });
        entered.wait();
        let waiter = s.spawn(|| p.call(|| Ok::<_, Error>(7)));
        while p.handle().signals().queued < 1 {
            std::thread::yield_now();
        }
        boom.wait();
        assert!(panicking.join().is_err());
        assert_eq!(waiter.join().unwrap(), Ok(7));
    });
    let s = p.handle().signals();
    assert_eq!(
        (s.inflight, s.queued, s.failures, s.successes),
        (0, 0, 1, 1)
    );
}

/// A blocked sync waiter's bound is read on its thread's mock clock: it gives up when the
/// clock passes it, however long that takes in real time.
#[test]
fn a_sync_waiter_gives_up_at_queue_wait_on_the_mock_clock() {
    let name = "queue-sync-wait";
    let p = Policy::builder(name)
        .max_inflight(1)
        .queue(1)
        .queue_wait(Duration::from_secs(2))
        .build()
        .unwrap();
    let clock = MockClock::new();
    let (entered, release) = (Barrier::new(2), Barrier::new(2));
    std::thread::scope(|s| {
        let holder = s.spawn(|| {
            p.call(|| {
                entered.wait();
                release.wait();
                Ok::<_, Error>(0)
            })
        });
        entered.wait();
        let waiter = s.spawn(|| {
            let _g = clock.install();
            p.call(|| Ok::<_, Error>(1))
        });
        while p.handle().signals().queued < 1 {
            std::thread::yield_now();
        }
        clock.advance(Duration::from_millis(1999));
        assert_eq!(p.handle().signals().queued, 1);
        clock.advance(Duration::from_millis(1));
        assert_eq!(waiter.join().unwrap(), full(name, 1));
        assert_eq!(queued(&p), (1, 0));
        release.wait();
        assert_eq!(holder.join().unwrap(), Ok(0));
    });
    assert_eq!(p.handle().signals().rejections.bulkhead, 1);
}

#[test]
fn the_builder_refuses_a_queue_it_cannot_have() {
    let err = |b: staunch_runtime::PolicyBuilder| b.build().unwrap_err().to_string();
    let b = || Policy::builder("queue-bad");
    assert_eq!(
        err(b().queue(4)),
        "policy `queue-bad`: `queue` needs a bulkhead: set `max_inflight`"
    );
    assert_eq!(
        err(b().max_inflight(1).queue(0)),
        "policy `queue-bad`: `queue` must be between 1 and 1000000"
    );
    assert_eq!(
        err(b().max_inflight(1).queue(1_000_001)),
        "policy `queue-bad`: `queue` must be between 1 and 1000000"
    );
    assert_eq!(
        err(b().max_inflight(1).queue_wait(Duration::from_secs(1))),
        "policy `queue-bad`: `queue_wait` needs a queue: set `queue`"
    );
    assert_eq!(
        err(b().max_inflight(1).queue(1).queue_wait(Duration::ZERO)),
        "policy `queue-bad`: `queue_wait` must be greater than 0"
    );
    let ok = b()
        .max_inflight(1)
        .queue(1_000_000)
        .queue_wait(Duration::from_nanos(1))
        .build()
        .unwrap();
    assert_eq!(ok.config().queue, Some(1_000_000));
    assert_eq!(ok.config().queue_wait, Some(Duration::from_nanos(1)));
}

#[test]
fn the_environment_sets_the_queue() {
    std::env::set_var("STAUNCH_QUEUE_ENV_QUEUE", "7");
    std::env::set_var("STAUNCH_QUEUE_ENV_QUEUE_WAIT", "250ms");
    let p = Policy::builder("queue-env")
        .max_inflight(2)
        .build()
        .unwrap();
    assert_eq!(p.config().queue, Some(7));
    assert_eq!(p.config().queue_wait, Some(Duration::from_millis(250)));
    // a queue for a policy without a bulkhead is refused, and reported
    std::env::set_var("STAUNCH_QUEUE_ENV_NONE_QUEUE", "7");
    let p = Policy::builder("queue-env-none").build().unwrap();
    assert_eq!(p.config().queue, None);
    assert!(staunch_runtime::warnings()
        .iter()
        .any(|w| w.contains("STAUNCH_QUEUE_ENV_NONE_QUEUE")));
}

#[test]
fn a_policy_without_a_queue_still_turns_the_next_call_away_at_once() {
    let p = Policy::builder("queue-none")
        .max_inflight(1)
        .build()
        .unwrap();
    let r = p.call(|| Ok::<_, Error>(p.call(|| Ok::<_, Error>(1))));
    assert_eq!(r, Ok(full("queue-none", 1)));
    assert_eq!(queued(&p), (0, 0));
}

/// A preflight asks whether a call would be admitted at once: a full bulkhead answers
/// `BulkheadFull` even while its queue has room (the call would wait), as a limiter's wait
/// for a token counts as a rejection. Taking nothing, it leaves the queue as it was.
#[tokio::test(start_paused = true)]
async fn a_preflight_of_a_full_bulkhead_with_room_in_its_queue_is_a_rejection() {
    let p = Policy::builder("q-preflight")
        .max_inflight(1)
        .queue(2)
        .build()
        .unwrap();
    let h = p.handle();
    assert_eq!(h.preflight(), Ok(()));
    let log = log();
    let (mut first, release) = held(&p, 1, &log);
    assert!(poll(&mut first).is_pending());
    assert_eq!(
        h.preflight(),
        Err(Error::BulkheadFull {
            policy: "q-preflight".into(),
            limit: 1
        })
    );
    // the queue still has both places: two callers wait in it
    let mut second = quick(&p, 2, &log);
    let mut third = quick(&p, 3, &log);
    assert!(poll(&mut second).is_pending() && poll(&mut third).is_pending());
    assert_eq!(h.signals().queued, 2);
    drop(release);
    assert_eq!(first.await, Ok(1));
    assert_eq!((second.await, third.await), (Ok(2), Ok(3)));
    assert_eq!(h.preflight(), Ok(()));
}
