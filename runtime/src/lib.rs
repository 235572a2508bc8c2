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

pub mod attempt;
mod breaker;
mod bulkhead;
mod chaos;
mod classify;
mod clock;
mod config;
mod describe;
mod duration;
pub mod env;
mod error;
pub mod events;
mod handle;
mod hedge;
#[cfg(feature = "http")]
pub mod http;
mod keys;
mod limiter;
#[cfg(all(test, loom))]
mod loom_models;
#[cfg(feature = "metrics")]
pub mod metrics;
mod policy;
mod private;
pub mod redis;
mod registry;
mod retry;
mod shared;
mod stale;
mod sync;
mod trace;

pub use attempt::Why;
pub use breaker::{Breaker, CircuitState, SlidingWindow};
pub use chaos::Chaos;
pub use classify::{Class, Classify};
pub use clock::{MockClock, MockGuard};
pub use config::{Config, ConfigError, Rate};
pub use describe::{Description, Setting, Source, Stage};
pub use env::{env_prefix, warnings};
pub use error::Error;
pub use handle::{policy, signals, snapshot, Handle};
pub use hedge::Hedge;
pub use keys::KeyPool;
pub use policy::{Policy, PolicyBuilder};
pub use retry::Retry;
pub use shared::{Injections, Observed, Rejections, Signals};
pub use stale::Stale;

/// What the code that `#[resilient]` generates names. Not a public API: it changes without
/// notice.
#[doc(hidden)]
pub mod __private {
    pub use crate::attempt::{key_hash, Call, IsResult, Req, Step};
    pub use crate::classify::{Class, Classify};
    pub use crate::private::*;
    pub use crate::redis::{shared_key_hash, Redis};
    pub use crate::{Breaker, Chaos, Error, Hedge, Policy, PolicyBuilder, Retry, Stale};
}

/// Names the root exported before they moved; each points to its new place.
#[doc(hidden)]
mod moved {
    use std::hash::Hash;
    use std::time::Duration;

    /// Moved to [`attempt::Call`](crate::attempt::Call).
    #[deprecated(since = "0.1.1", note = "moved to `attempt::Call`")]
    pub type Call<'p, R> = crate::attempt::Call<'p, R>;

    /// Moved to [`attempt::Step`](crate::attempt::Step).
    #[deprecated(since = "0.1.1", note = "moved to `attempt::Step`")]
    pub type Step<R> = crate::attempt::Step<R>;

    /// Moved to [`attempt::Req`](crate::attempt::Req).
    #[deprecated(since = "0.1.1", note = "moved to `attempt::Req`")]
    pub type Req = crate::attempt::Req;

    /// Moved to [`attempt::key_hash`](crate::attempt::key_hash).
    #[deprecated(since = "0.1.1", note = "moved to `attempt::key_hash`")]
    #[must_use]
    pub fn key_hash<K: Hash + ?Sized>(key: &K) -> u64 {
        crate::attempt::key_hash(key)
    }

    /// Moved to [`env::parse_duration`](crate::env::parse_duration).
    #[deprecated(since = "0.1.1", note = "moved to `env::parse_duration`")]
    #[must_use]
    pub fn parse_duration(s: &str) -> Option<Duration> {
        crate::env::parse_duration(s)
    }

    /// Moved to [`Breaker::MAX_HALF_OPEN`](crate::Breaker::MAX_HALF_OPEN).
    #[deprecated(since = "0.1.1", note = "moved to `Breaker::MAX_HALF_OPEN`")]
    pub const MAX_HALF_OPEN: u32 = crate::Breaker::MAX_HALF_OPEN;
}

#[allow(deprecated)]
#[doc(hidden)]
pub use moved::*;
