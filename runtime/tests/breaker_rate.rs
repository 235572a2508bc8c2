//! The failure-rate breaker (a sliding window by calls or by time, a minimum of calls, slow
//! calls) and the exponential open period, driven by the mock clock (sync) and tokio's paused
//! clock (async). Each case is a sequence of outcomes and clock moves, and what a user sees:
//! the state, the rejection and its `retry_in`, the rates in `Signals`.

use std::time::Duration;

use staunch_runtime::{signals, Breaker, CircuitState, Classify, Error, MockClock, Policy};

const SEC: Duration = Duration::from_secs(1);

#[derive(Debug, PartialEq)]
enum Api {
    Down,
    /// The caller's own fault: does not count against the breaker.
    BadRequest,
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
}

/// One call with outcome `ok` (a success or a failure), which takes `took` on the mock clock.
fn call(p: &Policy, clock: &MockClock, ok: bool, took: Duration) -> Result<(), Api> {
    p.call_classified(|| {
        clock.advance(took);
        if ok {
            Ok(())
        } else {
            Err(Api::Down)
        }
    })
}

fn state(name: &str) -> CircuitState {
    signals(name).unwrap().circuit
}

fn rejected(r: Result<(), Api>) -> Duration {
    match r {
        Err(Api::Policy(Error::CircuitOpen { retry_in, .. })) => retry_in,
        other => panic!("expected a rejection by the breaker, got {other:?}"),
    }
}

/// The case: 30 % of calls fail, never 5 in a row. The breaker of failures in a row
/// never opens; a failure-rate breaker at 0.3 opens on the call that completes its window.
#[test]
fn thirty_percent_failures_open_a_rate_breaker_but_never_five_in_a_row() {
    let clock = MockClock::new();
    let _g = clock.install();
    let pattern = [
        true, true, false, true, true, false, true, false, true, true,
    ];
    let in_a_row = Policy::builder("rate-30-in-a-row")
        .breaker(Breaker::new().threshold(5))
        .build()
        .unwrap();
    for ok in pattern.iter().cycle().take(1000) {
        let _ = call(&in_a_row, &clock, *ok, Duration::ZERO);
    }
    assert_eq!(state("rate-30-in-a-row"), CircuitState::Closed);

    let rate = Policy::builder("rate-30")
        .breaker(Breaker::new().failure_rate(0.3).window_calls(10))
        .build()
        .unwrap();
    for (i, ok) in pattern.iter().enumerate() {
        assert_eq!(state("rate-30"), CircuitState::Closed, "before call {i}");
        let _ = call(&rate, &clock, *ok, Duration::ZERO);
    }
    // the tenth call (a success) fills the window: 3 failures of 10, judged as resilience4j
    // judges, on every call once `min_calls` (here the window's 10) are in
    assert_eq!(state("rate-30"), CircuitState::Open);
    assert_eq!(signals("rate-30").unwrap().failure_rate, Some(0.3));
}

/// Below the rate, it never opens however long it runs; the window slides (old outcomes leave).
#[test]
fn a_rate_below_the_threshold_never_opens_and_the_window_slides() {
    let clock = MockClock::new();
    let _g = clock.install();
    let p = Policy::builder("rate-below")
        .breaker(Breaker::new().failure_rate(0.5).window_calls(4))
        .build()
        .unwrap();
    for _ in 0..100 {
        let _ = call(&p, &clock, false, Duration::ZERO);
        for _ in 0..3 {
            let _ = call(&p, &clock, true, Duration::ZERO);
        }
    }
    assert_eq!(state("rate-below"), CircuitState::Closed);
    assert_eq!(signals("rate-below").unwrap().failure_rate, Some(0.25));
    // two failures: the last four are S S F F, half of them failed
    let _ = call(&p, &clock, false, Duration::ZERO);
    assert_eq!(state("rate-below"), CircuitState::Closed);
    let _ = call(&p, &clock, false, Duration::ZERO);
    assert_eq!(state("rate-below"), CircuitState::Open);
}

/// No verdict before `min_calls`: nine failures of nine do not open a breaker that needs ten.
#[test]
fn no_verdict_before_min_calls() {
    let clock = MockClock::new();
    let _g = clock.install();
    let p = Policy::builder("rate-min-calls")
        .breaker(
            Breaker::new()
                .failure_rate(0.5)
                .window_calls(100)
                .min_calls(10),
        )
        .build()
        .unwrap();
    for _ in 0..9 {
        let _ = call(&p, &clock, false, Duration::ZERO);
    }
    assert_eq!(state("rate-min-calls"), CircuitState::Closed);
    assert_eq!(signals("rate-min-calls").unwrap().failure_rate, Some(1.0));
    let _ = call(&p, &clock, false, Duration::ZERO);
    assert_eq!(state("rate-min-calls"), CircuitState::Open);
}

/// The caller's own faults are neither successes nor failures: they do not enter the window.
#[test]
fn errors_that_do_not_count_stay_out_of_the_window() {
    let clock = MockClock::new();
    let _g = clock.install();
    let p = Policy::builder("rate-ignored")
        .breaker(Breaker::new().failure_rate(0.5).window_calls(4))
        .build()
        .unwrap();
    for _ in 0..10 {
        assert_eq!(
            p.call_classified(|| Err::<(), _>(Api::BadRequest)),
            Err(Api::BadRequest)
        );
    }
    let s = signals("rate-ignored").unwrap();
    assert_eq!(
        (s.circuit, s.failure_rate, s.ignored),
        (CircuitState::Closed, Some(0.0), 10)
    );
    for ok in [false, true, true] {
        let _ = call(&p, &clock, ok, Duration::ZERO);
    }
    assert_eq!(state("rate-ignored"), CircuitState::Closed);
    let _ = call(&p, &clock, false, Duration::ZERO); // F S S F: half failed
    assert_eq!(state("rate-ignored"), CircuitState::Open);
}

/// A call longer than `slow_call` is slow, success or failure; exactly `slow_call` is not.
/// The slow-call rate opens the breaker on its own.
#[test]
fn slow_calls_open_the_breaker_at_the_slow_rate() {
    let clock = MockClock::new();
    let _g = clock.install();
    let p = Policy::builder("rate-slow")
        .breaker(
            Breaker::new()
                .window_calls(4)
                .slow_call(2 * SEC)
                .slow_rate(0.5),
        )
        .build()
        .unwrap();
    // exactly the bound, twice: not slow
    for _ in 0..2 {
        assert_eq!(call(&p, &clock, true, 2 * SEC), Ok(()));
    }
    let _ = call(&p, &clock, true, 3 * SEC); // slow
    assert_eq!(state("rate-slow"), CircuitState::Closed);
    assert_eq!(signals("rate-slow").unwrap().slow_rate, Some(1.0 / 3.0));
    let _ = call(&p, &clock, true, 2 * SEC + Duration::from_nanos(1)); // slow: 2 of 4
    let s = signals("rate-slow").unwrap();
    assert_eq!(
        (s.circuit, s.failure_rate, s.slow_rate),
        (CircuitState::Open, Some(0.0), Some(0.5))
    );
}

/// A slow failure counts as a failure and as a slow call (as resilience4j counts it).
#[test]
fn a_slow_failure_counts_as_both() {
    let clock = MockClock::new();
    let _g = clock.install();
    let p = Policy::builder("rate-slow-failure")
        .breaker(
            Breaker::new()
                .failure_rate(1.0)
                .window_calls(2)
                .slow_call(SEC)
                .slow_rate(0.5),
        )
        .build()
        .unwrap();
    let _ = call(&p, &clock, true, Duration::ZERO);
    let _ = call(&p, &clock, false, 5 * SEC);
    let s = signals("rate-slow-failure").unwrap();
    // one failure of two is below 1.0: the slow rate opened it
    assert_eq!(
        (s.circuit, s.failure_rate, s.slow_rate),
        (CircuitState::Open, Some(0.5), Some(0.5))
    );
}

/// A time window forgets what ended more than `window_time` ago (to a tenth of it).
#[test]
fn a_time_window_forgets_old_outcomes() {
    let clock = MockClock::new();
    let _g = clock.install();
    let p = Policy::builder("rate-time")
        .breaker(
            Breaker::new()
                .failure_rate(0.5)
                .window_time(10 * SEC)
                .min_calls(4),
        )
        .build()
        .unwrap();
    for _ in 0..3 {
        let _ = call(&p, &clock, false, Duration::ZERO);
    }
    assert_eq!(state("rate-time"), CircuitState::Closed); // 3 calls: no verdict
    clock.advance(11 * SEC);
    assert_eq!(signals("rate-time").unwrap().failure_rate, Some(0.0));
    for ok in [true, true, false, true] {
        let _ = call(&p, &clock, ok, Duration::ZERO);
    }
    // the three early failures left the window: 1 of 4
    assert_eq!(state("rate-time"), CircuitState::Closed);
    assert_eq!(signals("rate-time").unwrap().failure_rate, Some(0.25));
    // within the window they stay: one more failure makes 2 of 5, then 3 of 6
    clock.advance(5 * SEC);
    let _ = call(&p, &clock, false, Duration::ZERO);
    assert_eq!(state("rate-time"), CircuitState::Closed);
    let _ = call(&p, &clock, false, Duration::ZERO);
    assert_eq!(state("rate-time"), CircuitState::Open);
}

/// Half-open keeps the contract's semantics: a trial success closes it and empties the window;
/// a slow trial re-opens it.
#[test]
fn trials_close_and_empty_the_window_and_a_slow_trial_re_opens() {
    let clock = MockClock::new();
    let _g = clock.install();
    let p = Policy::builder("rate-trials")
        .breaker(
            Breaker::new()
                .failure_rate(0.5)
                .window_calls(2)
                .slow_call(SEC)
                .cooldown(10 * SEC),
        )
        .build()
        .unwrap();
    let _ = call(&p, &clock, false, Duration::ZERO);
    let _ = call(&p, &clock, false, Duration::ZERO);
    assert_eq!(rejected(call(&p, &clock, true, Duration::ZERO)), 10 * SEC);
    clock.advance(10 * SEC);
    assert_eq!(state("rate-trials"), CircuitState::HalfOpen);
    // a slow trial: as a failure, a new cooldown
    assert_eq!(call(&p, &clock, true, 2 * SEC), Ok(()));
    assert_eq!(state("rate-trials"), CircuitState::Open);
    clock.advance(10 * SEC);
    assert_eq!(call(&p, &clock, true, SEC), Ok(()));
    let s = signals("rate-trials").unwrap();
    assert_eq!(
        (s.circuit, s.failure_rate),
        (CircuitState::Closed, Some(0.0))
    );
    // a fresh window: one failure of one is no verdict (two are needed)
    let _ = call(&p, &clock, false, Duration::ZERO);
    assert_eq!(state("rate-trials"), CircuitState::Closed);
}

/// Each re-open from half-open multiplies the cooldown, up to `max_cooldown`; closing brings it
/// back to `cooldown`.
#[test]
fn the_open_period_grows_exponentially_and_closing_resets_it() {
    let clock = MockClock::new();
    let _g = clock.install();
    let p = Policy::builder("rate-exponential")
        .breaker(
            Breaker::new()
                .threshold(1)
                .cooldown(10 * SEC)
                .max_cooldown(35 * SEC),
        )
        .build()
        .unwrap();
    let _ = call(&p, &clock, false, Duration::ZERO);
    for cooldown in [10, 20, 35, 35] {
        let cooldown = cooldown * SEC;
        assert_eq!(rejected(call(&p, &clock, true, Duration::ZERO)), cooldown);
        clock.advance(cooldown - Duration::from_nanos(1));
        assert_eq!(state("rate-exponential"), CircuitState::Open);
        clock.advance(Duration::from_nanos(1));
        let _ = call(&p, &clock, false, Duration::ZERO); // the trial fails: re-open
    }
    clock.advance(35 * SEC);
    assert_eq!(call(&p, &clock, true, Duration::ZERO), Ok(()));
    assert_eq!(state("rate-exponential"), CircuitState::Closed);
    let _ = call(&p, &clock, false, Duration::ZERO);
    assert_eq!(rejected(call(&p, &clock, true, Duration::ZERO)), 10 * SEC);
}

/// The same for a failure-rate breaker, with a multiplier of 1.5.
#[test]
fn the_exponential_open_period_works_for_a_rate_breaker() {
    let clock = MockClock::new();
    let _g = clock.install();
    let p = Policy::builder("rate-exponential-rate")
        .breaker(
            Breaker::new()
                .failure_rate(0.5)
                .window_calls(1)
                .cooldown(10 * SEC)
                .max_cooldown(60 * SEC)
                .cooldown_multiplier(1.5),
        )
        .build()
        .unwrap();
    let _ = call(&p, &clock, false, Duration::ZERO);
    for cooldown in [10_000, 15_000, 22_500] {
        let cooldown = Duration::from_millis(cooldown);
        assert_eq!(rejected(call(&p, &clock, true, Duration::ZERO)), cooldown);
        clock.advance(cooldown);
        let _ = call(&p, &clock, false, Duration::ZERO);
    }
}

/// On tokio's paused clock: a body that sleeps past `slow_call` is slow, and a timeout is a
/// failure and slow.
#[tokio::test(start_paused = true)]
async fn async_slow_calls_and_timeouts_on_the_paused_clock() {
    let p = Policy::builder("rate-async")
        .breaker(
            Breaker::new()
                .failure_rate(1.0)
                .window_calls(2)
                .slow_call(SEC)
                .slow_rate(1.0),
        )
        .timeout(3 * SEC)
        .build()
        .unwrap();
    let sleepy = |d: Duration| {
        move || async move {
            tokio::time::sleep(d).await;
            Ok::<(), Api>(())
        }
    };
    assert_eq!(p.call_async_classified(sleepy(2 * SEC)).await, Ok(()));
    let s = signals("rate-async").unwrap();
    assert_eq!(
        (s.circuit, s.slow_rate, s.failure_rate),
        (CircuitState::Closed, Some(1.0), Some(0.0))
    );
    let timed_out = p.call_async_classified(sleepy(10 * SEC)).await;
    assert!(
        matches!(timed_out, Err(Api::Policy(Error::Timeout { .. }))),
        "{timed_out:?}"
    );
    let s = signals("rate-async").unwrap();
    assert_eq!(
        (s.circuit, s.slow_rate, s.failure_rate),
        (CircuitState::Open, Some(1.0), Some(0.5))
    );
}

/// A policy without a failure-rate breaker reports no rates.
#[test]
fn signals_report_rates_only_for_a_rate_breaker() {
    let _ = Policy::builder("rate-none")
        .breaker(Breaker::new())
        .build()
        .unwrap();
    let s = signals("rate-none").unwrap();
    assert_eq!((s.failure_rate, s.slow_rate), (None, None));
}

/// The builder checks the new options at `build()`.
#[test]
fn the_builder_rejects_bad_values() {
    let cases = [
        (Breaker::new().failure_rate(0.0), "`breaker(failure_rate)` must be a fraction in (0, 1]"),
        (Breaker::new().failure_rate(f64::NAN), "`breaker(failure_rate)` must be a fraction in (0, 1]"),
        (Breaker::new().slow_rate(1.5), "`breaker(slow_rate)` must be a fraction in (0, 1]"),
        (Breaker::new().window_calls(0), "`breaker(window_calls)` must be between 1 and 1000000"),
        (Breaker::new().window_time(Duration::from_millis(9)), "`breaker(window_time)` must be at least 10ms"),
        (Breaker::new().window_calls(5).window_time(SEC), "`breaker(window_calls)` and `breaker(window_time)` cannot both be set"),
        (Breaker::new().min_calls(0), "`breaker(min_calls)` must be at least 1"),
        (Breaker::new().window_calls(5).min_calls(6), "`breaker(min_calls)` must be at most `breaker(window_calls)`"),
        (Breaker::new().slow_call(Duration::ZERO), "`breaker(slow_call)` must be greater than 0"),
        (Breaker::new().threshold(5).failure_rate(0.5), "`breaker(threshold)` counts failures in a row and `breaker(failure_rate)` (or another window option) a rate: set one of them"),
        (Breaker::new().cooldown_multiplier(2.0), "`breaker(cooldown_multiplier)` needs `breaker(max_cooldown)`"),
        (Breaker::new().max_cooldown(SEC), "`breaker(max_cooldown)` must be at least `breaker(cooldown)`"),
        (Breaker::new().max_cooldown(60 * SEC).cooldown_multiplier(0.5), "`breaker(cooldown_multiplier)` must be a finite number of at least 1.0"),
    ];
    for (i, (b, message)) in cases.into_iter().enumerate() {
        let name = format!("rate-bad-{i}");
        let e = Policy::builder(&name).breaker(b).build().unwrap_err();
        assert_eq!(e.to_string(), format!("policy `{name}`: {message}"));
    }
}

/// `STAUNCH_<NAME>_BREAKER_FAILURE_RATE` and `_BREAKER_SLOW_CALL` override a failure-rate
/// breaker's; a bad value, or a knob of a breaker of failures in a row, is reported and
/// ignored.
#[test]
fn the_environment_overrides_the_rate_and_the_slow_call_bound() {
    std::env::set_var("STAUNCH_RATE_ENV_BREAKER_FAILURE_RATE", "0.25");
    std::env::set_var("STAUNCH_RATE_ENV_BREAKER_SLOW_CALL", "3s");
    let p = Policy::builder("rate-env")
        .breaker(Breaker::new().failure_rate(0.5).slow_call(SEC))
        .build()
        .unwrap();
    let b = p.config().breaker.unwrap();
    assert_eq!(
        (b.failure_rate_threshold(), b.slow_call_bound()),
        (Some(0.25), Some(3 * SEC))
    );

    std::env::set_var("STAUNCH_RATE_ENV_BAD_BREAKER_FAILURE_RATE", "50");
    let p = Policy::builder("rate-env-bad")
        .breaker(Breaker::new().failure_rate(0.5))
        .build()
        .unwrap();
    assert_eq!(
        p.config().breaker.unwrap().failure_rate_threshold(),
        Some(0.5)
    );
    std::env::set_var("STAUNCH_RATE_ENV_ROW_BREAKER_FAILURE_RATE", "0.5");
    let p = Policy::builder("rate-env-row")
        .breaker(Breaker::new().threshold(3))
        .build()
        .unwrap();
    assert_eq!(p.config().breaker.unwrap().failure_rate_threshold(), None);
    let w = staunch_runtime::warnings();
    for (var, why) in [
        (
            "STAUNCH_RATE_ENV_BAD_BREAKER_FAILURE_RATE",
            "`breaker(failure_rate)` must be a fraction in (0, 1]",
        ),
        (
            "STAUNCH_RATE_ENV_ROW_BREAKER_FAILURE_RATE",
            "the policy has no failure-rate breaker",
        ),
    ] {
        assert_eq!(
            w.iter()
                .filter(|m| m.contains(var) && m.contains(why))
                .count(),
            1,
            "{var} in {w:?}"
        );
    }
}

/// The failure-rate breaker reports its state changes as events, as the other one does: it
/// opens, turns half-open, re-opens on a slow trial, and closes.
#[test]
fn state_changes_are_reported_as_events() {
    use staunch_runtime::events::{self, EventKind, Filter, Kinds};
    use std::sync::{Arc, Mutex};
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let _s = events::subscribe(
        Filter::policy("rate-events").kinds(Kinds::STATE),
        move |e| {
            if let EventKind::StateChange { from, to } = e.kind {
                sink.lock().unwrap().push((from, to));
            }
        },
    );
    let clock = MockClock::new();
    let _g = clock.install();
    let p = Policy::builder("rate-events")
        .breaker(
            Breaker::new()
                .window_calls(2)
                .slow_call(SEC)
                .cooldown(10 * SEC),
        )
        .build()
        .unwrap();
    let _ = call(&p, &clock, true, Duration::ZERO);
    let _ = call(&p, &clock, false, Duration::ZERO); // 1 of 2: open
    clock.advance(10 * SEC);
    let _ = call(&p, &clock, true, 2 * SEC); // a slow trial: open again
    clock.advance(10 * SEC);
    let _ = call(&p, &clock, true, Duration::ZERO); // closes
    events::flush();
    use CircuitState::{Closed, HalfOpen, Open};
    assert_eq!(
        *seen.lock().unwrap(),
        [
            (Closed, Open),
            (Open, HalfOpen),
            (HalfOpen, Open),
            (Open, HalfOpen),
            (HalfOpen, Closed)
        ]
    );
}
