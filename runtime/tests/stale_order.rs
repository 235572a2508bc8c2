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

/// Regression: answers of one instant (a frozen clock) evicted the wrong one: the record of a
/// replaced answer, at the same time as the current one, was taken for it.
#[test]
fn a_replaced_answer_of_the_same_instant_is_not_evicted_in_place_of_the_oldest() {
    let clock = staunch_runtime::MockClock::new();
    let _g = clock.install(); // time stands still
    let cache = staunch_runtime::Stale::new(2, std::time::Duration::from_secs(60));
    let ok = |key: u64, v: &'static str| cache.settle_sync(key, Ok::<_, ()>(v)).unwrap();
    ok(1, "A");
    ok(2, "B");
    ok(1, "A2"); // replaces A: now B is the oldest
    ok(3, "C"); // evicts B
    assert_eq!(cache.settle_sync(1, Err::<&str, ()>(())), Ok("A2"));
    assert_eq!(cache.settle_sync(3, Err::<&str, ()>(())), Ok("C"));
    assert_eq!(cache.settle_sync(2, Err::<&str, ()>(())), Err(()));
}
