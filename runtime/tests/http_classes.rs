//! HTTP classification without a connection: status classes, the error bodies of LLM APIs,
//! `Retry-After`, reset values and rate-limit headers.
#![cfg(feature = "http")]

use std::time::{Duration, SystemTime};

use staunch_runtime::http::{
    observed_from, parse_reset, parse_retry_after, status_class, ApiError,
};

#[test]
fn statuses_classify_as_documented() {
    const RETRYABLE: [u16; 8] = [408, 425, 429, 500, 502, 503, 504, 529];
    for status in [
        200, 204, 301, 399, 400, 401, 402, 403, 404, 408, 409, 413, 422, 425, 429, 499, 500, 501,
        502, 503, 504, 505, 529, 599,
    ] {
        let class = status_class(status);
        let caller_fault = (400..500).contains(&status) && !matches!(status, 408 | 425 | 429);
        assert_eq!(class.retryable, RETRYABLE.contains(&status), "{status}");
        assert_eq!(class.counts, !caller_fault, "{status}");
        assert!(class.fallback, "{status}");
        assert_eq!(class.retry_after, None, "{status}");
    }
}

#[test]
fn the_error_bodies_of_llm_apis_are_read() {
    let openai = ApiError::parse(
        r#"{"error": {"message": "You exceeded your current quota", "type": "insufficient_quota", "param": null, "code": "insufficient_quota"}}"#,
    )
    .unwrap();
    assert_eq!(openai.code.as_deref(), Some("insufficient_quota"));
    assert_eq!(openai.kind.as_deref(), Some("insufficient_quota"));
    assert_eq!(
        openai.message.as_deref(),
        Some("You exceeded your current quota")
    );

    let anthropic = ApiError::parse(
        r#"{"type": "error", "error": {"type": "billing_error", "message": "spent", "details": {"error_code": "enforced_spend_limit_reached"}}}"#,
    )
    .unwrap();
    assert_eq!(
        anthropic.code.as_deref(),
        Some("enforced_spend_limit_reached")
    );
    assert_eq!(anthropic.kind.as_deref(), Some("billing_error"));
    assert_eq!(anthropic.message.as_deref(), Some("spent"));

    // a numeric code is read as its text; a code of another kind is left out
    let numeric = ApiError::parse(r#"{"error": {"code": 429, "message": "slow down"}}"#).unwrap();
    assert_eq!(numeric.code.as_deref(), Some("429"));
    assert_eq!(numeric.kind, None);
    let odd = ApiError::parse(r#"{"error": {"code": [1], "type": null}}"#).unwrap();
    assert_eq!((odd.code, odd.kind, odd.message), (None, None, None));

    assert_eq!(ApiError::parse("<html>bad gateway</html>"), None);
    assert_eq!(ApiError::parse(r#"{"message": "no error object"}"#), None);
}

fn quota(body: &str) -> bool {
    ApiError::parse(body).unwrap().is_quota_exhausted()
}

#[test]
fn each_sign_of_a_spent_key_is_enough_alone() {
    // the code alone
    assert!(quota(r#"{"error": {"code": "insufficient_quota"}}"#));
    assert!(quota(
        r#"{"error": {"type": "invalid_request_error", "details": {"error_code": "enforced_spend_limit_reached"}}}"#
    ));
    // the type alone
    assert!(quota(r#"{"error": {"type": "insufficient_quota"}}"#));
    assert!(quota(r#"{"error": {"type": "billing_error"}}"#));
    // the message alone, in any case
    assert!(quota(
        r#"{"error": {"message": "Your credit balance is too low to access the API"}}"#
    ));
    assert!(quota(r#"{"error": {"message": "Insufficient Balance"}}"#));
    // none of them
    assert!(!quota(
        r#"{"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}"#
    ));
    assert!(!quota(r#"{"error": {}}"#));
}

#[test]
fn retry_after_reads_seconds_and_dates() {
    let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
    assert_eq!(
        parse_retry_after("120", now),
        Some(Duration::from_secs(120))
    );
    assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
    assert_eq!(parse_retry_after("0", now), Some(Duration::ZERO));
    assert_eq!(
        parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
        Some(Duration::from_secs(30))
    );
    assert_eq!(
        parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
        Some(Duration::ZERO),
        "a date in the past is no wait"
    );
    assert_eq!(parse_retry_after("soon", SystemTime::now()), None);
}

#[test]
fn reset_values_read_every_unit() {
    assert_eq!(parse_reset("2s"), Some(Duration::from_secs(2)));
    assert_eq!(parse_reset("6m0s"), Some(Duration::from_secs(360)));
    assert_eq!(parse_reset("3m"), Some(Duration::from_secs(180)));
    assert_eq!(parse_reset("2h"), Some(Duration::from_secs(7200)));
    assert_eq!(parse_reset("250ms"), Some(Duration::from_millis(250)));
    assert_eq!(
        parse_reset("1h2m3.5s"),
        Some(Duration::from_millis(3_723_500))
    );
    assert_eq!(parse_reset(" 1m30s "), Some(Duration::from_secs(90)));
    assert_eq!(parse_reset("1.5"), Some(Duration::from_millis(1500)));
    assert_eq!(parse_reset("90"), Some(Duration::from_secs(90)));
    assert_eq!(parse_reset("later"), None);
    assert_eq!(parse_reset("5x"), None);
    assert_eq!(parse_reset("s"), None);
    assert_eq!(parse_reset("-1s"), None);
}

#[test]
fn rate_limit_headers_are_read_whatever_their_case() {
    let seen = observed_from([
        ("X-RateLimit-Remaining-Requests", "59"),
        ("x-ratelimit-reset-requests", "1s"),
        ("x-ratelimit-remaining-tokens", " 1200 "),
        ("X-RATELIMIT-RESET-TOKENS", "6m0s"),
        ("content-type", "application/json"),
    ]);
    assert_eq!(seen.remaining_requests, Some(59));
    assert_eq!(seen.reset_requests, Some(Duration::from_secs(1)));
    assert_eq!(seen.remaining_tokens, Some(1200));
    assert_eq!(seen.reset_tokens, Some(Duration::from_secs(360)));

    let bad = observed_from([
        ("x-ratelimit-remaining-requests", "many"),
        ("x-ratelimit-reset-requests", "soon"),
    ]);
    assert_eq!(bad.remaining_requests, None);
    assert_eq!(bad.reset_requests, None);
    assert_eq!(observed_from([]), Default::default());
}

/// Regression: an empty reset header read as "now" (`Some(0s)`), not as a value that does not
/// parse.
#[test]
fn an_empty_reset_header_says_nothing() {
    use staunch_runtime::http::{observed_from, parse_reset};
    assert_eq!(parse_reset(""), None);
    assert_eq!(parse_reset("  "), None);
    let seen = observed_from([("x-ratelimit-reset-tokens", "")]);
    assert_eq!(seen.reset_tokens, None);
}
