//! Every semantic check of the attribute, and its messages.
//!
//! [`validate`] turns what the user wrote ([`Args`]) into a [`Config`] whose every value is
//! within its bounds, or into every mistake found, each spanned on the offending tokens.

use proc_macro2::Span;
use syn::{Expr, ExprLit, ExprPath, Lit, LitStr, UnOp};

use crate::args::{
    Args, BreakerArgs, BreakerKey, Opt, RetryArgs, RetryKey, StaleArgs, StaleKey, Top, TopOpt,
    Value, BREAKER_NAMES, RETRY_NAMES, STALE_NAMES, TOP_NAMES,
};
use crate::shape::{Kind, Shape};

/// The settings of one attribute, checked.
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
    /// Nanoseconds.
    pub timeout: Option<u64>,
    pub fallback: Option<syn::Path>,
    /// Tokens a minute.
    pub tpm: Option<f64>,
    pub cost: Option<Expr>,
    pub usage: Option<syn::Path>,
    pub stale: Option<StaleConfig>,
}

/// `stale(...)`, checked, with its defaults filled in (the runtime's `Stale::new` takes both).
pub struct StaleConfig {
    /// Where `stale` was written.
    pub span: Span,
    pub capacity: u32,
    /// Nanoseconds.
    pub max_age: u64,
}

/// `rps = R` or `rpm = R`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rate {
    PerSecond(f64),
    PerMinute(f64),
}

/// `retry(...)`, checked: only what was written (the runtime holds the defaults).
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

/// `breaker(...)`, checked.
#[derive(Default)]
pub struct BreakerConfig {
    pub threshold: Option<u32>,
    /// Nanoseconds.
    pub cooldown: Option<u64>,
    pub half_open: Option<u32>,
}

/// Mistakes collected so far.
#[derive(Default)]
pub struct Errors(Option<syn::Error>);

impl Errors {
    /// Adds a mistake at `span`.
    pub fn at(&mut self, span: Span, message: impl std::fmt::Display) {
        self.push(syn::Error::new(span, message));
    }

    /// Adds a mistake.
    pub fn push(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }

    /// Every mistake, if there was any.
    pub fn finish(self) -> Option<syn::Error> {
        self.0
    }
}

/// Checks every option of the attribute against the function's `shape`.
pub fn validate(args: Args, shape: &Shape, errors: &mut Errors) -> Config {
    let mut cfg = Config::default();
    let mut seen: Vec<(Top, Span)> = Vec::new();
    let mut rate_at: Option<(&'static str, Span)> = None;
    let mut needs_rate: Vec<(&'static str, Span)> = Vec::new();
    let mut needs_rate_or_tpm: Vec<(&'static str, Span)> = Vec::new();
    let mut needs_tpm: Vec<(&'static str, Span)> = Vec::new();
    let mut tpm_at = false;
    for opt in args.opts {
        let (key, ident) = match &opt {
            TopOpt::Retry(o) => (o.key, o.ident.clone()),
            TopOpt::Breaker(o) => (o.key, o.ident.clone()),
            TopOpt::Stale(o) => (o.key, o.ident.clone()),
            TopOpt::Other(o) => (o.key, o.ident.clone()),
        };
        if key != Top::Unknown {
            if seen.iter().any(|(k, _)| *k == key) {
                errors.at(
                    ident.span(),
                    format!("`{ident}` is set twice; remove one of them"),
                );
                continue;
            }
            seen.push((key, ident.span()));
        }
        match opt {
            TopOpt::Retry(o) => cfg.retry = retry(o, errors),
            TopOpt::Breaker(o) => cfg.breaker = breaker(o, errors),
            TopOpt::Stale(o) => cfg.stale = stale(o, errors),
            TopOpt::Other(o) => {
                let Some(e) = assigned(&o, errors, example(o.key)) else {
                    continue;
                };
                match o.key {
                    Top::Name => {
                        if let Some(s) = string(&o.ident, e, errors, "name = \"openai\"") {
                            if s.value().is_empty() {
                                errors.at(
                                    s.span(),
                                    "`name` must not be empty; write e.g. `name = \"openai\"`",
                                );
                            } else {
                                cfg.name = Some(s);
                            }
                        }
                    }
                    Top::Rps | Top::Rpm => {
                        let which = if o.key == Top::Rps { "rps" } else { "rpm" };
                        if let Some((other, _)) = rate_at {
                            errors.at(
                                o.ident.span(),
                                format!("`{which}` conflicts with `{other}`: set only one rate"),
                            );
                            continue;
                        }
                        rate_at = Some((which, o.ident.span()));
                        if let Some(r) = positive(&o.ident, e, errors) {
                            cfg.rate = Some(if o.key == Top::Rps {
                                Rate::PerSecond(r)
                            } else {
                                Rate::PerMinute(r)
                            });
                        }
                    }
                    Top::Burst => {
                        needs_rate.push(("burst", o.ident.span()));
                        cfg.burst = int(&o.ident, e, 1, errors);
                    }
                    Top::Key => {
                        needs_rate.push(("key", o.ident.span()));
                        cfg.key = Some(e.clone());
                    }
                    Top::Tpm => {
                        tpm_at = true;
                        cfg.tpm = positive(&o.ident, e, errors);
                    }
                    Top::Cost => {
                        needs_tpm.push(("cost", o.ident.span()));
                        cfg.cost = Some(e.clone());
                    }
                    Top::Usage => {
                        needs_tpm.push(("usage", o.ident.span()));
                        cfg.usage = path(&o.ident, e, errors, "usage = Reply::tokens");
                    }
                    Top::Wait => {
                        needs_rate_or_tpm.push(("wait", o.ident.span()));
                        cfg.wait = duration(&o.ident, e, errors);
                    }
                    Top::MaxInflight => cfg.max_inflight = int(&o.ident, e, 1, errors),
                    Top::Timeout => {
                        if shape.kind == Kind::Sync {
                            errors.at(
                                o.ident.span(),
                                "`timeout` needs an `async fn`: a sync call cannot be interrupted; remove it or make the function async",
                            );
                        }
                        cfg.timeout = duration(&o.ident, e, errors);
                    }
                    Top::Fallback => {
                        cfg.fallback = path(&o.ident, e, errors, "fallback = cached_answer");
                    }
                    Top::Retry | Top::Breaker | Top::Stale | Top::Unknown => unreachable!(),
                }
            }
        }
    }
    if !tpm_at {
        for (option, span) in needs_tpm {
            errors.at(
                span,
                format!("`{option}` needs a token limit: add `tpm = …`"),
            );
        }
        if rate_at.is_none() {
            needs_rate.extend(needs_rate_or_tpm);
        }
    }
    if rate_at.is_none() {
        for (option, span) in needs_rate {
            errors.at(
                span,
                format!("`{option}` needs a rate limit: add `rps = …` or `rpm = …`"),
            );
        }
    }
    cfg
}

/// Whether an option of a group (`retry(…)`, `breaker(…)`, `stale(…)`) is set for the first
/// time; a repeat is reported at its name.
fn first_time<K: PartialEq>(
    seen: &mut Vec<K>,
    key: K,
    ident: &syn::Ident,
    group: &str,
    errors: &mut Errors,
) -> bool {
    if seen.contains(&key) {
        errors.at(
            ident.span(),
            format!("`{ident}` is set twice in `{group}(…)`; remove one of them"),
        );
        return false;
    }
    seen.push(key);
    true
}

/// How an option is written, for messages.
fn example(key: Top) -> &'static str {
    match key {
        Top::Name => "name = \"openai\"",
        Top::Retry => "retry(max = 3)",
        Top::Breaker => "breaker(threshold = 5)",
        Top::Rps => "rps = 10",
        Top::Rpm => "rpm = 600",
        Top::Burst => "burst = 20",
        Top::Key => "key = user_id",
        Top::Wait => "wait = \"500ms\"",
        Top::MaxInflight => "max_inflight = 8",
        Top::Timeout => "timeout = \"2s\"",
        Top::Fallback => "fallback = cached_answer",
        Top::Tpm => "tpm = 90000",
        Top::Cost => "cost = estimate_tokens(prompt)",
        Top::Usage => "usage = Reply::tokens",
        Top::Stale => "stale(max_age = \"10m\", capacity = 1000)",
        Top::Unknown => "",
    }
}

/// The expression of `key = expr`; an unknown key or another form is reported.
fn assigned<'a, K, L>(o: &'a Opt<K, L>, errors: &mut Errors, example: &str) -> Option<&'a Expr>
where
    K: Copy + PartialEq + Unknown,
{
    if o.key.is_unknown() {
        errors.at(o.ident.span(), K::unknown_message(&o.ident.to_string()));
        return None;
    }
    let ident = &o.ident;
    match &o.value {
        Value::Assign(e) => Some(e),
        Value::Flag => {
            errors.at(
                ident.span(),
                format!("`{ident}` needs a value: write `{example}`"),
            );
            None
        }
        Value::List(p, _) => {
            errors.at(
                p.span.join(),
                format!("`{ident}` takes a value, not a list: write `{example}`"),
            );
            None
        }
    }
}

/// Keys that may be unknown, and what to say about them.
trait Unknown {
    fn is_unknown(&self) -> bool;
    fn unknown_message(name: &str) -> String;
}

impl Unknown for Top {
    fn is_unknown(&self) -> bool {
        *self == Top::Unknown
    }
    fn unknown_message(name: &str) -> String {
        if RETRY_NAMES.contains(&name) {
            format!("`{name}` is an option of `retry`: write `retry({name} = …)`")
        } else if BREAKER_NAMES.contains(&name) {
            format!("`{name}` is an option of `breaker`: write `breaker({name} = …)`")
        } else if STALE_NAMES.contains(&name) {
            format!("`{name}` is an option of `stale`: write `stale({name} = …)`")
        } else {
            unknown(name, TOP_NAMES, "")
        }
    }
}

impl Unknown for RetryKey {
    fn is_unknown(&self) -> bool {
        *self == RetryKey::Unknown
    }
    fn unknown_message(name: &str) -> String {
        elsewhere(name, "retry").unwrap_or_else(|| unknown(name, RETRY_NAMES, " of `retry`"))
    }
}

impl Unknown for BreakerKey {
    fn is_unknown(&self) -> bool {
        *self == BreakerKey::Unknown
    }
    fn unknown_message(name: &str) -> String {
        elsewhere(name, "breaker").unwrap_or_else(|| unknown(name, BREAKER_NAMES, " of `breaker`"))
    }
}

/// A known option written in the wrong group.
fn elsewhere(name: &str, group: &str) -> Option<String> {
    if TOP_NAMES.contains(&name) {
        Some(format!(
            "`{name}` is not an option of `{group}(…)`: move it out, next to `{group}`"
        ))
    } else if group != "retry" && RETRY_NAMES.contains(&name) {
        Some(format!(
            "`{name}` is an option of `retry`, not of `{group}`: write `retry({name} = …)`"
        ))
    } else if group != "breaker" && BREAKER_NAMES.contains(&name) {
        Some(format!(
            "`{name}` is an option of `breaker`, not of `{group}`: write `breaker({name} = …)`"
        ))
    } else {
        None
    }
}

/// "unknown option `x`; did you mean `y`?", or the list of known options.
fn unknown(name: &str, known: &[&str], of: &str) -> String {
    let best = known.iter().map(|k| (distance(name, k), *k)).min();
    match best {
        Some((d, k)) if d <= 1 + name.len().max(k.len()) / 3 => {
            format!("unknown option `{name}`{of}; did you mean `{k}`?")
        }
        _ => {
            let list: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
            format!(
                "unknown option `{name}`{of}; expected one of {}",
                list.join(", ")
            )
        }
    }
}

/// Edit distance with transpositions (optimal string alignment).
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

fn retry(o: Opt<Top, RetryArgs>, errors: &mut Errors) -> Option<RetryConfig> {
    let list = match o.value {
        Value::Flag => return Some(RetryConfig::at(o.ident.span())),
        Value::List(_, list) => list,
        Value::Assign(e) => {
            errors.push(syn::Error::new_spanned(
                e,
                "`retry` takes a list of options, not a value: write `retry(max = 3)` or a bare `retry`",
            ));
            return None;
        }
    };
    let mut cfg = RetryConfig::at(o.ident.span());
    let mut seen = Vec::new();
    for o in list.opts {
        if !o.key.is_unknown() && !first_time(&mut seen, o.key, &o.ident, "retry", errors) {
            continue;
        }
        let ex = match o.key {
            RetryKey::Max => "max = 3",
            RetryKey::Backoff => "backoff = 2.0",
            RetryKey::Delay => "delay = \"100ms\"",
            RetryKey::MaxDelay => "max_delay = \"30s\"",
            RetryKey::Jitter => "jitter = 0.5",
            RetryKey::On => "on = is_transient",
            RetryKey::Budget => "budget = 0.1",
            RetryKey::Unknown => "",
        };
        let Some(e) = assigned(&o, errors, ex) else {
            continue;
        };
        let ident = &o.ident;
        match o.key {
            RetryKey::Max => cfg.max = int(ident, e, 1, errors),
            RetryKey::Backoff => cfg.backoff = at_least_one(ident, e, errors),
            RetryKey::Delay => cfg.delay = duration(ident, e, errors),
            RetryKey::MaxDelay => cfg.max_delay = duration(ident, e, errors),
            RetryKey::Jitter => cfg.jitter = jitter(e, errors),
            RetryKey::On => cfg.on = path(ident, e, errors, "on = is_transient"),
            RetryKey::Budget => cfg.budget = positive(ident, e, errors),
            RetryKey::Unknown => unreachable!(),
        }
    }
    Some(cfg)
}

fn breaker(o: Opt<Top, BreakerArgs>, errors: &mut Errors) -> Option<BreakerConfig> {
    let list = match o.value {
        Value::Flag => return Some(BreakerConfig::default()),
        Value::List(_, list) => list,
        Value::Assign(e) => {
            errors.push(syn::Error::new_spanned(
                e,
                "`breaker` takes a list of options, not a value: write `breaker(threshold = 5)` or a bare `breaker`",
            ));
            return None;
        }
    };
    let mut cfg = BreakerConfig::default();
    let mut seen = Vec::new();
    for o in list.opts {
        if !o.key.is_unknown() && !first_time(&mut seen, o.key, &o.ident, "breaker", errors) {
            continue;
        }
        let ex = match o.key {
            BreakerKey::Threshold => "threshold = 5",
            BreakerKey::Cooldown => "cooldown = 30",
            BreakerKey::HalfOpen => "half_open = 1",
            BreakerKey::Unknown => "",
        };
        let Some(e) = assigned(&o, errors, ex) else {
            continue;
        };
        let ident = &o.ident;
        match o.key {
            BreakerKey::Threshold => cfg.threshold = int(ident, e, 1, errors),
            BreakerKey::Cooldown => cfg.cooldown = duration(ident, e, errors),
            BreakerKey::HalfOpen => {
                cfg.half_open = int(ident, e, 1, errors).filter(|&m| {
                    // the runtime packs the trials of a half-open period in 16 bits
                    let fits = m <= 65_535;
                    if !fits {
                        errors.push(syn::Error::new_spanned(
                            e,
                            "`half_open` must be at most 65535",
                        ));
                    }
                    fits
                });
            }
            BreakerKey::Unknown => unreachable!(),
        }
    }
    Some(cfg)
}

impl Unknown for StaleKey {
    fn is_unknown(&self) -> bool {
        *self == StaleKey::Unknown
    }
    fn unknown_message(name: &str) -> String {
        elsewhere(name, "stale").unwrap_or_else(|| unknown(name, STALE_NAMES, " of `stale`"))
    }
}

/// Default of `stale(capacity)`.
pub const STALE_CAPACITY: u32 = 1000;
/// Default of `stale(max_age)`: ten minutes.
pub const STALE_MAX_AGE: u64 = 600_000_000_000;

fn stale(o: Opt<Top, StaleArgs>, errors: &mut Errors) -> Option<StaleConfig> {
    let mut cfg = StaleConfig {
        span: o.ident.span(),
        capacity: STALE_CAPACITY,
        max_age: STALE_MAX_AGE,
    };
    let list = match o.value {
        Value::Flag => return Some(cfg),
        Value::List(_, list) => list,
        Value::Assign(e) => {
            errors.push(syn::Error::new_spanned(
                e,
                "`stale` takes a list of options, not a value: write `stale(max_age = \"10m\", capacity = 1000)` or a bare `stale`",
            ));
            return None;
        }
    };
    let mut seen = Vec::new();
    for o in list.opts {
        if !o.key.is_unknown() && !first_time(&mut seen, o.key, &o.ident, "stale", errors) {
            continue;
        }
        let ex = match o.key {
            StaleKey::MaxAge => "max_age = \"10m\"",
            StaleKey::Capacity => "capacity = 1000",
            StaleKey::Unknown => "",
        };
        let Some(e) = assigned(&o, errors, ex) else {
            continue;
        };
        match o.key {
            StaleKey::MaxAge => {
                if let Some(d) = duration(&o.ident, e, errors) {
                    cfg.max_age = d;
                }
            }
            StaleKey::Capacity => {
                if let Some(n) = int(&o.ident, e, 1, errors) {
                    cfg.capacity = n;
                }
            }
            StaleKey::Unknown => unreachable!(),
        }
    }
    Some(cfg)
}

/// A numeric literal, possibly negated.
enum Num {
    Int { negative: bool, lit: syn::LitInt },
    Float { negative: bool, lit: syn::LitFloat },
}

/// Looks through parentheses and invisible groups.
fn peel(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(p) => peel(&p.expr),
        Expr::Group(g) => peel(&g.expr),
        e => e,
    }
}

fn lit(e: &Expr) -> Option<&Lit> {
    match peel(e) {
        Expr::Lit(ExprLit { lit, .. }) => Some(lit),
        _ => None,
    }
}

fn num(e: &Expr) -> Option<Num> {
    let (negative, e) = match peel(e) {
        Expr::Unary(u) if matches!(u.op, UnOp::Neg(_)) => (true, &*u.expr),
        e => (false, e),
    };
    match lit(e)? {
        Lit::Int(lit) => Some(Num::Int {
            negative,
            lit: lit.clone(),
        }),
        Lit::Float(lit) => Some(Num::Float {
            negative,
            lit: lit.clone(),
        }),
        _ => None,
    }
}

/// A whole number of at least `min` that fits a `u32`.
fn int(ident: &syn::Ident, e: &Expr, min: u32, errors: &mut Errors) -> Option<u32> {
    match num(e) {
        Some(Num::Int {
            negative: false,
            lit,
        }) => match lit.base10_parse::<u32>() {
            Ok(n) if n >= min => Some(n),
            Ok(_) => {
                errors.push(syn::Error::new_spanned(
                    e,
                    format!("`{ident}` must be at least {min}"),
                ));
                None
            }
            Err(_) => {
                errors.push(syn::Error::new_spanned(
                    e,
                    format!("`{ident}` is too large; the largest is {}", u32::MAX),
                ));
                None
            }
        },
        Some(Num::Int { negative: true, .. }) => {
            errors.push(syn::Error::new_spanned(
                e,
                format!("`{ident}` must be at least {min}"),
            ));
            None
        }
        _ => {
            errors.push(syn::Error::new_spanned(
                e,
                format!(
                    "`{ident}` takes a whole number: write e.g. `{ident} = {}`",
                    min.max(3)
                ),
            ));
            None
        }
    }
}

/// Any number literal, as `f64` (`None`, reported, for anything else).
fn float(ident: &syn::Ident, e: &Expr, example: &str, errors: &mut Errors) -> Option<f64> {
    let value = match num(e) {
        Some(Num::Int { negative, lit }) => {
            lit.base10_parse::<f64>()
                .map(|v| if negative { -v } else { v })
        }
        Some(Num::Float { negative, lit }) => {
            lit.base10_parse::<f64>()
                .map(|v| if negative { -v } else { v })
        }
        None => {
            errors.push(syn::Error::new_spanned(
                e,
                format!("`{ident}` takes a number: write e.g. `{ident} = {example}`"),
            ));
            return None;
        }
    };
    match value {
        Ok(v) if v.is_finite() => Some(v),
        _ => {
            errors.push(syn::Error::new_spanned(
                e,
                format!("`{ident}` is not a finite number"),
            ));
            None
        }
    }
}

/// A number greater than 0 (`rps`, `rpm`).
fn positive(ident: &syn::Ident, e: &Expr, errors: &mut Errors) -> Option<f64> {
    let v = float(ident, e, "10", errors)?;
    if v > 0.0 {
        Some(v)
    } else {
        errors.push(syn::Error::new_spanned(
            e,
            format!("`{ident}` must be greater than 0"),
        ));
        None
    }
}

/// A number of at least 1.0 (`backoff`).
fn at_least_one(ident: &syn::Ident, e: &Expr, errors: &mut Errors) -> Option<f64> {
    let v = float(ident, e, "2.0", errors)?;
    if v >= 1.0 {
        Some(v)
    } else {
        errors.push(syn::Error::new_spanned(
            e,
            format!(
                "`{ident}` must be at least 1.0 (1.0 waits the same `delay` before every retry)"
            ),
        ));
        None
    }
}

/// `true` (1.0), `false` (0.0) or a fraction in (0, 1].
fn jitter(e: &Expr, errors: &mut Errors) -> Option<f64> {
    const HOW: &str =
        "`jitter` takes `true`, `false` or a fraction in (0, 1], such as `jitter = 0.5`";
    if let Some(Lit::Bool(b)) = lit(e) {
        return Some(if b.value { 1.0 } else { 0.0 });
    }
    let value = match num(e) {
        Some(Num::Int { negative, lit }) => {
            lit.base10_parse::<f64>()
                .ok()
                .map(|v| if negative { -v } else { v })
        }
        Some(Num::Float { negative, lit }) => {
            lit.base10_parse::<f64>()
                .ok()
                .map(|v| if negative { -v } else { v })
        }
        None => {
            errors.push(syn::Error::new_spanned(e, HOW));
            return None;
        }
    };
    match value {
        Some(v) if v > 0.0 && v <= 1.0 => Some(v),
        _ => {
            errors.push(syn::Error::new_spanned(
                e,
                "`jitter` must be a fraction in (0, 1]; write `jitter = false` for exact waits",
            ));
            None
        }
    }
}

fn string(ident: &syn::Ident, e: &Expr, errors: &mut Errors, example: &str) -> Option<LitStr> {
    if let Some(Lit::Str(s)) = lit(e) {
        Some(s.clone())
    } else {
        errors.push(syn::Error::new_spanned(
            e,
            format!("`{ident}` takes a string: write e.g. `{example}`"),
        ));
        None
    }
}

fn path(ident: &syn::Ident, e: &Expr, errors: &mut Errors, example: &str) -> Option<syn::Path> {
    match peel(e) {
        Expr::Path(ExprPath {
            qself: None,
            path,
            attrs,
        }) if attrs.is_empty() => Some(path.clone()),
        _ => {
            errors.push(syn::Error::new_spanned(
                e,
                format!("`{ident}` takes the path of a function: write e.g. `{example}`"),
            ));
            None
        }
    }
}

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// A duration `D`, in nanoseconds: whole seconds, fractional seconds, or a string with a unit.
fn duration(ident: &syn::Ident, e: &Expr, errors: &mut Errors) -> Option<u64> {
    let too_long = || {
        format!(
            "`{ident}` is too long; the longest is {} seconds (about 584 years)",
            u64::MAX / 1_000_000_000
        )
    };
    let negative = || format!("`{ident}` must not be negative");
    let nanos: Result<u128, String> = match (num(e), lit(e)) {
        (Some(Num::Int { negative: true, .. } | Num::Float { negative: true, .. }), _) => Err(negative()),
        (Some(Num::Int { lit, .. }), _) => match lit.base10_parse::<u128>() {
            Ok(secs) => secs.checked_mul(NANOS_PER_SEC).ok_or_else(too_long),
            Err(_) => Err(too_long()),
        },
        (Some(Num::Float { lit, .. }), _) => match lit.base10_parse::<f64>() {
            Ok(secs) => seconds_to_nanos(secs).ok_or_else(too_long),
            Err(e) => Err(e.to_string()),
        },
        (None, Some(Lit::Str(s))) => parse_duration(ident, &s.value()),
        _ => Err(format!(
            "`{ident}` takes a duration: whole seconds (`{ident} = 30`), fractional seconds (`{ident} = 0.25`) or a string with a unit (`{ident} = \"250ms\"`, `\"2s\"`, `\"1m\"`, `\"1h\"`)"
        )),
    };
    match nanos.and_then(|n| u64::try_from(n).map_err(|_| too_long())) {
        Ok(n) => Some(n),
        Err(message) => {
            errors.push(syn::Error::new_spanned(e, message));
            None
        }
    }
}

/// Seconds as nanoseconds, rounded; `None` if too large to count.
fn seconds_to_nanos(secs: f64) -> Option<u128> {
    let nanos = (secs * 1e9).round();
    // 2^64 is exactly representable; anything at or above it does not fit a u64
    (nanos.is_finite() && nanos < 18_446_744_073_709_551_616.0).then_some(nanos as u128)
}

/// `"250ms"`, `"2s"`, `"1.5m"`, `"1h"` as nanoseconds.
fn parse_duration(ident: &syn::Ident, s: &str) -> Result<u128, String> {
    let how = "write a number and a unit: `\"250ms\"`, `\"2s\"`, `\"1m\"` or `\"1h\"`";
    let t = s.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (number, unit) = (t[..split].trim(), t[split..].trim());
    if number.starts_with('-') {
        return Err(format!("`{ident}` must not be negative"));
    }
    if number.is_empty() || !number.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(format!("cannot read `\"{s}\"` as a duration; {how}"));
    }
    let per_unit: u128 = match unit {
        "ms" => 1_000_000,
        "s" => NANOS_PER_SEC,
        "m" => 60 * NANOS_PER_SEC,
        "h" => 3600 * NANOS_PER_SEC,
        "" => {
            return Err(format!(
            "`\"{s}\"` has no unit; write `\"{number}s\"`, or the number `{number}` for seconds"
        ))
        }
        other => {
            return Err(format!(
                "unknown unit `{other}` in `\"{s}\"`; use `ms`, `s`, `m` or `h`"
            ))
        }
    };
    let too_long = format!(
        "`{ident}` is too long; the longest is {} seconds (about 584 years)",
        u64::MAX / 1_000_000_000
    );
    if let Ok(n) = number.parse::<u128>() {
        return n.checked_mul(per_unit).ok_or(too_long);
    }
    match number.parse::<f64>() {
        #[allow(clippy::cast_precision_loss)]
        Ok(v) => seconds_to_nanos(v * (per_unit as f64) / 1e9).ok_or(too_long),
        Err(_) => Err(format!("cannot read `\"{s}\"` as a duration; {how}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::Shape;

    fn check(attr: &str, item: &str) -> (Config, Vec<String>) {
        let args: Args = syn::parse_str(attr).unwrap();
        let f: syn::ItemFn = syn::parse_str(item).unwrap();
        let mut errors = Errors::default();
        let shape = Shape::of(&f, &mut errors);
        let cfg = validate(args, &shape, &mut errors);
        let messages = errors
            .finish()
            .map(|e| e.into_iter().map(|e| e.to_string()).collect())
            .unwrap_or_default();
        (cfg, messages)
    }

    fn ok(attr: &str) -> Config {
        let (cfg, errors) = check(attr, "async fn f() -> Result<(), E> { Ok(()) }");
        assert!(errors.is_empty(), "{attr}: {errors:?}");
        cfg
    }

    fn err(attr: &str) -> Vec<String> {
        check(attr, "async fn f() -> Result<(), E> { Ok(()) }").1
    }

    #[test]
    fn the_contract_example() {
        let cfg = ok("retry(max=3, backoff=2.0), breaker(threshold=5, cooldown=30), rps=10, fallback = other_fn");
        let r = cfg.retry.unwrap();
        assert_eq!((r.max, r.backoff, r.delay), (Some(3), Some(2.0), None));
        let b = cfg.breaker.unwrap();
        assert_eq!(
            (b.threshold, b.cooldown, b.half_open),
            (Some(5), Some(30_000_000_000), None)
        );
        assert_eq!(cfg.rate, Some(Rate::PerSecond(10.0)));
        assert!(cfg.fallback.unwrap().is_ident("other_fn"));
    }

    #[test]
    fn durations() {
        let d = |s: &str| ok(&format!("timeout = {s}")).timeout.unwrap();
        assert_eq!(d("30"), 30_000_000_000);
        assert_eq!(d("0.25"), 250_000_000);
        assert_eq!(d("\"250ms\""), 250_000_000);
        assert_eq!(d("\"2s\""), 2_000_000_000);
        assert_eq!(d("\"1m\""), 60_000_000_000);
        assert_eq!(d("\"1h\""), 3_600_000_000_000);
        assert_eq!(d("\"1.5s\""), 1_500_000_000);
        assert_eq!(d("0"), 0);
        assert_eq!(d("18446744073"), 18_446_744_073_000_000_000);
        for bad in [
            "-1",
            "-0.5",
            "\"2sec\"",
            "\"fast\"",
            "\"10\"",
            "18446744074",
            "1e30",
            "\"99999999999h\"",
            "true",
        ] {
            assert_eq!(err(&format!("timeout = {bad}")).len(), 1, "{bad}");
        }
        assert!(err("timeout = \"2sec\"")[0].contains("unknown unit `sec`"));
    }

    #[test]
    fn ranges() {
        for bad in [
            "retry(max = 0)",
            "retry(backoff = 0.5)",
            "retry(jitter = 0)",
            "retry(jitter = 1.5)",
            "breaker(threshold = 0)",
            "breaker(half_open = 0)",
            "rps = 0",
            "rpm = -1",
            "rps = 1, burst = 0",
            "max_inflight = 0",
            "retry(max = 4294967296)",
            "name = \"\"",
        ] {
            assert_eq!(err(bad).len(), 1, "{bad}");
        }
        let r = ok("retry(jitter = false)").retry.unwrap();
        assert_eq!(r.jitter, Some(0.0));
        assert_eq!(ok("retry(jitter = true)").retry.unwrap().jitter, Some(1.0));
        assert_eq!(ok("retry(backoff = 1)").retry.unwrap().backoff, Some(1.0));
    }

    #[test]
    fn unknown_options_name_the_nearest() {
        assert_eq!(
            err("retires = 3"),
            ["unknown option `retires`; did you mean `retry`?"]
        );
        assert_eq!(
            err("tmeout = 3"),
            ["unknown option `tmeout`; did you mean `timeout`?"]
        );
        assert_eq!(
            err("retry(maxx = 3)"),
            ["unknown option `maxx` of `retry`; did you mean `max`?"]
        );
        assert!(err("zzz = 1")[0].contains("expected one of"));
        assert!(err("max = 3")[0].contains("`max` is an option of `retry`"));
        assert!(err("breaker(max = 3)")[0].contains("option of `retry`, not of `breaker`"));
    }

    #[test]
    fn llm_options() {
        let cfg = ok("retry(budget = 0.2), rpm = 1200, tpm = 3000, cost = estimate(prompt), usage = Reply::tokens, wait = 0, stale(max_age = \"10m\", capacity = 5)");
        assert_eq!(cfg.retry.unwrap().budget, Some(0.2));
        assert_eq!(cfg.tpm, Some(3000.0));
        assert!(cfg.cost.is_some() && cfg.usage.is_some());
        let s = cfg.stale.unwrap();
        assert_eq!((s.capacity, s.max_age), (5, 600_000_000_000));
        assert_eq!(ok("stale").stale.unwrap().capacity, STALE_CAPACITY);
        assert!(ok("tpm = 10, wait = 1").wait.is_some());
        assert_eq!(err("cost = 3, usage = f").len(), 2);
        assert_eq!(err("retry(budget = 0)").len(), 1);
        assert_eq!(err("stale(capacity = 0, max_age = -1)").len(), 2);
        assert!(err("stale(maxage = 1)")[0].contains("did you mean `max_age`"));
    }

    #[test]
    fn prerequisites_conflicts_repeats() {
        assert_eq!(err("burst = 3").len(), 1);
        assert_eq!(err("key = id, wait = 1").len(), 2);
        assert!(err("rps = 1, rpm = 60")[0].contains("conflicts"));
        assert!(err("rps = 1, rps = 2")[0].contains("set twice"));
        assert!(err("retry(max = 1, max = 2)")[0].contains("set twice"));
        assert!(ok("rpm = 60, burst = 3, key = id, wait = \"1s\"")
            .key
            .is_some());
    }

    #[test]
    fn timeout_on_sync() {
        let (_, errors) = check("timeout = 1", "fn f() -> Result<(), E> { Ok(()) }");
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("needs an `async fn`"));
    }

    #[test]
    fn every_mistake_at_once() {
        assert_eq!(
            err("retry(max = 0, jitter = 2), rps = \"x\", burst = 0, zzz").len(),
            5
        );
    }
}
