//! HTTP classification: status codes, `Retry-After`, and the rate-limit headers of LLM APIs.
//!
//! Enabled by the `http` feature (and by `reqwest`, which adds [`HttpError`] and the
//! classification of `reqwest::Error`).

use std::time::{Duration, SystemTime};

use crate::classify::Class;
use crate::shared::Observed;

/// How a response status classifies: 408, 425, 429, 500, 502, 503, 504 and 529 (overloaded,
/// as Anthropic's API says it) are retryable; every other status is not, but is worth a fallback
/// (another provider may answer what this one refused). A 4xx other than 408, 425 and 429 is the
/// caller's own fault (the provider is healthy, the request was wrong): it does not count
/// against the breaker.
///
/// # Examples
///
/// ```
/// use staunch_runtime::http::status_class;
/// assert!(status_class(429).retryable && status_class(429).counts);
/// assert!(status_class(503).retryable);
/// assert!(status_class(529).retryable);
/// let bad_request = status_class(400);
/// assert!(!bad_request.retryable && bad_request.fallback && !bad_request.counts);
/// ```
#[must_use]
pub fn status_class(status: u16) -> Class {
    let caller_fault = (400..500).contains(&status) && !matches!(status, 408 | 425 | 429);
    Class::DEFAULT
        .retryable_if(matches!(
            status,
            408 | 425 | 429 | 500 | 502 | 503 | 504 | 529
        ))
        .counting_if(!caller_fault)
}

/// What an LLM provider said went wrong, read from an error response's JSON body: OpenAI's and
/// DeepSeek's `{"error": {"message": …, "type": …, "code": …}}`, and Anthropic's
/// `{"type": "error", "error": {"type": …, "message": …, "details": {"error_code": …}}}`.
///
/// # Examples
///
/// ```
/// use staunch_runtime::http::ApiError;
/// let openai = r#"{"error": {"message": "You exceeded your current quota", "type": "insufficient_quota", "param": null, "code": "insufficient_quota"}}"#;
/// let e = ApiError::parse(openai).unwrap();
/// assert_eq!(e.code.as_deref(), Some("insufficient_quota"));
/// assert!(e.is_quota_exhausted());
/// let anthropic = r#"{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}"#;
/// assert_eq!(ApiError::parse(anthropic).unwrap().kind.as_deref(), Some("overloaded_error"));
/// assert_eq!(ApiError::parse("<html>bad gateway</html>"), None);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiError {
    /// The machine-readable code (`insufficient_quota`; Anthropic's `details.error_code`, such
    /// as `enforced_spend_limit_reached`).
    pub code: Option<String>,
    /// The error's type (`insufficient_quota`, `rate_limit_error`, `overloaded_error`, …).
    pub kind: Option<String>,
    /// The human-readable message.
    pub message: Option<String>,
}

impl ApiError {
    /// Reads a provider's error body; `None` when it is not JSON or holds no `error` object.
    #[must_use]
    pub fn parse(body: &str) -> Option<ApiError> {
        let value: serde_json::Value = serde_json::from_str(body).ok()?;
        let error = value.get("error")?;
        let text = |v: Option<&serde_json::Value>| match v? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        let code = text(error.get("code"))
            .or_else(|| text(error.get("details").and_then(|d| d.get("error_code"))));
        Some(ApiError {
            code,
            kind: text(error.get("type")),
            message: text(error.get("message")),
        })
    }

    /// Whether the key's money or quota is gone, which no retry mends: OpenAI's
    /// `insufficient_quota`, Anthropic's `billing_error` and `enforced_spend_limit_reached`,
    /// and a message saying the credit balance is too low.
    #[must_use]
    pub fn is_quota_exhausted(&self) -> bool {
        let says = |field: &Option<String>, what: &[&str]| {
            field.as_deref().is_some_and(|f| what.contains(&f))
        };
        says(
            &self.code,
            &["insufficient_quota", "enforced_spend_limit_reached"],
        ) || says(&self.kind, &["insufficient_quota", "billing_error"])
            || self.message.as_deref().is_some_and(|m| {
                let m = m.to_ascii_lowercase();
                m.contains("credit balance is too low") || m.contains("insufficient balance")
            })
    }
}

/// Parses a `Retry-After` value: delay seconds (`120`) or an HTTP date
/// (`Wed, 21 Oct 2015 07:28:00 GMT`), the latter relative to `now`. A date in the past is no
/// wait at all.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use staunch_runtime::http::parse_retry_after;
/// assert_eq!(parse_retry_after("120", SystemTime::now()), Some(Duration::from_secs(120)));
/// let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
/// assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now), Some(Duration::from_secs(30)));
/// assert_eq!(parse_retry_after("soon", now), None);
/// ```
#[must_use]
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Parses a rate-limit reset value as OpenAI-style APIs send them: `1s`, `6m0s`, `250ms`,
/// `1h2m3.5s`, or plain seconds.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use staunch_runtime::http::parse_reset;
/// assert_eq!(parse_reset("6m0s"), Some(Duration::from_secs(360)));
/// assert_eq!(parse_reset("250ms"), Some(Duration::from_millis(250)));
/// assert_eq!(parse_reset("1.5"), Some(Duration::from_millis(1500)));
/// assert_eq!(parse_reset("later"), None);
/// ```
#[must_use]
pub fn parse_reset(value: &str) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None; // an empty header says nothing, not "now"
    }
    if let Ok(secs) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).ok();
    }
    let mut total = 0.0;
    let mut rest = value;
    while !rest.is_empty() {
        let split = rest.find(|c: char| c.is_ascii_alphabetic())?;
        let (number, tail) = rest.split_at(split);
        let unit_len = tail
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let n: f64 = number.parse().ok()?;
        total += n * match unit {
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = tail;
    }
    Duration::try_from_secs_f64(total).ok()
}

/// Reads what a provider says of its limits from response headers
/// (`x-ratelimit-remaining-requests`, `x-ratelimit-reset-requests`,
/// `x-ratelimit-remaining-tokens`, `x-ratelimit-reset-tokens`), for
/// [`Handle::observe`](crate::Handle::observe). Header names are matched without regard to case;
/// values that do not parse are left out.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let seen = staunch_runtime::http::observed_from([
///     ("x-ratelimit-remaining-requests", "59"),
///     ("X-RateLimit-Reset-Tokens", "6m0s"),
/// ]);
/// assert_eq!(seen.remaining_requests, Some(59));
/// assert_eq!(seen.reset_tokens, Some(Duration::from_secs(360)));
/// ```
pub fn observed_from<'a>(headers: impl IntoIterator<Item = (&'a str, &'a str)>) -> Observed {
    let mut seen = Observed::default();
    for (name, value) in headers {
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "x-ratelimit-remaining-requests" => seen.remaining_requests = value.parse().ok(),
            "x-ratelimit-reset-requests" => seen.reset_requests = parse_reset(value),
            "x-ratelimit-remaining-tokens" => seen.remaining_tokens = value.parse().ok(),
            "x-ratelimit-reset-tokens" => seen.reset_tokens = parse_reset(value),
            _ => {}
        }
    }
    seen
}

#[cfg(feature = "reqwest")]
mod with_reqwest {
    use std::time::{Duration, SystemTime};

    use super::{parse_retry_after, status_class, ApiError};
    use crate::classify::{Class, Classify};
    use crate::shared::Observed;

    /// An HTTP call's error: a status the server answered with, a transport failure, or a
    /// policy's rejection. Classifies itself: see [`status_class`]; transport timeouts and
    /// connection failures are retryable; a `Retry-After` becomes the retry-after hint. A key
    /// whose quota or money is gone ([`ApiError::is_quota_exhausted`], or a 402) is not
    /// retryable, does not count against the provider's breaker, and is a key fault.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use staunch_runtime::{http::HttpError, Classify};
    /// let busy = HttpError::status(429, Some(Duration::from_secs(3)), String::new());
    /// assert!(busy.is_retryable());
    /// assert_eq!(busy.retry_after(), Some(Duration::from_secs(3)));
    /// let broke = HttpError::status(429, None, r#"{"error": {"type": "insufficient_quota", "code": "insufficient_quota"}}"#.into());
    /// assert!(!broke.is_retryable() && broke.is_key_fault() && !broke.class().counts);
    /// ```
    #[derive(Debug, thiserror::Error)]
    #[non_exhaustive]
    pub enum HttpError {
        /// The server answered with an error status.
        #[error("http status {status}")]
        Status {
            /// The status code.
            status: u16,
            /// The `Retry-After` the server sent, if any.
            retry_after: Option<Duration>,
            /// The response body (as text, possibly empty).
            body: String,
            /// What the provider said went wrong, read from the body once.
            api: Option<ApiError>,
            /// What the provider said of its limits (`x-ratelimit-*` headers), for
            /// [`Handle::observe`](crate::Handle::observe).
            limits: Observed,
        },
        /// The request did not complete: connection, timeout, decoding.
        #[error(transparent)]
        Transport(#[from] reqwest::Error),
        /// A staunch policy rejected the call.
        #[error(transparent)]
        Policy(#[from] crate::Error),
    }

    impl HttpError {
        /// Turns a response with an error status into [`HttpError::Status`], reading its
        /// `Retry-After`, its `x-ratelimit-*` headers, and what its body says went wrong (once);
        /// passes a successful response through.
        ///
        /// # Errors
        ///
        /// [`HttpError::Status`] for a 4xx or 5xx status.
        ///
        /// # Examples
        ///
        /// ```no_run
        /// # async fn f() -> Result<(), staunch_runtime::http::HttpError> {
        /// let resp = reqwest::get("http://127.0.0.1:8080/v1/chat").await?;
        /// let resp = staunch_runtime::http::HttpError::check(resp).await?;
        /// # Ok(()) }
        /// ```
        pub async fn check(resp: reqwest::Response) -> Result<reqwest::Response, HttpError> {
            let status = resp.status();
            if !(status.is_client_error() || status.is_server_error()) {
                return Ok(resp);
            }
            let retry_after = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, SystemTime::now()));
            let limits = observed(resp.headers());
            let body = resp.text().await.unwrap_or_default();
            Err(HttpError::read(status.as_u16(), retry_after, body, limits))
        }

        /// An error status, with what its body says read once.
        ///
        /// # Examples
        ///
        /// ```
        /// let e = staunch_runtime::http::HttpError::status(503, None, "down".into());
        /// assert_eq!(e.to_string(), "http status 503");
        /// ```
        #[must_use]
        pub fn status(status: u16, retry_after: Option<Duration>, body: String) -> Self {
            HttpError::read(status, retry_after, body, Observed::default())
        }

        /// The one place an error status is built: the body's error read once.
        fn read(
            status: u16,
            retry_after: Option<Duration>,
            body: String,
            limits: Observed,
        ) -> Self {
            HttpError::Status {
                status,
                retry_after,
                api: ApiError::parse(&body),
                body,
                limits,
            }
        }

        /// Whether the key's quota or money is gone: a 402, or a body that says so.
        ///
        /// # Examples
        ///
        /// ```
        /// let e = staunch_runtime::http::HttpError::status(402, None, "Insufficient Balance".into());
        /// assert!(e.is_quota_exhausted());
        /// ```
        #[must_use]
        pub fn is_quota_exhausted(&self) -> bool {
            match self {
                HttpError::Status { status: 402, .. } => true,
                HttpError::Status { api: Some(api), .. } => api.is_quota_exhausted(),
                _ => false,
            }
        }
    }

    impl HttpError {
        /// Whether the error is the API key's fault (401 Unauthorized, 403 Forbidden, or its
        /// quota or money gone): what a [`KeyPool`](crate::KeyPool) should count against the
        /// key, with [`call_async_with`](crate::KeyPool::call_async_with).
        ///
        /// # Examples
        ///
        /// ```
        /// use staunch_runtime::http::HttpError;
        /// assert!(HttpError::status(401, None, String::new()).is_key_fault());
        /// assert!(!HttpError::status(503, None, String::new()).is_key_fault());
        /// ```
        #[must_use]
        pub fn is_key_fault(&self) -> bool {
            matches!(
                self,
                HttpError::Status {
                    status: 401 | 403,
                    ..
                }
            ) || self.is_quota_exhausted()
        }
    }

    impl Classify for HttpError {
        fn class(&self) -> Class {
            match self {
                HttpError::Status {
                    status,
                    retry_after,
                    ..
                } if !self.is_quota_exhausted() => {
                    status_class(*status).with_retry_after(*retry_after)
                }
                // the key is spent: no retry mends it, and the provider is healthy
                HttpError::Status { .. } => Class::DEFAULT.retryable_if(false).counting_if(false),
                HttpError::Transport(e) => e.class(),
                HttpError::Policy(e) => e.class(),
            }
        }
        fn is_retryable(&self) -> bool {
            self.class().retryable
        }
        fn is_fallback_worthy(&self) -> bool {
            self.class().fallback
        }
        fn retry_after(&self) -> Option<Duration> {
            self.class().retry_after
        }
        fn is_caller_fault(&self) -> bool {
            !self.class().counts
        }
    }

    /// Whether a decoding error is the transport's (the connection closed or reset before the
    /// body was in), not the body's content: no `serde_json` error and no invalid data in its
    /// chain of sources.
    fn cut_short(e: &reqwest::Error) -> bool {
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            if s.is::<serde_json::Error>() {
                return false;
            }
            if let Some(io) = s.downcast_ref::<std::io::Error>() {
                return io.kind() != std::io::ErrorKind::InvalidData;
            }
            source = s.source();
        }
        // a transport failure of hyper's own, such as an incomplete body
        std::error::Error::source(e).is_some()
    }

    impl Classify for reqwest::Error {
        /// A status error classifies by its status; timeouts and connection failures are
        /// retryable; building, redirect and decoding errors are not.
        fn is_retryable(&self) -> bool {
            if let Some(status) = self.status() {
                return status_class(status.as_u16()).retryable;
            }
            self.is_timeout()
                || self.is_connect()
                || self.is_request()
                || self.is_body()
                || (self.is_decode() && cut_short(self))
        }

        /// A 4xx status other than 408, 425 and 429 (see [`status_class`]).
        fn is_caller_fault(&self) -> bool {
            self.status()
                .is_some_and(|s| !status_class(s.as_u16()).counts)
        }
    }

    /// What a response's headers say of the provider's limits (see [`observed_from`](super::observed_from)).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut headers = reqwest::header::HeaderMap::new();
    /// headers.insert("x-ratelimit-remaining-tokens", "1200".parse().unwrap());
    /// assert_eq!(staunch_runtime::http::observed(&headers).remaining_tokens, Some(1200));
    /// ```
    #[must_use]
    pub fn observed(headers: &reqwest::header::HeaderMap) -> Observed {
        super::observed_from(
            headers
                .iter()
                .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?))),
        )
    }
}

#[cfg(feature = "reqwest")]
pub use with_reqwest::{observed, HttpError};
