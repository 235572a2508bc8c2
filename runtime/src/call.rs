//! One call through a policy: attempts, their admission, their outcome, and the retry loop.

use std::future::{poll_fn, Future};
use std::hash::{BuildHasher, Hash};
use std::marker::PhantomData;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use once_cell::sync::Lazy;

use crate::breaker::{BreakerState, Pass};
use crate::bulkhead::Slot;
use crate::classify::{Class, Classify};
use crate::clock::{self, Mode, Nanos};
use crate::limiter::Take;
use crate::policy::{Policy, Shared};
use crate::sync::Ordering;
use crate::Error;

/// What a function returns: a `Result`, by any alias.
///
/// # Examples
///
/// ```
/// use staunch_runtime::IsResult;
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
}

/// What one attempt needs besides the body: the key of a keyed limiter.
///
/// # Examples
///
/// ```
/// let req = staunch_runtime::Req::new().key(staunch_runtime::key_hash(&42_u64));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Req {
    key: u64,
    cost: u64,
}

impl Req {
    /// A request with no key.
    ///
    /// # Examples
    ///
    /// ```
    /// let req = staunch_runtime::Req::new();
    /// ```
    #[must_use]
    pub const fn new() -> Self {
        Req { key: 0, cost: 0 }
    }

    /// The request's key for a keyed limiter (from [`key_hash`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let req = staunch_runtime::Req::new().key(7);
    /// ```
    #[must_use]
    pub const fn key(mut self, key: u64) -> Self {
        self.key = key;
        self
    }

    /// The request's estimated cost in tokens, taken from the policy's token limit
    /// ([`PolicyBuilder::tpm`](crate::PolicyBuilder::tpm)) before the call and reconciled after
    /// it with the usage the response reports ([`Call::usage`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let req = staunch_runtime::Req::new().cost(1200);
    /// ```
    #[must_use]
    pub const fn cost(mut self, tokens: u64) -> Self {
        self.cost = tokens;
        self
    }
}

/// Seeded at random once per process, so that keys cannot be chosen to collide.
static KEY_HASHER: Lazy<foldhash::fast::RandomState> = Lazy::new(Default::default);

/// The 64-bit hash under which a keyed limiter keeps `key` (seeded at random once per process).
///
/// Keys are stored as this hash, so a key that borrows (`&str`) works as well as an owned one.
/// Two keys whose hashes collide share one bucket: stricter, never looser.
///
/// # Examples
///
/// ```
/// use staunch_runtime::key_hash;
/// assert_eq!(key_hash("alice"), key_hash(&String::from("alice")));
/// assert_ne!(key_hash("alice"), key_hash("bob"));
/// ```
#[must_use]
pub fn key_hash<K: Hash + ?Sized>(key: &K) -> u64 {
    KEY_HASHER.hash_one(key)
}

/// What the caller does after an attempt.
///
/// # Examples
///
/// ```
/// use staunch_runtime::{Policy, Req, Step, Class};
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

/// A call in progress: how many retries it has made, and how its errors are classified.
///
/// The retry loop is the caller's, so that every attempt can build its body afresh (and lend
/// `&mut self` to it): see [`Step`].
#[derive(Debug)]
pub struct Call<'p, R: IsResult> {
    policy: &'p Policy,
    retries: u32,
    classify: fn(&R::Err) -> Class,
    /// `From<Error>` of the error type, taken once by `begin` (so that a missing impl is
    /// reported there, once).
    convert: fn(Error) -> R::Err,
    usage: Option<fn(&R::Ok) -> u64>,
    rejected: bool,
    _result: PhantomData<fn() -> R>,
}

/// A pass through the breaker: given back (without an outcome) when dropped unrecorded (a
/// dropped future, an attempt turned away after the breaker let it through).
struct Admitted<'a, const SYNC: bool> {
    breaker: Option<&'a BreakerState>,
    pass: Pass,
    /// Tokens taken from the token limit for this attempt.
    cost: u64,
}

/// The clock of a sync (`true`) or async attempt.
const fn mode(sync: bool) -> Mode {
    if sync {
        Mode::Sync
    } else {
        Mode::Async
    }
}

impl<const SYNC: bool> Admitted<'_, SYNC> {
    #[inline(always)]
    fn success(self) {
        if let Some(b) = self.breaker {
            b.success(self.pass);
        }
        std::mem::forget(self);
    }

    fn failure(self, now: Nanos) {
        if let Some(b) = self.breaker {
            b.failure(self.pass, now);
        }
        std::mem::forget(self);
    }
}

impl<const SYNC: bool> Drop for Admitted<'_, SYNC> {
    fn drop(&mut self) {
        if let Some(b) = self.breaker {
            b.release(self.pass);
        }
    }
}

/// Armed around a sync body, and forgotten when it returns: dropped only while the body's panic
/// unwinds, when it records the failure.
struct Unwinding<'g, 'a>(&'g mut Option<Admitted<'a, true>>);

impl Drop for Unwinding<'_, '_> {
    #[cold]
    fn drop(&mut self) {
        if let Some(admitted) = self.0.take() {
            admitted.failure(Mode::Sync.now());
        }
    }
}

/// A panic in an async body, caught where it was polled: recorded as a failure, its slots given
/// back, and it goes on unwinding.
#[cold]
fn unwind(
    admitted: Admitted<'_, false>,
    slot: Slot<'_>,
    panic: Box<dyn std::any::Any + Send>,
) -> ! {
    admitted.failure(Mode::Async.now());
    drop(slot);
    resume_unwind(panic)
}

/// Why an attempt was turned away, before it becomes an [`Error`] (off the hot path).
#[derive(Clone, Copy, Debug)]
enum Refusal {
    Open(Duration),
    Limited(Nanos),
    Full(usize),
}

impl Shared {
    /// Breaker, then limiter: the pass, and how long to wait for the reserved token. Reads the
    /// clock at most once, and only when the breaker is not closed or there is a limiter.
    #[inline(always)]
    fn admit<const SYNC: bool>(&self, req: Req) -> Result<(Admitted<'_, SYNC>, Nanos), Refusal> {
        let mode = mode(SYNC);
        let mut now = None;
        let mut read = || *now.get_or_insert_with(|| mode.now());
        let pass = match &self.breaker {
            None => Pass::Closed,
            Some(b) => match b.admit(&mut read) {
                Ok(pass) => pass,
                Err(retry_in) => return Err(Refusal::Open(retry_in)),
            },
        };
        let admitted = Admitted {
            breaker: self.breaker.as_ref(),
            pass,
            cost: req.cost,
        };
        // Waits for the hold-off, the request token and the cost run at once: the longest counts.
        let mut wait = 0;
        let hold = self.hold_until.load(Ordering::Relaxed);
        if hold != 0 {
            let now = read();
            if now >= hold {
                // over: later calls need not read the clock for it
                let _ =
                    self.hold_until
                        .compare_exchange(hold, 0, Ordering::AcqRel, Ordering::Relaxed);
            } else {
                wait = hold - now;
                if wait > self.max_wait {
                    return Err(Refusal::Limited(wait));
                }
            }
        }
        if let Some(l) = &self.limiter {
            match l.take(req.key, read(), self.max_wait) {
                Take::Wait(w) => wait = wait.max(w),
                Take::Refused(w) => return Err(Refusal::Limited(w.max(wait))),
            }
        }
        if let Some(t) = &self.tokens {
            if req.cost > 0 {
                match t.take(read(), req.cost, self.max_wait) {
                    Take::Wait(w) => wait = wait.max(w),
                    Take::Refused(w) => {
                        // all or nothing: the request token goes back
                        if let Some(l) = &self.limiter {
                            l.undo(req.key);
                        }
                        return Err(Refusal::Limited(w.max(wait)));
                    }
                }
            }
        }
        Ok((admitted, wait))
    }

    /// The error a refusal reaches the caller as (the only place a rejection allocates).
    #[cold]
    #[inline(never)]
    fn error(&self, refusal: Refusal) -> Error {
        let policy = self.name.clone();
        match refusal {
            Refusal::Open(retry_in) => Error::CircuitOpen { policy, retry_in },
            Refusal::Limited(wait) => Error::RateLimited {
                policy,
                retry_after: Duration::from_nanos(wait),
            },
            Refusal::Full(limit) => Error::BulkheadFull { policy, limit },
        }
    }

    /// Holds off every caller until `until` (a retry-after hint seen by one of them).
    #[cold]
    fn hold_off(&self, until: Nanos) {
        self.hold_until.fetch_max(until, Ordering::AcqRel);
    }

    /// The bulkhead, after any wait for a token (a call waiting for a token holds no slot).
    #[inline(always)]
    fn enter(&self) -> Result<Slot<'_>, Refusal> {
        self.bulkhead.enter().map_err(Refusal::Full)
    }
}

enum Settled<R> {
    Step(Step<R>),
    RetryAfter(Duration),
}

impl<R: IsResult> Call<'_, R> {
    /// Runs one attempt of a sync call: admission, the body (a panic in it is recorded as a
    /// failure and goes on unwinding, the slots given back by their drops), the outcome, and the
    /// backoff wait before `Again`.
    /// Waits block the thread (or move its [`MockClock`](crate::MockClock)).
    ///
    /// # Examples
    ///
    /// See [`Step`].
    #[inline(always)]
    pub fn attempt_sync<F: FnOnce() -> R>(&mut self, req: Req, f: F) -> Step<R> {
        let shared = &*self.policy.shared;
        let admitted = match shared.admit::<true>(req) {
            Ok((admitted, 0)) => admitted,
            Ok((admitted, wait)) => {
                clock::sleep_sync(Duration::from_nanos(wait));
                admitted
            }
            Err(r) => return self.rejected(r),
        };
        let slot = match shared.enter() {
            Ok(slot) => slot,
            Err(r) => return self.rejected(r),
        };
        // no `catch_unwind` (it costs a copy of the result): if the body panics, this guard's
        // drop records the failure while the panic unwinds; the slot's drop gives the slot back
        let mut admitted = Some(admitted);
        let unwinding = Unwinding(&mut admitted);
        let out = f();
        std::mem::forget(unwinding);
        let Some(admitted) = admitted else {
            unreachable!("only the unwinding guard takes the pass")
        };
        drop(slot);
        // the happy path stays here, inline: moving `out` through another enum costs
        if self.is_plain_success(&out) {
            admitted.success();
            return Step::Done(out);
        }
        match self.settle(out, admitted) {
            Settled::Step(step) => step,
            Settled::RetryAfter(w) => {
                clock::sleep_sync(w);
                Step::Again
            }
        }
    }

    /// Runs one attempt of an async call, as [`attempt_sync`](Self::attempt_sync) does, on
    /// tokio's clock and timers, with the policy's timeout. Dropping the future releases
    /// everything the attempt holds.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use staunch_runtime::{Class, Policy, Req, Step};
    /// let policy = Policy::builder("docs-attempt-async").build().unwrap();
    /// let mut call = policy.begin::<Result<u8, staunch_runtime::Error>>(|_| Class::DEFAULT);
    /// let step = call.attempt_async(Req::new(), async { Ok(5) }).await;
    /// assert_eq!(step, Step::Done(Ok(5)));
    /// # }
    /// ```
    pub async fn attempt_async<F: Future<Output = R>>(&mut self, req: Req, f: F) -> Step<R> {
        // Each await below keeps only what it needs in the future: values that are dead by then
        // are scoped out in blocks (a moved-from local still takes room until its scope ends).
        // That took the attempt's future from 360 to 256 bytes around a small body. Every
        // attempt's future is moved into its caller's, so its size is paid on every call.
        let shared = &*self.policy.shared;
        let (admitted, wait) = match shared.admit::<false>(req) {
            Ok(admitted) => admitted,
            Err(r) => return self.rejected(r),
        };
        if wait != 0 {
            tokio::time::sleep(Duration::from_nanos(wait)).await;
        }
        let slot = match shared.enter() {
            Ok(slot) => slot,
            Err(r) => return self.rejected(r),
        };
        let out = {
            // a panic in the body is caught where it is polled, recorded, and resumed (a guard
            // like the sync one, kept in the future across polls, measured 7 Ir a call more)
            let mut body = pin!(f);
            let caught =
                poll_fn(
                    |cx| match catch_unwind(AssertUnwindSafe(|| body.as_mut().poll(cx))) {
                        Ok(Poll::Pending) => Poll::Pending,
                        Ok(Poll::Ready(out)) => Poll::Ready(Ok(out)),
                        Err(panic) => Poll::Ready(Err(panic)),
                    },
                );
            let caught = match self.policy.timeout {
                None => caught.await,
                Some(after) => match tokio::time::timeout(after, caught).await {
                    Ok(caught) => caught,
                    Err(_) => Ok(R::from_err((self.convert)(Error::Timeout {
                        policy: shared.name.clone(),
                        after,
                    }))),
                },
            };
            match caught {
                Ok(out) => out,
                Err(panic) => unwind(admitted, slot, panic),
            }
        };
        drop(slot);
        if self.is_plain_success(&out) {
            admitted.success();
            return Step::Done(out);
        }
        let wait = match self.settle(out, admitted) {
            Settled::Step(step) => return step,
            Settled::RetryAfter(w) => w,
        };
        tokio::time::sleep(wait).await;
        Step::Again
    }

    /// Records the outcome and decides what follows.
    /// The happy path: an `Ok` with nothing to account for (no retry budget to pay into, no
    /// token usage to reconcile) needs only the breaker told.
    #[inline(always)]
    fn is_plain_success(&self, out: &R) -> bool {
        out.as_err().is_none()
            && self.policy.budget.is_none()
            && self.policy.shared.tokens.is_none()
    }

    /// Everything else: records the outcome and decides what follows.
    #[inline(never)]
    fn settle<const SYNC: bool>(&mut self, out: R, admitted: Admitted<'_, SYNC>) -> Settled<R> {
        let mode = mode(SYNC);
        let shared = &*self.policy.shared;
        if self.retries == 0 {
            if let Some(budget) = &self.policy.budget {
                budget.deposit();
            }
        }
        let Some(e) = out.as_err() else {
            if let (Some(tokens), Some(usage), Some(ok)) = (&shared.tokens, self.usage, out.as_ok())
            {
                // reconcile the estimate with what the call reports it used
                let used = i64::try_from(usage(ok)).unwrap_or(i64::MAX);
                tokens
                    .adjust(used.saturating_sub(i64::try_from(admitted.cost).unwrap_or(i64::MAX)));
            }
            admitted.success();
            return Settled::Step(Step::Done(out));
        };
        let now = mode.now();
        admitted.failure(now);
        let class = (self.classify)(e);
        // a policy with a limiter honours the hint for every caller, not only this one
        if let (Some(hint), true) = (
            class.retry_after,
            shared.limiter.is_some() || shared.tokens.is_some(),
        ) {
            shared.hold_off(now.saturating_add(crate::clock::duration_to_nanos(hint)));
        }
        if class.retryable {
            if let Some(retry) = &self.policy.retry {
                if self.retries < retry.max
                    && self.policy.budget.as_ref().is_none_or(|b| b.withdraw())
                {
                    let wait = retry.wait(self.retries, class.retry_after);
                    self.retries += 1;
                    shared.counts.retries.fetch_add(1, Ordering::Relaxed);
                    return Settled::RetryAfter(wait);
                }
            }
        }
        Settled::Step(if class.fallback {
            shared.counts.fallbacks.fetch_add(1, Ordering::Relaxed);
            Step::Fallback(out)
        } else {
            Step::Done(out)
        })
    }

    /// A rejection by the policy itself ends the call: it is not retried, and is worth a
    /// fallback.
    #[cold]
    #[inline(never)]
    fn rejected(&mut self, refusal: Refusal) -> Step<R> {
        let e = self.policy.shared.error(refusal);
        self.rejected = true;
        self.policy
            .shared
            .counts
            .fallbacks
            .fetch_add(1, Ordering::Relaxed);
        Step::Fallback(R::from_err((self.convert)(e)))
    }

    /// Reconciles the token limit after a successful attempt: `usage` reads the tokens the call
    /// really used from its result, and the difference from [`Req::cost`] is refunded or charged.
    ///
    /// # Examples
    ///
    /// ```
    /// use staunch_runtime::{Class, Policy, Req, Step};
    /// let p = Policy::builder("docs-usage").tpm(1000.0).build().unwrap();
    /// let mut call = p.begin::<Result<u64, staunch_runtime::Error>>(|_| Class::DEFAULT).usage(|used| *used);
    /// let step = call.attempt_sync(Req::new().cost(900), || Ok(100));
    /// assert_eq!(step, Step::Done(Ok(100)));
    /// // 800 tokens came back: 900 are free again
    /// assert!(p.handle().signals().tokens_remaining.unwrap() >= 900.0);
    /// ```
    #[must_use]
    pub fn usage(mut self, usage: fn(&R::Ok) -> u64) -> Self {
        self.usage = Some(usage);
        self
    }

    /// Whether the policy itself turned the last attempt away (breaker, limiter or bulkhead),
    /// rather than the attempt running and failing.
    ///
    /// # Examples
    ///
    /// ```
    /// use staunch_runtime::{Class, Policy, Req};
    /// let p = Policy::builder("docs-was-rejected").max_inflight(1).build().unwrap();
    /// let mut call = p.begin::<Result<(), staunch_runtime::Error>>(|_| Class::DEFAULT);
    /// let _ = call.attempt_sync(Req::new(), || Ok(()));
    /// assert!(!call.was_rejected());
    /// ```
    #[must_use]
    pub fn was_rejected(&self) -> bool {
        self.rejected
    }

    /// Retries made so far.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = staunch_runtime::Policy::builder("docs-retries").build().unwrap();
    /// let call = p.begin::<Result<(), staunch_runtime::Error>>(|_| staunch_runtime::Class::DEFAULT);
    /// assert_eq!(call.retries(), 0);
    /// ```
    #[must_use]
    pub fn retries(&self) -> u32 {
        self.retries
    }
}

impl Policy {
    /// Starts a call whose errors `classify` classifies. The low-level API that the attribute
    /// expands to; [`call`](Self::call) and [`call_async`](Self::call_async) wrap it.
    ///
    /// # Examples
    ///
    /// See [`Step`].
    pub fn begin<R: IsResult>(&self, classify: fn(&R::Err) -> Class) -> Call<'_, R>
    where
        R::Err: From<Error>,
    {
        Call {
            policy: self,
            retries: 0,
            classify,
            convert: <R::Err as From<Error>>::from,
            usage: None,
            rejected: false,
            _result: PhantomData,
        }
    }

    /// Calls `f` through the policy, blocking the thread for waits; every error is retryable.
    ///
    /// # Errors
    ///
    /// The last attempt's error, or the policy's rejection converted into `E`.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = staunch_runtime::Policy::builder("docs-call").max_inflight(1).build().unwrap();
    /// let r: Result<u8, staunch_runtime::Error> = p.call(|| Ok(1));
    /// assert_eq!(r, Ok(1));
    /// ```
    pub fn call<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnMut() -> Result<T, E>,
        E: From<Error>,
    {
        self.run_sync(|_| Class::DEFAULT, f)
    }

    /// [`call`](Self::call) with errors classified by their [`Classify`] implementation.
    ///
    /// # Errors
    ///
    /// The last attempt's error, or the policy's rejection converted into `E`.
    ///
    /// # Examples
    ///
    /// ```
    /// use staunch_runtime::{Policy, Retry};
    /// let p = Policy::builder("docs-call-classified").retry(Retry::new()).build().unwrap();
    /// let mut calls = 0;
    /// let r: std::io::Result<()> = p.call_classified(|| {
    ///     calls += 1;
    ///     Err(std::io::ErrorKind::NotFound.into())
    /// });
    /// assert!(r.is_err());
    /// assert_eq!(calls, 1); // not found is not retryable
    /// ```
    pub fn call_classified<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnMut() -> Result<T, E>,
        E: From<Error> + Classify,
    {
        self.run_sync(Classify::class, f)
    }

    fn run_sync<T, E, F>(&self, classify: fn(&E) -> Class, mut f: F) -> Result<T, E>
    where
        F: FnMut() -> Result<T, E>,
        E: From<Error>,
    {
        let mut call = self.begin::<Result<T, E>>(classify);
        loop {
            match call.attempt_sync(Req::new(), &mut f) {
                Step::Done(r) | Step::Fallback(r) => return r,
                Step::Again => {}
            }
        }
    }

    /// Calls the future that `f` makes through the policy, on tokio's timers; every error is
    /// retryable. `f` makes one future per attempt.
    ///
    /// # Errors
    ///
    /// The last attempt's error, or the policy's rejection converted into `E`.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let p = staunch_runtime::Policy::builder("docs-call-async")
    ///     .timeout(std::time::Duration::from_secs(1))
    ///     .build()
    ///     .unwrap();
    /// let r: Result<u8, staunch_runtime::Error> = p.call_async(|| async { Ok(2) }).await;
    /// assert_eq!(r, Ok(2));
    /// # }
    /// ```
    pub async fn call_async<T, E, F, Fut>(&self, f: F) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error>,
    {
        self.run_async(|_| Class::DEFAULT, f).await
    }

    /// [`call_async`](Self::call_async) with errors classified by their [`Classify`]
    /// implementation.
    ///
    /// # Errors
    ///
    /// The last attempt's error, or the policy's rejection converted into `E`.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let p = staunch_runtime::Policy::builder("docs-call-async-classified").build().unwrap();
    /// let r: std::io::Result<u8> = p.call_async_classified(|| async { Ok(3) }).await;
    /// assert_eq!(r.unwrap(), 3);
    /// # }
    /// ```
    pub async fn call_async_classified<T, E, F, Fut>(&self, f: F) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error> + Classify,
    {
        self.run_async(Classify::class, f).await
    }

    async fn run_async<T, E, F, Fut>(&self, classify: fn(&E) -> Class, mut f: F) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error>,
    {
        let mut call = self.begin::<Result<T, E>>(classify);
        loop {
            match call.attempt_async(Req::new(), f()).await {
                Step::Done(r) | Step::Fallback(r) => return r,
                Step::Again => {}
            }
        }
    }
}
