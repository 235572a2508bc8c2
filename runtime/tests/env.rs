//! `STAUNCH_<NAME>_<KNOB>` overrides, read when a policy is created.

use std::time::Duration;

use staunch_runtime::{warnings, Breaker, Policy, Retry};

#[test]
fn good_values_override_the_configured_ones() {
    std::env::set_var("STAUNCH_ENV_GOOD_RPS", "7");
    std::env::set_var("STAUNCH_ENV_GOOD_BURST", "3");
    std::env::set_var("STAUNCH_ENV_GOOD_MAX_INFLIGHT", "9");
    std::env::set_var("STAUNCH_ENV_GOOD_BREAKER_THRESHOLD", "11");
    std::env::set_var("STAUNCH_ENV_GOOD_BREAKER_COOLDOWN", "250ms");
    std::env::set_var("STAUNCH_ENV_GOOD_RETRY_MAX", "6");
    std::env::set_var("STAUNCH_ENV_GOOD_TIMEOUT", "1.5");
    let p = Policy::builder("env-good")
        .rpm(60.0)
        .breaker(Breaker::new())
        .retry(Retry::new())
        .build()
        .unwrap();
    let c = p.config();
    let rate = c.rate.unwrap();
    assert_eq!(
        (rate.rate, rate.per, rate.burst),
        (7.0, Duration::from_secs(1), 3)
    );
    assert_eq!(c.max_inflight, Some(9));
    let b = c.breaker.unwrap();
    assert_eq!(
        (b.failure_threshold(), b.open_duration()),
        (11, Duration::from_millis(250))
    );
    assert_eq!(c.retry.unwrap().max_retries(), 6);
    assert_eq!(c.timeout, Some(Duration::from_millis(1500)));
}

#[test]
fn names_map_to_upper_case_with_underscores() {
    std::env::set_var("STAUNCH_ENV_OPEN_AI_V2_MAX_INFLIGHT", "4");
    let p = Policy::builder("env-open.ai/v2").build().unwrap();
    assert_eq!(p.config().max_inflight, Some(4));
}

#[test]
fn a_bad_value_is_reported_once_and_the_configured_value_kept() {
    std::env::set_var("STAUNCH_ENV_BAD_RPS", "lots");
    std::env::set_var("STAUNCH_ENV_BAD_BREAKER_THRESHOLD", "0");
    std::env::set_var("STAUNCH_ENV_BAD_BREAKER_COOLDOWN", "5 fortnights");
    let p = Policy::builder("env-bad")
        .rps(5.0)
        .breaker(Breaker::new().threshold(2))
        .build()
        .unwrap();
    let _again = Policy::builder("env-bad").build().unwrap();
    let _unnamed = Policy::unnamed("env-bad").build().unwrap();
    let c = p.config();
    assert_eq!(c.rate.unwrap().rate, 5.0);
    assert_eq!(c.breaker.unwrap().failure_threshold(), 2);
    assert_eq!(c.breaker.unwrap().open_duration(), Duration::from_secs(30));
    let w = warnings();
    for var in [
        "STAUNCH_ENV_BAD_RPS",
        "STAUNCH_ENV_BAD_BREAKER_THRESHOLD",
        "STAUNCH_ENV_BAD_BREAKER_COOLDOWN",
    ] {
        assert_eq!(
            w.iter().filter(|m| m.contains(var)).count(),
            1,
            "{var} in {w:?}"
        );
    }
}

/// Regression: a knob that parses but makes the configuration invalid (a burst without a rate)
/// made `build` fail, and the attribute's policy creation panic.
#[test]
fn a_value_that_would_make_the_policy_invalid_is_reported_and_ignored() {
    std::env::set_var("STAUNCH_ENV_BURST_ALONE_BURST", "10");
    std::env::set_var("STAUNCH_ENV_BURST_ALONE_MAX_INFLIGHT", "3");
    let p = Policy::builder("env-burst-alone")
        .build()
        .expect("the environment never makes a policy invalid");
    assert_eq!(p.config().rate, None);
    assert_eq!(
        p.config().max_inflight,
        Some(3),
        "the good knob still applies"
    );
    let w = warnings();
    assert_eq!(
        w.iter()
            .filter(|m| m.contains("STAUNCH_ENV_BURST_ALONE_BURST"))
            .count(),
        1,
        "{w:?}"
    );
}

/// A policy without retry may wrap a body that cannot run twice: `RETRY_MAX` cannot add retries.
#[test]
fn retry_max_never_adds_retries_to_a_policy_without_them() {
    std::env::set_var("STAUNCH_ENV_NO_RETRY_RETRY_MAX", "4");
    let p = Policy::builder("env-no-retry").build().unwrap();
    assert_eq!(p.config().retry, None);
    assert!(warnings()
        .iter()
        .any(|w| w.contains("STAUNCH_ENV_NO_RETRY_RETRY_MAX") && w.contains("does not retry")));
}

/// Found by review: a value that is not UTF-8 was taken for an unset variable, silently.
#[cfg(unix)]
#[test]
fn a_value_that_is_not_utf8_is_reported_once_and_ignored() {
    use std::os::unix::ffi::OsStringExt;
    std::env::set_var(
        "STAUNCH_ENV_NOT_UTF8_MAX_INFLIGHT",
        std::ffi::OsString::from_vec(vec![b'4', 0xff, 0xfe]),
    );
    let p = Policy::builder("env-not-utf8")
        .max_inflight(2)
        .build()
        .unwrap();
    assert_eq!(p.config().max_inflight, Some(2));
    let reported: Vec<String> = warnings()
        .into_iter()
        .filter(|w| w.contains("STAUNCH_ENV_NOT_UTF8_MAX_INFLIGHT"))
        .collect();
    assert_eq!(
        reported,
        ["ignoring STAUNCH_ENV_NOT_UTF8_MAX_INFLIGHT=\"4\\xFF\\xFE\": not UTF-8; keeping the configured value"]
    );
}
