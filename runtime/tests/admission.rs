//! Admission before the body: a hold-off met exactly at the wait bound, a hold-off on a policy
//! limited only by tokens, and a call that estimates no tokens.

use std::time::Duration;

use staunch_runtime::attempt::{Req, Step};
use staunch_runtime::{Class, Classify, Error, MockClock, Policy};

#[derive(Debug, PartialEq)]
enum Api {
    TooMany(Duration),
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
            Api::Policy(e) => e.retry_after(),
        }
    }
}

#[test]
fn a_hold_off_as_long_as_the_wait_bound_is_waited_out() {
    let clock = MockClock::new();
    let _g = clock.install();
    let p = Policy::builder("adm-hold-at-bound")
        .rps(1000.0)
        .wait(Duration::from_secs(2))
        .build()
        .unwrap();
    let busy = Api::TooMany(Duration::from_secs(2));
    assert_eq!(
        p.call_classified(|| Err::<(), _>(Api::TooMany(Duration::from_secs(2)))),
        Err(busy)
    );
    let t0 = clock.elapsed();
    assert_eq!(p.call_classified(|| Ok::<_, Api>(())), Ok(()));
    assert_eq!(clock.elapsed() - t0, Duration::from_secs(2));
}

#[test]
fn a_hold_off_longer_than_the_wait_bound_is_refused() {
    let clock = MockClock::new();
    let _g = clock.install();
    let p = Policy::builder("adm-hold-past-bound")
        .rps(1000.0)
        .wait(Duration::from_secs(2))
        .build()
        .unwrap();
    let _ = p.call_classified(|| Err::<(), _>(Api::TooMany(Duration::from_secs(3))));
    let t0 = clock.elapsed();
    assert_eq!(
        p.call_classified(|| Ok::<_, Api>(())),
        Err(Api::Policy(Error::RateLimited {
            policy: "adm-hold-past-bound".into(),
            retry_after: Duration::from_secs(3),
        }))
    );
    assert_eq!(clock.elapsed(), t0, "a refusal does not wait");
}

#[test]
fn a_hold_off_holds_back_a_call_that_estimates_no_tokens() {
    // a token limit alone makes the policy limited: a hint holds off every caller, whatever
    // the cost it estimates
    let clock = MockClock::new();
    let _g = clock.install();
    let p = Policy::builder("adm-hold-tokens-only")
        .tpm(6000.0)
        .build()
        .unwrap();
    let _ = p.call_classified(|| Err::<(), _>(Api::TooMany(Duration::from_secs(3))));
    assert_eq!(p.handle().signals().held_off_for, Duration::from_secs(3));
    let t0 = clock.elapsed();
    assert_eq!(p.call_classified(|| Ok::<_, Api>(())), Ok(()));
    assert_eq!(clock.elapsed() - t0, Duration::from_secs(3));
}

#[test]
fn a_call_that_estimates_no_tokens_passes_an_overdrawn_token_limit() {
    let clock = MockClock::new();
    let _g = clock.install();
    let p = Policy::builder("adm-no-cost")
        .tpm(6000.0)
        .wait(Duration::ZERO)
        .build()
        .unwrap();
    // estimated the whole bucket, used twice that: the bucket owes a minute's worth
    let mut call = p
        .begin::<Result<u64, Error>>(|_| Class::DEFAULT)
        .usage(|used| *used);
    assert_eq!(
        call.attempt_sync(Req::new().cost(6000), || Ok(12_000)),
        Step::Done(Ok(12_000))
    );
    let mut costly = p.begin::<Result<(), Error>>(|_| Class::DEFAULT);
    assert!(matches!(
        costly.attempt_sync(Req::new().cost(1), || Ok(())),
        Step::Fallback(Err(Error::RateLimited { .. }))
    ));
    // a call that takes no tokens waits for none
    let t0 = clock.elapsed();
    assert_eq!(p.call(|| Ok::<_, Error>(7)), Ok(7));
    assert_eq!(p.handle().preflight(), Ok(()));
    assert_eq!(clock.elapsed(), t0);
}

#[test]
fn a_call_the_bulkhead_turns_away_gives_its_tokens_back() {
    let clock = MockClock::new();
    let _g = clock.install(); // no token comes back with time while the test runs
    let p = Policy::builder("adm-refund")
        .rps(100.0)
        .tpm(6000.0)
        .max_inflight(1)
        .build()
        .unwrap();
    let inside = p
        .call(|| {
            // the one slot is taken: the limiters admit this attempt, the bulkhead turns it away
            let mut call = p.begin::<Result<(), Error>>(|_| Class::DEFAULT);
            let step = call.attempt_sync(Req::new().cost(1000), || Ok(()));
            Ok::<_, Error>((step, p.handle().signals()))
        })
        .unwrap();
    let (step, during) = inside;
    assert_eq!(
        step,
        Step::Fallback(Err(Error::BulkheadFull {
            policy: "adm-refund".into(),
            limit: 1,
        }))
    );
    assert_eq!(
        during.tokens_remaining,
        Some(6000.0),
        "its 1000 tokens came back"
    );
    assert_eq!(during.rate_remaining, Some(99.0), "and its request token");
    let after = p.handle().signals();
    assert_eq!(after.tokens_remaining, Some(6000.0));
}
