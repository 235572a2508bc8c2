//! Hedging (`Policy::call_hedged`, `Hedge`): a second copy after the delay, the first `Ok`
//! wins, the losers cancelled with everything they held given back; the parts may turn a hedge
//! away; failures and retries as without hedging. All on tokio's paused clock.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use staunch_runtime::{Breaker, CircuitState, Error, Hedge, Policy, Retry};
use tokio::time::{advance, Instant};

const MS: Duration = Duration::from_millis(1);

/// What copy `n` (from 0) of a call does: sleep this long, then answer.
#[derive(Clone, Copy)]
enum Copy_ {
    Ok(u64),
    Err(u64),
    Hang,
}

/// The copies' script, and what happened to them.
#[derive(Default)]
struct Upstream {
    started: AtomicU32,
    finished: AtomicU32,
    /// Copies dropped before they finished.
    cancelled: AtomicU32,
}

struct Cancelled<'a>(&'a Upstream, bool);

impl Drop for Cancelled<'_> {
    fn drop(&mut self) {
        if !self.1 {
            self.0.cancelled.fetch_add(1, Ordering::SeqCst);
        }
    }
}

fn down() -> Error {
    Error::Timeout {
        policy: "upstream".into(),
        after: Duration::ZERO,
    }
}

impl Upstream {
    /// Runs the copy the script gives for this start; the copy's answer is its index.
    async fn copy(&self, script: &[Copy_]) -> Result<u32, Error> {
        let n = self.started.fetch_add(1, Ordering::SeqCst);
        let mut guard = Cancelled(self, false);
        let step = script[n as usize % script.len()];
        let out = match step {
            Copy_::Ok(ms) => {
                tokio::time::sleep(MS * ms as u32).await;
                Ok(n)
            }
            Copy_::Err(ms) => {
                tokio::time::sleep(MS * ms as u32).await;
                Err(down())
            }
            Copy_::Hang => std::future::pending().await,
        };
        guard.1 = true;
        self.finished.fetch_add(1, Ordering::SeqCst);
        out
    }
}

fn after(ms: u32) -> Hedge {
    Hedge::new().after(MS * ms)
}

#[tokio::test(start_paused = true)]
async fn a_slow_first_copy_is_hedged_the_hedge_wins_and_the_loser_is_cancelled() {
    let p = Policy::builder("hedge-wins")
        .hedge(after(100))
        .max_inflight(2)
        .build()
        .unwrap();
    let up = Upstream::default();
    let t0 = Instant::now();
    let r = p
        .call_hedged(|| up.copy(&[Copy_::Ok(2000), Copy_::Ok(50)]))
        .await;
    assert_eq!(r, Ok(1), "the hedge answered");
    assert_eq!(t0.elapsed(), MS * 150);
    assert_eq!(up.started.load(Ordering::SeqCst), 2);
    assert_eq!(
        up.cancelled.load(Ordering::SeqCst),
        1,
        "the first copy was dropped"
    );
    let s = p.handle().signals();
    assert_eq!(
        (s.inflight, s.hedges, s.successes, s.failures),
        (0, 1, 1, 0)
    );
    assert_eq!(s.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_call_faster_than_the_delay_is_never_hedged() {
    let p = Policy::builder("hedge-fast")
        .hedge(after(100))
        .build()
        .unwrap();
    let up = Upstream::default();
    for _ in 0..5 {
        assert!(p.call_hedged(|| up.copy(&[Copy_::Ok(99)])).await.is_ok());
    }
    assert_eq!(up.started.load(Ordering::SeqCst), 5);
    assert_eq!(p.handle().signals().hedges, 0);
}

#[tokio::test(start_paused = true)]
async fn the_first_copy_can_win_too_and_the_hedge_is_cancelled() {
    let p = Policy::builder("hedge-first-wins")
        .hedge(after(100))
        .max_inflight(2)
        .build()
        .unwrap();
    let up = Upstream::default();
    let t0 = Instant::now();
    let r = p
        .call_hedged(|| up.copy(&[Copy_::Ok(120), Copy_::Ok(500)]))
        .await;
    assert_eq!(r, Ok(0));
    assert_eq!(t0.elapsed(), MS * 120);
    assert_eq!(up.cancelled.load(Ordering::SeqCst), 1);
    assert_eq!(p.handle().signals().inflight, 0);
}

#[tokio::test(start_paused = true)]
async fn up_to_max_copies_start_one_delay_apart() {
    let p = Policy::builder("hedge-max")
        .hedge(after(100).max(3))
        .build()
        .unwrap();
    let up = Upstream::default();
    let t0 = Instant::now();
    let script = [Copy_::Hang, Copy_::Hang, Copy_::Hang, Copy_::Ok(10)];
    assert_eq!(p.call_hedged(|| up.copy(&script)).await, Ok(3));
    assert_eq!(t0.elapsed(), MS * 310);
    assert_eq!(up.cancelled.load(Ordering::SeqCst), 3);
    assert_eq!(p.handle().signals().hedges, 3);
    // never more than `max` extra copies
    let p = Policy::builder("hedge-max-one")
        .hedge(after(100))
        .build()
        .unwrap();
    let up = Upstream::default();
    let t0 = Instant::now();
    assert_eq!(
        p.call_hedged(|| up.copy(&[Copy_::Ok(1000), Copy_::Ok(1000), Copy_::Ok(1)]))
            .await,
        Ok(0)
    );
    assert_eq!(t0.elapsed(), MS * 1000);
    assert_eq!(up.started.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn a_hedge_the_bulkhead_turns_away_is_not_started_and_fails_nothing() {
    let p = Policy::builder("hedge-bulkhead")
        .hedge(after(100))
        .max_inflight(1)
        .build()
        .unwrap();
    let up = Upstream::default();
    assert_eq!(
        p.call_hedged(|| up.copy(&[Copy_::Ok(300), Copy_::Ok(1)]))
            .await,
        Ok(0)
    );
    assert_eq!(up.started.load(Ordering::SeqCst), 1);
    let s = p.handle().signals();
    assert_eq!((s.hedges, s.rejections.total(), s.fallbacks), (0, 0, 0));
}

#[tokio::test(start_paused = true)]
async fn a_hedge_never_waits_for_a_token_and_takes_one_when_free() {
    let p = Policy::builder("hedge-limiter")
        .hedge(after(100))
        .rps(1.0)
        .build()
        .unwrap();
    let up = Upstream::default();
    // the bucket of one is empty while the first copy runs: no hedge
    assert_eq!(
        p.call_hedged(|| up.copy(&[Copy_::Ok(300), Copy_::Ok(1)]))
            .await,
        Ok(0)
    );
    assert_eq!(p.handle().signals().hedges, 0);
    assert_eq!(p.handle().signals().rejections.limiter, 0);
    // a second later a token is back for the first copy, and the hedge finds none
    advance(Duration::from_secs(1)).await;
    let p2 = Policy::builder("hedge-limiter-burst")
        .hedge(after(100))
        .rps(1.0)
        .burst(2)
        .build()
        .unwrap();
    let up = Upstream::default();
    assert_eq!(
        p2.call_hedged(|| up.copy(&[Copy_::Ok(300), Copy_::Ok(1)]))
            .await,
        Ok(1)
    );
    let s = p2.handle().signals();
    assert_eq!((s.hedges, s.rate_remaining.map(f64::floor)), (1, Some(0.0)));
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_copy_gives_back_its_half_open_trial_slot() {
    let p = Policy::builder("hedge-trials")
        .hedge(after(100))
        .breaker(
            Breaker::new()
                .threshold(1)
                .cooldown(Duration::from_secs(1))
                .half_open(3),
        )
        .build()
        .unwrap();
    let up = Upstream::default();
    assert!(p.call_hedged(|| up.copy(&[Copy_::Err(1)])).await.is_err());
    assert_eq!(p.handle().signals().circuit, CircuitState::Open);
    advance(Duration::from_secs(1)).await;
    // two trials: the hedge wins, the first copy's slot goes back with no verdict
    let up = Upstream::default();
    let slow_then_fast = [Copy_::Ok(1000), Copy_::Ok(10)];
    assert_eq!(p.call_hedged(|| up.copy(&slow_then_fast)).await, Ok(1));
    assert_eq!(p.handle().signals().circuit, CircuitState::HalfOpen);
    // one success of three: two trials may run at once only if the loser's slot came back
    let up = Upstream::default();
    let script = [Copy_::Ok(10)];
    let (a, b) = tokio::join!(
        p.call_async(|| up.copy(&script)),
        p.call_async(|| up.copy(&script))
    );
    assert_eq!((a, b), (Ok(0), Ok(1)));
    let s = p.handle().signals();
    assert_eq!((s.hedges, s.circuit), (1, CircuitState::Closed));
}

#[tokio::test(start_paused = true)]
async fn a_half_open_breaker_with_one_trial_slot_lets_no_hedge_through() {
    let p = Policy::builder("hedge-one-trial")
        .hedge(after(100))
        .breaker(Breaker::new().threshold(1).cooldown(Duration::from_secs(1)))
        .build()
        .unwrap();
    let up = Upstream::default();
    assert!(p.call_hedged(|| up.copy(&[Copy_::Err(1)])).await.is_err());
    advance(Duration::from_secs(1)).await;
    let up = Upstream::default();
    assert_eq!(
        p.call_hedged(|| up.copy(&[Copy_::Ok(500), Copy_::Ok(1)]))
            .await,
        Ok(0)
    );
    let s = p.handle().signals();
    assert_eq!((s.hedges, s.circuit), (0, CircuitState::Closed));
    assert_eq!(
        s.rejections.breaker, 0,
        "a hedge turned away is not a rejection"
    );
}

#[tokio::test(start_paused = true)]
async fn a_first_copy_failing_before_the_delay_is_retried_as_without_hedging() {
    let p = Policy::builder("hedge-retry")
        .hedge(after(100))
        .retry(Retry::new().max(1).delay(MS * 10).jitter(0.0))
        .build()
        .unwrap();
    let up = Upstream::default();
    let t0 = Instant::now();
    let r = p
        .call_hedged(|| up.copy(&[Copy_::Err(20), Copy_::Ok(30)]))
        .await;
    assert_eq!(r, Ok(1));
    assert_eq!(t0.elapsed(), MS * 60);
    let s = p.handle().signals();
    assert_eq!((s.hedges, s.retries, s.failures, s.successes), (0, 1, 1, 1));
    assert_eq!(s.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_copy_failing_while_another_runs_is_recorded_and_the_round_goes_on() {
    let p = Policy::builder("hedge-one-fails")
        .hedge(after(100))
        .build()
        .unwrap();
    let up = Upstream::default();
    let t0 = Instant::now();
    // the first copy fails at 150 ms, after the hedge started; the hedge answers at 200 ms
    let r = p
        .call_hedged(|| up.copy(&[Copy_::Err(150), Copy_::Ok(100)]))
        .await;
    assert_eq!(r, Ok(1));
    assert_eq!(t0.elapsed(), MS * 200);
    let s = p.handle().signals();
    assert_eq!((s.hedges, s.failures, s.successes), (1, 1, 1));
    assert_eq!(s.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn when_every_copy_fails_the_round_fails_with_the_last_error_and_is_one_attempt() {
    let p = Policy::builder("hedge-all-fail")
        .hedge(after(100))
        .retry(Retry::new().max(1).delay(MS * 10).jitter(0.0))
        .build()
        .unwrap();
    let up = Upstream::default();
    let t0 = Instant::now();
    // round 1: copies 0 and 1 fail; the retry's round: copies 2 and 3 fail too
    let r = p
        .call_hedged(|| up.copy(&[Copy_::Err(150), Copy_::Err(100)]))
        .await;
    assert_eq!(r, Err(down()));
    // 200 ms (the hedge's failure), 10 ms of backoff, 200 ms
    assert_eq!(t0.elapsed(), MS * 410);
    let s = p.handle().signals();
    assert_eq!((s.hedges, s.failures, s.retries), (2, 4, 1));
    assert_eq!(s.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn each_copy_has_the_timeout_of_an_attempt() {
    let p = Policy::builder("hedge-timeout")
        .hedge(after(100))
        .timeout(MS * 500)
        .build()
        .unwrap();
    let up = Upstream::default();
    let t0 = Instant::now();
    assert_eq!(
        p.call_hedged(|| up.copy(&[Copy_::Hang, Copy_::Hang])).await,
        Err(Error::Timeout {
            policy: "hedge-timeout".into(),
            after: MS * 500
        })
    );
    // the first copy timed out at 500 ms, the hedge at 600 ms
    assert_eq!(t0.elapsed(), MS * 600);
    assert_eq!(p.handle().signals().failures, 2);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_call_cancels_every_copy_and_gives_everything_back() {
    let p = Policy::builder("hedge-dropped")
        .hedge(after(100))
        .max_inflight(2)
        .build()
        .unwrap();
    let up = Arc::new(Upstream::default());
    let task = {
        let (p, up) = (p.clone(), up.clone());
        tokio::spawn(async move { p.call_hedged(|| up.copy(&[Copy_::Hang])).await })
    };
    tokio::task::yield_now().await;
    advance(MS * 150).await;
    tokio::task::yield_now().await;
    assert_eq!(up.started.load(Ordering::SeqCst), 2);
    assert_eq!(p.handle().signals().inflight, 2);
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    assert_eq!(up.cancelled.load(Ordering::SeqCst), 2);
    assert_eq!(p.handle().signals().inflight, 0);
}

#[tokio::test(start_paused = true)]
async fn the_delay_is_learned_from_recent_successes() {
    let p = Policy::builder("hedge-learned")
        .hedge(Hedge::new().percentile(0.9))
        .build()
        .unwrap();
    let up = Upstream::default();
    // no delay is known before the warm-up: nothing is hedged, however slow
    let warm_up = u32::try_from(Hedge::WARM_UP).unwrap();
    for i in 0..warm_up {
        // 90 % at 100 ms, 10 % at 1 s
        let script = [Copy_::Ok(if i % 10 == 9 { 1000 } else { 100 })];
        assert!(p.call_hedged(|| up.copy(&script)).await.is_ok());
    }
    assert_eq!(p.handle().signals().hedges, 0);
    // learned: the 90th percentile is 100 ms
    let up = Upstream::default();
    let t0 = Instant::now();
    assert_eq!(
        p.call_hedged(|| up.copy(&[Copy_::Ok(1000), Copy_::Ok(100)]))
            .await,
        Ok(1)
    );
    assert_eq!(t0.elapsed(), MS * 200);
    assert_eq!(p.handle().signals().hedges, 1);
}

#[tokio::test(start_paused = true)]
async fn a_fixed_delay_serves_until_the_percentile_is_learned_and_the_floor_holds() {
    let p = Policy::builder("hedge-floor")
        .hedge(
            Hedge::new()
                .percentile(0.5)
                .after(MS * 300)
                .min_after(MS * 50),
        )
        .build()
        .unwrap();
    let up = Upstream::default();
    let t0 = Instant::now();
    assert_eq!(
        p.call_hedged(|| up.copy(&[Copy_::Ok(1000), Copy_::Ok(10)]))
            .await,
        Ok(1)
    );
    assert_eq!(t0.elapsed(), MS * 310, "hedged after `after`");
    for _ in 0..Hedge::WARM_UP {
        let up = Upstream::default();
        assert!(p.call_hedged(|| up.copy(&[Copy_::Ok(5)])).await.is_ok());
    }
    let up = Upstream::default();
    let t0 = Instant::now();
    assert_eq!(
        p.call_hedged(|| up.copy(&[Copy_::Ok(1000), Copy_::Ok(10)]))
            .await,
        Ok(1)
    );
    assert_eq!(t0.elapsed(), MS * 60, "learned 5 ms, floored at 50 ms");
}

#[tokio::test(start_paused = true)]
async fn without_hedge_call_hedged_runs_one_copy_and_call_async_never_hedges() {
    let plain = Policy::builder("hedge-none").build().unwrap();
    let up = Upstream::default();
    assert_eq!(
        plain
            .call_hedged(|| up.copy(&[Copy_::Ok(1000), Copy_::Ok(1)]))
            .await,
        Ok(0)
    );
    assert_eq!(up.started.load(Ordering::SeqCst), 1);
    let hedged = Policy::builder("hedge-not-async")
        .hedge(after(10))
        .build()
        .unwrap();
    let up = Upstream::default();
    let script = [Copy_::Ok(1000), Copy_::Ok(1)];
    assert_eq!(hedged.call_async(|| up.copy(&script)).await, Ok(0));
    assert_eq!(up.started.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn a_panic_in_a_copy_is_a_failure_and_unwinds_with_every_slot_back() {
    let p = Policy::builder("hedge-panic")
        .hedge(after(100))
        .max_inflight(2)
        .build()
        .unwrap();
    let q = p.clone();
    let task = tokio::spawn(async move {
        let n = AtomicU32::new(0);
        q.call_hedged(|| async {
            if n.fetch_add(1, Ordering::SeqCst) == 0 {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(MS * 10).await;
            panic!("the hedge panicked");
            #[allow(unreachable_code)]
            Ok::<(), Error>(())
        })
        .await
    });
    assert!(task.await.unwrap_err().is_panic());
    let s = p.handle().signals();
    assert_eq!((s.inflight, s.failures, s.hedges), (0, 1, 1));
}

#[test]
fn settings_out_of_bounds_fail_the_build() {
    let build = |h: Hedge| {
        Policy::builder("hedge-bad")
            .hedge(h)
            .build()
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        build(Hedge::new().max(0)),
        "policy `hedge-bad`: `hedge(max)` must be between 1 and 3"
    );
    assert_eq!(
        build(Hedge::new().max(4)),
        "policy `hedge-bad`: `hedge(max)` must be between 1 and 3"
    );
    assert_eq!(
        build(Hedge::new().percentile(0.999)),
        "policy `hedge-bad`: `hedge(percentile)` must be between 0.5 and 0.99"
    );
    assert_eq!(
        build(Hedge::new().after(Duration::ZERO)),
        "policy `hedge-bad`: `hedge(after)` must be greater than 0"
    );
}

/// Regression: the first copy of a hedged call turned away by a full bulkhead that has a queue
/// failed at once instead of waiting in the queue as any attempt does.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_hedged_call_waits_in_the_bulkhead_s_queue() {
    let p = Arc::new(
        Policy::builder("hedge-queue")
            .max_inflight(1)
            .queue(1)
            .hedge(Hedge::new().after(MS * 500))
            .build()
            .unwrap(),
    );
    // the slot is held for 100 ms
    let holder = {
        let p = p.clone();
        tokio::spawn(async move {
            p.call_async(|| async {
                tokio::time::sleep(MS * 100).await;
                Ok::<_, Error>(0)
            })
            .await
        })
    };
    tokio::task::yield_now().await;
    assert_eq!(p.handle().signals().inflight, 1);
    let start = Instant::now();
    let r = p
        .call_hedged(|| async {
            tokio::time::sleep(MS * 10).await;
            Ok::<_, Error>(7)
        })
        .await;
    assert_eq!(r, Ok(7), "the hedged call waited for the slot, then ran");
    assert_eq!(start.elapsed(), MS * 110);
    assert_eq!(holder.await.unwrap(), Ok(0));
    let s = p.handle().signals();
    assert_eq!((s.inflight, s.queued, s.rejections.bulkhead), (0, 0, 0));
}
