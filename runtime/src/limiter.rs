//! Rate limiter: GCRA (a token bucket kept as one "theoretical arrival time").
//!
//! A bucket of `burst` tokens refilled at one token every `interval` is the single number
//! `tat`: the instant at which the bucket would be full again. A call at `now` takes a token
//! when `max(tat, now) + interval - now <= burst * interval`; otherwise it may reserve the next
//! token and wait for it. A bucket whose `tat` lies in the past is full, which is why a keyed
//! limiter may forget such a bucket without any key gaining tokens by it.
//!
//! Every operation is a pure decision over a bucket's `tat` ([`Gcra`]), applied by the one
//! compare-and-swap loop of its store ([`Store::measure_and_replace`], as governor's
//! `StateStore` does): the direct store is one atomic, the keyed store a map per shard.

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
    pub(crate) burst: u64,
}

/// A request's verdict: `Ok(wait)`, the tokens are reserved, use them after `wait` (zero: now);
/// `Err(after)`, nothing was taken, and the tokens would come after `after`.
pub(crate) type Verdict = Result<Nanos, Nanos>;

impl Gcra {
    /// `rate` tokens per `per`, `burst` at most, rounded so the limiter never admits more than
    /// `burst + rate * elapsed`.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // saturating casts
    pub(crate) fn new(rate: f64, per: Duration, burst: u32) -> Self {
        let interval = ((per.as_nanos() as f64 / rate).ceil() as u64).max(1);
        let burst = u64::from(burst.max(1));
        Gcra {
            interval,
            tolerance: interval.saturating_mul(burst),
            burst,
        }
    }

    /// Decides a request for `cost` tokens against arrival time `tat`: the verdict, and the new
    /// `tat` if it takes them.
    #[inline]
    pub(crate) fn decide(
        self,
        tat: Nanos,
        now: Nanos,
        cost: u64,
        max_wait: Nanos,
    ) -> (Verdict, Option<Nanos>) {
        if cost > self.burst {
            // more than the bucket holds: no wait would ever be enough
            return (Err(u64::MAX), None);
        }
        // past the end of the time base (a rate so small that its tokens never come): refused,
        // never admitted by a saturated sum
        let Some(next) = self
            .interval
            .checked_mul(cost)
            .and_then(|need| tat.max(now).checked_add(need))
        else {
            return (Err(u64::MAX), None);
        };
        let wait = next.saturating_sub(now).saturating_sub(self.tolerance);
        if wait <= max_wait {
            (Ok(wait), Some(next))
        } else {
            (Err(wait), None)
        }
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
        let Some(remaining) = remaining else {
            return tat;
        };
        let backlog = self
            .tolerance
            .saturating_sub(self.interval.saturating_mul(remaining));
        let mut tat = tat.max(now.saturating_add(backlog));
        if let (0, Some(reset)) = (remaining, reset) {
            // the first token comes when the window resets
            let first = now
                .saturating_add(reset)
                .saturating_add(self.tolerance)
                .saturating_sub(self.interval);
            tat = tat.max(first);
        }
        tat
    }

    /// Tokens available at `now` for arrival time `tat` (fractional).
    #[allow(clippy::cast_precision_loss)] // a fraction of tokens, for display
    pub(crate) fn remaining(self, tat: Nanos, now: Nanos) -> f64 {
        let backlog = tat.saturating_sub(now);
        self.tolerance.saturating_sub(backlog) as f64 / self.interval as f64
    }
}

/// Where the arrival times live.
#[derive(Debug)]
// One per policy: boxing the padded direct bucket would cost a pointer chase on every call.
#[allow(clippy::large_enum_variant)]
enum Store {
    /// One bucket shared by every call; written by every call, so kept off the cache lines the
    /// other parts read.
    Direct(Padded<AtomicU64>),
    /// One bucket per key.
    Keyed(Keyed),
}

impl Store {
    /// Reads the arrival time of `key`'s bucket, lets `decide` judge it, and stores the new
    /// arrival time `decide` gives (none: the bucket is left as it was); what `decide` returns
    /// is the outcome. Every operation of the limiter goes through here or through the two
    /// functions it dispatches to. `decide` may run more than once (a lost compare-and-swap).
    /// `now` is when the decision is made: a keyed store forgets the buckets that are full by
    /// then.
    fn measure_and_replace<T>(
        &self,
        key: u64,
        now: Nanos,
        decide: impl FnMut(Nanos) -> (T, Option<Nanos>),
    ) -> T {
        match self {
            Store::Direct(tat) => replace_direct(tat, decide),
            Store::Keyed(k) => k.measure_and_replace(key, now, decide),
        }
    }
}

/// [`Store::measure_and_replace`] for the direct store: the compare-and-swap loop.
#[inline(always)]
fn replace_direct<T>(tat: &AtomicU64, mut decide: impl FnMut(Nanos) -> (T, Option<Nanos>)) -> T {
    let mut current = tat.load(Ordering::Acquire);
    loop {
        let (out, next) = decide(current);
        let Some(next) = next else { return out };
        match tat.compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return out,
            Err(actual) => current = actual,
        }
    }
}

/// A rate limiter: the rules of its buckets, and where they live.
#[derive(Debug)]
pub(crate) struct Limiter {
    gcra: Gcra,
    store: Store,
}

impl Limiter {
    /// `rate` tokens per `per`, `burst` at most; one bucket per key when `keyed`.
    pub(crate) fn new(rate: f64, per: Duration, burst: u32, keyed: bool) -> Self {
        let gcra = Gcra::new(rate, per, burst);
        Limiter {
            gcra,
            store: if keyed {
                Store::Keyed(Keyed::new())
            } else {
                Store::Direct(Padded(AtomicU64::new(0)))
            },
        }
    }

    /// Asks `key`'s bucket for `cost` tokens at `now`, waiting at most `max_wait` for them; with
    /// `TAKE` false, only looks (a preflight): nothing is reserved.
    #[inline]
    pub(crate) fn take<const TAKE: bool>(
        &self,
        key: u64,
        now: Nanos,
        cost: u64,
        max_wait: Nanos,
    ) -> Verdict {
        let request = self.request::<TAKE>(now, cost, max_wait);
        match &self.store {
            Store::Direct(tat) => replace_direct(tat, request),
            Store::Keyed(k) => k.replace_out_of_line(key, now, request),
        }
    }

    /// One token for `key` (a request, as opposed to a cost in tokens): [`take`](Self::take)
    /// with a cost known where the keyed store is reached.
    #[inline]
    pub(crate) fn take_one<const TAKE: bool>(
        &self,
        key: u64,
        now: Nanos,
        max_wait: Nanos,
    ) -> Verdict {
        match &self.store {
            Store::Direct(tat) => replace_direct(tat, self.request::<TAKE>(now, 1, max_wait)),
            Store::Keyed(k) => self.take_one_keyed::<TAKE>(k, key, now, max_wait),
        }
    }

    /// [`take_one`](Self::take_one) from the keyed store: its map stays out of the caller's code.
    #[inline(never)]
    fn take_one_keyed<const TAKE: bool>(
        &self,
        k: &Keyed,
        key: u64,
        now: Nanos,
        max_wait: Nanos,
    ) -> Verdict {
        k.measure_and_replace(key, now, self.request::<TAKE>(now, 1, max_wait))
    }

    /// The one decision of a request for `cost` tokens at `now`, for either store.
    #[inline(always)]
    fn request<const TAKE: bool>(
        &self,
        now: Nanos,
        cost: u64,
        max_wait: Nanos,
    ) -> impl FnMut(Nanos) -> (Verdict, Option<Nanos>) + '_ {
        move |tat| {
            let (verdict, next) = self.gcra.decide(tat, now, cost, max_wait);
            (verdict, next.filter(|_| TAKE))
        }
    }

    /// Charges (positive) or refunds (negative) `delta` tokens to `key`'s bucket.
    #[inline(never)]
    pub(crate) fn adjust(&self, key: u64, delta: i64) {
        // no time: nothing is swept
        self.store
            .measure_and_replace(key, 0, |tat| ((), Some(self.gcra.adjust(tat, delta))));
    }

    /// Tightens the bucket to what the provider reported. No effect on a keyed limiter: the
    /// provider's limits are not per key.
    pub(crate) fn learn(&self, now: Nanos, remaining: Option<u64>, reset: Option<Nanos>) {
        if let Store::Direct(_) = self.store {
            self.store.measure_and_replace(0, now, |tat| {
                ((), Some(self.gcra.learn(tat, now, remaining, reset)))
            });
        }
    }

    /// Tokens left at `now`; `None` for a keyed limiter.
    pub(crate) fn remaining(&self, now: Nanos) -> Option<f64> {
        match &self.store {
            Store::Direct(tat) => Some(self.gcra.remaining(tat.load(Ordering::Acquire), now)),
            Store::Keyed(_) => None,
        }
    }

    /// Keys remembered now (full buckets not swept yet included); `None` for a direct limiter.
    pub(crate) fn keys(&self) -> Option<usize> {
        match &self.store {
            Store::Direct(_) => None,
            Store::Keyed(k) => Some(k.len.load(Ordering::Relaxed)),
        }
    }

    /// Every bucket full again.
    pub(crate) fn reset(&self) {
        match &self.store {
            Store::Direct(tat) => tat.store(0, Ordering::Release),
            Store::Keyed(k) => k.reset(),
        }
    }

    /// Forgets every key whose bucket is full at `now`; returns how many remain.
    #[cfg(test)]
    fn sweep(&self, now: Nanos) -> usize {
        let Store::Keyed(k) = &self.store else {
            return 0;
        };
        for shard in &*k.shards {
            let mut guard = lock(shard);
            let (map, sweep_at) = &mut *guard;
            Keyed::sweep_shard(map, sweep_at, now, &k.len);
        }
        k.len.load(Ordering::Relaxed)
    }
}

/// `max_wait` for a bound, or unbounded.
pub(crate) fn max_wait(wait: Option<Duration>) -> Nanos {
    wait.map_or(u64::MAX, duration_to_nanos)
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
pub(crate) fn shard_count() -> usize {
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
struct Keyed {
    /// Each on its own cache lines, so that threads on different shards do not slow each other.
    shards: Box<[Padded<Locked>]>,
    /// `64 - log2(shards)`: the top bits of a key pick its shard.
    shift: u32,
    len: AtomicUsize,
}

impl Keyed {
    fn new() -> Self {
        let shards = shard_count();
        Keyed {
            shards: (0..shards)
                .map(|_| Padded(Mutex::new((Shard::default(), MIN_SWEEP))))
                .collect(),
            shift: 64 - shards.trailing_zeros(),
            len: AtomicUsize::new(0),
        }
    }

    /// [`Store::measure_and_replace`] out of the caller's code.
    #[inline(never)]
    fn replace_out_of_line<T>(
        &self,
        key: u64,
        now: Nanos,
        decide: impl FnMut(Nanos) -> (T, Option<Nanos>),
    ) -> T {
        self.measure_and_replace(key, now, decide)
    }

    /// [`Store::measure_and_replace`] for one key, under its shard's lock.
    #[inline(always)]
    fn measure_and_replace<T>(
        &self,
        key: u64,
        now: Nanos,
        mut decide: impl FnMut(Nanos) -> (T, Option<Nanos>),
    ) -> T {
        // The top bits pick the shard; the map uses the low ones.
        #[allow(clippy::cast_possible_truncation)] // below the number of shards
        let shard = &self.shards[(key >> self.shift) as usize];
        let mut guard = lock(shard);
        let (map, sweep_at) = &mut *guard;
        // one probe: the bucket is found (or its place is) once
        match map.entry(key) {
            Entry::Occupied(mut bucket) => {
                let (out, next) = decide(*bucket.get());
                if let Some(next) = next {
                    *bucket.get_mut() = next;
                }
                out
            }
            Entry::Vacant(place) => {
                // a forgotten (or new) key's bucket is full
                let (out, next) = decide(0);
                if let Some(next) = next {
                    place.insert(next);
                    self.len.fetch_add(1, Ordering::Relaxed);
                    if map.len() >= *sweep_at {
                        Self::sweep_shard(map, sweep_at, now, &self.len);
                    }
                }
                out
            }
        }
    }

    /// Forgets the full buckets of one shard: those whose arrival time is not after `now`.
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

    fn reset(&self) {
        for shard in &*self.shards {
            let mut guard = lock(shard);
            self.len.fetch_sub(guard.0.len(), Ordering::Relaxed);
            guard.0 = Shard::default();
            guard.1 = MIN_SWEEP;
        }
    }
}

#[cfg(all(test, not(loom)))]
mod props;

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000_000;

    fn direct(rate: f64, per: u64, burst: u32) -> Limiter {
        Limiter::new(rate, Duration::from_secs(per), burst, false)
    }

    /// Takes `cost` tokens.
    fn take(l: &Limiter, now: Nanos, cost: u64, max_wait: Nanos) -> Verdict {
        l.take::<true>(0, now, cost, max_wait)
    }

    /// Would a request for one token pass now, without waiting? Takes nothing.
    fn look(l: &Limiter, key: u64, now: Nanos) -> Verdict {
        l.take::<false>(key, now, 1, 0)
    }

    #[test]
    fn a_full_bucket_admits_burst_then_one_per_interval() {
        let d = direct(2.0, 1, 3);
        let t0 = 10 * SEC;
        for _ in 0..3 {
            assert_eq!(take(&d, t0, 1, 0), Ok(0));
        }
        assert_eq!(take(&d, t0, 1, 0), Err(SEC / 2));
        // at the bucket's edge: exactly one interval later, exactly one token
        assert_eq!(take(&d, t0 + SEC / 2, 1, 0), Ok(0));
        assert_eq!(take(&d, t0 + SEC / 2, 1, 0), Err(SEC / 2));
    }

    #[test]
    fn a_wait_bound_just_met_reserves_and_just_missed_refuses() {
        let d = direct(1.0, 1, 1);
        assert_eq!(take(&d, SEC, 1, 0), Ok(0));
        assert_eq!(take(&d, SEC, 1, SEC - 1), Err(SEC));
        assert_eq!(take(&d, SEC, 1, SEC), Ok(SEC));
        // the reservation counts: the next one waits two intervals
        assert_eq!(take(&d, SEC, 1, 2 * SEC), Ok(2 * SEC));
    }

    #[test]
    fn looking_takes_nothing() {
        let d = direct(1.0, 1, 1);
        for _ in 0..3 {
            assert_eq!(look(&d, 0, SEC), Ok(0));
        }
        assert_eq!(take(&d, SEC, 1, 0), Ok(0));
        assert_eq!(look(&d, 0, SEC), Err(SEC));
        let k = Limiter::new(1.0, Duration::from_secs(1), 1, true);
        assert_eq!(look(&k, 7, SEC), Ok(0));
        assert_eq!(k.keys(), Some(0), "a look remembers no key");
        assert_eq!(k.take::<true>(7, SEC, 1, 0), Ok(0));
        assert_eq!(look(&k, 7, SEC), Err(SEC));
        assert_eq!(look(&k, 8, SEC), Ok(0));
    }

    /// Found by review: `rps = 0.00000000001` was accepted, and then every call passed (the
    /// arrival time saturated, and a saturated wait read as none).
    #[test]
    fn a_rate_too_small_to_count_refuses_instead_of_admitting() {
        for rate in [1e-11, 1e-15, f64::MIN_POSITIVE] {
            let d = direct(rate, 1, 1);
            for now in [SEC, 1_000_000 * SEC] {
                assert_eq!(take(&d, now, 1, u64::MAX), Err(u64::MAX), "rate {rate}");
            }
        }
        // the smallest rate whose token fits the time base still admits its one token
        let d = direct(1e-9, 1, 1); // one token in about 31 years
        assert_eq!(take(&d, SEC, 1, 0), Ok(0));
        assert!(take(&d, SEC, 1, 0).is_err());
    }

    #[test]
    fn rpm_refills_once_a_minute_per_token() {
        let g = Gcra::new(60.0, Duration::from_secs(60), 1);
        assert_eq!(g.interval, SEC);
    }

    #[test]
    fn forgotten_keys_gain_nothing() {
        let k = Limiter::new(1.0, Duration::from_secs(1), 1, true);
        for key in 0..5000u64 {
            let key = key.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            assert_eq!(k.take::<true>(key, SEC, 1, 0), Ok(0));
        }
        // still empty: nothing may be swept, every key keeps its empty bucket
        assert_eq!(k.sweep(SEC), 5000);
        assert_eq!(k.take::<true>(0, SEC, 1, 0), Err(SEC));
        // full again: all swept, and a forgotten key starts full, as it would have been
        assert_eq!(k.sweep(2 * SEC), 0);
        assert_eq!(k.take::<true>(0, 2 * SEC, 1, 0), Ok(0));
        assert_eq!(k.take::<true>(0, 2 * SEC, 1, 0), Err(SEC));
    }

    #[test]
    fn a_refund_gives_back_what_a_take_took_in_either_store() {
        for keyed in [false, true] {
            let l = Limiter::new(1.0, Duration::from_secs(1), 1, keyed);
            assert_eq!(l.take::<true>(5, SEC, 1, 0), Ok(0));
            assert_eq!(l.take::<true>(5, SEC, 1, 0), Err(SEC));
            l.adjust(5, -1);
            assert_eq!(l.take::<true>(5, SEC, 1, 0), Ok(0), "keyed: {keyed}");
        }
    }

    #[test]
    fn costs_refunds_and_charges() {
        // 60 tokens a minute, a minute's worth of burst
        let d = direct(60.0, 60, 60);
        assert_eq!(take(&d, SEC, 50, 0), Ok(0));
        assert_eq!(take(&d, SEC, 20, 0), Err(10 * SEC));
        d.adjust(0, -30); // the call used 20, not 50
        assert_eq!(take(&d, SEC, 20, 0), Ok(0));
        d.adjust(0, 5); // it used 25: 45 of 60 gone
        assert_eq!(take(&d, SEC, 16, 0), Err(SEC));
        assert_eq!(take(&d, SEC, 15, 0), Ok(0));
        assert_eq!(
            take(&d, SEC, 61, u64::MAX),
            Err(u64::MAX),
            "more than the bucket holds"
        );
    }

    #[test]
    fn learning_only_tightens() {
        let d = direct(10.0, 1, 10);
        d.learn(SEC, Some(3), None);
        assert_eq!(d.remaining(SEC), Some(3.0));
        d.learn(SEC, Some(8), None);
        assert_eq!(d.remaining(SEC), Some(3.0));
        d.learn(SEC, Some(0), Some(2 * SEC));
        assert_eq!(look(&d, 0, SEC), Err(2 * SEC));
        assert_eq!(look(&d, 0, 3 * SEC), Ok(0));
    }
}
