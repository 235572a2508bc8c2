//! The operator's handle: its name, what a preflight answers (breaker, limiter, bulkhead), and
//! the process-wide snapshot.

use std::time::Duration;

use staunch_runtime::attempt::{key_hash, Req, Step};
use staunch_runtime::{policy, snapshot, Breaker, Class, Error, MockClock, Policy};

#[test]
fn a_handle_is_named_after_its_policy() {
    Policy::builder("handles-name").build().unwrap();
    assert_eq!(policy("handles-name").unwrap().name(), "handles-name");
    let unnamed = Policy::unnamed("handles-name").build().unwrap();
    assert_eq!(unnamed.handle().name(), "handles-name#2");
}

#[test]
fn a_preflight_reports_an_open_breaker_with_the_time_left() {
    let clock = MockClock::new();
    let _g = clock.install();
    let p = Policy::builder("handles-open")
        .breaker(
            Breaker::new()
                .threshold(1)
                .cooldown(Duration::from_secs(30)),
        )
        .build()
        .unwrap();
    let h = policy("handles-open").unwrap();
    assert_eq!(h.preflight(), Ok(()));
    let down = Error::Timeout {
        policy: "upstream".into(),
        after: Duration::ZERO,
    };
    assert_eq!(p.call(|| Err::<(), _>(down.clone())), Err(down));
    let open = |retry_in| {
        Err(Error::CircuitOpen {
            policy: "handles-open".into(),
            retry_in,
        })
    };
    assert_eq!(h.preflight(), open(Duration::from_secs(30)));
    clock.advance(Duration::from_secs(10));
    assert_eq!(h.preflight(), open(Duration::from_secs(20)));
    assert_eq!(
        h.preflight_key(key_hash("anyone")),
        open(Duration::from_secs(20))
    );
    clock.advance(Duration::from_secs(20));
    assert_eq!(h.preflight(), Ok(()), "a trial would be let through");
    // forced open: held open, whatever the time
    h.force_open();
    clock.advance(Duration::from_secs(60));
    assert!(matches!(h.preflight(), Err(Error::CircuitOpen { .. })));
    h.reset();
    assert_eq!(h.preflight(), Ok(()));
}

#[test]
fn a_preflight_reports_an_empty_bucket_and_takes_nothing() {
    let clock = MockClock::new();
    let _g = clock.install();
    let p = Policy::builder("handles-rate").rps(1.0).build().unwrap();
    let h = p.handle();
    assert_eq!(h.preflight(), Ok(()));
    assert_eq!(h.preflight(), Ok(()), "a preflight takes no token");
    assert_eq!(p.call(|| Ok::<_, Error>(())), Ok(()));
    assert_eq!(
        h.preflight(),
        Err(Error::RateLimited {
            policy: "handles-rate".into(),
            retry_after: Duration::from_secs(1),
        })
    );
}

#[test]
fn a_keyed_preflight_looks_at_that_key_only() {
    let clock = MockClock::new();
    let _g = clock.install();
    let p = Policy::builder("handles-keyed")
        .rps(1.0)
        .keyed()
        .build()
        .unwrap();
    let (alice, bob) = (key_hash("alice"), key_hash("bob"));
    let mut call = p.begin::<Result<(), Error>>(|_| Class::DEFAULT);
    assert_eq!(
        call.attempt_sync(Req::new().key(alice), || Ok(())),
        Step::Done(Ok(()))
    );
    let h = p.handle();
    assert_eq!(
        h.preflight_key(alice),
        Err(Error::RateLimited {
            policy: "handles-keyed".into(),
            retry_after: Duration::from_secs(1),
        })
    );
    assert_eq!(h.preflight_key(bob), Ok(()));
}

#[test]
fn a_preflight_reports_a_full_bulkhead_with_its_limit() {
    let p = Policy::builder("handles-bulkhead")
        .max_inflight(2)
        .build()
        .unwrap();
    let h = p.handle();
    assert_eq!(h.preflight(), Ok(()));
    let (one_in, two_in) = p
        .call(|| {
            let one_in = h.preflight();
            let two_in = p.call(|| Ok::<_, Error>(h.preflight()))?;
            Ok::<_, Error>((one_in, two_in))
        })
        .unwrap();
    assert_eq!(one_in, Ok(()), "one call of two in flight");
    assert_eq!(
        two_in,
        Err(Error::BulkheadFull {
            policy: "handles-bulkhead".into(),
            limit: 2,
        })
    );
    assert_eq!(h.preflight(), Ok(()), "both slots are back");
}

#[test]
fn a_policy_without_a_bulkhead_is_never_full() {
    let p = Policy::builder("handles-no-bulkhead").build().unwrap();
    let h = p.handle();
    let inside = p
        .call(|| p.call(|| Ok::<_, Error>((h.preflight(), h.signals().inflight))))
        .unwrap();
    assert_eq!(inside, (Ok(()), 2));
}

#[test]
fn a_snapshot_lists_every_policy_in_name_order() {
    Policy::builder("handles-snap-b").build().unwrap();
    let a = Policy::builder("handles-snap-a")
        .max_inflight(3)
        .build()
        .unwrap();
    assert_eq!(a.call(|| Ok::<_, Error>(())), Ok(()));
    let all = snapshot();
    let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);
    let ours: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| n.starts_with("handles-snap-"))
        .collect();
    assert_eq!(ours, ["handles-snap-a", "handles-snap-b"]);
    let (_, signals) = all.iter().find(|(n, _)| n == "handles-snap-a").unwrap();
    assert_eq!((signals.successes, signals.inflight), (1, 0));
}
