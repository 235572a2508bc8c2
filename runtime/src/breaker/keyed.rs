//! A keyed breaker: one [`BreakerState`] per key, in an arena the store owns for its whole life.
//!
//! The policy's own breaker is the dispatcher: its phase word is never closed (`KEYED`), so its
//! admission falls to the slow path, which sends the call here with its key. A policy without
//! a keyed breaker runs exactly the code it ran before.
//!
//! Each key's breaker lives in a [`KeySlot`] of `slots` (`max_keys` of them, made at first use,
//! never freed while the policy lives) or, past the bound, in the one `overflow` slot that
//! every key without a slot of its own shares (stricter, never looser). The attempt's pass
//! names the slot ([`Pass::Keyed`]), so recording an outcome borrows the slot from the store:
//! no `Arc`, no lookup, no lock.
//!
//! The map from key to slot is sharded (`Mutex<HashMap>`, as the keyed limiter's); each shard
//! owns the slots it took. Under the shard's lock, an admission finds its key's slot (or takes
//! a free one, a never-used one, or reuses one of the shard's that is idle, looking at up to
//! `REUSE_LOOK` of them from a clock hand) and counts itself
//! in the slot's `inflight`; the outcome is recorded on the slot's breaker, then `inflight` is
//! given back (`Release`). A slot is reused for another key only under the same lock, when its
//! breaker is idle ([`BreakerState::is_idle`]: what a new breaker would be) and `inflight` is 0
//! (`Acquire`): so no outcome ever lands on a breaker that serves another key by then, and no
//! key gains by being forgotten (`loom_models.rs` checks the protocol).

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::OnceLock;
use std::time::Duration;

use super::{Breaker, BreakerState, CircuitState, Pass};
use crate::clock::Nanos;
use crate::events::Sink;
use crate::limiter::{shard_count, PreHashed};
use crate::sync::{lock, Arc, AtomicU32, AtomicU64, AtomicUsize, Mutex, Ordering, Padded};

/// One key's breaker.
#[derive(Debug)]
pub(crate) struct KeySlot {
    /// The key it serves (written under its shard's lock; meaningless while free).
    key: AtomicU64,
    /// Attempts admitted through it whose outcome is not recorded yet: counted under the
    /// shard's lock, given back once the outcome is recorded.
    inflight: AtomicU32,
    pub(crate) state: BreakerState,
}

impl KeySlot {
    fn new(cfg: Breaker, events: Option<Arc<Sink>>) -> Self {
        KeySlot {
            key: AtomicU64::new(0),
            inflight: AtomicU32::new(0),
            state: BreakerState::reporting(cfg, events),
        }
    }
}

/// One shard of the key map, and the slots it owns.
#[derive(Debug, Default)]
struct Shard {
    map: HashMap<u64, u32, BuildHasherDefault<PreHashed>>,
    /// Every slot this shard took.
    owned: Vec<u32>,
    /// Where in `owned` the next look for a slot to reuse begins (a clock hand).
    hand: usize,
    /// Owned slots that serve no key (forgotten by a reset).
    free: Vec<u32>,
}

/// The operator's hold on every key (`forced`).
pub(crate) const NOT_FORCED: u32 = 0;
pub(crate) const FORCED_OPEN: u32 = 1;
pub(crate) const FORCED_CLOSED: u32 = 2;

/// A trial pass, in a keyed pass: the low 32 bits hold its generation's.
const TRIAL: u64 = 1 << 32;
const SLOT_SHIFT: u32 = 33;

/// The most slots one new key looks at for one to reuse (under its shard's lock), from where
/// the last look ended: a new key past the bound costs at most this many tests.
const REUSE_LOOK: usize = 32;

/// Keys each shard is meant for, at least: fewer shards than `max_keys / 64` keep a shard from
/// running out of slots while another has idle ones.
const KEYS_PER_SHARD: usize = 64;

/// One breaker per key, at most `max_keys` of them.
#[derive(Debug)]
pub(crate) struct KeyedBreakers {
    /// Every key's settings (unkeyed).
    cfg: Breaker,
    events: Option<Arc<Sink>>,
    /// `max_keys` slots, each made when first taken.
    slots: Box<[OnceLock<Box<KeySlot>>]>,
    /// The breaker that the keys past the bound share.
    overflow: KeySlot,
    /// Slots never taken yet begin here.
    fresh: AtomicUsize,
    shards: Box<[Padded<Mutex<Shard>>]>,
    /// `64 - log2(shards)`: the top bits of a key pick its shard.
    shift: u32,
    /// An operator's hold on every key: `NOT_FORCED`, `FORCED_OPEN` or `FORCED_CLOSED`.
    forced: AtomicU32,
}

impl KeyedBreakers {
    /// One breaker per key (at most `cfg.key_limit()`), each with `cfg`'s settings, reporting
    /// to `events`.
    pub(crate) fn new(cfg: Breaker, events: Option<Arc<Sink>>) -> Self {
        let max = cfg.key_limit().unwrap_or(1) as usize;
        let cfg = Breaker {
            keyed: false,
            max_keys: None,
            ..cfg
        };
        let shards = shard_count()
            .min((max / KEYS_PER_SHARD).next_power_of_two())
            .max(1);
        KeyedBreakers {
            cfg,
            slots: (0..max).map(|_| OnceLock::new()).collect(),
            overflow: KeySlot::new(cfg, events.clone()),
            events,
            fresh: AtomicUsize::new(0),
            shards: (0..shards)
                .map(|_| Padded(Mutex::new(Shard::default())))
                .collect(),
            shift: 64 - shards.trailing_zeros(),
            forced: AtomicU32::new(NOT_FORCED),
        }
    }

    #[allow(clippy::cast_possible_truncation)] // below the number of shards
    fn shard_of(&self, key: u64) -> usize {
        if self.shift == 64 {
            0
        } else {
            (key >> self.shift) as usize
        }
    }

    fn shard(&self, key: u64) -> &Mutex<Shard> {
        &self.shards[self.shard_of(key)]
    }

    /// Slot `i` (`slots.len()`: the overflow's), if it was ever taken.
    fn slot(&self, i: u32) -> Option<&KeySlot> {
        let i = i as usize;
        if i == self.slots.len() {
            return Some(&self.overflow);
        }
        self.slots.get(i)?.get().map(|b| &**b)
    }

    /// The overflow slot's index.
    #[allow(clippy::cast_possible_truncation)] // at most `Breaker::MAX_KEYS`
    fn overflow_index(&self) -> u32 {
        self.slots.len() as u32
    }

    /// Whether a call with `key` may pass now (`now` reads the clock, at most once, and only if
    /// the key's breaker is not closed or a slot is looked for to reuse); with `TAKE`, it takes
    /// its key's slot (and a trial slot of the key's breaker, if it is a trial) until its
    /// outcome is recorded ([`record`](Self::record)) or its pass given back. Without, nothing
    /// changes: a key not remembered reads as a new, closed breaker.
    pub(crate) fn admit<const TAKE: bool>(
        &self,
        key: u64,
        now: &mut dyn FnMut() -> Nanos,
    ) -> Result<Pass, Duration> {
        match self.forced.load(Ordering::Acquire) {
            FORCED_OPEN => return Err(self.cfg.cooldown),
            // the dispatcher's own pass: it counts nothing
            FORCED_CLOSED => return Ok(Pass::Closed),
            _ => {}
        }
        if !TAKE {
            let i = lock(self.shard(key)).map.get(&key).copied();
            return match i.and_then(|i| self.slot(i)) {
                Some(s) => s.state.admit::<TAKE>(now).map(|_| Pass::Closed),
                None => Ok(Pass::Closed),
            };
        }
        let (mut read, mut at) = (Some(now), 0);
        let mut now = || {
            if let Some(read) = read.take() {
                at = read();
            }
            at
        };
        let (i, s) = {
            let mut shard = lock(self.shard(key));
            let i = self.find_or_take(&mut shard, key, &mut now);
            let Some(s) = self.slot(i) else {
                unreachable!("a slot handed out was made")
            };
            // under the lock: a slot counted here cannot be reused before it is given back
            s.inflight.fetch_add(1, Ordering::Relaxed);
            (i, s)
        };
        match s.state.admit::<TAKE>(now) {
            Ok(inner) => Ok(Pass::Keyed(pack(i, inner))),
            Err(d) => {
                s.inflight.fetch_sub(1, Ordering::Release);
                Err(d)
            }
        }
    }

    /// `key`'s slot, found, or taken for it; the overflow's when there is no room.
    fn find_or_take(&self, shard: &mut Shard, key: u64, now: impl FnOnce() -> Nanos) -> u32 {
        if let Some(&i) = shard.map.get(&key) {
            return i;
        }
        let i = if let Some(i) = shard.free.pop() {
            i
        } else if let Some(i) = self.take_fresh() {
            shard.owned.push(i);
            i
        } else if let Some(i) = self.reuse(shard, now) {
            i
        } else {
            return self.overflow_index();
        };
        if let Some(s) = self.slot(i) {
            s.key.store(key, Ordering::Relaxed);
        }
        shard.map.insert(key, i);
        i
    }

    /// A slot never taken, made now.
    #[allow(clippy::cast_possible_truncation)] // at most `Breaker::MAX_KEYS`
    fn take_fresh(&self) -> Option<u32> {
        let max = self.slots.len();
        let i = self
            .fresh
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()?;
        self.slots[i].get_or_init(|| Box::new(KeySlot::new(self.cfg, self.events.clone())));
        Some(i as u32)
    }

    /// One of the shard's slots whose breaker is idle now with no attempt in flight, its key
    /// forgotten: a new breaker would be in the very same state. At most `REUSE_LOOK` slots
    /// are looked at, from the clock hand on.
    fn reuse(&self, shard: &mut Shard, now: impl FnOnce() -> Nanos) -> Option<u32> {
        let n = shard.owned.len();
        if n == 0 {
            return None;
        }
        let now = now();
        let look = n.min(REUSE_LOOK);
        let found = (0..look).map(|step| (shard.hand + step) % n).find(|&at| {
            self.slot(shard.owned[at]).is_some_and(|s| {
                // Acquire: every outcome recorded on it is seen by `is_idle`
                s.inflight.load(Ordering::Acquire) == 0 && s.state.is_idle(now)
            })
        });
        shard.hand = found.map_or(shard.hand + look, |at| at + 1) % n;
        let i = shard.owned[found?];
        if let Some(s) = self.slot(i) {
            let key = s.key.load(Ordering::Relaxed);
            if shard.map.get(&key) == Some(&i) {
                shard.map.remove(&key);
            }
        }
        Some(i)
    }

    /// Records an attempt's outcome with `f` on the breaker of keyed pass `x`, then gives its
    /// slot back.
    pub(crate) fn record(&self, x: u64, f: impl FnOnce(&BreakerState, Pass)) {
        #[allow(clippy::cast_possible_truncation)] // packed from a u32
        let i = (x >> SLOT_SHIFT) as u32;
        if let Some(s) = self.slot(i) {
            let inner = if x & TRIAL == 0 {
                Pass::Closed
            } else {
                Pass::Trial(s.state.trial_gen(x))
            };
            f(&s.state, inner);
            s.inflight.fetch_sub(1, Ordering::Release);
        }
    }

    /// Runs `f` on every remembered key's slot, shard by shard under its lock, then on the
    /// overflow's.
    fn each(&self, mut f: impl FnMut(&mut Shard, u32, &KeySlot)) {
        for shard in &*self.shards {
            let mut shard = lock(shard);
            let owned = shard.owned.clone();
            for i in owned {
                if let Some(s) = self.slot(i) {
                    f(&mut shard, i, s);
                }
            }
        }
    }

    /// Keys remembered now.
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).map.len()).sum()
    }

    /// Keys whose breaker is open or half-open at `now` (the overflow breaker counts as one);
    /// while forced open, every key remembered and the overflow.
    pub(crate) fn open_keys(&self, now: Nanos) -> usize {
        if self.forced.load(Ordering::Acquire) == FORCED_OPEN {
            return self.len() + 1;
        }
        let mut n = usize::from(self.overflow.state.state(now) != CircuitState::Closed);
        for shard in &*self.shards {
            let shard = lock(shard);
            n += shard
                .map
                .values()
                .filter_map(|&i| self.slot(i))
                .filter(|s| s.state.state(now) != CircuitState::Closed)
                .count();
        }
        n
    }

    /// The operator's hold: every key's calls rejected (`FORCED_OPEN`) or let through without
    /// counting (`FORCED_CLOSED`), new keys' too. The state it replaces.
    pub(crate) fn force(&self, how: u32) -> CircuitState {
        Self::forced_state(self.forced.swap(how, Ordering::AcqRel))
    }

    /// The state every call finds while `forced` holds.
    fn forced_state(forced: u32) -> CircuitState {
        if forced == FORCED_OPEN {
            CircuitState::Open
        } else {
            CircuitState::Closed
        }
    }

    /// The state of the keyed breaker as a whole: open while forced open, else closed (each
    /// key's is in [`open_keys`](Self::open_keys)).
    pub(crate) fn state(&self) -> CircuitState {
        Self::forced_state(self.forced.load(Ordering::Acquire))
    }

    /// Back to a fresh start: no hold, every key's breaker closed and counting from zero, and
    /// every key forgotten but those with an attempt in flight (which record on their own
    /// breaker, reset). The state it replaces.
    pub(crate) fn reset(&self, now: Nanos) -> CircuitState {
        let before = self.force(NOT_FORCED);
        self.each(|shard, i, s| {
            s.state.reset(now);
            let key = s.key.load(Ordering::Relaxed);
            // a free slot's `key` is stale: only the key's own slot is freed
            if shard.map.get(&key) == Some(&i) && s.inflight.load(Ordering::Acquire) == 0 {
                shard.map.remove(&key);
                shard.free.push(i);
            }
        });
        self.overflow.state.reset(now);
        before
    }

    /// The slot of `key`, if it is remembered (tests).
    #[cfg(test)]
    pub(crate) fn slot_of(&self, key: u64) -> Option<u32> {
        lock(self.shard(key)).map.get(&key).copied()
    }

    /// Slots taken so far, at most `max_keys` (tests).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn taken(&self) -> usize {
        self.fresh.load(Ordering::Acquire)
    }

    /// The state of `key`'s breaker at `now`, if it is remembered (tests).
    #[cfg(test)]
    pub(crate) fn state_of(&self, key: u64, now: Nanos) -> Option<CircuitState> {
        self.slot_of(key)
            .and_then(|i| self.slot(i))
            .map(|s| s.state.state(now))
    }

    /// The state of the overflow's breaker at `now` (tests).
    #[cfg(test)]
    pub(crate) fn overflow_state(&self, now: Nanos) -> CircuitState {
        self.overflow.state.state(now)
    }

    /// The attempts in flight through `key`'s slot (tests).
    #[cfg(test)]
    pub(crate) fn inflight(&self, key: u64) -> u32 {
        self.slot_of(key)
            .and_then(|i| self.slot(i))
            .map_or(0, |s| s.inflight.load(Ordering::Acquire))
    }
}

/// A keyed pass: slot `i` and the pass of its breaker (a trial's generation truncated to its
/// low 32 bits, which [`BreakerState::trial_gen`] restores).
fn pack(i: u32, inner: Pass) -> u64 {
    (u64::from(i) << SLOT_SHIFT)
        | match inner {
            Pass::Trial(gen) => TRIAL | (gen & 0xffff_ffff),
            // a key's breaker is never keyed
            Pass::Closed | Pass::Keyed(_) => 0,
        }
}
