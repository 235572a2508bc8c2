//! `timeout = D`: each attempt's time limit (async only).
mod common;

use std::time::Duration;

use common::{Counter, Fail};
use staunch::resilient;

#[resilient(timeout = "2s", name = "timeout-plain")]
async fn sleepy(secs: u64) -> Result<u64, Fail> {
    tokio::time::sleep(Duration::from_secs(secs)).await;
    Ok(secs)
}

#[tokio::test(start_paused = true)]
async fn an_attempt_past_its_limit_fails_with_timeout() {
    assert_eq!(sleepy(1).await, Ok(1));
    let t0 = tokio::time::Instant::now();
    let e = sleepy(10).await.unwrap_err();
    assert!(e.is_timeout(), "{e:?}");
    assert_eq!(t0.elapsed(), Duration::from_secs(2));
}

static ATTEMPTS: Counter = Counter::new();

#[resilient(
    timeout = 0.5,
    retry(max = 2, delay = "1s", jitter = false),
    name = "timeout-retried"
)]
async fn first_attempts_hang() -> Result<u32, Fail> {
    let n = ATTEMPTS.next();
    if n < 3 {
        std::future::pending::<()>().await;
    }
    Ok(n)
}

#[tokio::test(start_paused = true)]
async fn each_attempt_has_its_own_limit_and_timeouts_are_retried() {
    let t0 = tokio::time::Instant::now();
    assert_eq!(first_attempts_hang().await, Ok(3));
    // 0.5s + wait 1s + 0.5s + wait 2s
    assert_eq!(t0.elapsed(), Duration::from_secs(4));
}

#[resilient(timeout = "1m", name = "timeout-spawned")]
async fn spawned() -> Result<(), Fail> {
    tokio::time::sleep(Duration::from_secs(120)).await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_spawned_call_times_out_too() {
    let e = tokio::spawn(spawned()).await.unwrap().unwrap_err();
    assert!(e.is_timeout());
}
