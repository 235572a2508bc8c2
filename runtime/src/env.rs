//! The environment: `STAUNCH_<NAME>_<KNOB>` overrides, read when a policy is created.
//!
//! A value that does not parse or lies outside the option's valid values is reported once
//! (standard error and [`warnings`]) naming the variable, and the configured value is kept.

use std::collections::BTreeSet;
use std::time::Duration;

use std::sync::LazyLock;

use crate::sync::global::{lock, Mutex};

static REPORTED: LazyLock<Mutex<(BTreeSet<String>, Vec<String>)>> = LazyLock::new(Mutex::default);

/// Every problem with a `STAUNCH_*` variable or a policy's name reported so far, oldest first,
/// each reported once.
///
/// # Examples
///
/// ```
/// std::env::set_var("STAUNCH_DOCS_WARNINGS_RPS", "fast");
/// let _ = staunch_runtime::Policy::builder("docs-warnings").rps(5.0).build();
/// assert!(staunch_runtime::warnings().iter().any(|w| w.contains("STAUNCH_DOCS_WARNINGS_RPS")));
/// ```
#[must_use]
pub fn warnings() -> Vec<String> {
    lock(&REPORTED).1.clone()
}

/// Reports `message` once per `key`, on standard error and in [`warnings`].
pub(crate) fn report(key: &str, message: String) {
    let mut reported = lock(&REPORTED);
    if reported.0.insert(key.to_owned()) {
        eprintln!("staunch: {message}");
        reported.1.push(message);
    }
}

/// The variable-name prefix of a policy: `STAUNCH_` and the name in upper case with every
/// character other than `A-Z` and `0-9` turned into `_`.
///
/// # Examples
///
/// ```
/// assert_eq!(staunch_runtime::env_prefix("open-ai.v1"), "STAUNCH_OPEN_AI_V1_");
/// ```
#[must_use]
pub fn env_prefix(name: &str) -> String {
    let mut s = String::with_capacity(name.len() + 9);
    s.push_str("STAUNCH_");
    s.extend(name.chars().map(|c| {
        let c = c.to_ascii_uppercase();
        if c.is_ascii_uppercase() || c.is_ascii_digit() {
            c
        } else {
            '_'
        }
    }));
    s.push('_');
    s
}

/// Reads knobs of one policy.
pub(crate) struct Knobs {
    prefix: String,
}

impl Knobs {
    pub(crate) fn new(name: &str) -> Self {
        Knobs {
            prefix: env_prefix(name),
        }
    }

    /// The variable of `knob`: `STAUNCH_<NAME>_<KNOB>`.
    pub(crate) fn var(&self, knob: &str) -> String {
        format!("{}{knob}", self.prefix)
    }

    /// The variable's name and value, if it is set; a value that is not UTF-8 is reported
    /// (once) and treated as unset.
    fn raw(&self, knob: &str) -> Option<(String, String)> {
        let var = self.var(knob);
        match std::env::var_os(&var)?.into_string() {
            Ok(value) => Some((var, value)),
            Err(value) => {
                report(
                    &var,
                    format!("ignoring {var}={value:?}: not UTF-8; keeping the configured value"),
                );
                None
            }
        }
    }

    fn get<T>(&self, knob: &str, what: &str, parse: impl Fn(&str) -> Option<T>) -> Option<T> {
        let (var, value) = self.raw(knob)?;
        let parsed = parse(value.trim());
        if parsed.is_none() {
            report(
                &var,
                format!("ignoring {var}={value:?}: expected {what}; keeping the configured value"),
            );
        }
        parsed
    }

    /// Reports a value that parsed but cannot be used.
    pub(crate) fn reject(&self, knob: &str, reason: &str) {
        if let Some((var, value)) = self.raw(knob) {
            report(
                &var,
                format!("ignoring {var}={value:?}: {reason}; keeping the configured value"),
            );
        }
    }

    /// A rate: a positive, finite number.
    pub(crate) fn rate(&self, knob: &str) -> Option<f64> {
        self.get(knob, "a number greater than 0", |v| {
            v.parse::<f64>().ok().filter(|r| r.is_finite() && *r > 0.0)
        })
    }

    /// A fraction in `[0, 1]` (chaos rates).
    pub(crate) fn fraction(&self, knob: &str) -> Option<f64> {
        self.get(knob, "a fraction between 0 and 1", |v| {
            v.parse::<f64>().ok().filter(|r| (0.0..=1.0).contains(r))
        })
    }

    /// A whole number of at least 1.
    pub(crate) fn count<T: TryFrom<u64>>(&self, knob: &str) -> Option<T> {
        self.get(knob, "a whole number of at least 1", |v| {
            v.parse::<u64>()
                .ok()
                .filter(|n| *n >= 1)
                .and_then(|n| T::try_from(n).ok())
        })
    }

    /// A duration written as in the attribute.
    pub(crate) fn duration(&self, knob: &str) -> Option<Duration> {
        self.get(
            knob,
            "a duration such as `30`, `0.5`, `250ms`, `2s`, `1m` or `1h`",
            parse_duration,
        )
    }
}

/// The variable that seeds every policy's chaos.
pub(crate) const CHAOS_SEED: &str = "STAUNCH_CHAOS_SEED";

/// `STAUNCH_CHAOS_SEED`, the seed of every policy's chaos (mixed with its name), if it is set;
/// a value that is not a whole number is reported once and ignored.
pub(crate) fn chaos_seed() -> Option<u64> {
    const VAR: &str = CHAOS_SEED;
    let value = std::env::var_os(VAR)?;
    let seed = value.to_str().and_then(|v| v.trim().parse::<u64>().ok());
    if seed.is_none() {
        report(
            VAR,
            format!("ignoring {VAR}={value:?}: expected a whole number; drawing a random seed"),
        );
    }
    seed
}

/// Parses a duration as the attribute writes it: seconds as an integer (`30`) or a float
/// (`0.25`), or a number with a unit (`250ms`, `2s`, `1m`, `1h`); the grammar of
/// `runtime/src/duration.rs`, which the attribute reads too.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use staunch_runtime::env::parse_duration;
/// assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
/// assert_eq!(parse_duration("0.5"), Some(Duration::from_millis(500)));
/// assert_eq!(parse_duration("1m"), Some(Duration::from_secs(60)));
/// assert_eq!(parse_duration("soon"), None);
/// ```
#[must_use]
pub fn parse_duration(s: &str) -> Option<Duration> {
    crate::duration::parse_nanos(s)
        .ok()
        .map(Duration::from_nanos)
}
