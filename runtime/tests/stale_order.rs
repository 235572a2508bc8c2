//! `Stale` evicts the oldest answer first, also among answers remembered at one instant (a
//! mock or paused clock): those go in the order they were remembered.

use std::time::Duration;

use staunch_runtime::{MockClock, Stale};

/// Which of `keys` a cache still answers for.
fn remembered(cache: &Stale, keys: std::ops::RangeInclusive<u64>) -> Vec<u64> {
    keys.filter(|&k| cache.settle_sync(k, Err::<u64, ()>(())).is_ok())
        .collect()
}

/// Remembers `key` once more than needed (a record that is replaced at once), then each of
/// `others` in turn, all at one instant, in a cache of `capacity`.
fn fill(capacity: usize, refreshed: u64, others: std::ops::RangeInclusive<u64>) -> Stale {
    let cache = Stale::new(capacity, Duration::from_secs(60));
    for _ in 0..capacity {
        let _ = cache.settle_sync(refreshed, Ok::<_, ()>(refreshed));
    }
    for k in others {
        let _ = cache.settle_sync(k, Ok::<_, ()>(k));
    }
    cache
}

#[test]
fn answers_of_one_instant_are_evicted_in_the_order_they_came() {
    let clock = MockClock::new();
    let _g = clock.install(); // time stands still: every answer is remembered at one instant
                              // many caches, each with its own hash order: an order that depended on it would show
    for _ in 0..32 {
        let two = fill(2, 1, 2..=4);
        assert_eq!(remembered(&two, 1..=4), [3, 4]);
        let three = fill(3, 1, 2..=4);
        assert_eq!(remembered(&three, 1..=4), [2, 3, 4]);
    }
}
