//! `HttpError` and the classification of `reqwest::Error`, over a loopback server that writes
//! raw HTTP responses.
#![cfg(feature = "reqwest")]

use std::time::Duration;

use staunch_runtime::http::{observed, HttpError};
use staunch_runtime::{Classify, Error, Observed};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The raw response a path is answered with; `None`: close the connection without an answer.
fn response(path: &str) -> Option<String> {
    let (status, headers, body) = match path {
        "/ok" => ("200 OK", "x-ratelimit-remaining-tokens: 1200\r\n", "fine"),
        "/missing" => ("404 Not Found", "", "no such model"),
        "/busy" => (
            "429 Too Many Requests",
            "retry-after: 7\r\nx-ratelimit-remaining-requests: 0\r\nx-ratelimit-reset-requests: 2s\r\n",
            r#"{"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}"#,
        ),
        "/down" => ("503 Service Unavailable", "", "down"),
        "/close" => return None,
        _ => ("500 Internal Server Error", "", ""),
    };
    Some(format!(
        "HTTP/1.1 {status}\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    ))
}

/// Reads one request's head, and returns its path.
async fn read_path(socket: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = socket.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    head.split_whitespace().nth(1).unwrap_or("/").to_owned()
}

/// A server on a free loopback port; `/stall` sends its head and part of its body, then nothing.
async fn serve() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let path = read_path(&mut socket).await;
                if path == "/cut" {
                    // a body cut short: 4 of 100 bytes, then the connection closes
                    let head = "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npart";
                    socket.write_all(head.as_bytes()).await.unwrap();
                    return;
                }
                if path == "/stall" {
                    let head = "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npart";
                    socket.write_all(head.as_bytes()).await.unwrap();
                    std::future::pending::<()>().await;
                }
                if let Some(r) = response(&path) {
                    socket.write_all(r.as_bytes()).await.unwrap();
                }
            });
        }
    });
    format!("http://{addr}")
}

/// A fresh client: no pooled connection, so no request is retried on one.
fn client() -> reqwest::Client {
    reqwest::Client::builder().build().unwrap()
}

async fn get(base: &str, path: &str) -> reqwest::Response {
    client().get(format!("{base}{path}")).send().await.unwrap()
}

#[tokio::test]
async fn check_passes_a_success_through_and_reads_an_error_status() {
    let base = serve().await;

    let ok = HttpError::check(get(&base, "/ok").await).await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(observed(ok.headers()).remaining_tokens, Some(1200));
    assert_eq!(ok.text().await.unwrap(), "fine");

    let missing = HttpError::check(get(&base, "/missing").await)
        .await
        .unwrap_err();
    let HttpError::Status {
        status,
        retry_after,
        body,
        api,
        limits,
    } = &missing
    else {
        panic!("{missing:?}")
    };
    assert_eq!(
        (*status, *retry_after, body.as_str(), api, *limits),
        (404, None, "no such model", &None, Observed::default())
    );
    assert_eq!(missing.to_string(), "http status 404");

    let busy = HttpError::check(get(&base, "/busy").await)
        .await
        .unwrap_err();
    let HttpError::Status {
        status,
        retry_after,
        api,
        limits,
        ..
    } = &busy
    else {
        panic!("{busy:?}")
    };
    assert_eq!(*status, 429);
    assert_eq!(*retry_after, Some(Duration::from_secs(7)));
    let api = api.as_ref().unwrap();
    assert_eq!(api.code.as_deref(), Some("rate_limit_exceeded"));
    assert_eq!(
        (limits.remaining_requests, limits.reset_requests),
        (Some(0), Some(Duration::from_secs(2)))
    );
    assert_eq!(busy.retry_after(), Some(Duration::from_secs(7)));

    let down = HttpError::check(get(&base, "/down").await)
        .await
        .unwrap_err();
    assert!(matches!(down, HttpError::Status { status: 503, .. }));
}

#[test]
fn observed_reads_a_header_map() {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-ratelimit-remaining-requests", "9".parse().unwrap());
    headers.insert("x-ratelimit-reset-tokens", "1m".parse().unwrap());
    let seen = observed(&headers);
    assert_eq!(seen.remaining_requests, Some(9));
    assert_eq!(seen.reset_tokens, Some(Duration::from_secs(60)));
    assert_eq!(seen.remaining_tokens, None);
}

const QUOTA_BODY: &str = r#"{"error": {"message": "You exceeded your current quota", "type": "insufficient_quota", "code": "insufficient_quota"}}"#;

#[test]
fn a_spent_key_is_a_402_or_a_body_that_says_so() {
    let payment = HttpError::status(402, None, "Insufficient Balance".into());
    let plain_402 = HttpError::status(402, None, String::new());
    let quota_429 = HttpError::status(429, None, QUOTA_BODY.into());
    for e in [&payment, &plain_402, &quota_429] {
        assert!(e.is_quota_exhausted(), "{e:?}");
        assert!(e.is_key_fault(), "{e:?}");
        let class = e.class();
        assert!(
            !class.retryable && class.fallback && !class.counts && class.retry_after.is_none(),
            "{e:?}: {class:?}"
        );
        assert!(!e.is_retryable() && e.is_caller_fault(), "{e:?}");
    }
    for e in [
        HttpError::status(429, None, String::new()),
        HttpError::status(503, None, "down".into()),
        HttpError::status(401, None, String::new()),
        HttpError::from(Error::BulkheadFull {
            policy: "p".into(),
            limit: 1,
        }),
    ] {
        assert!(!e.is_quota_exhausted(), "{e:?}");
    }
}

#[test]
fn a_key_fault_is_a_401_a_403_or_a_spent_key() {
    for status in [401, 403, 402] {
        assert!(
            HttpError::status(status, None, String::new()).is_key_fault(),
            "{status}"
        );
    }
    assert!(HttpError::status(429, None, QUOTA_BODY.into()).is_key_fault());
    for status in [400, 404, 429, 500, 503] {
        assert!(
            !HttpError::status(status, None, String::new()).is_key_fault(),
            "{status}"
        );
    }
    let policy = HttpError::from(Error::CircuitOpen {
        policy: "p".into(),
        retry_in: Duration::from_secs(1),
    });
    assert!(!policy.is_key_fault());
}

#[test]
fn a_status_error_classifies_by_its_status_with_its_hint() {
    let busy = HttpError::status(429, Some(Duration::from_secs(3)), String::new());
    assert!(busy.is_retryable() && busy.is_fallback_worthy() && !busy.is_caller_fault());
    assert_eq!(busy.retry_after(), Some(Duration::from_secs(3)));
    let class = busy.class();
    assert!(class.retryable && class.fallback && class.counts);
    assert_eq!(class.retry_after, Some(Duration::from_secs(3)));

    let down = HttpError::status(503, None, "down".into());
    assert!(down.is_retryable() && down.is_fallback_worthy() && !down.is_caller_fault());
    assert_eq!(down.retry_after(), None);
    assert!(down.class().counts);

    let missing = HttpError::status(404, None, String::new());
    assert!(!missing.is_retryable() && missing.is_fallback_worthy() && missing.is_caller_fault());
    assert_eq!(missing.retry_after(), None);
    assert!(!missing.class().counts);
}

#[test]
fn a_policy_error_classifies_as_itself() {
    let open = HttpError::from(Error::CircuitOpen {
        policy: "p".into(),
        retry_in: Duration::from_secs(4),
    });
    assert!(!open.is_retryable() && open.is_fallback_worthy() && !open.is_caller_fault());
    assert_eq!(open.retry_after(), Some(Duration::from_secs(4)));
    let timeout = HttpError::from(Error::Timeout {
        policy: "p".into(),
        after: Duration::from_secs(1),
    });
    assert!(timeout.is_retryable() && timeout.class().counts);
    assert_eq!(timeout.retry_after(), None);
}

#[tokio::test]
async fn a_refused_connection_is_retryable_and_counts() {
    // a port that was free a moment ago: the connection is refused
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let refused = client()
        .get(format!("http://{closed}/"))
        .send()
        .await
        .unwrap_err();
    assert!(refused.is_connect());
    assert!(refused.is_retryable() && !refused.is_caller_fault());
    let e = HttpError::from(refused);
    assert!(e.is_retryable() && e.class().counts && !e.is_key_fault());
}

#[tokio::test]
async fn a_connection_closed_before_the_answer_is_retryable() {
    let base = serve().await;
    let closed = client()
        .get(format!("{base}/close"))
        .send()
        .await
        .unwrap_err();
    // a failed request that is neither a timeout nor a connect failure
    assert!(
        closed.is_request() && !closed.is_connect() && !closed.is_timeout() && !closed.is_body()
    );
    assert!(closed.is_retryable() && !closed.is_caller_fault());
    assert!(HttpError::from(closed).is_retryable());
}

#[tokio::test]
async fn a_body_that_times_out_is_retryable() {
    let base = serve().await;
    let resp = reqwest::Client::builder()
        .read_timeout(Duration::from_secs(5))
        .build()
        .unwrap()
        .get(format!("{base}/stall"))
        .send()
        .await
        .unwrap();
    // the head is in; the rest of the body never comes: the paused clock runs to the timeout
    tokio::time::pause();
    let stalled = resp.text().await.unwrap_err();
    // a timeout seen while decoding the body: neither a request nor a body error
    assert!(stalled.is_timeout() && stalled.is_decode(), "{stalled:?}");
    assert!(!stalled.is_request() && !stalled.is_body() && !stalled.is_connect());
    assert!(stalled.is_retryable() && !stalled.is_caller_fault());
}

#[tokio::test]
async fn a_status_error_of_reqwest_classifies_by_its_status() {
    let base = serve().await;
    let missing = get(&base, "/missing").await.error_for_status().unwrap_err();
    assert!(!missing.is_retryable() && missing.is_caller_fault());
    assert!(!missing.class().counts);
    let busy = get(&base, "/busy").await.error_for_status().unwrap_err();
    assert!(busy.is_retryable() && !busy.is_caller_fault());
    let down = get(&base, "/down").await.error_for_status().unwrap_err();
    assert!(down.is_retryable() && !down.is_caller_fault());
}

#[tokio::test]
async fn a_request_that_cannot_be_built_is_not_retryable() {
    let bad = client().get("not a url").send().await.unwrap_err();
    assert!(bad.is_builder());
    assert!(!bad.is_retryable() && !bad.is_caller_fault());
    let e = HttpError::from(bad);
    assert!(!e.is_retryable() && e.class().counts && e.is_fallback_worthy());
}

/// Regression: a body cut short (the connection closed before `content-length` bytes came) was
/// classified as not retryable, unlike every other connection failure.
#[tokio::test]
async fn a_body_cut_short_is_retryable() {
    let base = serve().await;
    let cut = get(&base, "/cut").await.text().await.unwrap_err();
    assert!(cut.is_decode() || cut.is_body(), "{cut:?}");
    assert!(cut.is_retryable() && !cut.is_caller_fault(), "{cut:?}");
    assert!(HttpError::from(cut).is_retryable());
}
