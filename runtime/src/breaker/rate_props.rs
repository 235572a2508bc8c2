//! The failure-rate breaker against a small sequential reference model: random sequences of
//! calls (a success, a failure or no verdict, each taking some time) and clock moves, over
//! windows by calls and by time, with rates, minimums, slow-call bounds and exponential open
//! periods drawn from the edges of what the builder accepts. The model keeps every outcome in a
//! plain list and recomputes the window from it, where the breaker keeps packed sums, slots and
//! tagged buckets; a difference in what is admitted (and the wait), the state, or the rates
//! shows a mistake in the packing, the sliding, or the judgement.

use std::cell::Cell;
use std::time::Duration;

use proptest::prelude::*;

use super::window::BUCKETS;
use super::{Breaker, BreakerState, CircuitState, Pass};
use crate::clock::Nanos;

thread_local! {
    static NOW: Cell<Nanos> = const { Cell::new(0) };
}

/// The time the test's calls end at (the breaker reads it through a `fn`).
fn clock() -> Nanos {
    NOW.with(Cell::get)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Closed,
    Open,
    Half,
}

#[derive(Clone, Copy, Debug)]
struct Settings {
    /// `Ok(n)`: the last n calls; `Err(width)`: ten buckets of `width`.
    window: Result<u64, Nanos>,
    failure_rate: f64,
    slow_rate: f64,
    min_calls: u64,
    slow_call: Option<Nanos>,
    cooldown: Nanos,
    /// `(max_cooldown, multiplier)`.
    growth: Option<(Nanos, f64)>,
}

/// The reference: what the failure-rate breaker promises, kept as plainly as it can be.
#[derive(Debug)]
struct Model {
    s: Settings,
    phase: Phase,
    opened_at: Nanos,
    open_for: Nanos,
    reopens: u32,
    /// Every outcome since the window was last emptied: when it ended, failed, slow.
    outcomes: Vec<(Nanos, bool, bool)>,
}

impl Model {
    /// The outcomes in the window at `now`.
    fn window(&self, now: Nanos) -> Vec<(Nanos, bool, bool)> {
        match self.s.window {
            Ok(n) => {
                let skip = self
                    .outcomes
                    .len()
                    .saturating_sub(usize::try_from(n).unwrap());
                self.outcomes[skip..].to_vec()
            }
            Err(width) => self
                .outcomes
                .iter()
                .filter(|o| o.0 / width + BUCKETS > now / width)
                .copied()
                .collect(),
        }
    }

    fn rates(&self, now: Nanos) -> (u64, f64, f64) {
        let w = self.window(now);
        let calls = w.len() as u64;
        let count = |f: fn(&(Nanos, bool, bool)) -> bool| w.iter().filter(|o| f(o)).count() as f64;
        if calls == 0 {
            return (0, 0.0, 0.0);
        }
        (
            calls,
            count(|o| o.1) / calls as f64,
            count(|o| o.2) / calls as f64,
        )
    }

    fn open(&mut self, now: Nanos, reopen: bool) {
        self.phase = Phase::Open;
        self.opened_at = now;
        self.reopens = if reopen { self.reopens + 1 } else { 0 };
        self.open_for = match self.s.growth {
            None => self.s.cooldown,
            Some((max, f)) => {
                let d = self.s.cooldown as f64 * f.powi(i32::try_from(self.reopens).unwrap());
                (d.min(max as f64) as Nanos).clamp(self.s.cooldown, max)
            }
        };
    }

    fn admit(&mut self, now: Nanos) -> Result<bool, Duration> {
        match self.phase {
            Phase::Closed => Ok(false),
            Phase::Open if now < self.opened_at + self.open_for => {
                Err(Duration::from_nanos(self.opened_at + self.open_for - now))
            }
            _ => {
                self.phase = Phase::Half;
                Ok(true)
            }
        }
    }

    fn ended(&mut self, trial: bool, failed: bool, started: Nanos, now: Nanos) {
        let slow = self.s.slow_call.is_some_and(|b| now - started > b);
        if trial {
            if failed || slow {
                self.open(now, true);
            } else {
                self.phase = Phase::Closed;
                self.reopens = 0;
                self.outcomes.clear();
            }
            return;
        }
        let filling = matches!(self.s.window, Ok(n) if (self.outcomes.len() as u64) < n);
        self.outcomes.push((now, failed, slow));
        if failed || slow || filling {
            let (calls, f, sl) = self.rates(now);
            if calls >= self.s.min_calls && (f >= self.s.failure_rate || sl >= self.s.slow_rate) {
                self.open(now, false);
            }
        }
    }

    fn state(&self, now: Nanos) -> CircuitState {
        match self.phase {
            Phase::Closed => CircuitState::Closed,
            Phase::Open if now < self.opened_at + self.open_for => CircuitState::Open,
            _ => CircuitState::HalfOpen,
        }
    }
}

#[derive(Clone, Debug)]
enum Op {
    Advance(Nanos),
    /// A call: admitted now, its outcome (`Some(failed)`, or `None`: no verdict) after `took`.
    Call(Option<bool>, Nanos),
}

fn settings() -> impl Strategy<Value = Settings> {
    let window = prop_oneof![
        prop_oneof![Just(1u64), Just(2), Just(5), 1u64..40].prop_map(Ok),
        prop_oneof![Just(1_000_000u64), 1_000_000u64..500_000_000].prop_map(Err),
    ];
    let rate = prop_oneof![
        Just(1.0f64),
        Just(0.5),
        Just(0.3),
        Just(f64::MIN_POSITIVE),
        0.01f64..1.0
    ];
    (
        window,
        rate.clone(),
        rate,
        prop_oneof![Just(1u64), Just(2), 1u64..50],
        prop_oneof![
            Just(None),
            Just(Some(1u64)),
            (1u64..1_000_000_000).prop_map(Some)
        ],
        prop_oneof![Just(0u64), Just(1), 0u64..3_000_000_000],
        prop_oneof![
            Just(None),
            (1.0f64..4.0, 0u64..10_000_000_000).prop_map(Some),
        ],
    )
        .prop_map(
            |(window, failure_rate, slow_rate, min, slow_call, cooldown, growth)| Settings {
                window,
                failure_rate,
                slow_rate,
                // at most the window's size with a window of calls (the builder's rule)
                min_calls: match window {
                    Ok(n) => min.min(n),
                    Err(_) => min,
                },
                slow_call,
                cooldown,
                growth: growth.map(|(f, extra)| (cooldown + extra, f)),
            },
        )
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let took = prop_oneof![Just(0u64), 0u64..2_000_000_000];
    let op = prop_oneof![
        (0u64..3_000_000_000).prop_map(Op::Advance),
        (
            prop_oneof![Just(Some(true)), Just(Some(false)), Just(None)],
            took
        )
            .prop_map(|(o, t)| Op::Call(o, t)),
        (Just(Some(false)), Just(0u64)).prop_map(|(o, t)| Op::Call(o, t)),
    ];
    proptest::collection::vec(op, 1..120)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn the_rate_breaker_behaves_as_its_model(
        s in settings(),
        t0 in prop_oneof![Just(1u64), Just(1u64 << 40), 1u64..1u64 << 50],
        seq in ops(),
    ) {
        let mut cfg = Breaker::new()
            .failure_rate(s.failure_rate)
            .slow_rate(s.slow_rate)
            .min_calls(u32::try_from(s.min_calls).unwrap())
            .cooldown(Duration::from_nanos(s.cooldown));
        cfg = match s.window {
            Ok(n) => cfg.window_calls(u32::try_from(n).unwrap()),
            Err(width) => cfg.window_time(Duration::from_nanos(width * BUCKETS)),
        };
        if let Some(d) = s.slow_call {
            cfg = cfg.slow_call(Duration::from_nanos(d));
        }
        if let Some((max, f)) = s.growth {
            cfg = cfg.max_cooldown(Duration::from_nanos(max)).cooldown_multiplier(f);
        }
        prop_assert_eq!(cfg.check_rate(), Ok(()));
        let b = BreakerState::new(cfg);
        let mut m = Model {
            s,
            phase: Phase::Closed,
            opened_at: 0,
            open_for: s.cooldown,
            reopens: 0,
            outcomes: Vec::new(),
        };
        let mut now = t0;
        for op in seq {
            match op {
                Op::Advance(d) => now += d,
                Op::Call(outcome, took) => {
                    let real = b.admit::<true>(|| now);
                    let model = m.admit(now);
                    let started = now;
                    match (real, model) {
                        (Ok(pass), Ok(trial)) => {
                            prop_assert_eq!(matches!(pass, Pass::Trial(_)), trial);
                            now += took;
                            NOW.with(|c| c.set(now));
                            match outcome {
                                Some(false) => {
                                    b.success(pass, started, clock);
                                    m.ended(trial, false, started, now);
                                }
                                Some(true) => {
                                    b.failure(pass, started, now);
                                    m.ended(trial, true, started, now);
                                }
                                None => {
                                    b.release(pass);
                                    if trial {
                                        m.phase = Phase::Half;
                                    }
                                }
                            }
                        }
                        (Err(r), Err(mp)) => prop_assert_eq!(r, mp),
                        (r, mp) => prop_assert!(false, "breaker {r:?}, model {mp:?} ({m:?})"),
                    }
                }
            }
            prop_assert_eq!(b.state(now), m.state(now), "{:?}", m);
            if let (Some(rate), Ok(_)) = (&b.rate, s.window) {
                // nothing in flight: the ring's word holds its slots' sums
                prop_assert_eq!(rate.window.sums(now), rate.window.slot_sums());
            }
            let (_, f, sl) = m.rates(now);
            prop_assert_eq!(b.rates(now), Some((f, sl)), "{:?}", m);
        }
    }
}
