//! HTTP classification over a real loopback connection: statuses, `Retry-After` in both forms,
//! rate-limit headers, and `reqwest::Error` itself.

use std::time::{Duration, SystemTime};

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::get;
use axum::Router;
use staunch::http::{observed, HttpError};
use staunch::Classify;

async fn serve() -> String {
    let app = Router::new()
        .route(
            "/ok",
            get(|| async {
                (
                    [
                        ("x-ratelimit-remaining-tokens", "1200"),
                        ("x-ratelimit-reset-tokens", "6m0s"),
                    ],
                    "fine",
                )
            }),
        )
        .route(
            "/busy",
            get(|| async {
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    [("retry-after", "7")],
                    "slow down",
                )
            }),
        )
        .route(
            "/busy-until",
            get(|| async {
                let at = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
                let mut headers = HeaderMap::new();
                headers.insert("retry-after", HeaderValue::from_str(&at).unwrap());
                (StatusCode::SERVICE_UNAVAILABLE, headers, "maintenance")
            }),
        )
        .route(
            "/missing",
            get(|| async { (StatusCode::NOT_FOUND, "no such model") }),
        )
        // the error bodies LLM APIs send
        .route(
            "/openai-quota",
            get(|| async {
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    r#"{"error": {"message": "You exceeded your current quota, please check your plan and billing details.", "type": "insufficient_quota", "param": null, "code": "insufficient_quota"}}"#,
                )
            }),
        )
        .route(
            "/openai-rate",
            get(|| async {
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    [
                        ("retry-after", "2"),
                        ("x-ratelimit-remaining-requests", "0"),
                        ("x-ratelimit-reset-requests", "2s"),
                    ],
                    r#"{"error": {"message": "Rate limit reached for requests", "type": "requests", "param": null, "code": "rate_limit_exceeded"}}"#,
                )
            }),
        )
        .route(
            "/anthropic-overloaded",
            get(|| async {
                (
                    StatusCode::from_u16(529).unwrap(),
                    r#"{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}"#,
                )
            }),
        )
        .route(
            "/anthropic-spend-limit",
            get(|| async {
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    r#"{"type": "error", "error": {"type": "rate_limit_error", "message": "Spend limit reached", "details": {"error_code": "enforced_spend_limit_reached"}}}"#,
                )
            }),
        )
        .route(
            "/anthropic-credit",
            get(|| async {
                (
                    StatusCode::BAD_REQUEST,
                    r#"{"type": "error", "error": {"type": "invalid_request_error", "message": "Your credit balance is too low to access the Anthropic API."}}"#,
                )
            }),
        )
        .route(
            "/deepseek-balance",
            get(|| async {
                (
                    StatusCode::PAYMENT_REQUIRED,
                    r#"{"error": {"message": "Insufficient Balance", "type": "unknown_error", "param": null, "code": "invalid_request_error"}}"#,
                )
            }),
        )
        .route(
            "/too-long",
            get(|| async {
                (
                    StatusCode::BAD_REQUEST,
                    r#"{"error": {"message": "This model's maximum context length is 8192 tokens.", "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}}"#,
                )
            }),
        )
        .route(
            "/unauthorized",
            get(|| async { (StatusCode::UNAUTHORIZED, r#"{"error": {"message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key"}}"#) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

async fn fetch(url: String) -> Result<reqwest::Response, HttpError> {
    HttpError::check(reqwest::get(url).await?).await
}

#[tokio::test]
async fn statuses_classify_and_retry_after_becomes_the_hint() {
    let base = serve().await;

    let ok = fetch(format!("{base}/ok")).await.unwrap();
    let seen = observed(ok.headers());
    assert_eq!(seen.remaining_tokens, Some(1200));
    assert_eq!(seen.reset_tokens, Some(Duration::from_secs(360)));

    let busy = fetch(format!("{base}/busy")).await.unwrap_err();
    assert!(matches!(busy, HttpError::Status { status: 429, ref body, .. } if body == "slow down"));
    assert!(busy.is_retryable() && busy.is_fallback_worthy());
    assert_eq!(busy.retry_after(), Some(Duration::from_secs(7)));

    let until = fetch(format!("{base}/busy-until")).await.unwrap_err();
    assert!(until.is_retryable());
    let hint = until.retry_after().expect("an HTTP date is a hint too");
    assert!(
        hint > Duration::from_secs(110) && hint <= Duration::from_secs(120),
        "{hint:?}"
    );

    let missing = fetch(format!("{base}/missing")).await.unwrap_err();
    assert!(
        !missing.is_retryable(),
        "a 404 is not worth another attempt"
    );
    assert!(
        missing.is_fallback_worthy(),
        "but another provider may have it"
    );
    assert!(!missing.is_key_fault());
}

#[tokio::test]
async fn transport_errors_are_retryable_and_status_errors_classify_by_status() {
    // a port that was free a moment ago: the connection is refused
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let refused = reqwest::get(format!("http://{closed}/")).await.unwrap_err();
    assert!(refused.is_connect());
    assert!(refused.is_retryable());
    assert!(HttpError::from(refused).is_retryable());

    let base = serve().await;
    let status = reqwest::get(format!("{base}/missing"))
        .await
        .unwrap()
        .error_for_status()
        .unwrap_err();
    assert!(!status.is_retryable());
    let status = reqwest::get(format!("{base}/busy"))
        .await
        .unwrap()
        .error_for_status()
        .unwrap_err();
    assert!(status.is_retryable());
}

#[tokio::test]
async fn the_errors_llm_apis_send_classify_as_what_they_mean() {
    let base = serve().await;
    let get = |path: &str| fetch(format!("{base}/{path}"));

    // a spent key: never retried, not the provider's fault, the key's
    for path in [
        "openai-quota",
        "anthropic-spend-limit",
        "anthropic-credit",
        "deepseek-balance",
    ] {
        let e = get(path).await.unwrap_err();
        let class = e.class();
        assert!(
            !class.retryable && class.fallback && !class.counts,
            "{path}: {class:?}"
        );
        assert!(e.is_quota_exhausted() && e.is_key_fault(), "{path}");
    }
    let openai = get("openai-quota").await.unwrap_err();
    let HttpError::Status { api: Some(api), .. } = &openai else {
        panic!("{openai:?}")
    };
    assert_eq!(
        (api.code.as_deref(), api.kind.as_deref()),
        (Some("insufficient_quota"), Some("insufficient_quota"))
    );

    // a rate limit and an overload: retried, and they count against the provider
    let rate = get("openai-rate").await.unwrap_err();
    assert!(rate.is_retryable() && rate.class().counts && !rate.is_key_fault());
    let HttpError::Status { limits, .. } = &rate else {
        panic!("{rate:?}")
    };
    assert_eq!(
        (limits.remaining_requests, limits.reset_requests),
        (Some(0), Some(Duration::from_secs(2)))
    );
    assert_eq!(rate.retry_after(), Some(Duration::from_secs(2)));
    let overloaded = get("anthropic-overloaded").await.unwrap_err();
    assert!(overloaded.is_retryable() && overloaded.class().counts);

    // a prompt that is too long: the caller's fault, not retried, not counted
    let too_long = get("too-long").await.unwrap_err();
    let class = too_long.class();
    assert!(!class.retryable && class.fallback && !class.counts);
    assert!(!too_long.is_key_fault());

    // a revoked key: the key's fault, and not the provider's
    let unauthorized = get("unauthorized").await.unwrap_err();
    assert!(unauthorized.is_key_fault() && !unauthorized.class().counts);
}
