//! Rate limiter: GCRA (a token bucket kept as one "theoretical arrival time").
//!
//! A bucket of `burst` tokens refilled at one token every `interval` is the single number
//! `tat`: the instant at which the bucket would be full again. A call at `now` takes a token
//! when `max(tat, now) + interval - now <= burst * interval`; otherwise it may reserve the next
//! token and wait for it. A bucket whose `tat` lies in the past is full, which is why a keyed
//! limiter may forget such a bucket without any key gaining tokens by it.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::time::Duration;

use crate::clock::{duration_to_nanos, Nanos};
use crate::sync::{lock, AtomicU64, AtomicUsize, Mutex, Ordering, Padded};

/// The rules of one bucket, in nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Gcra {
    /// Time to refill one token.
    pub(crate) interval: Nanos,
    /// `burst * interval`: how far ahead of `now` the arrival time may run.
    pub(crate) tolerance: Nanos,
    /// The bucket's size in tokens.
    burst: u64,
}

/// The outcome of asking for one token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Take {
    /// A token is reserved; wait this long before using it (zero: use it now).
    Wait(Nanos),
    /// No token within the wait bound; one would come after this long. Nothing was taken.
    Refused(Nanos),
}

impl Gcra {
    /// `rate` tokens per `per`, `burst` at most, rounded so the limiter never admits more than
    /// `burst + rate * elapsed`.
    pub(crate) fn new(rate: f64, per: Duration, burst: u32) -> Self {
        let interval = ((per.as_nanos() as f64 / rate).ceil() as u64).max(1);
        let burst = u64::from(burst.max(1));
        Gcra {
            interval,
            tolerance: interval.saturating_mul(burst),
            burst,
        }
    }

    /// Decides a request for `cost` tokens against arrival time `tat`: the new `tat`, if it
    /// takes them.
    #[inline]
    pub(crate) fn decide(
        self,
        tat: Nanos,
        now: Nanos,
        cost: u64,
        max_wait: Nanos,
    ) -> (Option<Nanos>, Take) {
        if cost > self.burst() {
            // more than the bucket holds: no wait would ever be enough
            return (None, Take::Refused(u64::MAX));
        }
        let next = tat
            .max(now)
            .saturating_add(self.interval.saturating_mul(cost));
        let wait = next.saturating_sub(now).saturating_sub(self.tolerance);
        if wait <= max_wait {
            (Some(next), Take::Wait(wait))
        } else {
            (None, Take::Refused(wait))
        }
    }

    /// The bucket's size in tokens.
    pub(crate) fn burst(self) -> u64 {
        self.burst
    }

    /// The arrival time after `delta` tokens are charged (positive) or refunded (negative).
    pub(crate) fn adjust(self, tat: Nanos, delta: i64) -> Nanos {
        let by = self.interval.saturating_mul(delta.unsigned_abs());
        if delta >= 0 {
            tat.saturating_add(by)
        } else {
            tat.saturating_sub(by)
        }
    }

    /// The arrival time once the provider has said how many tokens are left (`remaining`) and
    /// when its window resets: never looser than `tat`.
    pub(crate) fn learn(
        self,
        tat: Nanos,
        now: Nanos,
        remaining: Option<u64>,
        reset: Option<Nanos>,
    ) -> Nanos {
        let mut tat = tat;
        if let Some(remaining) = remaining {
            let backlog = self
                .tolerance
                .saturating_sub(self.interval.saturating_mul(remaining));
            tat = tat.max(now.saturating_add(backlog));
            if remaining == 0 {
                if let Some(reset) = reset {
                    // the first token comes when the window resets
                    let first = now
                        .saturating_add(reset)
                        .saturating_add(self.tolerance)
                        .saturating_sub(self.interval);
                    tat = tat.max(first);
                }
            }
        }
        tat
    }

    /// Tokens available at `now` for arrival time `tat` (fractional).
    pub(crate) fn remaining(self, tat: Nanos, now: Nanos) -> f64 {
        let backlog = tat.saturating_sub(now);
        self.tolerance.saturating_sub(backlog) as f64 / self.interval as f64
    }
}

/// One bucket shared by every call of the policy.
#[derive(Debug)]
pub(crate) struct Direct {
    pub(crate) gcra: Gcra,
    /// Written by every call: kept off the cache lines the other parts read.
    tat: Padded<AtomicU64>,
}

impl Direct {
    pub(crate) fn new(gcra: Gcra) -> Self {
        Direct {
            gcra,
            tat: Padded(AtomicU64::new(0)),
        }
    }

    #[inline]
    pub(crate) fn take(&self, now: Nanos, cost: u64, max_wait: Nanos) -> Take {
        let mut tat = self.tat.load(Ordering::Acquire);
        loop {
            match self.gcra.decide(tat, now, cost, max_wait) {
                (Some(next), take) => {
                    match self.tat.compare_exchange_weak(
                        tat,
                        next,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    ) {
                        Ok(_) => return take,
                        Err(actual) => tat = actual,
                    }
                }
                (None, take) => return take,
            }
        }
    }

    /// Charges (positive) or refunds (negative) `delta` tokens.
    pub(crate) fn adjust(&self, delta: i64) {
        let _ = self
            .tat
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |tat| {
                Some(self.gcra.adjust(tat, delta))
            });
    }

    /// Tightens the bucket to what the provider reported.
    pub(crate) fn learn(&self, now: Nanos, remaining: Option<u64>, reset: Option<Nanos>) {
        let _ = self
            .tat
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |tat| {
                Some(self.gcra.learn(tat, now, remaining, reset))
            });
    }

    pub(crate) fn check(&self, now: Nanos) -> Result<(), Nanos> {
        match self
            .gcra
            .decide(self.tat.load(Ordering::Acquire), now, 1, 0)
        {
            (Some(_), _) => Ok(()),
            (None, Take::Refused(w) | Take::Wait(w)) => Err(w),
        }
    }

    pub(crate) fn remaining(&self, now: Nanos) -> f64 {
        self.gcra.remaining(self.tat.load(Ordering::Acquire), now)
    }

    pub(crate) fn reset(&self) {
        self.tat.store(0, Ordering::Release);
    }
}

/// Keys are stored as their 64-bit hash, which is already well mixed: hash it no further.
#[derive(Default, Clone, Copy)]
pub(crate) struct PreHashed(u64);

impl Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Shard = HashMap<u64, Nanos, BuildHasherDefault<PreHashed>>;
/// A shard's map, and the size at which it next sweeps out its full buckets.
type Locked = Mutex<(Shard, usize)>;

/// How many shards a keyed limiter has: four per CPU, a power of two, as `dashmap` (governor's
/// keyed store) chooses; at least 4, at most 1024.
fn shard_count() -> usize {
    std::thread::available_parallelism()
        .map_or(4, usize::from)
        .saturating_mul(4)
        .next_power_of_two()
        .clamp(4, 1024)
}

/// A shard sweeps out full buckets when it has grown to twice its size after the last sweep
/// (and at least this many), so sweeping costs O(1) a call, amortized.
const MIN_SWEEP: usize = 4096;

/// One bucket per key, in sharded maps; full buckets are forgotten.
///
/// Keys are kept as a 64-bit hash (see `key_hash`): two keys whose hashes collide share a bucket,
/// which can only make the limiter stricter, never looser.
#[derive(Debug)]
pub(crate) struct Keyed {
    pub(crate) gcra: Gcra,
    /// Each on its own cache lines, so that threads on different shards do not slow each other.
    shards: Box<[Padded<Locked>]>,
    /// `64 - log2(shards)`: the top bits of a key pick its shard.
    shift: u32,
    len: AtomicUsize,
}

impl Keyed {
    pub(crate) fn new(gcra: Gcra) -> Self {
        let shards = shard_count();
        Keyed {
            gcra,
            shards: (0..shards)
                .map(|_| Padded(Mutex::new((Shard::default(), MIN_SWEEP))))
                .collect(),
            shift: 64 - shards.trailing_zeros(),
            len: AtomicUsize::new(0),
        }
    }

    fn shard(&self, key: u64) -> &Locked {
        // The top bits pick the shard; the map uses the low ones.
        #[allow(clippy::cast_possible_truncation)] // below the number of shards
        &self.shards[(key >> self.shift) as usize]
    }

    pub(crate) fn take(&self, key: u64, now: Nanos, max_wait: Nanos) -> Take {
        let mut guard = lock(self.shard(key));
        let (map, sweep_at) = &mut *guard;
        // one probe: the bucket is found (or its place is) once
        match map.entry(key) {
            Entry::Occupied(mut bucket) => {
                let (next, take) = self.gcra.decide(*bucket.get(), now, 1, max_wait);
                if let Some(next) = next {
                    *bucket.get_mut() = next;
                }
                take
            }
            Entry::Vacant(place) => {
                // a forgotten (or new) key's bucket is full
                let (next, take) = self.gcra.decide(0, now, 1, max_wait);
                if let Some(next) = next {
                    place.insert(next);
                    self.len.fetch_add(1, Ordering::Relaxed);
                    if map.len() >= *sweep_at {
                        Self::sweep_shard(map, sweep_at, now, &self.len);
                    }
                }
                take
            }
        }
    }

    /// Forgets the full buckets of one shard.
    #[cold]
    fn sweep_shard(map: &mut Shard, sweep_at: &mut usize, now: Nanos, len: &AtomicUsize) {
        let before = map.len();
        map.retain(|_, tat| *tat > now);
        len.fetch_sub(before - map.len(), Ordering::Relaxed);
        *sweep_at = (map.len() * 2).max(MIN_SWEEP);
        if map.capacity() > 4 * map.len().max(MIN_SWEEP) {
            map.shrink_to(2 * map.len());
        }
    }

    pub(crate) fn check(&self, key: u64, now: Nanos) -> Result<(), Nanos> {
        let tat = lock(self.shard(key)).0.get(&key).copied().unwrap_or(0);
        match self.gcra.decide(tat, now, 1, 0) {
            (Some(_), _) => Ok(()),
            (None, Take::Refused(w) | Take::Wait(w)) => Err(w),
        }
    }

    /// Gives back the token `key` just took.
    pub(crate) fn undo(&self, key: u64) {
        if let Some(tat) = lock(self.shard(key)).0.get_mut(&key) {
            *tat = self.gcra.adjust(*tat, -1);
        }
    }

    /// Keys currently remembered (full buckets not swept yet included).
    pub(crate) fn keys(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Forgets every key whose bucket is full at `now`; returns how many remain.
    #[cfg(test)]
    pub(crate) fn sweep(&self, now: Nanos) -> usize {
        for shard in &*self.shards {
            let mut guard = lock(shard);
            let before = guard.0.len();
            guard.0.retain(|_, tat| *tat > now);
            let after = guard.0.len();
            guard.1 = (after * 2).max(MIN_SWEEP);
            self.len.fetch_sub(before - after, Ordering::Relaxed);
        }
        self.keys()
    }

    pub(crate) fn reset(&self) {
        for shard in &*self.shards {
            let mut guard = lock(shard);
            self.len.fetch_sub(guard.0.len(), Ordering::Relaxed);
            guard.0 = Shard::default();
            guard.1 = MIN_SWEEP;
        }
    }
}

/// A policy's limiter.
#[derive(Debug)]
// One per policy: boxing the padded direct bucket would cost a pointer chase on every call.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Limiter {
    Direct(Direct),
    Keyed(Keyed),
}

impl Limiter {
    pub(crate) fn new(rate: f64, per: Duration, burst: u32, keyed: bool) -> Self {
        let gcra = Gcra::new(rate, per, burst);
        if keyed {
            Limiter::Keyed(Keyed::new(gcra))
        } else {
            Limiter::Direct(Direct::new(gcra))
        }
    }

    #[inline]
    pub(crate) fn take(&self, key: u64, now: Nanos, max_wait: Nanos) -> Take {
        match self {
            Limiter::Direct(d) => d.take(now, 1, max_wait),
            Limiter::Keyed(k) => k.take(key, now, max_wait),
        }
    }

    /// Gives back the token a request for `key` just took.
    pub(crate) fn undo(&self, key: u64) {
        match self {
            Limiter::Direct(d) => d.adjust(-1),
            Limiter::Keyed(k) => k.undo(key),
        }
    }

    pub(crate) fn check(&self, key: u64, now: Nanos) -> Result<(), Nanos> {
        match self {
            Limiter::Direct(d) => d.check(now),
            Limiter::Keyed(k) => k.check(key, now),
        }
    }

    pub(crate) fn reset(&self) {
        match self {
            Limiter::Direct(d) => d.reset(),
            Limiter::Keyed(k) => k.reset(),
        }
    }
}

/// `max_wait` for a bound, or unbounded.
pub(crate) fn max_wait(wait: Option<Duration>) -> Nanos {
    wait.map_or(u64::MAX, duration_to_nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000_000;

    #[test]
    fn a_full_bucket_admits_burst_then_one_per_interval() {
        let g = Gcra::new(2.0, Duration::from_secs(1), 3);
        let d = Direct::new(g);
        let t0 = 10 * SEC;
        for _ in 0..3 {
            assert_eq!(d.take(t0, 1, 0), Take::Wait(0));
        }
        assert_eq!(d.take(t0, 1, 0), Take::Refused(SEC / 2));
        // at the bucket's edge: exactly one interval later, exactly one token
        assert_eq!(d.take(t0 + SEC / 2, 1, 0), Take::Wait(0));
        assert_eq!(d.take(t0 + SEC / 2, 1, 0), Take::Refused(SEC / 2));
    }

    #[test]
    fn a_wait_bound_just_met_reserves_and_just_missed_refuses() {
        let g = Gcra::new(1.0, Duration::from_secs(1), 1);
        let d = Direct::new(g);
        assert_eq!(d.take(SEC, 1, 0), Take::Wait(0));
        assert_eq!(d.take(SEC, 1, SEC - 1), Take::Refused(SEC));
        assert_eq!(d.take(SEC, 1, SEC), Take::Wait(SEC));
        // the reservation counts: the next one waits two intervals
        assert_eq!(d.take(SEC, 1, 2 * SEC), Take::Wait(2 * SEC));
    }

    #[test]
    fn rpm_refills_once_a_minute_per_token() {
        let g = Gcra::new(60.0, Duration::from_secs(60), 1);
        assert_eq!(g.interval, SEC);
    }

    #[test]
    fn forgotten_keys_gain_nothing() {
        let k = Keyed::new(Gcra::new(1.0, Duration::from_secs(1), 1));
        for key in 0..5000u64 {
            let key = key.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            assert_eq!(k.take(key, SEC, 0), Take::Wait(0));
        }
        // still empty: nothing may be swept, every key keeps its empty bucket
        assert_eq!(k.sweep(SEC), 5000);
        assert_eq!(k.take(0, SEC, 0), Take::Refused(SEC));
        // full again: all swept, and a forgotten key starts full, as it would have been
        assert_eq!(k.sweep(2 * SEC), 0);
        assert_eq!(k.take(0, 2 * SEC, 0), Take::Wait(0));
        assert_eq!(k.take(0, 2 * SEC, 0), Take::Refused(SEC));
    }
}

#[cfg(test)]
mod cost_tests {
    use super::*;

    const SEC: u64 = 1_000_000_000;

    #[test]
    fn costs_refunds_and_charges() {
        // 60 tokens a minute, a minute's worth of burst
        let d = Direct::new(Gcra::new(60.0, Duration::from_secs(60), 60));
        assert_eq!(d.take(SEC, 50, 0), Take::Wait(0));
        assert_eq!(d.take(SEC, 20, 0), Take::Refused(10 * SEC));
        d.adjust(-30); // the call used 20, not 50
        assert_eq!(d.take(SEC, 20, 0), Take::Wait(0));
        d.adjust(5); // it used 25: 45 of 60 gone
        assert_eq!(d.take(SEC, 16, 0), Take::Refused(SEC));
        assert_eq!(d.take(SEC, 15, 0), Take::Wait(0));
        assert_eq!(
            d.take(SEC, 61, u64::MAX),
            Take::Refused(u64::MAX),
            "more than the bucket holds"
        );
    }

    #[test]
    fn learning_only_tightens() {
        let d = Direct::new(Gcra::new(10.0, Duration::from_secs(1), 10));
        d.learn(SEC, Some(3), None);
        assert_eq!(d.remaining(SEC), 3.0);
        d.learn(SEC, Some(8), None);
        assert_eq!(d.remaining(SEC), 3.0);
        d.learn(SEC, Some(0), Some(2 * SEC));
        assert_eq!(d.check(SEC), Err(2 * SEC));
        assert_eq!(d.check(3 * SEC), Ok(()));
    }
}
