//! Keyed breakers through the builder: one breaker per key, memory bounded.

use std::time::Duration;

use staunch_runtime::attempt::key_hash;
use staunch_runtime::{Breaker, CircuitState, Error, MockClock, Policy};

fn down() -> Result<(), Error> {
    Err(Error::Timeout {
        policy: "upstream".into(),
        after: Duration::ZERO,
    })
}

fn up() -> Result<(), Error> {
    Ok(())
}

fn keyed(name: &str, b: Breaker) -> Policy {
    Policy::builder(name).breaker(b.keyed()).build().unwrap()
}

fn h_preflight_ok(p: &Policy, key: u64) -> bool {
    p.handle().preflight_key(key).is_ok()
}

fn is_open(r: Result<(), Error>) -> bool {
    matches!(r, Err(Error::CircuitOpen { .. }))
}

#[test]
fn one_keys_failures_never_open_anothers() {
    let clock = MockClock::new();
    let _g = clock.install();
    let p = keyed("kb-independent", Breaker::new().threshold(2));
    let (acme, globex) = (key_hash("acme"), key_hash("globex"));
    assert_eq!(p.call_keyed(acme, down), down());
    assert_eq!(p.call_keyed(globex, down), down());
    assert_eq!(p.call_keyed(acme, down), down());
    // acme opened at its own second failure; globex has one failure and stays closed
    assert!(is_open(p.call_keyed(acme, up)));
    assert_eq!(p.call_keyed(globex, up), Ok(()));
    assert_eq!(
        p.call_keyed(globex, down),
        down(),
        "its success reset its count"
    );
    assert_eq!(p.call_keyed(globex, up), Ok(()));
    let s = p.handle().signals();
    assert_eq!(
        s.circuit,
        CircuitState::Closed,
        "the policy as a whole never opens"
    );
    assert_eq!(s.open_keys, Some(1));
    assert_eq!(s.breaker_keys, Some(2));
    assert!(p.handle().preflight_key(acme).is_err());
    assert!(p.handle().preflight_key(globex).is_ok());
}

#[test]
fn a_keys_breaker_cools_down_and_closes_on_its_own() {
    let clock = MockClock::new();
    let _g = clock.install();
    let p = keyed(
        "kb-cooldown",
        Breaker::new()
            .threshold(1)
            .cooldown(Duration::from_secs(10)),
    );
    let acme = key_hash("acme");
    assert_eq!(p.call_keyed(acme, down), down());
    clock.advance(Duration::from_secs(10) - Duration::from_nanos(1));
    assert!(is_open(p.call_keyed(acme, up)));
    clock.advance(Duration::from_nanos(1));
    assert_eq!(p.handle().signals().open_keys, Some(1), "half-open counts");
    assert_eq!(
        p.call_keyed(acme, up),
        Ok(()),
        "the trial passes and closes it"
    );
    assert_eq!(p.handle().signals().open_keys, Some(0));
}

#[test]
fn only_idle_keys_are_forgotten_and_past_the_bound_new_keys_share_one_breaker() {
    let clock = MockClock::new();
    let _g = clock.install();
    let p = keyed("kb-bound", Breaker::new().threshold(2).max_keys(2));
    let [a, b, c, d] = ["a", "b", "c", "d"].map(key_hash);
    assert_eq!(p.call_keyed(a, down), down());
    assert_eq!(p.call_keyed(a, down), down()); // a: open
    assert_eq!(p.call_keyed(b, down), down()); // b: closed, one failure
    assert_eq!(p.handle().signals().breaker_keys, Some(2));
    // the bound: neither a (open) nor b (a failure counted) may be forgotten, so c and d
    // share the overflow breaker, whose two failures open it for both
    assert_eq!(p.call_keyed(c, down), down());
    assert_eq!(p.call_keyed(d, down), down());
    assert!(is_open(p.call_keyed(c, up)), "stricter, never looser");
    assert_eq!(p.handle().signals().breaker_keys, Some(2));
    assert_eq!(
        p.handle().signals().open_keys,
        Some(2),
        "a and the overflow"
    );
    // b's success leaves nothing to remember: d, new, gets b's slot at once, and a breaker
    // of its own (closed: the overflow's failures are not d's own)
    assert_eq!(p.call_keyed(b, up), Ok(()));
    assert_eq!(
        p.call_keyed(d, up),
        Ok(()),
        "d gets b's room, and its own breaker"
    );
    assert!(
        is_open(p.call_keyed(a, up)),
        "an open key is never forgotten"
    );
    assert_eq!(p.handle().signals().breaker_keys, Some(2));
    // d's success left it idle in turn: b, forgotten, gets d's slot, as new (nothing was
    // lost: b's breaker was idle when it was forgotten)
    assert_eq!(p.call_keyed(b, down), down());
    assert!(
        h_preflight_ok(&p, b),
        "one failure of two: b's own breaker, closed"
    );
    // while c, past the bound with a and b holding something, still shares the open overflow
    assert!(is_open(p.call_keyed(c, up)));
}

#[test]
fn a_preflight_remembers_no_key_and_reset_forgets_them_all() {
    let clock = MockClock::new();
    let _g = clock.install();
    let p = keyed("kb-preflight", Breaker::new().threshold(1));
    assert!(p.handle().preflight_key(key_hash("x")).is_ok());
    assert_eq!(p.handle().signals().breaker_keys, Some(0));
    assert_eq!(p.call_keyed(key_hash("x"), down), down());
    assert!(is_open(p.call_keyed(key_hash("x"), up)));
    p.handle().reset();
    assert_eq!(p.handle().signals().breaker_keys, Some(0));
    assert_eq!(p.call_keyed(key_hash("x"), up), Ok(()));
}

#[test]
fn an_unkeyed_breaker_shows_no_keys() {
    let p = Policy::builder("kb-unkeyed")
        .breaker(Breaker::new())
        .build()
        .unwrap();
    let s = p.handle().signals();
    assert_eq!((s.open_keys, s.breaker_keys), (None, None));
}

#[test]
fn max_keys_is_checked_at_build() {
    for (b, message) in [
        (Breaker::new().max_keys(5), "needs a keyed breaker"),
        (Breaker::new().keyed().max_keys(0), "between 1 and 1000000"),
        (
            Breaker::new().keyed().max_keys(Breaker::MAX_KEYS + 1),
            "between 1 and 1000000",
        ),
    ] {
        let e = Policy::builder("kb-checked")
            .breaker(b)
            .build()
            .unwrap_err();
        assert!(e.to_string().contains(message), "{e}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_dropped_future_releases_its_keys_trial_slot() {
    let p = std::sync::Arc::new(keyed(
        "kb-dropped-trial",
        Breaker::new().threshold(1).cooldown(Duration::from_secs(1)),
    ));
    let (acme, globex) = (key_hash("acme"), key_hash("globex"));
    let r = p.call_async_keyed(acme, || async { down() }).await;
    assert_eq!(r, down());
    tokio::time::advance(Duration::from_secs(1)).await;
    // a trial that never ends holds acme's one slot
    let p2 = p.clone();
    let trial = tokio::spawn(async move {
        p2.call_async_keyed(acme, std::future::pending::<Result<(), Error>>)
            .await
    });
    tokio::task::yield_now().await;
    let r = p.call_async_keyed(acme, || async { up() }).await;
    assert!(is_open(r.clone()), "no free trial slot: {r:?}");
    let r = p.call_async_keyed(globex, || async { up() }).await;
    assert_eq!(r, Ok(()), "another key is not concerned");
    trial.abort();
    assert!(trial.await.unwrap_err().is_cancelled());
    // the dropped trial gave its slot back: the next one passes and closes acme's breaker
    let r = p.call_async_keyed(acme, || async { up() }).await;
    assert_eq!(r, Ok(()));
    assert_eq!(p.handle().signals().open_keys, Some(0));
}

/// Regression (the first keyed breaker's review): a key with an attempt in flight is never
/// given to another key, even while its breaker is idle; the attempt's outcome lands on its own
/// breaker, not on the one the other key got.
#[tokio::test(start_paused = true)]
async fn a_key_with_an_attempt_in_flight_is_not_evicted_and_its_outcome_lands_on_its_breaker() {
    let p = std::sync::Arc::new(keyed(
        "kb-inflight",
        Breaker::new().threshold(1).max_keys(1),
    ));
    let (a, b) = (key_hash("a"), key_hash("b"));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let mut rx = Some(rx);
    let p2 = p.clone();
    let attempt = tokio::spawn(async move {
        p2.call_async_keyed(a, move || {
            let rx = rx.take();
            async move {
                if let Some(rx) = rx {
                    let _ = rx.await;
                }
                down()
            }
        })
        .await
    });
    tokio::task::yield_now().await;
    assert_eq!(
        p.handle().signals().breaker_keys,
        Some(1),
        "a holds the only slot"
    );
    // a's breaker is idle (nothing counted yet) but its attempt is in flight: b gets the
    // overflow breaker, and succeeds there
    assert_eq!(p.call_async_keyed(b, || async { up() }).await, Ok(()));
    assert_eq!(p.handle().signals().breaker_keys, Some(1));
    tx.send(()).unwrap();
    assert_eq!(attempt.await.unwrap(), down());
    // the failure opened a's breaker, not the overflow that b shares
    let s = p.handle().signals();
    assert_eq!((s.open_keys, s.breaker_keys), (Some(1), Some(1)));
    assert!(is_open(p.call_async_keyed(a, || async { up() }).await));
    assert_eq!(p.call_async_keyed(b, || async { up() }).await, Ok(()));
}

/// Regression: a dropped future gives its key's slot back (not only a trial slot), so an
/// idle key whose attempt was dropped can still be given to a new key.
#[tokio::test(start_paused = true)]
async fn a_dropped_future_gives_its_keys_slot_back() {
    let p = std::sync::Arc::new(keyed(
        "kb-dropped-closed",
        Breaker::new().threshold(1).max_keys(1),
    ));
    let (a, b) = (key_hash("a"), key_hash("b"));
    let p2 = p.clone();
    let hung = tokio::spawn(async move {
        p2.call_async_keyed(a, std::future::pending::<Result<(), Error>>)
            .await
    });
    tokio::task::yield_now().await;
    hung.abort();
    assert!(hung.await.unwrap_err().is_cancelled());
    // a is idle with nothing in flight: b takes its slot, and b's failure opens b's own
    // breaker (a preflight of a key without a slot of its own would read closed)
    assert_eq!(p.call_async_keyed(b, || async { down() }).await, down());
    assert!(p.handle().preflight_key(b).is_err());
    assert!(p.handle().preflight_key(a).is_ok(), "a was forgotten");
    assert_eq!(p.handle().signals().breaker_keys, Some(1));
}

#[test]
fn an_operator_holds_every_key_open_or_closed_and_reset_frees_them() {
    let clock = MockClock::new();
    let _g = clock.install();
    let p = keyed("kb-forced", Breaker::new().threshold(1));
    let h = p.handle();
    let (a, b) = (key_hash("a"), key_hash("b"));
    assert_eq!(p.call_keyed(a, down), down()); // a: open
    h.force_open();
    assert!(is_open(p.call_keyed(b, up)), "a new key too");
    assert!(h.preflight_key(b).is_err());
    let s = h.signals();
    assert_eq!(s.circuit, CircuitState::Open);
    assert_eq!(s.breaker_keys, Some(1), "a rejected call takes no key");
    // held open: every key remembered, and the overflow of the keys past the bound
    assert_eq!(s.open_keys, Some(2));
    h.force_closed();
    assert_eq!(
        p.call_keyed(a, up),
        Ok(()),
        "a's open breaker is held closed"
    );
    assert_eq!(p.call_keyed(b, down), down());
    assert_eq!(p.call_keyed(b, up), Ok(()), "failures are not counted");
    assert_eq!(h.signals().circuit, CircuitState::Closed);
    h.reset();
    let s = h.signals();
    assert_eq!((s.open_keys, s.breaker_keys), (Some(0), Some(0)));
    assert_eq!(p.call_keyed(b, down), down());
    assert!(is_open(p.call_keyed(b, up)), "counting again, per key");
    assert_eq!(p.call_keyed(a, up), Ok(()), "a's breaker was reset");
}

#[test]
fn describe_shows_a_breaker_per_key_and_its_bound() {
    let p = keyed("kb-describe", Breaker::new().max_keys(100));
    let d = p.describe().to_string();
    assert!(d.contains("failures in a row, one breaker per key"), "{d}");
    assert!(d.contains("max_keys 100 (builder)"), "{d}");
    let d = keyed("kb-describe-default", Breaker::new())
        .describe()
        .to_string();
    assert!(d.contains("max_keys 10000 (default)"), "{d}");
}

#[test]
fn past_the_bound_a_new_key_looks_at_32_keys_at_a_time_for_room() {
    let clock = MockClock::new();
    let _g = clock.install();
    let p = keyed("kb-hand", Breaker::new().threshold(2).max_keys(100));
    for key in 0..100 {
        assert_eq!(p.call_keyed(key, down), down(), "each key holds a failure");
    }
    assert_eq!(p.call_keyed(70, up), Ok(()), "70 holds nothing now");
    // the first new key looks at keys 0 to 31, the second at 32 to 63: no room, so both
    // share the overflow breaker, and open it
    assert_eq!(p.call_keyed(1000, down), down());
    assert_eq!(p.call_keyed(1001, down), down());
    assert_eq!(p.handle().signals().open_keys, Some(1), "the overflow");
    // the third looks on from 64, and finds 70's room: a breaker of its own, closed
    assert_eq!(p.call_keyed(1002, up), Ok(()));
    assert_eq!(p.handle().signals().breaker_keys, Some(100));
    assert!(
        is_open(p.call_keyed(70, up)),
        "70, forgotten, shares the overflow"
    );
}

/// `redis` shares one breaker for the policy: a keyed breaker with it is refused at build.
#[test]
fn a_keyed_breaker_cannot_be_shared_through_redis() {
    let e = Policy::builder("kb-redis")
        .breaker(Breaker::new().keyed())
        .redis(staunch_runtime::redis::Redis::new())
        .build()
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("a keyed breaker cannot be shared through `redis`"),
        "{e}"
    );
}
