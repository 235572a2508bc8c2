//! What the public getters, the small value types and the deprecated root names return: each
//! read back after it was set, so that a getter that lost its field shows.

use std::time::Duration;

use staunch_runtime::{Class, Classify, Error, MockClock, Policy, Retry, Stale, Why};

#[test]
fn retry_getters_read_back_what_was_set() {
    let r = Retry::new()
        .max(7)
        .backoff(1.5)
        .delay(Duration::from_millis(250))
        .max_delay(Duration::from_secs(5))
        .jitter(0.2)
        .budget(0.1);
    assert_eq!(r.max_retries(), 7);
    assert_eq!(r.backoff_factor(), 1.5);
    assert_eq!(r.first_delay(), Duration::from_millis(250));
    assert_eq!(r.delay_cap(), Duration::from_secs(5));
    assert_eq!(r.jitter_fraction(), 0.2);
    assert_eq!(r.budget_ratio(), Some(0.1));
    #[allow(deprecated)]
    let max = r.max_value();
    assert_eq!(max, 7);
}

#[test]
fn retry_defaults_read_back() {
    let r = Retry::new();
    assert_eq!(r.max_retries(), 3);
    assert_eq!(r.backoff_factor(), 2.0);
    assert_eq!(r.jitter_fraction(), 1.0);
    assert_eq!(r.budget_ratio(), None, "no budget unless one is set");
    #[allow(deprecated)]
    let max = r.max_value();
    assert_eq!(max, 3);
}

#[test]
fn a_jittered_wait_is_drawn_below_its_ceiling() {
    // jitter 0.5 of one second: every draw lies in [0.5 s, 1 s]; a draw that is never below the
    // ceiling means no jitter was applied
    let r = Retry::new().delay(Duration::from_secs(1)).jitter(0.5);
    let draws: Vec<Duration> = (0..100).map(|_| r.wait(0, None)).collect();
    assert!(draws
        .iter()
        .all(|w| *w >= Duration::from_millis(500) && *w <= Duration::from_secs(1)));
    assert!(
        draws.iter().any(|w| *w < Duration::from_secs(1)),
        "100 jittered draws all at the ceiling: {draws:?}"
    );
    // and with no jitter, the wait is exact
    let exact = Retry::new().delay(Duration::from_secs(1)).jitter(0.0);
    assert!((0..100).all(|_| exact.wait(0, None) == Duration::from_secs(1)));
}

#[test]
fn an_error_names_its_policy_whatever_its_kind() {
    let errors = [
        Error::CircuitOpen {
            policy: "one".into(),
            retry_in: Duration::ZERO,
        },
        Error::RateLimited {
            policy: "two".into(),
            retry_after: Duration::ZERO,
        },
        Error::BulkheadFull {
            policy: "three".into(),
            limit: 1,
        },
        Error::Timeout {
            policy: "four".into(),
            after: Duration::ZERO,
        },
    ];
    let names: Vec<&str> = errors.iter().map(Error::policy).collect();
    assert_eq!(names, ["one", "two", "three", "four"]);
}

#[test]
fn only_an_open_breaker_is_not_worth_a_retry() {
    let open = Error::CircuitOpen {
        policy: "p".into(),
        retry_in: Duration::from_secs(3),
    };
    assert!(!open.is_retryable());
    assert_eq!(open.retry_after(), Some(Duration::from_secs(3)));
    for e in [
        Error::RateLimited {
            policy: "p".into(),
            retry_after: Duration::from_secs(2),
        },
        Error::BulkheadFull {
            policy: "p".into(),
            limit: 4,
        },
        Error::Timeout {
            policy: "p".into(),
            after: Duration::from_secs(1),
        },
    ] {
        assert!(e.is_retryable(), "{e}");
        assert!(e.class().retryable, "{e}");
    }
}

/// An error type that implements `Classify` and overrides nothing.
struct Plain;
impl Classify for Plain {}

#[test]
fn the_trait_defaults_are_retryable_worth_a_fallback_counted_and_without_a_hint() {
    assert!(Plain.is_retryable());
    assert!(Plain.is_fallback_worthy());
    assert!(!Plain.is_caller_fault());
    assert_eq!(Plain.retry_after(), None);
    assert_eq!(Plain.class(), Class::DEFAULT);
}

#[test]
fn class_builders_replace_one_field_each() {
    let c = Class::DEFAULT.fallback_if(false);
    assert!(!c.fallback);
    assert!(c.retryable && c.counts && c.retry_after.is_none());

    let c = Class::DEFAULT.with_retry_after(Some(Duration::from_secs(2)));
    assert_eq!(c.retry_after, Some(Duration::from_secs(2)));
    assert!(c.retryable && c.fallback && c.counts);

    let c = Class::DEFAULT
        .with_retry_after(Some(Duration::from_secs(2)))
        .with_retry_after(None);
    assert_eq!(c.retry_after, None);
    assert_eq!(Class::default(), Class::DEFAULT);
}

#[test]
#[allow(deprecated)]
fn the_deprecated_root_names_still_answer_as_the_new_ones() {
    use staunch_runtime::attempt;
    assert_eq!(
        staunch_runtime::key_hash("alice"),
        attempt::key_hash("alice")
    );
    assert_ne!(
        staunch_runtime::key_hash("alice"),
        staunch_runtime::key_hash("bob")
    );
    assert_eq!(
        staunch_runtime::parse_duration("250ms"),
        Some(Duration::from_millis(250))
    );
    assert_eq!(
        staunch_runtime::parse_duration("2"),
        Some(Duration::from_secs(2))
    );
    assert_eq!(staunch_runtime::parse_duration("soon"), None);
}

#[test]
#[allow(clippy::needless_borrow)] // written as the generated code writes it: `(&Probe(e))`
fn the_generated_code_classifies_by_the_trait_when_there_is_one() {
    use staunch_runtime::__private::{ClassifyViaDefault, ClassifyViaTrait, Probe};
    // io::Error implements Classify: a missing file is not worth a retry
    let missing = std::io::Error::from(std::io::ErrorKind::NotFound);
    let class = (&Probe(&missing)).__staunch_class();
    assert!(!class.retryable && class.fallback && class.counts);
    // a type without Classify gets the default
    struct Opaque;
    assert_eq!((&Probe(&Opaque)).__staunch_class(), Class::DEFAULT);
    // a caller's fault is not counted
    struct Mine;
    impl Classify for Mine {
        fn is_caller_fault(&self) -> bool {
            true
        }
    }
    assert!(!(&Probe(&Mine)).__staunch_class().counts);
}

#[test]
fn a_mock_clock_starts_a_year_into_the_time_base() {
    const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);
    let clock = MockClock::new();
    assert!(clock.elapsed() >= YEAR, "{:?}", clock.elapsed());
}

#[test]
fn dropping_a_guard_brings_the_previous_clock_back() {
    let (outer, inner) = (MockClock::new(), MockClock::new());
    let _outer = outer.install();
    let guard = inner.install();
    drop(guard);
    let p = Policy::builder("getters-guard").rps(1.0).build().unwrap();
    let (outer_t0, inner_t0) = (outer.elapsed(), inner.elapsed());
    for _ in 0..2 {
        // the second call waits a second for its token, on the thread's clock
        assert_eq!(p.call(|| Ok::<_, Error>(())), Ok(()));
    }
    assert_eq!(outer.elapsed() - outer_t0, Duration::from_secs(1));
    assert_eq!(inner.elapsed(), inner_t0, "`inner` is no longer installed");
}

#[test]
fn a_policy_reports_its_own_retry_timeout_and_deadline_under_a_shared_name() {
    let first = Policy::builder("getters-own")
        .retry(Retry::new().max(1))
        .timeout(Duration::from_secs(1))
        .deadline(Duration::from_secs(5))
        .build()
        .unwrap();
    let second = Policy::builder("getters-own")
        .retry(Retry::new().max(5))
        .build()
        .unwrap();
    let (a, b) = (first.config(), second.config());
    assert_eq!(a.retry, Some(Retry::new().max(1)));
    assert_eq!(a.timeout, Some(Duration::from_secs(1)));
    assert_eq!(a.deadline, Some(Duration::from_secs(5)));
    assert_eq!(b.retry, Some(Retry::new().max(5)));
    assert_eq!(b.timeout, None);
    assert_eq!(b.deadline, None);
    // the name's own configuration is the first's
    let shared = second.handle().config();
    assert_eq!(shared.retry, Some(Retry::new().max(1)));
}

#[test]
#[allow(deprecated)]
fn breaker_getters_read_back_what_was_set() {
    use staunch_runtime::Breaker;
    let b = Breaker::new()
        .threshold(7)
        .cooldown(Duration::from_secs(12))
        .half_open(3)
        .max_half_open(Duration::from_secs(40));
    assert_eq!(b.failure_threshold(), 7);
    assert_eq!(b.open_duration(), Duration::from_secs(12));
    assert_eq!(b.trial_calls(), 3);
    assert_eq!(b.half_open_limit(), Some(Duration::from_secs(40)));
    assert_eq!(b.threshold_value(), 7);
    assert_eq!(b.cooldown_value(), Duration::from_secs(12));
    assert_eq!(b.half_open_value(), 3);
    let d = Breaker::new();
    assert_eq!((d.threshold_value(), d.half_open_value()), (5, 1));
    assert_eq!(d.half_open_limit(), None);
}

#[test]
fn why_says_whether_the_policy_turned_the_call_away() {
    let failed: Why<&str> = Why::Failed("down");
    let rejected: Why<&str> = Why::Rejected("full");
    assert!(!failed.is_rejection());
    assert!(rejected.is_rejection());
    assert_eq!((failed.error(), rejected.error()), (&"down", &"full"));
    assert_eq!(
        (failed.into_error(), rejected.into_error()),
        ("down", "full")
    );
}

#[test]
fn a_stale_cache_is_empty_until_it_remembers_an_answer() {
    let cache = Stale::new(2, Duration::from_secs(60));
    assert!(cache.is_empty());
    assert_eq!(cache.len(), 0);
    assert_eq!(cache.settle_sync(1, Ok::<_, ()>("one")), Ok("one"));
    assert!(!cache.is_empty());
    assert_eq!(cache.len(), 1);
    assert_eq!(cache.settle_sync(1, Err::<&str, _>(())), Ok("one"));
    assert_eq!(cache.served(), 1);
}
