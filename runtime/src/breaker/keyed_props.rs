//! The keyed breaker against a reference model, a map of per-key breakers (the plain breaker,
//! checked on its own in `props.rs`) and one shared overflow breaker: many keys, more than
//! `max_keys`, with attempts that overlap, succeed, fail or are dropped, the clock moving and
//! resets. Every verdict and every key's state is the model's; a key is forgotten only while
//! its breaker is idle with nothing in flight (no state is ever lost); never more than
//! `max_keys` slots; and a new key shares the overflow breaker only when every slot is taken
//! and none can be reused.

use std::cell::Cell;
use std::collections::HashMap;
use std::time::Duration;

use proptest::prelude::*;

use super::keyed::KeyedBreakers;
use super::{Breaker, BreakerState, CircuitState, Pass};
use crate::clock::Nanos;

thread_local! {
    static NOW: Cell<Nanos> = const { Cell::new(1) };
}
fn clock() -> Nanos {
    NOW.with(Cell::get)
}

const COOLDOWN: Nanos = 1_000_000_000;

#[derive(Clone, Debug)]
enum Op {
    Begin(u64),
    /// Ends the held attempt at this index (modulo): 0 a success, 1 a failure, 2 dropped.
    End(usize, u8),
    Advance(Nanos),
    Reset,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..8u64).prop_map(Op::Begin),
        6 => (any::<usize>(), 0..3u8).prop_map(|(i, how)| Op::End(i, how)),
        2 => (0..1_500u64).prop_map(|ms| Op::Advance(ms * 1_000_000)),
        1 => Just(Op::Reset),
    ]
}

/// One key's breaker in the model, and its attempts in flight.
struct Key {
    breaker: BreakerState,
    inflight: u32,
}

impl Key {
    fn new(cfg: Breaker) -> Self {
        Key {
            breaker: BreakerState::new(cfg),
            inflight: 0,
        }
    }

    fn reusable(&self, now: Nanos) -> bool {
        self.inflight == 0 && self.breaker.is_idle(now)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn the_keyed_breaker_is_a_bounded_map_of_breakers(
        threshold in 1..4u32,
        half_open in 1..3u32,
        max_keys in 1..5u32,
        ops in proptest::collection::vec(op(), 1..300),
    ) {
        NOW.with(|n| n.set(1));
        let cfg = Breaker::new()
            .threshold(threshold)
            .half_open(half_open)
            .cooldown(Duration::from_nanos(COOLDOWN));
        let k = KeyedBreakers::new(cfg.keyed().max_keys(max_keys), None);
        let mut keys: HashMap<u64, Key> = HashMap::new();
        let mut overflow = Key::new(cfg);
        // attempts in flight: the model's key (`None`: the overflow), the real pass, the model's
        let mut held: Vec<(Option<u64>, Pass, Pass)> = Vec::new();
        for op in ops {
            let now = clock();
            match op {
                Op::Advance(d) => NOW.with(|n| n.set(now + d)),
                Op::Reset => {
                    k.reset(now);
                    for m in keys.values().chain([&overflow]) {
                        m.breaker.reset(now);
                    }
                }
                Op::Begin(key) => {
                    let real = k.admit::<true>(key, &mut clock);
                    // the keys the real store forgot (one may have given its slot to `key`)
                    forget(&k, &mut keys, now)?;
                    let owner = if k.slot_of(key).is_some() {
                        keys.entry(key).or_insert_with(|| Key::new(cfg));
                        Some(key)
                    } else {
                        prop_assert_eq!(k.taken(), max_keys as usize, "overflow below the bound");
                        prop_assert!(
                            keys.values().all(|m| !m.reusable(now)),
                            "overflow while a slot could be reused"
                        );
                        None
                    };
                    let m = owner.map_or(&mut overflow, |key| keys.get_mut(&key).unwrap());
                    let model = m.breaker.admit::<true>(clock);
                    prop_assert_eq!(real.is_ok(), model.is_ok(), "key {} ({:?})", key, owner);
                    if let (Ok(real), Ok(model)) = (real, model) {
                        prop_assert!(matches!(real, Pass::Keyed(_)));
                        m.inflight += 1;
                        held.push((owner, real, model));
                    }
                }
                Op::End(i, how) => {
                    if held.is_empty() {
                        continue;
                    }
                    let (owner, real, model) = held.swap_remove(i % held.len());
                    let Pass::Keyed(x) = real else { unreachable!() };
                    let m = owner.map_or(&mut overflow, |key| keys.get_mut(&key).unwrap());
                    m.inflight -= 1;
                    match how {
                        0 => {
                            k.record(x, |b, p| b.success(p, 0, clock));
                            m.breaker.success(model, 0, clock);
                        }
                        1 => {
                            k.record(x, |b, p| b.failure(p, 0, now));
                            m.breaker.failure(model, 0, now);
                        }
                        _ => {
                            k.record(x, BreakerState::release);
                            m.breaker.release(model);
                        }
                    }
                }
            }
            let now = clock();
            forget(&k, &mut keys, now)?;
            prop_assert!(k.taken() <= max_keys as usize);
            prop_assert_eq!(k.len(), keys.len());
            for (&key, m) in &keys {
                prop_assert_eq!(k.state_of(key, now), Some(m.breaker.state(now)), "key {}", key);
                prop_assert_eq!(k.inflight(key), m.inflight, "key {}", key);
            }
            prop_assert_eq!(k.overflow_state(now), overflow.breaker.state(now));
            let open = keys
                .values()
                .chain([&overflow])
                .filter(|m| m.breaker.state(now) != CircuitState::Closed)
                .count();
            prop_assert_eq!(k.open_keys(now), open);
        }
    }
}

/// Removes from the model the keys the real store no longer remembers, which must have held
/// nothing: an idle breaker, no attempt in flight.
fn forget(
    k: &KeyedBreakers,
    keys: &mut HashMap<u64, Key>,
    now: Nanos,
) -> Result<(), TestCaseError> {
    let gone: Vec<u64> = keys
        .keys()
        .copied()
        .filter(|&key| k.slot_of(key).is_none())
        .collect();
    for key in gone {
        prop_assert!(
            keys[&key].reusable(now),
            "key {} forgotten while it held something",
            key
        );
        keys.remove(&key);
    }
    Ok(())
}
