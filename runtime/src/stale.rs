//! Stale-if-error: the last good answer for the same arguments, when every other way failed.

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::sync::OnceLock;
use std::time::Duration;

use crate::clock::{duration_to_nanos, Mode, Nanos};
use crate::sync::global::{lock, AtomicU64, Mutex};
use crate::sync::{Arc, Ordering};

/// The answers by key (with the order they came in, and when), the keys in the order their
/// answers came, and the next order number. Eviction goes by the order number, not the time:
/// answers of one instant (a frozen mock clock, a paused tokio clock) still leave oldest first.
type Entries = (
    HashMap<u64, (u64, Nanos, Arc<dyn Any + Send + Sync>)>,
    VecDeque<(u64, u64)>,
    u64,
);

/// A bounded cache of last good answers, served when a call finally fails.
///
/// Every `Ok` a call returns is remembered under its key (a hash of the arguments, from
/// [`key_hash`](crate::attempt::key_hash)); when a later call with the same key fails for good, and the
/// remembered answer is younger than `max_age`, that answer is returned instead of the error.
/// At most `capacity` answers are kept; the oldest goes first. The `#[resilient]` attribute
/// declares one with `stale(max_age = …, capacity = …)`, consulted after the fallback failed.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use staunch_runtime::attempt::key_hash;
/// use staunch_runtime::Stale;
///
/// static LAST_GOOD: Stale = Stale::new(1000, Duration::from_secs(600));
///
/// let key = key_hash("weather in Paris");
/// assert_eq!(LAST_GOOD.settle_sync(key, Ok::<_, String>("sunny".to_string())), Ok("sunny".to_string()));
/// // the provider fails: the last good answer comes back
/// assert_eq!(LAST_GOOD.settle_sync(key, Err::<String, _>("down".to_string())), Ok("sunny".to_string()));
/// assert_eq!(LAST_GOOD.served(), 1);
/// ```
#[derive(Debug)]
pub struct Stale {
    capacity: usize,
    max_age: Duration,
    entries: OnceLock<Mutex<Entries>>,
    served: AtomicU64,
}

impl Stale {
    /// The capacity of `stale` in the attribute when none is given: a thousand answers.
    ///
    /// # Examples
    ///
    /// ```
    /// use staunch_runtime::Stale;
    /// static CACHE: Stale = Stale::new(Stale::DEFAULT_CAPACITY, Stale::DEFAULT_MAX_AGE);
    /// assert_eq!(Stale::DEFAULT_CAPACITY, 1000);
    /// ```
    pub const DEFAULT_CAPACITY: usize = 1000;

    /// The longest an answer is served for, in the attribute when none is given: ten minutes.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(staunch_runtime::Stale::DEFAULT_MAX_AGE.as_secs(), 600);
    /// ```
    pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(600);

    /// A cache of at most `capacity` answers, each served for at most `max_age`.
    ///
    /// # Examples
    ///
    /// ```
    /// let cache = staunch_runtime::Stale::new(100, std::time::Duration::from_secs(60));
    /// assert!(cache.is_empty());
    /// assert_eq!(cache.served(), 0);
    /// ```
    #[must_use]
    pub const fn new(capacity: usize, max_age: Duration) -> Self {
        Stale {
            capacity,
            max_age,
            entries: OnceLock::new(),
            served: AtomicU64::new(0),
        }
    }

    fn entries(&self) -> &Mutex<Entries> {
        self.entries.get_or_init(Mutex::default)
    }

    /// Remembers an `Ok`, or answers an `Err` from memory if it can, reading the system (or
    /// mock) clock.
    ///
    /// # Errors
    ///
    /// The error it was given, when no fresh answer is remembered for `key`.
    ///
    /// # Examples
    ///
    /// See [`Stale`].
    pub fn settle_sync<T, E>(&self, key: u64, result: Result<T, E>) -> Result<T, E>
    where
        T: Clone + Send + Sync + 'static,
    {
        self.settle(key, result, Mode::Sync, None)
    }

    /// [`settle_sync`](Self::settle_sync) on tokio's clock, for async calls.
    ///
    /// # Errors
    ///
    /// The error it was given, when no fresh answer is remembered for `key`.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let cache = staunch_runtime::Stale::new(10, std::time::Duration::from_secs(60));
    /// assert_eq!(cache.settle_async(1, Err::<u8, &str>("down")), Err("down"));
    /// # }
    /// ```
    pub fn settle_async<T, E>(&self, key: u64, result: Result<T, E>) -> Result<T, E>
    where
        T: Clone + Send + Sync + 'static,
    {
        self.settle(key, result, Mode::Async, None)
    }

    pub(crate) fn settle<T, E>(
        &self,
        key: u64,
        result: Result<T, E>,
        mode: Mode,
        served: Option<&AtomicU64>,
    ) -> Result<T, E>
    where
        T: Clone + Send + Sync + 'static,
    {
        if self.capacity == 0 {
            return result;
        }
        let now = mode.now();
        match result {
            Ok(value) => {
                let stored: Arc<dyn Any + Send + Sync> = Arc::new(value.clone());
                let mut guard = lock(self.entries());
                let (map, order, next) = &mut *guard;
                let seq = *next;
                *next += 1;
                map.insert(key, (seq, now, stored));
                order.push_back((key, seq));
                // Every remembered answer has its (key, order number) in `order`; records of
                // answers replaced since are skipped, and compacted away once they pile up.
                if order.len() > 2 * self.capacity {
                    let mut current: Vec<(u64, u64)> =
                        map.iter().map(|(k, (s, _, _))| (*k, *s)).collect();
                    current.sort_unstable_by_key(|&(_, s)| s);
                    *order = current.into();
                }
                while map.len() > self.capacity {
                    let Some((old, of)) = order.pop_front() else {
                        break;
                    };
                    if map.get(&old).is_some_and(|(s, _, _)| *s == of) {
                        map.remove(&old);
                    }
                }
                Ok(value)
            }
            Err(e) => {
                let found = lock(self.entries()).0.get(&key).and_then(|(_, at, value)| {
                    (now.saturating_sub(*at) <= duration_to_nanos(self.max_age))
                        .then(|| value.clone())
                });
                match found.as_deref().and_then(|v| v.downcast_ref::<T>()) {
                    Some(value) => {
                        self.served.fetch_add(1, Ordering::Relaxed);
                        if let Some(served) = served {
                            served.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(value.clone())
                    }
                    None => Err(e),
                }
            }
        }
    }

    /// How many times a remembered answer was served in place of an error.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(staunch_runtime::Stale::new(1, std::time::Duration::ZERO).served(), 0);
    /// ```
    #[must_use]
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    /// How many answers are remembered now.
    ///
    /// # Examples
    ///
    /// ```
    /// let cache = staunch_runtime::Stale::new(2, std::time::Duration::from_secs(1));
    /// for k in 0..5 {
    ///     let _ = cache.settle_sync(k, Ok::<u64, ()>(k));
    /// }
    /// assert_eq!(cache.len(), 2);
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.get().map_or(0, |e| lock(e).0.len())
    }

    /// Whether no answer is remembered.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(staunch_runtime::Stale::new(2, std::time::Duration::from_secs(1)).is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
