//! Shared state through Redis (feature `redis`): a limiter whose bucket lives in Redis and a
//! breaker whose state every replica of a service shares.
//!
//! In one process nothing changes: a policy keeps its state in memory unless it is declared
//! with [`Redis`] (`redis(…)` in the attribute, [`PolicyBuilder::redis`](crate::PolicyBuilder::redis)
//! in the builder). Such a policy's rate limit (`rps`/`rpm`, keyed or not), token limit (`tpm`)
//! and breaker of failures in a row are then decided by Redis, so that a fleet of replicas
//! shares one quota and one breaker: a replica that opens the breaker opens it for all, the
//! cooldown is the same everywhere and half-open trials are counted across the fleet.
//!
//! An attempt costs one script run to be admitted (one round trip, atomic, on the server's
//! clock) and one more as it ends, if the fleet must hear of it: the breaker's outcome (a
//! success too, which ends failures in a row), tokens given back or charged. The second is
//! sent from a task of its own, so that a call dropped meanwhile loses nothing, and waited for
//! (within the call's deadline) unless it is a success while the breaker is closed. A retry's
//! backoff is waited after it.
//!
//! The server is found at run time, the first of: the policy's own [`Redis::url`], the client
//! given to `register`, the `STAUNCH_REDIS_URL` variable. None found, or the server down or
//! slower than the policy's [`timeout`](Redis::timeout), the policy's [`Fail`] mode decides:
//! [`Fail::Open`] lets the policy's in-memory state take over (reported once per outage as an
//! [`EventKind::Backend`](crate::events::EventKind::Backend) event and, with the `tracing`
//! feature, a warning; listed once per policy in [`warnings`](crate::warnings)), [`Fail::Closed`] rejects the call
//! with [`Error::BackendUnavailable`](crate::Error::BackendUnavailable). Either way a call
//! never waits on Redis longer than the policy's timeout, nor past its deadline, and the
//! connection comes back by itself once the server answers again.
//!
//! Only async calls go through Redis. A sync call of such a policy (the builder's
//! [`Policy::call`](crate::Policy::call)) uses the in-memory state, and says so once in
//! [`warnings`](crate::warnings); the attribute refuses `redis` on a sync function. Hedged
//! copies (`call_hedged`) are admitted by the in-memory state too.
//!
//! One server (or a primary with its replicas), not Redis Cluster: a policy's keys
//! (`<prefix><name>:breaker`, `:rate`, `:tokens`) are not tagged to one hash slot, and a
//! Cluster refuses a script that touches keys of several slots.
//!
//! Not shared: the bulkhead, the hold-off of a retry-after hint, the retry budget. What
//! [`Handle`](crate::Handle) reports (`signals`, `describe`) and what it forces or resets is the
//! process's in-memory breaker and limiter, not the state in Redis.

use std::time::Duration;

#[cfg(feature = "redis")]
mod remote;
#[cfg(feature = "redis")]
pub use ::redis::Client;
#[cfg(feature = "redis")]
pub use remote::{register, register_url};
#[cfg(feature = "redis")]
pub(crate) use remote::{Gate, Remote, Verdict};

/// The 64-bit hash under which a keyed limiter declared with `redis` keeps `key` in Redis:
/// seeded alike in every process (unlike [`key_hash`](crate::attempt::key_hash), seeded at
/// random per process), so that every replica finds a key's bucket under the same name. Pass
/// it to [`Req::key`](crate::attempt::Req::key) for such a policy; the attribute does.
///
/// The same key hashes alike in every process built with the same version of staunch (and of
/// the key's `Hash`). Two keys whose hashes collide share one bucket: stricter, never looser.
///
/// # Examples
///
/// ```
/// use staunch_runtime::redis::shared_key_hash;
/// assert_eq!(shared_key_hash("user-1"), shared_key_hash(&"user-1".to_owned()));
/// ```
#[must_use]
pub fn shared_key_hash<K: std::hash::Hash + ?Sized>(key: &K) -> u64 {
    use std::hash::BuildHasher;
    foldhash::quality::FixedState::with_seed(0x7374_6175_6e63_6821).hash_one(key)
}

/// What a policy declared with [`Redis`] does when Redis cannot answer in time (down,
/// unreachable, slower than [`Redis::timeout`], or no server configured).
///
/// # Examples
///
/// ```
/// use staunch_runtime::redis::{Fail, Redis};
/// assert_eq!(Redis::new().fail(), Fail::Open);
/// assert_eq!(Redis::new().fail_closed().fail(), Fail::Closed);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Fail {
    /// The policy's in-memory limiter and breaker decide, as if it had no `redis`; the outage
    /// is reported once in [`warnings`](crate::warnings) (and as a `tracing` warning).
    #[default]
    Open,
    /// The call is rejected with [`Error::BackendUnavailable`](crate::Error::BackendUnavailable).
    Closed,
}

/// Where a policy keeps its limiter's and breaker's state: in Redis, shared by every process
/// that declares the same name and prefix (see the [module](self)).
///
/// Defaults: fail open, a `timeout` of 50 ms per round trip (greater than 0, at most 60 s),
/// the key prefix `staunch:` (not empty), the server found at run time. What it shares: the
/// rate limit (`rps`/`rpm`, keyed or not, with its `burst` and `wait`), the token limit
/// (`tpm`), and a breaker of failures in a row (`threshold`, `cooldown`, `half_open`,
/// `max_half_open`); a failure-rate breaker and an exponential cooldown cannot be shared
/// (a [`ConfigError`](crate::ConfigError) at build). The bulkhead, the hold-off of a
/// retry-after hint and the retry budget stay in the process.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use staunch_runtime::redis::Redis;
/// use staunch_runtime::Policy;
/// let r = Redis::new().fail_closed().timeout(Duration::from_millis(20)).prefix("myapp:");
/// let p = Policy::builder("docs-redis").rpm(500.0).redis(r.clone()).build().unwrap();
/// assert_eq!(p.config().redis, Some(r));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redis {
    pub(crate) fail: Fail,
    pub(crate) timeout: Duration,
    pub(crate) prefix: String,
    pub(crate) url: Option<String>,
}

impl Default for Redis {
    fn default() -> Self {
        Redis::new()
    }
}

impl Redis {
    /// The longest `timeout`.
    pub const MAX_TIMEOUT: Duration = Duration::from_secs(60);

    /// The defaults: fail open, 50 ms, prefix `staunch:`, the server found at run time.
    ///
    /// # Examples
    ///
    /// ```
    /// let r = staunch_runtime::redis::Redis::new();
    /// assert_eq!(r.timeout_value(), std::time::Duration::from_millis(50));
    /// assert_eq!(r.prefix_value(), "staunch:");
    /// ```
    #[must_use]
    pub fn new() -> Self {
        Redis {
            fail: Fail::Open,
            timeout: Duration::from_millis(50),
            prefix: "staunch:".to_owned(),
            url: None,
        }
    }

    /// Redis down or slow: the in-memory state decides (the default).
    ///
    /// # Examples
    ///
    /// ```
    /// use staunch_runtime::redis::{Fail, Redis};
    /// assert_eq!(Redis::new().fail_closed().fail_open().fail(), Fail::Open);
    /// ```
    #[must_use]
    pub fn fail_open(mut self) -> Self {
        self.fail = Fail::Open;
        self
    }

    /// Redis down or slow: the call is rejected with
    /// [`Error::BackendUnavailable`](crate::Error::BackendUnavailable).
    ///
    /// # Examples
    ///
    /// ```
    /// use staunch_runtime::redis::{Fail, Redis};
    /// assert_eq!(Redis::new().fail_closed().fail(), Fail::Closed);
    /// ```
    #[must_use]
    pub fn fail_closed(mut self) -> Self {
        self.fail = Fail::Closed;
        self
    }

    /// The longest one round trip to Redis may take (connecting included) before the fail
    /// mode decides: greater than 0, at most 60 s (default 50 ms). The call's deadline, if it
    /// comes first, bounds it too.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use staunch_runtime::{redis::Redis, Policy};
    /// let r = Redis::new().timeout(Duration::from_millis(10));
    /// assert_eq!(r.timeout_value(), Duration::from_millis(10));
    /// let e = Policy::builder("docs-redis-timeout").rps(1.0).redis(Redis::new().timeout(Duration::ZERO)).build();
    /// assert_eq!(e.unwrap_err().to_string(), "policy `docs-redis-timeout`: `redis(timeout)` must be greater than 0 and at most 60s");
    /// ```
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The prefix of the policy's keys (default `staunch:`; not empty): its state lives under
    /// `<prefix><name>:…`, so processes that share a name and a prefix share the state.
    ///
    /// # Examples
    ///
    /// ```
    /// use staunch_runtime::{redis::Redis, Policy};
    /// assert_eq!(Redis::new().prefix("app:").prefix_value(), "app:");
    /// let e = Policy::builder("docs-redis-prefix").rps(1.0).redis(Redis::new().prefix("")).build();
    /// assert_eq!(e.unwrap_err().to_string(), "policy `docs-redis-prefix`: `redis(prefix)` must not be empty");
    /// ```
    #[must_use]
    pub fn prefix(mut self, prefix: &str) -> Self {
        prefix.clone_into(&mut self.prefix);
        self
    }

    /// This policy's own server (`redis://host:port/db`), before `register`'s and
    /// `STAUNCH_REDIS_URL`. Checked at build (a [`ConfigError`](crate::ConfigError) if it does
    /// not parse, with the `redis` feature).
    ///
    /// # Examples
    ///
    /// ```
    /// use staunch_runtime::redis::Redis;
    /// let r = Redis::new().url("redis://127.0.0.1:6379");
    /// assert_eq!(r.url_value(), Some("redis://127.0.0.1:6379"));
    /// ```
    #[must_use]
    pub fn url(mut self, url: &str) -> Self {
        self.url = Some(url.to_owned());
        self
    }

    /// The fail mode.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(staunch_runtime::redis::Redis::new().fail(), staunch_runtime::redis::Fail::Open);
    /// ```
    #[must_use]
    pub fn fail(&self) -> Fail {
        self.fail
    }

    /// The round trip's bound.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(staunch_runtime::redis::Redis::new().timeout_value().as_millis(), 50);
    /// ```
    #[must_use]
    pub fn timeout_value(&self) -> Duration {
        self.timeout
    }

    /// The key prefix.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(staunch_runtime::redis::Redis::new().prefix_value(), "staunch:");
    /// ```
    #[must_use]
    pub fn prefix_value(&self) -> &str {
        &self.prefix
    }

    /// The policy's own server, if it names one.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(staunch_runtime::redis::Redis::new().url_value(), None);
    /// ```
    #[must_use]
    pub fn url_value(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// Whether the build has the `redis` feature (without it, a policy declared with `redis`
    /// keeps its state in memory, and says so once in [`warnings`](crate::warnings)).
    pub const ENABLED: bool = cfg!(feature = "redis");

    /// The message of the first setting outside its valid values, given the rest of the
    /// policy's configuration.
    pub(crate) fn invalid(&self, breaker: Option<&crate::Breaker>) -> Option<String> {
        if self.timeout.is_zero() || self.timeout > Self::MAX_TIMEOUT {
            return Some("`redis(timeout)` must be greater than 0 and at most 60s".into());
        }
        if self.prefix.is_empty() {
            return Some("`redis(prefix)` must not be empty".into());
        }
        if let Some(b) = breaker {
            if b.rate.is_some() {
                return Some(
                    "a failure-rate breaker cannot be shared through `redis`: use a breaker of \
                     failures in a row (`threshold`), or drop `redis`"
                        .into(),
                );
            }
            if b.keyed {
                return Some(
                    "a keyed breaker cannot be shared through `redis` (it shares one breaker for \
                     the policy): drop the breaker's key, or drop `redis`"
                        .into(),
                );
            }
            if b.max_cooldown.is_some() || b.cooldown_multiplier.is_some() {
                return Some(
                    "an exponential cooldown (`max_cooldown`) cannot be shared through `redis`: \
                     drop it, or drop `redis`"
                        .into(),
                );
            }
        }
        #[cfg(feature = "redis")]
        if let Some(url) = &self.url {
            if let Err(e) = ::redis::Client::open(url.as_str()) {
                return Some(format!("`redis(url)` does not parse: {e}"));
            }
        }
        None
    }
}
