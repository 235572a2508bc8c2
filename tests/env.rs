//! `STAUNCH_<NAME>_<KNOB>` overrides an annotated function's option when its policy is first
//! created (at its first call).
mod common;

use std::time::Duration;

use common::{Counter, Fail};
use staunch::{resilient, MockClock};

#[resilient(rps = 1000, wait = 0, name = "env-rate.v1")]
fn rated() -> Result<(), Fail> {
    Ok(())
}

#[test]
fn the_rate_is_overridden_before_the_first_call() {
    // SAFETY-free in edition 2021; no other test reads this variable
    std::env::set_var("STAUNCH_ENV_RATE_V1_RPS", "1");
    let clock = MockClock::new();
    let _g = clock.install();
    assert_eq!(rated(), Ok(()));
    assert!(rated().unwrap_err().is_rate_limited());
}

static RETRIED: Counter = Counter::new();

#[resilient(retry(max = 1, delay = 0), name = "env-retry")]
fn retried() -> Result<(), Fail> {
    Err(Fail::Boom(RETRIED.next()))
}

#[test]
fn retry_max_is_overridden() {
    std::env::set_var("STAUNCH_ENV_RETRY_RETRY_MAX", "4");
    let clock = MockClock::new();
    let _g = clock.install();
    assert_eq!(retried(), Err(Fail::Boom(5)));
}

static KEPT: Counter = Counter::new();

#[resilient(
    retry(max = 2, delay = 0),
    breaker(threshold = 2, cooldown = 3),
    name = "env-bad"
)]
fn kept() -> Result<(), Fail> {
    Err(Fail::Boom(KEPT.next()))
}

#[test]
fn a_bad_value_is_ignored_and_the_attribute_kept() {
    std::env::set_var("STAUNCH_ENV_BAD_RETRY_MAX", "lots");
    std::env::set_var("STAUNCH_ENV_BAD_BREAKER_COOLDOWN", "-1s");
    let clock = MockClock::new();
    let _g = clock.install();
    // 3 attempts: the second failure opens the breaker, the third is rejected
    assert!(kept().unwrap_err().is_circuit_open());
    assert_eq!(KEPT.get(), 2);
    // the cooldown is the attribute's 3s: after it, a trial runs (and fails, re-opening)
    clock.advance(Duration::from_secs(3));
    assert!(kept().unwrap_err().is_circuit_open());
    assert_eq!(KEPT.get(), 3);
}

static NO_RETRY: Counter = Counter::new();

#[resilient(name = "env-no-retry")]
fn no_retry(body: String) -> Result<usize, Fail> {
    NO_RETRY.next();
    drop(body);
    Err(Fail::Fatal)
}

#[test]
fn retry_max_cannot_retry_a_function_without_retry() {
    // the body may consume its arguments, so it runs once whatever the environment says
    std::env::set_var("STAUNCH_ENV_NO_RETRY_RETRY_MAX", "3");
    assert_eq!(no_retry("x".into()), Err(Fail::Fatal));
    assert_eq!(NO_RETRY.get(), 1);
}
