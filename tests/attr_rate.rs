//! `rps`, `rpm`, `burst`, `key`, `wait`: the token bucket.
mod common;

use std::time::Duration;

use common::{since, Counter, Fail};
use staunch::{resilient, signals, MockClock};

#[resilient(rps = 1, burst = 2, wait = 0, name = "rate-burst")]
fn limited() -> Result<(), Fail> {
    Ok(())
}

#[test]
fn a_full_bucket_then_rejection_without_wait() {
    let clock = MockClock::new();
    let _g = clock.install();
    assert_eq!(signals("rate-burst"), None);
    assert_eq!(limited(), Ok(()));
    assert_eq!(
        signals("rate-burst")
            .unwrap()
            .rate_remaining
            .map(f64::round),
        Some(1.0)
    );
    assert_eq!(limited(), Ok(()));
    assert!(limited().unwrap_err().is_rate_limited());
    clock.advance(Duration::from_secs(1));
    assert_eq!(limited(), Ok(()));
}

#[resilient(rps = 2, name = "rate-waits")]
fn waits() -> Result<(), Fail> {
    Ok(())
}

#[test]
fn without_wait_a_call_waits_for_its_token() {
    let clock = MockClock::new();
    let _g = clock.install();
    let t0 = clock.elapsed();
    for _ in 0..4 {
        assert_eq!(waits(), Ok(()));
    }
    // a bucket of 2 (one second of rps), then a token every 500ms
    assert_eq!(since(&clock, t0), Duration::from_secs(1));
}

#[resilient(rpm = 60, wait = "2s", name = "rate-rpm")]
async fn per_minute() -> Result<(), Fail> {
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn rpm_refills_per_minute_and_wait_bounds_the_wait() {
    let t0 = tokio::time::Instant::now();
    assert_eq!(per_minute().await, Ok(()));
    // one token a second: the next waits 1s (within `wait`)
    assert_eq!(per_minute().await, Ok(()));
    assert_eq!(t0.elapsed(), Duration::from_secs(1));
}

#[resilient(rpm = 6, wait = "1s", name = "rate-rpm-reject")]
async fn slow_minute() -> Result<(), Fail> {
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_wait_longer_than_wait_is_rejected() {
    assert_eq!(slow_minute().await, Ok(()));
    let e = slow_minute().await.unwrap_err();
    assert!(e.is_rate_limited(), "{e:?}");
    tokio::time::advance(Duration::from_secs(10)).await;
    assert_eq!(slow_minute().await, Ok(()));
}

static KEYED: Counter = Counter::new();

#[resilient(rps = 1, burst = 1, wait = 0, key = user, name = "rate-keyed")]
fn per_user(user: &str) -> Result<u32, Fail> {
    let _ = user;
    Ok(KEYED.next())
}

#[test]
fn one_bucket_per_key() {
    let clock = MockClock::new();
    let _g = clock.install();
    assert!(per_user("alice").is_ok());
    assert!(per_user("alice").unwrap_err().is_rate_limited());
    assert!(per_user("bob").is_ok());
    assert_eq!(signals("rate-keyed").unwrap().rate_remaining, None);
    clock.advance(Duration::from_secs(1));
    assert!(per_user("alice").is_ok());
    assert_eq!(KEYED.get(), 3);
}

struct Tenant {
    id: u64,
}

impl Tenant {
    #[resilient(rps = 1, burst = 1, wait = 0, key = self.id, name = "rate-keyed-self")]
    async fn call(&mut self, n: u32) -> Result<u32, Fail> {
        self.id += 0;
        Ok(n)
    }
}

#[tokio::test(start_paused = true)]
async fn a_key_over_self_and_async() {
    let mut a = Tenant { id: 1 };
    let mut b = Tenant { id: 2 };
    assert_eq!(a.call(1).await, Ok(1));
    assert!(a.call(2).await.unwrap_err().is_rate_limited());
    assert_eq!(b.call(3).await, Ok(3));
}

static RETRIED: Counter = Counter::new();

#[resilient(
    retry(max = 2, delay = 0),
    rps = 1,
    burst = 1,
    name = "rate-per-attempt"
)]
fn each_attempt_takes_a_token() -> Result<(), Fail> {
    Err(Fail::Boom(RETRIED.next()))
}

#[test]
fn every_attempt_passes_the_limiter() {
    let clock = MockClock::new();
    let _g = clock.install();
    let t0 = clock.elapsed();
    assert_eq!(each_attempt_takes_a_token(), Err(Fail::Boom(3)));
    assert_eq!(since(&clock, t0), Duration::from_secs(2));
}
