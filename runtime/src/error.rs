//! What the policies themselves reject a call with.

use std::time::Duration;

/// Why a policy rejected or cut short a call, as opposed to an error of the call itself.
///
/// The function an attribute wraps returns `Result<T, E>` with `E: From<staunch::Error>`, so
/// these reach the caller as the caller's own error type. Each variant names the policy.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use staunch_runtime::Error;
///
/// let e = Error::CircuitOpen { policy: "openai".into(), retry_in: Duration::from_secs(3) };
/// assert_eq!(e.to_string(), "policy `openai`: circuit open, retry in 3s");
/// assert!(matches!(e, Error::CircuitOpen { .. }));
/// let e = Error::Injected { policy: "openai".into() };
/// assert_eq!(e.to_string(), "policy `openai`: injected failure (chaos)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The circuit breaker is open (or half-open with every trial slot taken).
    #[error("policy `{policy}`: circuit open, retry in {retry_in:?}")]
    CircuitOpen {
        /// The policy's name.
        policy: String,
        /// How long until the breaker lets a trial call through (zero while half-open).
        retry_in: Duration,
    },
    /// The rate limiter had no token within the call's `wait` bound.
    #[error("policy `{policy}`: rate limited, retry after {retry_after:?}")]
    RateLimited {
        /// The policy's name.
        policy: String,
        /// How long until a token would have been available for this call.
        retry_after: Duration,
    },
    /// The bulkhead already had its maximum of calls in flight.
    #[error("policy `{policy}`: bulkhead full, {limit} calls in flight")]
    BulkheadFull {
        /// The policy's name.
        policy: String,
        /// The bulkhead's limit (`max_inflight`).
        limit: usize,
    },
    /// An attempt ran past the policy's `timeout`.
    #[error("policy `{policy}`: timed out after {after:?}")]
    Timeout {
        /// The policy's name.
        policy: String,
        /// The time limit that was exceeded.
        after: Duration,
    },
    /// Chaos (feature `chaos`) failed the attempt in place of running it: a failure as if the
    /// upstream had failed (see [`Chaos`](crate::Chaos)).
    #[error("policy `{policy}`: injected failure (chaos)")]
    Injected {
        /// The policy's name.
        policy: String,
    },
    /// Chaos (feature `chaos`) turned the attempt away, as a full part would have (see
    /// [`Chaos`](crate::Chaos)).
    #[error("policy `{policy}`: injected rejection (chaos)")]
    InjectedRejection {
        /// The policy's name.
        policy: String,
    },
    /// The policy shares its state through Redis with [`Fail::Closed`](crate::redis::Fail),
    /// and Redis could not answer in time (down, unreachable, slower than the policy's
    /// `redis(timeout)`, or no server configured). Not counted against the breaker; retryable.
    #[error("policy `{policy}`: shared state unavailable: {reason}")]
    BackendUnavailable {
        /// The policy's name.
        policy: String,
        /// What went wrong, as the Redis client said it.
        reason: String,
    },
}

impl Error {
    /// The name of the policy that produced this error.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// let e = staunch_runtime::Error::Timeout { policy: "db".into(), after: Duration::from_secs(1) };
    /// assert_eq!(e.policy(), "db");
    /// ```
    #[must_use]
    pub fn policy(&self) -> &str {
        match self {
            Error::CircuitOpen { policy, .. }
            | Error::RateLimited { policy, .. }
            | Error::BulkheadFull { policy, .. }
            | Error::Timeout { policy, .. }
            | Error::Injected { policy }
            | Error::InjectedRejection { policy }
            | Error::BackendUnavailable { policy, .. } => policy,
        }
    }
}

impl From<Error> for std::io::Error {
    /// Wraps the error so that it can be recovered with `get_ref().downcast_ref::<Error>()`;
    /// a timeout has kind `TimedOut`, a rejection kind `Other`... unless a closer kind exists
    /// (`WouldBlock` for a bulkhead or limiter rejection).
    fn from(e: Error) -> Self {
        let kind = match e {
            Error::Timeout { .. } => std::io::ErrorKind::TimedOut,
            Error::RateLimited { .. }
            | Error::BulkheadFull { .. }
            | Error::InjectedRejection { .. } => std::io::ErrorKind::WouldBlock,
            Error::CircuitOpen { .. }
            | Error::Injected { .. }
            | Error::BackendUnavailable { .. } => std::io::ErrorKind::Other,
        };
        std::io::Error::new(kind, e)
    }
}
