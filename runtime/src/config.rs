//! A policy's configuration: the settings a builder (or the attribute) was given, checked once,
//! overridden by the environment, and resolved into the [`Config`] a policy reports.

use std::time::Duration;

use crate::env::{report, Knobs};
use crate::{Breaker, Chaos, Hedge, Retry};

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
    /// Callers that may wait for a bulkhead slot, in arrival order, when every slot is taken
    /// (`None`: none, a call that finds every slot taken is turned away at once).
    pub queue: Option<usize>,
    /// The longest a caller waits in the bulkhead's queue (`None`: as long as it takes, up to
    /// the call's deadline).
    pub queue_wait: Option<Duration>,
    /// Per-attempt time limit of async calls.
    pub timeout: Option<Duration>,
    /// The longest a call may take in all (attempts, waits, hold-offs), its fallback aside.
    pub deadline: Option<Duration>,
    /// Chaos to inject (inert without the `chaos` feature), its seed as resolved if one was
    /// given or `STAUNCH_CHAOS_SEED` is set.
    pub chaos: Option<Chaos>,
    /// This policy's own hedging, as [`Policy::config`](crate::Policy::config) reports it;
    /// always `None` in a name's configuration ([`Handle`](crate::Handle)): hedging belongs to
    /// a function, never to a name.
    pub hedge: Option<Hedge>,
    /// Where the limiter's and breaker's state lives, if in Redis (`redis(…)`; feature
    /// `redis`): shared by every process of the fleet.
    pub redis: Option<crate::redis::Redis>,
    /// Where each value came from (what [`Policy::describe`](crate::Policy::describe) reads);
    /// equal in every configuration, so that comparisons look at the values only.
    pub(crate) origin: OriginRef,
}

/// The [`Origin`](crate::describe::Origin) of a name's first policy, carried in its
/// [`Config`]; never part of a comparison.
#[derive(Clone, Default)]
pub(crate) struct OriginRef(pub(crate) Option<std::sync::Arc<crate::describe::Origin>>);

impl PartialEq for OriginRef {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for OriginRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("..")
    }
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

/// What a [`PolicyBuilder`](crate::PolicyBuilder) was told, before it is checked.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) name: String,
    /// Takes the first free name of `name`, `name#2`, … instead of sharing.
    pub(crate) unique: bool,
    pub(crate) retry: Option<Retry>,
    pub(crate) breaker: Option<Breaker>,
    pub(crate) rps: Option<f64>,
    pub(crate) rpm: Option<f64>,
    pub(crate) tpm: Option<f64>,
    pub(crate) burst: Option<u32>,
    pub(crate) keyed: bool,
    pub(crate) wait: Option<Duration>,
    pub(crate) max_inflight: Option<usize>,
    pub(crate) queue: Option<usize>,
    pub(crate) queue_wait: Option<Duration>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) deadline: Option<Duration>,
    pub(crate) redis: Option<crate::redis::Redis>,
    pub(crate) chaos: Option<Chaos>,
    pub(crate) hedge: Option<Hedge>,
    /// The builder calls are the attribute's expansion ([`PolicyBuilder::from_attribute`](crate::PolicyBuilder::from_attribute)).
    pub(crate) attribute: bool,
    /// The environment's overrides applied, as (knob, variable), in the order applied.
    pub(crate) env: Vec<(&'static str, String)>,
}

impl Settings {
    /// The most callers a bulkhead's queue holds.
    pub(crate) const MAX_QUEUE: usize = 1_000_000;

    pub(crate) fn new(name: &str, unique: bool) -> Self {
        Settings {
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
            queue: None,
            queue_wait: None,
            timeout: None,
            deadline: None,
            redis: None,
            chaos: None,
            hedge: None,
            attribute: false,
            env: Vec::new(),
        }
    }

    /// Checks every setting, then applies the environment's overrides that keep them valid.
    pub(crate) fn checked(mut self) -> Result<Self, ConfigError> {
        self.validate()?;
        self.apply_env();
        self.chaos_seed();
        self.redis_feature();
        Ok(self)
    }

    /// Applies each `STAUNCH_<NAME>_<KNOB>` that is set, one at a time: a value that does not
    /// parse, or would make the configuration invalid (a `BURST` without a rate, say), is
    /// reported once and ignored.
    fn apply_env(&mut self) {
        let knobs = Knobs::new(&self.name);
        let retries = self.retry.is_some();
        let rated = self.breaker.is_some_and(|b| b.rate.is_some());
        let mut apply = |knob: &'static str, set: &dyn Fn(&Knobs, &mut Settings) -> bool| {
            let mut trial = self.clone();
            if set(&knobs, &mut trial) {
                match trial.validate() {
                    Ok(()) => {
                        *self = trial;
                        self.env.push((knob, knobs.var(knob)));
                    }
                    Err(e) => knobs.reject(knob, &e.message),
                }
            }
        };
        apply("RPS", &|k, s| {
            k.rate("RPS")
                .map(|r| (s.rps, s.rpm) = (Some(r), None))
                .is_some()
        });
        apply("RPM", &|k, s| {
            k.rate("RPM")
                .map(|r| (s.rpm, s.rps) = (Some(r), None))
                .is_some()
        });
        apply("TPM", &|k, s| {
            k.rate("TPM").map(|r| s.tpm = Some(r)).is_some()
        });
        apply("BURST", &|k, s| {
            k.count("BURST").map(|n| s.burst = Some(n)).is_some()
        });
        apply("MAX_INFLIGHT", &|k, s| {
            k.count("MAX_INFLIGHT")
                .map(|n| s.max_inflight = Some(n))
                .is_some()
        });
        apply("QUEUE", &|k, s| {
            k.count("QUEUE").map(|n| s.queue = Some(n)).is_some()
        });
        apply("QUEUE_WAIT", &|k, s| {
            k.duration("QUEUE_WAIT")
                .map(|d| s.queue_wait = Some(d))
                .is_some()
        });
        apply("BREAKER_THRESHOLD", &|k, s| {
            k.count("BREAKER_THRESHOLD")
                .map(|n| s.breaker = Some(s.breaker.unwrap_or_default().threshold(n)))
                .is_some()
        });
        apply("BREAKER_COOLDOWN", &|k, s| {
            k.duration("BREAKER_COOLDOWN")
                .map(|d| s.breaker = Some(s.breaker.unwrap_or_default().cooldown(d)))
                .is_some()
        });
        // the failure-rate breaker's knobs: only for one (a breaker of failures in a row is not
        // turned into one from the environment)
        if rated {
            apply("BREAKER_FAILURE_RATE", &|k, s| {
                k.rate("BREAKER_FAILURE_RATE")
                    .map(|r| s.breaker = s.breaker.map(|b| b.failure_rate(r)))
                    .is_some()
            });
            apply("BREAKER_SLOW_CALL", &|k, s| {
                k.duration("BREAKER_SLOW_CALL")
                    .map(|d| s.breaker = s.breaker.map(|b| b.slow_call(d)))
                    .is_some()
            });
        } else {
            for knob in ["BREAKER_FAILURE_RATE", "BREAKER_SLOW_CALL"] {
                knobs.reject(
                    knob,
                    "the policy has no failure-rate breaker (add `breaker(failure_rate = …)`)",
                );
            }
        }
        // a policy without retry may wrap a body that cannot run twice: nothing to override
        if retries {
            apply("RETRY_MAX", &|k, s| {
                k.count("RETRY_MAX")
                    .map(|n| s.retry = s.retry.map(|r| r.max(n)))
                    .is_some()
            });
        } else {
            knobs.reject(
                "RETRY_MAX",
                "the policy does not retry (add `retry` to retry it)",
            );
        }
        apply("TIMEOUT", &|k, s| {
            k.duration("TIMEOUT").map(|d| s.timeout = Some(d)).is_some()
        });
        apply("DEADLINE", &|k, s| {
            k.duration("DEADLINE")
                .map(|d| s.deadline = Some(d))
                .is_some()
        });
        let chaos = |s: &Settings| s.chaos.unwrap_or_default();
        apply("CHAOS_ERROR", &|k, s| {
            k.fraction("CHAOS_ERROR")
                .map(|r| s.chaos = Some(chaos(s).error(r)))
                .is_some()
        });
        apply("CHAOS_LATENCY", &|k, s| {
            k.duration("CHAOS_LATENCY")
                .map(|d| s.chaos = Some(chaos(s).latency(d)))
                .is_some()
        });
        apply("CHAOS_LATENCY_RATE", &|k, s| {
            k.fraction("CHAOS_LATENCY_RATE")
                .map(|r| s.chaos = Some(chaos(s).latency_rate(r)))
                .is_some()
        });
        apply("CHAOS_REJECT", &|k, s| {
            k.fraction("CHAOS_REJECT")
                .map(|r| s.chaos = Some(chaos(s).reject(r)))
                .is_some()
        });
    }

    /// Seeds chaos from `STAUNCH_CHAOS_SEED` (mixed with the name), and reports, once, chaos
    /// configured in a build without the `chaos` feature.
    fn chaos_seed(&mut self) {
        let Some(chaos) = &mut self.chaos else { return };
        if let Some(seed) = crate::env::chaos_seed() {
            chaos.seed = Some(crate::chaos::seed_for(seed, &self.name));
            self.env
                .push(("CHAOS_SEED", crate::env::CHAOS_SEED.to_owned()));
        }
        if !Chaos::ENABLED && chaos.is_active() {
            report(
                &format!("chaos off {}", self.name),
                format!(
                    "policy `{}` configures chaos, but staunch was built without its `chaos` \
                     feature: nothing is injected (enable the `chaos` feature of `staunch`)",
                    self.name
                ),
            );
        }
    }

    /// Reports, once, `redis` configured in a build without the `redis` feature.
    fn redis_feature(&self) {
        if self.redis.is_some() && !crate::redis::Redis::ENABLED {
            report(
                &format!("redis off {}", self.name),
                format!(
                    "policy `{}` shares its state through Redis, but staunch was built without \
                     its `redis` feature: the state stays in memory (enable the `redis` feature \
                     of `staunch`)",
                    self.name
                ),
            );
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let fail = |message: &str| Err(ConfigError::new(&self.name, message));
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
            if !(1..=Breaker::MAX_HALF_OPEN).contains(&b.half_open) {
                return fail("`breaker(half_open)` must be between 1 and 65535");
            }
            if b.max_half_open == Some(Duration::ZERO) {
                return fail("`breaker(max_half_open)` must be greater than 0");
            }
            if let Err(message) = b.check_rate() {
                return fail(&message);
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
        if let Some(b) = self.retry.and_then(|r| r.budget) {
            if !(b > 0.0 && b.is_finite()) {
                return fail("`retry(budget)` must be greater than 0");
            }
        }
        if self.burst == Some(0) {
            return fail("`burst` must be at least 1");
        }
        let limited = self.rps.is_some() || self.rpm.is_some();
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
        if let Some(q) = self.queue {
            if self.max_inflight.is_none() {
                return fail("`queue` needs a bulkhead: set `max_inflight`");
            }
            if !(1..=Self::MAX_QUEUE).contains(&q) {
                return fail("`queue` must be between 1 and 1000000");
            }
        }
        if let Some(d) = self.queue_wait {
            if self.queue.is_none() {
                return fail("`queue_wait` needs a queue: set `queue`");
            }
            if d.is_zero() {
                return fail("`queue_wait` must be greater than 0");
            }
        }
        if self.deadline == Some(Duration::ZERO) {
            return fail("`deadline` must be greater than 0");
        }
        if let Some(Err(message)) = self.chaos.as_ref().map(Chaos::check) {
            return fail(message);
        }
        if let Some(message) = self.hedge.as_ref().and_then(Hedge::invalid) {
            return fail(message);
        }
        if let Some(r) = &self.redis {
            if self.breaker.is_none() && !limited && self.tpm.is_none() {
                return fail(
                    "`redis` has nothing to share: add a rate limit (`rps`, `rpm`, `tpm`) or a \
                     `breaker`",
                );
            }
            if let Some(message) = r.invalid(self.breaker.as_ref()) {
                return fail(&message);
            }
        }
        Ok(())
    }

    /// The configuration these settings resolve to (defaults filled in).
    pub(crate) fn resolve(&self) -> Config {
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
                burst: self
                    .burst
                    .unwrap_or_else(|| whole_tokens(rate / per.as_secs_f64())),
                keyed: self.keyed,
                wait: self.wait,
            }),
            tokens: self.tpm.map(|rate| Rate {
                rate,
                per: Duration::from_secs(60),
                burst: whole_tokens(rate),
                keyed: false,
                wait: self.wait,
            }),
            max_inflight: self.max_inflight,
            queue: self.queue,
            queue_wait: self.queue_wait,
            timeout: self.timeout,
            deadline: self.deadline,
            chaos: self.chaos,
            redis: self.redis.clone(),
            hedge: None, // the policy's own, not the name's: see `Policy::config`
            origin: OriginRef::default(),
        }
    }
}

/// `tokens` rounded up to a whole bucket size: at least 1, at most `u32::MAX`.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // clamped just before
pub(crate) fn whole_tokens(tokens: f64) -> u32 {
    tokens.ceil().clamp(1.0, f64::from(u32::MAX)) as u32
}
