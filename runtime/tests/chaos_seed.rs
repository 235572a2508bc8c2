//! `STAUNCH_CHAOS_SEED`: every policy's chaos seeded for a reproducible run, mixed with its
//! name. A binary of its own: the variable is process-wide.

#![cfg(feature = "chaos")]

use staunch_runtime::{warnings, Chaos, Error, Policy};

fn faults(p: &Policy) -> Vec<bool> {
    (0..200)
        .map(|_| p.call(|| Ok::<_, Error>(())).is_err())
        .collect()
}

#[test]
fn the_global_seed_reproduces_a_run_and_sets_policies_apart() {
    std::env::set_var("STAUNCH_CHAOS_SEED", "not a number");
    let random = Policy::builder("chaos-seed-bad")
        .chaos(Chaos::new().error(0.5))
        .build()
        .unwrap();
    assert_eq!(random.config().chaos.unwrap().seed, None);
    assert!(warnings().contains(
        &"ignoring STAUNCH_CHAOS_SEED=\"not a number\": expected a whole number; drawing a random seed"
            .to_owned()
    ));

    std::env::set_var("STAUNCH_CHAOS_SEED", "1234");
    // it overrides the code's seed, mixed with the name
    let chaos = Chaos::new().error(0.5).seed(1);
    let a = Policy::builder("chaos-seed-a")
        .chaos(chaos)
        .build()
        .unwrap();
    let b = Policy::builder("chaos-seed-b")
        .chaos(chaos)
        .build()
        .unwrap();
    let seed = a.config().chaos.unwrap().seed.unwrap();
    assert_ne!(seed, 1);
    assert_ne!(
        b.config().chaos.unwrap().seed,
        Some(seed),
        "each name its own"
    );
    let (run, other) = (faults(&a), faults(&b));
    assert_ne!(run, other, "two policies do not fail in step");
    // the seed a run reports replays it
    std::env::remove_var("STAUNCH_CHAOS_SEED");
    let replay = Policy::builder("chaos-seed-replay")
        .chaos(Chaos::new().error(0.5).seed(seed))
        .build()
        .unwrap();
    assert_eq!(faults(&replay), run);
}
