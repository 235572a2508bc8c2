//! One attribute that keeps calls to flaky services working: retries, circuit breakers, rate
//! limits, bulkheads, timeouts and fallbacks, checked at compile time.
//!
//! ```
//! use staunch::resilient;
//!
//! #[derive(Debug)]
//! enum ApiError {
//!     Http(u16),
//!     Staunch(staunch::Error),
//! }
//!
//! impl From<staunch::Error> for ApiError {
//!     fn from(e: staunch::Error) -> Self {
//!         ApiError::Staunch(e)
//!     }
//! }
//!
//! fn cached_quote(symbol: &str) -> Result<f64, ApiError> {
//!     Ok(if symbol == "ACME" { 41.5 } else { 0.0 })
//! }
//!
//! #[resilient(retry(max=3, backoff=2.0), breaker(threshold=5, cooldown=30), rps=10, fallback = cached_quote)]
//! fn quote(symbol: &str) -> Result<f64, ApiError> {
//!     Err(ApiError::Http(503)) // the service is down today
//! }
//!
//! let clock = staunch::MockClock::new();
//! let _g = clock.install(); // backoff waits move this mock clock instead of sleeping
//! assert_eq!(quote("ACME").unwrap(), 41.5); // four attempts failed, the fallback answered
//! ```
//!
//! The attribute [`resilient`] applies to `fn` and `async fn` (free functions, methods, trait
//! methods, generic functions) that return a `Result<T, E>` with `E: From<staunch::Error>`.
//! It expands into calls of the runtime ([`Policy`], [`Retry`], [`Breaker`], …), which can also
//! be used without it. Its reference — every option with its default and bounds, what it
//! expands to, the supported shapes and the limitations — is on [`resilient`]; below, one
//! runnable example per option.
//!
//! # The options
//!
//! Every example below shares this error type:
//!
//! ```
//! #[derive(Debug, PartialEq)]
//! pub enum Fail {
//!     Down,
//!     Staunch(staunch::Error),
//! }
//!
//! impl From<staunch::Error> for Fail {
//!     fn from(e: staunch::Error) -> Self {
//!         Fail::Staunch(e)
//!     }
//! }
//!
//! // what a policy's rejection reaches the caller as
//! let full = staunch::Error::BulkheadFull { policy: "docs".into(), limit: 8 };
//! assert_eq!(Fail::from(full.clone()), Fail::Staunch(full));
//! ```
//!
//! ## `retry(max, backoff, delay, max_delay, jitter, on)`
//!
//! ```
//! # #[derive(Debug, PartialEq)] pub enum Fail { Down, Fatal, Staunch(staunch::Error) }
//! # impl From<staunch::Error> for Fail { fn from(e: staunch::Error) -> Self { Fail::Staunch(e) } }
//! use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
//! use std::time::Duration;
//! use staunch::resilient;
//!
//! static CALLS: AtomicU32 = AtomicU32::new(0);
//!
//! fn transient(e: &Fail) -> bool {
//!     *e == Fail::Down
//! }
//!
//! #[resilient(retry(max = 3, backoff = 2.0, delay = "1s", max_delay = "3s", jitter = false, on = transient))]
//! fn flaky() -> Result<u32, Fail> {
//!     let n = CALLS.fetch_add(1, SeqCst) + 1;
//!     if n < 4 { Err(Fail::Down) } else { Ok(n) }
//! }
//!
//! let clock = staunch::MockClock::new();
//! let _g = clock.install();
//! let t0 = clock.elapsed();
//! assert_eq!(flaky(), Ok(4));
//! assert_eq!(clock.elapsed() - t0, Duration::from_secs(1 + 2 + 3)); // 4s capped to 3s
//! ```
//!
//! ## `breaker(threshold, cooldown, half_open)`
//!
//! ```
//! # #[derive(Debug, PartialEq)] pub enum Fail { Down, Staunch(staunch::Error) }
//! # impl From<staunch::Error> for Fail { fn from(e: staunch::Error) -> Self { Fail::Staunch(e) } }
//! use std::time::Duration;
//! use staunch::{resilient, CircuitState};
//!
//! #[resilient(breaker(threshold = 2, cooldown = "10s", half_open = 1), name = "docs-breaker")]
//! fn payments(up: bool) -> Result<(), Fail> {
//!     if up { Ok(()) } else { Err(Fail::Down) }
//! }
//!
//! let clock = staunch::MockClock::new();
//! let _g = clock.install();
//! assert_eq!(payments(false), Err(Fail::Down));
//! assert_eq!(payments(false), Err(Fail::Down));
//! assert!(matches!(payments(true), Err(Fail::Staunch(staunch::Error::CircuitOpen { .. }))));
//! assert_eq!(staunch::signals("docs-breaker").unwrap().circuit, CircuitState::Open);
//! clock.advance(Duration::from_secs(10));
//! assert_eq!(payments(true), Ok(())); // the trial call closes it
//! ```
//!
//! ## `rps` / `rpm`, `burst`, `wait`, `key`
//!
//! ```
//! # #[derive(Debug, PartialEq)] pub enum Fail { Down, Staunch(staunch::Error) }
//! # impl From<staunch::Error> for Fail { fn from(e: staunch::Error) -> Self { Fail::Staunch(e) } }
//! use staunch::resilient;
//!
//! #[resilient(rps = 1, burst = 2, wait = 0, key = user)]
//! fn per_user(user: &str) -> Result<(), Fail> {
//!     Ok(())
//! }
//!
//! #[resilient(rpm = 600, wait = "2s", name = "docs-rpm")]
//! fn per_minute() -> Result<(), Fail> {
//!     Ok(())
//! }
//!
//! let clock = staunch::MockClock::new();
//! let _g = clock.install();
//! assert_eq!(per_user("alice"), Ok(()));
//! assert_eq!(per_user("alice"), Ok(()));
//! assert!(matches!(per_user("alice"), Err(Fail::Staunch(staunch::Error::RateLimited { .. }))));
//! assert_eq!(per_user("bob"), Ok(())); // a bucket of his own
//! assert_eq!(per_minute(), Ok(()));
//! ```
//!
//! ## `max_inflight`, `timeout` (async)
//!
//! ```
//! # #[derive(Debug, PartialEq)] pub enum Fail { Down, Staunch(staunch::Error) }
//! # impl From<staunch::Error> for Fail { fn from(e: staunch::Error) -> Self { Fail::Staunch(e) } }
//! use std::time::Duration;
//! use staunch::resilient;
//!
//! #[resilient(max_inflight = 8, timeout = "250ms", name = "docs-timeout")]
//! async fn lookup(slow: bool) -> Result<u32, Fail> {
//!     if slow {
//!         tokio::time::sleep(Duration::from_secs(60)).await;
//!     }
//!     Ok(7)
//! }
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! assert_eq!(lookup(false).await, Ok(7));
//! let e = tokio::spawn(lookup(true)).await.unwrap(); // the future is Send
//! assert!(matches!(e, Err(Fail::Staunch(staunch::Error::Timeout { .. }))));
//! # }
//! ```
//!
//! ## `fallback`, in a method
//!
//! ```
//! # #[derive(Debug, PartialEq)] pub enum Fail { Down, Staunch(staunch::Error) }
//! # impl From<staunch::Error> for Fail { fn from(e: staunch::Error) -> Self { Fail::Staunch(e) } }
//! use staunch::resilient;
//!
//! struct Prices {
//!     last: f64,
//! }
//!
//! impl Prices {
//!     #[resilient(retry(max = 1, delay = 0), fallback = last_known)]
//!     async fn current(&mut self, symbol: &str) -> Result<f64, Fail> {
//!         Err(Fail::Down)
//!     }
//!
//!     // same receiver, parameters, return type and asyncness
//!     async fn last_known(&mut self, _symbol: &str) -> Result<f64, Fail> {
//!         Ok(self.last)
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let mut p = Prices { last: 9.5 };
//! assert_eq!(p.current("ACME").await, Ok(9.5));
//! # }
//! ```
//!
//! ## `name`, and the environment
//!
//! Functions of one `name` share one breaker, limiter and bulkhead; `STAUNCH_<NAME>_<KNOB>`
//! overrides an option when the policy is created, at its first call.
//!
//! ```
//! # #[derive(Debug, PartialEq)] pub enum Fail { Down, Staunch(staunch::Error) }
//! # impl From<staunch::Error> for Fail { fn from(e: staunch::Error) -> Self { Fail::Staunch(e) } }
//! use staunch::resilient;
//!
//! #[resilient(name = "docs-openai", rps = 100, wait = 0)]
//! fn complete() -> Result<(), Fail> {
//!     Ok(())
//! }
//!
//! #[resilient(name = "docs-openai")]
//! fn embed() -> Result<(), Fail> {
//!     Ok(())
//! }
//!
//! std::env::set_var("STAUNCH_DOCS_OPENAI_RPS", "1");
//! let clock = staunch::MockClock::new();
//! let _g = clock.install();
//! assert_eq!(complete(), Ok(()));
//! // one bucket of 1 token for both
//! assert!(matches!(embed(), Err(Fail::Staunch(staunch::Error::RateLimited { .. }))));
//! ```
//!
//! ## Edition 2024
//!
//! ```edition2024
//! # #[derive(Debug, PartialEq)] pub enum Fail { Down, Staunch(staunch::Error) }
//! # impl From<staunch::Error> for Fail { fn from(e: staunch::Error) -> Self { Fail::Staunch(e) } }
//! #[staunch::resilient(retry(max = 1, delay = 0), timeout = 1)]
//! async fn get<'a>(s: &'a str) -> Result<&'a str, Fail> {
//!     Ok(s)
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! assert_eq!(get("x").await, Ok("x"));
//! # }
//! ```
#![deny(missing_docs)]

pub use staunch_macros::resilient;
pub use staunch_runtime::*;

/// What the code that `#[resilient]` generates names. Not a public API: it changes without
/// notice.
#[doc(hidden)]
pub mod __private {
    pub use staunch_runtime::__private::*;
}

/// The README's examples, run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
