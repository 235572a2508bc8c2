//! Time: one monotonic time base, read through two clocks.
//!
//! Every instant the runtime stores is a count of nanoseconds on the system's monotonic clock,
//! so the parts keep it in one `AtomicU64`. Async paths read tokio's clock (so a paused test runtime and
//! `tokio::time::advance` drive them); sync paths read the system clock, or a [`MockClock`]
//! installed on the calling thread. A policy shared by both may see time go backwards, so every
//! difference of two instants in the runtime saturates.

use std::cell::RefCell;
use std::time::{Duration, Instant};

use once_cell::sync::Lazy;

use crate::sync::{Arc, AtomicU64, Ordering};

/// Nanoseconds on the monotonic clock, as the runtime stores time.
pub(crate) type Nanos = u64;

/// A year, in nanoseconds: the time base runs this far ahead of the monotonic clock, so that an
/// `Instant` up to a year before the first read still has a place on it (a paused tokio clock
/// starts at its runtime's creation, perhaps before the first read).
const YEAR: Nanos = 365 * 24 * 3600 * 1_000_000_000;

/// The system's monotonic clock on the runtime's time base. On Linux it is read directly: std's
/// `Instant` is this same clock (`CLOCK_MONOTONIC`), but turning an `Instant` into a number
/// costs a checked subtraction of two `timespec`s on every read.
#[cfg(target_os = "linux")]
#[inline]
fn system_now() -> Nanos {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid `timespec` to write to, and `CLOCK_MONOTONIC` always exists on
    // Linux; the call cannot fail with these arguments.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    timespec_nanos(ts.tv_sec, ts.tv_nsec).saturating_add(YEAR)
}

#[cfg(target_os = "linux")]
#[inline]
#[allow(clippy::cast_sign_loss)] // the monotonic clock is never negative
fn timespec_nanos(secs: libc::time_t, nanos: libc::c_long) -> Nanos {
    (secs as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(nanos as u64)
}

#[cfg(not(target_os = "linux"))]
#[inline]
fn system_now() -> Nanos {
    from_instant(Instant::now())
}

/// An `Instant` a year before the first read, and that moment on the time base.
static ANCHOR: Lazy<(Instant, Nanos)> = Lazy::new(|| {
    let now = Instant::now();
    #[cfg(target_os = "linux")]
    let nanos = system_now() - YEAR;
    #[cfg(not(target_os = "linux"))]
    let nanos = 0;
    match now.checked_sub(Duration::from_nanos(YEAR)) {
        Some(before) => (before, nanos),
        None => (now, nanos.saturating_add(YEAR)),
    }
});

/// An `Instant` (tokio's clock is one) on the time base.
#[inline]
fn from_instant(i: Instant) -> Nanos {
    let (at, nanos) = *ANCHOR;
    nanos.saturating_add(duration_to_nanos(i.saturating_duration_since(at)))
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
    pub(crate) fn now(self) -> Nanos {
        match self {
            Mode::Sync => now_sync(),
            Mode::Async => from_instant(tokio::time::Instant::now().into_std()),
        }
    }
}

thread_local! {
    static MOCK: RefCell<Option<Arc<AtomicU64>>> = const { RefCell::new(None) };
}

/// Whether any mock clock was ever installed; until then sync reads skip the thread-local.
static MOCK_USED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

#[inline]
fn mock_now() -> Option<Nanos> {
    if !MOCK_USED.load(Ordering::Relaxed) {
        return None;
    }
    MOCK.with(|m| m.borrow().as_ref().map(|t| t.load(Ordering::Acquire)))
}

#[inline]
pub(crate) fn now_sync() -> Nanos {
    mock_now().unwrap_or_else(system_now)
}

/// Blocks the thread for `d`, or moves the thread's mock clock by `d` at once.
pub(crate) fn sleep_sync(d: Duration) {
    if d.is_zero() {
        return;
    }
    let mocked = MOCK_USED.load(Ordering::Relaxed)
        && MOCK.with(|m| {
            m.borrow().as_ref().is_some_and(|t| {
                t.fetch_add(duration_to_nanos(d), Ordering::AcqRel);
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
/// let r: Result<(), Error> = policy.call(|| Err(Error::Timeout { policy: "x".into(), after: Duration::ZERO }));
/// assert!(r.is_err());
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
    /// clock.advance(std::time::Duration::from_secs(60));
    /// ```
    pub fn advance(&self, d: Duration) {
        self.now.fetch_add(duration_to_nanos(d), Ordering::AcqRel);
    }

    /// The clock's time on the runtime's time base (the system's monotonic clock: on Linux, the
    /// time since boot).
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
    /// let clock = staunch_runtime::MockClock::new();
    /// {
    ///     let _guard = clock.install();
    ///     // sync calls on this thread read `clock` here
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
/// let guard = staunch_runtime::MockClock::new().install();
/// drop(guard);
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
