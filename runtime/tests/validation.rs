//! Rates and budgets the builder refuses, and the warning a rate from the environment that is
//! not a positive number gets.

use std::time::Duration;

use staunch_runtime::redis::Redis;
use staunch_runtime::{warnings, Policy, Retry};

fn refusal(b: staunch_runtime::PolicyBuilder) -> String {
    b.build().unwrap_err().to_string()
}

#[test]
fn a_rate_must_be_a_positive_finite_number() {
    for (r, what) in [
        (0.0, "zero"),
        (-1.0, "negative"),
        (f64::INFINITY, "infinite"),
        (f64::NAN, "not a number"),
    ] {
        assert_eq!(
            refusal(Policy::builder("val-rps").rps(r)),
            "policy `val-rps`: `rps` must be greater than 0",
            "{what}"
        );
        assert_eq!(
            refusal(Policy::builder("val-rpm").rpm(r)),
            "policy `val-rpm`: `rpm` must be greater than 0",
            "{what}"
        );
        assert_eq!(
            refusal(Policy::builder("val-tpm").tpm(r)),
            "policy `val-tpm`: `tpm` must be greater than 0",
            "{what}"
        );
    }
    assert!(Policy::builder("val-rps-ok").rps(0.5).build().is_ok());
}

#[test]
fn a_retry_budget_must_be_a_positive_finite_number() {
    for (b, what) in [
        (0.0, "zero"),
        (-0.1, "negative"),
        (f64::INFINITY, "infinite"),
        (f64::NAN, "not a number"),
    ] {
        assert_eq!(
            refusal(Policy::builder("val-budget").retry(Retry::new().budget(b))),
            "policy `val-budget`: `retry(budget)` must be greater than 0",
            "{what}"
        );
    }
    let p = Policy::builder("val-budget-ok")
        .retry(Retry::new().budget(0.2))
        .build()
        .unwrap();
    assert_eq!(p.config().retry.unwrap().budget_ratio(), Some(0.2));
}

#[test]
fn a_rate_from_the_environment_that_is_not_positive_is_reported_as_such() {
    std::env::set_var("STAUNCH_VAL_ENV_ZERO_RPS", "0");
    std::env::set_var("STAUNCH_VAL_ENV_NEGATIVE_RPM", "-2");
    std::env::set_var("STAUNCH_VAL_ENV_INFINITE_TPM", "inf");
    let zero = Policy::builder("val-env-zero").rps(5.0).build().unwrap();
    let negative = Policy::builder("val-env-negative")
        .rpm(60.0)
        .build()
        .unwrap();
    let infinite = Policy::builder("val-env-infinite")
        .tpm(1000.0)
        .build()
        .unwrap();
    assert_eq!(zero.config().rate.unwrap().rate, 5.0);
    assert_eq!(negative.config().rate.unwrap().rate, 60.0);
    assert_eq!(infinite.config().tokens.unwrap().rate, 1000.0);
    let w = warnings();
    for (var, value) in [
        ("STAUNCH_VAL_ENV_ZERO_RPS", "0"),
        ("STAUNCH_VAL_ENV_NEGATIVE_RPM", "-2"),
        ("STAUNCH_VAL_ENV_INFINITE_TPM", "inf"),
    ] {
        let want = format!(
            "ignoring {var}=\"{value}\": expected a number greater than 0; keeping the configured value"
        );
        assert!(w.contains(&want), "{want} in {w:#?}");
    }
}

#[test]
fn a_redis_timeout_must_be_greater_than_0_and_at_most_60s() {
    for (t, what) in [
        (Duration::ZERO, "zero"),
        (
            Duration::from_secs(60) + Duration::from_nanos(1),
            "just past 60 s",
        ),
        (Duration::from_secs(61), "61 s"),
        (Duration::MAX, "the longest duration"),
    ] {
        assert_eq!(
            refusal(
                Policy::builder("val-redis-timeout")
                    .rps(1.0)
                    .redis(Redis::new().timeout(t))
            ),
            "policy `val-redis-timeout`: `redis(timeout)` must be greater than 0 and at most 60s",
            "{what}"
        );
    }
    for (t, name) in [
        (Duration::from_nanos(1), "val-redis-timeout-1ns"),
        (Redis::MAX_TIMEOUT, "val-redis-timeout-60s"),
    ] {
        let p = Policy::builder(name)
            .rps(1.0)
            .redis(Redis::new().timeout(t))
            .build()
            .unwrap();
        assert_eq!(p.config().redis.as_ref().unwrap().timeout_value(), t);
    }
}

/// The URL is checked at build, not at the first call.
#[cfg(feature = "redis")]
#[test]
fn a_redis_url_that_does_not_parse_is_refused() {
    for url in ["http://nope", "not a url", ""] {
        let e = refusal(
            Policy::builder("val-redis-url")
                .rps(1.0)
                .redis(Redis::new().url(url)),
        );
        let why = e
            .strip_prefix("policy `val-redis-url`: `redis(url)` does not parse: ")
            .unwrap_or_else(|| panic!("{url:?}: {e}"));
        // the rest is redis-rs's own words
        assert!(!why.is_empty(), "{url:?}: {e}");
    }
    assert!(Policy::builder("val-redis-url-ok")
        .rps(1.0)
        .redis(Redis::new().url("redis://127.0.0.1:1/0"))
        .build()
        .is_ok());
}
