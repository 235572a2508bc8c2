//! `redis(…)` in the attribute, against a real Redis: a keyed `rpm` quota whose buckets live
//! in Redis under a hash every replica computes alike, a token limit, and a breaker.
//!
//! Real time passes here (a real Redis, on its own clock): every limit refills so slowly that
//! no assertion can flip within a minute of the test (a request a minute; a refusal of tokens
//! is short of hundreds of them, at 1,000 a minute), and the breaker's cooldown is a minute.

#[path = "../runtime/tests/redis_server/mod.rs"]
mod redis_server;

use staunch::{resilient, Error};

#[resilient(
    name = "attr-redis-keyed",
    rpm = 1,
    burst = 2,
    key = user,
    wait = 0,
    redis(fail = "closed", timeout = "2s")
)]
async fn ask(user: &str) -> Result<usize, Error> {
    Ok(user.len())
}

#[resilient(name = "attr-redis-tokens", tpm = 1000, cost = tokens, wait = 0, redis(fail = "closed", timeout = "2s"))]
async fn complete(tokens: u64) -> Result<u64, Error> {
    Ok(tokens)
}

#[resilient(
    name = "attr-redis-breaker",
    breaker(threshold = 2, cooldown = 60),
    redis(fail = "closed", timeout = "2s", prefix = "attr:")
)]
async fn flaky(fail: bool) -> Result<u8, Error> {
    if fail {
        Err(Error::Injected {
            policy: "upstream".into(),
        })
    } else {
        Ok(1)
    }
}

fn used(tokens: &u64) -> u64 {
    *tokens
}

/// Estimated at `estimate` tokens, reports it used `really`.
#[resilient(name = "attr-redis-usage", tpm = 1000, cost = estimate, usage = used, wait = 0, redis(fail = "closed", timeout = "2s"))]
async fn estimated(estimate: u64, really: u64) -> Result<u64, Error> {
    let _ = estimate;
    Ok(really)
}

/// The same, under a bucket of its own.
#[resilient(name = "attr-redis-overuse", tpm = 1000, cost = estimate, usage = used, wait = 0, redis(fail = "closed", timeout = "2s"))]
async fn overused(estimate: u64, really: u64) -> Result<u64, Error> {
    let _ = estimate;
    Ok(really)
}

#[tokio::test]
async fn the_attribute_shares_keyed_buckets_tokens_and_a_breaker_through_redis() {
    let server = redis_server::Server::start();
    staunch::redis::register_url(&server.url()).unwrap();

    // keyed: each user's bucket of 2 is in Redis (and gets its next request in a minute)
    assert_eq!(ask("ann").await, Ok(3));
    assert_eq!(ask("ann").await, Ok(3));
    assert!(matches!(ask("ann").await, Err(Error::RateLimited { .. })));
    assert_eq!(ask("bob").await, Ok(3));
    let key = format!(
        "staunch:attr-redis-keyed:rate:{:016x}",
        staunch::redis::shared_key_hash("ann")
    );
    assert_eq!(server.command(&["EXISTS", &key]).as_deref(), Some(":1"));

    // tokens: 1000 a minute, a minute's worth of burst. A call the bucket could hold is
    // refused for want of room (600 tokens, 36 s, short), and takes nothing
    assert_eq!(complete(600).await, Ok(600));
    assert!(matches!(
        complete(1000).await,
        Err(Error::RateLimited { .. })
    ));
    assert_eq!(complete(400).await, Ok(400));
    assert!(matches!(
        complete(1000).await,
        Err(Error::RateLimited { .. })
    ));
    // more than the bucket holds never passes
    assert!(matches!(
        complete(1001).await,
        Err(Error::RateLimited { .. })
    ));

    // usage: an estimate of 900 that used 100 gives 800 back to the fleet's bucket, so a
    // second 900 fits (without the refund it would be 800 tokens, 48 s, short)
    assert_eq!(estimated(900, 100).await, Ok(100));
    assert_eq!(estimated(900, 900).await, Ok(900));
    assert!(matches!(
        estimated(900, 900).await,
        Err(Error::RateLimited { .. })
    ));
    // an estimate of 100 that used 900 is charged 800 more: 100 tokens are left, and a call
    // of 500 (which would fit had only the estimate been taken) is 400 tokens, 24 s, short
    assert_eq!(overused(100, 900).await, Ok(900));
    assert!(matches!(
        overused(500, 500).await,
        Err(Error::RateLimited { .. })
    ));
    assert_eq!(overused(100, 100).await, Ok(100));

    // the breaker: open in Redis after two failures in a row
    assert!(flaky(true).await.is_err());
    assert!(flaky(true).await.is_err());
    assert!(matches!(flaky(false).await, Err(Error::CircuitOpen { .. })));
    assert_eq!(
        server
            .command(&["HGET", "attr:attr-redis-breaker:breaker", "s"])
            .as_deref(),
        Some("1"),
        "open"
    );
}
