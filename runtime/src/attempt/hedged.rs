//! A hedged attempt: the body's first copy, then after the hedge delay another (up to
//! `max` more) while the call is still running; the first `Ok` wins and the other copies are
//! dropped. The attribute's `hedge(…)` and [`Policy::call_hedged`](crate::Policy::call_hedged)
//! both come here.
//!
//! A round is one attempt of the retry loop:
//! - the first copy is admitted as any attempt (it may wait for a token; a refusal ends the
//!   call as a rejection);
//! - a hedge is admitted without waiting (breaker, limiter, bulkhead): one turned away is not
//!   started and fails nothing;
//! - a copy that fails while another runs is recorded (breaker, counts, events) and the round
//!   goes on; the last copy in flight to fail ends the round with its error, judged as any
//!   failed attempt (retry, fallback); so a first copy that fails before the delay is exactly
//!   an attempt without hedging;
//! - the first `Ok` ends the round: the other copies are dropped, which gives back their
//!   bulkhead slots and breaker passes (a half-open trial slot with no verdict);
//! - chaos (feature `chaos`) draws for each copy as for an attempt: its wait before the copy,
//!   under the time limit, and its error in place of the body; its rejection turns the call
//!   away when drawn for the first copy, and a hedge it turns away is not started (and not
//!   counted as a rejection, like a hedge any other part turns away).
//!
//! What the delay learns: the winner's own latency, and for each copy still running that had
//! started before it, how long it had run (a lower bound of its latency). Without the latter,
//! the slow copies that hedging cancels would never be seen, and a learned percentile would
//! sink round after round.

use std::any::Any;
use std::future::{poll_fn, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::{pin, Pin};
use std::task::Poll;
use std::time::Duration;

use super::{Call, Plan, Req, Reservation, Settled, Step};
use crate::attempt::IsResult;
use crate::bulkhead::Slot;
use crate::clock::{self, Nanos};
use crate::events::{Kinds, Verdict};
use crate::hedge::Hedging;
use crate::shared::{Admitted, Shared, TAKE};
use crate::sync::Ordering;
use crate::Error;

/// How one copy of the body ended.
enum Ended<R> {
    Out(R),
    /// Cut by the timeout (or the deadline) after this long.
    TimedOut(Duration),
    Panicked(Box<dyn Any + Send>),
    /// Chaos's error, in place of the body.
    Injected(R),
}

/// What chaos draws for one copy (nothing without the `chaos` feature): a wait before it, and
/// an error in place of its body.
struct Drawn<R> {
    delay: Option<Duration>,
    error: Option<R>,
}

/// One copy in flight: its future, and what it holds (given back when it is dropped).
struct Running<'a, Fut> {
    fut: Pin<Box<Fut>>,
    admitted: Admitted<'a>,
    slot: Slot<'a>,
    /// When it started (tokio's clock).
    began: Nanos,
}

/// One copy of the body: a panic caught where it is polled, under the attempt's time limit;
/// chaos's wait first (under that limit too) and its error in place of the body, if drawn.
async fn copy<F: Future>(
    body: F,
    mut cut: Option<Duration>,
    drawn: Drawn<F::Output>,
) -> Ended<F::Output> {
    if let Some(d) = drawn.delay {
        match cut {
            Some(within) if within <= d => {
                tokio::time::sleep(within).await;
                return Ended::TimedOut(within);
            }
            _ => {
                tokio::time::sleep(d).await;
                cut = cut.map(|within| within - d);
            }
        }
    }
    if let Some(error) = drawn.error {
        return Ended::Injected(error);
    }
    let mut body = pin!(body);
    let caught = poll_fn(
        |cx| match catch_unwind(AssertUnwindSafe(|| body.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(out)) => Poll::Ready(Ok(out)),
            Err(panic) => Poll::Ready(Err(panic)),
        },
    );
    let caught = match cut {
        None => caught.await,
        Some(within) => match tokio::time::timeout(within, caught).await {
            Ok(caught) => caught,
            Err(_) => return Ended::TimedOut(within),
        },
    };
    match caught {
        Ok(out) => Ended::Out(out),
        Err(panic) => Ended::Panicked(panic),
    }
}

impl<'p, R: IsResult> Call<'p, R> {
    /// Runs one hedged attempt of an async call: the body `make` makes, then, while it is
    /// still running after the policy's hedge delay, another copy (up to
    /// [`Hedge::max`](crate::Hedge::max) more, one delay apart); the first `Ok` wins and the
    /// others are dropped. Each copy passes the breaker, the limiter and the bulkhead like an
    /// attempt; a hedge they turn away is not started. When every copy in flight failed, the
    /// attempt fails with the last error, judged like any attempt's (a retry, a fallback). The
    /// whole round counts as one attempt of the retry loop.
    ///
    /// Without [`PolicyBuilder::hedge`](crate::PolicyBuilder::hedge), this is
    /// [`attempt_async`](Self::attempt_async) of one copy.
    ///
    /// **Only for a body that is safe to run more than once at the same time**: `make` is
    /// called once per copy, and the copies run concurrently.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// use std::time::Duration;
    /// use staunch_runtime::attempt::{Req, Step};
    /// use staunch_runtime::{Class, Error, Hedge, Policy};
    /// let p = Policy::builder("docs-attempt-hedged")
    ///     .hedge(Hedge::new().after(Duration::from_millis(50)))
    ///     .build()
    ///     .unwrap();
    /// let copies = std::sync::atomic::AtomicU32::new(0);
    /// let mut call = p.begin::<Result<u32, Error>>(|_| Class::DEFAULT);
    /// let step = call
    ///     .attempt_hedged(Req::new(), || async {
    ///         let n = copies.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    ///         // the first copy is slow, the hedge fast
    ///         tokio::time::sleep(Duration::from_millis(if n == 0 { 1000 } else { 10 })).await;
    ///         Ok(n)
    ///     })
    ///     .await;
    /// assert_eq!(step, Step::Done(Ok(1)));
    /// assert_eq!(p.handle().signals().hedges, 1);
    /// # }
    /// ```
    pub async fn attempt_hedged<M, F>(&mut self, req: Req, make: M) -> Step<R>
    where
        M: Fn() -> F,
        F: Future<Output = R>,
    {
        let plan: &'p Plan = self.plan;
        match plan.hedge.as_deref() {
            None => self.attempt_async(req, make()).await,
            Some(hedging) => self.hedged(req, &make, hedging).await,
        }
    }

    async fn hedged<M, F>(&mut self, req: Req, make: &M, hedging: &'p Hedging) -> Step<R>
    where
        M: Fn() -> F,
        F: Future<Output = R>,
    {
        let limit = self.limit::<false>();
        let plan: &'p Plan = self.plan;
        let shared: &'p Shared = &plan.shared;
        // no `tracing` span for hedged copies (their events carry `policy` and `attempt`)
        self.start::<false>();
        // the first copy: admitted as any attempt
        let (admitted, wait) =
            match shared.admit::<TAKE>(req.key, req.cost, clock::now_async, limit) {
                Ok(admitted) => admitted,
                Err(r) => return self.rejected(r),
            };
        let entered = if wait == 0 {
            shared.enter()
        } else {
            // dropped while it waits, the attempt gives its tokens back
            let reserved = Reservation {
                shared,
                key: req.key,
                cost: req.cost,
            };
            tokio::time::sleep(Duration::from_nanos(wait)).await;
            std::mem::forget(reserved);
            shared.enter()
        };
        // the first copy waits in the bulkhead's queue, if it has one, as any attempt does
        let slot = match entered {
            Ok(slot) => slot,
            Err(r) => match self.queue_async(Some(req)) {
                None => return self.turned_away(r, Some(req)),
                Some(queued) => match queued.await {
                    Ok(slot) => slot,
                    Err(r) => return self.rejected(r),
                },
            },
        };
        let Some(drawn) = self.draw() else {
            drop((admitted, slot));
            return self.turned_away(crate::shared::Refusal::Chaos, Some(req));
        };
        let mut running = [None, None, None, None];
        running[0] = Some(Running {
            fut: Box::pin(copy(make(), self.cut(), drawn)),
            admitted,
            slot,
            began: clock::now_async(),
        });
        let delay = hedging.delay();
        let extra = hedging.settings.max as usize;
        let (mut launched, mut inflight, mut ended) = (1_usize, 1_usize, 0_u64);
        let mut timer = pin!(tokio::time::sleep(delay.unwrap_or_default()));
        let mut armed = delay.is_some();
        loop {
            let event = poll_fn(|cx| {
                for (i, r) in running.iter_mut().enumerate() {
                    if let Some(r) = r {
                        if let Poll::Ready(e) = r.fut.as_mut().poll(cx) {
                            return Poll::Ready(Some((i, e)));
                        }
                    }
                }
                if armed && timer.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(None);
                }
                Poll::Pending
            })
            .await;
            let Some((i, end)) = event else {
                // the delay passed, the call still running: one more copy, if the parts let
                // it in now
                armed = false;
                if let Some((admitted, slot, drawn)) = self.hedge_admitted(req) {
                    shared.counts.hedges.fetch_add(1, Ordering::Relaxed);
                    running[launched] = Some(Running {
                        fut: Box::pin(copy(make(), self.cut(), drawn)),
                        admitted,
                        slot,
                        began: clock::now_async(),
                    });
                    inflight += 1;
                }
                launched += 1;
                if let (true, Some(d)) = (launched <= extra, delay) {
                    timer.as_mut().reset(tokio::time::Instant::now() + d);
                    armed = true;
                }
                continue;
            };
            let Some(done) = running[i].take() else {
                unreachable!("only a copy in flight ends")
            };
            inflight -= 1;
            ended += 1;
            let Running {
                admitted,
                slot,
                began,
                ..
            } = done;
            let out = match end {
                Ended::Out(out) => out,
                Ended::TimedOut(within) => R::from_err((self.convert)(Error::Timeout {
                    policy: shared.name.clone(),
                    after: self.cut_by(within),
                })),
                Ended::Panicked(panic) => self.unwind(admitted, slot, panic),
                Ended::Injected(error) => {
                    shared
                        .counts
                        .injected_errors
                        .fetch_add(1, Ordering::Relaxed);
                    error
                }
            };
            let now = clock::now_async();
            // the copy's own start, for what is told of it and for the breaker's slow calls
            // (when anyone wants the attempt timed)
            if self.started != 0 {
                self.started = began << 1;
            }
            if out.as_err().is_none() {
                hedging.learn(now.saturating_sub(began));
                for other in running.iter_mut().filter_map(Option::take) {
                    if other.began <= began {
                        // cancelled: it had run this long at least
                        hedging.learn(now.saturating_sub(other.began));
                    }
                    // dropped here: its slot and its pass go back
                }
                Self::ended_extra(shared, ended);
                if self.is_plain_success(&out) {
                    slot.succeeded();
                    self.succeeded::<false>();
                    admitted.success(began, clock::now_async);
                    return Step::Done(out);
                }
                drop(slot);
                return match self.settle::<false>(out, admitted) {
                    Settled::Step(step) => step,
                    Settled::RetryAfter(_) => unreachable!("a success is never retried"),
                };
            }
            drop(slot);
            if inflight > 0 {
                self.noted(&out, admitted, began, now);
                continue;
            }
            Self::ended_extra(shared, ended);
            let wait = match self.settle::<false>(out, admitted) {
                Settled::Step(step) => return step,
                Settled::RetryAfter(w) => w,
            };
            tokio::time::sleep(wait).await;
            return Step::Again;
        }
    }

    /// The copies of a round that ended beyond its first: one more attempt each, of one call.
    fn ended_extra(shared: &Shared, ended: u64) {
        if ended > 1 {
            shared
                .counts
                .hedge_ends
                .fetch_add(ended - 1, Ordering::Relaxed);
        }
    }

    /// A hedge's admission: breaker, limiter (without waiting for a token) and bulkhead, or
    /// nothing (what any part took given back). Never past the call's deadline.
    fn hedge_admitted(&self, req: Req) -> Option<(Admitted<'p>, Slot<'p>, Drawn<R>)> {
        let plan: &'p Plan = self.plan;
        let shared: &'p Shared = &plan.shared;
        if self.until != 0 && clock::now_async() >= self.until {
            return None;
        }
        let (admitted, _) = shared
            .admit::<TAKE>(req.key, req.cost, clock::now_async, 0)
            .ok()?;
        let Ok(slot) = shared.enter() else {
            shared.refund(req.key, req.cost);
            return None; // `admitted` drops: the breaker's pass goes back
        };
        match self.draw() {
            Some(drawn) => Some((admitted, slot, drawn)),
            None => {
                // chaos turned it away: not started, like a hedge any other part turns away
                shared.refund(req.key, req.cost);
                None
            }
        }
    }

    /// Chaos's draw for one copy (counted as the attempt's draw is): `None` if it rejects the
    /// copy.
    #[cfg(feature = "chaos")]
    fn draw(&self) -> Option<Drawn<R>> {
        use crate::chaos::Fault;
        let shared = &*self.plan.shared;
        let Some(chaos) = shared.chaos() else {
            return Some(Drawn {
                delay: None,
                error: None,
            });
        };
        let (fault, delay) = self.chaos_draw(chaos);
        let error = match fault {
            Fault::Reject => return None,
            Fault::Error => Some(R::from_err((self.convert)(Error::Injected {
                policy: shared.name.clone(),
            }))),
            Fault::None | Fault::CutAfter(_) => None,
        };
        Some(Drawn { delay, error })
    }

    /// Without the `chaos` feature: nothing drawn.
    #[cfg(not(feature = "chaos"))]
    #[allow(clippy::unnecessary_wraps)] // the same shape as with the feature
    fn draw(&self) -> Option<Drawn<R>> {
        Some(Drawn {
            delay: None,
            error: None,
        })
    }

    /// A copy failed while another runs: recorded (breaker, counts, the attempt's event), the
    /// round going on.
    fn noted(&self, out: &R, admitted: Admitted<'_>, began: Nanos, now: Nanos) {
        let shared = &*self.plan.shared;
        let Some(e) = out.as_err() else { return };
        let class = (self.classify)(e);
        let text = shared.watches(Kinds::ATTEMPT).then(|| (self.describe)(e));
        if !class.counts {
            drop(admitted);
            shared.counts.ignored.fetch_add(1, Ordering::Relaxed);
            self.attempted(Verdict::Ignored, text, now);
            return;
        }
        shared.counts.failures.fetch_add(1, Ordering::Relaxed);
        self.attempted(Verdict::Failure, text, now);
        admitted.failure(began, now);
    }
}
