//! Model checks of the parts' atomic protocols, under every interleaving `loom` explores:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" cargo test -p staunch-runtime --lib --release loom_
//! ```
//!
//! Each model builds a part directly (no registry, no clock: times are plain numbers), runs it
//! from two threads, and checks an invariant a user relies on.

use std::time::Duration;

use loom::sync::Arc;
use loom::thread;

use crate::breaker::window::{Window, CALL, FAILED, SLOW};
use crate::breaker::{BreakerState, Pass};
use crate::bulkhead::Bulkhead;
use crate::limiter::Limiter;
use crate::{Breaker, CircuitState};

const SEC: u64 = 1_000_000_000;

/// A bulkhead of one slot never has two calls inside, and every slot comes back.
#[test]
fn loom_a_bulkhead_never_holds_more_than_its_limit() {
    loom::model(|| {
        let b = Arc::new(Bulkhead::new(Some(1)));
        let inside = Arc::new(loom::sync::atomic::AtomicUsize::new(0));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let (b, inside) = (b.clone(), inside.clone());
                thread::spawn(move || {
                    if let Ok(slot) = b.enter() {
                        let was = inside.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        assert_eq!(was, 0, "two calls inside a bulkhead of one");
                        inside.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                        drop(slot);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(b.inflight(), 0);
    });
}

/// Two callers arriving at a breaker whose cooldown has passed: with `half_open = 1`, exactly
/// one trial gets through, whichever turns the breaker half-open.
#[test]
fn loom_a_half_open_breaker_lets_through_at_most_its_trials() {
    loom::model(|| {
        let b = Arc::new(BreakerState::new(
            Breaker::new()
                .threshold(1)
                .cooldown(Duration::from_secs(1))
                .half_open(1),
        ));
        b.failure(Pass::Closed, 0, 0); // opens at 0, half-open from 1 s
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let b = b.clone();
                thread::spawn(move || b.admit::<true>(|| 2 * SEC).ok())
            })
            .collect();
        let trials: Vec<Pass> = threads
            .into_iter()
            .filter_map(|t| t.join().unwrap())
            .collect();
        assert_eq!(trials.len(), 1, "{trials:?}");
    });
}

/// Three callers arriving at a breaker whose cooldown has passed, with `half_open = 2`: exactly
/// two trials get through, whichever of them turns the breaker half-open, and when the two
/// succeed the breaker is closed (bounded: loom explores up to three preemptions).
#[test]
fn loom_three_callers_of_a_half_open_breaker_get_exactly_its_trials() {
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(3);
    model.check(|| {
        let b = Arc::new(BreakerState::new(
            Breaker::new()
                .threshold(1)
                .cooldown(Duration::from_secs(1))
                .half_open(2),
        ));
        b.failure(Pass::Closed, 0, 0); // opens at 0, half-open from 1 s
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let b = b.clone();
                thread::spawn(move || b.admit::<true>(|| 2 * SEC).ok())
            })
            .collect();
        let trials: Vec<Pass> = threads
            .into_iter()
            .filter_map(|t| t.join().unwrap())
            .collect();
        assert_eq!(trials.len(), 2, "{trials:?}");
        for pass in trials {
            b.success(pass, 0, || 0);
        }
        assert_eq!(b.state(3 * SEC), CircuitState::Closed);
    });
}

/// Two callers at a bucket of one token: exactly one is admitted without waiting.
#[test]
fn loom_a_bucket_of_one_admits_one() {
    loom::model(|| {
        let l = Arc::new(Limiter::new(1.0, Duration::from_secs(1), 1, false));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let l = l.clone();
                thread::spawn(move || l.take::<true>(0, SEC, 1, 0).is_ok())
            })
            .collect();
        let admitted = threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .filter(|ok| *ok)
            .count();
        assert_eq!(admitted, 1);
    });
}

/// Two trials of one half-open period fail at 12 s and 20 s, in either order: the breaker
/// re-opens once, and its cooldown starts at the failure that re-opened it, whatever the other
/// does after.
#[test]
fn loom_a_late_trial_cannot_move_a_later_cooldown() {
    loom::model(|| {
        let b = Arc::new(BreakerState::new(
            Breaker::new()
                .threshold(1)
                .cooldown(Duration::from_secs(10))
                .half_open(2),
        ));
        b.failure(Pass::Closed, 0, 0);
        let first = b.admit::<true>(|| 11 * SEC).unwrap();
        let second = b.admit::<true>(|| 11 * SEC).unwrap();
        let threads: Vec<_> = [(first, 12 * SEC), (second, 20 * SEC)]
            .into_iter()
            .map(|(pass, at)| {
                let b = b.clone();
                thread::spawn(move || b.failure(pass, 0, at))
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        // open until 22 s or 30 s, by which failed first; never a mix of the two
        let state_at = |t: u64| b.state(t);
        let (open_until_22, open_until_30) = (
            state_at(22 * SEC) == CircuitState::HalfOpen,
            state_at(30 * SEC) == CircuitState::HalfOpen,
        );
        assert!(open_until_30, "the cooldown of a re-open ends by 30 s");
        if open_until_22 {
            assert_eq!(state_at(22 * SEC - 1), CircuitState::Open);
        } else {
            assert_eq!(state_at(30 * SEC - 1), CircuitState::Open);
        }
        // one re-open: a single trial is let through afterwards
        assert!(b.admit::<true>(|| 30 * SEC).is_ok());
        assert!(b.admit::<true>(|| 30 * SEC).is_ok());
        assert!(b.admit::<true>(|| 30 * SEC).is_err(), "two trials at most");
    });
}

/// A trial answers late (or is dropped, giving its slot back) while the breaker forfeits its
/// period (half-open too long) and a trial of the next period takes the slot: the late trial
/// changes nothing, and the next period never has more than its one trial at a time.
#[test]
fn loom_a_forfeited_trial_slot_is_neither_leaked_nor_given_back_twice() {
    for answers in [true, false] {
        loom::model(move || forfeit_race(answers));
    }
}

fn forfeit_race(answers: bool) {
    let b = Arc::new(BreakerState::new(
        Breaker::new()
            .threshold(1)
            .cooldown(Duration::from_secs(1))
            .half_open(1)
            .max_half_open(Duration::from_secs(5)),
    ));
    b.failure(Pass::Closed, 0, 0);
    let trial = b.admit::<true>(|| SEC).unwrap();
    let late = {
        let b = b.clone();
        thread::spawn(move || {
            if answers {
                b.success(trial, 0, || 0);
            } else {
                b.release(trial); // its future dropped
            }
        })
    };
    let next = {
        let b = b.clone();
        thread::spawn(move || {
            // 6 s: half-open for 5 s; then 7 s: the cooldown is over
            let at_6 = b.admit::<true>(|| 6 * SEC).is_ok();
            (at_6, b.admit::<true>(|| 7 * SEC))
        })
    };
    late.join().unwrap();
    let (passed_at_6, at_7) = next.join().unwrap();
    if passed_at_6 {
        // the success closed it first: the calls pass as closed calls
        assert!(answers);
        assert_eq!(b.state(7 * SEC), CircuitState::Closed);
        return;
    }
    // forfeited at 6 s (or still half-open with the slot given back); at 7 s one trial holds
    // the one slot, whenever the late trial ended
    let held = at_7.expect("the slot is free again");
    assert!(b.admit::<true>(|| 7 * SEC).is_err(), "one trial at a time");
    b.release(held);
    assert!(b.admit::<true>(|| 7 * SEC).is_ok(), "and it came back once");
}

/// A trial closes the breaker while a call let through by the newly closed breaker fails: one
/// failure after closing never re-opens a breaker whose threshold is two (the count of the
/// period before must be gone before the breaker reads closed).
#[test]
fn loom_closing_resets_the_count_before_a_closed_failure_can_see_it() {
    loom::model(|| {
        let b = Arc::new(BreakerState::new(
            Breaker::new()
                .threshold(2)
                .cooldown(Duration::from_secs(1))
                .half_open(1),
        ));
        b.failure(Pass::Closed, 0, 0);
        b.failure(Pass::Closed, 0, 0);
        let trial = b.admit::<true>(|| SEC).unwrap();
        let closer = {
            let b = b.clone();
            thread::spawn(move || b.success(trial, 0, || 0))
        };
        let caller = {
            let b = b.clone();
            thread::spawn(move || {
                if let Ok(Pass::Closed) = b.admit::<true>(|| SEC) {
                    b.failure(Pass::Closed, 0, SEC);
                }
            })
        };
        closer.join().unwrap();
        caller.join().unwrap();
        assert_eq!(b.state(SEC), CircuitState::Closed);
        assert!(b.consecutive_failures() <= 1);
    });
}

/// A caller that waits (blocking) for the one slot while its holder gives it back: whichever
/// comes first (the holder's subtraction or the waiter's waiting bit), the slot reaches the
/// waiter, and afterwards the bulkhead is empty, its bit clear, nothing lost.
#[test]
fn loom_a_slot_given_back_as_a_caller_queues_reaches_it() {
    use crate::bulkhead::Joined;
    loom::model(|| {
        let b = Arc::new(Bulkhead::with_queue(1, 1, None));
        let holder = {
            let b = b.clone();
            thread::spawn(move || drop(b.enter().ok()))
        };
        let waiter = {
            let b = b.clone();
            thread::spawn(move || {
                let slot = match b.enter() {
                    Ok(slot) => Some(slot),
                    Err(_) => match b.join(None) {
                        Joined::Entered(slot) => Some(slot),
                        Joined::Waiting(id) => b.wait_ticket(id, 0),
                        Joined::Full(_) => None,
                    },
                };
                assert!(slot.is_some(), "the waiter never had the slot");
            })
        };
        holder.join().unwrap();
        waiter.join().unwrap();
        assert_eq!((b.inflight(), b.queued()), (0, 0));
        assert!(
            b.enter().is_ok(),
            "a slot lost, or the waiting bit left set"
        );
    });
}

/// A waiter that gives up (its future dropped) while the holder gives the slot back: a slot
/// handed to it just before goes on, never lost.
#[test]
fn loom_a_waiter_that_leaves_as_the_slot_is_handed_to_it_loses_nothing() {
    use crate::bulkhead::Joined;
    loom::model(|| {
        let b = Arc::new(Bulkhead::with_queue(1, 2, None));
        let slot = b.enter().unwrap();
        let Joined::Waiting(id) = b.join(None) else {
            panic!("the slot is held: the caller waits")
        };
        let leaver = {
            let b = b.clone();
            thread::spawn(move || b.leave(id))
        };
        drop(slot);
        leaver.join().unwrap();
        assert_eq!((b.inflight(), b.queued()), (0, 0));
        assert!(
            b.enter().is_ok(),
            "a slot lost, or the waiting bit left set"
        );
    });
}

/// A newcomer arriving as the holder gives the slot back, while a caller waits: the slot is
/// the waiter's, never the newcomer's.
#[test]
fn loom_a_newcomer_never_barges_in_ahead_of_a_waiter() {
    use crate::bulkhead::Joined;
    loom::model(|| {
        let b = Arc::new(Bulkhead::with_queue(1, 2, None));
        let slot = b.enter().unwrap();
        let Joined::Waiting(id) = b.join(None) else {
            panic!("the slot is held: the caller waits")
        };
        let newcomer = {
            let b = b.clone();
            thread::spawn(move || b.enter().is_ok())
        };
        drop(slot);
        let mine = b.wait_ticket(id, 0);
        assert!(mine.is_some(), "the waiter never had the slot");
        assert!(!newcomer.join().unwrap(), "a newcomer barged in");
        drop(mine);
        assert_eq!((b.inflight(), b.queued()), (0, 0));
    });
}

/// Two recordings into the same slot of a failure-rate breaker's ring (a window of one call,
/// so that the second laps the first), while a third thread empties the window: once they are
/// done, the sums the ring keeps in one word are the sums of its slots, whatever the order of
/// their swaps and adds (bounded: loom explores up to three preemptions).
#[test]
fn loom_the_ring_sums_are_its_slots_sums() {
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(3);
    model.check(|| {
        let w = Arc::new(Window::calls(1));
        w.record(CALL, 0);
        let threads: Vec<_> = [CALL | FAILED, CALL | SLOW]
            .into_iter()
            .map(|o| {
                let w = w.clone();
                thread::spawn(move || {
                    w.record(o, 0);
                })
            })
            .collect();
        let clearer = {
            let w = w.clone();
            thread::spawn(move || w.clear())
        };
        for t in threads {
            t.join().unwrap();
        }
        clearer.join().unwrap();
        assert_eq!(w.sums(0), w.slot_sums());
    });
}

/// Two recordings into an empty ring of two slots, while a third reads the sums: the reader
/// never sees more calls than were recorded nor a failure without its call, and at the end
/// both recordings are counted.
#[test]
fn loom_concurrent_recordings_are_all_counted() {
    loom::model(|| {
        let w = Arc::new(Window::calls(2));
        let threads: Vec<_> = [CALL | FAILED, CALL]
            .into_iter()
            .map(|o| {
                let w = w.clone();
                thread::spawn(move || {
                    w.record(o, 0);
                })
            })
            .collect();
        let seen = w.sums(0);
        assert!(seen.calls <= 2 && seen.failures <= seen.calls, "{seen:?}");
        for t in threads {
            t.join().unwrap();
        }
        let s = w.sums(0);
        assert_eq!((s.calls, s.failures, s.slow), (2, 1, 0));
    });
}

/// Two recordings into one time bucket, one of them the first of a new lap (it starts the
/// bucket afresh): whichever comes first, the bucket ends with the new lap's calls only, and
/// none of them is lost.
#[test]
fn loom_a_time_bucket_starts_afresh_once_and_counts_both() {
    loom::model(|| {
        // ten buckets of 1 s: the bucket of second 0 is reused at second 10
        let w = Arc::new(Window::time(Duration::from_secs(10)));
        w.record(CALL | FAILED, 0);
        let threads: Vec<_> = [CALL, CALL | SLOW]
            .into_iter()
            .map(|o| {
                let w = w.clone();
                thread::spawn(move || {
                    w.record(o, 10 * SEC);
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let s = w.sums(10 * SEC);
        assert_eq!((s.calls, s.failures, s.slow), (2, 0, 1));
    });
}

/// Two functions' copies record latencies into a hedge's window of four at once, the last one
/// relearning the quantile: every sample is counted, and the learned delay is always one of
/// the samples recorded (a slot not yet written is skipped, never read as a latency).
#[test]
fn loom_a_learned_hedge_delay_is_always_a_recorded_sample() {
    use crate::hedge::Learned;
    loom::model(|| {
        let l = Arc::new(Learned::new(4));
        let threads: Vec<_> = [[10, 20], [30, 40]]
            .into_iter()
            .map(|samples| {
                let l = l.clone();
                thread::spawn(move || {
                    for s in samples {
                        l.record(s, 0.5);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let d = l.delay().expect("four samples fill a window of four");
        assert!([10, 20, 30, 40].contains(&d), "learned {d}");
    });
}

/// A keyed breaker of one key's room: an attempt of the old key (admitted, then failing)
/// against a new key that would reuse the old key's slot. The failure lands on the old key's
/// breaker (which is then open, and remembered) or on the overflow's, exactly one of them,
/// never on the new key's: a slot is reused only under its shard's lock, with no attempt in
/// flight through it.
#[test]
fn loom_a_keyed_outcome_never_lands_on_a_reused_slot() {
    use crate::breaker::keyed::KeyedBreakers;
    loom::model(|| {
        let cfg = Breaker::new().threshold(1).cooldown(Duration::from_secs(1));
        let k = Arc::new(KeyedBreakers::new(cfg.keyed().max_keys(1), None));
        // key 1 takes the only slot, and leaves it idle
        let Ok(Pass::Keyed(x)) = k.admit::<true>(1, &mut || 0) else {
            panic!("a new key passes")
        };
        k.record(x, |b, p| b.success(p, 0, || 0));
        let old = {
            let k = k.clone();
            thread::spawn(move || {
                let Ok(Pass::Keyed(x)) = k.admit::<true>(1, &mut || 0) else {
                    panic!("a closed breaker passes")
                };
                k.record(x, |b, p| b.failure(p, 0, 0));
            })
        };
        let new = {
            let k = k.clone();
            thread::spawn(move || {
                if let Ok(Pass::Keyed(x)) = k.admit::<true>(2, &mut || 0) {
                    k.record(x, |b, p| b.success(p, 0, || 0));
                }
            })
        };
        old.join().unwrap();
        new.join().unwrap();
        let on_old = k.state_of(1, 0) == Some(CircuitState::Open);
        let on_overflow = k.overflow_state(0) == CircuitState::Open;
        assert!(on_old != on_overflow, "the failure landed on one breaker");
        assert_ne!(
            k.state_of(2, 0),
            Some(CircuitState::Open),
            "never on the new key's"
        );
        assert_eq!((k.inflight(1), k.inflight(2)), (0, 0));
    });
}
