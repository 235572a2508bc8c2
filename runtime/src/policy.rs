//! A policy: the parts composed, built once, shared by name.

use std::time::Duration;

use crate::breaker::BreakerState;
use crate::bulkhead::Bulkhead;
use crate::clock::Nanos;
use crate::env::Knobs;
use crate::limiter::{max_wait, Direct, Gcra, Limiter};
use crate::registry;
use crate::retry::Budget;
use crate::sync::Arc;
use crate::sync::AtomicU64;
use crate::{Breaker, Retry};

/// The most trial calls a half-open breaker may let through at a time.
pub const MAX_HALF_OPEN: u32 = 0xffff;

/// A rate limit as configured: `rate` calls per `per`, `burst` at most at once.
///
/// # Examples
///
/// ```
/// let p = staunch_runtime::Policy::builder("docs-rate").rpm(120.0).build().unwrap();
/// let rate = p.config().rate.unwrap();
/// assert_eq!(rate.per, std::time::Duration::from_secs(60));
/// assert_eq!(rate.burst, 2); // one second's worth
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct Rate {
    /// Tokens refilled per `per`.
    pub rate: f64,
    /// One second (`rps`) or one minute (`rpm`).
    pub per: Duration,
    /// The bucket's size.
    pub burst: u32,
    /// One bucket per key.
    pub keyed: bool,
    /// The longest a call waits for a token (`None`: as long as it takes).
    pub wait: Option<Duration>,
}

/// A policy's configuration as resolved: what the builder (or attribute) said, then the
/// environment's overrides.
///
/// # Examples
///
/// ```
/// let p = staunch_runtime::Policy::builder("docs-config").max_inflight(8).build().unwrap();
/// assert_eq!(p.config().max_inflight, Some(8));
/// assert_eq!(p.config().name, "docs-config");
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Config {
    /// The policy's name.
    pub name: String,
    /// Retry settings of the function or builder that created the policy.
    pub retry: Option<Retry>,
    /// Circuit breaker settings.
    pub breaker: Option<Breaker>,
    /// Rate limit.
    pub rate: Option<Rate>,
    /// Token limit (`tpm`): `rate` tokens a minute, a minute's worth of burst.
    pub tokens: Option<Rate>,
    /// Bulkhead size.
    pub max_inflight: Option<usize>,
    /// Per-attempt time limit of async calls.
    pub timeout: Option<Duration>,
}

/// A setting the builder was given that is outside its valid values.
///
/// # Examples
///
/// ```
/// let err = staunch_runtime::Policy::builder("docs-bad").rps(-1.0).build().unwrap_err();
/// assert_eq!(err.to_string(), "policy `docs-bad`: `rps` must be greater than 0");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("policy `{policy}`: {message}")]
pub struct ConfigError {
    policy: String,
    message: String,
}

impl ConfigError {
    pub(crate) fn new(policy: &str, message: &str) -> Self {
        ConfigError {
            policy: policy.to_owned(),
            message: message.to_owned(),
        }
    }
}

/// Builds a [`Policy`]: each part optional.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use staunch_runtime::{Breaker, Policy, Retry};
///
/// let policy = Policy::builder("docs-builder")
///     .retry(Retry::new().max(2).delay(Duration::from_millis(1)))
///     .breaker(Breaker::new().threshold(5).cooldown(Duration::from_secs(30)))
///     .rps(100.0)
///     .max_inflight(16)
///     .build()
///     .expect("valid settings");
/// let r: Result<u32, staunch_runtime::Error> = policy.call(|| Ok(7));
/// assert_eq!(r, Ok(7));
/// ```
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct PolicyBuilder {
    name: String,
    unique: bool,
    retry: Option<Retry>,
    breaker: Option<Breaker>,
    rps: Option<f64>,
    rpm: Option<f64>,
    tpm: Option<f64>,
    burst: Option<u32>,
    keyed: bool,
    wait: Option<Duration>,
    max_inflight: Option<usize>,
    timeout: Option<Duration>,
}

impl PolicyBuilder {
    fn new(name: &str, unique: bool) -> Self {
        PolicyBuilder {
            name: name.to_owned(),
            unique,
            retry: None,
            breaker: None,
            rps: None,
            rpm: None,
            tpm: None,
            burst: None,
            keyed: false,
            wait: None,
            max_inflight: None,
            timeout: None,
        }
    }

    /// Retries failed attempts.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = staunch_runtime::Policy::builder("x").retry(staunch_runtime::Retry::new());
    /// ```
    pub fn retry(mut self, retry: Retry) -> Self {
        self.retry = Some(retry);
        self
    }

    /// Adds a circuit breaker.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = staunch_runtime::Policy::builder("x").breaker(staunch_runtime::Breaker::new());
    /// ```
    pub fn breaker(mut self, breaker: Breaker) -> Self {
        self.breaker = Some(breaker);
        self
    }

    /// Limits calls to `r` a second (not with [`rpm`](Self::rpm)).
    ///
    /// # Examples
    ///
    /// ```
    /// let b = staunch_runtime::Policy::builder("x").rps(10.0);
    /// ```
    pub fn rps(mut self, r: f64) -> Self {
        self.rps = Some(r);
        self
    }

    /// Limits calls to `r` a minute (not with [`rps`](Self::rps)).
    ///
    /// # Examples
    ///
    /// ```
    /// let b = staunch_runtime::Policy::builder("x").rpm(600.0);
    /// ```
    pub fn rpm(mut self, r: f64) -> Self {
        self.rpm = Some(r);
        self
    }

    /// Limits the tokens calls may use to `r` a minute (an LLM provider's TPM), beside any
    /// request rate; a call is admitted only when both have room, and a rejection by either
    /// takes from neither. A call's cost is its [`Req::cost`](crate::Req::cost) estimate,
    /// reconciled after the call by [`Call::usage`](crate::Call::usage). The bucket holds a
    /// minute's worth; a call that costs more than that is rejected at once.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = staunch_runtime::Policy::builder("x").rpm(3500.0).tpm(90_000.0);
    /// ```
    pub fn tpm(mut self, r: f64) -> Self {
        self.tpm = Some(r);
        self
    }

    /// The rate limiter's bucket size (default: one second's worth, at least 1).
    ///
    /// # Examples
    ///
    /// ```
    /// let b = staunch_runtime::Policy::builder("x").rps(1.0).burst(20);
    /// ```
    pub fn burst(mut self, b: u32) -> Self {
        self.burst = Some(b);
        self
    }

    /// One bucket per key: calls pass a key through [`Req::key`](crate::Req::key).
    ///
    /// # Examples
    ///
    /// ```
    /// let b = staunch_runtime::Policy::builder("x").rps(1.0).keyed();
    /// ```
    pub fn keyed(mut self) -> Self {
        self.keyed = true;
        self
    }

    /// The longest a call waits for a token before failing with
    /// [`Error::RateLimited`](crate::Error::RateLimited). The same bound applies to a hold-off:
    /// in a policy with a rate limit, a retry-after hint that one call received (see
    /// [`Classify::retry_after`](crate::Classify::retry_after)) holds off every caller until it
    /// has passed.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = staunch_runtime::Policy::builder("x").rps(1.0).wait(std::time::Duration::ZERO);
    /// ```
    pub fn wait(mut self, d: Duration) -> Self {
        self.wait = Some(d);
        self
    }

    /// At most `n` calls in flight; one more fails at once with
    /// [`Error::BulkheadFull`](crate::Error::BulkheadFull).
    ///
    /// # Examples
    ///
    /// ```
    /// let b = staunch_runtime::Policy::builder("x").max_inflight(4);
    /// ```
    pub fn max_inflight(mut self, n: usize) -> Self {
        self.max_inflight = Some(n);
        self
    }

    /// Each attempt of an async call fails with [`Error::Timeout`](crate::Error::Timeout) past
    /// `d`. Sync calls cannot be interrupted and ignore it.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = staunch_runtime::Policy::builder("x").timeout(std::time::Duration::from_secs(10));
    /// ```
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = Some(d);
        self
    }

    /// Applies the environment's overrides, checks every setting, and returns the policy.
    ///
    /// The breaker, limiter and bulkhead belong to the name: if a policy of this name exists
    /// already, the new one shares them (and their first configuration); retry and timeout are
    /// the new policy's own.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first setting outside its valid values.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = staunch_runtime::Policy::builder("docs-shared").max_inflight(1).build().unwrap();
    /// let b = staunch_runtime::Policy::builder("docs-shared").build().unwrap();
    /// assert_eq!(b.config().max_inflight, Some(1));
    /// ```
    pub fn build(mut self) -> Result<Policy, ConfigError> {
        self.validate()?;
        self.apply_env();
        let config = self.config();
        let shared = registry::register(&self.name, self.unique, |name| Shared::new(name, &config));
        Ok(Policy {
            shared,
            budget: self
                .retry
                .and_then(|r| r.budget)
                .map(|b| Arc::new(Budget::new(b))),
            retry: self.retry,
            timeout: self.timeout,
        })
    }

    /// Applies each `STAUNCH_<NAME>_<KNOB>` that is set, one at a time: a value that does not
    /// parse, or would make the configuration invalid (a `BURST` without a rate, say), is
    /// reported once and ignored.
    fn apply_env(&mut self) {
        let knobs = Knobs::new(&self.name);
        let retries = self.retry.is_some();
        let mut apply = |knob: &str, set: &dyn Fn(&Knobs, &mut PolicyBuilder) -> bool| {
            let mut trial = self.clone();
            if set(&knobs, &mut trial) {
                match trial.validate() {
                    Ok(()) => *self = trial,
                    Err(e) => knobs.reject(knob, &e.message),
                }
            }
        };
        apply("RPS", &|k, b| {
            k.rate("RPS")
                .map(|r| (b.rps, b.rpm) = (Some(r), None))
                .is_some()
        });
        apply("RPM", &|k, b| {
            k.rate("RPM")
                .map(|r| (b.rpm, b.rps) = (Some(r), None))
                .is_some()
        });
        apply("TPM", &|k, b| {
            k.rate("TPM").map(|r| b.tpm = Some(r)).is_some()
        });
        apply("BURST", &|k, b| {
            k.count("BURST").map(|n| b.burst = Some(n)).is_some()
        });
        apply("MAX_INFLIGHT", &|k, b| {
            k.count("MAX_INFLIGHT")
                .map(|n| b.max_inflight = Some(n))
                .is_some()
        });
        apply("BREAKER_THRESHOLD", &|k, b| {
            k.count("BREAKER_THRESHOLD")
                .map(|n| b.breaker = Some(b.breaker.unwrap_or_default().threshold(n)))
                .is_some()
        });
        apply("BREAKER_COOLDOWN", &|k, b| {
            k.duration("BREAKER_COOLDOWN")
                .map(|d| b.breaker = Some(b.breaker.unwrap_or_default().cooldown(d)))
                .is_some()
        });
        // a policy without retry may wrap a body that cannot run twice: nothing to override
        if retries {
            apply("RETRY_MAX", &|k, b| {
                k.count("RETRY_MAX")
                    .map(|n| b.retry = b.retry.map(|r| r.max(n)))
                    .is_some()
            });
        } else {
            knobs.reject(
                "RETRY_MAX",
                "the policy does not retry (add `retry` to retry it)",
            );
        }
        apply("TIMEOUT", &|k, b| {
            k.duration("TIMEOUT").map(|d| b.timeout = Some(d)).is_some()
        });
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let fail = |message: &str| {
            Err(ConfigError {
                policy: self.name.clone(),
                message: message.to_owned(),
            })
        };
        if self.name.is_empty() {
            return fail("the name must not be empty");
        }
        if let Some(r) = &self.retry {
            if r.max < 1 {
                return fail("`retry(max)` must be at least 1");
            }
            if !(r.backoff >= 1.0 && r.backoff.is_finite()) {
                return fail("`retry(backoff)` must be a finite number of at least 1.0");
            }
            if !(0.0..=1.0).contains(&r.jitter) {
                return fail("`retry(jitter)` must be between 0 and 1");
            }
        }
        if let Some(b) = &self.breaker {
            if b.threshold < 1 {
                return fail("`breaker(threshold)` must be at least 1");
            }
            if !(1..=MAX_HALF_OPEN).contains(&b.half_open) {
                return fail("`breaker(half_open)` must be between 1 and 65535");
            }
        }
        if self.rps.is_some() && self.rpm.is_some() {
            return fail("`rps` and `rpm` cannot both be set");
        }
        for (option, r) in [("rps", self.rps), ("rpm", self.rpm), ("tpm", self.tpm)] {
            if r.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
                return fail(&format!("`{option}` must be greater than 0"));
            }
        }
        let limited = self.rps.is_some() || self.rpm.is_some();
        if let Some(b) = self.retry.as_ref().and_then(|r| r.budget) {
            if !(b > 0.0 && b.is_finite()) {
                return fail("`retry(budget)` must be greater than 0");
            }
        }
        if self.burst == Some(0) {
            return fail("`burst` must be at least 1");
        }
        for (option, set) in [
            ("burst", self.burst.is_some()),
            ("wait", self.wait.is_some() && self.tpm.is_none()),
            ("key", self.keyed),
        ] {
            if set && !limited {
                return fail(&format!("`{option}` needs a rate: set `rps` or `rpm`"));
            }
        }
        if self.max_inflight == Some(0) {
            return fail("`max_inflight` must be at least 1");
        }
        Ok(())
    }

    fn config(&self) -> Config {
        let rate = match (self.rps, self.rpm) {
            (Some(r), _) => Some((r, Duration::from_secs(1))),
            (None, Some(r)) => Some((r, Duration::from_secs(60))),
            (None, None) => None,
        };
        Config {
            name: self.name.clone(),
            retry: self.retry,
            breaker: self.breaker,
            rate: rate.map(|(rate, per)| Rate {
                rate,
                per,
                // one second's worth of tokens, at least one
                burst: self.burst.unwrap_or_else(|| {
                    let per_second = rate / per.as_secs_f64();
                    per_second.ceil().clamp(1.0, f64::from(u32::MAX)) as u32
                }),
                keyed: self.keyed,
                wait: self.wait,
            }),
            tokens: self.tpm.map(|rate| Rate {
                rate,
                per: Duration::from_secs(60),
                burst: rate.ceil().clamp(1.0, f64::from(u32::MAX)) as u32,
                keyed: false,
                wait: self.wait,
            }),
            max_inflight: self.max_inflight,
            timeout: self.timeout,
        }
    }
}

/// Counts of what happened off the happy path (never touched on it).
#[derive(Debug, Default)]
pub(crate) struct Counts {
    pub(crate) retries: AtomicU64,
    pub(crate) fallbacks: AtomicU64,
    pub(crate) stale_served: AtomicU64,
}

/// What every policy of one name shares: the breaker, the limiter and the bulkhead.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) name: String,
    pub(crate) breaker: Option<BreakerState>,
    pub(crate) limiter: Option<Limiter>,
    pub(crate) tokens: Option<Direct>,
    pub(crate) max_wait: Nanos,
    /// Until when every caller is held off (a retry-after hint); 0: no hold-off.
    pub(crate) hold_until: AtomicU64,
    pub(crate) bulkhead: Bulkhead,
    pub(crate) config: Config,
    pub(crate) counts: Counts,
}

impl Shared {
    fn new(name: &str, config: &Config) -> Self {
        let mut config = config.clone();
        name.clone_into(&mut config.name);
        Shared {
            name: name.to_owned(),
            breaker: config.breaker.map(BreakerState::new),
            limiter: config
                .rate
                .map(|r| Limiter::new(r.rate, r.per, r.burst, r.keyed)),
            tokens: config
                .tokens
                .map(|t| Direct::new(Gcra::new(t.rate, t.per, t.burst))),
            max_wait: max_wait(config.rate.or(config.tokens).and_then(|r| r.wait)),
            hold_until: AtomicU64::new(0),
            counts: Counts::default(),
            bulkhead: Bulkhead::new(config.max_inflight),
            config,
        }
    }
}

/// A resilience policy: breaker → limiter → bulkhead → the call (under a timeout) → retry.
///
/// Built with [`Policy::builder`], or by the `#[resilient]` attribute, which goes through the
/// same builder. Cloning is cheap and the clones share everything.
///
/// # Examples
///
/// ```
/// use staunch_runtime::{Error, Policy, Retry};
///
/// let policy = Policy::builder("docs-policy").retry(Retry::new().jitter(0.0)).build().unwrap();
/// let mut attempts = 0;
/// let clock = staunch_runtime::MockClock::new();
/// let _g = clock.install(); // backoff waits move the mock clock instead of sleeping
/// let r: Result<&str, Error> = policy.call(|| {
///     attempts += 1;
///     if attempts < 3 { Err(Error::Timeout { policy: "upstream".into(), after: Default::default() }) } else { Ok("done") }
/// });
/// assert_eq!(r, Ok("done"));
/// assert_eq!(attempts, 3);
/// ```
#[derive(Clone, Debug)]
pub struct Policy {
    pub(crate) shared: Arc<Shared>,
    pub(crate) retry: Option<Retry>,
    pub(crate) budget: Option<Arc<Budget>>,
    pub(crate) timeout: Option<Duration>,
}

impl Policy {
    /// Starts a policy named `name`; policies of one name share their breaker, limiter and
    /// bulkhead process-wide.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = staunch_runtime::Policy::builder("docs-name").build().unwrap();
    /// assert_eq!(p.name(), "docs-name");
    /// ```
    pub fn builder(name: &str) -> PolicyBuilder {
        PolicyBuilder::new(name, false)
    }

    /// Starts a policy that shares nothing: if `name` is taken, it is registered as `name#2`
    /// (`#3`, …). What the attribute uses for a function without `name = …`.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = staunch_runtime::Policy::unnamed("docs-unnamed").build().unwrap();
    /// let b = staunch_runtime::Policy::unnamed("docs-unnamed").build().unwrap();
    /// assert_eq!(b.name(), "docs-unnamed#2");
    /// ```
    pub fn unnamed(name: &str) -> PolicyBuilder {
        PolicyBuilder::new(name, true)
    }

    /// Whether the breaker would let a call through now (no trial slot is taken). What a
    /// [`KeyPool`](crate::KeyPool) asks before it builds a call's future for a key.
    pub(crate) fn breaker_admits(&self) -> bool {
        self.shared
            .breaker
            .as_ref()
            .is_none_or(|b| b.is_closed() || b.check(crate::clock::now_observed()).is_ok())
    }

    /// The policy's name, as registered.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(staunch_runtime::Policy::builder("n").build().unwrap().name(), "n");
    /// ```
    #[must_use]
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The configuration as resolved (settings, then environment); breaker, rate and bulkhead
    /// are those of the policy's name, retry and timeout this policy's own.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = staunch_runtime::Policy::builder("docs-cfg").rps(3.0).build().unwrap();
    /// assert_eq!(p.config().rate.unwrap().burst, 3);
    /// ```
    #[must_use]
    pub fn config(&self) -> Config {
        Config {
            retry: self.retry,
            timeout: self.timeout,
            ..self.shared.config.clone()
        }
    }

    /// The operator's handle on this policy's shared state.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = staunch_runtime::Policy::builder("docs-handle").build().unwrap();
    /// assert_eq!(p.handle().signals().inflight, 0);
    /// ```
    #[must_use]
    pub fn handle(&self) -> crate::Handle {
        crate::Handle {
            shared: self.shared.clone(),
        }
    }

    /// [`Stale::settle_sync`](crate::Stale::settle_sync), counted in this policy's
    /// [`Signals::stale_served`](crate::Signals::stale_served). What `stale(…)` expands to.
    ///
    /// # Errors
    ///
    /// The error it was given, when no fresh answer is remembered for `key`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use staunch_runtime::{Policy, Stale};
    /// static CACHE: Stale = Stale::new(10, Duration::from_secs(60));
    /// let p = Policy::builder("docs-stale-sync").build().unwrap();
    /// let _ = p.stale_sync(&CACHE, 1, Ok::<_, ()>(5));
    /// assert_eq!(p.stale_sync(&CACHE, 1, Err::<i32, _>(())), Ok(5));
    /// assert_eq!(p.handle().signals().stale_served, 1);
    /// ```
    pub fn stale_sync<T, E>(
        &self,
        cache: &crate::Stale,
        key: u64,
        result: Result<T, E>,
    ) -> Result<T, E>
    where
        T: Clone + Send + Sync + 'static,
    {
        cache.settle(
            key,
            result,
            crate::clock::Mode::Sync,
            Some(&self.shared.counts.stale_served),
        )
    }

    /// [`stale_sync`](Self::stale_sync) on tokio's clock, for async calls.
    ///
    /// # Errors
    ///
    /// The error it was given, when no fresh answer is remembered for `key`.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::time::Duration;
    /// use staunch_runtime::{Policy, Stale};
    /// static CACHE: Stale = Stale::new(10, Duration::from_secs(60));
    /// let p = Policy::builder("docs-stale-async").build().unwrap();
    /// assert_eq!(p.stale_async(&CACHE, 1, Err::<i32, _>("down")), Err("down"));
    /// # }
    /// ```
    pub fn stale_async<T, E>(
        &self,
        cache: &crate::Stale,
        key: u64,
        result: Result<T, E>,
    ) -> Result<T, E>
    where
        T: Clone + Send + Sync + 'static,
    {
        cache.settle(
            key,
            result,
            crate::clock::Mode::Async,
            Some(&self.shared.counts.stale_served),
        )
    }
}
