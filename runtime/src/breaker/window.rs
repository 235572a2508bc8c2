//! The sliding window of a failure-rate breaker: the outcomes of the last N calls (a ring), or
//! of the calls that ended in the last T (ten time buckets), lock-free.
//!
//! - **The ring** keeps one outcome per slot and, in one word, the sums of the slots (calls,
//!   failures, slow calls), each in a field of 21 bits biased by 2^20. A recording takes the
//!   next slot (a counter), swaps its outcome in, and adds the difference between the new
//!   outcome and the one it replaced to the sums, in one `fetch_add`. Every change of a slot
//!   is added to the sums exactly once, so once the recordings in flight are done the sums are
//!   the slots' sums; between, a field may be off by the recordings in flight, and the bias keeps
//!   a transiently negative field from borrowing from its neighbour. A recording whose outcome
//!   the slot holds already changes nothing (as if it had come just before the one that wrote
//!   it), so a steady stream of successes costs a counter increment and a load.
//! - **The buckets** are ten words, each the counts (16 bits each: calls, failures, slow) of
//!   one tenth of the window, tagged with which lap of the ring of buckets they belong to (16
//!   bits). A recording adds to its bucket if the tag is its lap (or a later one: the clocks may
//!   disagree), and starts the bucket afresh otherwise, in one compare-and-swap. The window's sums
//!   are the buckets whose tags match the last ten tenths. A bucket saturates at 65,535 calls
//!   (later calls of that tenth are not counted) A tag is 16 bits: a bucket left untouched for exactly a
//!   multiple of 65,536 windows (a 60 s window: 45 days without a call in that tenth) would be
//!   taken for current (its old counts read, and added to) for that one tenth.
//!
//! Clearing (when the breaker closes) swaps every slot or bucket empty and takes what it held
//! off the sums, with the same protocol as a recording, so it cannot undo a recording it races.

use std::time::Duration;

use crate::clock::{duration_to_nanos, Nanos};
use crate::sync::{AtomicU32, AtomicU64, Ordering};

/// An outcome: a call (always), a failure, a slow call.
pub(crate) const CALL: u32 = 1;
pub(crate) const FAILED: u32 = 2;
pub(crate) const SLOW: u32 = 4;

/// The ring's fields: 21 bits each, biased by 2^20.
const FIELD: u32 = 21;
const BIAS: u64 = 1 << 20;
const BIASED: u64 = BIAS | (BIAS << FIELD) | (BIAS << (2 * FIELD));

/// Buckets of a time window.
pub(crate) const BUCKETS: u64 = 10;

/// What a window holds: calls, failures among them, slow calls among them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Sums {
    pub(crate) calls: u64,
    pub(crate) failures: u64,
    pub(crate) slow: u64,
}

/// Outcome `o` spread over the ring's fields.
const fn spread(o: u32) -> u64 {
    let o = o as u64;
    (o & 1) | (((o >> 1) & 1) << FIELD) | (((o >> 2) & 1) << (2 * FIELD))
}

/// The sums of the ring's word `w`, each clamped to `0..=n`.
fn unpack(w: u64, n: u64) -> Sums {
    let field = |i: u32| {
        ((w >> (i * FIELD)) & ((1 << FIELD) - 1))
            .saturating_sub(BIAS)
            .min(n)
    };
    Sums {
        calls: field(0),
        failures: field(1),
        slow: field(2),
    }
}

/// Counts of a bucket word, and its tag.
const fn bucket_tag(w: u64) -> u64 {
    w >> 48
}
const fn bucket(tag: u64, calls: u64, failures: u64, slow: u64) -> u64 {
    ((tag & 0xffff) << 48) | (slow << 32) | (failures << 16) | calls
}
const fn bucket_spread(o: u32) -> u64 {
    let o = o as u64;
    (o & 1) | (((o >> 1) & 1) << 16) | (((o >> 2) & 1) << 32)
}

/// The sliding window.
#[derive(Debug)]
pub(crate) enum Window {
    /// The last `slots.len()` calls.
    Ring {
        slots: Box<[AtomicU32]>,
        next: AtomicU64,
        sums: AtomicU64,
    },
    /// The calls that ended in the last ten `width`s.
    Time {
        buckets: Box<[AtomicU64]>,
        width: Nanos,
    },
}

impl Window {
    /// A ring of `n` calls (at least 1).
    pub(crate) fn calls(n: u32) -> Self {
        Window::Ring {
            slots: (0..n.max(1)).map(|_| AtomicU32::new(0)).collect(),
            next: AtomicU64::new(0),
            sums: AtomicU64::new(BIASED),
        }
    }

    /// Ten buckets over `d`.
    pub(crate) fn time(d: Duration) -> Self {
        Window::Time {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            width: (duration_to_nanos(d) / BUCKETS).max(1),
        }
    }

    /// Whether recordings need the time they ended at.
    pub(crate) fn timed(&self) -> bool {
        matches!(self, Window::Time { .. })
    }

    /// Records outcome `o` (a combination of [`CALL`], [`FAILED`], [`SLOW`]) of a call that
    /// ended at `now`. Returns whether the window should be judged now: a failure or a slow call
    /// was recorded, or a ring that is still filling up took a call.
    #[inline]
    pub(crate) fn record(&self, o: u32, now: Nanos) -> bool {
        match self {
            Window::Ring { slots, next, sums } => {
                #[allow(clippy::cast_possible_truncation)] // less than the slots' count
                let i = (next.fetch_add(1, Ordering::Relaxed) % slots.len() as u64) as usize;
                let slot = &slots[i];
                // the slot holds this outcome already: as if this call came just before the one
                // that wrote it
                if slot.load(Ordering::Acquire) == o {
                    return o != CALL;
                }
                let old = slot.swap(o, Ordering::AcqRel);
                if old != o {
                    sums.fetch_add(spread(o).wrapping_sub(spread(old)), Ordering::AcqRel);
                }
                o != CALL || old == 0
            }
            Window::Time { buckets, width } => {
                let epoch = now / width;
                let lap = (epoch / BUCKETS) & 0xffff;
                #[allow(clippy::cast_possible_truncation)] // less than BUCKETS
                let b = &buckets[(epoch % BUCKETS) as usize];
                let _ = b.fetch_update(Ordering::AcqRel, Ordering::Acquire, |w| {
                    #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
                    let ahead = (bucket_tag(w) as u16).wrapping_sub(lap as u16) as i16 >= 0;
                    if w != 0 && ahead {
                        // this lap's bucket (or a later one's: the clocks disagree)
                        (w & 0xffff < 0xffff).then(|| w + bucket_spread(o))
                    } else {
                        Some(bucket(lap, 0, 0, 0) + bucket_spread(o))
                    }
                });
                o != CALL
            }
        }
    }

    /// What the window holds at `now`.
    pub(crate) fn sums(&self, now: Nanos) -> Sums {
        match self {
            Window::Ring { slots, sums, .. } => {
                unpack(sums.load(Ordering::Acquire), slots.len() as u64)
            }
            Window::Time { buckets, width } => {
                let epoch = now / width;
                let mut s = Sums::default();
                for k in 0..BUCKETS.min(epoch + 1) {
                    let e = epoch - k;
                    #[allow(clippy::cast_possible_truncation)] // less than BUCKETS
                    let w = buckets[(e % BUCKETS) as usize].load(Ordering::Acquire);
                    if w != 0 && bucket_tag(w) == (e / BUCKETS) & 0xffff {
                        s.calls += w & 0xffff;
                        s.failures += (w >> 16) & 0xffff;
                        s.slow += (w >> 32) & 0xffff;
                    }
                }
                s
            }
        }
    }

    /// The sums of a ring's slots, read one by one (for the models: once no recording is in
    /// flight, they must be the sums its word holds).
    #[cfg(any(test, loom))]
    pub(crate) fn slot_sums(&self) -> Sums {
        let Window::Ring { slots, .. } = self else {
            return Sums::default();
        };
        let mut s = Sums::default();
        for slot in &**slots {
            let o = u64::from(slot.load(Ordering::Acquire));
            s.calls += o & 1;
            s.failures += (o >> 1) & 1;
            s.slow += (o >> 2) & 1;
        }
        s
    }

    /// Empties the window.
    pub(crate) fn clear(&self) {
        match self {
            Window::Ring { slots, sums, .. } => {
                for slot in &**slots {
                    let old = slot.swap(0, Ordering::AcqRel);
                    if old != 0 {
                        sums.fetch_add(0u64.wrapping_sub(spread(old)), Ordering::AcqRel);
                    }
                }
            }
            Window::Time { buckets, .. } => {
                for b in &**buckets {
                    b.store(0, Ordering::Release);
                }
            }
        }
    }
}
