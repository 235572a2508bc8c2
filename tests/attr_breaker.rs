//! `breaker(...)`: opens after N failures in a row, rejects while open, lets trials through
//! after the cooldown.
mod common;

use std::time::Duration;

use common::{Counter, Fail};
use staunch::{resilient, signals, CircuitState, MockClock};

static CALLS: Counter = Counter::new();

#[resilient(breaker(threshold = 2, cooldown = "10s"), name = "breaker-sync")]
fn service(ok: bool) -> Result<u32, Fail> {
    let n = CALLS.next();
    if ok {
        Ok(n)
    } else {
        Err(Fail::Boom(n))
    }
}

#[test]
fn opens_rejects_and_closes_after_a_trial() {
    let clock = MockClock::new();
    let _g = clock.install();
    assert_eq!(service(false), Err(Fail::Boom(1)));
    assert_eq!(
        signals("breaker-sync").unwrap().circuit,
        CircuitState::Closed
    );
    assert_eq!(service(false), Err(Fail::Boom(2)));
    assert_eq!(signals("breaker-sync").unwrap().circuit, CircuitState::Open);
    // rejected at once, the body is not called
    let e = service(true).unwrap_err();
    assert!(e.is_circuit_open(), "{e:?}");
    assert_eq!(CALLS.get(), 2);
    clock.advance(Duration::from_secs(10));
    assert_eq!(
        signals("breaker-sync").unwrap().circuit,
        CircuitState::HalfOpen
    );
    assert_eq!(service(true), Ok(3));
    assert_eq!(
        signals("breaker-sync").unwrap().circuit,
        CircuitState::Closed
    );
}

static REOPEN: Counter = Counter::new();

#[resilient(breaker(threshold = 1, cooldown = 5), name = "breaker-reopen")]
fn reopen(ok: bool) -> Result<(), Fail> {
    REOPEN.next();
    if ok {
        Ok(())
    } else {
        Err(Fail::Fatal)
    }
}

#[test]
fn a_failed_trial_reopens_for_a_full_cooldown() {
    let clock = MockClock::new();
    let _g = clock.install();
    assert_eq!(reopen(false), Err(Fail::Fatal));
    clock.advance(Duration::from_secs(5));
    assert_eq!(reopen(false), Err(Fail::Fatal));
    clock.advance(Duration::from_secs(4));
    assert!(reopen(true).unwrap_err().is_circuit_open());
    clock.advance(Duration::from_secs(1));
    assert_eq!(reopen(true), Ok(()));
    assert_eq!(REOPEN.get(), 3);
}

static LOOPED: Counter = Counter::new();

#[resilient(
    retry(max = 5, delay = 0),
    breaker(threshold = 2),
    name = "breaker-ends-retry"
)]
fn retried() -> Result<(), Fail> {
    Err(Fail::Boom(LOOPED.next()))
}

#[test]
fn an_opening_breaker_ends_the_retry_loop() {
    let clock = MockClock::new();
    let _g = clock.install();
    let e = retried().unwrap_err();
    assert!(e.is_circuit_open(), "{e:?}");
    assert_eq!(LOOPED.get(), 2);
}

static SHARED: Counter = Counter::new();

#[resilient(breaker(threshold = 2, cooldown = 60), name = "breaker-shared")]
fn shared_a() -> Result<(), Fail> {
    Err(Fail::Boom(SHARED.next()))
}

#[resilient(name = "breaker-shared")]
fn shared_b() -> Result<u32, Fail> {
    Ok(SHARED.next())
}

#[test]
fn functions_of_one_name_share_the_breaker() {
    let clock = MockClock::new();
    let _g = clock.install();
    assert_eq!(shared_a(), Err(Fail::Boom(1)));
    assert_eq!(shared_a(), Err(Fail::Boom(2)));
    assert!(shared_b().unwrap_err().is_circuit_open());
    assert_eq!(SHARED.get(), 2);
}

static ASYNC: Counter = Counter::new();

#[resilient(
    breaker(threshold = 3, cooldown = "1m", half_open = 2),
    name = "breaker-async"
)]
async fn remote(ok: bool) -> Result<u32, Fail> {
    tokio::task::yield_now().await;
    let n = ASYNC.next();
    if ok {
        Ok(n)
    } else {
        Err(Fail::Boom(n))
    }
}

#[tokio::test(start_paused = true)]
async fn async_breaker_follows_tokio_time_and_needs_m_successes() {
    for n in 1..=3 {
        assert_eq!(remote(false).await, Err(Fail::Boom(n)));
    }
    assert!(remote(true).await.unwrap_err().is_circuit_open());
    tokio::time::advance(Duration::from_secs(59)).await;
    assert!(remote(true).await.unwrap_err().is_circuit_open());
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(remote(true).await, Ok(4));
    assert_eq!(
        signals("breaker-async").unwrap().circuit,
        CircuitState::HalfOpen
    );
    assert_eq!(remote(true).await, Ok(5));
    assert_eq!(
        signals("breaker-async").unwrap().circuit,
        CircuitState::Closed
    );
}

#[resilient(breaker, name = "breaker-bare")]
fn bare() -> Result<(), Fail> {
    Err(Fail::Fatal)
}

#[test]
fn a_bare_breaker_opens_after_five() {
    let clock = MockClock::new();
    let _g = clock.install();
    for _ in 0..5 {
        assert_eq!(bare(), Err(Fail::Fatal));
    }
    assert!(bare().unwrap_err().is_circuit_open());
    clock.advance(Duration::from_secs(29));
    assert!(bare().unwrap_err().is_circuit_open());
    clock.advance(Duration::from_secs(1));
    assert_eq!(bare(), Err(Fail::Fatal));
}

/// Only outages count: a bad request is the caller's own fault.
fn is_outage(e: &Fail) -> bool {
    *e != Fail::Fatal
}

static JUDGED: Counter = Counter::new();

#[resilient(
    breaker(threshold = 2, cooldown = "10s", on = is_outage),
    retry(max = 3, delay = 0),
    name = "breaker-on",
    fallback = judged_fallback
)]
fn judged(outage: bool) -> Result<u32, Fail> {
    let n = JUDGED.next();
    if outage {
        Err(Fail::Boom(n))
    } else {
        Err(Fail::Fatal)
    }
}

fn judged_fallback(_outage: bool) -> Result<u32, Fail> {
    Ok(0)
}

#[test]
fn breaker_on_leaves_out_what_does_not_count_and_such_errors_are_not_retried() {
    let clock = MockClock::new();
    let _g = clock.install();
    for n in 1..=5 {
        // not retried, handed to the fallback, and the breaker stays closed
        assert_eq!(judged(false), Ok(0));
        assert_eq!(JUDGED.get(), n);
    }
    let s = signals("breaker-on").unwrap();
    assert_eq!(
        (s.circuit, s.consecutive_failures),
        (CircuitState::Closed, 0)
    );
    // an outage counts, and is retried until the breaker opens
    assert_eq!(judged(true), Ok(0));
    assert_eq!(
        JUDGED.get(),
        5 + 2,
        "the second failure opened it: no third attempt"
    );
    assert_eq!(signals("breaker-on").unwrap().circuit, CircuitState::Open);
}

static JUDGED_ASYNC: Counter = Counter::new();

#[resilient(breaker(threshold = 1, cooldown = 5, half_open = 1, on = is_outage), name = "breaker-on-async")]
async fn judged_async(outage: bool) -> Result<u32, Fail> {
    tokio::task::yield_now().await;
    let n = JUDGED_ASYNC.next();
    if outage {
        Err(Fail::Boom(n))
    } else {
        Err(Fail::Fatal)
    }
}

#[tokio::test(start_paused = true)]
async fn a_half_open_trial_that_does_not_count_gives_its_slot_back() {
    assert_eq!(judged_async(true).await, Err(Fail::Boom(1)));
    tokio::time::advance(Duration::from_secs(5)).await;
    assert_eq!(judged_async(false).await, Err(Fail::Fatal));
    assert_eq!(
        signals("breaker-on-async").unwrap().circuit,
        CircuitState::HalfOpen,
        "no verdict"
    );
    // the trial slot came back: the next call is a trial too, and an outage re-opens it
    assert_eq!(judged_async(true).await, Err(Fail::Boom(3)));
    assert_eq!(
        signals("breaker-on-async").unwrap().circuit,
        CircuitState::Open
    );
}
