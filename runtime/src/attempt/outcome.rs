//! What an attempt ends in: the step the caller takes next, the result it carries, and why a
//! fallback was called.

/// What a function returns: a `Result`, by any alias.
///
/// # Examples
///
/// ```
/// use staunch_runtime::attempt::IsResult;
/// let r: std::io::Result<u8> = Ok(1);
/// assert!(r.as_err().is_none());
/// ```
#[diagnostic::on_unimplemented(
    message = "`#[resilient]` functions must return a `Result`, found `{Self}`",
    label = "this is not a `Result`",
    note = "return `Result<T, E>` (or an alias such as `std::io::Result<T>`) with `E: From<staunch::Error>`"
)]
pub trait IsResult {
    /// The success type.
    type Ok;
    /// The error type.
    type Err;
    /// The error, if this is one.
    fn as_err(&self) -> Option<&Self::Err>;
    /// The value, if this is one.
    fn as_ok(&self) -> Option<&Self::Ok>;
    /// An `Err`.
    fn from_err(e: Self::Err) -> Self;
    /// The error, if this is one, by value.
    fn into_err(self) -> Option<Self::Err>;
}

impl<T, E> IsResult for Result<T, E> {
    type Ok = T;
    type Err = E;
    #[inline]
    fn as_err(&self) -> Option<&E> {
        self.as_ref().err()
    }
    #[inline]
    fn as_ok(&self) -> Option<&T> {
        self.as_ref().ok()
    }
    #[inline]
    fn from_err(e: E) -> Self {
        Err(e)
    }
    #[inline]
    fn into_err(self) -> Option<E> {
        self.err()
    }
}

/// Why a fallback was called: what `fallback_why = path` hands the fallback as its last
/// argument.
///
/// # Examples
///
/// ```
/// use staunch_runtime::{Error, Why};
/// let why: Why<Error> = Why::Rejected(Error::BulkheadFull { policy: "p".into(), limit: 1 });
/// assert!(why.is_rejection());
/// assert_eq!(why.error().policy(), "p");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Why<E> {
    /// The call ran and failed: the last attempt's error (a timeout included).
    Failed(E),
    /// The policy turned the call away (breaker open, rate limited, bulkhead full): its
    /// rejection, converted into `E`.
    Rejected(E),
}

impl<E> Why<E> {
    /// The error, whichever the reason.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(staunch_runtime::Why::Failed(7).error(), &7);
    /// ```
    #[must_use]
    pub fn error(&self) -> &E {
        match self {
            Why::Failed(e) | Why::Rejected(e) => e,
        }
    }

    /// The error, by value.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(staunch_runtime::Why::Rejected("full").into_error(), "full");
    /// ```
    #[must_use]
    pub fn into_error(self) -> E {
        match self {
            Why::Failed(e) | Why::Rejected(e) => e,
        }
    }

    /// Whether the policy turned the call away, rather than the call running and failing.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!staunch_runtime::Why::Failed(()).is_rejection());
    /// ```
    #[must_use]
    pub fn is_rejection(&self) -> bool {
        matches!(self, Why::Rejected(_))
    }
}

/// What the caller does after an attempt.
///
/// # Examples
///
/// ```
/// use staunch_runtime::attempt::{Req, Step};
/// use staunch_runtime::{Class, Policy};
/// let policy = Policy::builder("docs-step").build().unwrap();
/// let mut call = policy.begin::<Result<u8, staunch_runtime::Error>>(|_| Class::DEFAULT);
/// let r = loop {
///     match call.attempt_sync(Req::new(), || Ok(1)) {
///         Step::Done(r) | Step::Fallback(r) => break r,
///         Step::Again => {}
///     }
/// };
/// assert_eq!(r, Ok(1));
/// ```
#[derive(Debug, PartialEq, Eq)]
#[must_use]
pub enum Step<R> {
    /// Return this.
    Done(R),
    /// The attempt failed and is worth another; the backoff wait is over: attempt again.
    Again,
    /// The call finally failed or was rejected, and the error is worth a fallback: call it, or
    /// return this error if there is none.
    Fallback(R),
}
