//! Issue 14's options at the edges of what they accept: generated values (NaN, the infinities,
//! 0, the bounds and one step past them, `Duration::MAX`), each either refused by `build()` with
//! a `ConfigError` exactly where the docs say, or accepted and then run with failures, waits
//! and a clock far ahead, never a panic.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use proptest::prelude::*;
use staunch_runtime::{Breaker, Chaos, Error, Hedge, MockClock, Policy};

/// A rate as a user might write it: anything, and the values at the edges.
fn rate() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(0.0),
        Just(-0.0),
        Just(f64::MIN_POSITIVE),
        Just(1.0),
        Just(1.0 + f64::EPSILON),
        Just(0.5),
        Just(0.99),
        Just(0.99 + f64::EPSILON),
        0.0..=1.0f64,
        any::<f64>(),
    ]
}

/// A duration: none, the longest, and anything between.
fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        Just(Duration::ZERO),
        Just(Duration::MAX),
        Just(Duration::from_nanos(1)),
        Just(Duration::from_millis(10)),
        Just(Duration::from_millis(10) - Duration::from_nanos(1)),
        (0..u64::MAX).prop_map(Duration::from_nanos),
        (0..3_600u64).prop_map(Duration::from_secs),
    ]
}

fn fraction(r: f64) -> bool {
    r > 0.0 && r <= 1.0
}

fn chance(r: f64) -> bool {
    (0.0..=1.0).contains(&r)
}

fn down() -> Error {
    Error::Timeout {
        policy: "upstream".into(),
        after: Duration::ZERO,
    }
}

static NAMES: AtomicU32 = AtomicU32::new(0);

/// A name of its own for each generated policy (a name's shared parts are its first's).
fn fresh(prefix: &str) -> String {
    format!("{prefix}-{}", NAMES.fetch_add(1, Ordering::Relaxed))
}

/// A runtime on tokio's paused clock, for one case.
fn paused() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// The failure-rate breaker: refused exactly outside its documented ranges; accepted, it
    /// runs failures, cooldowns up to `Duration::MAX` and a clock moved far ahead.
    #[test]
    fn the_failure_rate_breaker_at_its_edges(
        failure_rate in prop_oneof![4 => 0.001..=1.0f64, 1 => rate()],
        slow_rate in prop_oneof![4 => 0.001..=1.0f64, 1 => rate()],
        multiplier in prop_oneof![4 => 1.0..8.0f64, 1 => rate().prop_map(|r| r * 4.0)],
        window_calls in prop_oneof![
            4 => 1..50u32,
            1 => prop_oneof![Just(0u32), Just(1), Just(1_000_000), Just(1_000_001)],
        ],
        window_time in proptest::option::of(duration()),
        min_calls in prop_oneof![4 => 1..10u32, 1 => prop_oneof![Just(0u32), 1..60u32]],
        (cooldown, max_cooldown) in prop_oneof![
            4 => (duration(), duration()).prop_map(|(c, extra)| (c, c.saturating_add(extra))),
            1 => (duration(), duration()),
        ],
        slow_call in prop_oneof![4 => duration().prop_filter("not zero", |d| !d.is_zero()), 1 => duration()],
    ) {
        let mut b = Breaker::new()
            .failure_rate(failure_rate)
            .slow_rate(slow_rate)
            .min_calls(min_calls)
            .slow_call(slow_call)
            .cooldown(cooldown)
            .max_cooldown(max_cooldown)
            .cooldown_multiplier(multiplier);
        b = match window_time {
            Some(d) => b.window_time(d),
            None => b.window_calls(window_calls),
        };
        let valid = fraction(failure_rate)
            && fraction(slow_rate)
            && multiplier >= 1.0
            && multiplier.is_finite()
            && min_calls >= 1
            && slow_call > Duration::ZERO
            && max_cooldown >= cooldown
            && match window_time {
                Some(d) => d >= Duration::from_millis(10),
                None => (1..=1_000_000).contains(&window_calls) && min_calls <= window_calls,
            };
        let built = Policy::builder(&fresh("edge-rate")).breaker(b).build();
        prop_assert_eq!(built.is_ok(), valid, "{:?}", built.as_ref().err());
        let Ok(p) = built else { return Ok(()) };
        let clock = MockClock::new();
        let _g = clock.install();
        for i in 0..40u32 {
            let r = p.call(|| if i % 3 == 0 { Ok(i) } else { Err(down()) });
            prop_assert!(r.is_ok() || r.is_err());
            clock.advance(if i % 7 == 0 { Duration::MAX } else { Duration::from_secs(1) });
        }
        let _ = p.handle().signals();
    }

    /// Chaos: rates refused outside [0, 1] (NaN too) or adding up past 1; accepted, latencies up
    /// to `Duration::MAX` move the mock clock and every call answers.
    #[test]
    fn chaos_at_its_edges(error in rate(), reject in rate(), latency_rate in rate(), latency in duration()) {
        let valid = chance(error) && chance(reject) && chance(latency_rate) && error + reject <= 1.0;
        let built = Policy::builder(&fresh("edge-chaos"))
            .chaos(Chaos::new().error(error).reject(reject).latency(latency).latency_rate(latency_rate).seed(7))
            .build();
        prop_assert_eq!(built.is_ok(), valid, "{:?}", built.as_ref().err());
        let Ok(p) = built else { return Ok(()) };
        let clock = MockClock::new();
        let _g = clock.install();
        for i in 0..10u32 {
            let _ = p.call(|| Ok::<_, Error>(i));
        }
    }

    /// The queue: refused at 0 and past a million, and a `queue_wait` of 0; accepted, a caller
    /// with the longest wait is served when the slot comes back.
    #[test]
    fn the_queue_at_its_edges(
        queue in prop_oneof![Just(0usize), Just(1), Just(1_000_000), Just(1_000_001), 1..100usize],
        queue_wait in duration(),
    ) {
        let valid = (1..=1_000_000).contains(&queue) && queue_wait > Duration::ZERO;
        let built = Policy::builder(&fresh("edge-queue"))
            .max_inflight(1)
            .queue(queue)
            .queue_wait(queue_wait)
            .build();
        prop_assert_eq!(built.is_ok(), valid, "{:?}", built.as_ref().err());
        let Ok(p) = built else { return Ok(()) };
        let rt = paused();
        rt.block_on(async {
            let holder = p.call_async(|| async {
                tokio::time::sleep(Duration::from_millis(5)).await;
                Ok::<_, Error>(0)
            });
            let waiter = p.call_async(|| async { Ok::<_, Error>(1) });
            let (a, b) = tokio::join!(holder, waiter);
            assert_eq!(a, Ok(0));
            // served when the slot comes back, unless its wait was shorter than the holder's
            if queue_wait >= Duration::from_millis(5) {
                assert_eq!(b, Ok(1));
            }
        });
    }

    /// Hedging: refused outside its bounds; accepted, any delay (`Duration::MAX` too) runs a call
    /// whose first copy answers.
    #[test]
    fn hedging_at_its_edges(
        percentile in proptest::option::of(rate()),
        after in proptest::option::of(duration()),
        max in prop_oneof![Just(0u32), Just(1), Just(3), Just(4)],
        min_after in duration(),
    ) {
        let mut h = Hedge::new().max(max).min_after(min_after);
        if let Some(p) = percentile {
            h = h.percentile(p);
        }
        if let Some(d) = after {
            h = h.after(d);
        }
        let valid = (1..=3).contains(&max)
            && percentile.is_none_or(|p| (0.5..=0.99).contains(&p))
            && after != Some(Duration::ZERO);
        let built = Policy::builder(&fresh("edge-hedge")).hedge(h).build();
        prop_assert_eq!(built.is_ok(), valid, "{:?}", built.as_ref().err());
        let Ok(p) = built else { return Ok(()) };
        let rt = paused();
        let r = rt.block_on(p.call_hedged(|| async {
            tokio::time::sleep(Duration::from_millis(1)).await;
            Ok::<_, Error>(3)
        }));
        prop_assert_eq!(r, Ok(3));
    }
}
