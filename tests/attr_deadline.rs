//! `deadline = D`: the longest a call may take in all, attempts, backoff waits and token waits
//! together; the fallback runs outside it.
mod common;

use std::time::Duration;

use common::{since, Counter, Fail};
use staunch::{resilient, MockClock};

static SYNC: Counter = Counter::new();

#[resilient(
    retry(max = 10, delay = 1, backoff = 1.0, jitter = false),
    deadline = "2.5s"
)]
fn bounded() -> Result<u32, Fail> {
    Err(Fail::Boom(SYNC.next()))
}

#[test]
fn no_retry_starts_past_the_deadline() {
    let clock = MockClock::new();
    let _g = clock.install();
    let t0 = clock.elapsed();
    // attempts at 0, 1 and 2 s: the next would start at 3 s
    assert_eq!(bounded(), Err(Fail::Boom(3)));
    assert_eq!(since(&clock, t0), Duration::from_secs(2));
}

static ASYNC: Counter = Counter::new();

#[resilient(
    retry(max = 10, delay = 1, backoff = 1.0, jitter = false),
    timeout = 2,
    deadline = 5,
    fallback = later
)]
async fn hangs() -> Result<u32, Fail> {
    ASYNC.next();
    tokio::time::sleep(Duration::from_secs(3600)).await;
    Ok(1)
}

async fn later() -> Result<u32, Fail> {
    // outside the deadline: it may take its time
    tokio::time::sleep(Duration::from_secs(10)).await;
    Ok(0)
}

#[tokio::test(start_paused = true)]
async fn an_attempt_at_the_deadline_is_cancelled_and_the_fallback_answers_outside_it() {
    let t0 = tokio::time::Instant::now();
    assert_eq!(hangs().await, Ok(0));
    // attempts at 0 s (cut at 2 s) and 3 s (cut at 5 s by the deadline), then the fallback
    assert_eq!(ASYNC.get(), 2);
    assert_eq!(t0.elapsed(), Duration::from_secs(5 + 10));
}

#[resilient(rps = 1, deadline = "500ms", name = "deadline-tokens")]
fn limited() -> Result<(), Fail> {
    Ok(())
}

#[test]
fn a_token_that_would_come_after_the_deadline_is_not_waited_for() {
    let clock = MockClock::new();
    let _g = clock.install();
    assert_eq!(limited(), Ok(()));
    let t0 = clock.elapsed();
    assert_eq!(
        limited(),
        Err(Fail::Staunch(staunch::Error::RateLimited {
            policy: "deadline-tokens".into(),
            retry_after: Duration::from_secs(1)
        }))
    );
    assert_eq!(since(&clock, t0), Duration::ZERO);
}
