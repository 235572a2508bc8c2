//! What LLM providers need: retry-after hold-offs shared by every caller, token limits with
//! reconciliation, limits learned from responses, and retry budgets.

use std::time::Duration;

use staunch_runtime::attempt::{Req, Step};
use staunch_runtime::{signals, Class, Classify, Error, Observed, Policy, Retry};
use tokio::time::Instant;

#[derive(Debug, PartialEq)]
enum Api {
    TooMany(Duration),
    Down,
    Policy(Error),
}

impl From<Error> for Api {
    fn from(e: Error) -> Self {
        Api::Policy(e)
    }
}

impl Classify for Api {
    fn retry_after(&self) -> Option<Duration> {
        match self {
            Api::TooMany(d) => Some(*d),
            _ => None,
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_seen_by_one_caller_holds_off_every_caller() {
    let p = Policy::builder("llm-hold-off")
        .rps(1000.0)
        .wait(Duration::ZERO)
        .build()
        .unwrap();
    let r: Result<(), Api> = p
        .call_async_classified(|| async { Err(Api::TooMany(Duration::from_secs(20))) })
        .await;
    assert_eq!(r, Err(Api::TooMany(Duration::from_secs(20))));

    tokio::time::advance(Duration::from_secs(5)).await;
    let reached = std::cell::Cell::new(false);
    let other: Result<(), Api> = p
        .call_async_classified(|| async {
            reached.set(true);
            Ok(())
        })
        .await;
    assert!(
        !reached.get(),
        "no call reaches the provider before the instant it named"
    );
    assert_eq!(
        other,
        Err(Api::Policy(Error::RateLimited {
            policy: "llm-hold-off".into(),
            retry_after: Duration::from_secs(15)
        }))
    );
    assert_eq!(
        signals("llm-hold-off").unwrap().held_off_for,
        Duration::from_secs(15)
    );
    tokio::time::advance(Duration::from_secs(15)).await;
    assert_eq!(
        p.call_async_classified(|| async { Ok::<_, Api>(()) }).await,
        Ok(())
    );
}

#[tokio::test(start_paused = true)]
async fn without_a_wait_bound_callers_wait_out_the_hold_off() {
    let p = Policy::builder("llm-hold-off-wait")
        .rps(1000.0)
        .build()
        .unwrap();
    let _ = p
        .call_async_classified(|| async { Err::<(), _>(Api::TooMany(Duration::from_secs(3))) })
        .await;
    let t0 = Instant::now();
    assert_eq!(
        p.call_async_classified(|| async { Ok::<_, Api>(()) }).await,
        Ok(())
    );
    assert_eq!(t0.elapsed(), Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn without_a_limiter_a_hint_only_delays_its_own_retry() {
    let p = Policy::builder("llm-hold-off-no-limiter").build().unwrap();
    let _ = p
        .call_async_classified(|| async { Err::<(), _>(Api::TooMany(Duration::from_secs(3))) })
        .await;
    let t0 = Instant::now();
    assert_eq!(
        p.call_async_classified(|| async { Ok::<_, Api>(()) }).await,
        Ok(())
    );
    assert_eq!(t0.elapsed(), Duration::ZERO);
    assert_eq!(
        signals("llm-hold-off-no-limiter").unwrap().held_off_for,
        Duration::ZERO
    );
}

fn tokens_call(p: &Policy, cost: u64, used: u64) -> Result<u64, Error> {
    let mut call = p
        .begin::<Result<u64, Error>>(|_| Class::DEFAULT)
        .usage(|used| *used);
    match call.attempt_sync(Req::new().cost(cost), || Ok(used)) {
        Step::Done(r) | Step::Fallback(r) => r,
        Step::Again => unreachable!("no retry configured"),
    }
}

#[test]
fn requests_and_tokens_are_all_or_nothing_and_refunds_make_room() {
    let clock = staunch_runtime::MockClock::new();
    let _g = clock.install();
    // 10 requests a second (burst 10: never the limit here), 6000 tokens a minute (burst 6000)
    let p = Policy::builder("llm-tpm")
        .rps(10.0)
        .tpm(6000.0)
        .wait(Duration::ZERO)
        .build()
        .unwrap();
    assert_eq!(tokens_call(&p, 5000, 5000), Ok(5000));
    // the token limit refuses: the request token must not be spent
    assert!(matches!(
        tokens_call(&p, 2000, 2000),
        Err(Error::RateLimited { .. })
    ));
    assert_eq!(signals("llm-tpm").unwrap().rate_remaining, Some(9.0));
    // estimated 1000, used 100: 900 come back
    assert_eq!(tokens_call(&p, 1000, 100), Ok(100));
    assert_eq!(signals("llm-tpm").unwrap().tokens_remaining, Some(900.0));
    // refused by the token limit (request tokens are plenty): 901 does not fit in 900
    assert!(matches!(
        tokens_call(&p, 901, 1),
        Err(Error::RateLimited { .. })
    ));
    assert_eq!(
        signals("llm-tpm").unwrap().rate_remaining,
        Some(8.0),
        "nothing taken"
    );
    clock.advance(Duration::from_secs(1));
    assert_eq!(tokens_call(&p, 900, 900), Ok(900));
    assert_eq!(signals("llm-tpm").unwrap().tokens_remaining, Some(100.0));
}

#[test]
fn a_call_costing_more_than_the_bucket_is_refused_at_once() {
    let p = Policy::builder("llm-tpm-too-big")
        .tpm(1000.0)
        .build()
        .unwrap();
    assert!(matches!(
        tokens_call(&p, 1001, 0),
        Err(Error::RateLimited { .. })
    ));
}

#[test]
fn limits_learn_from_what_the_provider_reports() {
    let clock = staunch_runtime::MockClock::new();
    let _g = clock.install();
    let p = Policy::builder("llm-observe")
        .rpm(600.0)
        .burst(10)
        .wait(Duration::ZERO)
        .build()
        .unwrap();
    let h = p.handle();
    h.observe(Observed {
        remaining_requests: Some(0),
        reset_requests: Some(Duration::from_secs(6)),
        ..Default::default()
    });
    assert!(matches!(
        p.call(|| Ok::<_, Error>(())),
        Err(Error::RateLimited { .. })
    ));
    clock.advance(Duration::from_secs(6));
    assert_eq!(p.call(|| Ok::<_, Error>(())), Ok(()));
}

#[test]
fn a_retry_budget_bounds_the_load_of_an_outage() {
    let clock = staunch_runtime::MockClock::new();
    let _g = clock.install();
    let p = Policy::builder("llm-budget")
        .retry(Retry::new().max(3).budget(0.1))
        .build()
        .unwrap();
    let mut sent = 0u32;
    let first = 500u32;
    let t0 = clock.elapsed();
    for _ in 0..first {
        let r: Result<(), Api> = p.call_classified(|| {
            sent += 1;
            Err(Api::Down)
        });
        assert_eq!(r, Err(Api::Down));
    }
    // the fraction of the first attempts, and the floor: one retry a second, ten a window
    let seconds = (clock.elapsed() - t0).as_secs_f64().ceil();
    let retries = f64::from(sent - first);
    assert!(
        retries <= 0.1 * f64::from(first) + seconds + 10.0,
        "{retries} retries for {first} first attempts over {seconds} s"
    );
    assert!(sent > first, "the budget does allow some retries");
}

#[test]
fn key_rotation_skips_a_failing_key_until_its_cooldown_ends() {
    use staunch_runtime::{Breaker, KeyPool};
    let clock = staunch_runtime::MockClock::new();
    let _g = clock.install();
    let pool = KeyPool::new(
        "llm-keys",
        ["k0", "k1", "k2"],
        Breaker::new()
            .threshold(2)
            .cooldown(Duration::from_secs(60)),
    )
    .unwrap();
    let mut used = Vec::new();
    for _ in 0..12 {
        let r: Result<(), Error> = pool.call(|key| {
            used.push(key.to_string());
            if &*key == "k1" {
                Err(Error::Timeout {
                    policy: "provider".into(),
                    after: Duration::ZERO,
                })
            } else {
                Ok(())
            }
        });
        let _ = r;
    }
    assert_eq!(
        used.iter().filter(|k| *k == "k1").count(),
        2,
        "k1 is skipped once it failed twice: {used:?}"
    );
    assert_eq!(
        signals("llm-keys[1]").unwrap().circuit,
        staunch_runtime::CircuitState::Open
    );
    clock.advance(Duration::from_secs(60));
    used.clear();
    for _ in 0..3 {
        let _ = pool.call(|key| {
            used.push(key.to_string());
            Ok::<_, Error>(())
        });
    }
    assert!(
        used.contains(&"k1".to_string()),
        "k1 is tried again after its cooldown: {used:?}"
    );
}

#[test]
fn when_every_key_is_open_the_pool_rejects_at_once() {
    use staunch_runtime::{Breaker, KeyPool};
    let pool = KeyPool::new("llm-keys-all-open", ["a", "b"], Breaker::new().threshold(1)).unwrap();
    for _ in 0..2 {
        let _ = pool.call(|_| {
            Err::<(), _>(Error::Timeout {
                policy: "x".into(),
                after: Duration::ZERO,
            })
        });
    }
    let mut called = false;
    let r = pool.call(|_| {
        called = true;
        Ok::<_, Error>(())
    });
    assert!(!called);
    assert!(
        matches!(r, Err(Error::CircuitOpen { ref policy, .. }) if policy == "llm-keys-all-open"),
        "{r:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_stale_answer_is_served_only_after_failure_and_only_while_fresh() {
    use staunch_runtime::attempt::key_hash;
    use staunch_runtime::Stale;
    static LAST_GOOD: Stale = Stale::new(2, Duration::from_secs(60));
    let paris = key_hash("paris");
    assert_eq!(
        LAST_GOOD.settle_async(paris, Ok::<_, Error>("sunny".to_string())),
        Ok("sunny".to_string())
    );
    assert_eq!(
        LAST_GOOD.settle_async(paris, Ok::<_, Error>("rain".to_string())),
        Ok("rain".to_string())
    );
    let down = || {
        Err::<String, _>(Error::Timeout {
            policy: "x".into(),
            after: Duration::ZERO,
        })
    };
    assert_eq!(
        LAST_GOOD.settle_async(paris, down()),
        Ok("rain".to_string())
    );
    assert_eq!(
        LAST_GOOD.settle_async(key_hash("rome"), down()),
        down(),
        "nothing remembered for rome"
    );
    tokio::time::advance(Duration::from_secs(61)).await;
    assert_eq!(LAST_GOOD.settle_async(paris, down()), down(), "too old");
    // bounded: two answers at most, the oldest goes
    for city in ["a", "b", "c"] {
        let _ = LAST_GOOD.settle_async(key_hash(city), Ok::<_, Error>(city.to_string()));
    }
    assert_eq!(LAST_GOOD.len(), 2);
    assert_eq!(LAST_GOOD.settle_async(key_hash("a"), down()), down());
    assert_eq!(
        LAST_GOOD.settle_async(key_hash("c"), down()),
        Ok("c".to_string())
    );
    assert_eq!(LAST_GOOD.served(), 2);
}
