//! The breaker against a small reference model, over random sequences of admissions, outcomes
//! (success, failure, no verdict) and clock moves, one at a time, with thresholds, trial counts
//! and times drawn from the edges of what the builder accepts. The model keeps plain integers
//! where the breaker packs words and counts generations, so a packing, a mask or an ordering
//! mistake shows as a difference: in what is admitted, with which wait, the state an observer
//! reads, or the failures counted.

use std::time::Duration;

use proptest::prelude::*;

use super::{Breaker, BreakerState, CircuitState, Pass};
use crate::clock::Nanos;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Closed,
    Open,
    Half,
}

/// The reference: what the breaker promises, kept as plainly as it can be.
#[derive(Debug)]
struct Model {
    threshold: u32,
    cooldown: Nanos,
    half_open: u64,
    max_half_open: Option<Nanos>,
    phase: Phase,
    failures: u32,
    opened_at: Nanos,
    half_since: Nanos,
    /// The current half-open period (a count of them).
    period: u64,
    /// Trials in flight, of any period not forfeited.
    inflight: u64,
    /// Successes of the current period.
    successes: u64,
    /// Periods up to this one were forfeited.
    forfeited: u64,
}

/// What the model let through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MPass {
    Closed,
    Trial(u64),
}

impl Model {
    fn admit(&mut self, now: Nanos) -> Result<MPass, Duration> {
        if self.phase == Phase::Open {
            let until = self.opened_at.saturating_add(self.cooldown);
            if now < until {
                return Err(Duration::from_nanos(until - now));
            }
            self.phase = Phase::Half;
            self.period += 1;
            self.successes = 0;
            self.half_since = now;
        }
        match self.phase {
            Phase::Closed => Ok(MPass::Closed),
            Phase::Half
                if self
                    .max_half_open
                    .is_some_and(|m| now >= self.half_since.saturating_add(m)) =>
            {
                // forfeited: open for a full cooldown (which may be none)
                self.open(now);
                self.forfeited = self.period;
                self.inflight = 0;
                self.admit(now)
            }
            _ if self.inflight + self.successes < self.half_open => {
                self.inflight += 1;
                Ok(MPass::Trial(self.period))
            }
            _ => Err(Duration::ZERO),
        }
    }

    fn open(&mut self, now: Nanos) {
        self.phase = Phase::Open;
        self.opened_at = now;
    }

    fn release(&mut self, pass: MPass) {
        if let MPass::Trial(p) = pass {
            if p > self.forfeited {
                self.inflight = self.inflight.saturating_sub(1);
            }
        }
    }

    fn success(&mut self, pass: MPass) {
        match pass {
            MPass::Closed => self.failures = 0,
            MPass::Trial(p) if p <= self.forfeited => {}
            MPass::Trial(p) => {
                self.inflight = self.inflight.saturating_sub(1);
                if p == self.period {
                    self.successes += 1;
                    if self.successes >= self.half_open {
                        self.failures = 0;
                        if self.phase == Phase::Half {
                            self.phase = Phase::Closed;
                        }
                    }
                }
            }
        }
    }

    fn failure(&mut self, pass: MPass, now: Nanos) {
        match pass {
            MPass::Closed if self.phase == Phase::Closed => {
                self.failures = self.failures.saturating_add(1);
                if self.failures >= self.threshold {
                    self.open(now);
                }
            }
            MPass::Closed => {}
            MPass::Trial(p) => {
                self.release(pass);
                if self.phase == Phase::Half && p == self.period {
                    self.open(now);
                }
            }
        }
    }

    fn state(&self, now: Nanos) -> CircuitState {
        match self.phase {
            Phase::Closed => CircuitState::Closed,
            Phase::Open if now < self.opened_at.saturating_add(self.cooldown) => CircuitState::Open,
            Phase::Open => CircuitState::HalfOpen,
            Phase::Half
                if self
                    .max_half_open
                    .is_some_and(|m| now >= self.half_since.saturating_add(m)) =>
            {
                CircuitState::Open
            }
            Phase::Half => CircuitState::HalfOpen,
        }
    }
}

#[derive(Clone, Debug)]
enum Op {
    Advance(u64),
    /// Admissions, one after another (enough to pass a packed counter's byte).
    Admit(u16),
    /// The outcome of the outstanding pass at this index (modulo their number).
    Succeed(usize),
    Fail(usize),
    NoVerdict(usize),
}

fn settings() -> impl Strategy<Value = (u32, u64, u32, Option<u64>)> {
    (
        prop_oneof![Just(1u32), Just(2), Just(5), Just(u32::MAX), 1u32..10],
        prop_oneof![
            Just(0u64),
            Just(1),
            Just(1_000_000_000),
            0u64..5_000_000_000
        ],
        prop_oneof![
            Just(1u32),
            Just(2),
            Just(3),
            Just(300),
            Just(Breaker::MAX_HALF_OPEN)
        ],
        prop_oneof![
            Just(None),
            Just(Some(1u64)),
            (1u64..10_000_000_000).prop_map(Some)
        ],
    )
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        (0u64..3_000_000_000).prop_map(Op::Advance),
        Just(Op::Admit(1)),
        Just(Op::Admit(1)),
        (2u16..400).prop_map(Op::Admit),
        any::<usize>().prop_map(Op::Succeed),
        any::<usize>().prop_map(Op::Fail),
        any::<usize>().prop_map(Op::NoVerdict),
    ];
    proptest::collection::vec(op, 1..80)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn the_breaker_behaves_as_its_model(
        (threshold, cooldown, half_open, max_half_open) in settings(),
        t0 in prop_oneof![Just(0u64), Just(1u64 << 40), 0u64..1u64 << 62],
        seq in ops(),
    ) {
        let mut cfg = Breaker::new()
            .threshold(threshold)
            .cooldown(Duration::from_nanos(cooldown))
            .half_open(half_open);
        if let Some(m) = max_half_open {
            cfg = cfg.max_half_open(Duration::from_nanos(m));
        }
        let b = BreakerState::new(cfg);
        let mut m = Model {
            threshold,
            cooldown,
            half_open: u64::from(half_open),
            max_half_open,
            phase: Phase::Closed,
            failures: 0,
            opened_at: 0,
            half_since: 0,
            period: 0,
            inflight: 0,
            successes: 0,
            forfeited: 0,
        };
        let mut now = t0;
        let mut passes: Vec<(Pass, MPass)> = Vec::new();
        for op in seq {
            match op {
                Op::Advance(d) => now = now.saturating_add(d),
                Op::Admit(n) => {
                    for _ in 0..n {
                        let real = b.admit::<true>(|| now);
                        let model = m.admit(now);
                        match (real, model) {
                            (Ok(r), Ok(mp)) => {
                                prop_assert_eq!(matches!(r, Pass::Closed), mp == MPass::Closed);
                                passes.push((r, mp));
                            }
                            (Err(r), Err(mp)) => prop_assert_eq!(r, mp),
                            (r, mp) => prop_assert!(false, "breaker {r:?}, model {mp:?} ({m:?})"),
                        }
                    }
                }
                Op::Succeed(i) | Op::Fail(i) | Op::NoVerdict(i) if !passes.is_empty() => {
                    let (r, mp) = passes.remove(i % passes.len());
                    match op {
                        Op::Succeed(_) => {
                            b.success(r, 0, || 0);
                            m.success(mp);
                        }
                        Op::Fail(_) => {
                            b.failure(r, 0, now);
                            m.failure(mp, now);
                        }
                        _ => {
                            b.release(r);
                            m.release(mp);
                        }
                    }
                }
                _ => {}
            }
            prop_assert_eq!(b.state(now), m.state(now), "{:?}", m);
            prop_assert_eq!(b.consecutive_failures(), m.failures, "{:?}", m);
        }
    }
}
