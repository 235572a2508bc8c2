//! A policy: the parts of its name, its own retry and timeout, and the calls made through it;
//! and the builder that makes one.

use std::future::Future;
use std::time::Duration;

use crate::attempt::{AsyncArgs, Call, IsResult, Plan, Req, Step, PLAIN};
use crate::classify::{Class, Classify};
use crate::clock::{self, Mode};
use crate::config::{ConfigError, OriginRef, Settings};
use crate::describe::{self, Description, Origin};
use crate::handle::Handle;
use crate::hedge::Hedging;
use crate::registry;
use crate::sync::Arc;
use crate::{Breaker, Chaos, Config, Error, Hedge, Retry, Stale};

/// Builds a [`Policy`]: each part optional.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use staunch_runtime::{Breaker, Policy, Retry};
///
/// let policy = Policy::builder("docs-builder")
///     .retry(Retry::new().max(2).delay(Duration::from_millis(1)))
///     .breaker(Breaker::new().threshold(5).cooldown(Duration::from_secs(30)))
///     .rps(100.0)
///     .max_inflight(16)
///     .build()
///     .expect("valid settings");
/// let r: Result<u32, staunch_runtime::Error> = policy.call(|| Ok(7));
/// assert_eq!(r, Ok(7));
/// ```
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct PolicyBuilder(Settings);

impl PolicyBuilder {
    /// Retries failed attempts.
    ///
    /// # Examples
    ///
    /// ```
    /// use staunch_runtime::{Policy, Retry};
    /// let p = Policy::builder("docs-b-retry").retry(Retry::new()).build().unwrap();
    /// assert_eq!(p.config().retry, Some(Retry::new()));
    /// ```
    pub fn retry(mut self, retry: Retry) -> Self {
        self.0.retry = Some(retry);
        self
    }

    /// Adds a circuit breaker.
    ///
    /// # Examples
    ///
    /// ```
    /// use staunch_runtime::{Breaker, Policy};
    /// let p = Policy::builder("docs-b-breaker").breaker(Breaker::new()).build().unwrap();
    /// assert_eq!(p.config().breaker, Some(Breaker::new()));
    /// ```
    pub fn breaker(mut self, breaker: Breaker) -> Self {
        self.0.breaker = Some(breaker);
        self
    }

    /// Limits calls to `r` a second (not with [`rpm`](Self::rpm)).
    ///
    /// # Examples
    ///
    /// ```
    /// let p = staunch_runtime::Policy::builder("docs-b-rps").rps(10.0).build().unwrap();
    /// let rate = p.config().rate.unwrap();
    /// assert_eq!((rate.rate, rate.per.as_secs(), rate.burst), (10.0, 1, 10));
    /// ```
    pub fn rps(mut self, r: f64) -> Self {
        self.0.rps = Some(r);
        self
    }

    /// Limits calls to `r` a minute (not with [`rps`](Self::rps)).
    ///
    /// # Examples
    ///
    /// ```
    /// let p = staunch_runtime::Policy::builder("docs-b-rpm").rpm(600.0).build().unwrap();
    /// let rate = p.config().rate.unwrap();
    /// assert_eq!((rate.rate, rate.per.as_secs(), rate.burst), (600.0, 60, 10));
    /// ```
    pub fn rpm(mut self, r: f64) -> Self {
        self.0.rpm = Some(r);
        self
    }

    /// Limits the tokens calls may use to `r` a minute (an LLM provider's TPM), beside any
    /// request rate; a call is admitted only when both have room, and a rejection by either
    /// takes from neither. A call's cost is its [`Req::cost`](crate::attempt::Req::cost) estimate,
    /// reconciled after the call by [`Call::usage`](crate::attempt::Call::usage). The bucket holds a
    /// minute's worth; a call that costs more than that is rejected at once.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = staunch_runtime::Policy::builder("docs-b-tpm").rpm(3500.0).tpm(90_000.0).build().unwrap();
    /// let tokens = p.config().tokens.unwrap();
    /// assert_eq!((tokens.rate, tokens.per.as_secs(), tokens.burst), (90_000.0, 60, 90_000));
    /// ```
    pub fn tpm(mut self, r: f64) -> Self {
        self.0.tpm = Some(r);
        self
    }

    /// The rate limiter's bucket size (default: one second's worth, at least 1).
    ///
    /// # Examples
    ///
    /// ```
    /// let p = staunch_runtime::Policy::builder("docs-b-burst").rps(1.0).burst(20).build().unwrap();
    /// assert_eq!(p.config().rate.unwrap().burst, 20);
    /// let e = staunch_runtime::Policy::builder("docs-b-burst-alone").burst(20).build().unwrap_err();
    /// assert_eq!(e.to_string(), "policy `docs-b-burst-alone`: `burst` needs a rate: set `rps` or `rpm`");
    /// ```
    pub fn burst(mut self, b: u32) -> Self {
        self.0.burst = Some(b);
        self
    }

    /// One bucket per key: calls pass a key through [`Req::key`](crate::attempt::Req::key).
    ///
    /// # Examples
    ///
    /// ```
    /// let p = staunch_runtime::Policy::builder("docs-b-keyed").rps(1.0).keyed().build().unwrap();
    /// assert!(p.config().rate.unwrap().keyed);
    /// assert_eq!(p.handle().signals().keys, Some(0));
    /// ```
    pub fn keyed(mut self) -> Self {
        self.0.keyed = true;
        self
    }

    /// The longest a call waits for a token before failing with
    /// [`Error::RateLimited`](crate::Error::RateLimited). The same bound applies to a hold-off:
    /// in a policy with a rate limit, a retry-after hint that one call received (see
    /// [`Classify::retry_after`](crate::Classify::retry_after)) holds off every caller until it
    /// has passed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let p = staunch_runtime::Policy::builder("docs-b-wait").rps(1.0).wait(Duration::ZERO).build().unwrap();
    /// assert_eq!(p.config().rate.unwrap().wait, Some(Duration::ZERO));
    /// ```
    pub fn wait(mut self, d: Duration) -> Self {
        self.0.wait = Some(d);
        self
    }

    /// At most `n` calls in flight; one more fails at once with
    /// [`Error::BulkheadFull`](crate::Error::BulkheadFull), or, with a [`queue`](Self::queue),
    /// waits for a slot. At least 1. Default: no bulkhead.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = staunch_runtime::Policy::builder("docs-b-inflight").max_inflight(4).build().unwrap();
    /// assert_eq!(p.config().max_inflight, Some(4));
    /// ```
    pub fn max_inflight(mut self, n: usize) -> Self {
        self.0.max_inflight = Some(n);
        self
    }

    /// Lets up to `n` callers wait for a bulkhead slot when every slot is taken, instead of
    /// failing at once; one more fails at once with
    /// [`Error::BulkheadFull`](crate::Error::BulkheadFull). Needs
    /// [`max_inflight`](Self::max_inflight); `n` between 1 and 1,000,000. Default: no queue.
    ///
    /// A slot given back while callers wait goes to the one that has waited longest, never to
    /// a newcomer (it queues behind them). A sync caller waits by blocking its thread, an async
    /// one by awaiting; both kinds share one queue and one order. A waiter waits at most
    /// [`queue_wait`](Self::queue_wait) (without it, as long as it takes) and never past its
    /// call's [`deadline`](Self::deadline): then it fails with
    /// [`Error::BulkheadFull`](crate::Error::BulkheadFull). An async waiter whose future is
    /// dropped leaves the queue as if it had never joined, and a slot handed to it just before
    /// goes to the next waiter. [`Signals::queued`](crate::Signals::queued) counts the waiters.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// use std::sync::Arc;
    /// use staunch_runtime::{Error, Policy};
    /// use tokio::sync::Notify;
    /// let p = Policy::builder("docs-b-queue").max_inflight(1).queue(1).build().unwrap();
    /// let done = Arc::new(Notify::new());
    /// // the first call holds the one slot until told
    /// let first = tokio::spawn({
    ///     let (p, done) = (p.clone(), done.clone());
    ///     async move {
    ///         let done = &done;
    ///         p.call_async(|| async move { done.notified().await; Ok::<_, Error>(1) }).await
    ///     }
    /// });
    /// tokio::task::yield_now().await;
    /// // the second waits for it in the queue; a third finds the queue full
    /// let second = tokio::spawn({
    ///     let p = p.clone();
    ///     async move { p.call_async(|| async { Ok::<_, Error>(2) }).await }
    /// });
    /// tokio::task::yield_now().await;
    /// assert_eq!(p.handle().signals().queued, 1);
    /// let third = p.call_async(|| async { Ok::<_, Error>(3) }).await;
    /// assert!(matches!(third, Err(Error::BulkheadFull { limit: 1, .. })));
    /// done.notify_one();
    /// assert_eq!(first.await.unwrap(), Ok(1));
    /// assert_eq!(second.await.unwrap(), Ok(2));
    /// # }
    /// ```
    pub fn queue(mut self, n: usize) -> Self {
        self.0.queue = Some(n);
        self
    }

    /// The longest a caller waits in the bulkhead's [`queue`](Self::queue) for a slot; past it
    /// the call fails with [`Error::BulkheadFull`](crate::Error::BulkheadFull). Needs `queue`;
    /// greater than 0. Default: as long as it takes, up to the call's deadline.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// use std::time::Duration;
    /// use staunch_runtime::{Error, Policy};
    /// let p = Policy::builder("docs-b-queue-wait")
    ///     .max_inflight(1)
    ///     .queue(4)
    ///     .queue_wait(Duration::from_secs(2))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(p.config().queue_wait, Some(Duration::from_secs(2)));
    /// // a call that holds the slot for a minute
    /// let holder = tokio::spawn({
    ///     let p = p.clone();
    ///     async move {
    ///         p.call_async(|| async {
    ///             tokio::time::sleep(Duration::from_secs(60)).await;
    ///             Ok::<_, Error>(())
    ///         })
    ///         .await
    ///     }
    /// });
    /// tokio::task::yield_now().await;
    /// let start = tokio::time::Instant::now();
    /// let r = p.call_async(|| async { Ok::<_, Error>(()) }).await;
    /// assert!(matches!(r, Err(Error::BulkheadFull { .. })));
    /// assert_eq!(start.elapsed(), Duration::from_secs(2)); // waited its two seconds
    /// # holder.abort();
    /// # }
    /// ```
    pub fn queue_wait(mut self, d: Duration) -> Self {
        self.0.queue_wait = Some(d);
        self
    }

    /// Each attempt of an async call fails with [`Error::Timeout`](crate::Error::Timeout) past
    /// `d`. Sync calls cannot be interrupted and ignore it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let p = staunch_runtime::Policy::builder("docs-b-timeout").timeout(Duration::from_secs(10)).build().unwrap();
    /// assert_eq!(p.config().timeout, Some(Duration::from_secs(10)));
    /// ```
    pub fn timeout(mut self, d: Duration) -> Self {
        self.0.timeout = Some(d);
        self
    }

    /// The longest a call may take in all: attempts, backoff waits, token waits and hold-offs
    /// together (the fallback runs outside it). A retry whose wait would end past it is not
    /// started, the call ending with its last error (or its fallback); a wait for a token that
    /// cannot end before it fails at once with
    /// [`Error::RateLimited`](crate::Error::RateLimited); an async attempt still running when
    /// it passes is cancelled with [`Error::Timeout`](crate::Error::Timeout). Greater than 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let p = staunch_runtime::Policy::builder("docs-b-deadline").deadline(Duration::from_secs(5)).build().unwrap();
    /// assert_eq!(p.config().deadline, Some(Duration::from_secs(5)));
    /// let e = staunch_runtime::Policy::builder("docs-b-no-time").deadline(Duration::ZERO).build().unwrap_err();
    /// assert_eq!(e.to_string(), "policy `docs-b-no-time`: `deadline` must be greater than 0");
    /// ```
    pub fn deadline(mut self, d: Duration) -> Self {
        self.0.deadline = Some(d);
        self
    }

    /// Injects errors, latency and rejections into the policy's attempts at the rates of
    /// `chaos`, to rehearse an outage (see [`Chaos`] for what each does). Only with the `chaos`
    /// feature ([`Chaos::ENABLED`]); without it nothing is injected, and a policy that
    /// configures chaos says so once in [`warnings`](crate::warnings). Chaos belongs to the
    /// name, like the breaker: the first policy of a name configures it.
    /// `STAUNCH_<NAME>_CHAOS_ERROR`, `_CHAOS_LATENCY`, `_CHAOS_LATENCY_RATE` and `_CHAOS_REJECT`
    /// set it (or override it) when the policy is created, without a rebuild.
    ///
    /// # Errors
    ///
    /// [`build`](Self::build) fails with a [`ConfigError`] if a rate lies outside `[0, 1]`, or
    /// `error + reject` exceeds 1.
    ///
    /// # Examples
    ///
    /// ```
    /// use staunch_runtime::{Chaos, Error, Policy};
    /// let p = Policy::builder("docs-b-chaos").chaos(Chaos::new().reject(1.0)).build().unwrap();
    /// assert_eq!(p.config().chaos, Some(Chaos::new().reject(1.0)));
    /// let r: Result<(), Error> = p.call(|| Ok(()));
    /// if Chaos::ENABLED {
    ///     assert_eq!(r, Err(Error::InjectedRejection { policy: "docs-b-chaos".into() }));
    ///     assert_eq!(p.handle().signals().rejections.chaos, 1);
    /// }
    /// ```
    pub fn chaos(mut self, chaos: Chaos) -> Self {
        self.0.chaos = Some(chaos);
        self
    }

    /// Hedging for this policy's [`call_hedged`](Policy::call_hedged) calls (the attribute's
    /// `hedge(…)`): after a delay (fixed, or learned from the policy's own recent latencies), a
    /// call still running gets another copy; the first `Ok` wins and the others are cancelled.
    /// See [`Hedge`] for the settings, their defaults and bounds (`max` 1 to 3, `percentile`
    /// 0.5 to 0.99, `after` greater than 0), checked by [`build`](Self::build).
    ///
    /// **Hedge only what is safe to repeat**: a hedged call may reach the upstream two to four
    /// times at once, and a copy that lost is cancelled wherever it stands. Only
    /// [`call_hedged`](Policy::call_hedged) hedges; [`call_async`](Policy::call_async) never
    /// does. The hedging (and what it learns) belongs to this policy, not to its name: another
    /// policy of the same name does not hedge.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use staunch_runtime::{Hedge, Policy};
    /// let h = Hedge::new().after(Duration::from_millis(200));
    /// let p = Policy::builder("docs-b-hedge").hedge(h).build().unwrap();
    /// assert_eq!(p.config().hedge, Some(h));
    /// let e = Policy::builder("docs-b-hedge-max").hedge(Hedge::new().max(4)).build().unwrap_err();
    /// assert_eq!(e.to_string(), "policy `docs-b-hedge-max`: `hedge(max)` must be between 1 and 3");
    /// ```
    pub fn hedge(mut self, hedge: Hedge) -> Self {
        self.0.hedge = Some(hedge);
        self
    }

    /// Keeps the rate limit, token limit and breaker of failures in a row in Redis (feature
    /// `redis`), shared by every process that declares the same name (and prefix): one quota
    /// and one breaker state for a fleet. See [`Redis`](crate::redis::Redis) for the settings
    /// (fail open or closed, a `timeout` greater than 0 and at most 60 s, default 50 ms, a
    /// non-empty `prefix`, default `staunch:`) and the [`redis`](crate::redis) module for how
    /// the server is found and what a sync call does. Only async calls go through Redis. A
    /// keyed policy's calls pass [`shared_key_hash`](crate::redis::shared_key_hash) of their key
    /// to [`Req::key`](crate::attempt::Req::key), so that every replica finds the same bucket
    /// (the attribute does).
    ///
    /// [`build`](Self::build) fails with a [`ConfigError`] for a value out of bounds, a policy
    /// with nothing to share (no rate, `tpm` or breaker), or a failure-rate breaker or an
    /// exponential cooldown (which cannot be shared). Without the `redis` feature the state
    /// stays in memory, reported once in [`warnings`](crate::warnings).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() {
    /// use staunch_runtime::{redis::Redis, Breaker, Error, Policy};
    /// // one line: the fleet's 500 requests a minute, and one breaker for all replicas
    /// let p = Policy::builder("openai").rpm(500.0).breaker(Breaker::new())
    ///     .redis(Redis::new().url("redis://127.0.0.1:6379")).build().unwrap();
    /// let r: Result<u8, Error> = p.call_async(|| async { Ok(1) }).await;
    /// # }
    /// ```
    pub fn redis(mut self, redis: crate::redis::Redis) -> Self {
        self.0.redis = Some(redis);
        self
    }

    /// Marks the settings given so far and after as the `#[resilient]` attribute's, so that
    /// [`Policy::describe`] names the attribute as their source. What the attribute's
    /// expansion calls first; not for use by hand.
    ///
    /// # Examples
    ///
    /// ```
    /// use staunch_runtime::{Policy, Source};
    /// let p = Policy::builder("docs-from-attribute").from_attribute().max_inflight(2).build().unwrap();
    /// assert_eq!(p.describe().setting("bulkhead", "max_inflight").unwrap().source, Source::Attribute);
    /// ```
    #[doc(hidden)]
    pub fn from_attribute(mut self) -> Self {
        self.0.attribute = true;
        self
    }

    /// Applies the environment's overrides, checks every setting, and returns the policy.
    ///
    /// The breaker, limiter and bulkhead belong to the name: if a policy of this name exists
    /// already, the new one shares them (and their first configuration, the retry budget's
    /// fraction included); retry, timeout and deadline are the new policy's own. A new one that
    /// declares the shared parts differently is reported once in [`warnings`](crate::warnings).
    /// A name held by an [`unnamed`](Policy::unnamed) policy is never joined: the new policy
    /// takes `name#2` (`#3`, …) instead.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first setting outside its valid values.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = staunch_runtime::Policy::builder("docs-shared").max_inflight(1).build().unwrap();
    /// let b = staunch_runtime::Policy::builder("docs-shared").build().unwrap();
    /// assert_eq!(b.config().max_inflight, Some(1));
    /// ```
    pub fn build(self) -> Result<Policy, ConfigError> {
        let declared = self.0.clone();
        let settings = self.0.checked()?;
        let mut config = settings.resolve();
        let origin = std::sync::Arc::new(Origin {
            declared,
            resolved: settings.clone(),
        });
        config.origin = OriginRef(Some(origin.clone()));
        let shared = registry::register(&settings.name, settings.unique, &config);
        Ok(Policy {
            origin,
            plan: Plan {
                shared,
                retry: settings.retry,
                timeout: settings.timeout,
                deadline: settings.deadline,
                hedge: settings.hedge.map(|h| Arc::new(Hedging::new(h))),
            },
        })
    }
}

/// A resilience policy: breaker → limiter → bulkhead → the call (under a timeout) → retry.
///
/// Built with [`Policy::builder`], or by the `#[resilient]` attribute, which goes through the
/// same builder. Cloning is cheap and the clones share everything.
///
/// # Examples
///
/// ```
/// use staunch_runtime::{Error, Policy, Retry};
///
/// let policy = Policy::builder("docs-policy").retry(Retry::new().jitter(0.0)).build().unwrap();
/// let mut attempts = 0;
/// let clock = staunch_runtime::MockClock::new();
/// let _g = clock.install(); // backoff waits move the mock clock instead of sleeping
/// let r: Result<&str, Error> = policy.call(|| {
///     attempts += 1;
///     if attempts < 3 { Err(Error::Timeout { policy: "upstream".into(), after: Default::default() }) } else { Ok("done") }
/// });
/// assert_eq!(r, Ok("done"));
/// assert_eq!(attempts, 3);
/// ```
#[derive(Clone, Debug)]
pub struct Policy {
    plan: Plan,
    /// Where its values came from (read by [`describe`](Self::describe) only).
    origin: std::sync::Arc<Origin>,
}

impl Policy {
    /// Starts a policy named `name`; policies of one name share their breaker, limiter and
    /// bulkhead process-wide.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = staunch_runtime::Policy::builder("docs-name").build().unwrap();
    /// assert_eq!(p.name(), "docs-name");
    /// ```
    pub fn builder(name: &str) -> PolicyBuilder {
        PolicyBuilder(Settings::new(name, false))
    }

    /// Starts a policy that shares nothing: if `name` is taken, it is registered as `name#2`
    /// (`#3`, …). What the attribute uses for a function without `name = …`.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = staunch_runtime::Policy::unnamed("docs-unnamed").build().unwrap();
    /// let b = staunch_runtime::Policy::unnamed("docs-unnamed").build().unwrap();
    /// assert_eq!(b.name(), "docs-unnamed#2");
    /// ```
    pub fn unnamed(name: &str) -> PolicyBuilder {
        PolicyBuilder(Settings::new(name, true))
    }

    /// Whether a call would be admitted now (nothing is taken, no error is built). What a
    /// [`KeyPool`](crate::KeyPool) asks before it builds a call's future for a key.
    pub(crate) fn admits(&self) -> bool {
        self.plan.shared.preflight(0, clock::now_observed).is_ok()
    }

    /// The policy's name, as registered.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(staunch_runtime::Policy::builder("n").build().unwrap().name(), "n");
    /// ```
    #[must_use]
    pub fn name(&self) -> &str {
        &self.plan.shared.name
    }

    /// The configuration as resolved (settings, then environment); breaker, rate and bulkhead
    /// are those of the policy's name, retry and timeout this policy's own.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = staunch_runtime::Policy::builder("docs-cfg").rps(3.0).build().unwrap();
    /// assert_eq!(p.config().rate.unwrap().burst, 3);
    /// ```
    #[must_use]
    pub fn config(&self) -> Config {
        Config {
            retry: self.plan.retry,
            timeout: self.plan.timeout,
            deadline: self.plan.deadline,
            hedge: self.plan.hedge.as_ref().map(|h| h.settings),
            ..self.plan.shared.config.clone()
        }
    }

    /// The composed pipeline, outermost part first, with every value as resolved and its
    /// [`Source`](crate::Source): the attribute, the builder, an environment variable (named),
    /// or the default. The parts of the name (breaker, limits, bulkhead, chaos, retry budget)
    /// are those of the name's first policy, as they are on a call; the description says when
    /// that was another policy. Off the call path: it reads what [`build`](PolicyBuilder::build)
    /// kept.
    ///
    /// # Examples
    ///
    /// ```
    /// use staunch_runtime::{Policy, Retry, Source};
    /// let d = Policy::builder("docs-p-describe").retry(Retry::new().max(2)).build().unwrap().describe();
    /// let parts: Vec<&str> = d.stages.iter().map(|s| s.part).collect();
    /// assert_eq!(parts, ["retry", "call"]);
    /// assert_eq!(d.setting("retry", "max").unwrap().source, Source::Builder);
    /// assert_eq!(d.setting("retry", "backoff").unwrap().source, Source::Default);
    /// println!("{d}");
    /// ```
    #[must_use]
    pub fn describe(&self) -> Description {
        let first = self.plan.shared.config.origin.0.as_ref();
        let from_first = first.is_some_and(|f| !std::sync::Arc::ptr_eq(f, &self.origin));
        describe::describe(
            self.name(),
            &self.origin,
            first.unwrap_or(&self.origin),
            from_first,
        )
    }

    /// The operator's handle on this policy's shared state.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = staunch_runtime::Policy::builder("docs-handle").build().unwrap();
    /// assert_eq!(p.handle().signals().inflight, 0);
    /// ```
    #[must_use]
    pub fn handle(&self) -> Handle {
        Handle::new(self.plan.shared.clone())
    }

    /// [`Stale::settle_sync`](crate::Stale::settle_sync), counted in this policy's
    /// [`Signals::stale_served`](crate::Signals::stale_served). What `stale(…)` expands to.
    ///
    /// # Errors
    ///
    /// The error it was given, when no fresh answer is remembered for `key`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use staunch_runtime::{Policy, Stale};
    /// static CACHE: Stale = Stale::new(10, Duration::from_secs(60));
    /// let p = Policy::builder("docs-stale-sync").build().unwrap();
    /// let _ = p.stale_sync(&CACHE, 1, Ok::<_, ()>(5));
    /// assert_eq!(p.stale_sync(&CACHE, 1, Err::<i32, _>(())), Ok(5));
    /// assert_eq!(p.handle().signals().stale_served, 1);
    /// ```
    pub fn stale_sync<T, E>(&self, cache: &Stale, key: u64, result: Result<T, E>) -> Result<T, E>
    where
        T: Clone + Send + Sync + 'static,
    {
        cache.settle(
            key,
            result,
            Mode::Sync,
            Some(&self.plan.shared.counts.stale_served),
        )
    }

    /// [`stale_sync`](Self::stale_sync) on tokio's clock, for async calls.
    ///
    /// # Errors
    ///
    /// The error it was given, when no fresh answer is remembered for `key`.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::time::Duration;
    /// use staunch_runtime::{Policy, Stale};
    /// static CACHE: Stale = Stale::new(10, Duration::from_secs(60));
    /// let p = Policy::builder("docs-stale-async").build().unwrap();
    /// assert_eq!(p.stale_async(&CACHE, 1, Err::<i32, _>("down")), Err("down"));
    /// # }
    /// ```
    pub fn stale_async<T, E>(&self, cache: &Stale, key: u64, result: Result<T, E>) -> Result<T, E>
    where
        T: Clone + Send + Sync + 'static,
    {
        cache.settle(
            key,
            result,
            Mode::Async,
            Some(&self.plan.shared.counts.stale_served),
        )
    }

    /// Starts a call whose errors `classify` classifies. The low-level API that the attribute
    /// expands to; [`call`](Self::call) and [`call_async`](Self::call_async) wrap it.
    ///
    /// # Examples
    ///
    /// See [`Step`](crate::attempt::Step).
    pub fn begin<R: IsResult>(&self, classify: fn(&R::Err) -> Class) -> Call<'_, R>
    where
        R::Err: From<Error>,
    {
        self.plan.begin(classify)
    }

    /// [`begin`](Self::begin) with [`describe`](Call::describe): what the attribute expands
    /// to (one call, so that a return type that is not a `Result` is reported once).
    ///
    /// # Examples
    ///
    /// ```
    /// let p = staunch_runtime::Policy::builder("docs-begin-described").build().unwrap();
    /// let call = p.begin_described::<Result<(), staunch_runtime::Error>>(
    ///     |_| staunch_runtime::Class::DEFAULT,
    ///     |e| e.to_string(),
    /// );
    /// assert_eq!(call.retries(), 0);
    /// ```
    #[doc(hidden)]
    pub fn begin_described<R: IsResult>(
        &self,
        classify: fn(&R::Err) -> Class,
        describe: fn(&R::Err) -> String,
    ) -> Call<'_, R>
    where
        R::Err: From<Error>,
    {
        self.plan.begin(classify).describe(describe)
    }

    /// Calls `f` through the policy, blocking the thread for waits; every error is retryable.
    ///
    /// # Errors
    ///
    /// The last attempt's error, or the policy's rejection converted into `E`.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = staunch_runtime::Policy::builder("docs-call").max_inflight(1).build().unwrap();
    /// let r: Result<u8, staunch_runtime::Error> = p.call(|| Ok(1));
    /// assert_eq!(r, Ok(1));
    /// ```
    pub fn call<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnMut() -> Result<T, E>,
        E: From<Error>,
    {
        self.run_sync(|_| Class::DEFAULT, f)
    }

    /// [`call`](Self::call) with errors classified by their [`Classify`] implementation.
    ///
    /// # Errors
    ///
    /// The last attempt's error, or the policy's rejection converted into `E`.
    ///
    /// # Examples
    ///
    /// ```
    /// use staunch_runtime::{Policy, Retry};
    /// let p = Policy::builder("docs-call-classified").retry(Retry::new()).build().unwrap();
    /// let mut calls = 0;
    /// let r: std::io::Result<()> = p.call_classified(|| {
    ///     calls += 1;
    ///     Err(std::io::ErrorKind::NotFound.into())
    /// });
    /// assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::NotFound);
    /// assert_eq!(calls, 1); // not found is not retryable
    /// ```
    pub fn call_classified<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnMut() -> Result<T, E>,
        E: From<Error> + Classify,
    {
        self.run_sync(Classify::class, f)
    }

    fn run_sync<T, E, F>(&self, classify: fn(&E) -> Class, mut f: F) -> Result<T, E>
    where
        F: FnMut() -> Result<T, E>,
        E: From<Error>,
    {
        let mut call = self.begin::<Result<T, E>>(classify);
        loop {
            match call.attempt_sync(Req::new(), &mut f) {
                Step::Done(r) | Step::Fallback(r) => return r,
                Step::Again => {}
            }
        }
    }

    /// Calls the future that `f` makes through the policy, on tokio's timers; every error is
    /// retryable. `f` makes one future per attempt.
    ///
    /// # Errors
    ///
    /// The last attempt's error, or the policy's rejection converted into `E`.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let p = staunch_runtime::Policy::builder("docs-call-async")
    ///     .timeout(std::time::Duration::from_secs(1))
    ///     .build()
    ///     .unwrap();
    /// let r: Result<u8, staunch_runtime::Error> = p.call_async(|| async { Ok(2) }).await;
    /// assert_eq!(r, Ok(2));
    /// # }
    /// ```
    // Not an `async fn`: its future is `run_async`'s itself, not one that holds it (another
    // layer would move the attempt's future once more, with a call to `memcpy`: +29 Ir a call).
    pub fn call_async<T, E, F, Fut>(
        &self,
        f: F,
    ) -> impl Future<Output = Result<T, E>> + use<'_, T, E, F, Fut>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error>,
    {
        self.run_async(|_| Class::DEFAULT, f)
    }

    /// [`call_async`](Self::call_async) with errors classified by their [`Classify`]
    /// implementation.
    ///
    /// # Errors
    ///
    /// The last attempt's error, or the policy's rejection converted into `E`.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let p = staunch_runtime::Policy::builder("docs-call-async-classified").build().unwrap();
    /// let r: std::io::Result<u8> = p.call_async_classified(|| async { Ok(3) }).await;
    /// assert_eq!(r.unwrap(), 3);
    /// # }
    /// ```
    pub fn call_async_classified<T, E, F, Fut>(
        &self,
        f: F,
    ) -> impl Future<Output = Result<T, E>> + use<'_, T, E, F, Fut>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error> + Classify,
    {
        self.run_async(Classify::class, f)
    }

    /// Calls the future that `f` makes through the policy, hedged as
    /// [`PolicyBuilder::hedge`] says: after the hedge delay, a call still running gets another
    /// copy (`f` called again), the first `Ok` wins and the others are dropped. Every error is
    /// retryable; a hedged round counts as one attempt of the retry loop. Without
    /// [`PolicyBuilder::hedge`], the same as [`call_async`](Self::call_async).
    ///
    /// **Call it only for what is safe to repeat**: the copies run at the same time.
    ///
    /// # Errors
    ///
    /// The last copy's error once every copy of the last round failed, or the policy's
    /// rejection converted into `E`.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use std::time::Duration;
    /// use staunch_runtime::{Error, Hedge, Policy};
    /// let p = Policy::builder("docs-call-hedged")
    ///     .hedge(Hedge::new().after(Duration::from_millis(100)))
    ///     .build()
    ///     .unwrap();
    /// let copies = AtomicU32::new(0);
    /// let started = tokio::time::Instant::now();
    /// let r: Result<&str, Error> = p
    ///     .call_hedged(|| async {
    ///         let first = copies.fetch_add(1, Ordering::Relaxed) == 0;
    ///         tokio::time::sleep(Duration::from_millis(if first { 2000 } else { 50 })).await;
    ///         Ok(if first { "slow" } else { "hedge" })
    ///     })
    ///     .await;
    /// assert_eq!(r, Ok("hedge"));
    /// assert_eq!(started.elapsed(), Duration::from_millis(150));
    /// # }
    /// ```
    pub async fn call_hedged<T, E, F, Fut>(&self, f: F) -> Result<T, E>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error>,
    {
        let mut call = self.begin::<Result<T, E>>(|_| Class::DEFAULT);
        loop {
            match call.attempt_hedged(Req::new(), &f).await {
                Step::Done(r) | Step::Fallback(r) => return r,
                Step::Again => {}
            }
        }
    }

    /// [`call`](Self::call) for one key of a keyed breaker or limiter (`key` as given by
    /// [`key_hash`](crate::attempt::key_hash)): the key's breaker and bucket judge it.
    ///
    /// # Errors
    ///
    /// The last attempt's error, or the policy's rejection converted into `E`.
    ///
    /// # Examples
    ///
    /// ```
    /// use staunch_runtime::{attempt::key_hash, Breaker, Error, Policy};
    /// let p = Policy::builder("docs-call-keyed").breaker(Breaker::new().threshold(1).keyed()).build().unwrap();
    /// let down = || Err::<(), _>(Error::Timeout { policy: "p".into(), after: std::time::Duration::ZERO });
    /// assert!(matches!(p.call_keyed(key_hash("acme"), down), Err(Error::Timeout { .. })));
    /// assert!(matches!(p.call_keyed(key_hash("acme"), down), Err(Error::CircuitOpen { .. })));
    /// assert_eq!(p.call_keyed(key_hash("globex"), || Ok::<_, Error>(1)), Ok(1));
    /// ```
    pub fn call_keyed<T, E, F>(&self, key: u64, mut f: F) -> Result<T, E>
    where
        F: FnMut() -> Result<T, E>,
        E: From<Error>,
    {
        let mut call = self.begin::<Result<T, E>>(|_| Class::DEFAULT);
        loop {
            match call.attempt_sync(Req::new().key(key), &mut f) {
                Step::Done(r) | Step::Fallback(r) => return r,
                Step::Again => {}
            }
        }
    }

    /// [`call_async`](Self::call_async) for one key of a keyed breaker or limiter (`key` as
    /// given by [`key_hash`](crate::attempt::key_hash)).
    ///
    /// # Errors
    ///
    /// The last attempt's error, or the policy's rejection converted into `E`.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use staunch_runtime::{attempt::key_hash, Breaker, Error, Policy};
    /// let p = Policy::builder("docs-call-async-keyed").breaker(Breaker::new().keyed()).build().unwrap();
    /// let r = p.call_async_keyed(key_hash("acme"), || async { Ok::<_, Error>(2) }).await;
    /// assert_eq!(r, Ok(2));
    /// # }
    /// ```
    pub async fn call_async_keyed<T, E, F, Fut>(&self, key: u64, mut f: F) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error>,
    {
        let mut call = self.begin::<Result<T, E>>(|_| Class::DEFAULT);
        loop {
            match call.attempt_async(Req::new().key(key), f()).await {
                Step::Done(r) | Step::Fallback(r) => return r,
                Step::Again => {}
            }
        }
    }

    async fn run_async<T, E, F, Fut>(&self, classify: fn(&E) -> Class, mut f: F) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<Error>,
    {
        let mut call = self.begin::<Result<T, E>>(classify);
        loop {
            match Call::attempt_async_args::<PLAIN, _>(AsyncArgs {
                call: &mut call,
                req: Req::new(),
                f: f(),
            })
            .await
            {
                Step::Done(r) | Step::Fallback(r) => return r,
                Step::Again => {}
            }
        }
    }
}
