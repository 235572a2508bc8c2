//! The bulkhead against a counter, over random sequences of calls that start, succeed, fail,
//! panic and are dropped mid-flight, with limits from the edges of what the builder accepts.
//!
//! The reference: a call is turned away exactly when `limit` calls are in flight, and every way
//! out (success, error, panic, a dropped future) gives its slot back, so the policy's
//! `inflight` always equals the number of calls started and not yet ended.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use proptest::prelude::*;
use staunch_runtime::{Error, Policy};

#[derive(Clone, Copy, Debug)]
enum End {
    Ok,
    Err,
    Panic,
}

#[derive(Clone, Debug)]
enum Op {
    /// A call starts (and is turned away, or holds a slot until it ends).
    Start,
    /// The n-th call in flight (modulo their number) ends this way.
    End(usize, End),
    /// The n-th call in flight is dropped before it ends.
    Drop(usize),
}

/// A body that waits until its end is set.
struct Body(Rc<Cell<Option<End>>>);

impl Future for Body {
    type Output = Result<(), Error>;
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
        match self.0.get() {
            None => Poll::Pending,
            Some(End::Ok) => Poll::Ready(Ok(())),
            Some(End::Err) => Poll::Ready(Err(Error::Timeout {
                policy: "upstream".into(),
                after: std::time::Duration::ZERO,
            })),
            Some(End::Panic) => panic!("the body panicked"),
        }
    }
}

type Call = Pin<Box<dyn Future<Output = Result<(), Error>>>>;

fn poll(call: &mut Call) -> std::thread::Result<Poll<Result<(), Error>>> {
    let mut cx = Context::from_waker(Waker::noop());
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| call.as_mut().poll(&mut cx)))
}

fn limit() -> impl Strategy<Value = usize> {
    prop_oneof![
        Just(1usize),
        Just(2),
        1usize..8,
        Just(usize::MAX - 1),
        Just(usize::MAX)
    ]
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let end = prop_oneof![Just(End::Ok), Just(End::Err), Just(End::Panic)];
    let op = prop_oneof![
        3 => Just(Op::Start),
        2 => (any::<usize>(), end).prop_map(|(i, e)| Op::End(i, e)),
        1 => any::<usize>().prop_map(Op::Drop),
    ];
    proptest::collection::vec(op, 1..80)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn the_bulkhead_turns_away_exactly_the_calls_past_its_limit(limit in limit(), ops in ops()) {
        let policy = Policy::unnamed("props-bulkhead").max_inflight(limit).build().unwrap();
        let handle = policy.handle();
        let mut flying: Vec<(Call, Rc<Cell<Option<End>>>)> = Vec::new();
        for op in ops {
            match op {
                Op::Start => {
                    let end = Rc::new(Cell::new(None));
                    let body = end.clone();
                    let p = policy.clone();
                    let mut call: Call = Box::pin(async move {
                        p.call_async(|| Body(body.clone())).await
                    });
                    let first = poll(&mut call).expect("a call that has not started cannot panic");
                    if flying.len() == limit {
                        prop_assert_eq!(
                            first,
                            Poll::Ready(Err(Error::BulkheadFull {
                                policy: policy.name().to_owned(),
                                limit
                            }))
                        );
                    } else {
                        prop_assert_eq!(first, Poll::Pending);
                        flying.push((call, end));
                    }
                }
                Op::End(i, how) if !flying.is_empty() => {
                    let (mut call, end) = flying.remove(i % flying.len());
                    end.set(Some(how));
                    match (how, poll(&mut call)) {
                        (End::Ok, Ok(Poll::Ready(r))) => prop_assert_eq!(r, Ok(())),
                        (End::Err, Ok(Poll::Ready(r))) => prop_assert!(r.is_err()),
                        (End::Panic, Err(_)) => {}
                        (how, other) => prop_assert!(false, "{how:?} ended as {other:?}"),
                    }
                }
                Op::Drop(i) if !flying.is_empty() => {
                    drop(flying.remove(i % flying.len()));
                }
                Op::End(..) | Op::Drop(_) => {}
            }
            prop_assert_eq!(handle.signals().inflight, flying.len());
        }
        flying.clear();
        prop_assert_eq!(handle.signals().inflight, 0);
    }
}
