//! Every atomic and lock of the runtime comes through here, so a `loom` model check can swap
//! them in under `cfg(loom)` without touching the parts.

pub(crate) use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
pub(crate) use std::sync::{Arc, Mutex, MutexGuard};

/// Locks a mutex, recovering the data of a poisoned one: every critical section of the runtime
/// leaves its data consistent, and a panic elsewhere must not stop the policies.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
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
