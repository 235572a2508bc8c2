//! Bulkhead: at most N calls in flight; the next one is turned away at once.

use crate::sync::{AtomicU64, AtomicUsize, Ordering, Padded};

/// Counts the calls in flight of a policy and bounds them.
///
/// Every policy counts its calls in flight (for [`Signals::inflight`](crate::Signals::inflight));
/// only one with `max_inflight` turns calls away.
#[derive(Debug)]
pub(crate) struct Bulkhead {
    limit: usize,
    /// Written by every call: kept off the cache lines the other parts read.
    line: Padded<Line>,
}

/// What every call writes, on one line.
#[derive(Debug)]
struct Line {
    inflight: AtomicUsize,
    /// Attempts that succeeded, since the policy was created.
    succeeded: AtomicU64,
}

impl Bulkhead {
    pub(crate) fn new(limit: Option<usize>) -> Self {
        Bulkhead {
            limit: limit.unwrap_or(usize::MAX),
            line: Padded(Line {
                inflight: AtomicUsize::new(0),
                succeeded: AtomicU64::new(0),
            }),
        }
    }

    /// Takes a slot, or returns the limit when every slot is taken. A compare-and-swap rather
    /// than an add-then-undo, so that a call turned away never makes a concurrent call see a
    /// full bulkhead that is not.
    #[inline]
    pub(crate) fn enter(&self) -> Result<Slot<'_>, usize> {
        if self.limit == usize::MAX {
            // no bulkhead, only the count
            self.line.inflight.fetch_add(1, Ordering::Relaxed);
            return Ok(Slot { bulkhead: self });
        }
        let mut n = self.line.inflight.load(Ordering::Relaxed);
        loop {
            if n >= self.limit {
                return Err(self.limit);
            }
            match self.line.inflight.compare_exchange_weak(
                n,
                n + 1,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(Slot { bulkhead: self }),
                Err(actual) => n = actual,
            }
        }
    }

    pub(crate) fn inflight(&self) -> usize {
        self.line.inflight.load(Ordering::Acquire)
    }

    /// Counts a success whose slot was given back already.
    pub(crate) fn count_success(&self) {
        self.line.succeeded.fetch_add(1, Ordering::Relaxed);
    }

    /// Attempts that succeeded.
    pub(crate) fn succeeded(&self) -> u64 {
        self.line.succeeded.load(Ordering::Relaxed)
    }

    pub(crate) fn limit(&self) -> Option<usize> {
        (self.limit != usize::MAX).then_some(self.limit)
    }
}

/// A slot in the bulkhead, given back when dropped: on success, error, panic, or when the future
/// holding it is dropped.
#[derive(Debug)]
pub(crate) struct Slot<'a> {
    bulkhead: &'a Bulkhead,
}

impl Slot<'_> {
    /// Gives the slot back after a success, counting it (on the line the slot is on).
    #[inline]
    pub(crate) fn succeeded(self) {
        self.bulkhead.line.succeeded.fetch_add(1, Ordering::Relaxed);
    }
}

impl Drop for Slot<'_> {
    #[inline]
    fn drop(&mut self) {
        self.bulkhead.line.inflight.fetch_sub(1, Ordering::Release);
    }
}
