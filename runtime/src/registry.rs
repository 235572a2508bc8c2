//! Policies by name, process-wide: the name map and nothing else. Looked up only when a policy
//! is created and when an operator inspects one, never on a call.

use std::collections::BTreeMap;

use std::sync::LazyLock;

use crate::shared::Shared;
use crate::sync::global::{lock, Mutex};
use crate::sync::Arc;

static REGISTRY: LazyLock<Mutex<BTreeMap<String, Arc<Shared>>>> = LazyLock::new(Mutex::default);

/// The shared state of `name`, created by `make` if there is none. A `unique` policy never
/// shares: it takes the first free name of `name`, `name#2`, `name#3`, ….
pub(crate) fn register(name: &str, unique: bool, make: impl FnOnce(&str) -> Shared) -> Arc<Shared> {
    let mut map = lock(&REGISTRY);
    if !unique {
        if let Some(s) = map.get(name) {
            return s.clone();
        }
        let shared = Arc::new(make(name));
        map.insert(name.to_owned(), shared.clone());
        return shared;
    }
    let mut taken = name.to_owned();
    let mut n = 1;
    while map.contains_key(&taken) {
        n += 1;
        taken = format!("{name}#{n}");
    }
    let shared = Arc::new(make(&taken));
    map.insert(taken, shared.clone());
    shared
}

/// The shared state of `name`, if a policy of that name was created.
pub(crate) fn get(name: &str) -> Option<Arc<Shared>> {
    lock(&REGISTRY).get(name).cloned()
}

/// Every policy's shared state, in name order.
pub(crate) fn all() -> Vec<Arc<Shared>> {
    lock(&REGISTRY).values().cloned().collect()
}
