//! How an error says whether it is worth retrying, worth a fallback, and when to come back.

use std::time::Duration;

use crate::Error;

/// Lets an error type classify itself for the retry loop and the fallback.
///
/// An error type needs nothing to be used with staunch: one that does not implement this trait
/// is retryable and worth a fallback. Implement it to say otherwise, or to pass on a
/// `Retry-After` hint: the next backoff wait is never shorter than [`Classify::retry_after`].
/// The `#[resilient]` attribute finds the implementation by itself when the function's error type
/// is concrete; the builder API uses it through [`Policy::call_classified`](crate::Policy::call_classified).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use staunch_runtime::Classify;
///
/// enum ApiError { Throttled { after_secs: u64 }, BadRequest, Staunch(staunch_runtime::Error) }
///
/// impl Classify for ApiError {
///     fn is_retryable(&self) -> bool {
///         !matches!(self, ApiError::BadRequest)
///     }
///     fn retry_after(&self) -> Option<Duration> {
///         match self {
///             ApiError::Throttled { after_secs } => Some(Duration::from_secs(*after_secs)),
///             _ => None,
///         }
///     }
/// }
///
/// assert!(!ApiError::BadRequest.is_retryable());
/// assert!(ApiError::BadRequest.is_fallback_worthy());
/// assert_eq!(ApiError::Throttled { after_secs: 2 }.retry_after(), Some(Duration::from_secs(2)));
/// ```
pub trait Classify {
    /// Whether another attempt may succeed. Default: `true`.
    fn is_retryable(&self) -> bool {
        true
    }

    /// Whether the fallback should answer when this is the final error. Default: `true`.
    fn is_fallback_worthy(&self) -> bool {
        true
    }

    /// The least time to wait before the next attempt (an HTTP `Retry-After`). In a policy with
    /// a rate limit it also holds off every other caller until it has passed. Default: `None`.
    fn retry_after(&self) -> Option<Duration> {
        None
    }

    /// All three answers at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use staunch_runtime::Classify;
    /// let e = std::io::Error::from(std::io::ErrorKind::NotFound);
    /// assert!(!e.class().retryable);
    /// ```
    fn class(&self) -> Class {
        Class {
            retryable: self.is_retryable(),
            fallback: self.is_fallback_worthy(),
            retry_after: self.retry_after(),
        }
    }
}

/// The classification of one error, as the retry loop uses it.
///
/// # Examples
///
/// ```
/// use staunch_runtime::Class;
/// let c = Class::DEFAULT.retryable_if(false);
/// assert!(!c.retryable && c.fallback && c.retry_after.is_none());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Class {
    /// Another attempt may succeed.
    pub retryable: bool,
    /// The fallback should answer if this is the final error.
    pub fallback: bool,
    /// The least time to wait before the next attempt.
    pub retry_after: Option<Duration>,
}

impl Class {
    /// Retryable, worth a fallback, no hint: how an error that does not implement [`Classify`]
    /// is treated.
    pub const DEFAULT: Class = Class {
        retryable: true,
        fallback: true,
        retry_after: None,
    };

    /// The same classification with `retryable` replaced (what a `retry(on = …)` predicate
    /// decides).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!staunch_runtime::Class::DEFAULT.retryable_if(false).retryable);
    /// ```
    #[must_use]
    pub const fn retryable_if(self, retryable: bool) -> Class {
        Class { retryable, ..self }
    }
}

impl Default for Class {
    fn default() -> Self {
        Class::DEFAULT
    }
}

impl Classify for Error {
    /// A breaker's rejection is not retried; a timeout, a full bulkhead or an exhausted limiter
    /// may be.
    fn is_retryable(&self) -> bool {
        !matches!(self, Error::CircuitOpen { .. })
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::CircuitOpen { retry_in, .. } => Some(*retry_in),
            Error::RateLimited { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }
}

impl Classify for std::io::Error {
    /// Transient kinds (timeouts, refused, reset or aborted connections, interruptions, a broken
    /// pipe, an unexpected end of file, `WouldBlock`) are retryable; the rest (not found,
    /// permission denied, invalid input or data, …) are not. An `io::Error` made from a
    /// [`staunch::Error`](Error) is classified as that error.
    fn is_retryable(&self) -> bool {
        use std::io::ErrorKind as K;
        if let Some(inner) = self.get_ref().and_then(|e| e.downcast_ref::<Error>()) {
            return inner.is_retryable();
        }
        matches!(
            self.kind(),
            K::TimedOut
                | K::ConnectionRefused
                | K::ConnectionReset
                | K::ConnectionAborted
                | K::NotConnected
                | K::Interrupted
                | K::BrokenPipe
                | K::UnexpectedEof
                | K::WouldBlock
        )
    }

    fn retry_after(&self) -> Option<Duration> {
        self.get_ref()
            .and_then(|e| e.downcast_ref::<Error>())
            .and_then(Classify::retry_after)
    }
}
