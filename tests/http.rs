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
