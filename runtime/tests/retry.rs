//! Retry: counts, backoff waits, hints, classification, and how it meets the other parts.

use std::time::Duration;

use staunch_runtime::attempt::{Req, Step};
use staunch_runtime::{Breaker, Class, Classify, Error, MockClock, Policy, Retry};
use tokio::time::Instant;

#[derive(Debug, PartialEq)]
enum ApiError {
    Busy { retry_after: Duration },
    BadRequest,
    Gone,
    Policy(Error),
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError::Policy(e)
    }
}

impl Classify for ApiError {
    fn is_retryable(&self) -> bool {
        matches!(self, ApiError::Busy { .. } | ApiError::Policy(_))
    }
    fn is_fallback_worthy(&self) -> bool {
        !matches!(self, ApiError::Gone)
    }
    fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::Busy { retry_after } => Some(*retry_after),
            _ => None,
        }
    }
}

fn exact(max: u32) -> Retry {
    Retry::new().max(max).jitter(0.0)
}

#[tokio::test(start_paused = true)]
async fn max_retries_make_max_plus_one_calls_with_exponential_waits() {
    let p = Policy::builder("retry-count")
        .retry(exact(3))
        .build()
        .unwrap();
    let mut calls = 0;
    let t0 = Instant::now();
    let r: Result<(), Error> = p
        .call_async(|| {
            calls += 1;
            async {
                Err(Error::Timeout {
                    policy: "up".into(),
                    after: Duration::ZERO,
                })
            }
        })
        .await;
    assert_eq!(
        r,
        Err(Error::Timeout {
            policy: "up".into(),
            after: Duration::ZERO
        })
    );
    assert_eq!(calls, 4);
    assert_eq!(t0.elapsed(), Duration::from_millis(100 + 200 + 400));
}

#[test]
fn waits_are_capped_by_max_delay() {
    let clock = MockClock::new();
    let _g = clock.install();
    let retry = exact(5)
        .delay(Duration::from_secs(1))
        .backoff(10.0)
        .max_delay(Duration::from_secs(20));
    let p = Policy::builder("retry-cap").retry(retry).build().unwrap();
    let t0 = clock.elapsed();
    let r: Result<(), Error> = p.call(|| {
        Err(Error::Timeout {
            policy: "up".into(),
            after: Duration::ZERO,
        })
    });
    assert_eq!(
        r,
        Err(Error::Timeout {
            policy: "up".into(),
            after: Duration::ZERO
        })
    );
    assert_eq!(
        clock.elapsed() - t0,
        Duration::from_secs(1 + 10 + 20 + 20 + 20)
    );
}

#[test]
fn jittered_waits_stay_in_their_band() {
    let r = Retry::new().delay(Duration::from_secs(8)).jitter(0.25);
    for _ in 0..1000 {
        let w = r.wait(0, None);
        assert!(
            w >= Duration::from_secs(6) && w <= Duration::from_secs(8),
            "{w:?}"
        );
    }
    let full = Retry::new().delay(Duration::from_secs(8));
    assert!((0..1000).all(|_| full.wait(1, None) <= Duration::from_secs(16)));
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_hint_is_the_least_wait() {
    let p = Policy::builder("retry-hint")
        .retry(exact(1))
        .build()
        .unwrap();
    let mut calls = 0;
    let t0 = Instant::now();
    let r: Result<&str, ApiError> = p
        .call_async_classified(|| {
            calls += 1;
            let n = calls;
            async move {
                if n == 1 {
                    Err(ApiError::Busy {
                        retry_after: Duration::from_secs(7),
                    })
                } else {
                    Ok("ok")
                }
            }
        })
        .await;
    assert_eq!(r, Ok("ok"));
    assert_eq!(t0.elapsed(), Duration::from_secs(7));
}

#[tokio::test(start_paused = true)]
async fn errors_that_are_not_retryable_end_at_once() {
    let p = Policy::builder("retry-not-retryable")
        .retry(exact(3))
        .build()
        .unwrap();
    let mut calls = 0;
    let r: Result<(), ApiError> = p
        .call_async_classified(|| {
            calls += 1;
            async { Err(ApiError::BadRequest) }
        })
        .await;
    assert_eq!(r, Err(ApiError::BadRequest));
    assert_eq!(calls, 1);
}

#[test]
fn the_fallback_is_offered_only_for_errors_worth_it() {
    let p = Policy::builder("retry-fallback-worthy").build().unwrap();
    let mut call = p.begin::<Result<(), ApiError>>(Classify::class);
    assert_eq!(
        call.attempt_sync(Req::new(), || Err(ApiError::Gone)),
        Step::Done(Err(ApiError::Gone))
    );
    let mut call = p.begin::<Result<(), ApiError>>(Classify::class);
    assert_eq!(
        call.attempt_sync(Req::new(), || Err(ApiError::BadRequest)),
        Step::Fallback(Err(ApiError::BadRequest))
    );
}

#[test]
fn a_predicate_decides_what_is_retried() {
    let clock = MockClock::new();
    let _g = clock.install();
    let p = Policy::builder("retry-predicate")
        .retry(exact(3))
        .build()
        .unwrap();
    let mut call = p
        .begin::<Result<(), ApiError>>(|e| Class::DEFAULT.retryable_if(*e != ApiError::BadRequest));
    let mut calls = 0;
    let r = loop {
        match call.attempt_sync(Req::new(), || {
            calls += 1;
            Err(if calls < 3 {
                ApiError::Gone
            } else {
                ApiError::BadRequest
            })
        }) {
            Step::Done(r) | Step::Fallback(r) => break r,
            Step::Again => {}
        }
    };
    assert_eq!(r, Err(ApiError::BadRequest));
    assert_eq!(calls, 3);
}

#[test]
fn a_breaker_that_opens_ends_the_retry_loop() {
    let clock = MockClock::new();
    let _g = clock.install();
    let p = Policy::builder("retry-meets-breaker")
        .retry(exact(5))
        .breaker(
            Breaker::new()
                .threshold(2)
                .cooldown(Duration::from_secs(60)),
        )
        .build()
        .unwrap();
    let mut calls = 0;
    let r: Result<(), Error> = p.call(|| {
        calls += 1;
        Err(Error::Timeout {
            policy: "up".into(),
            after: Duration::ZERO,
        })
    });
    assert_eq!(calls, 2);
    assert!(matches!(r, Err(Error::CircuitOpen { .. })), "{r:?}");
}

#[tokio::test(start_paused = true)]
async fn timeouts_fail_the_attempt_and_are_retried() {
    let p = Policy::builder("retry-timeout")
        .retry(exact(2))
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let mut calls = 0;
    let r: Result<u8, Error> = p
        .call_async(|| {
            calls += 1;
            let n = calls;
            async move {
                if n < 3 {
                    std::future::pending::<()>().await;
                }
                Ok(n)
            }
        })
        .await;
    assert_eq!(r, Ok(3));
}

#[test]
fn io_errors_classify_themselves() {
    use std::io::{Error as IoError, ErrorKind};
    assert!(IoError::from(ErrorKind::ConnectionReset).is_retryable());
    assert!(IoError::from(ErrorKind::TimedOut).is_retryable());
    assert!(!IoError::from(ErrorKind::PermissionDenied).is_retryable());
    let open: IoError = Error::CircuitOpen {
        policy: "p".into(),
        retry_in: Duration::from_secs(2),
    }
    .into();
    assert!(!open.is_retryable());
    assert_eq!(open.retry_after(), Some(Duration::from_secs(2)));
    let limited: IoError = Error::RateLimited {
        policy: "p".into(),
        retry_after: Duration::from_secs(3),
    }
    .into();
    assert_eq!(limited.retry_after(), Some(Duration::from_secs(3)));
    assert_eq!(
        IoError::from(Error::Timeout {
            policy: "p".into(),
            after: Duration::ZERO
        })
        .kind(),
        ErrorKind::TimedOut
    );
}

/// Found by review: a huge budget fraction overflowed the budget's arithmetic.
#[test]
fn a_huge_retry_budget_neither_overflows_nor_refuses() {
    let clock = MockClock::new();
    let _g = clock.install();
    let p = Policy::builder("retry-huge-budget")
        .retry(exact(3).delay(Duration::ZERO).budget(1e300))
        .build()
        .unwrap();
    for _ in 0..20 {
        let mut calls = 0;
        let r: Result<(), Error> = p.call(|| {
            calls += 1;
            Err(Error::Timeout {
                policy: "up".into(),
                after: Duration::ZERO,
            })
        });
        assert!(matches!(r, Err(Error::Timeout { .. })));
        assert_eq!(calls, 4);
    }
}

/// Found by review: the mock clock wrapped round to the start of time when moved past its end.
#[test]
fn the_mock_clock_stops_at_the_end_of_time() {
    let clock = MockClock::new();
    let _g = clock.install();
    clock.advance(Duration::MAX);
    let end = clock.elapsed();
    clock.advance(Duration::from_secs(1));
    assert_eq!(clock.elapsed(), end);
    assert_eq!(end, Duration::from_nanos(u64::MAX));
    // policies still work near there: a breaker opens and stays open for its cooldown
    let clock = MockClock::new();
    let _g = clock.install();
    clock.advance(Duration::from_nanos(u64::MAX) - clock.elapsed() - Duration::from_secs(3600));
    let p = Policy::builder("retry-end-of-time")
        .breaker(Breaker::new().threshold(1))
        .build()
        .unwrap();
    let down = Error::Timeout {
        policy: "up".into(),
        after: Duration::ZERO,
    };
    assert_eq!(p.call(|| Err::<(), _>(down.clone())), Err(down));
    assert!(matches!(
        p.call(|| Ok::<_, Error>(())),
        Err(Error::CircuitOpen { .. })
    ));
}
