//! The limiter against what a token bucket promises, over random sequences of requests, waits,
//! refunds and clock moves, with rates, bursts and times drawn from the edges of what the
//! builder accepts:
//!
//! - **never too many:** over any stretch of time `L`, the tokens used add up to at most
//!   `burst + ⌊L / interval⌋`;
//! - **never too few:** a bucket left alone long enough to be full gives its whole burst at once,
//!   and a request whose wait the limiter promised is admitted when it comes;
//! - **a refund gives back exactly what was taken.**

use std::time::Duration;

use proptest::prelude::*;

use super::{Gcra, Limiter};
use crate::clock::Nanos;

#[derive(Clone, Debug)]
enum Op {
    /// Move the clock forward by this many nanoseconds.
    Advance(u64),
    /// Ask for `cost` tokens, waiting at most `max_wait`.
    Take { cost: u64, max_wait: Nanos },
    /// Give back the last admitted request's tokens (a caller that never ran).
    RefundLast,
}

/// Rates per second and bursts at the edges of what the builder accepts, and ordinary ones.
fn bucket() -> impl Strategy<Value = (f64, u32)> {
    let rate = prop_oneof![
        Just(1e-9),
        Just(0.001),
        Just(1.0),
        Just(1000.0),
        Just(1e9),
        Just(1e12),
        0.01f64..1e6,
    ];
    let burst = prop_oneof![Just(1u32), Just(2), Just(65_535), Just(u32::MAX), 1u32..100];
    (rate, burst)
}

/// Where the clock starts: the time base's start, an ordinary time, and near its end.
fn start() -> impl Strategy<Value = Nanos> {
    prop_oneof![
        Just(0u64),
        Just(365 * 24 * 3600 * 1_000_000_000),
        Just(u64::MAX - 1_000_000_000_000),
        0u64..1u64 << 62,
    ]
}

fn ops(interval_hint: u64) -> impl Strategy<Value = Vec<Op>> {
    let step = interval_hint.clamp(1, 1 << 40);
    let op = prop_oneof![
        (0..4 * step).prop_map(Op::Advance),
        (
            1u64..5,
            prop_oneof![Just(0u64), Just(step), Just(u64::MAX), 0..3 * step]
        )
            .prop_map(|(cost, max_wait)| Op::Take { cost, max_wait }),
        Just(Op::RefundLast),
    ];
    proptest::collection::vec(op, 1..60)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_limiter_keeps_its_promises(
        (rate, burst) in bucket(),
        t0 in start(),
        seed_ops in ops(1_000_000),
    ) {
        let l = Limiter::new(rate, Duration::from_secs(1), burst, false);
        let g = Gcra::new(rate, Duration::from_secs(1), burst);
        let (interval, burst) = (g.interval, u64::from(burst));
        let mut now = t0;
        // (the instant its tokens are used, cost) of every admitted request still standing
        let mut used: Vec<(Nanos, u64)> = Vec::new();
        // the last instant at which the bucket was touched: it is full once it has been left
        // alone for `burst × interval` after the last use
        let mut busy_until = 0u64;
        for op in seed_ops {
            match op {
                Op::Advance(d) => now = now.saturating_add(d),
                Op::Take { cost, max_wait } => {
                    let full = now >= busy_until.saturating_add(g.tolerance)
                        && cost <= burst
                        && now.checked_add(interval.saturating_mul(cost)).is_some();
                    match l.take::<true>(0, now, cost, max_wait) {
                        Ok(wait) => {
                            prop_assert!(wait <= max_wait, "waited {wait} past {max_wait}");
                            prop_assert!(cost <= burst, "more than the bucket holds");
                            let at = now + wait;
                            used.push((at, cost));
                            busy_until = busy_until.max(at);
                        }
                        Err(after) => {
                            prop_assert!(!full || after > max_wait, "a full bucket refused {cost}");
                            prop_assert!(!(full && max_wait == u64::MAX), "refused a patient caller");
                        }
                    }
                    if full {
                        prop_assert!(used.last().is_some_and(|&(at, _)| at == now), "a full bucket made {cost} wait");
                    }
                }
                Op::RefundLast => {
                    if let Some((_, cost)) = used.pop() {
                        l.adjust(0, -i64::try_from(cost).unwrap());
                    }
                }
            }
            // never too many: any stretch [a, b] of use instants holds at most
            // burst + ⌊(b − a) / interval⌋ tokens
            let mut sorted = used.clone();
            sorted.sort_unstable();
            for i in 0..sorted.len() {
                let mut tokens = 0u64;
                for j in i..sorted.len() {
                    tokens += sorted[j].1;
                    let allowed = burst + (sorted[j].0 - sorted[i].0) / interval;
                    prop_assert!(tokens <= allowed, "{tokens} tokens in {:?}", (sorted[i].0, sorted[j].0));
                }
            }
        }
    }
}
