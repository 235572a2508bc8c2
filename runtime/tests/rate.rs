//! Rate limiter: refills, wait bounds and keyed buckets, on tokio's paused clock.

use std::time::Duration;

use staunch_runtime::attempt::{key_hash, Req, Step};
use staunch_runtime::{signals, Class, Error, Policy};

async fn ok(p: &Policy) -> Result<(), Error> {
    p.call_async(|| async { Ok(()) }).await
}

fn limited(name: &str, ms: u64) -> Result<(), Error> {
    Err(Error::RateLimited {
        policy: name.into(),
        retry_after: Duration::from_millis(ms),
    })
}

#[tokio::test(start_paused = true)]
async fn a_full_bucket_then_a_refill_at_its_edge() {
    let p = Policy::builder("rate-edge")
        .rps(2.0)
        .burst(2)
        .wait(Duration::ZERO)
        .build()
        .unwrap();
    assert_eq!(signals("rate-edge").unwrap().rate_remaining, Some(2.0));
    assert_eq!(ok(&p).await, Ok(()));
    assert_eq!(ok(&p).await, Ok(()));
    assert_eq!(ok(&p).await, limited("rate-edge", 500));
    tokio::time::advance(Duration::from_millis(499)).await;
    assert_eq!(ok(&p).await, limited("rate-edge", 1));
    tokio::time::advance(Duration::from_millis(1)).await;
    assert_eq!(ok(&p).await, Ok(()));
    assert_eq!(ok(&p).await, limited("rate-edge", 500));
}

#[tokio::test(start_paused = true)]
async fn a_wait_bound_just_met_waits_and_just_missed_fails_at_once() {
    let met = Policy::builder("rate-wait-met")
        .rps(1.0)
        .wait(Duration::from_secs(1))
        .build()
        .unwrap();
    assert_eq!(ok(&met).await, Ok(()));
    let t0 = tokio::time::Instant::now();
    assert_eq!(ok(&met).await, Ok(()));
    assert_eq!(t0.elapsed(), Duration::from_secs(1));

    let missed = Policy::builder("rate-wait-missed")
        .rps(1.0)
        .wait(Duration::from_millis(999))
        .build()
        .unwrap();
    assert_eq!(ok(&missed).await, Ok(()));
    let t0 = tokio::time::Instant::now();
    assert_eq!(ok(&missed).await, limited("rate-wait-missed", 1000));
    assert_eq!(t0.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn without_a_bound_calls_queue_for_their_tokens() {
    let p = Policy::builder("rate-queue").rpm(60.0).build().unwrap(); // one a second, burst 1
    let t0 = tokio::time::Instant::now();
    for _ in 0..4 {
        assert_eq!(ok(&p).await, Ok(()));
    }
    assert_eq!(t0.elapsed(), Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn rate_remaining_counts_tokens_and_refills() {
    let p = Policy::builder("rate-remaining").rps(10.0).build().unwrap();
    for _ in 0..4 {
        ok(&p).await.unwrap();
    }
    assert_eq!(signals("rate-remaining").unwrap().rate_remaining, Some(6.0));
    tokio::time::advance(Duration::from_millis(250)).await;
    assert_eq!(signals("rate-remaining").unwrap().rate_remaining, Some(8.5));
    tokio::time::advance(Duration::from_secs(60)).await;
    assert_eq!(
        signals("rate-remaining").unwrap().rate_remaining,
        Some(10.0),
        "never more than the burst"
    );
}

async fn keyed_call<K: std::hash::Hash + ?Sized>(p: &Policy, user: &K) -> Result<(), Error> {
    let mut call = p.begin::<Result<(), Error>>(|_| Class::DEFAULT);
    let req = Req::new().key(key_hash(user));
    loop {
        match call.attempt_async(req, async { Ok(()) }).await {
            Step::Done(r) | Step::Fallback(r) => return r,
            Step::Again => {}
        }
    }
}

#[tokio::test(start_paused = true)]
async fn each_key_has_its_own_bucket() {
    let p = Policy::builder("rate-keyed")
        .rps(1.0)
        .keyed()
        .wait(Duration::ZERO)
        .build()
        .unwrap();
    assert_eq!(keyed_call(&p, "alice").await, Ok(()));
    assert_eq!(keyed_call(&p, "bob").await, Ok(()));
    assert!(matches!(
        keyed_call(&p, "alice").await,
        Err(Error::RateLimited { .. })
    ));
    assert_eq!(signals("rate-keyed").unwrap().rate_remaining, None);
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(keyed_call(&p, "alice").await, Ok(()));
}

/// A million keys pass through; only those whose bucket has not refilled are remembered.
#[tokio::test(start_paused = true)]
async fn idle_keys_are_forgotten_once_refilled_and_gain_nothing() {
    let p = Policy::builder("rate-evict")
        .rps(1.0)
        .keyed()
        .wait(Duration::ZERO)
        .build()
        .unwrap();
    for round in 0..100u64 {
        for user in 0..10_000u64 {
            assert_eq!(keyed_call(&p, &(round * 10_000 + user)).await, Ok(()));
        }
        tokio::time::advance(Duration::from_secs(1)).await;
    }
    let keys = signals("rate-evict").unwrap().keys.unwrap();
    assert!(keys < 100_000, "{keys} keys remembered of 1,000,000");
    // a key that is remembered (empty bucket) is still refused
    assert_eq!(keyed_call(&p, "fresh").await, Ok(()));
    assert!(matches!(
        keyed_call(&p, "fresh").await,
        Err(Error::RateLimited { .. })
    ));
}

#[test]
fn sync_calls_wait_on_the_mock_clock() {
    let clock = staunch_runtime::MockClock::new();
    let _g = clock.install();
    let p = Policy::builder("rate-sync-mock")
        .rps(4.0)
        .burst(1)
        .build()
        .unwrap();
    let t0 = clock.elapsed();
    for _ in 0..5 {
        assert_eq!(p.call(|| Ok::<_, Error>(())), Ok(()));
    }
    assert_eq!(clock.elapsed() - t0, Duration::from_secs(1));
}

/// Found by review: a rate small enough to saturate the limiter's arithmetic admitted every
/// call; the environment could set one too.
#[test]
fn a_rate_too_small_to_count_refuses_every_call() {
    let clock = staunch_runtime::MockClock::new();
    let _g = clock.install();
    std::env::set_var("STAUNCH_RATE_TINY_ENV_RPS", "0.00000000001");
    for name in ["rate-tiny", "rate-tiny-env"] {
        let p = Policy::builder(name)
            .rps(if name == "rate-tiny" { 1e-11 } else { 10.0 })
            .build()
            .unwrap();
        for _ in 0..3 {
            assert_eq!(
                p.call(|| Ok::<_, Error>(())),
                Err(Error::RateLimited {
                    policy: name.into(),
                    retry_after: std::time::Duration::from_nanos(u64::MAX)
                }),
                "{name}"
            );
        }
    }
}

/// `Handle::reset` refills every bucket, direct and keyed, and a keyed limiter forgets its keys
/// (two survivors of cargo mutants on limiter.rs).
#[test]
fn a_reset_refills_every_bucket_and_forgets_the_keys() {
    let clock = staunch_runtime::MockClock::new();
    let _g = clock.install();
    let keyed = Policy::builder("rate-reset-keyed")
        .rps(1.0)
        .keyed()
        .wait(std::time::Duration::ZERO)
        .build()
        .unwrap();
    let direct = Policy::builder("rate-reset-direct")
        .rps(1.0)
        .wait(std::time::Duration::ZERO)
        .build()
        .unwrap();
    let call_key = |user: &str| {
        let mut call = keyed.begin::<Result<(), Error>>(|_| Class::DEFAULT);
        match call.attempt_sync(Req::new().key(key_hash(user)), || Ok(())) {
            Step::Done(r) | Step::Fallback(r) => r,
            Step::Again => unreachable!("no retry"),
        }
    };
    for user in ["alice", "bob"] {
        assert_eq!(call_key(user), Ok(()));
        assert!(matches!(call_key(user), Err(Error::RateLimited { .. })));
    }
    assert_eq!(direct.call(|| Ok::<_, Error>(())), Ok(()));
    assert!(matches!(
        direct.call(|| Ok::<_, Error>(())),
        Err(Error::RateLimited { .. })
    ));
    assert_eq!(signals("rate-reset-keyed").unwrap().keys, Some(2));
    keyed.handle().reset();
    direct.handle().reset();
    assert_eq!(signals("rate-reset-keyed").unwrap().keys, Some(0));
    assert_eq!(
        signals("rate-reset-direct").unwrap().rate_remaining,
        Some(1.0)
    );
    for user in ["alice", "bob"] {
        assert_eq!(call_key(user), Ok(()), "{user}'s bucket is full again");
    }
    assert_eq!(direct.call(|| Ok::<_, Error>(())), Ok(()));
}
