//! A policy described: its composed pipeline in order, each part with every value as resolved
//! and where it came from (the attribute, the builder, the environment, or the default).
//!
//! Read only by [`Policy::describe`](crate::Policy::describe) and
//! [`Handle::describe`](crate::Handle::describe), never on a call: what it needs is kept, at
//! build, beside the configuration.

use std::fmt;
use std::time::Duration;

use crate::config::{whole_tokens, Settings};
use crate::{Breaker, Chaos, Retry, SlidingWindow};

/// Where a described value came from.
///
/// # Examples
///
/// ```
/// use staunch_runtime::{Policy, Source};
/// let d = Policy::builder("docs-source").max_inflight(4).build().unwrap().describe();
/// assert_eq!(d.setting("bulkhead", "max_inflight").unwrap().source, Source::Builder);
/// assert_eq!(Source::Builder.to_string(), "builder");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Source {
    /// Written in the `#[resilient(...)]` attribute.
    Attribute,
    /// Given to the [`PolicyBuilder`](crate::PolicyBuilder).
    Builder,
    /// Set by an environment variable when the policy was created.
    Environment {
        /// The variable, e.g. `STAUNCH_OPENAI_RPS`.
        variable: String,
    },
    /// Not set anywhere: the default.
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Attribute => f.write_str("attribute"),
            Source::Builder => f.write_str("builder"),
            Source::Environment { variable } => write!(f, "environment {variable}"),
            Source::Default => f.write_str("default"),
        }
    }
}

/// One value of a described part: its name, its value as resolved, and its source.
///
/// # Examples
///
/// ```
/// use staunch_runtime::{Policy, Source};
/// std::env::set_var("STAUNCH_DOCS_SETTING_MAX_INFLIGHT", "8");
/// let d = Policy::builder("docs-setting").max_inflight(4).build().unwrap().describe();
/// let s = d.setting("bulkhead", "max_inflight").unwrap();
/// assert_eq!(s.value, "8");
/// assert_eq!(s.was.as_deref(), Some("4 in the builder"));
/// assert_eq!(
///     s.to_string(),
///     "max_inflight 8 (environment STAUNCH_DOCS_SETTING_MAX_INFLIGHT, was 4 in the builder)"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Setting {
    /// The option's name, as the attribute and the builder spell it (`threshold`, `rps`, …).
    pub name: &'static str,
    /// Its value as resolved, written as in the attribute (`30s`, `10/s`, `0.5`).
    pub value: String,
    /// Where the value came from.
    pub source: Source,
    /// What an environment override replaced: `5 in the attribute`, `30s by default`, or
    /// `unset`; `None` when the environment did not set it.
    pub was: Option<String>,
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ({}", self.name, self.value, self.source)?;
        if let Some(was) = &self.was {
            write!(f, ", was {was}")?;
        }
        f.write_str(")")
    }
}

/// One part of the pipeline, with its settings.
///
/// # Examples
///
/// ```
/// let d = staunch_runtime::Policy::builder("docs-stage").rps(5.0).build().unwrap().describe();
/// let stage = d.stages.iter().find(|s| s.part == "rate limit").unwrap();
/// assert!(stage.shared);
/// assert_eq!(stage.settings[0].value, "5/s");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stage {
    /// The part: `deadline`, `retry`, `hedge`, `breaker`, `hold-off`, `rate limit`,
    /// `token limit`, `bulkhead`, `chaos` or `call`.
    pub part: &'static str,
    /// What kind of part, when there are several (`failures in a row`, `failure rate`), or a
    /// remark on it.
    pub detail: Option<&'static str>,
    /// Whether it belongs to the name (shared by its policies, configured by the first) rather
    /// than to this policy.
    pub shared: bool,
    /// Its values in the order the attribute documents them.
    pub settings: Vec<Setting>,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.part)?;
        let mut sep = ": ";
        if let Some(detail) = self.detail {
            write!(f, "{sep}{detail}")?;
            sep = ", ";
        }
        for s in &self.settings {
            write!(f, "{sep}{s}")?;
            sep = ", ";
        }
        Ok(())
    }
}

/// A policy's composed pipeline, outermost part first, with every value and its [`Source`].
///
/// The order is the order a call goes through: the deadline over everything, the retry loop
/// (with its budget), hedging, then for each attempt the breaker, the hold-off, the rate limit,
/// the token limit, the bulkhead (with its queue), chaos, and the call itself under its
/// timeout. Only the parts configured are listed, the call always. A fallback, which runs
/// outside all of it, belongs to the function and is not described. `Display` renders it one
/// part a line.
///
/// A value the builder or the attribute set to what is also its default reads as set, except
/// for a breaker's `cooldown`, `half_open` and `max_half_open`, hedging's `min_after` and `max`, and
/// chaos's rates and latency, whose settings keep no record of which were set: there a value
/// equal to its default reads as the default.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use staunch_runtime::{Breaker, Policy};
/// let d = Policy::builder("docs-describe")
///     .breaker(Breaker::new().threshold(3))
///     .rps(10.0)
///     .timeout(Duration::from_secs(2))
///     .build()
///     .unwrap()
///     .describe();
/// assert_eq!(
///     d.to_string(),
///     "policy `docs-describe` (shared by name)\n\
///      \x20 1. breaker: failures in a row, threshold 3 (builder), cooldown 30s (default), half_open 1 (default)\n\
///      \x20 2. hold-off: a retry-after hint holds every caller off, up to retry's max_delay\n\
///      \x20 3. rate limit: rps 10/s (builder), burst 10 (default), wait unbounded (default)\n\
///      \x20 4. call: timeout 2s (builder)\n"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Description {
    /// The policy's name, as registered.
    pub name: String,
    /// Whether the name is shared with other policies of the same name (`false` for a
    /// function without `name = …`, which shares nothing).
    pub shared_by_name: bool,
    /// Whether the shared parts were configured by another policy (the first of the name),
    /// not by this one. A later declaration that differed from the first is reported in
    /// [`warnings`](crate::warnings).
    pub from_first: bool,
    /// The parts, outermost first.
    pub stages: Vec<Stage>,
}

impl Description {
    /// The setting `name` of the part `part`, if the part is configured and has it.
    ///
    /// # Examples
    ///
    /// ```
    /// let d = staunch_runtime::Policy::builder("docs-d-setting").rpm(60.0).build().unwrap().describe();
    /// assert_eq!(d.setting("rate limit", "burst").unwrap().value, "1");
    /// assert!(d.setting("bulkhead", "max_inflight").is_none());
    /// ```
    #[must_use]
    pub fn setting(&self, part: &str, name: &str) -> Option<&Setting> {
        self.stages
            .iter()
            .filter(|s| s.part == part)
            .flat_map(|s| &s.settings)
            .find(|s| s.name == name)
    }
}

impl fmt::Display for Description {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "policy `{}` (", self.name)?;
        match (self.shared_by_name, self.from_first) {
            (false, _) => f.write_str("unnamed: shares nothing")?,
            (true, false) => f.write_str("shared by name")?,
            (true, true) => f.write_str(
                "shared by name; its shared parts are the first policy's of the name, a later \
                 declaration that differed is reported in `warnings()`",
            )?,
        }
        f.write_str(")\n")?;
        for (i, stage) in self.stages.iter().enumerate() {
            writeln!(f, "  {}. {stage}", i + 1)?;
        }
        Ok(())
    }
}

/// Where a policy's values came from: what it was told, and what the environment changed.
#[derive(Debug)]
pub(crate) struct Origin {
    /// The settings before the environment's overrides.
    pub(crate) declared: Settings,
    /// The settings as resolved (their `env` lists the overrides applied).
    pub(crate) resolved: Settings,
}

impl Origin {
    fn set_by(&self) -> Source {
        if self.resolved.attribute {
            Source::Attribute
        } else {
            Source::Builder
        }
    }

    /// The setting `name`, read by `get` (its value, and whether it was set), overridden by
    /// any of `knobs`.
    fn setting(
        &self,
        name: &'static str,
        knobs: &[&str],
        get: impl Fn(&Settings) -> Option<(String, bool)>,
    ) -> Option<Setting> {
        let (value, set) = get(&self.resolved)?;
        let var = self
            .resolved
            .env
            .iter()
            .rev()
            .find(|(knob, _)| knobs.contains(knob));
        let (source, was) = match var {
            Some((_, variable)) => {
                let was = match get(&self.declared) {
                    Some((v, true)) => format!("{v} in the {}", self.set_by()),
                    Some((v, false)) => format!("{v} by default"),
                    None => "unset".to_owned(),
                };
                let variable = variable.clone();
                (Source::Environment { variable }, Some(was))
            }
            None if set => (self.set_by(), None),
            None => (Source::Default, None),
        };
        Some(Setting {
            name,
            value,
            source,
            was,
        })
    }
}

/// The description of a policy whose own parts come from `own` and whose name's from `first`.
pub(crate) fn describe(name: &str, own: &Origin, first: &Origin, from_first: bool) -> Description {
    let mut stages = Vec::new();
    let mut stage = |part, detail, shared, settings: Vec<Option<Setting>>| {
        stages.push(Stage {
            part,
            detail,
            shared,
            settings: settings.into_iter().flatten().collect(),
        });
    };
    let (o, s) = (own, &own.resolved);
    let n = &first.resolved;
    if s.deadline.is_some() {
        stage(
            "deadline",
            None,
            false,
            vec![o.setting("deadline", &["DEADLINE"], |s| {
                s.deadline.map(|d| (dur(d), true))
            })],
        );
    }
    if s.retry.is_some() {
        let retry =
            |get: fn(&Retry) -> (String, bool)| move |s: &Settings| s.retry.map(|r| get(&r));
        stage(
            "retry",
            None,
            false,
            vec![
                o.setting(
                    "max",
                    &["RETRY_MAX"],
                    retry(|r| (r.max.to_string(), r.is_set(Retry::SET_MAX))),
                ),
                o.setting(
                    "backoff",
                    &[],
                    retry(|r| (r.backoff.to_string(), r.is_set(Retry::SET_BACKOFF))),
                ),
                o.setting(
                    "delay",
                    &[],
                    retry(|r| (dur(r.delay), r.is_set(Retry::SET_DELAY))),
                ),
                o.setting(
                    "max_delay",
                    &[],
                    retry(|r| (dur(r.max_delay), r.is_set(Retry::SET_MAX_DELAY))),
                ),
                o.setting(
                    "jitter",
                    &[],
                    retry(|r| (r.jitter.to_string(), r.is_set(Retry::SET_JITTER))),
                ),
                // the budget is the name's: its first policy's
                first.setting("budget", &[], |s| {
                    s.retry
                        .and_then(|r| r.budget)
                        .map(|b| (b.to_string(), true))
                }),
            ],
        );
    }
    if let Some(h) = s.hedge {
        let learns = h.learns();
        stage(
            "hedge",
            Some("hedged calls"),
            false,
            vec![
                o.setting("after", &[], |s| {
                    s.hedge.and_then(|h| h.after).map(|d| (dur(d), true))
                }),
                o.setting("percentile", &[], |s| {
                    let h = s.hedge?;
                    h.learns().map(|p| (p.to_string(), h.percentile.is_some()))
                })
                .filter(|_| learns.is_some()),
                o.setting("min_after", &[], |s| {
                    let h = s.hedge?;
                    Some((dur(h.min_after), h.min_after_set()))
                })
                .filter(|_| learns.is_some()),
                o.setting("max", &[], |s| {
                    let h = s.hedge?;
                    Some((h.max.to_string(), h.max_set()))
                }),
            ],
        );
    }
    if let Some(b) = n.breaker {
        stage(
            "breaker",
            Some(match (b.rate.is_some(), b.keyed) {
                (true, false) => "failure rate",
                (false, false) => "failures in a row",
                (true, true) => "failure rate, one breaker per key",
                (false, true) => "failures in a row, one breaker per key",
            }),
            true,
            breaker(first, &b),
        );
    }
    let limited = n.rps.is_some() || n.rpm.is_some();
    if limited || n.tpm.is_some() {
        stage(
            "hold-off",
            Some("a retry-after hint holds every caller off, up to retry's max_delay"),
            true,
            Vec::new(),
        );
    }
    let wait = |s: &Settings| {
        Some(
            s.wait
                .map_or(("unbounded".to_owned(), false), |d| (dur(d), true)),
        )
    };
    if limited {
        stage(
            "rate limit",
            None,
            true,
            vec![
                first.setting(
                    if n.rps.is_some() { "rps" } else { "rpm" },
                    &["RPS", "RPM"],
                    |s| match (s.rps, s.rpm) {
                        (Some(r), _) => Some((format!("{r}/s"), true)),
                        (None, Some(r)) => Some((format!("{r}/min"), true)),
                        (None, None) => None,
                    },
                ),
                first.setting("burst", &["BURST"], |s| {
                    let per_second = s.rps.or(s.rpm.map(|r| r / 60.0))?;
                    Some(match s.burst {
                        Some(b) => (b.to_string(), true),
                        None => (whole_tokens(per_second).to_string(), false),
                    })
                }),
                first.setting("key", &[], |s| {
                    s.keyed.then(|| ("per key".to_owned(), true))
                }),
                first.setting("wait", &[], wait),
            ],
        );
    }
    if n.tpm.is_some() {
        stage(
            "token limit",
            None,
            true,
            vec![
                first.setting("tpm", &["TPM"], |s| {
                    s.tpm.map(|r| (format!("{r}/min"), true))
                }),
                first.setting("burst", &[], |s| {
                    s.tpm.map(|r| (whole_tokens(r).to_string(), false))
                }),
                first.setting("wait", &[], wait),
            ],
        );
    }
    if n.max_inflight.is_some() {
        stage(
            "bulkhead",
            None,
            true,
            vec![
                first.setting("max_inflight", &["MAX_INFLIGHT"], |s| {
                    s.max_inflight.map(|m| (m.to_string(), true))
                }),
                first.setting("queue", &["QUEUE"], |s| {
                    Some(
                        s.queue
                            .map_or(("none".to_owned(), false), |q| (q.to_string(), true)),
                    )
                }),
                first
                    .setting("queue_wait", &["QUEUE_WAIT"], |s| {
                        Some(
                            s.queue_wait
                                .map_or(("until the deadline".to_owned(), false), |d| {
                                    (dur(d), true)
                                }),
                        )
                    })
                    .filter(|_| n.queue.is_some()),
            ],
        );
    }
    if n.chaos.is_some() {
        let chaos =
            move |get: fn(&Chaos) -> (String, bool)| move |s: &Settings| s.chaos.map(|c| get(&c));
        stage(
            "chaos",
            (!Chaos::ENABLED).then_some("inert: staunch was built without its `chaos` feature"),
            true,
            vec![
                first.setting(
                    "error",
                    &["CHAOS_ERROR"],
                    chaos(|c| (c.error.to_string(), c.error != 0.0)),
                ),
                first.setting(
                    "latency",
                    &["CHAOS_LATENCY"],
                    chaos(|c| (dur(c.latency), !c.latency.is_zero())),
                ),
                first.setting(
                    "latency_rate",
                    &["CHAOS_LATENCY_RATE"],
                    chaos(|c| {
                        (
                            c.latency_rate.to_string(),
                            c.latency_rate.to_bits() != 1.0f64.to_bits(),
                        )
                    }),
                ),
                first.setting(
                    "reject",
                    &["CHAOS_REJECT"],
                    chaos(|c| (c.reject.to_string(), c.reject != 0.0)),
                ),
                first.setting("seed", &["CHAOS_SEED"], |s| {
                    let c = s.chaos?;
                    Some(c.seed.map_or(("random".to_owned(), false), |seed| {
                        (seed.to_string(), true)
                    }))
                }),
            ],
        );
    }
    stage(
        "call",
        None,
        false,
        vec![o.setting("timeout", &["TIMEOUT"], |s| {
            Some(
                s.timeout
                    .map_or(("none".to_owned(), false), |d| (dur(d), true)),
            )
        })],
    );
    Description {
        name: name.to_owned(),
        shared_by_name: !s.unique,
        from_first,
        stages,
    }
}

/// The breaker's settings, as the attribute documents them.
fn breaker(first: &Origin, b: &Breaker) -> Vec<Option<Setting>> {
    type Get = fn(&Breaker) -> Option<(String, bool)>;
    let of = |get: Get| move |s: &Settings| s.breaker.as_ref().and_then(get);
    let mut v = Vec::new();
    if b.rate.is_some() {
        v.push(first.setting(
            "failure_rate",
            &["BREAKER_FAILURE_RATE"],
            of(|b| {
                let r = b.rate?;
                Some((
                    b.failure_rate_threshold()?.to_string(),
                    r.failure_rate.is_some(),
                ))
            }),
        ));
        v.push(first.setting(
            match b.sliding_window() {
                Some(SlidingWindow::Time(_)) => "window_time",
                _ => "window_calls",
            },
            &[],
            of(|b| {
                let r = b.rate?;
                Some(match b.sliding_window()? {
                    SlidingWindow::Time(d) => (dur(d), true),
                    SlidingWindow::Calls(n) => (n.to_string(), r.window_calls.is_some()),
                })
            }),
        ));
        v.push(first.setting(
            "min_calls",
            &[],
            of(|b| Some((b.minimum_calls()?.to_string(), b.rate?.min_calls.is_some()))),
        ));
        if b.slow_call_bound().is_some() {
            v.push(first.setting(
                "slow_call",
                &["BREAKER_SLOW_CALL"],
                of(|b| b.slow_call_bound().map(|d| (dur(d), true))),
            ));
            v.push(first.setting(
                "slow_rate",
                &[],
                of(|b| {
                    Some((
                        b.slow_call_rate_threshold()?.to_string(),
                        b.rate?.slow_rate.is_some(),
                    ))
                }),
            ));
        }
    } else {
        v.push(first.setting(
            "threshold",
            &["BREAKER_THRESHOLD"],
            of(|b| Some((b.threshold.to_string(), b.threshold_set))),
        ));
    }
    v.push(first.setting(
        "cooldown",
        &["BREAKER_COOLDOWN"],
        of(|b| Some((dur(b.cooldown), b.cooldown_set))),
    ));
    if b.max_cooldown.is_some() {
        v.push(first.setting(
            "max_cooldown",
            &[],
            of(|b| b.max_cooldown.map(|d| (dur(d), true))),
        ));
        v.push(first.setting(
            "cooldown_multiplier",
            &[],
            of(|b| {
                let (_, m) = b.open_duration_cap()?;
                Some((m.to_string(), b.cooldown_multiplier.is_some()))
            }),
        ));
    }
    v.push(first.setting(
        "half_open",
        &[],
        of(|b| Some((b.half_open.to_string(), b.half_open_set))),
    ));
    if b.max_half_open.is_some() {
        v.push(first.setting(
            "max_half_open",
            &[],
            of(|b| b.max_half_open.map(|d| (dur(d), true))),
        ));
    }
    if b.keyed {
        v.push(first.setting(
            "max_keys",
            &[],
            of(|b| Some((b.key_limit()?.to_string(), b.max_keys.is_some()))),
        ));
    }
    v
}

/// A duration as the attribute writes one: `30s`, `250ms`, `1.5s`.
fn dur(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else if d.subsec_nanos() % 1_000_000 == 0 {
        format!("{}ms", d.as_millis())
    } else {
        format!("{d:?}")
    }
}
