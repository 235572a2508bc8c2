//! `retry(...)`: how many attempts, which waits, which errors, what is returned.
mod common;

use std::time::Duration;

use common::{since, Counter, Fail};
use staunch::{resilient, Classify, MockClock};

static FLAKY: Counter = Counter::new();

/// Fails twice, then succeeds.
#[resilient(retry(max = 3, delay = "1s", jitter = false), name = "retry-flaky")]
fn flaky() -> Result<u32, Fail> {
    let n = FLAKY.next();
    if n < 3 {
        Err(Fail::Boom(n))
    } else {
        Ok(n)
    }
}

#[test]
fn retries_until_success_with_exact_exponential_waits() {
    let clock = MockClock::new();
    let _g = clock.install();
    let t0 = clock.elapsed();
    assert_eq!(flaky(), Ok(3));
    assert_eq!(FLAKY.get(), 3);
    // waits of 1s then 2s (backoff 2.0 by default, no jitter)
    assert_eq!(since(&clock, t0), Duration::from_secs(3));
}

static ALWAYS: Counter = Counter::new();

#[resilient(
    retry(max = 2, delay = 0.5, backoff = 3.0, jitter = false),
    name = "retry-always"
)]
fn always_fails() -> Result<(), Fail> {
    Err(Fail::Boom(ALWAYS.next()))
}

#[test]
fn at_most_max_plus_one_calls_and_the_last_error_is_returned() {
    let clock = MockClock::new();
    let _g = clock.install();
    let t0 = clock.elapsed();
    assert_eq!(always_fails(), Err(Fail::Boom(3)));
    assert_eq!(ALWAYS.get(), 3);
    assert_eq!(since(&clock, t0), Duration::from_millis(500 + 1500));
}

static CAPPED: Counter = Counter::new();

#[resilient(retry(max = 4, delay = "1s", backoff = 10, max_delay = "5s", jitter = false))]
fn capped() -> Result<(), Fail> {
    Err(Fail::Boom(CAPPED.next()))
}

#[test]
fn max_delay_caps_every_wait() {
    let clock = MockClock::new();
    let _g = clock.install();
    let t0 = clock.elapsed();
    assert_eq!(capped(), Err(Fail::Boom(5)));
    // 1s, then 10s capped to 5s three times
    assert_eq!(since(&clock, t0), Duration::from_secs(1 + 5 + 5 + 5));
}

static JITTERED: Counter = Counter::new();

#[resilient(retry(max = 1, delay = "1s", jitter = 0.5))]
fn jittered() -> Result<(), Fail> {
    Err(Fail::Boom(JITTERED.next()))
}

#[test]
fn jitter_draws_the_wait_from_its_range() {
    let clock = MockClock::new();
    let _g = clock.install();
    let t0 = clock.elapsed();
    assert_eq!(jittered(), Err(Fail::Boom(2)), "the retry's error");
    let waited = since(&clock, t0);
    assert!(
        waited >= Duration::from_millis(500) && waited <= Duration::from_secs(1),
        "{waited:?}"
    );
}

fn only_boom(e: &Fail) -> bool {
    matches!(e, Fail::Boom(_))
}

static PICKY: Counter = Counter::new();

#[resilient(retry(max = 5, on = only_boom, delay = 0))]
fn picky() -> Result<(), Fail> {
    let n = PICKY.next();
    Err(if n == 1 { Fail::Boom(n) } else { Fail::Fatal })
}

#[test]
fn on_says_which_errors_are_retried() {
    let clock = MockClock::new();
    let _g = clock.install();
    assert_eq!(picky(), Err(Fail::Fatal));
    assert_eq!(PICKY.get(), 2);
}

/// An error that classifies itself.
#[derive(Debug, PartialEq)]
enum Api {
    Throttled,
    BadRequest,
    Staunch(staunch::Error),
}

impl From<staunch::Error> for Api {
    fn from(e: staunch::Error) -> Self {
        Api::Staunch(e)
    }
}

impl Classify for Api {
    fn is_retryable(&self) -> bool {
        !matches!(self, Api::BadRequest)
    }
    fn retry_after(&self) -> Option<Duration> {
        matches!(self, Api::Throttled).then_some(Duration::from_secs(7))
    }
}

static CLASSIFIED: Counter = Counter::new();

#[resilient(retry(max = 3, delay = "1s", jitter = false))]
fn classified() -> Result<(), Api> {
    Err(if CLASSIFIED.next() == 1 {
        Api::Throttled
    } else {
        Api::BadRequest
    })
}

#[test]
fn an_error_type_classifies_itself() {
    let clock = MockClock::new();
    let _g = clock.install();
    let t0 = clock.elapsed();
    assert_eq!(classified(), Err(Api::BadRequest));
    assert_eq!(CLASSIFIED.get(), 2);
    // the retry-after hint (7s) beats the 1s backoff
    assert_eq!(since(&clock, t0), Duration::from_secs(7));
}

static IO: Counter = Counter::new();

#[resilient(retry(max = 3, delay = 0))]
fn io_not_found() -> std::io::Result<()> {
    IO.next();
    Err(std::io::ErrorKind::NotFound.into())
}

#[test]
fn io_errors_are_classified_by_kind() {
    let clock = MockClock::new();
    let _g = clock.install();
    assert_eq!(
        io_not_found().unwrap_err().kind(),
        std::io::ErrorKind::NotFound
    );
    assert_eq!(IO.get(), 1);
}

static BARE: Counter = Counter::new();

#[resilient(retry)]
fn bare() -> Result<(), Fail> {
    Err(Fail::Boom(BARE.next()))
}

#[test]
fn a_bare_retry_takes_the_defaults() {
    let clock = MockClock::new();
    let _g = clock.install();
    let t0 = clock.elapsed();
    assert_eq!(bare(), Err(Fail::Boom(4)));
    // max 3; waits of at most 100ms, 200ms, 400ms (full jitter)
    assert!(since(&clock, t0) <= Duration::from_millis(700));
}

static NO_RETRY: Counter = Counter::new();

#[resilient(name = "retry-none")]
fn no_retry() -> Result<(), Fail> {
    Err(Fail::Boom(NO_RETRY.next()))
}

#[test]
fn without_retry_one_attempt() {
    assert_eq!(no_retry(), Err(Fail::Boom(1)));
    assert_eq!(NO_RETRY.get(), 1);
}

struct Account {
    attempts: Vec<u32>,
}

impl Account {
    #[resilient(retry(max = 2, delay = 0))]
    fn charge(&mut self, amount: u32) -> Result<u32, Fail> {
        self.attempts.push(amount);
        if self.attempts.len() < 3 {
            Err(Fail::Boom(amount))
        } else {
            Ok(amount * 2)
        }
    }
}

#[test]
fn each_attempt_borrows_mut_self_and_the_arguments_anew() {
    let clock = MockClock::new();
    let _g = clock.install();
    let mut a = Account {
        attempts: Vec::new(),
    };
    assert_eq!(a.charge(5), Ok(10));
    assert_eq!(a.attempts, [5, 5, 5]);
}

static ASYNC: Counter = Counter::new();

#[resilient(retry(max = 3, delay = "2s", jitter = false), name = "retry-async")]
async fn async_flaky(input: &str) -> Result<String, Fail> {
    tokio::task::yield_now().await;
    let n = ASYNC.next();
    if n < 4 {
        Err(Fail::Boom(n))
    } else {
        Ok(input.to_uppercase())
    }
}

#[tokio::test(start_paused = true)]
async fn async_retries_wait_on_tokio_time() {
    let t0 = tokio::time::Instant::now();
    assert_eq!(async_flaky("ok").await, Ok("OK".to_owned()));
    assert_eq!(ASYNC.get(), 4);
    assert_eq!(t0.elapsed(), Duration::from_secs(2 + 4 + 8));
}

static ASYNC_Q: Counter = Counter::new();

#[resilient(retry(max = 3, delay = "1s", jitter = false, on = only_boom))]
async fn async_on() -> Result<(), Fail> {
    ASYNC_Q.next();
    Err(Fail::Fatal)
}

#[tokio::test(start_paused = true)]
async fn async_on_stops_at_a_fatal_error() {
    let t0 = tokio::time::Instant::now();
    assert_eq!(async_on().await, Err(Fail::Fatal));
    assert_eq!(ASYNC_Q.get(), 1);
    assert_eq!(t0.elapsed(), Duration::ZERO);
}

#[resilient(retry(max = 2, delay = 0))]
fn question_mark(s: &str) -> Result<u32, Fail> {
    let n: u32 = s.parse().map_err(|_| Fail::Fatal)?;
    Ok(n)
}

#[test]
fn the_question_mark_returns_from_the_attempt() {
    assert_eq!(question_mark("12"), Ok(12));
    assert_eq!(question_mark("x"), Err(Fail::Fatal));
}
