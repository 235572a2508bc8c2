//! `KeyPool`: its size, keys from the environment, round robin past open keys, what counts
//! against a key, and the error when every key is open; sync and async.

use std::sync::Arc;
use std::time::Duration;

use staunch_runtime::{policy, Breaker, ConfigError, Error, KeyPool, MockClock};

/// A key that was revoked: what the calls below fail with.
fn revoked() -> Error {
    Error::Timeout {
        policy: "provider".into(),
        after: Duration::ZERO,
    }
}

#[derive(Debug, PartialEq)]
enum E {
    Unauthorized,
    Down,
    Policy(Error),
}

impl From<Error> for E {
    fn from(e: Error) -> Self {
        E::Policy(e)
    }
}

fn is_unauthorized(e: &E) -> bool {
    *e == E::Unauthorized
}

#[test]
fn a_pool_has_as_many_keys_as_it_was_given() {
    let pool = KeyPool::new("kp-len", ["a", "b", "c"], Breaker::new()).unwrap();
    assert_eq!(pool.len(), 3);
    assert!(!pool.is_empty());
    let one = KeyPool::new("kp-len-one", ["a"], Breaker::new()).unwrap();
    assert_eq!(one.len(), 1);
    assert!(!one.is_empty());
}

#[test]
fn a_pool_needs_a_key() {
    let none: [&str; 0] = [];
    let e: ConfigError = KeyPool::new("kp-none", none, Breaker::new()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "policy `kp-none`: a key pool needs at least one key"
    );
}

#[test]
fn keys_from_the_environment_are_trimmed_and_blank_ones_left_out() {
    std::env::set_var("KP_TEST_KEYS", " sk-a, ,sk-b ,");
    let pool = KeyPool::from_env("kp-env", "KP_TEST_KEYS", Breaker::new()).unwrap();
    assert_eq!(pool.len(), 2);
    let used: Vec<Arc<str>> = (0..2).map(|_| pool.call(Ok::<_, Error>).unwrap()).collect();
    assert_eq!(used, [Arc::from("sk-a"), Arc::from("sk-b")]);

    std::env::set_var("KP_TEST_BLANK_KEYS", " , ");
    let e = KeyPool::from_env("kp-env-blank", "KP_TEST_BLANK_KEYS", Breaker::new()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "policy `kp-env-blank`: `KP_TEST_BLANK_KEYS` holds no key"
    );
    let e = KeyPool::from_env("kp-env-unset", "KP_TEST_UNSET_KEYS", Breaker::new()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "policy `kp-env-unset`: `KP_TEST_UNSET_KEYS` holds no key"
    );
}

#[test]
fn calls_take_the_keys_in_turn_and_skip_an_open_one() {
    let pool = KeyPool::new("kp-rr", ["a", "b", "c"], Breaker::new()).unwrap();
    policy("kp-rr[1]").unwrap().force_open();
    let used: Vec<Arc<str>> = (0..4).map(|_| pool.call(Ok::<_, Error>).unwrap()).collect();
    // turns start at a, b, c, a; b is open, so its turn goes to the key after it
    let want: Vec<Arc<str>> = ["a", "c", "c", "a"].map(Arc::from).to_vec();
    assert_eq!(used, want);
}

#[test]
fn the_first_key_open_sends_the_first_call_to_the_second() {
    let pool = KeyPool::new("kp-first-open", ["a", "b"], Breaker::new()).unwrap();
    policy("kp-first-open[0]").unwrap().force_open();
    assert_eq!(&*pool.call(Ok::<_, Error>).unwrap(), "b");
}

#[test]
fn a_key_fault_is_returned_at_once_and_the_key_then_skipped() {
    let pool = KeyPool::new("kp-fault", ["k0", "k1"], Breaker::new().threshold(1)).unwrap();
    let mut tried = Vec::new();
    let r: Result<&str, Error> = pool.call(|key| {
        tried.push(key.clone());
        if &*key == "k0" {
            Err(revoked())
        } else {
            Ok("answer")
        }
    });
    assert_eq!(r, Err(revoked()), "the call ends with its key's error");
    assert_eq!(tried, [Arc::from("k0")], "no other key is tried");
    for _ in 0..3 {
        assert_eq!(&*pool.call(Ok::<_, Error>).unwrap(), "k1");
    }
}

#[test]
fn only_a_key_fault_counts_against_the_key() {
    let pool = KeyPool::new("kp-only-faults", ["k"], Breaker::new().threshold(1)).unwrap();
    assert_eq!(
        pool.call_with(is_unauthorized, |_| Err::<(), _>(E::Down)),
        Err(E::Down)
    );
    assert_eq!(
        pool.call_with(is_unauthorized, |_| Ok::<_, E>(1)),
        Ok(1),
        "an outage leaves the key in rotation"
    );
    assert_eq!(
        pool.call_with(is_unauthorized, |_| Err::<(), _>(E::Unauthorized)),
        Err(E::Unauthorized)
    );
    assert!(matches!(
        pool.call_with(is_unauthorized, |_| Ok::<_, E>(1)),
        Err(E::Policy(Error::CircuitOpen { .. }))
    ));
}

#[test]
fn with_every_key_open_the_pool_says_when_the_first_comes_back() {
    let clock = MockClock::new();
    let _g = clock.install();
    let pool = KeyPool::new(
        "kp-all-open",
        ["k0", "k1"],
        Breaker::new()
            .threshold(1)
            .cooldown(Duration::from_secs(30)),
    )
    .unwrap();
    assert_eq!(pool.call(|_| Err::<(), _>(revoked())), Err(revoked()));
    clock.advance(Duration::from_secs(10));
    assert_eq!(pool.call(|_| Err::<(), _>(revoked())), Err(revoked()));
    let mut called = false;
    let r: Result<(), Error> = pool.call(|_| {
        called = true;
        Ok(())
    });
    assert!(!called);
    assert_eq!(
        r,
        Err(Error::CircuitOpen {
            policy: "kp-all-open".into(),
            retry_in: Duration::from_secs(20),
        })
    );
}

#[tokio::test]
async fn an_async_call_builds_no_future_for_an_open_key() {
    let pool = KeyPool::new("kp-async-open", ["k0", "k1"], Breaker::new()).unwrap();
    policy("kp-async-open[0]").unwrap().force_open();
    let mut built = Vec::new();
    let r = pool
        .call_async(|key| {
            built.push(key.clone());
            async move { Ok::<_, Error>(key) }
        })
        .await;
    assert_eq!(r, Ok(Arc::from("k1")));
    assert_eq!(built, [Arc::from("k1")]);
}

#[tokio::test]
async fn an_async_call_uses_a_healthy_key() {
    let pool = KeyPool::new("kp-async", ["sk-1"], Breaker::new()).unwrap();
    let r = pool
        .call_async(|key| async move { Ok::<_, Error>(key.len()) })
        .await;
    assert_eq!(r, Ok(4));
}

#[tokio::test]
async fn an_async_key_fault_counts_against_the_key_and_an_outage_does_not() {
    let pool = KeyPool::new("kp-async-faults", ["k"], Breaker::new().threshold(1)).unwrap();
    let down = pool
        .call_async_with(is_unauthorized, |_| async { Err::<(), _>(E::Down) })
        .await;
    assert_eq!(down, Err(E::Down));
    let up = pool
        .call_async_with(is_unauthorized, |_| async { Ok::<_, E>(1) })
        .await;
    assert_eq!(up, Ok(1));
    let fault = pool
        .call_async_with(is_unauthorized, |_| async { Err::<(), _>(E::Unauthorized) })
        .await;
    assert_eq!(fault, Err(E::Unauthorized));
    let open = pool
        .call_async_with(is_unauthorized, |_| async { Ok::<_, E>(1) })
        .await;
    assert!(matches!(open, Err(E::Policy(Error::CircuitOpen { .. }))));
}
