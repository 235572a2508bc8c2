//! Every option of the attribute, each named once in the table of its group, and every check
//! across options.
//!
//! A table row is an option's name, how it is written (the example of its messages) and what it
//! does with what was written. The tables drive the lookup, the "did you mean" lists, the
//! messages and the dispatch; [`validate`] turns what the user wrote ([`Opt`]s) into a
//! [`Config`] whose every value is within its bounds, or into every mistake found, each spanned
//! on the offending tokens.

use std::time::Duration;

use proc_macro2::Span;
use syn::{Expr, Ident, LitStr};

use crate::args::{Opt, Value};
use crate::errors::{unknown, Errors};
use crate::shape::Shape;
use crate::values::Given;

/// The settings of one attribute, checked: only what was written (the runtime holds the
/// defaults).
#[derive(Default)]
pub struct Config {
    pub name: Option<LitStr>,
    pub retry: Option<RetryConfig>,
    pub breaker: Option<BreakerConfig>,
    pub rate: Option<Rate>,
    pub burst: Option<u32>,
    pub key: Option<Expr>,
    /// Nanoseconds.
    pub wait: Option<u64>,
    pub max_inflight: Option<u32>,
    /// Callers that may wait for a bulkhead slot: 1 to 1,000,000.
    pub queue: Option<u32>,
    /// Nanoseconds, greater than 0.
    pub queue_wait: Option<u64>,
    /// Nanoseconds.
    pub timeout: Option<u64>,
    /// Nanoseconds, greater than 0.
    pub deadline: Option<u64>,
    pub fallback: Option<syn::Path>,
    /// The fallback also receives why it was called (`fallback_why = path`).
    pub fallback_why: bool,
    /// Tokens a minute.
    pub tpm: Option<f64>,
    pub cost: Option<Expr>,
    pub usage: Option<syn::Path>,
    pub stale: Option<StaleConfig>,
    pub chaos: Option<ChaosConfig>,
    pub hedge: Option<HedgeConfig>,
    pub redis: Option<RedisConfig>,
}

/// `rps = R` or `rpm = R`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rate {
    PerSecond(f64),
    PerMinute(f64),
}

/// `retry(...)`, checked.
pub struct RetryConfig {
    /// Where `retry` was written.
    pub span: Span,
    pub max: Option<u32>,
    pub backoff: Option<f64>,
    /// Nanoseconds.
    pub delay: Option<u64>,
    /// Nanoseconds.
    pub max_delay: Option<u64>,
    pub jitter: Option<f64>,
    pub on: Option<syn::Path>,
    pub budget: Option<f64>,
}

/// `breaker(...)`, checked.
#[derive(Default)]
pub struct BreakerConfig {
    pub threshold: Option<u32>,
    /// Nanoseconds.
    pub cooldown: Option<u64>,
    pub half_open: Option<u32>,
    /// Nanoseconds, greater than 0.
    pub max_half_open: Option<u64>,
    /// Which errors count against the breaker.
    pub on: Option<syn::Path>,
    /// A fraction in (0, 1].
    pub failure_rate: Option<f64>,
    pub window_calls: Option<u32>,
    /// Nanoseconds, at least 10 ms.
    pub window_time: Option<u64>,
    pub min_calls: Option<u32>,
    /// Nanoseconds, greater than 0.
    pub slow_call: Option<u64>,
    /// A fraction in (0, 1].
    pub slow_rate: Option<f64>,
    /// Nanoseconds.
    pub max_cooldown: Option<u64>,
    /// At least 1.0.
    pub cooldown_multiplier: Option<f64>,
    /// One breaker per value of this expression (`key = tenant`).
    pub key: Option<Expr>,
    /// 1 to 1,000,000; needs `key`.
    pub max_keys: Option<u32>,
    /// The options written, with their names' and values' spans, for the checks across them.
    written: Vec<(&'static str, Span, Span)>,
}

/// The options that make a failure-rate breaker.
const RATE_OPTIONS: [&str; 6] = [
    "failure_rate",
    "window_calls",
    "window_time",
    "min_calls",
    "slow_call",
    "slow_rate",
];

impl BreakerConfig {
    /// Notes that `v` was written (after its row checked it).
    fn wrote(&mut self, name: &'static str, v: &Given) {
        self.written
            .push((name, v.ident.span(), syn::spanned::Spanned::span(v.expr)));
    }

    fn at(&self, name: &str) -> Option<(Span, Span)> {
        self.written
            .iter()
            .find(|w| w.0 == name)
            .map(|&(_, n, v)| (n, v))
    }

    /// The checks across the options of `breaker(…)`.
    fn checked(self, errors: &mut Errors) -> Self {
        let rate = self.written.iter().find(|w| RATE_OPTIONS.contains(&w.0));
        if let (Some(&(option, span, _)), Some(_)) = (rate, self.at("threshold")) {
            errors.at(
                span,
                format!("`{option}` makes a failure-rate breaker, which conflicts with `threshold` (failures in a row): set only one of them"),
            );
        }
        if let (Some(_), Some((span, _))) = (self.at("window_calls"), self.at("window_time")) {
            let later = if self.written.iter().position(|w| w.0 == "window_calls")
                > self.written.iter().position(|w| w.0 == "window_time")
            {
                (
                    "window_calls",
                    "window_time",
                    self.at("window_calls").map_or(span, |a| a.0),
                )
            } else {
                ("window_time", "window_calls", span)
            };
            errors.at(
                later.2,
                format!(
                    "`{}` conflicts with `{}`: set only one window, by calls or by time",
                    later.0, later.1
                ),
            );
        }
        if let (Some(m), Some(n), Some((_, span))) =
            (self.min_calls, self.window_calls, self.at("min_calls"))
        {
            if m > n {
                errors.at(
                    span,
                    format!("`min_calls` must be at most `window_calls` ({n}): the window never holds more"),
                );
            }
        }
        if let (Some((span, _)), None) = (self.at("max_keys"), self.at("key")) {
            errors.at(
                span,
                "`max_keys` needs a keyed breaker: add e.g. `key = tenant`",
            );
        }
        if let (Some((span, _)), None) = (self.at("cooldown_multiplier"), self.at("max_cooldown")) {
            errors.at(
                span,
                "`cooldown_multiplier` needs `max_cooldown`: add e.g. `max_cooldown = \"10m\"`",
            );
        }
        if let (Some(max), Some((_, span))) = (self.max_cooldown, self.at("max_cooldown")) {
            let cooldown = self.cooldown.unwrap_or(30_000_000_000);
            if max < cooldown {
                errors.at(
                    span,
                    format!(
                        "`max_cooldown` must be at least `cooldown` ({}s{})",
                        Duration::from_nanos(cooldown).as_secs_f64(),
                        if self.cooldown.is_some() {
                            ""
                        } else {
                            " by default"
                        }
                    ),
                );
            }
        }
        self
    }
}

/// `hedge(...)`, checked.
pub struct HedgeConfig {
    /// Where `hedge` was written.
    pub span: Span,
    /// Nanoseconds, greater than 0.
    pub after: Option<u64>,
    /// In [0.5, 0.99].
    pub percentile: Option<f64>,
    /// Nanoseconds.
    pub min_after: Option<u64>,
    /// 1 to 3.
    pub max: Option<u32>,
}

/// `redis(...)`, checked.
pub struct RedisConfig {
    /// Where `redis` was written.
    pub span: Span,
    /// `fail = "closed"` (`Some(true)`) or `"open"`.
    pub fail_closed: Option<bool>,
    /// Nanoseconds, greater than 0, at most 60 s.
    pub timeout: Option<u64>,
    /// Not empty.
    pub prefix: Option<LitStr>,
}

/// `stale(...)`, checked.
pub struct StaleConfig {
    /// Where `stale` was written.
    pub span: Span,
    pub capacity: Option<u32>,
    /// Nanoseconds.
    pub max_age: Option<u64>,
}

/// `chaos(...)`, checked: at least one key, `latency_rate` with `latency`, `error + reject`
/// at most 1.
#[derive(Default)]
pub struct ChaosConfig {
    pub error: Option<f64>,
    /// Nanoseconds.
    pub latency: Option<u64>,
    pub latency_rate: Option<f64>,
    pub reject: Option<f64>,
    /// Where `latency_rate` was written (it needs `latency`).
    latency_rate_at: Option<Span>,
    /// Where `reject` was written (with `error`, at most 1).
    reject_at: Option<Span>,
}

/// One option of a group: its name, how it is written (the example of its messages, such as
/// "`max` needs a value: write `max = 3`") and what it does.
pub struct Row<C> {
    pub name: &'static str,
    pub example: &'static str,
    pub does: Does<C>,
}

/// What an option does with what was written.
pub enum Does<C> {
    /// `name = value`: checks the value and stores it in `C`.
    Value(fn(&mut C, &Given, &mut Errors)),
    /// `name` or `name(options)`: a group of options with a table of its own. Called with the
    /// option as written and the row's example; the names of the group's options, for the
    /// messages about an option written outside it.
    Group(
        fn(&mut C, &Opt, &str, &mut Errors),
        fn() -> Vec<&'static str>,
    ),
}

/// A row of an option written `name = value`.
const fn value<C>(
    name: &'static str,
    example: &'static str,
    does: fn(&mut C, &Given, &mut Errors),
) -> Row<C> {
    Row {
        name,
        example,
        does: Does::Value(does),
    }
}

/// A row of a group, written `name` or `name(options)`.
const fn grouped<C>(
    name: &'static str,
    example: &'static str,
    options: fn() -> Vec<&'static str>,
    does: fn(&mut C, &Opt, &str, &mut Errors),
) -> Row<C> {
    Row {
        name,
        example,
        does: Does::Group(does, options),
    }
}

/// The top-level options.
static TOP: &[Row<Top>] = &[
    value("name", "name = \"openai\"", Top::name),
    grouped(
        "retry",
        "retry(max = 3)",
        || names(RETRY),
        |t, o, ex, e| {
            t.cfg.retry = group(o, ex, RETRY, RetryConfig::at(o.name.span()), e);
        },
    ),
    grouped(
        "breaker",
        "breaker(threshold = 5)",
        || names(BREAKER),
        |t, o, ex, e| {
            t.cfg.breaker =
                group(o, ex, BREAKER, BreakerConfig::default(), e).map(|c| c.checked(e));
        },
    ),
    value("rps", "rps = 10", |t, v, e| t.rate(v, e, Rate::PerSecond)),
    value("rpm", "rpm = 600", |t, v, e| t.rate(v, e, Rate::PerMinute)),
    value("burst", "burst = 20", |t, v, e| {
        t.need(Need::Rate, v);
        t.cfg.burst = v.int(1, e);
    }),
    value("key", "key = user_id", |t, v, _| {
        t.need(Need::Rate, v);
        t.cfg.key = Some(v.expr.clone());
    }),
    value("wait", "wait = \"500ms\"", |t, v, e| {
        t.need(Need::RateOrTpm, v);
        t.cfg.wait = v.duration(e);
    }),
    value("max_inflight", "max_inflight = 8", |t, v, e| {
        t.inflight = true;
        t.cfg.max_inflight = v.int(1, e);
    }),
    value("queue", "queue = 100", |t, v, e| {
        t.need(Need::MaxInflight, v);
        t.queue = true;
        t.cfg.queue = v.int(1, e).filter(|&q| {
            // the runtime's bound (`PolicyBuilder::queue`)
            let fits = q <= 1_000_000;
            if !fits {
                e.on(v.expr, format!("`{}` must be at most 1000000", v.ident));
            }
            fits
        });
    }),
    value("queue_wait", "queue_wait = \"2s\"", |t, v, e| {
        t.need(Need::Queue, v);
        t.cfg.queue_wait = v.positive_duration(e);
    }),
    value("timeout", "timeout = \"2s\"", Top::timeout),
    value("deadline", "deadline = \"30s\"", |t, v, e| {
        t.cfg.deadline = v.positive_duration(e);
    }),
    value("fallback", "fallback = cached_answer", |t, v, e| {
        t.fallback(v, false, e);
    }),
    value("fallback_why", "fallback_why = answer_anyway", |t, v, e| {
        t.fallback(v, true, e);
    }),
    value("tpm", "tpm = 90000", |t, v, e| {
        t.tpm = true;
        t.cfg.tpm = v.positive(e);
    }),
    value("cost", "cost = estimate_tokens(prompt)", |t, v, _| {
        t.need(Need::Tpm, v);
        t.cfg.cost = Some(v.expr.clone());
    }),
    value("usage", "usage = Reply::tokens", |t, v, e| {
        t.need(Need::Tpm, v);
        t.cfg.usage = v.path(e);
    }),
    grouped(
        "stale",
        "stale(max_age = \"10m\", capacity = 1000)",
        || names(STALE),
        |t, o, ex, e| {
            t.cfg.stale = group(o, ex, STALE, StaleConfig::at(o.name.span()), e);
        },
    ),
    grouped(
        "chaos",
        "chaos(error = 0.1)",
        || names(CHAOS),
        |t, o, ex, e| {
            t.cfg.chaos =
                group(o, ex, CHAOS, ChaosConfig::default(), e).and_then(|c| c.checked(o, ex, e));
        },
    ),
    grouped(
        "redis",
        "redis(fail = \"closed\")",
        || names(REDIS),
        |t, o, ex, e| {
            t.redis(o, e);
            t.cfg.redis = group(o, ex, REDIS, RedisConfig::at(o.name.span()), e);
        },
    ),
    grouped(
        "hedge",
        "hedge(after = \"200ms\")",
        || names(HEDGE),
        |t, o, ex, e| {
            t.hedge(o, e);
            t.cfg.hedge = group(o, ex, HEDGE, HedgeConfig::at(o.name.span()), e);
        },
    ),
];

/// The options of `hedge(...)`.
static HEDGE: &[Row<HedgeConfig>] = &[
    value("after", "after = \"200ms\"", |c, v, e| {
        c.after = v.positive_duration(e);
    }),
    value("percentile", "percentile = 0.95", |c, v, e| {
        c.percentile = v.positive(e).filter(|p| {
            // the runtime's bounds (`Hedge::MIN_PERCENTILE`, `Hedge::MAX_PERCENTILE`)
            let fits = (0.5..=0.99).contains(p);
            if !fits {
                e.on(
                    v.expr,
                    format!("`{}` must be between 0.5 and 0.99", v.ident),
                );
            }
            fits
        });
    }),
    value("min_after", "min_after = \"5ms\"", |c, v, e| {
        c.min_after = v.duration(e);
    }),
    value("max", "max = 1", |c, v, e| {
        c.max = v.int(1, e).filter(|&n| {
            let fits = n <= 3;
            if !fits {
                e.on(
                    v.expr,
                    format!("`{}` must be at most 3 (extra copies of one call)", v.ident),
                );
            }
            fits
        });
    }),
];

/// The options of `retry(...)`.
static RETRY: &[Row<RetryConfig>] = &[
    value("max", "max = 3", |c, v, e| c.max = v.int(1, e)),
    value("backoff", "backoff = 2.0", |c, v, e| {
        c.backoff = v.at_least_one(e);
    }),
    value("delay", "delay = \"100ms\"", |c, v, e| {
        c.delay = v.duration(e)
    }),
    value("max_delay", "max_delay = \"30s\"", |c, v, e| {
        c.max_delay = v.duration(e);
    }),
    value("jitter", "jitter = 0.5", |c, v, e| c.jitter = v.jitter(e)),
    value("on", "on = is_transient", |c, v, e| c.on = v.path(e)),
    value("budget", "budget = 0.1", |c, v, e| c.budget = v.positive(e)),
];

/// The options of `breaker(...)`.
static BREAKER: &[Row<BreakerConfig>] = &[
    value("threshold", "threshold = 5", |c, v, e| {
        c.threshold = v.int(1, e);
        c.wrote("threshold", v);
    }),
    value("cooldown", "cooldown = 30", |c, v, e| {
        c.cooldown = v.duration(e);
    }),
    value("half_open", "half_open = 1", |c, v, e| {
        c.half_open = v.int(1, e).filter(|&m| {
            // the runtime packs the trials of a half-open period in 16 bits
            let fits = m <= 65_535;
            if !fits {
                e.on(v.expr, format!("`{}` must be at most 65535", v.ident));
            }
            fits
        });
    }),
    value("max_half_open", "max_half_open = \"1m\"", |c, v, e| {
        c.max_half_open = v.positive_duration(e);
    }),
    value("on", "on = is_outage", |c, v, e| c.on = v.path(e)),
    value("failure_rate", "failure_rate = 0.5", |c, v, e| {
        c.failure_rate = v.fraction(e);
        c.wrote("failure_rate", v);
    }),
    value("window_calls", "window_calls = 100", |c, v, e| {
        c.window_calls = v.int(1, e).filter(|&n| {
            // the runtime counts a window's calls in 20 bits
            let fits = n <= 1_000_000;
            if !fits {
                e.on(v.expr, format!("`{}` must be at most 1000000", v.ident));
            }
            fits
        });
        c.wrote("window_calls", v);
    }),
    value("window_time", "window_time = \"60s\"", |c, v, e| {
        c.window_time = v.duration(e).filter(|&d| {
            // ten buckets of at least a millisecond
            let long = d >= 10_000_000;
            if !long {
                e.on(
                    v.expr,
                    format!(
                        "`{}` must be at least 10ms: write e.g. `{}`",
                        v.ident, v.example
                    ),
                );
            }
            long
        });
        c.wrote("window_time", v);
    }),
    value("min_calls", "min_calls = 20", |c, v, e| {
        c.min_calls = v.int(1, e);
        c.wrote("min_calls", v);
    }),
    value("slow_call", "slow_call = \"2s\"", |c, v, e| {
        c.slow_call = v.positive_duration(e);
        c.wrote("slow_call", v);
    }),
    value("slow_rate", "slow_rate = 0.8", |c, v, e| {
        c.slow_rate = v.fraction(e);
        c.wrote("slow_rate", v);
    }),
    value("max_cooldown", "max_cooldown = \"10m\"", |c, v, e| {
        c.max_cooldown = v.duration(e);
        c.wrote("max_cooldown", v);
    }),
    value(
        "cooldown_multiplier",
        "cooldown_multiplier = 2.0",
        |c, v, e| {
            c.cooldown_multiplier = v.at_least_one(e);
            c.wrote("cooldown_multiplier", v);
        },
    ),
    value("key", "key = tenant", |c, v, _| {
        c.key = Some(v.expr.clone());
        c.wrote("key", v);
    }),
    value("max_keys", "max_keys = 10000", |c, v, e| {
        c.max_keys = v.int(1, e).filter(|&n| {
            let fits = n <= 1_000_000;
            if !fits {
                e.on(v.expr, format!("`{}` must be at most 1000000", v.ident));
            }
            fits
        });
        c.wrote("max_keys", v);
    }),
];

/// The options of `redis(...)`.
static REDIS: &[Row<RedisConfig>] = &[
    value("fail", "fail = \"closed\"", |c, v, e| {
        let Some(s) = v.string(e) else { return };
        match s.value().as_str() {
            "open" => c.fail_closed = Some(false),
            "closed" => c.fail_closed = Some(true),
            other => e.at(
                s.span(),
                format!("`fail` must be \"open\" (the in-memory state decides while Redis is down) or \"closed\" (calls are rejected), not {other:?}"),
            ),
        }
    }),
    value("timeout", "timeout = \"50ms\"", |c, v, e| {
        let Some(d) = v.duration(e) else {
            return;
        };
        if d == 0 || d > 60_000_000_000 {
            e.at(
                syn::spanned::Spanned::span(v.expr),
                "`timeout` of `redis` must be greater than 0 and at most 60s (a call never waits \
                 longer for Redis): write e.g. `timeout = \"50ms\"`",
            );
        } else {
            c.timeout = Some(d);
        }
    }),
    value("prefix", "prefix = \"myapp:\"", |c, v, e| {
        let Some(s) = v.string(e) else { return };
        if s.value().is_empty() {
            e.at(
                s.span(),
                "`prefix` must not be empty; write e.g. `prefix = \"myapp:\"`",
            );
        } else {
            c.prefix = Some(s);
        }
    }),
];

/// The options of `stale(...)`.
static STALE: &[Row<StaleConfig>] = &[
    value("max_age", "max_age = \"10m\"", |c, v, e| {
        c.max_age = v.duration(e);
    }),
    value("capacity", "capacity = 1000", |c, v, e| {
        c.capacity = v.int(1, e);
    }),
];

/// The options of `chaos(...)`.
static CHAOS: &[Row<ChaosConfig>] = &[
    value("error", "error = 0.1", |c, v, e| c.error = v.chance(e)),
    value("latency", "latency = \"200ms\"", |c, v, e| {
        c.latency = v.duration(e);
    }),
    value("latency_rate", "latency_rate = 0.2", |c, v, e| {
        c.latency_rate_at = Some(v.ident.span());
        c.latency_rate = v.chance(e);
    }),
    value("reject", "reject = 0.05", |c, v, e| {
        c.reject_at = Some(v.ident.span());
        c.reject = v.chance(e);
    }),
];

/// The names of a table, in order.
fn names<C>(rows: &[Row<C>]) -> Vec<&'static str> {
    rows.iter().map(|r| r.name).collect()
}

/// Whether `name` is a group (`retry`, `breaker`, `stale`): its list must be a list of options.
pub fn is_group(name: &Ident) -> bool {
    TOP.iter()
        .any(|r| *name == r.name && matches!(r.does, Does::Group(..)))
}

/// Checks every option of the attribute against the function's `shape`.
pub fn validate(opts: &[Opt], shape: &Shape, errors: &mut Errors) -> Config {
    let mut top = Top {
        cfg: Config::default(),
        sync: shape.kind.is_sync(),
        exclusive: shape.exclusive.clone(),
        rate: None,
        tpm: false,
        inflight: false,
        queue: false,
        fallback: None,
        needs: Vec::new(),
    };
    options(opts, TOP, None, &mut top, errors);
    top.requirements(errors);
    one_key(&top.cfg, errors);
    top.shareable(errors);
    top.cfg
}

/// A call has one key: the limiter's `key` and the breaker's `key`, when both are written,
/// must be the same expression (a `Req` carries one hash).
fn one_key(cfg: &Config, errors: &mut Errors) {
    use quote::ToTokens;
    let Some(breaker) = cfg.breaker.as_ref().and_then(|b| b.key.as_ref()) else {
        return;
    };
    let Some(limiter) = &cfg.key else { return };
    let text = |e: &Expr| e.to_token_stream().to_string();
    if text(breaker) != text(limiter) {
        errors.on(
            breaker,
            format!(
                "the breaker's `key` differs from the limiter's `key = {}`: a call has one key; write the same expression in both, or drop one",
                text(limiter)
            ),
        );
    }
}

/// The options of one level, the top one (`group` is `None`) or a group's, checked against
/// its table and stored in `cfg`.
fn options<C>(
    opts: &[Opt],
    rows: &[Row<C>],
    group: Option<&str>,
    cfg: &mut C,
    errors: &mut Errors,
) {
    let mut seen: Vec<&str> = Vec::new();
    for o in opts {
        let name = &o.name;
        let Some(row) = rows.iter().find(|r| *name == r.name) else {
            let message = match group {
                None => unknown_at_top(&name.to_string()),
                Some(group) => unknown_in(&name.to_string(), group, rows),
            };
            errors.at(name.span(), message);
            continue;
        };
        if seen.contains(&row.name) {
            let in_group = group.map(|g| format!(" in `{g}(…)`")).unwrap_or_default();
            errors.at(
                name.span(),
                format!("`{name}` is set twice{in_group}; remove one of them"),
            );
            continue;
        }
        seen.push(row.name);
        match row.does {
            Does::Group(does, _) => does(cfg, o, row.example, errors),
            Does::Value(does) => {
                if let Some(v) = given(o, row.example, errors) {
                    does(cfg, &v, errors);
                }
            }
        }
    }
}

/// A group, `name` or `name(options)`: its config, or `None` (reported) when given a value.
fn group<C>(o: &Opt, example: &str, rows: &[Row<C>], mut cfg: C, errors: &mut Errors) -> Option<C> {
    let name = &o.name;
    match &o.value {
        Value::Flag => {}
        Value::List(_, Ok(list)) => options(list, rows, Some(&name.to_string()), &mut cfg, errors),
        // not parsed as options: already a syntax error when the list is a group's
        Value::List(_, Err(e)) => {
            errors.push(e.clone());
            return None;
        }
        Value::Assign(e) => {
            errors.on(
                e,
                format!("`{name}` takes a list of options, not a value: write `{example}` or a bare `{name}`"),
            );
            return None;
        }
    }
    Some(cfg)
}

/// The value of `name = value`; any other form is reported.
fn given<'a>(o: &'a Opt, example: &'a str, errors: &mut Errors) -> Option<Given<'a>> {
    let name = &o.name;
    match &o.value {
        Value::Assign(expr) => Some(Given {
            ident: name,
            expr,
            example,
        }),
        Value::Flag => {
            errors.at(
                name.span(),
                format!("`{name}` needs a value: write `{example}`"),
            );
            None
        }
        Value::List(p, _) => {
            errors.at(
                p.span.join(),
                format!("`{name}` takes a value, not a list: write `{example}`"),
            );
            None
        }
    }
}

/// The groups, with the names of their options.
fn groups() -> impl Iterator<Item = (&'static str, Vec<&'static str>)> {
    TOP.iter().filter_map(|r| match r.does {
        Does::Group(_, options) => Some((r.name, options())),
        Does::Value(_) => None,
    })
}

/// An unknown name at the top level: an option of a group written outside it, or unknown.
fn unknown_at_top(name: &str) -> String {
    groups()
        .find(|(_, options)| options.contains(&name))
        .map_or_else(
            || unknown(name, names(TOP), ""),
            |(group, _)| format!("`{name}` is an option of `{group}`: write `{group}({name} = …)`"),
        )
}

/// An unknown name in `group(…)`: a top-level option, an option of another group, or unknown.
fn unknown_in<C>(name: &str, group: &str, rows: &[Row<C>]) -> String {
    if names(TOP).contains(&name) {
        return format!(
            "`{name}` is not an option of `{group}(…)`: move it out, next to `{group}`"
        );
    }
    // as it always was: an option of `stale` written in another group is only unknown there
    let other = groups()
        .find(|(other, options)| *other != group && *other != "stale" && options.contains(&name));
    match other {
        Some((other, _)) => format!(
            "`{name}` is an option of `{other}`, not of `{group}`: write `{other}({name} = …)`"
        ),
        None => unknown(name, names(rows), &format!(" of `{group}`")),
    }
}

/// Whether `v` is the first of a set of options that exclude each other (`written` holds the
/// one written first); a later one is reported: "`rpm` conflicts with `rps`: set only one rate".
fn first_of(written: &mut Option<String>, v: &Given, what: &str, errors: &mut Errors) -> bool {
    let which = v.ident.to_string();
    if let Some(other) = written {
        errors.at(
            v.ident.span(),
            format!("`{which}` conflicts with `{other}`: set only one {what}"),
        );
        return false;
    }
    *written = Some(which);
    true
}

/// What an option needs beside it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Need {
    /// `rps` or `rpm`.
    Rate,
    /// `rps`, `rpm` or `tpm`.
    RateOrTpm,
    /// `tpm`.
    Tpm,
    /// `max_inflight`.
    MaxInflight,
    /// `queue`.
    Queue,
}

/// The top level being checked: the config, and what the checks across options need.
struct Top {
    cfg: Config,
    /// The function is a sync `fn`.
    sync: bool,
    /// What the body may change (see [`Shape::exclusive`]).
    exclusive: Vec<(Span, String, &'static str)>,
    /// The rate option written first (`rps` or `rpm`), if any.
    rate: Option<String>,
    /// `tpm` was written.
    tpm: bool,
    /// `max_inflight` was written.
    inflight: bool,
    /// `queue` was written.
    queue: bool,
    /// The fallback option written first (`fallback` or `fallback_why`), if any.
    fallback: Option<String>,
    /// The options that need another one, with their names' spans, in the order written.
    needs: Vec<(Need, String, Span)>,
}

impl Top {
    fn name(&mut self, v: &Given, errors: &mut Errors) {
        let Some(s) = v.string(errors) else { return };
        if s.value().is_empty() {
            errors.at(
                s.span(),
                format!(
                    "`{}` must not be empty; write e.g. `{}`",
                    v.ident, v.example
                ),
            );
        } else {
            self.cfg.name = Some(s);
        }
    }

    /// `rps` or `rpm`: one of them only.
    fn rate(&mut self, v: &Given, errors: &mut Errors, per: fn(f64) -> Rate) {
        if first_of(&mut self.rate, v, "rate", errors) {
            self.cfg.rate = v.positive(errors).map(per);
        }
    }

    /// `fallback` or `fallback_why`: one fallback at most.
    fn fallback(&mut self, v: &Given, why: bool, errors: &mut Errors) {
        if first_of(&mut self.fallback, v, "fallback", errors) {
            self.cfg.fallback = v.path(errors);
            self.cfg.fallback_why = why;
        }
    }

    fn timeout(&mut self, v: &Given, errors: &mut Errors) {
        if self.sync {
            errors.at(
                v.ident.span(),
                format!("`{}` needs an `async fn`: a sync call cannot be interrupted; remove it or make the function async", v.ident),
            );
        }
        self.cfg.timeout = v.duration(errors);
    }

    /// `hedge` runs copies of the body at once: an `async fn` whose body may not change
    /// anything of its own.
    fn hedge(&self, o: &Opt, errors: &mut Errors) {
        let name = &o.name;
        if self.sync {
            errors.at(
                name.span(),
                format!("`{name}` needs an `async fn`: a sync call cannot run twice at once; remove it or make the function async"),
            );
        }
        for (span, written, fix) in &self.exclusive {
            errors.at(
                *span,
                format!("`{name}` runs copies of the body at the same time, which `{written}` cannot allow: {fix}, or remove `{name}`"),
            );
        }
    }

    /// `redis` keeps the state in Redis, which a sync call cannot wait for.
    fn redis(&self, o: &Opt, errors: &mut Errors) {
        if self.sync {
            let name = &o.name;
            errors.at(
                name.span(),
                format!("`{name}` needs an `async fn`: a sync call cannot wait for Redis; remove it or make the function async"),
            );
        }
    }

    /// What `redis` shares: a rate limit, a token limit, a breaker of failures in a row.
    fn shareable(&self, errors: &mut Errors) {
        let Some(r) = &self.cfg.redis else { return };
        let breaker = self.cfg.breaker.as_ref();
        if self.rate.is_none() && !self.tpm && breaker.is_none() {
            errors.at(
                r.span,
                "`redis` has nothing to share: add a rate limit (`rps`, `rpm`, `tpm`) or a `breaker`",
            );
        }
        let Some(b) = breaker else { return };
        if let Some(&(option, span, _)) = b.written.iter().find(|w| RATE_OPTIONS.contains(&w.0)) {
            errors.at(
                span,
                format!("`{option}` makes a failure-rate breaker, which `redis` cannot share: use `breaker(threshold = …)` (failures in a row), or remove `redis`"),
            );
        }
        if let Some((span, _)) = b.at("key") {
            errors.at(
                span,
                "a keyed breaker cannot be shared through `redis` (it shares one breaker for the policy): remove the breaker's `key`, or remove `redis`",
            );
        }
        for option in ["max_cooldown", "cooldown_multiplier"] {
            if let Some((span, _)) = b.at(option) {
                errors.at(
                    span,
                    format!("`{option}` makes an exponential cooldown, which `redis` cannot share: remove it, or remove `redis`"),
                );
            }
        }
    }

    fn need(&mut self, need: Need, v: &Given) {
        self.needs.push((need, v.ident.to_string(), v.ident.span()));
    }

    /// Reports the options written without what they need: those needing `tpm` first, then
    /// those needing a rate, then those needing either.
    fn requirements(&self, errors: &mut Errors) {
        let rate = self.rate.is_some();
        for (need, met, message) in [
            (Need::Tpm, self.tpm, "needs a token limit: add `tpm = …`"),
            (
                Need::Rate,
                rate,
                "needs a rate limit: add `rps = …` or `rpm = …`",
            ),
            (
                Need::RateOrTpm,
                rate || self.tpm,
                "needs a rate limit: add `rps = …` or `rpm = …`",
            ),
            (
                Need::MaxInflight,
                self.inflight,
                "needs a bulkhead to queue for: add `max_inflight = …`",
            ),
            (
                Need::Queue,
                self.queue,
                "needs a queue to wait in: add `queue = …`",
            ),
        ] {
            if met {
                continue;
            }
            for (_, option, span) in self.needs.iter().filter(|(n, ..)| *n == need) {
                errors.at(*span, format!("`{option}` {message}"));
            }
        }
    }
}

impl RetryConfig {
    fn at(span: Span) -> Self {
        RetryConfig {
            span,
            max: None,
            backoff: None,
            delay: None,
            max_delay: None,
            jitter: None,
            on: None,
            budget: None,
        }
    }
}

impl ChaosConfig {
    /// The checks across the options of `chaos(…)` written as `o`.
    fn checked(self, o: &Opt, example: &str, errors: &mut Errors) -> Option<Self> {
        let written = matches!(&o.value, Value::List(_, Ok(list)) if !list.is_empty());
        if !written {
            errors.at(
                o.name.span(),
                format!("`chaos` needs at least one of `error`, `latency` or `reject`: write e.g. `{example}`"),
            );
            return None;
        }
        let mut ok = true;
        if let (Some(at), None) = (self.latency_rate_at, self.latency) {
            errors.at(
                at,
                "`latency_rate` needs `latency`: add e.g. `latency = \"200ms\"`",
            );
            ok = false;
        }
        if let (Some(error), Some(reject), Some(at)) = (self.error, self.reject, self.reject_at) {
            if error + reject > 1.0 {
                errors.at(
                    at,
                    "`error` and `reject` add up to more than 1 (an attempt is rejected, fails, or runs): lower one of them",
                );
                ok = false;
            }
        }
        ok.then_some(self)
    }
}

impl HedgeConfig {
    fn at(span: Span) -> Self {
        HedgeConfig {
            span,
            after: None,
            percentile: None,
            min_after: None,
            max: None,
        }
    }
}

impl RedisConfig {
    fn at(span: Span) -> Self {
        RedisConfig {
            span,
            fail_closed: None,
            timeout: None,
            prefix: None,
        }
    }
}

impl StaleConfig {
    fn at(span: Span) -> Self {
        StaleConfig {
            span,
            capacity: None,
            max_age: None,
        }
    }
}

#[cfg(test)]
mod tests;
