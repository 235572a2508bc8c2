//! What the attribute tests share: an error type, and counters.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// A service's error: a numbered failure, or a rejection by the policy.
#[derive(Debug, Clone, PartialEq)]
pub enum Fail {
    Boom(u32),
    Fatal,
    Staunch(staunch::Error),
}

impl From<staunch::Error> for Fail {
    fn from(e: staunch::Error) -> Self {
        Fail::Staunch(e)
    }
}

impl Fail {
    pub fn is_circuit_open(&self) -> bool {
        matches!(self, Fail::Staunch(staunch::Error::CircuitOpen { .. }))
    }
    pub fn is_rate_limited(&self) -> bool {
        matches!(self, Fail::Staunch(staunch::Error::RateLimited { .. }))
    }
    pub fn is_bulkhead_full(&self) -> bool {
        matches!(self, Fail::Staunch(staunch::Error::BulkheadFull { .. }))
    }
    pub fn is_timeout(&self) -> bool {
        matches!(self, Fail::Staunch(staunch::Error::Timeout { .. }))
    }
}

/// Counts calls; `next()` returns the 1-based number of this call.
pub struct Counter(AtomicU32);

impl Counter {
    pub const fn new() -> Self {
        Counter(AtomicU32::new(0))
    }
    pub fn next(&self) -> u32 {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }
    pub fn get(&self) -> u32 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Time since `t0` on a mock clock.
pub fn since(clock: &staunch::MockClock, t0: Duration) -> Duration {
    clock.elapsed().saturating_sub(t0)
}
