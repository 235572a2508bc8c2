//! `breaker(key = expr)`: one breaker per value of an expression over the arguments.
mod common;

use std::time::Duration;

use common::Fail;
use staunch::{resilient, signals, CircuitState, MockClock};

#[resilient(breaker(threshold = 2, cooldown = "10s", key = tenant), name = "kb-attr-sync")]
fn per_tenant(tenant: &str, ok: bool) -> Result<String, Fail> {
    if ok {
        Ok(tenant.to_owned())
    } else {
        Err(Fail::Fatal)
    }
}

#[test]
fn one_tenants_failures_never_open_anothers() {
    let clock = MockClock::new();
    let _g = clock.install();
    assert_eq!(per_tenant("acme", false), Err(Fail::Fatal));
    assert_eq!(per_tenant("globex", false), Err(Fail::Fatal));
    assert_eq!(per_tenant("acme", false), Err(Fail::Fatal));
    assert!(per_tenant("acme", true).unwrap_err().is_circuit_open());
    assert_eq!(per_tenant("globex", true), Ok("globex".to_owned()));
    let s = signals("kb-attr-sync").unwrap();
    assert_eq!(s.circuit, CircuitState::Closed);
    assert_eq!((s.open_keys, s.breaker_keys), (Some(1), Some(2)));
    clock.advance(Duration::from_secs(10));
    assert_eq!(per_tenant("acme", true), Ok("acme".to_owned()));
    assert_eq!(signals("kb-attr-sync").unwrap().open_keys, Some(0));
}

#[resilient(breaker(threshold = 1, key = host, max_keys = 1), name = "kb-attr-bound")]
fn bounded(host: u32, ok: bool) -> Result<u32, Fail> {
    if ok {
        Ok(host)
    } else {
        Err(Fail::Fatal)
    }
}

#[test]
fn past_max_keys_new_keys_share_one_breaker() {
    let clock = MockClock::new();
    let _g = clock.install();
    assert_eq!(bounded(1, false), Err(Fail::Fatal)); // host 1: open, remembered
    assert_eq!(bounded(2, false), Err(Fail::Fatal)); // no room: the overflow opens
    assert!(bounded(3, true).unwrap_err().is_circuit_open());
    let s = signals("kb-attr-bound").unwrap();
    assert_eq!((s.open_keys, s.breaker_keys), (Some(2), Some(1)));
}

#[resilient(rps = 1000, key = user, breaker(threshold = 1, key = user), name = "kb-attr-shared")]
async fn shared_key(user: u64, ok: bool) -> Result<u64, Fail> {
    if ok {
        Ok(user)
    } else {
        Err(Fail::Fatal)
    }
}

#[tokio::test(start_paused = true)]
async fn the_limiters_key_and_the_breakers_may_be_one() {
    assert_eq!(shared_key(1, false).await, Err(Fail::Fatal));
    assert!(shared_key(1, true).await.unwrap_err().is_circuit_open());
    assert_eq!(shared_key(2, true).await, Ok(2));
    let s = signals("kb-attr-shared").unwrap();
    assert_eq!((s.open_keys, s.keys), (Some(1), Some(2)));
}

#[resilient(breaker(threshold = 1, cooldown = 1, key = tenant), name = "kb-attr-drop")]
async fn slow_tenant(tenant: u8, hang: bool) -> Result<u8, Fail> {
    if hang {
        std::future::pending::<()>().await;
    }
    Err(Fail::Fatal)
}

#[tokio::test(start_paused = true)]
async fn a_dropped_future_gives_back_its_keyed_trial_slot() {
    assert_eq!(slow_tenant(7, false).await, Err(Fail::Fatal));
    tokio::time::advance(Duration::from_secs(1)).await;
    let trial = tokio::spawn(slow_tenant(7, true));
    tokio::task::yield_now().await;
    assert!(slow_tenant(7, false).await.unwrap_err().is_circuit_open());
    trial.abort();
    assert!(trial.await.unwrap_err().is_cancelled());
    // the slot is free again: this trial runs (and fails, re-opening the key's breaker)
    assert_eq!(slow_tenant(7, false).await, Err(Fail::Fatal));
}
