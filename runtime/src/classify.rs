//! How an error says whether it is worth retrying, worth a fallback, when to come back, and
//! whether it says anything of the service's health.

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
    /// a rate limit it also holds off every other caller until it has passed. A hint is
    /// honoured up to the retry's `max_delay` (30 s without `retry`): one longer ends the
    /// call's retries at once, and holds callers off for `max_delay` at most. Default: `None`.
    fn retry_after(&self) -> Option<Duration> {
        None
    }

    /// Whether the error is the caller's own fault: a request the service rightly refused (with
    /// the `http` feature, a 4xx other than 408, 425 and 429). Such an error says nothing of
    /// the service's health: it counts neither for nor against the breaker (a half-open trial
    /// that ends in it gives its slot back), it is not retried, and it is worth a fallback.
    /// Default: `false`.
    ///
    /// # Examples
    ///
    /// ```
    /// use staunch_runtime::Classify;
    /// struct PromptTooLong;
    /// impl Classify for PromptTooLong {
    ///     fn is_caller_fault(&self) -> bool {
    ///         true
    ///     }
    /// }
    /// assert!(!PromptTooLong.class().counts);
    /// assert!(!PromptTooLong.class().retryable);
    /// ```
    fn is_caller_fault(&self) -> bool {
        false
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
        let counts = !self.is_caller_fault();
        Class {
            retryable: counts && self.is_retryable(),
            fallback: self.is_fallback_worthy(),
            retry_after: self.retry_after(),
            counts,
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
/// assert!(!c.retryable && c.fallback && c.retry_after.is_none() && c.counts);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Class {
    /// Another attempt may succeed.
    pub retryable: bool,
    /// The fallback should answer if this is the final error.
    pub fallback: bool,
    /// The least time to wait before the next attempt.
    pub retry_after: Option<Duration>,
    /// The error counts against the breaker. An error that does not (the caller's own fault,
    /// or one that `breaker(on = …)` leaves out) is neither a success nor a failure, and is
    /// not retried.
    pub counts: bool,
}

impl Class {
    /// Retryable, worth a fallback, no hint: how an error that does not implement [`Classify`]
    /// is treated.
    pub const DEFAULT: Class = Class {
        retryable: true,
        fallback: true,
        retry_after: None,
        counts: true,
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

    /// The same classification with `counts` replaced (what a `breaker(on = …)` predicate
    /// decides).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!staunch_runtime::Class::DEFAULT.counting_if(false).counts);
    /// ```
    #[must_use]
    pub const fn counting_if(self, counts: bool) -> Class {
        Class { counts, ..self }
    }

    /// The same classification with `fallback` replaced.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!staunch_runtime::Class::DEFAULT.fallback_if(false).fallback);
    /// ```
    #[must_use]
    pub const fn fallback_if(self, fallback: bool) -> Class {
        Class { fallback, ..self }
    }

    /// The same classification with a retry-after hint.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let c = staunch_runtime::Class::DEFAULT.with_retry_after(Some(Duration::from_secs(2)));
    /// assert_eq!(c.retry_after, Some(Duration::from_secs(2)));
    /// ```
    #[must_use]
    pub const fn with_retry_after(self, retry_after: Option<Duration>) -> Class {
        Class {
            retry_after,
            ..self
        }
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
