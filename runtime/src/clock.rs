//! Time: one monotonic time base, read through two clocks.
//!
//! Every instant the runtime stores is a count of nanoseconds on the system's monotonic clock
//! (shifted to start a year before the process first read it), so the parts keep it in one
//! `AtomicU64`. Async paths read tokio's clock (so a paused test runtime and
//! `tokio::time::advance` drive them); sync paths read the system clock through the CPU's counter,
//! or a [`MockClock`] installed on the calling thread. A policy shared by both may see time go
//! backwards, so every difference of two instants in the runtime saturates.

use std::cell::RefCell;
use std::time::{Duration, Instant};

use std::sync::LazyLock;

use crate::sync::global::{AtomicBool, AtomicU64};
use crate::sync::{Arc, Ordering};

/// Nanoseconds on the monotonic clock, as the runtime stores time.
pub(crate) type Nanos = u64;

/// A year, in nanoseconds: the time base runs this far ahead of the monotonic clock, so that an
/// `Instant` up to a year before the first read still has a place on it (a paused tokio clock
/// starts at its runtime's creation, perhaps before the first read).
const YEAR: Nanos = 365 * 24 * 3600 * 1_000_000_000;

/// An `Instant` a year before the first read: the time base's zero.
static ANCHOR: LazyLock<Instant> = LazyLock::new(|| {
    let now = Instant::now();
    now.checked_sub(Duration::from_nanos(YEAR)).unwrap_or(now)
});

/// An `Instant` (tokio's clock is one) on the time base.
#[inline]
fn from_instant(i: Instant) -> Nanos {
    duration_to_nanos(i.saturating_duration_since(*ANCHOR))
}

/// The system's monotonic clock read the exact way (std's `Instant`, a `clock_gettime` on Linux:
/// about 24 ns on the machine of `BENCHMARKS.md`), on the time base.
fn exact_now() -> Nanos {
    from_instant(Instant::now())
}

/// How often the fast clock is set again by the exact one.
const RESYNC_EVERY: Nanos = 1_000_000_000;

/// The CPU's counter (the invariant TSC on `x86_64`, `cntvct_el0` on `aarch64`), calibrated by
/// `quanta`; `quanta` falls back to the monotonic clock where there is no usable counter.
struct Fast {
    clock: quanta::Clock,
    /// The counter's reading when the clock was made.
    base: u64,
    /// Nanoseconds per 2^32 counts, from quanta's calibration (2^32 where quanta reads the
    /// monotonic clock itself): a multiplication and a shift per read, with no branch on the
    /// kind of clock.
    scale: u64,
}

impl Fast {
    /// Nanoseconds since `base`.
    #[inline]
    #[allow(clippy::cast_possible_truncation)] // 2^64 ns is 584 years
    fn since_base(&self) -> Nanos {
        // a counter a little behind `base` (read on another core) counts as `base`
        let counts = self.clock.raw().saturating_sub(self.base);
        ((u128::from(counts) * u128::from(self.scale)) >> 32) as u64
    }
}

static FAST: LazyLock<Fast> = LazyLock::new(|| {
    let clock = quanta::Clock::new();
    let scale = clock.delta_as_nanos(0, 1 << 32);
    let base = clock.raw();
    OFFSET.store(exact_now(), Ordering::Relaxed);
    Fast { clock, base, scale }
});

/// The time base at the counter's `base`, as last set by the exact clock.
static OFFSET: AtomicU64 = AtomicU64::new(0);
/// When (in nanoseconds since `base`) the fast clock is next set again.
static NEXT_RESYNC: AtomicU64 = AtomicU64::new(RESYNC_EVERY);

/// The system's monotonic clock on the runtime's time base, read through the CPU's counter
/// (about 10 ns instead of 24 on the machine of `BENCHMARKS.md`).
///
/// The counter's calibration is not exact, and the monotonic clock itself is slewed by NTP, so
/// the two would drift apart by up to a few hundred microseconds an hour. Async calls read
/// tokio's clock, which is the monotonic clock: to keep a policy shared by sync and async calls
/// on one time, the first read past each second sets the fast clock again from the exact one
/// (a step of at most the drift of one second, forwards or backwards; every difference of two
/// instants in the runtime saturates).
#[inline]
fn system_now() -> Nanos {
    let fast = &*FAST;
    let since = fast.since_base();
    if since >= NEXT_RESYNC.load(Ordering::Relaxed) {
        return resync(fast, since);
    }
    OFFSET.load(Ordering::Relaxed).wrapping_add(since)
}

/// Sets the fast clock again from the exact one: done by one thread, the first to see the
/// second over; the others read on.
#[cold]
#[inline(never)]
fn resync(fast: &Fast, since: Nanos) -> Nanos {
    let next = NEXT_RESYNC.load(Ordering::Relaxed);
    if since >= next
        && NEXT_RESYNC
            .compare_exchange(
                next,
                since.saturating_add(RESYNC_EVERY),
                Ordering::Relaxed,
                Ordering::Relaxed,
            )
            .is_ok()
    {
        let exact = exact_now();
        let since = fast.since_base();
        OFFSET.store(exact.wrapping_sub(since), Ordering::Relaxed);
        return exact;
    }
    OFFSET.load(Ordering::Relaxed).wrapping_add(since)
}

/// A duration in nanoseconds, saturating at `u64::MAX` (about 584 years); cheaper than
/// `Duration::as_nanos`, which goes through `u128`.
#[inline]
pub(crate) fn duration_to_nanos(d: Duration) -> Nanos {
    d.as_secs()
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::from(d.subsec_nanos()))
}

/// Which clock a path reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A sync call: the system clock, or the thread's mock clock; waits block the thread.
    Sync,
    /// An async call: tokio's clock; waits are tokio timers.
    Async,
}

impl Mode {
    /// Inlined, so that a mode known where it is called picks its clock without a branch; the
    /// clocks themselves stay out of line (inlined, they crowd the caller's registers).
    #[inline]
    pub(crate) fn now(self) -> Nanos {
        match self {
            Mode::Sync => now_sync(),
            Mode::Async => now_async(),
        }
    }
}

/// tokio's clock on the time base.
#[inline(never)]
pub(crate) fn now_async() -> Nanos {
    from_instant(tokio::time::Instant::now().into_std())
}

thread_local! {
    static MOCK: RefCell<Option<Arc<AtomicU64>>> = const { RefCell::new(None) };
}

/// Whether any mock clock was ever installed; until then sync reads skip the thread-local.
static MOCK_USED: AtomicBool = AtomicBool::new(false);

#[inline]
fn mock_now() -> Option<Nanos> {
    if !MOCK_USED.load(Ordering::Relaxed) {
        return None;
    }
    MOCK.with(|m| m.borrow().as_ref().map(|t| t.load(Ordering::Acquire)))
}

/// The thread's mock clock if one is installed, else the system clock.
#[inline(never)]
pub(crate) fn now_sync() -> Nanos {
    mock_now().unwrap_or_else(system_now)
}

/// Whether the calling thread reads a mock clock (a blocked sync wait then looks at it often,
/// since nothing wakes it when another thread moves it).
pub(crate) fn mocked() -> bool {
    MOCK_USED.load(Ordering::Relaxed) && MOCK.with(|m| m.borrow().is_some())
}

/// Moves a mock clock's time by `d`, stopping at the end of the time base rather than wrapping
/// round to its start.
fn advance(now: &AtomicU64, d: Duration) {
    let by = duration_to_nanos(d);
    let _ = now.fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
        Some(t.saturating_add(by))
    });
}

/// Blocks the thread for `d`, or moves the thread's mock clock by `d` at once.
pub(crate) fn sleep_sync(d: Duration) {
    if d.is_zero() {
        return;
    }
    let mocked = MOCK_USED.load(Ordering::Relaxed)
        && MOCK.with(|m| {
            m.borrow().as_ref().is_some_and(|t| {
                advance(t, d);
                true
            })
        });
    if !mocked {
        std::thread::sleep(d);
    }
}

/// A clock for testing sync code without sleeping.
///
/// Installed on a thread, it replaces the system clock for every sync call that thread makes
/// through staunch: cooldowns, token refills and backoff waits read it, and a wait moves it
/// forward at once instead of blocking. Async calls keep reading tokio's clock (pause it with
/// `#[tokio::test(start_paused = true)]`). Clones share one time.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use staunch_runtime::{Breaker, MockClock, Policy, Error, CircuitState};
///
/// let clock = MockClock::new();
/// let _installed = clock.install();
/// let policy = Policy::builder("docs-mock-clock")
///     .breaker(Breaker::new().threshold(1).cooldown(Duration::from_secs(30)))
///     .build()
///     .unwrap();
///
/// let down = Error::Timeout { policy: "x".into(), after: Duration::ZERO };
/// let r: Result<(), Error> = policy.call(|| Err(down.clone()));
/// assert_eq!(r, Err(down));
/// assert_eq!(staunch_runtime::signals("docs-mock-clock").unwrap().circuit, CircuitState::Open);
///
/// clock.advance(Duration::from_secs(30));
/// let r: Result<(), Error> = policy.call(|| Ok(()));
/// assert!(r.is_ok());
/// assert_eq!(staunch_runtime::signals("docs-mock-clock").unwrap().circuit, CircuitState::Closed);
/// ```
#[derive(Clone, Debug)]
pub struct MockClock {
    now: Arc<AtomicU64>,
}

impl MockClock {
    /// A mock clock that starts at the current real time and moves only when told to (or when a
    /// sync call on a thread where it is installed waits).
    ///
    /// # Examples
    ///
    /// ```
    /// let clock = staunch_runtime::MockClock::new();
    /// let t0 = clock.elapsed();
    /// clock.advance(std::time::Duration::from_millis(5));
    /// assert_eq!(clock.elapsed() - t0, std::time::Duration::from_millis(5));
    /// ```
    #[must_use]
    pub fn new() -> Self {
        MockClock {
            now: Arc::new(AtomicU64::new(system_now())),
        }
    }

    /// Moves the clock forward by `d`.
    ///
    /// # Examples
    ///
    /// ```
    /// let clock = staunch_runtime::MockClock::new();
    /// let t0 = clock.elapsed();
    /// clock.advance(std::time::Duration::from_secs(60));
    /// assert_eq!(clock.elapsed() - t0, std::time::Duration::from_secs(60));
    /// ```
    pub fn advance(&self, d: Duration) {
        advance(&self.now, d);
    }

    /// The clock's time on the runtime's time base (the system's monotonic clock, shifted to read
    /// a year when the process first read it).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use staunch_runtime::{Error, MockClock, Policy};
    ///
    /// let clock = MockClock::new();
    /// let _g = clock.install();
    /// let p = Policy::builder("docs-elapsed").rps(1.0).build().unwrap();
    /// let before = clock.elapsed();
    /// for _ in 0..3 {
    ///     // the second and third calls wait a second each for their token: on the mock clock
    ///     let r: Result<(), Error> = p.call(|| Ok(()));
    ///     assert!(r.is_ok());
    /// }
    /// assert_eq!(clock.elapsed() - before, Duration::from_secs(2));
    /// ```
    #[must_use]
    pub fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.now.load(Ordering::Acquire))
    }

    /// Makes this clock the calling thread's clock for sync calls until the guard is dropped
    /// (the previous one, if any, comes back then).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use staunch_runtime::{Error, MockClock, Policy};
    ///
    /// let clock = MockClock::new();
    /// let p = Policy::builder("docs-install").rps(1.0).build().unwrap();
    /// {
    ///     let _guard = clock.install();
    ///     // sync calls on this thread read `clock` here: the second call waits a second for its
    ///     // token, and the wait moves `clock` at once
    ///     let t0 = clock.elapsed();
    ///     for _ in 0..2 {
    ///         assert_eq!(p.call(|| Ok::<_, Error>(())), Ok(()));
    ///     }
    ///     assert_eq!(clock.elapsed() - t0, Duration::from_secs(1));
    /// }
    /// // and the system clock again here
    /// ```
    #[must_use = "the clock is uninstalled when the guard is dropped"]
    pub fn install(&self) -> MockGuard {
        MOCK_USED.store(true, Ordering::Relaxed);
        let previous = MOCK.with(|m| m.replace(Some(self.now.clone())));
        MockGuard {
            previous,
            _not_send: std::marker::PhantomData,
        }
    }
}

impl Default for MockClock {
    fn default() -> Self {
        Self::new()
    }
}

/// Keeps a [`MockClock`] installed on the current thread; dropping it restores the previous clock.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use staunch_runtime::{Error, MockClock, Policy};
///
/// let (outer, inner) = (MockClock::new(), MockClock::new());
/// let _outer = outer.install();
/// let p = Policy::builder("docs-mock-guard").rps(1.0).build().unwrap();
/// let guard = inner.install();
/// let t0 = inner.elapsed();
/// for _ in 0..2 {
///     assert_eq!(p.call(|| Ok::<_, Error>(())), Ok(())); // the second waits on `inner`
/// }
/// assert_eq!(inner.elapsed() - t0, Duration::from_secs(1));
/// drop(guard); // `outer` is the thread's clock again
/// let t0 = outer.elapsed();
/// assert_eq!(p.call(|| Ok::<_, Error>(())), Ok(()));
/// assert!(outer.elapsed() > t0, "the wait moved `outer`");
/// ```
#[derive(Debug)]
pub struct MockGuard {
    previous: Option<Arc<AtomicU64>>,
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Drop for MockGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        MOCK.with(|m| *m.borrow_mut() = previous);
    }
}

/// The clock an observer (signals, preflight, manual control) reads: the thread's mock clock if
/// one is installed, else tokio's (which is the system clock outside a paused runtime).
pub(crate) fn now_observed() -> Nanos {
    mock_now().unwrap_or_else(|| Mode::Async.now())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How far the fast clock may stray from the exact one: the drift of the counter's
    /// calibration over one second between resyncs (quanta aims at 10 ns per microsecond of
    /// calibration; observed here well under 10 µs).
    const SLACK: Nanos = 1_000_000;

    /// Reads the fast clock between two reads of the exact one, and checks it lies between them.
    fn read_fast_between_exact_reads() {
        let before = exact_now();
        let fast = system_now();
        let after = exact_now();
        assert!(
            fast.saturating_add(SLACK) >= before && fast <= after.saturating_add(SLACK),
            "the fast clock read {fast}, the exact clock {before} before and {after} after"
        );
    }

    #[test]
    fn the_fast_clock_reads_the_exact_clock() {
        for _ in 0..10_000 {
            read_fast_between_exact_reads();
        }
    }

    #[test]
    fn a_resync_keeps_the_fast_clock_on_the_exact_one() {
        for _ in 0..100 {
            // the next read is past its second: one thread sets the clock again from the exact one
            NEXT_RESYNC.store(0, Ordering::Relaxed);
            read_fast_between_exact_reads();
            assert!(NEXT_RESYNC.load(Ordering::Relaxed) >= RESYNC_EVERY);
            read_fast_between_exact_reads();
        }
    }

    #[test]
    fn sync_and_async_calls_share_one_time_base() {
        // outside a paused runtime, tokio's clock is the monotonic clock too
        let before = system_now();
        let tokio = Mode::Async.now();
        let after = system_now();
        assert!(tokio.saturating_add(SLACK) >= before && tokio <= after.saturating_add(SLACK));
    }
}
