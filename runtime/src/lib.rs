//! The runtime behind [staunch](https://docs.rs/staunch): named, process-wide circuit breakers,
//! rate limiters and bulkheads, with retries, timeouts and error classification.
//!
//! The `#[resilient]` attribute of the `staunch` crate expands into calls of this crate; every
//! policy can also be built and called without it, through [`Policy::builder`]:
//!
//! ```
//! use std::time::Duration;
//! use staunch_runtime::{Breaker, Error, Policy, Retry};
//!
//! let policy = Policy::builder("inventory")
//!     .retry(Retry::new().max(3).backoff(2.0).delay(Duration::from_millis(50)))
//!     .breaker(Breaker::new().threshold(5).cooldown(Duration::from_secs(30)))
//!     .rps(10.0)
//!     .max_inflight(32)
//!     .build()?;
//!
//! let stock: Result<u32, Error> = policy.call(|| Ok(12));
//! assert_eq!(stock, Ok(12));
//! # Ok::<(), staunch_runtime::ConfigError>(())
//! ```
//!
//! Each attempt passes, in order: the breaker, the limiter, the bulkhead, then the call itself
//! (under the timeout, for async calls); its outcome is recorded, and a failure worth retrying
//! waits out its backoff and goes through all of them again.
#![deny(missing_docs)]

mod breaker;
mod bulkhead;
mod call;
mod classify;
mod clock;
mod duration;
mod env;
mod error;
#[cfg(feature = "http")]
pub mod http;
mod keys;
mod limiter;
mod policy;
mod registry;
mod retry;
mod stale;
mod sync;

pub use breaker::{Breaker, CircuitState};
pub use call::{key_hash, Call, IsResult, Req, Step};
pub use classify::{Class, Classify};
pub use clock::{MockClock, MockGuard};
pub use env::{env_prefix, parse_duration, warnings};
pub use error::Error;
pub use keys::KeyPool;
pub use policy::{Config, ConfigError, Policy, PolicyBuilder, Rate, MAX_HALF_OPEN};
pub use registry::{policy, signals, snapshot, Handle, Observed, Signals};
pub use retry::Retry;
pub use stale::Stale;

/// What the code that `#[resilient]` generates names. Not a public API: it changes without
/// notice.
#[doc(hidden)]
pub mod __private {
    pub use crate::call::{key_hash, Call, IsResult, Req, Step};
    pub use crate::classify::{Class, Classify};
    pub use crate::private::*;
    pub use crate::{Breaker, Error, Policy, PolicyBuilder, Retry, Stale};
}

mod private;
