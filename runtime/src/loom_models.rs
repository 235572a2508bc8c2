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

use crate::breaker::{BreakerState, Pass};
use crate::bulkhead::Bulkhead;
use crate::limiter::Limiter;
use crate::Breaker;

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
        b.failure(Pass::Closed, 0); // opens at 0, half-open from 1 s
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
