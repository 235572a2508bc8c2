//! The stacks every bench target measures: ours (attribute and builder) and the anchors
//! (governor, failsafe, backon, tokio's `Semaphore`, tower), each on the happy path: closed
//! breaker, tokens available, a free slot, the first attempt succeeds.
//!
//! Shared by `hot_path` (criterion, wall time) and `icount` (callgrind, instructions), so both
//! measure the same code.
#![allow(dead_code, clippy::missing_panics_doc, clippy::missing_errors_doc)]

use std::future::Future;
use std::hint::black_box;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use backon::{BlockingRetryable, ExponentialBuilder, Retryable};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota};
use staunch::{Breaker, Policy, Retry};
use tokio::sync::Semaphore;
use tower::{Service, ServiceExt};

/// A rate no bench comes near: `1e9` a second (one token a nanosecond, a second's burst).
pub const HUGE_RPS: u32 = 1_000_000_000;
/// Bulkhead size of every stack.
pub const SLOTS: usize = 64;

/// The body every stack wraps: as cheap as a call can be, but not optimised away.
#[inline(never)]
pub fn body(x: u64) -> Result<u64, BenchError> {
    Ok(black_box(x))
}

/// The async body.
#[inline(never)]
pub async fn body_async(x: u64) -> Result<u64, BenchError> {
    Ok(black_box(x))
}

/// The error of every stack: anything the parts reject with converts into it.
#[derive(Debug)]
pub enum BenchError {
    Staunch(staunch::Error),
    Anchor(&'static str),
}

impl From<staunch::Error> for BenchError {
    fn from(e: staunch::Error) -> Self {
        BenchError::Staunch(e)
    }
}

impl std::fmt::Display for BenchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::error::Error for BenchError {}

// ---------------------------------------------------------------------------------------------
// ours: the attribute (issue 5 item 3)

/// The full attribute stack, sync.
#[staunch::resilient(
    retry(max = 3, backoff = 2.0),
    breaker(threshold = 5, cooldown = 30),
    rps = 1000000000,
    max_inflight = 64
)]
pub fn attr_sync(x: u64) -> Result<u64, BenchError> {
    body(x)
}

/// The full attribute stack, async.
#[staunch::resilient(
    retry(max = 3, backoff = 2.0),
    breaker(threshold = 5, cooldown = 30),
    rps = 1000000000,
    max_inflight = 64
)]
pub async fn attr_async(x: u64) -> Result<u64, BenchError> {
    body_async(x).await
}

// ---------------------------------------------------------------------------------------------
// ours: the builder

/// The builder with the full stack under a fresh name.
pub fn full_builder(name: &str) -> Policy {
    Policy::builder(name)
        .retry(Retry::new().max(3).backoff(2.0))
        .breaker(
            Breaker::new()
                .threshold(5)
                .cooldown(Duration::from_secs(30)),
        )
        .rps(f64::from(HUGE_RPS))
        .max_inflight(SLOTS)
        .build()
        .expect("valid policy")
}

/// A policy with no part at all: what the call machinery costs by itself.
pub fn empty_policy(name: &str) -> Policy {
    Policy::builder(name).build().expect("valid policy")
}

/// Only the limiter.
pub fn limiter_policy(name: &str) -> Policy {
    Policy::builder(name)
        .rps(f64::from(HUGE_RPS))
        .build()
        .expect("valid policy")
}

/// Only a keyed limiter.
pub fn keyed_policy(name: &str) -> Policy {
    Policy::builder(name)
        .rps(f64::from(HUGE_RPS))
        .keyed()
        .build()
        .expect("valid policy")
}

/// Only the breaker.
pub fn breaker_policy(name: &str) -> Policy {
    Policy::builder(name)
        .breaker(
            Breaker::new()
                .threshold(5)
                .cooldown(Duration::from_secs(30)),
        )
        .build()
        .expect("valid policy")
}

/// Only retry.
pub fn retry_policy(name: &str) -> Policy {
    Policy::builder(name)
        .retry(Retry::new().max(3).backoff(2.0))
        .build()
        .expect("valid policy")
}

/// Only the bulkhead.
pub fn bulkhead_policy(name: &str) -> Policy {
    Policy::builder(name)
        .max_inflight(SLOTS)
        .build()
        .expect("valid policy")
}

/// One sync call through a policy.
#[inline]
pub fn call_policy(p: &Policy, x: u64) -> Result<u64, BenchError> {
    p.call(|| body(x))
}

/// One async call through a policy.
#[inline]
pub async fn call_policy_async(p: &Policy, x: u64) -> Result<u64, BenchError> {
    p.call_async(|| body_async(x)).await
}

/// One call through a keyed policy, as the attribute expands `key = k`.
#[inline]
pub fn call_keyed(p: &Policy, k: u64, x: u64) -> Result<u64, BenchError> {
    let mut c = p.begin::<Result<u64, BenchError>>(|_| staunch::Class::DEFAULT);
    loop {
        match c.attempt_sync(
            staunch::attempt::Req::new().key(staunch::attempt::key_hash(&k)),
            || body(x),
        ) {
            staunch::attempt::Step::Done(r) | staunch::attempt::Step::Fallback(r) => break r,
            staunch::attempt::Step::Again => {}
        }
    }
}

// ---------------------------------------------------------------------------------------------
// anchors, one part each

/// governor's direct limiter at the same rate.
pub fn governor_direct() -> DefaultDirectRateLimiter {
    governor::RateLimiter::direct(Quota::per_second(NonZeroU32::new(HUGE_RPS).unwrap()))
}

/// governor's keyed limiter (its default store: a `DashMap`) at the same rate.
pub fn governor_keyed() -> DefaultKeyedRateLimiter<u64> {
    governor::RateLimiter::keyed(Quota::per_second(NonZeroU32::new(HUGE_RPS).unwrap()))
}

/// failsafe's breaker: open after 5 failures in a row, 30 s open.
pub type FailsafeBreaker = failsafe::StateMachine<
    failsafe::failure_policy::ConsecutiveFailures<failsafe::backoff::Constant>,
    (),
>;

pub fn failsafe_breaker() -> FailsafeBreaker {
    let policy = failsafe::failure_policy::consecutive_failures(
        5,
        failsafe::backoff::constant(Duration::from_secs(30)),
    );
    failsafe::Config::new().failure_policy(policy).build()
}

/// backon's exponential backoff: factor 2, 3 retries (its default first delay and jitter off).
pub fn backon_policy() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_factor(2.0)
        .with_max_times(3)
}

/// tokio's semaphore with the same number of slots.
pub fn semaphore() -> Semaphore {
    Semaphore::new(SLOTS)
}

#[inline]
pub fn governor_call(l: &DefaultDirectRateLimiter, x: u64) -> Result<u64, BenchError> {
    l.check().map_err(|_| BenchError::Anchor("rate limited"))?;
    body(x)
}

#[inline]
pub fn governor_keyed_call(
    l: &DefaultKeyedRateLimiter<u64>,
    k: u64,
    x: u64,
) -> Result<u64, BenchError> {
    l.check_key(&k)
        .map_err(|_| BenchError::Anchor("rate limited"))?;
    body(x)
}

#[inline]
pub fn failsafe_call(b: &FailsafeBreaker, x: u64) -> Result<u64, BenchError> {
    match failsafe::CircuitBreaker::call(b, || body(x)) {
        Ok(v) => Ok(v),
        Err(failsafe::Error::Inner(e)) => Err(e),
        Err(failsafe::Error::Rejected) => Err(BenchError::Anchor("circuit open")),
    }
}

#[inline]
pub fn backon_call(b: &ExponentialBuilder, x: u64) -> Result<u64, BenchError> {
    (|| body(x)).retry(*b).sleep(std::thread::sleep).call()
}

#[inline]
pub async fn backon_call_async(b: &ExponentialBuilder, x: u64) -> Result<u64, BenchError> {
    (|| body_async(x)).retry(*b).await
}

#[inline]
pub fn semaphore_call(s: &Semaphore, x: u64) -> Result<u64, BenchError> {
    let _permit = s
        .try_acquire()
        .map_err(|_| BenchError::Anchor("bulkhead full"))?;
    body(x)
}

// ---------------------------------------------------------------------------------------------
// anchors combined: the same stack by hand

/// governor + failsafe + backon + `Semaphore`, in our order: retry around (breaker, limiter,
/// bulkhead, call).
pub struct Combined {
    pub limiter: DefaultDirectRateLimiter,
    pub breaker: FailsafeBreaker,
    pub retry: ExponentialBuilder,
    pub bulkhead: Semaphore,
}

impl Combined {
    pub fn new() -> Self {
        Combined {
            limiter: governor_direct(),
            breaker: failsafe_breaker(),
            retry: backon_policy(),
            bulkhead: semaphore(),
        }
    }

    #[inline]
    fn attempt(&self, x: u64) -> Result<u64, BenchError> {
        let r = failsafe::CircuitBreaker::call(&self.breaker, || {
            self.limiter
                .check()
                .map_err(|_| BenchError::Anchor("rate limited"))?;
            let _permit = self
                .bulkhead
                .try_acquire()
                .map_err(|_| BenchError::Anchor("bulkhead full"))?;
            body(x)
        });
        match r {
            Ok(v) => Ok(v),
            Err(failsafe::Error::Inner(e)) => Err(e),
            Err(failsafe::Error::Rejected) => Err(BenchError::Anchor("circuit open")),
        }
    }

    #[inline]
    pub fn call(&self, x: u64) -> Result<u64, BenchError> {
        (|| self.attempt(x))
            .retry(self.retry)
            .sleep(std::thread::sleep)
            .call()
    }

    #[inline]
    pub async fn call_async(&self, x: u64) -> Result<u64, BenchError> {
        (|| async move {
            let attempt = async {
                self.limiter
                    .check()
                    .map_err(|_| BenchError::Anchor("rate limited"))?;
                let _permit = self
                    .bulkhead
                    .try_acquire()
                    .map_err(|_| BenchError::Anchor("bulkhead full"))?;
                body_async(x).await
            };
            match failsafe::futures::CircuitBreaker::call(&self.breaker, attempt).await {
                Ok(v) => Ok(v),
                Err(failsafe::Error::Inner(e)) => Err(e),
                Err(failsafe::Error::Rejected) => Err(BenchError::Anchor("circuit open")),
            }
        })
        .retry(self.retry)
        .await
    }
}

impl Default for Combined {
    fn default() -> Self {
        Self::new()
    }
}

// ---------------------------------------------------------------------------------------------
// tower: RateLimit → Retry → ConcurrencyLimit → the body (tower has no circuit breaker)

/// Retries an error up to 3 times, waiting 100 ms · 2^k (never taken on the happy path).
#[derive(Clone, Copy)]
pub struct Attempts(u32);

impl<E> tower::retry::Policy<u64, u64, E> for Attempts {
    type Future = tokio::time::Sleep;

    fn retry(&mut self, _req: &mut u64, result: &mut Result<u64, E>) -> Option<Self::Future> {
        match result {
            Ok(_) => None,
            Err(_) if self.0 < 3 => {
                let wait = Duration::from_millis(100) * 2u32.pow(self.0);
                self.0 += 1;
                Some(tokio::time::sleep(wait))
            }
            Err(_) => None,
        }
    }

    fn clone_request(&mut self, req: &u64) -> Option<u64> {
        Some(*req)
    }
}

/// The body as a tower service.
#[derive(Clone, Copy)]
pub struct BodySvc;

impl Service<u64> for BodySvc {
    type Response = u64;
    type Error = BenchError;
    type Future = std::future::Ready<Result<u64, BenchError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BenchError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, x: u64) -> Self::Future {
        std::future::ready(body(x))
    }
}

/// A `ServiceBuilder` stack: rate limit (outermost: tower's `RateLimit` is not `Clone`, which
/// `Retry` needs of what it wraps), retry, concurrency limit. Build inside a tokio runtime.
pub type TowerStack =
    tower::limit::RateLimit<tower::retry::Retry<Attempts, tower::limit::ConcurrencyLimit<BodySvc>>>;

pub fn tower_stack() -> TowerStack {
    tower::ServiceBuilder::new()
        .rate_limit(u64::from(HUGE_RPS), Duration::from_secs(1))
        .retry(Attempts(0))
        .concurrency_limit(SLOTS)
        .service(BodySvc)
}

/// One call through the tower stack: `ready`, then `call`, as a tower client does.
#[inline]
pub async fn tower_call(s: &mut TowerStack, x: u64) -> Result<u64, BenchError> {
    s.ready().await?.call(x).await
}

/// Drives a future that is ready at once (every happy path here) without an executor; used to
/// call the tower stack from sync code, as a sync caller would have to.
#[inline]
pub fn now_or_never<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(std::task::Waker::noop());
    match Pin::as_mut(&mut f).poll(&mut cx) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("the happy path never waits"),
    }
}

/// A current-thread tokio runtime, as an async user's `#[tokio::main(flavor = "current_thread")]`.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A second function with the same stack: a policy of its own (for the two-policy threads row).
#[staunch::resilient(
    retry(max = 3, backoff = 2.0),
    breaker(threshold = 5, cooldown = 30),
    rps = 1000000000,
    max_inflight = 64
)]
pub fn attr_sync_b(x: u64) -> Result<u64, BenchError> {
    body(x)
}
