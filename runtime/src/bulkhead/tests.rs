//! The queue against a reference model: any sequence of arrivals, calls that end, waiters
//! dropped and waiters polled leaves the same callers holding slots, waiting and turned away
//! as a plain FIFO would.

use std::collections::VecDeque;
use std::task::{Context, Poll, Waker};

use proptest::prelude::*;

use super::{Bulkhead, Entering, Slot};

#[derive(Clone, Copy, Debug)]
enum Op {
    /// A caller arrives: takes a slot, queues, or is turned away.
    Arrive,
    /// The `n`th caller holding its slot (modulo their number) ends.
    Finish(usize),
    /// The `n`th caller whose future is pending is dropped.
    Cancel(usize),
    /// The `n`th caller whose future is pending is polled.
    Poll(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::Arrive),
        2 => any::<usize>().prop_map(Op::Finish),
        1 => any::<usize>().prop_map(Op::Cancel),
        2 => any::<usize>().prop_map(Op::Poll),
    ]
}

/// The reference: callers by id.
#[derive(Default)]
struct Model {
    /// Holding a slot, with whether it has picked it up (its future returned it).
    holding: Vec<(u32, bool)>,
    waiting: VecDeque<u32>,
    rejected: Vec<u32>,
}

impl Model {
    /// A slot is free: the longest waiter has it (not picked up yet).
    fn free(&mut self) {
        if let Some(next) = self.waiting.pop_front() {
            self.holding.push((next, false));
        }
    }
}

fn poll<'a>(f: &mut Entering<'a>) -> Poll<Result<Slot<'a>, usize>> {
    std::future::Future::poll(
        std::pin::Pin::new(f),
        &mut Context::from_waker(Waker::noop()),
    )
}

proptest! {
    #[test]
    fn the_queue_is_a_fifo(limit in 1_usize..4, capacity in 1_usize..4, ops in proptest::collection::vec(op(), 1..60)) {
        let b = Bulkhead::with_queue(limit, capacity, None);
        let mut model = Model::default();
        let mut slots: Vec<(u32, Slot<'_>)> = Vec::new();
        let mut pending: Vec<(u32, Entering<'_>)> = Vec::new();
        let mut next = 0_u32;
        for op in ops {
            match op {
                Op::Arrive => {
                    let id = next;
                    next += 1;
                    let got = match b.enter() {
                        Ok(slot) => Poll::Ready(Ok(slot)),
                        Err(_) => {
                            let mut f = Entering::new(&b);
                            match poll(&mut f) {
                                Poll::Pending => {
                                    pending.push((id, f));
                                    Poll::Pending
                                }
                                Poll::Ready(r) => Poll::Ready(r),
                            }
                        }
                    };
                    if model.waiting.is_empty() && model.holding.len() < limit {
                        model.holding.push((id, true));
                        let Poll::Ready(Ok(slot)) = got else {
                            panic!("caller {id} should have a slot: {got:?}")
                        };
                        slots.push((id, slot));
                    } else if model.waiting.len() < capacity {
                        model.waiting.push_back(id);
                        prop_assert!(got.is_pending(), "caller {} should wait", id);
                    } else {
                        model.rejected.push(id);
                        prop_assert!(matches!(got, Poll::Ready(Err(l)) if l == limit), "caller {} should be turned away", id);
                    }
                }
                Op::Finish(n) if !slots.is_empty() => {
                    let (id, slot) = slots.remove(n % slots.len());
                    drop(slot);
                    model.holding.retain(|&(h, _)| h != id);
                    model.free();
                }
                Op::Cancel(n) if !pending.is_empty() => {
                    let (id, f) = pending.remove(n % pending.len());
                    drop(f);
                    if let Some(i) = model.waiting.iter().position(|&w| w == id) {
                        model.waiting.remove(i);
                    } else {
                        // handed a slot it never picked up: the slot goes on
                        let before = model.holding.len();
                        model.holding.retain(|&(h, _)| h != id);
                        prop_assert_eq!(model.holding.len() + 1, before);
                        model.free();
                    }
                }
                Op::Poll(n) if !pending.is_empty() => {
                    let i = n % pending.len();
                    let id = pending[i].0;
                    let got = poll(&mut pending[i].1);
                    match model.holding.iter_mut().find(|(h, _)| *h == id) {
                        Some(held) => {
                            held.1 = true;
                            let Poll::Ready(Ok(slot)) = got else {
                                panic!("caller {id} was handed a slot: {got:?}")
                            };
                            // the slot outlives the future that waited for it
                            drop(pending.remove(i));
                            slots.push((id, slot));
                        }
                        None => prop_assert!(got.is_pending(), "caller {} still waits", id),
                    }
                }
                _ => {}
            }
            prop_assert_eq!(b.inflight(), model.holding.len());
            prop_assert_eq!(b.queued(), model.waiting.len());
            prop_assert!(b.inflight() <= limit);
        }
        drop(pending);
        drop(slots);
        prop_assert_eq!((b.inflight(), b.queued()), (0, 0));
        prop_assert!(b.enter().is_ok(), "a slot was lost, or the waiting bit left set");
    }
}
