//! Policies by name, process-wide: the name map and nothing else. Looked up only when a policy
//! is created and when an operator inspects one, never on a call.
//!
//! Names collide in three ways, each settled here and reported once through
//! [`warnings`](crate::warnings):
//! - a named policy asks for a name an unnamed one (which shares nothing) already holds: it
//!   never joins it, and takes the first name of `name#2`, `name#3`, … that is free or shared;
//! - a named policy declares its shared parts (breaker, rate, token limit, bulkhead, retry
//!   budget) differently from the first of its name: the first's are kept;
//! - two names read the same environment variables (`open-ai` and `open_ai`).

use std::collections::BTreeMap;

use std::sync::LazyLock;

use crate::config::Config;
use crate::env::{env_prefix, report};
use crate::shared::Shared;
use crate::sync::global::{lock, Mutex};
use crate::sync::Arc;

struct Entry {
    shared: Arc<Shared>,
    /// Held by an unnamed policy: nobody joins it.
    unique: bool,
}

static REGISTRY: LazyLock<Mutex<BTreeMap<String, Entry>>> = LazyLock::new(Mutex::default);

/// The shared state of `name`, created from `config` if there is none. A `unique` policy never
/// shares: it takes the first free name of `name`, `name#2`, `name#3`, …. A shared one never
/// joins a unique one.
pub(crate) fn register(name: &str, unique: bool, config: &Config) -> Arc<Shared> {
    // before any lock: registering `tracing`'s probe takes `tracing`'s own
    crate::trace::probe();
    let mut map = lock(&REGISTRY);
    let mut taken = name.to_owned();
    let mut n = 1;
    loop {
        match map.get(&taken) {
            None => break,
            Some(entry) if !unique && !entry.unique => {
                conflicts(&entry.shared, config);
                return entry.shared.clone();
            }
            Some(_) => {}
        }
        n += 1;
        taken = format!("{name}#{n}");
    }
    if !unique && taken != name {
        report(
            &format!("name {name}"),
            format!(
                "policy `{name}`: the name is held by a function without `name = …`, which shares \
                 nothing; this policy is `{taken}`"
            ),
        );
    }
    let prefix = env_prefix(&taken);
    if let Some(other) = map.keys().find(|other| env_prefix(other) == prefix) {
        report(
            &format!("prefix {prefix}"),
            format!(
                "policies `{other}` and `{taken}` read the same variables, {prefix}*; rename one \
                 of them"
            ),
        );
    }
    let shared = Arc::new(Shared::new(&taken, config));
    crate::trace::track(&shared);
    map.insert(
        taken,
        Entry {
            shared: shared.clone(),
            unique,
        },
    );
    shared
}

/// Reports a policy that joins `shared` with shared parts declared otherwise. A policy that
/// declares none of them joins silently.
fn conflicts(shared: &Shared, config: &Config) {
    let first = &shared.config;
    let budget = |c: &Config| c.retry.and_then(|r| r.budget);
    let parts = [
        (
            "breaker",
            config.breaker.is_some(),
            config.breaker != first.breaker,
        ),
        ("rate", config.rate.is_some(), config.rate != first.rate),
        (
            "tpm",
            config.tokens.is_some(),
            config.tokens != first.tokens,
        ),
        (
            "max_inflight",
            config.max_inflight.is_some(),
            (config.max_inflight, config.queue, config.queue_wait)
                != (first.max_inflight, first.queue, first.queue_wait),
        ),
        ("chaos", config.chaos.is_some(), config.chaos != first.chaos),
        (
            "retry budget",
            budget(config).is_some(),
            budget(config) != budget(first),
        ),
    ];
    if !parts.iter().any(|(_, declared, _)| *declared) {
        return;
    }
    let differ: Vec<&str> = parts
        .iter()
        .filter(|(_, _, differs)| *differs)
        .map(|(part, _, _)| *part)
        .collect();
    if differ.is_empty() {
        return;
    }
    let differ = differ.join(", ");
    report(
        &format!("parts {} {differ}", shared.name),
        format!(
            "policy `{}` is declared twice with a different {differ}; the first declaration's \
             are kept (declare the shared parts once, or give the policies different names)",
            shared.name
        ),
    );
}

/// The shared state of `name`, if a policy of that name was created.
pub(crate) fn get(name: &str) -> Option<Arc<Shared>> {
    lock(&REGISTRY).get(name).map(|e| e.shared.clone())
}

/// Every policy's shared state, in name order.
pub(crate) fn all() -> Vec<Arc<Shared>> {
    lock(&REGISTRY).values().map(|e| e.shared.clone()).collect()
}
