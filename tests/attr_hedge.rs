//! `hedge(…)`: after a delay, a second copy of a call still running; the first `Ok` wins.
mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::{Counter, Fail};
use staunch::resilient;
use tokio::time::Instant;

const MS: Duration = Duration::from_millis(1);

static COPIES: Counter = Counter::new();

/// The first copy takes 2 s, the others `fast` ms; the answer is the copy's number (from 1).
#[resilient(hedge(after = "100ms"), name = "attr-hedge-fixed")]
async fn slow_then_fast(fast: u64) -> Result<u32, Fail> {
    let n = COPIES.next();
    let ms = if n == 1 { 2000 } else { fast };
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Ok(n)
}

#[tokio::test(start_paused = true)]
async fn a_slow_call_is_hedged_after_the_delay_and_the_first_ok_wins() {
    let t0 = Instant::now();
    assert_eq!(slow_then_fast(50).await, Ok(2));
    assert_eq!(t0.elapsed(), MS * 150);
    let s = staunch::signals("attr-hedge-fixed").unwrap();
    assert_eq!((s.hedges, s.successes, s.inflight), (1, 1, 0));
    assert_eq!(s.calls(), 1);
}

struct Client {
    copies: AtomicU32,
    script: Vec<Result<u64, u64>>,
}

impl Client {
    /// Copy `n` follows `script[n]`: `Ok(ms)` answers after `ms`, `Err(ms)` fails after `ms`.
    #[resilient(
        hedge(after = "100ms", percentile = 0.9, max = 2),
        retry(max = 1, delay = "10ms", jitter = false),
        fallback = cached,
        name = "attr-hedge-method"
    )]
    async fn get(&self, key: &str) -> Result<String, Fail> {
        let n = self.copies.fetch_add(1, Ordering::SeqCst) as usize;
        match self.script[n % self.script.len()] {
            Ok(ms) => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Ok(format!("{key}#{n}"))
            }
            Err(ms) => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Err(Fail::Boom(u32::try_from(n).unwrap()))
            }
        }
    }

    async fn cached(&self, key: &str) -> Result<String, Fail> {
        Ok(format!("{key}: cached"))
    }
}

#[tokio::test(start_paused = true)]
async fn a_method_hedges_retries_a_failed_round_and_falls_back() {
    // round 1: the first copy fails at 150 ms, the hedge (at 100 ms) and the third copy (at
    // 200 ms) fail at 250 and 300 ms; the retry's round answers from its first copy
    let c = Client {
        copies: AtomicU32::new(0),
        script: vec![Err(150), Err(150), Err(100), Ok(20)],
    };
    let t0 = Instant::now();
    assert_eq!(c.get("k").await.as_deref(), Ok("k#3"));
    assert_eq!(t0.elapsed(), MS * (300 + 10 + 20));
    let s = staunch::signals("attr-hedge-method").unwrap();
    assert_eq!((s.hedges, s.failures, s.retries, s.successes), (2, 3, 1, 1));
    // every copy of every round fails: the fallback answers
    let c = Client {
        copies: AtomicU32::new(0),
        script: vec![Err(10)],
    };
    assert_eq!(c.get("k").await.as_deref(), Ok("k: cached"));
}

#[resilient(hedge, name = "attr-hedge-spawned")]
async fn spawned(x: u64) -> Result<u64, Fail> {
    tokio::time::sleep(Duration::from_millis(x)).await;
    Ok(x)
}

#[tokio::test(start_paused = true)]
async fn a_hedged_future_is_send_and_a_bare_hedge_learns_before_it_hedges() {
    // `hedge` alone learns the 95th percentile; before its warm-up nothing is hedged
    for _ in 0..10 {
        assert_eq!(tokio::spawn(spawned(3000)).await.unwrap(), Ok(3000));
    }
    assert_eq!(staunch::signals("attr-hedge-spawned").unwrap().hedges, 0);
}

/// Arguments named by raw identifiers, and a borrowed one, reach every copy unchanged.
#[resilient(hedge(after = "10ms"))]
async fn raw_named(r#type: u32, r#match: &str) -> Result<usize, Fail> {
    tokio::time::sleep(Duration::from_millis(50)).await;
    Ok(r#type as usize + r#match.len())
}

#[tokio::test(start_paused = true)]
async fn raw_identifier_arguments_reach_every_copy() {
    assert_eq!(raw_named(2, "abc").await, Ok(5));
}
