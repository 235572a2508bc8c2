//! Every atomic and lock of the policies' parts comes through here, so that a `loom` model
//! check (`RUSTFLAGS="--cfg loom" cargo test -p staunch-runtime --lib --release loom_`, run by
//! `.ci/run`; the models are in `loom_models.rs`) swaps in loom's without touching the parts.
//!
//! Process-wide state that no model exercises (the registry, the environment's warnings, the
//! clocks, the stale caches, which `const fn`s build) uses [`global`], which stays std's.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize};
#[cfg(loom)]
pub(crate) use loom::sync::{Condvar, Mutex, MutexGuard};
pub(crate) use std::sync::atomic::Ordering;
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize};
pub(crate) use std::sync::Arc;
#[cfg(not(loom))]
pub(crate) use std::sync::{Condvar, Mutex, MutexGuard};

/// Locks a mutex, recovering the data of a poisoned one: every critical section of the runtime
/// leaves its data consistent, and a panic elsewhere must not stop the policies.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What stays std's under `loom`: process-wide state outside any model.
pub(crate) mod global {
    pub(crate) use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64};
    pub(crate) use std::sync::Mutex;

    /// [`lock`](super::lock) for std's mutex.
    pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A value alone on its cache line (128 bytes: two lines, as adjacent-line prefetchers pair
/// them), so that writes to it do not slow down readers of its neighbours.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Padded<T>(pub(crate) T);

impl<T> std::ops::Deref for Padded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}
