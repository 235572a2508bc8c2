//! A policy's configuration: the settings a builder (or the attribute) was given, checked once,
//! overridden by the environment, and resolved into the [`Config`] a policy reports.

use std::time::Duration;

use crate::env::Knobs;
use crate::{Breaker, Hedge, Retry};

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
    /// The longest a call may take in all (attempts, waits, hold-offs), its fallback aside.
    pub deadline: Option<Duration>,
    /// This policy's own hedging, as [`Policy::config`](crate::Policy::config) reports it;
    /// always `None` in a name's configuration ([`Handle`](crate::Handle)): hedging belongs to
    /// a function, never to a name.
    pub hedge: Option<Hedge>,
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
    pub(crate) timeout: Option<Duration>,
    pub(crate) deadline: Option<Duration>,
    pub(crate) hedge: Option<Hedge>,
}

impl Settings {
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
            timeout: None,
            deadline: None,
            hedge: None,
        }
    }

    /// Checks every setting, then applies the environment's overrides that keep them valid.
    pub(crate) fn checked(mut self) -> Result<Self, ConfigError> {
        self.validate()?;
        self.apply_env();
        Ok(self)
    }

    /// Applies each `STAUNCH_<NAME>_<KNOB>` that is set, one at a time: a value that does not
    /// parse, or would make the configuration invalid (a `BURST` without a rate, say), is
    /// reported once and ignored.
    fn apply_env(&mut self) {
        let knobs = Knobs::new(&self.name);
        let retries = self.retry.is_some();
        let mut apply = |knob: &str, set: &dyn Fn(&Knobs, &mut Settings) -> bool| {
            let mut trial = self.clone();
            if set(&knobs, &mut trial) {
                match trial.validate() {
                    Ok(()) => *self = trial,
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
        if self.deadline == Some(Duration::ZERO) {
            return fail("`deadline` must be greater than 0");
        }
        if let Some(message) = self.hedge.as_ref().and_then(Hedge::invalid) {
            return fail(message);
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
            timeout: self.timeout,
            deadline: self.deadline,
            hedge: None, // the policy's own, not the name's: see `Policy::config`
        }
    }
}

/// `tokens` rounded up to a whole bucket size: at least 1, at most `u32::MAX`.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // clamped just before
fn whole_tokens(tokens: f64) -> u32 {
    tokens.ceil().clamp(1.0, f64::from(u32::MAX)) as u32
}
