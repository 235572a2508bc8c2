//! Chaos: errors, latency and rejections injected at configured rates, to rehearse an outage.
//!
//! [`Chaos`] (the settings) is always compiled, so that code which configures it builds with or
//! without the `chaos` feature; the [`Injector`] that acts on them exists only with it. Without
//! the feature a policy that configures chaos injects nothing and says so once in
//! [`warnings`](crate::warnings).
//!
//! Draws are seeded: one 64-bit splitmix64 output per attempt, from a counter the attempts of the
//! name share. Its high 32 bits choose the fault (`[0, reject)` a rejection, `[reject, reject +
//! error)` an error, the rest none), its low 32 bits the latency. With one seed, one order of
//! attempts gives one sequence of faults: a run can be reproduced exactly.

use std::time::Duration;

/// Chaos settings: the fractions of attempts of a policy to fail, to delay and to turn away.
///
/// Every rate is a fraction in `[0, 1]`; `error + reject` is at most 1 (an attempt is rejected,
/// fails, or runs). Each attempt that passed the breaker, the limiter and the bulkhead draws:
///
/// - with probability `reject`, it is turned away as a full part would turn it away, with
///   [`Error::InjectedRejection`](crate::Error::InjectedRejection): not retried, worth a
///   fallback, counted in [`Rejections::chaos`](crate::Rejections::chaos);
/// - with probability `error`, it fails with [`Error::Injected`](crate::Error::Injected) instead
///   of running the body: a failure like any other (it counts against the breaker, is retried
///   and goes to the fallback, unless the error type's classification says otherwise);
/// - otherwise the body runs.
///
/// Independently, an attempt that is not rejected waits `latency` first, with probability
/// `latency_rate` (default 1: every attempt, once `latency` is set). The wait is part of the
/// attempt: an async attempt's `timeout` and the call's `deadline` cut it; a sync one blocks the
/// thread (or moves its [`MockClock`](crate::MockClock)).
///
/// Injection needs the `chaos` feature ([`Chaos::ENABLED`]). Without it, a policy that
/// configures chaos (by the builder, the attribute or the environment) injects nothing, and says
/// so once in [`warnings`](crate::warnings).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use staunch_runtime::{Chaos, Error, Policy};
///
/// let p = Policy::builder("docs-chaos")
///     .chaos(Chaos::new().error(1.0).latency(Duration::from_millis(200)).latency_rate(0.5))
///     .build()
///     .unwrap();
/// let r: Result<(), Error> = p.call(|| Ok(()));
/// if Chaos::ENABLED {
///     assert_eq!(r, Err(Error::Injected { policy: "docs-chaos".into() }));
///     assert_eq!(p.handle().signals().injected.errors, 1);
/// } else {
///     assert_eq!(r, Ok(())); // inert, and reported in `warnings()`
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct Chaos {
    /// The fraction of attempts that fail with [`Error::Injected`](crate::Error::Injected).
    /// Default 0.
    pub error: f64,
    /// How long a delayed attempt waits before it runs. Default zero (no delay).
    pub latency: Duration,
    /// The fraction of attempts delayed by `latency`. Default 1.
    pub latency_rate: f64,
    /// The fraction of attempts turned away with
    /// [`Error::InjectedRejection`](crate::Error::InjectedRejection). Default 0.
    pub reject: f64,
    /// The seed of the draws; `None`: a random one (see [`seed`](Self::seed)).
    pub seed: Option<u64>,
}

impl Default for Chaos {
    fn default() -> Self {
        Chaos::new()
    }
}

impl Chaos {
    /// Whether this build injects: the `chaos` feature of `staunch` (or `staunch-runtime`).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(staunch_runtime::Chaos::ENABLED, cfg!(feature = "chaos"));
    /// ```
    pub const ENABLED: bool = cfg!(feature = "chaos");

    /// No chaos: every rate 0, no latency (its rate 1), a random seed.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = staunch_runtime::Chaos::new();
    /// assert_eq!((c.error, c.reject, c.latency_rate), (0.0, 0.0, 1.0));
    /// assert!(c.latency.is_zero());
    /// ```
    #[must_use]
    pub const fn new() -> Self {
        Chaos {
            error: 0.0,
            latency: Duration::ZERO,
            latency_rate: 1.0,
            reject: 0.0,
            seed: None,
        }
    }

    /// The fraction of attempts that fail with [`Error::Injected`](crate::Error::Injected),
    /// in `[0, 1]` (with `reject`, at most 1 in all). Environment: `STAUNCH_<NAME>_CHAOS_ERROR`.
    ///
    /// # Examples
    ///
    /// ```
    /// use staunch_runtime::{Chaos, Policy};
    /// let e = Policy::builder("docs-chaos-error").chaos(Chaos::new().error(1.5)).build().unwrap_err();
    /// assert_eq!(e.to_string(), "policy `docs-chaos-error`: `chaos(error)` must be a fraction between 0 and 1");
    /// ```
    #[must_use]
    pub const fn error(mut self, rate: f64) -> Self {
        self.error = rate;
        self
    }

    /// How long a delayed attempt waits before it runs (see
    /// [`latency_rate`](Self::latency_rate)). Environment: `STAUNCH_<NAME>_CHAOS_LATENCY`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use staunch_runtime::{Chaos, MockClock, Policy};
    /// let clock = MockClock::new();
    /// let _g = clock.install(); // the wait moves the mock clock
    /// let start = clock.elapsed();
    /// let p = Policy::builder("docs-chaos-latency")
    ///     .chaos(Chaos::new().latency(Duration::from_millis(200)))
    ///     .build()
    ///     .unwrap();
    /// let r: Result<u8, staunch_runtime::Error> = p.call(|| Ok(1));
    /// assert_eq!(r, Ok(1));
    /// if Chaos::ENABLED {
    ///     assert_eq!(clock.elapsed() - start, Duration::from_millis(200));
    /// }
    /// ```
    #[must_use]
    pub const fn latency(mut self, d: Duration) -> Self {
        self.latency = d;
        self
    }

    /// The fraction of attempts delayed by [`latency`](Self::latency), in `[0, 1]`; default 1.
    /// Environment: `STAUNCH_<NAME>_CHAOS_LATENCY_RATE`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let c = staunch_runtime::Chaos::new().latency(Duration::from_secs(1)).latency_rate(0.2);
    /// assert_eq!(c.latency_rate, 0.2);
    /// ```
    #[must_use]
    pub const fn latency_rate(mut self, rate: f64) -> Self {
        self.latency_rate = rate;
        self
    }

    /// The fraction of attempts turned away with
    /// [`Error::InjectedRejection`](crate::Error::InjectedRejection), in `[0, 1]` (with
    /// `error`, at most 1 in all). Environment: `STAUNCH_<NAME>_CHAOS_REJECT`.
    ///
    /// # Examples
    ///
    /// ```
    /// use staunch_runtime::{Chaos, Policy};
    /// let e = Policy::builder("docs-chaos-reject").chaos(Chaos::new().error(0.6).reject(0.6)).build().unwrap_err();
    /// assert_eq!(
    ///     e.to_string(),
    ///     "policy `docs-chaos-reject`: `chaos(error)` and `chaos(reject)` add up to more than 1",
    /// );
    /// ```
    #[must_use]
    pub const fn reject(mut self, rate: f64) -> Self {
        self.reject = rate;
        self
    }

    /// Seeds the draws, so that one order of attempts meets the same faults on every run.
    /// Without a seed, each policy draws from a random one. `STAUNCH_CHAOS_SEED=<u64>` overrides
    /// it for every policy, mixed with the policy's name (so that two policies do not fail in
    /// step), to reproduce a staging run.
    ///
    /// # Examples
    ///
    /// ```
    /// use staunch_runtime::{Chaos, Error, Policy};
    /// let chaos = Chaos::new().error(0.3).seed(7);
    /// let a = Policy::builder("docs-chaos-seed-a").chaos(chaos).build().unwrap();
    /// let b = Policy::builder("docs-chaos-seed-b").chaos(chaos).build().unwrap();
    /// let run = |p: &Policy| (0..100).map(|_| p.call(|| Ok::<_, Error>(())).is_ok()).collect::<Vec<_>>();
    /// assert_eq!(run(&a), run(&b)); // the same faults, in the same order
    /// ```
    #[must_use]
    pub const fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Whether these settings inject anything.
    pub(crate) fn is_active(&self) -> bool {
        self.error > 0.0
            || self.reject > 0.0
            || (!self.latency.is_zero() && self.latency_rate > 0.0)
    }

    /// The first setting outside its valid values.
    pub(crate) fn check(&self) -> Result<(), &'static str> {
        let fraction = |r: f64| (0.0..=1.0).contains(&r);
        if !fraction(self.error) {
            return Err("`chaos(error)` must be a fraction between 0 and 1");
        }
        if !fraction(self.reject) {
            return Err("`chaos(reject)` must be a fraction between 0 and 1");
        }
        if !fraction(self.latency_rate) {
            return Err("`chaos(latency_rate)` must be a fraction between 0 and 1");
        }
        if self.error + self.reject > 1.0 {
            return Err("`chaos(error)` and `chaos(reject)` add up to more than 1");
        }
        Ok(())
    }
}

/// `seed` mixed with `name` (FNV-1a, stable across runs and builds): `STAUNCH_CHAOS_SEED`'s
/// seed of one policy.
pub(crate) fn seed_for(seed: u64, name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix(seed ^ h)
}

/// splitmix64's output function.
const fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(feature = "chaos")]
pub(crate) use injector::{Fault, Injector};

#[cfg(feature = "chaos")]
mod injector {
    use std::time::Duration;

    use super::{mix, Chaos};
    use crate::sync::{global::AtomicU64, Ordering};

    /// splitmix64's increment.
    const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

    /// What an attempt meets.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(crate) enum Fault {
        /// Nothing: the body runs (after the delay, if any).
        None,
        /// An injected error, in place of the body (after the delay, if any).
        Error,
        /// An injected rejection.
        Reject,
        /// Not drawn: the attempt's time limit (`timeout` or `deadline`), this long, passed
        /// during the injected wait.
        CutAfter(Duration),
    }

    /// A policy's chaos, armed: thresholds over 32-bit draws, and the draws' state.
    #[derive(Debug)]
    pub(crate) struct Injector {
        /// A draw below this is a rejection.
        reject_below: u64,
        /// A draw below this (and not below `reject_below`) is an error.
        fail_below: u64,
        /// A draw of the low half below this is delayed.
        delay_below: u64,
        latency: Duration,
        /// splitmix64's state: one step per attempt, shared by the name's attempts.
        state: AtomicU64,
    }

    /// `rate` of the 2^32 values of a draw: 0 never, 2^32 always.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // in [0, 2^32]
    fn threshold(rate: f64) -> u64 {
        (rate.clamp(0.0, 1.0) * 4_294_967_296.0).round() as u64
    }

    impl Injector {
        /// Armed with `chaos` (checked), seeded with `seed`.
        pub(crate) fn new(chaos: &Chaos, seed: u64) -> Self {
            let reject_below = threshold(chaos.reject);
            Injector {
                reject_below,
                fail_below: (reject_below + threshold(chaos.error)).min(1 << 32),
                delay_below: if chaos.latency.is_zero() {
                    0
                } else {
                    threshold(chaos.latency_rate)
                },
                latency: chaos.latency,
                state: AtomicU64::new(seed),
            }
        }

        /// The next attempt's fault, and its delay.
        pub(crate) fn draw(&self) -> (Fault, Option<Duration>) {
            let x = mix(self
                .state
                .fetch_add(GAMMA, Ordering::Relaxed)
                .wrapping_add(GAMMA));
            let (high, low) = (x >> 32, x & 0xffff_ffff);
            let fault = if high < self.reject_below {
                Fault::Reject
            } else if high < self.fail_below {
                Fault::Error
            } else {
                Fault::None
            };
            (fault, (low < self.delay_below).then_some(self.latency))
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn count(chaos: Chaos, n: usize) -> (usize, usize, usize) {
            let i = Injector::new(&chaos, chaos.seed.unwrap_or(0));
            let (mut rejected, mut failed, mut delayed) = (0, 0, 0);
            for _ in 0..n {
                let (fault, delay) = i.draw();
                rejected += usize::from(fault == Fault::Reject);
                failed += usize::from(fault == Fault::Error);
                delayed += usize::from(delay.is_some());
            }
            (rejected, failed, delayed)
        }

        #[test]
        fn rates_of_zero_and_one_are_exact() {
            let d = Duration::from_millis(1);
            assert_eq!(count(Chaos::new(), 10_000), (0, 0, 0));
            assert_eq!(count(Chaos::new().error(1.0), 10_000), (0, 10_000, 0));
            assert_eq!(count(Chaos::new().reject(1.0), 10_000), (10_000, 0, 0));
            assert_eq!(count(Chaos::new().latency(d), 10_000), (0, 0, 10_000));
            assert_eq!(
                count(Chaos::new().latency(d).latency_rate(0.0), 10_000),
                (0, 0, 0)
            );
            // a latency rate without a latency delays nothing
            assert_eq!(count(Chaos::new().latency_rate(1.0), 10_000), (0, 0, 0));
        }

        #[test]
        fn a_seed_gives_one_count_close_to_the_rate() {
            let d = Duration::from_millis(1);
            let chaos = Chaos::new()
                .error(0.3)
                .reject(0.1)
                .latency(d)
                .latency_rate(0.2)
                .seed(42);
            let seen = count(chaos, 100_000);
            assert_eq!(seen, count(chaos, 100_000), "reproducible");
            let (rejected, failed, delayed) = seen;
            // within 1 % of the rates (about five standard deviations)
            assert!((9_000..=11_000).contains(&rejected), "{seen:?}");
            assert!((29_000..=31_000).contains(&failed), "{seen:?}");
            assert!((19_000..=21_000).contains(&delayed), "{seen:?}");
        }

        /// The model: each draw's high half, as a fraction of 2^32, picks the fault by the
        /// rates themselves (`u < reject`: rejected; `u < reject + error`: failed), its low half
        /// the delay (`v < latency_rate`).
        fn model(chaos: &Chaos, seed: u64, n: usize) -> Vec<(Fault, bool)> {
            let mut state = seed;
            (0..n)
                .map(|_| {
                    state = state.wrapping_add(GAMMA);
                    let x = mix(state);
                    let u = (x >> 32) as f64 / 4_294_967_296.0;
                    let v = (x & 0xffff_ffff) as f64 / 4_294_967_296.0;
                    let fault = if u < chaos.reject {
                        Fault::Reject
                    } else if u < chaos.reject + chaos.error {
                        Fault::Error
                    } else {
                        Fault::None
                    };
                    (fault, !chaos.latency.is_zero() && v < chaos.latency_rate)
                })
                .collect()
        }

        proptest::proptest! {
            #[test]
            fn every_draw_is_the_model_s(
                seed in proptest::prelude::any::<u64>(),
                // multiples of 1/64: exact in binary, so the model's sums are too
                error in 0u32..=64,
                reject in 0u32..=64,
                latency_rate in 0u32..=64,
                latency_ms in 0u64..3,
            ) {
                let (error, reject) = (f64::from(error) / 64.0, f64::from(reject) / 64.0);
                proptest::prop_assume!(error + reject <= 1.0);
                let chaos = Chaos::new()
                    .error(error)
                    .reject(reject)
                    .latency(Duration::from_millis(latency_ms))
                    .latency_rate(f64::from(latency_rate) / 64.0);
                let injector = Injector::new(&chaos, seed);
                let drawn: Vec<(Fault, bool)> = (0..256)
                    .map(|_| {
                        let (fault, delay) = injector.draw();
                        (fault, delay.is_some())
                    })
                    .collect();
                proptest::prop_assert_eq!(drawn, model(&chaos, seed, 256));
            }
        }
    }
}
