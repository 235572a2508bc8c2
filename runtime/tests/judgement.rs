//! Judging a provider's health right: what counts against the breaker, hints with a ceiling,
//! deadlines, a retry budget shared by name with a floor, and waiters that give their tokens back.
//! Time moves by the mock clock (sync) or tokio's paused clock (async).

use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use staunch_runtime::attempt::{Req, Step};
use staunch_runtime::{
    signals, Breaker, CircuitState, Class, Classify, Error, MockClock, Policy, Retry,
};
use tokio::time::Instant;

#[derive(Clone, Debug, PartialEq)]
enum Api {
    /// The provider is down.
    Down,
    /// The request was wrong (a 400): the caller's fault.
    BadRequest,
    /// Busy: come back after this long.
    Busy(Duration),
    Policy(Error),
}

impl From<Error> for Api {
    fn from(e: Error) -> Self {
        Api::Policy(e)
    }
}

impl Classify for Api {
    fn is_caller_fault(&self) -> bool {
        *self == Api::BadRequest
    }
    fn retry_after(&self) -> Option<Duration> {
        match self {
            Api::Busy(d) => Some(*d),
            _ => None,
        }
    }
}

fn state(name: &str) -> CircuitState {
    signals(name).unwrap().circuit
}

fn exact(max: u32) -> Retry {
    Retry::new().max(max).jitter(0.0)
}

// --- what counts against the breaker ---

#[test]
fn bad_requests_never_open_the_breaker() {
    let clock = MockClock::new();
    let _g = clock.install();
    let p = Policy::builder("judge-bad-requests")
        .breaker(Breaker::new().threshold(2))
        .build()
        .unwrap();
    for _ in 0..5 {
        assert_eq!(
            p.call_classified(|| Err::<(), _>(Api::BadRequest)),
            Err(Api::BadRequest)
        );
    }
    assert_eq!(state("judge-bad-requests"), CircuitState::Closed);
    assert_eq!(
        signals("judge-bad-requests").unwrap().consecutive_failures,
        0
    );
    // the provider's own failures still open it
    for _ in 0..2 {
        assert_eq!(
            p.call_classified(|| Err::<(), _>(Api::Down)),
            Err(Api::Down)
        );
    }
    assert_eq!(state("judge-bad-requests"), CircuitState::Open);
}

#[test]
fn a_callers_fault_neither_breaks_nor_extends_a_run_of_failures() {
    let clock = MockClock::new();
    let _g = clock.install();
    let p = Policy::builder("judge-run")
        .breaker(Breaker::new().threshold(2))
        .build()
        .unwrap();
    let fail = |e: Api| p.call_classified(|| Err::<(), _>(e.clone()));
    assert_eq!(fail(Api::Down), Err(Api::Down));
    assert_eq!(fail(Api::BadRequest), Err(Api::BadRequest));
    assert_eq!(
        signals("judge-run").unwrap().consecutive_failures,
        1,
        "not extended"
    );
    assert_eq!(state("judge-run"), CircuitState::Closed);
    assert_eq!(fail(Api::Down), Err(Api::Down));
    assert_eq!(state("judge-run"), CircuitState::Open, "not broken either");
}

#[test]
fn a_trial_that_ends_in_the_callers_fault_gives_its_slot_back_with_no_verdict() {
    let clock = MockClock::new();
    let _g = clock.install();
    let p = Policy::builder("judge-trial")
        .breaker(
            Breaker::new()
                .threshold(1)
                .cooldown(Duration::from_secs(1))
                .half_open(1),
        )
        .build()
        .unwrap();
    assert_eq!(
        p.call_classified(|| Err::<(), _>(Api::Down)),
        Err(Api::Down)
    );
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        p.call_classified(|| Err::<(), _>(Api::BadRequest)),
        Err(Api::BadRequest)
    );
    assert_eq!(state("judge-trial"), CircuitState::HalfOpen);
    // the only trial slot is free again: the next call is let through, and closes it
    assert_eq!(p.call_classified(|| Ok::<_, Api>(7)), Ok(7));
    assert_eq!(state("judge-trial"), CircuitState::Closed);
}

#[test]
fn a_callers_fault_is_not_retried_and_is_worth_a_fallback() {
    let clock = MockClock::new();
    let _g = clock.install();
    let p = Policy::builder("judge-no-retry")
        .retry(exact(3))
        .build()
        .unwrap();
    let mut call = p.begin::<Result<(), Api>>(Classify::class);
    let mut calls = 0;
    let step = call.attempt_sync(Req::new(), || {
        calls += 1;
        Err(Api::BadRequest)
    });
    assert_eq!(step, Step::Fallback(Err(Api::BadRequest)));
    assert_eq!((calls, call.retries()), (1, 0));
}

#[test]
fn a_classification_can_leave_an_error_out_of_the_breaker() {
    // what `breaker(on = is_outage)` expands to
    let clock = MockClock::new();
    let _g = clock.install();
    let p = Policy::builder("judge-on")
        .breaker(Breaker::new().threshold(1))
        .build()
        .unwrap();
    let is_outage = |e: &Api| *e == Api::Down;
    let classify: fn(&Api) -> Class = |e| Class::DEFAULT.counting_if(*e == Api::Down);
    for e in [Api::Busy(Duration::ZERO), Api::BadRequest] {
        assert!(!is_outage(&e));
        let mut call = p.begin::<Result<(), Api>>(classify);
        let step = call.attempt_sync(Req::new(), || Err(e.clone()));
        assert_eq!(step, Step::Fallback(Err(e)));
        assert_eq!(state("judge-on"), CircuitState::Closed);
    }
    let mut call = p.begin::<Result<(), Api>>(classify);
    let _ = call.attempt_sync(Req::new(), || Err(Api::Down));
    assert_eq!(state("judge-on"), CircuitState::Open);
}

// --- the ceiling on hints ---

#[test]
fn a_hint_past_max_delay_ends_the_retries_at_once_and_holds_off_for_max_delay() {
    let clock = MockClock::new();
    let _g = clock.install();
    let p = Policy::builder("judge-hint-ceiling")
        .retry(exact(3).max_delay(Duration::from_secs(5)))
        .rps(100.0)
        .build()
        .unwrap();
    let t0 = clock.elapsed();
    let mut calls = 0;
    let r = p.call_classified(|| {
        calls += 1;
        Err::<(), _>(Api::Busy(Duration::from_secs(3600)))
    });
    assert_eq!(r, Err(Api::Busy(Duration::from_secs(3600))));
    assert_eq!(calls, 1, "no retry");
    assert_eq!(clock.elapsed() - t0, Duration::ZERO, "no wait");
    let held = signals("judge-hint-ceiling").unwrap().held_off_for;
    assert_eq!(
        held,
        Duration::from_secs(5),
        "held off for max_delay, not an hour"
    );
    clock.advance(Duration::from_secs(5));
    assert_eq!(p.call_classified(|| Ok::<_, Api>(1)), Ok(1));
}

#[test]
fn a_hint_within_max_delay_is_waited_out() {
    let clock = MockClock::new();
    let _g = clock.install();
    let p = Policy::builder("judge-hint-within")
        .retry(exact(1).max_delay(Duration::from_secs(5)))
        .build()
        .unwrap();
    let t0 = clock.elapsed();
    let mut calls = 0;
    let r = p.call_classified(|| {
        calls += 1;
        if calls == 1 {
            Err(Api::Busy(Duration::from_secs(5)))
        } else {
            Ok(calls)
        }
    });
    assert_eq!(r, Ok(2));
    assert_eq!(clock.elapsed() - t0, Duration::from_secs(5));
}

#[test]
fn without_retry_a_hold_off_lasts_thirty_seconds_at_most() {
    let clock = MockClock::new();
    let _g = clock.install();
    let p = Policy::builder("judge-hint-no-retry")
        .rps(10.0)
        .build()
        .unwrap();
    let r = p.call_classified(|| Err::<(), _>(Api::Busy(Duration::from_secs(3600))));
    assert_eq!(r, Err(Api::Busy(Duration::from_secs(3600))));
    assert_eq!(
        signals("judge-hint-no-retry").unwrap().held_off_for,
        Duration::from_secs(30)
    );
}

// --- deadlines ---

#[test]
fn a_retry_that_would_start_past_the_deadline_is_not_made() {
    let clock = MockClock::new();
    let _g = clock.install();
    let p = Policy::builder("judge-deadline-sync")
        .retry(exact(10).delay(Duration::from_secs(1)).backoff(1.0))
        .deadline(Duration::from_millis(2500))
        .build()
        .unwrap();
    let t0 = clock.elapsed();
    let mut calls = 0;
    let r = p.call_classified(|| {
        calls += 1;
        Err::<(), _>(Api::Down)
    });
    assert_eq!(r, Err(Api::Down), "the last attempt's error");
    // attempts at 0 s, 1 s and 2 s; the next would start at 3 s, past 2.5 s
    assert_eq!(calls, 3);
    assert_eq!(clock.elapsed() - t0, Duration::from_secs(2));
}

#[test]
fn a_token_wait_that_cannot_end_before_the_deadline_fails_at_once() {
    let clock = MockClock::new();
    let _g = clock.install();
    let short = Policy::builder("judge-deadline-token")
        .rps(1.0)
        .deadline(Duration::from_millis(500))
        .build()
        .unwrap();
    assert_eq!(short.call(|| Ok::<_, Error>(1)), Ok(1));
    let t0 = clock.elapsed();
    assert_eq!(
        short.call(|| Ok::<_, Error>(2)),
        Err(Error::RateLimited {
            policy: "judge-deadline-token".into(),
            retry_after: Duration::from_secs(1)
        })
    );
    assert_eq!(clock.elapsed() - t0, Duration::ZERO);
    // a function of the same name with a longer deadline waits for its token
    let long = Policy::builder("judge-deadline-token")
        .deadline(Duration::from_secs(2))
        .build()
        .unwrap();
    assert_eq!(long.call(|| Ok::<_, Error>(3)), Ok(3));
    assert_eq!(clock.elapsed() - t0, Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn an_async_attempt_running_at_the_deadline_is_cancelled_with_a_timeout() {
    let p = Policy::builder("judge-deadline-async")
        .deadline(Duration::from_secs(2))
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let t0 = Instant::now();
    let r: Result<(), Error> = p
        .call_async(|| async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(())
        })
        .await;
    assert_eq!(
        r,
        Err(Error::Timeout {
            policy: "judge-deadline-async".into(),
            after: Duration::from_secs(2)
        })
    );
    assert_eq!(t0.elapsed(), Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn the_deadline_spans_attempts_and_waits_and_the_timeout_still_cuts_each_attempt() {
    let p = Policy::builder("judge-deadline-span")
        .retry(exact(100).delay(Duration::from_secs(1)).backoff(1.0))
        .timeout(Duration::from_millis(1500))
        .deadline(Duration::from_millis(6200))
        .build()
        .unwrap();
    let t0 = Instant::now();
    let mut calls = 0;
    let r: Result<(), Error> = p
        .call_async(|| {
            calls += 1;
            async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok(())
            }
        })
        .await;
    // attempts at 0, 2.5 and 5 s; each cut at 1.5 s, except the last, which the deadline
    // cuts at 6.2 s
    assert_eq!(calls, 3);
    assert_eq!(
        r,
        Err(Error::Timeout {
            policy: "judge-deadline-span".into(),
            after: Duration::from_millis(6200)
        })
    );
    assert_eq!(t0.elapsed(), Duration::from_millis(6200));
}

#[test]
fn the_deadline_comes_from_the_environment_too() {
    std::env::set_var("STAUNCH_JUDGE_ENV_DEADLINE", "1.5");
    std::env::set_var("STAUNCH_JUDGE_ENV_ZERO_DEADLINE", "0");
    let p = Policy::builder("judge-env").build().unwrap();
    assert_eq!(p.config().deadline, Some(Duration::from_millis(1500)));
    let p = Policy::builder("judge-env-zero")
        .deadline(Duration::from_secs(3))
        .build()
        .unwrap();
    assert_eq!(p.config().deadline, Some(Duration::from_secs(3)));
    assert!(staunch_runtime::warnings().iter().any(|w| w
        == "ignoring STAUNCH_JUDGE_ENV_ZERO_DEADLINE=\"0\": `deadline` must be greater than 0; keeping the configured value"));
}

// --- the retry budget: shared by name, with a floor ---

#[test]
fn a_quiet_client_retries_and_the_budget_is_shared_by_name() {
    let clock = MockClock::new();
    let _g = clock.install();
    let budgeted = || exact(6).delay(Duration::ZERO).budget(0.1);
    let a = Policy::builder("judge-budget")
        .retry(budgeted())
        .build()
        .unwrap();
    let b = Policy::builder("judge-budget")
        .retry(budgeted())
        .build()
        .unwrap();
    let calls = |p: &Policy| {
        let mut n = 0;
        let r = p.call_classified(|| {
            n += 1;
            Err::<(), _>(Api::Down)
        });
        assert_eq!(r, Err(Api::Down));
        n
    };
    // no traffic before: the floor alone pays, ten retries over ten seconds
    assert_eq!(calls(&a), 7, "six retries");
    assert_eq!(calls(&b), 5, "the four left, shared with `a`");
    assert_eq!(calls(&a), 1, "spent: no retry");
    clock.advance(Duration::from_secs(10));
    assert_eq!(calls(&b), 7, "a new window");
    assert_eq!(signals("judge-budget").unwrap().retries, 6 + 4 + 6);
}

// --- waiters that give their tokens back ---

#[tokio::test(start_paused = true)]
async fn a_caller_dropped_while_it_waits_for_a_token_gives_it_back() {
    let p = Policy::builder("judge-dropped-waiter")
        .rps(1.0)
        .build()
        .unwrap();
    let ok = || async { Ok::<_, Error>(()) };
    assert_eq!(p.call_async(ok).await, Ok(()));
    // the next token comes at 1 s; this caller gives up after 10 ms
    let gave_up = tokio::time::timeout(Duration::from_millis(10), p.call_async(ok)).await;
    assert!(gave_up.is_err(), "it timed out");
    let t0 = Instant::now();
    assert_eq!(p.call_async(ok).await, Ok(()));
    assert_eq!(
        t0.elapsed(),
        Duration::from_millis(990),
        "as if the dropped caller had never asked"
    );
}

#[test]
fn a_bulkhead_that_turns_an_admitted_call_away_gives_its_token_back() {
    let clock = MockClock::new();
    let _g = clock.install();
    let p = Policy::builder("judge-bulkhead-refund")
        .rps(1.0)
        .burst(2)
        .max_inflight(1)
        .build()
        .unwrap();
    let inner = p.clone();
    let r = p.call(|| {
        // the limiter admits it, the bulkhead (held by this call) does not
        assert_eq!(
            inner.call(|| Ok::<_, Error>(())),
            Err(Error::BulkheadFull {
                policy: "judge-bulkhead-refund".into(),
                limit: 1
            })
        );
        Ok::<_, Error>(())
    });
    assert_eq!(r, Ok(()));
    assert_eq!(
        signals("judge-bulkhead-refund").unwrap().rate_remaining,
        Some(1.0),
        "one token spent, the turned-away call's given back"
    );
}

#[tokio::test(start_paused = true)]
async fn callers_that_give_up_do_not_starve_the_limiter() {
    // 1,000 callers with 10 ms client timeouts on a 10/s bucket, over 10 s...
    let p = Policy::builder("judge-starvation")
        .rps(10.0)
        .build()
        .unwrap();
    let t0 = Instant::now();
    for _ in 0..1000 {
        let p = p.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(
                Duration::from_millis(10),
                p.call_async(|| async { Ok::<_, Error>(()) }),
            )
            .await;
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(t0.elapsed(), Duration::from_secs(10));
    // ...then well-behaved callers, who wait as long as it takes: in the next 10 s the bucket
    // admits at least 95 % of rate × time to them
    let served = Arc::new(AtomicU32::new(0));
    for _ in 0..300 {
        let (p, served) = (p.clone(), served.clone());
        tokio::spawn(async move {
            if p.call_async(|| async { Ok::<_, Error>(()) }).await.is_ok() {
                served.fetch_add(1, SeqCst);
            }
        });
    }
    tokio::time::sleep(Duration::from_secs(10)).await;
    let served = served.load(SeqCst);
    assert!(served >= 95, "{served} served of 100 a fair bucket gives");
    assert!(
        served <= 110,
        "{served}: never more than burst + rate × time"
    );
}

// --- the same, async, on tokio's paused clock ---

#[tokio::test(start_paused = true)]
async fn async_a_hint_past_max_delay_ends_the_retries_and_a_hint_within_it_is_waited() {
    let p = Policy::builder("judge-async-hints")
        .retry(exact(1).max_delay(Duration::from_secs(5)))
        .rps(100.0)
        .build()
        .unwrap();
    let t0 = Instant::now();
    let mut calls = 0;
    let r = p
        .call_async_classified(|| {
            calls += 1;
            async { Err::<(), _>(Api::Busy(Duration::from_secs(3600))) }
        })
        .await;
    assert_eq!(r, Err(Api::Busy(Duration::from_secs(3600))));
    assert_eq!((calls, t0.elapsed()), (1, Duration::ZERO));
    assert_eq!(
        signals("judge-async-hints").unwrap().held_off_for,
        Duration::from_secs(5)
    );
    // held off: the next call waits the 5 s out, then its hint of 2 s is honoured
    let mut calls = 0;
    let r = p
        .call_async_classified(|| {
            calls += 1;
            let first = calls == 1;
            async move {
                if first {
                    Err(Api::Busy(Duration::from_secs(2)))
                } else {
                    Ok(calls)
                }
            }
        })
        .await;
    assert_eq!(r, Ok(2));
    assert_eq!(t0.elapsed(), Duration::from_secs(5 + 2));
}

#[tokio::test(start_paused = true)]
async fn async_bad_requests_are_not_retried_and_never_open_the_breaker() {
    let p = Policy::builder("judge-async-bad")
        .retry(exact(3).delay(Duration::from_secs(1)))
        .breaker(Breaker::new().threshold(1))
        .build()
        .unwrap();
    let t0 = Instant::now();
    for _ in 0..3 {
        let mut calls = 0;
        let r = p
            .call_async_classified(|| {
                calls += 1;
                async { Err::<(), _>(Api::BadRequest) }
            })
            .await;
        assert_eq!((r, calls), (Err(Api::BadRequest), 1));
    }
    assert_eq!(t0.elapsed(), Duration::ZERO, "no backoff wait");
    assert_eq!(state("judge-async-bad"), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn async_the_retry_budget_floor_lets_a_quiet_client_retry() {
    let p = Policy::builder("judge-async-budget")
        .retry(
            exact(20)
                .delay(Duration::from_millis(100))
                .backoff(1.0)
                .budget(0.1),
        )
        .build()
        .unwrap();
    let t0 = Instant::now();
    let mut calls = 0;
    let r = p
        .call_async_classified(|| {
            calls += 1;
            async { Err::<(), _>(Api::Down) }
        })
        .await;
    assert_eq!(r, Err(Api::Down));
    // one first attempt pays for 0.1 of a retry: the floor, ten a window, pays for the rest
    assert_eq!(calls, 1 + 10);
    assert_eq!(t0.elapsed(), Duration::from_secs(1), "ten waits of 100 ms");
}

#[tokio::test(start_paused = true)]
async fn deadlines_at_the_edges_of_what_is_accepted() {
    // the shortest: a body that answers at once still answers; one that waits is cut as soon
    // as tokio's timers can (they tick by the millisecond: a body done within that tick wins)
    let shortest = Policy::builder("judge-deadline-1ns")
        .deadline(Duration::from_nanos(1))
        .build()
        .unwrap();
    assert_eq!(
        shortest.call_async(|| async { Ok::<_, Error>(1) }).await,
        Ok(1)
    );
    assert_eq!(
        shortest
            .call_async(|| async {
                tokio::time::sleep(Duration::from_millis(2)).await;
                Ok::<_, Error>(2)
            })
            .await,
        Err(Error::Timeout {
            policy: "judge-deadline-1ns".into(),
            after: Duration::from_nanos(1)
        })
    );
    // the longest: no wait, no cut, retries as if there were no deadline
    let longest = Policy::builder("judge-deadline-max")
        .retry(exact(2).delay(Duration::from_secs(1)))
        .deadline(Duration::MAX)
        .build()
        .unwrap();
    let t0 = Instant::now();
    let mut calls = 0;
    let r = longest
        .call_async_classified(|| {
            calls += 1;
            async { Err::<(), _>(Api::Down) }
        })
        .await;
    assert_eq!((r, calls), (Err(Api::Down), 3));
    assert_eq!(t0.elapsed(), Duration::from_secs(1 + 2));
    // and sync, on a mock clock far ahead
    let clock = MockClock::new();
    let _g = clock.install();
    clock.advance(Duration::from_nanos(u64::MAX / 2));
    let mut calls = 0;
    let r = longest.call_classified(|| {
        calls += 1;
        Err::<(), _>(Api::Down)
    });
    assert_eq!((r, calls), (Err(Api::Down), 3));
}
