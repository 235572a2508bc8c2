//! A circuit breaker's settings, as the builder and the attribute give them.

use std::time::Duration;

/// A circuit breaker's settings: open after `threshold` failures in a row, stay open for
/// `cooldown`, then let `half_open` trial calls through at a time; that many successes in a row
/// close it and one failure re-opens it.
///
/// With [`failure_rate`](Self::failure_rate) (or any other window option) it is a failure-rate
/// breaker instead, as resilience4j defines one: it opens when, among the calls of its sliding
/// window (the last [`window_calls`](Self::window_calls), or those of the last
/// [`window_time`](Self::window_time)), once there are [`min_calls`](Self::min_calls), the
/// share that failed reaches `failure_rate` or the share slower than
/// [`slow_call`](Self::slow_call) reaches [`slow_rate`](Self::slow_rate). Half-open works the
/// same for both, and a slow trial re-opens it like a failed one. With
/// [`max_cooldown`](Self::max_cooldown), each re-open from half-open lengthens the cooldown.
///
/// ```
/// use std::time::Duration;
/// use staunch_runtime::{Breaker, Policy};
/// let b = Breaker::new()
///     .failure_rate(0.5)
///     .window_time(Duration::from_secs(60))
///     .min_calls(20)
///     .slow_call(Duration::from_secs(2))
///     .slow_rate(0.8)
///     .max_cooldown(Duration::from_secs(600));
/// assert!(Policy::builder("docs-rate-breaker").breaker(b).build().is_ok());
/// ```
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let b = staunch_runtime::Breaker::new().threshold(3).cooldown(Duration::from_secs(10)).half_open(2);
/// assert_eq!(b.failure_threshold(), 3);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Breaker {
    pub(crate) threshold: u32,
    pub(crate) cooldown: Duration,
    pub(crate) half_open: u32,
    pub(crate) max_half_open: Option<Duration>,
    /// Whether `threshold` was set (it conflicts with the failure-rate options).
    pub(crate) threshold_set: bool,
    /// Whether `cooldown` was set (a value equal to the default is still the user's, for
    /// `describe()`).
    pub(crate) cooldown_set: bool,
    /// Whether `half_open` was set.
    pub(crate) half_open_set: bool,
    /// The failure-rate breaker's settings, if any of its options was set.
    pub(crate) rate: Option<RateSettings>,
    /// The longest cooldown of an exponential open period, if any.
    pub(crate) max_cooldown: Option<Duration>,
    /// Each re-open's factor on the cooldown, as `f64` bits (so that the settings stay `Eq`).
    pub(crate) cooldown_multiplier: Option<u64>,
    /// One breaker per key of the call ([`keyed`](Self::keyed)).
    pub(crate) keyed: bool,
    /// The most keys a keyed breaker remembers, if set.
    pub(crate) max_keys: Option<u32>,
}

/// The failure-rate breaker's settings, as set (defaults filled in by the runtime).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct RateSettings {
    /// `f64` bits of the failure rate; `None`: the default 0.5.
    pub(crate) failure_rate: Option<u64>,
    pub(crate) window_calls: Option<u32>,
    pub(crate) window_time: Option<Duration>,
    pub(crate) min_calls: Option<u32>,
    pub(crate) slow_call: Option<Duration>,
    /// `f64` bits of the slow-call rate; `None`: the default 1.0.
    pub(crate) slow_rate: Option<u64>,
}

impl Breaker {
    /// The defaults: `threshold = 5`, `cooldown = 30s`, `half_open = 1`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(staunch_runtime::Breaker::new(), staunch_runtime::Breaker::default());
    /// ```
    #[must_use]
    pub const fn new() -> Self {
        Breaker {
            threshold: 5,
            cooldown: Duration::from_secs(30),
            half_open: 1,
            max_half_open: None,
            threshold_set: false,
            cooldown_set: false,
            half_open_set: false,
            rate: None,
            max_cooldown: None,
            cooldown_multiplier: None,
            keyed: false,
            max_keys: None,
        }
    }

    /// One breaker per key: each call's key ([`Req::key`](crate::attempt::Req::key), the
    /// attribute's `breaker(key = expr)`) picks a breaker of its own, so one tenant's failures
    /// never open another's. Every key's breaker has this breaker's settings.
    ///
    /// Memory stays bounded: at most [`max_keys`](Self::max_keys) keys have a breaker of
    /// their own (each made when its key first comes, and kept for the policy's life; the
    /// room for `max_keys` of them, 16 bytes each, is taken when the policy is built). A key
    /// keeps its breaker while the breaker holds something (failures, a window with calls in
    /// it, an open or half-open state) or a call is in flight through it. Past the bound, a new
    /// key takes the breaker of a key that holds nothing (closed, nothing counted, no call in
    /// flight: what a new breaker would be, so no key ever gains by being forgotten), and when
    /// there is none, the calls of every new key share one overflow breaker (stricter, never
    /// looser). Keys are spread over up to four shards per CPU by their hash (at least 64 keys
    /// a shard); a new key past the bound looks for room at up to 32 of its shard's keys, from
    /// where the last look ended (so its cost is bounded; a later new key looks further).
    ///
    /// A keyed breaker's state changes are reported as events of the policy (without the key);
    /// [`Signals::circuit`](crate::Signals::circuit) stays `Closed` (the policy as a whole never
    /// opens) unless an operator holds it open, and
    /// [`Signals::open_keys`](crate::Signals::open_keys) counts the keys whose breaker is open
    /// or half-open. The handle's [`force_open`](crate::Handle::force_open) rejects every
    /// key's calls (new keys' too) and [`force_closed`](crate::Handle::force_closed) lets them
    /// all through without counting, until [`reset`](crate::Handle::reset), which closes every
    /// key's breaker and forgets every key without a call in flight. A preflight
    /// ([`Handle::preflight_key`](crate::Handle::preflight_key)) of a key without a breaker of
    /// its own reads a new, closed one.
    ///
    /// # Examples
    ///
    /// ```
    /// use staunch_runtime::attempt::key_hash;
    /// use staunch_runtime::{Breaker, Error, Policy};
    /// let p = Policy::builder("docs-keyed-breaker")
    ///     .breaker(Breaker::new().threshold(1).keyed())
    ///     .build()
    ///     .unwrap();
    /// let down = Error::Timeout { policy: "acme".into(), after: std::time::Duration::ZERO };
    /// assert_eq!(p.call_keyed(key_hash("acme"), || Err::<(), _>(down.clone())), Err(down));
    /// // acme's breaker is open; globex's is not
    /// assert!(p.handle().preflight_key(key_hash("acme")).is_err());
    /// assert!(p.handle().preflight_key(key_hash("globex")).is_ok());
    /// assert_eq!(p.handle().signals().open_keys, Some(1));
    /// ```
    #[must_use]
    pub const fn keyed(mut self) -> Self {
        self.keyed = true;
        self
    }

    /// The most keys a [`keyed`](Self::keyed) breaker remembers: between 1 and
    /// [`MAX_KEYS`](Self::MAX_KEYS). Default: 10,000. Needs `keyed`.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = staunch_runtime::Breaker::new().keyed().max_keys(100);
    /// assert_eq!(b.key_limit(), Some(100));
    /// assert_eq!(staunch_runtime::Breaker::new().keyed().key_limit(), Some(10_000));
    /// assert_eq!(staunch_runtime::Breaker::new().key_limit(), None);
    /// ```
    #[must_use]
    pub const fn max_keys(mut self, n: u32) -> Self {
        self.max_keys = Some(n);
        self
    }

    /// The most keys remembered, for a keyed breaker; `None` for an unkeyed one.
    ///
    /// # Examples
    ///
    /// See [`max_keys`](Self::max_keys).
    #[must_use]
    pub const fn key_limit(&self) -> Option<u32> {
        if !self.keyed {
            return None;
        }
        match self.max_keys {
            Some(n) => Some(n),
            None => Some(Self::DEFAULT_MAX_KEYS),
        }
    }

    /// The default of [`max_keys`](Self::max_keys).
    const DEFAULT_MAX_KEYS: u32 = 10_000;

    /// The largest [`max_keys`](Self::max_keys).
    ///
    /// # Examples
    ///
    /// ```
    /// use staunch_runtime::{Breaker, Policy};
    /// let b = Breaker::new().keyed().max_keys(Breaker::MAX_KEYS + 1);
    /// assert!(Policy::builder("docs-max-keys").breaker(b).build().is_err());
    /// ```
    pub const MAX_KEYS: u32 = 1_000_000;

    /// Failures in a row that open the breaker (at least 1).
    ///
    /// # Examples
    ///
    /// ```
    /// let b = staunch_runtime::Breaker::new().threshold(1);
    /// assert_eq!(b.failure_threshold(), 1);
    /// ```
    #[must_use]
    pub const fn threshold(mut self, n: u32) -> Self {
        self.threshold = n;
        self.threshold_set = true;
        self
    }

    /// How long the breaker stays open before it lets trial calls through.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = staunch_runtime::Breaker::new().cooldown(std::time::Duration::from_secs(5));
    /// assert_eq!(b.open_duration().as_secs(), 5);
    /// ```
    #[must_use]
    pub const fn cooldown(mut self, d: Duration) -> Self {
        self.cooldown = d;
        self.cooldown_set = true;
        self
    }

    /// Trial calls let through at a time while half-open, and successes in a row that close it
    /// (at least 1).
    ///
    /// # Examples
    ///
    /// ```
    /// let b = staunch_runtime::Breaker::new().half_open(3);
    /// assert_eq!(b.trial_calls(), 3);
    /// ```
    #[must_use]
    pub const fn half_open(mut self, m: u32) -> Self {
        self.half_open = m;
        self.half_open_set = true;
        self
    }

    /// The longest the breaker stays half-open without a verdict (resilience4j's
    /// `maxWaitDurationInHalfOpenState`): past it, the breaker re-opens for a full cooldown, the
    /// trials still running give up their slots, and their late answers are ignored. Greater
    /// than 0. Default: no bound.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = staunch_runtime::Breaker::new().max_half_open(Duration::from_secs(20));
    /// assert_eq!(b.half_open_limit(), Some(Duration::from_secs(20)));
    /// ```
    #[must_use]
    pub const fn max_half_open(mut self, d: Duration) -> Self {
        self.max_half_open = Some(d);
        self
    }

    /// Makes it a failure-rate breaker: it opens when at least this fraction of the calls in its
    /// sliding window failed (resilience4j's `failureRateThreshold`, as a fraction), once the
    /// window holds [`min_calls`](Self::min_calls). A fraction in (0, 1]. Default, once any
    /// failure-rate option is set: 0.5. Cannot be set with [`threshold`](Self::threshold).
    ///
    /// Setting any of `failure_rate`, `window_calls`, `window_time`, `min_calls`, `slow_call`
    /// or `slow_rate` makes the breaker a failure-rate breaker; the others take their defaults.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = staunch_runtime::Breaker::new().failure_rate(0.3);
    /// assert_eq!(b.failure_rate_threshold(), Some(0.3));
    /// assert_eq!(staunch_runtime::Breaker::new().failure_rate_threshold(), None);
    /// ```
    #[must_use]
    pub const fn failure_rate(mut self, rate: f64) -> Self {
        self.rate = Some(self.rate_or_default().with_failure_rate(rate));
        self
    }

    /// A count-based sliding window: the failure rate is that of the last `n` calls
    /// (resilience4j's `COUNT_BASED` window of `slidingWindowSize`). Between 1 and
    /// [`MAX_WINDOW_CALLS`](Self::MAX_WINDOW_CALLS). Default: 100. Cannot be set with
    /// [`window_time`](Self::window_time).
    ///
    /// # Examples
    ///
    /// ```
    /// use staunch_runtime::{Breaker, SlidingWindow};
    /// let b = Breaker::new().window_calls(20);
    /// assert_eq!(b.sliding_window(), Some(SlidingWindow::Calls(20)));
    /// ```
    #[must_use]
    pub const fn window_calls(mut self, n: u32) -> Self {
        let mut r = self.rate_or_default();
        r.window_calls = Some(n);
        self.rate = Some(r);
        self
    }

    /// A time-based sliding window: the failure rate is that of the calls that ended in the last
    /// `d` (resilience4j's `TIME_BASED` window), kept in ten buckets of `d / 10` each. At least
    /// 10 ms. Cannot be set with [`window_calls`](Self::window_calls).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use staunch_runtime::{Breaker, SlidingWindow};
    /// let b = Breaker::new().window_time(Duration::from_secs(60));
    /// assert_eq!(b.sliding_window(), Some(SlidingWindow::Time(Duration::from_secs(60))));
    /// ```
    #[must_use]
    pub const fn window_time(mut self, d: Duration) -> Self {
        let mut r = self.rate_or_default();
        r.window_time = Some(d);
        self.rate = Some(r);
        self
    }

    /// The fewest calls the window must hold before the breaker judges its rates
    /// (resilience4j's `minimumNumberOfCalls`). At least 1, and at most `window_calls` with a
    /// count-based window. Default: 100, or the window's size if that is smaller.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = staunch_runtime::Breaker::new().window_calls(20);
    /// assert_eq!(b.minimum_calls(), Some(20));
    /// assert_eq!(b.min_calls(5).minimum_calls(), Some(5));
    /// ```
    #[must_use]
    pub const fn min_calls(mut self, n: u32) -> Self {
        let mut r = self.rate_or_default();
        r.min_calls = Some(n);
        self.rate = Some(r);
        self
    }

    /// A call that takes longer than `d` (from its admission to its outcome, the body's timeout
    /// included) is slow (resilience4j's `slowCallDurationThreshold`): it counts in the window's
    /// slow-call rate, whether it succeeded or failed, and a slow trial re-opens a half-open
    /// breaker. Greater than 0. Default: none (no call is slow, and no clock is read for it).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = staunch_runtime::Breaker::new().slow_call(Duration::from_secs(2));
    /// assert_eq!(b.slow_call_bound(), Some(Duration::from_secs(2)));
    /// ```
    #[must_use]
    pub const fn slow_call(mut self, d: Duration) -> Self {
        let mut r = self.rate_or_default();
        r.slow_call = Some(d);
        self.rate = Some(r);
        self
    }

    /// The breaker opens when at least this fraction of the calls in its window were slow
    /// (resilience4j's `slowCallRateThreshold`, as a fraction). A fraction in (0, 1]. Default:
    /// 1.0 (every call in the window slow).
    ///
    /// # Examples
    ///
    /// ```
    /// let b = staunch_runtime::Breaker::new().slow_rate(0.8);
    /// assert_eq!(b.slow_call_rate_threshold(), Some(0.8));
    /// ```
    #[must_use]
    pub const fn slow_rate(mut self, rate: f64) -> Self {
        let mut r = self.rate_or_default();
        r.slow_rate = Some(rate.to_bits());
        self.rate = Some(r);
        self
    }

    /// An exponential open period: each re-open from half-open multiplies the cooldown by
    /// [`cooldown_multiplier`](Self::cooldown_multiplier), up to `d`; closing brings it back to
    /// [`cooldown`](Self::cooldown) (resilience4j's `waitIntervalFunctionInOpenState` with an
    /// exponential backoff). At least `cooldown`. Default: none (every open period lasts
    /// `cooldown`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = staunch_runtime::Breaker::new().max_cooldown(Duration::from_secs(600));
    /// assert_eq!(b.open_duration_cap(), Some((Duration::from_secs(600), 2.0)));
    /// ```
    #[must_use]
    pub const fn max_cooldown(mut self, d: Duration) -> Self {
        self.max_cooldown = Some(d);
        self
    }

    /// The factor each re-open from half-open applies to the cooldown. A finite number of at
    /// least 1.0; needs [`max_cooldown`](Self::max_cooldown). Default: 2.0.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = staunch_runtime::Breaker::new()
    ///     .max_cooldown(Duration::from_secs(600))
    ///     .cooldown_multiplier(1.5);
    /// assert_eq!(b.open_duration_cap(), Some((Duration::from_secs(600), 1.5)));
    /// ```
    #[must_use]
    pub const fn cooldown_multiplier(mut self, f: f64) -> Self {
        self.cooldown_multiplier = Some(f.to_bits());
        self
    }

    /// The largest `window_calls` (the runtime counts a window's calls in 20 bits).
    ///
    /// # Examples
    ///
    /// ```
    /// use staunch_runtime::{Breaker, Policy};
    /// let too_many = Breaker::new().window_calls(Breaker::MAX_WINDOW_CALLS + 1);
    /// let e = Policy::builder("docs-window-too-large").breaker(too_many).build().unwrap_err();
    /// assert_eq!(
    ///     e.to_string(),
    ///     "policy `docs-window-too-large`: `breaker(window_calls)` must be between 1 and 1000000"
    /// );
    /// ```
    pub const MAX_WINDOW_CALLS: u32 = 1_000_000;

    /// The failure rate that opens a failure-rate breaker; `None` for a breaker of failures in a
    /// row.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(staunch_runtime::Breaker::new().window_calls(10).failure_rate_threshold(), Some(0.5));
    /// ```
    #[must_use]
    pub fn failure_rate_threshold(&self) -> Option<f64> {
        self.rate
            .map(|r| r.failure_rate.map_or(0.5, f64::from_bits))
    }

    /// The sliding window of a failure-rate breaker; `None` for a breaker of failures in a row.
    ///
    /// # Examples
    ///
    /// ```
    /// use staunch_runtime::{Breaker, SlidingWindow};
    /// assert_eq!(Breaker::new().failure_rate(0.5).sliding_window(), Some(SlidingWindow::Calls(100)));
    /// ```
    #[must_use]
    pub fn sliding_window(&self) -> Option<SlidingWindow> {
        self.rate.map(|r| match (r.window_time, r.window_calls) {
            (Some(d), _) => SlidingWindow::Time(d),
            (None, n) => SlidingWindow::Calls(n.unwrap_or(100)),
        })
    }

    /// The fewest calls in the window before a failure-rate breaker judges; `None` for a breaker
    /// of failures in a row.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = staunch_runtime::Breaker::new().window_time(Duration::from_secs(10));
    /// assert_eq!(b.minimum_calls(), Some(100));
    /// ```
    #[must_use]
    pub fn minimum_calls(&self) -> Option<u32> {
        self.rate
            .map(|r| match (r.min_calls, r.window_time, r.window_calls) {
                (Some(n), _, _) => n,
                (None, Some(_), _) => 100,
                (None, None, calls) => calls.unwrap_or(100).min(100),
            })
    }

    /// The duration past which a call is slow, if set.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(staunch_runtime::Breaker::new().slow_call_bound(), None);
    /// ```
    #[must_use]
    pub fn slow_call_bound(&self) -> Option<std::time::Duration> {
        self.rate.and_then(|r| r.slow_call)
    }

    /// The slow-call rate that opens a failure-rate breaker; `None` for a breaker of failures in
    /// a row.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(staunch_runtime::Breaker::new().failure_rate(0.5).slow_call_rate_threshold(), Some(1.0));
    /// ```
    #[must_use]
    pub fn slow_call_rate_threshold(&self) -> Option<f64> {
        self.rate.map(|r| r.slow_rate.map_or(1.0, f64::from_bits))
    }

    /// The exponential open period: the longest cooldown and the factor of each re-open; `None`
    /// when every open period lasts `cooldown`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(staunch_runtime::Breaker::new().open_duration_cap(), None);
    /// ```
    #[must_use]
    pub fn open_duration_cap(&self) -> Option<(Duration, f64)> {
        self.max_cooldown
            .map(|d| (d, self.cooldown_multiplier.map_or(2.0, f64::from_bits)))
    }

    /// The failure-rate and exponential-open options, checked: the message of the first
    /// mistake.
    pub(crate) fn check_rate(&self) -> Result<(), String> {
        if let Some(n) = self.max_keys {
            if !self.keyed {
                return Err(
                    "`breaker(max_keys)` needs a keyed breaker: set `breaker(key)`".to_owned(),
                );
            }
            if !(1..=Self::MAX_KEYS).contains(&n) {
                return Err(format!(
                    "`breaker(max_keys)` must be between 1 and {}",
                    Self::MAX_KEYS
                ));
            }
        }
        let fraction = |r: f64| r > 0.0 && r <= 1.0;
        if let Some(r) = self.rate {
            if self.threshold_set {
                return Err(
                    "`breaker(threshold)` counts failures in a row and `breaker(failure_rate)` \
                     (or another window option) a rate: set one of them"
                        .to_owned(),
                );
            }
            if r.window_calls.is_some() && r.window_time.is_some() {
                return Err(
                    "`breaker(window_calls)` and `breaker(window_time)` cannot both be set"
                        .to_owned(),
                );
            }
            if r.failure_rate
                .map(f64::from_bits)
                .is_some_and(|f| !fraction(f))
            {
                return Err("`breaker(failure_rate)` must be a fraction in (0, 1]".to_owned());
            }
            if r.slow_rate
                .map(f64::from_bits)
                .is_some_and(|f| !fraction(f))
            {
                return Err("`breaker(slow_rate)` must be a fraction in (0, 1]".to_owned());
            }
            if r.window_calls
                .is_some_and(|n| !(1..=Self::MAX_WINDOW_CALLS).contains(&n))
            {
                return Err(format!(
                    "`breaker(window_calls)` must be between 1 and {}",
                    Self::MAX_WINDOW_CALLS
                ));
            }
            if r.window_time.is_some_and(|d| d < Duration::from_millis(10)) {
                return Err("`breaker(window_time)` must be at least 10ms".to_owned());
            }
            if r.min_calls == Some(0) {
                return Err("`breaker(min_calls)` must be at least 1".to_owned());
            }
            if let (Some(m), Some(n)) = (r.min_calls, r.window_calls) {
                if m > n {
                    return Err(
                        "`breaker(min_calls)` must be at most `breaker(window_calls)`".to_owned(),
                    );
                }
            }
            if r.slow_call == Some(Duration::ZERO) {
                return Err("`breaker(slow_call)` must be greater than 0".to_owned());
            }
        }
        if let Some(f) = self.cooldown_multiplier.map(f64::from_bits) {
            if self.max_cooldown.is_none() {
                return Err(
                    "`breaker(cooldown_multiplier)` needs `breaker(max_cooldown)`".to_owned(),
                );
            }
            if !(f >= 1.0 && f.is_finite()) {
                return Err(
                    "`breaker(cooldown_multiplier)` must be a finite number of at least 1.0"
                        .to_owned(),
                );
            }
        }
        if self.max_cooldown.is_some_and(|m| m < self.cooldown) {
            return Err("`breaker(max_cooldown)` must be at least `breaker(cooldown)`".to_owned());
        }
        Ok(())
    }

    /// Whether attempts must be timed for this breaker (a slow-call bound, a time window).
    pub(crate) fn needs_clock(&self) -> bool {
        self.rate
            .is_some_and(|r| r.slow_call.is_some() || r.window_time.is_some())
    }

    const fn rate_or_default(&self) -> RateSettings {
        match self.rate {
            Some(r) => r,
            None => RateSettings {
                failure_rate: None,
                window_calls: None,
                window_time: None,
                min_calls: None,
                slow_call: None,
                slow_rate: None,
            },
        }
    }

    /// How long the breaker may stay half-open without a verdict, if bounded.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(staunch_runtime::Breaker::new().half_open_limit(), None);
    /// ```
    #[must_use]
    pub const fn half_open_limit(&self) -> Option<Duration> {
        self.max_half_open
    }

    /// The most trial calls a half-open breaker may let through at a time (the runtime counts a
    /// half-open period's trials in 16 bits).
    ///
    /// # Examples
    ///
    /// ```
    /// use staunch_runtime::{Breaker, Policy};
    /// let most = Breaker::new().half_open(Breaker::MAX_HALF_OPEN);
    /// assert!(Policy::builder("docs-most-trials").breaker(most).build().is_ok());
    /// let too_many = Breaker::new().half_open(Breaker::MAX_HALF_OPEN + 1);
    /// let e = Policy::builder("docs-too-many-trials").breaker(too_many).build().unwrap_err();
    /// assert_eq!(
    ///     e.to_string(),
    ///     "policy `docs-too-many-trials`: `breaker(half_open)` must be between 1 and 65535"
    /// );
    /// ```
    pub const MAX_HALF_OPEN: u32 = 0xffff;

    /// Failures in a row that open the breaker.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(staunch_runtime::Breaker::new().failure_threshold(), 5);
    /// ```
    #[must_use]
    pub const fn failure_threshold(&self) -> u32 {
        self.threshold
    }

    /// How long the breaker stays open before it lets trial calls through.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(staunch_runtime::Breaker::new().open_duration().as_secs(), 30);
    /// ```
    #[must_use]
    pub const fn open_duration(&self) -> Duration {
        self.cooldown
    }

    /// Trial calls let through at a time while half-open (and successes in a row that close it).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(staunch_runtime::Breaker::new().trial_calls(), 1);
    /// ```
    #[must_use]
    pub const fn trial_calls(&self) -> u32 {
        self.half_open
    }

    /// The configured threshold.
    ///
    /// # Examples
    ///
    /// ```
    /// # #![allow(deprecated)]
    /// assert_eq!(staunch_runtime::Breaker::new().threshold_value(), 5);
    /// ```
    #[deprecated(since = "0.1.1", note = "renamed to `failure_threshold`")]
    #[must_use]
    pub const fn threshold_value(&self) -> u32 {
        self.failure_threshold()
    }

    /// The configured cooldown.
    ///
    /// # Examples
    ///
    /// ```
    /// # #![allow(deprecated)]
    /// assert_eq!(staunch_runtime::Breaker::new().cooldown_value().as_secs(), 30);
    /// ```
    #[deprecated(since = "0.1.1", note = "renamed to `open_duration`")]
    #[must_use]
    pub const fn cooldown_value(&self) -> Duration {
        self.open_duration()
    }

    /// The configured number of half-open trials.
    ///
    /// # Examples
    ///
    /// ```
    /// # #![allow(deprecated)]
    /// assert_eq!(staunch_runtime::Breaker::new().half_open_value(), 1);
    /// ```
    #[deprecated(since = "0.1.1", note = "renamed to `trial_calls`")]
    #[must_use]
    pub const fn half_open_value(&self) -> u32 {
        self.trial_calls()
    }
}

impl RateSettings {
    const fn with_failure_rate(mut self, rate: f64) -> Self {
        self.failure_rate = Some(rate.to_bits());
        self
    }
}

/// The sliding window of a failure-rate breaker.
///
/// # Examples
///
/// ```
/// use staunch_runtime::{Breaker, SlidingWindow};
/// assert_eq!(Breaker::new().window_calls(50).sliding_window(), Some(SlidingWindow::Calls(50)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SlidingWindow {
    /// The last this many calls.
    Calls(u32),
    /// The calls that ended within this long.
    Time(Duration),
}

// Whether `threshold` was set explicitly is not a difference between two breakers.
impl PartialEq for Breaker {
    fn eq(&self, o: &Self) -> bool {
        (
            self.threshold,
            self.cooldown,
            self.half_open,
            self.max_half_open,
        ) == (o.threshold, o.cooldown, o.half_open, o.max_half_open)
            && (self.rate, self.max_cooldown, self.cooldown_multiplier)
                == (o.rate, o.max_cooldown, o.cooldown_multiplier)
            && (self.keyed, self.max_keys) == (o.keyed, o.max_keys)
    }
}
impl Eq for Breaker {}

impl Default for Breaker {
    fn default() -> Self {
        Self::new()
    }
}
