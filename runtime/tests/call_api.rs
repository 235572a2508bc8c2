//! The low-level call API as a caller sees it: whether an attempt was turned away, the retries
//! counted, and the limit a timed-out attempt reports.

use std::time::Duration;

use staunch_runtime::attempt::{Req, Step};
use staunch_runtime::{Class, Error, MockClock, Policy, Retry, Why};

fn down() -> Error {
    Error::Timeout {
        policy: "upstream".into(),
        after: Duration::ZERO,
    }
}

#[test]
fn a_call_knows_whether_the_policy_turned_it_away() {
    let p = Policy::builder("call-rejected")
        .max_inflight(1)
        .build()
        .unwrap();
    let mut outer = p.begin::<Result<(), Error>>(|_| Class::DEFAULT);
    let mut inner_rejected = None;
    let step = outer.attempt_sync(Req::new(), || {
        let mut inner = p.begin::<Result<(), Error>>(|_| Class::DEFAULT);
        let step = inner.attempt_sync(Req::new(), || Ok(()));
        assert_eq!(
            step,
            Step::Fallback(Err(Error::BulkheadFull {
                policy: "call-rejected".into(),
                limit: 1,
            }))
        );
        inner_rejected = Some(inner.was_rejected());
        Err(down())
    });
    assert_eq!(inner_rejected, Some(true), "the bulkhead was full");
    assert_eq!(step, Step::Fallback(Err(down())));
    assert!(!outer.was_rejected(), "the attempt ran and failed");
    assert_eq!(outer.why(Err(down())), Why::Failed(down()));

    let mut ok = p.begin::<Result<u8, Error>>(|_| Class::DEFAULT);
    assert_eq!(ok.attempt_sync(Req::new(), || Ok(1)), Step::Done(Ok(1)));
    assert!(!ok.was_rejected());
}

#[test]
fn a_call_counts_its_retries() {
    let clock = MockClock::new();
    let _g = clock.install(); // the backoff waits move the mock clock
    let p = Policy::builder("call-retries")
        .retry(Retry::new().max(2).jitter(0.0))
        .build()
        .unwrap();
    let mut call = p.begin::<Result<(), Error>>(|_| Class::DEFAULT);
    assert_eq!(call.retries(), 0);
    assert_eq!(call.attempt_sync(Req::new(), || Err(down())), Step::Again);
    assert_eq!(call.retries(), 1);
    assert_eq!(call.attempt_sync(Req::new(), || Err(down())), Step::Again);
    assert_eq!(call.retries(), 2);
    assert_eq!(
        call.attempt_sync(Req::new(), || Err(down())),
        Step::Fallback(Err(down()))
    );
    assert_eq!(call.retries(), 2, "no retry is left");
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_attempt_reports_the_timeout_when_the_timeout_cut_it() {
    let p = Policy::builder("call-timeout-first")
        .timeout(Duration::from_secs(1))
        .deadline(Duration::from_secs(10))
        .build()
        .unwrap();
    let r: Result<(), Error> = p.call_async(std::future::pending).await;
    assert_eq!(
        r,
        Err(Error::Timeout {
            policy: "call-timeout-first".into(),
            after: Duration::from_secs(1),
        })
    );
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_attempt_reports_the_deadline_when_the_deadline_cut_it() {
    let p = Policy::builder("call-deadline-first")
        .timeout(Duration::from_secs(5))
        .deadline(Duration::from_secs(2))
        .build()
        .unwrap();
    let r: Result<(), Error> = p.call_async(std::future::pending).await;
    assert_eq!(
        r,
        Err(Error::Timeout {
            policy: "call-deadline-first".into(),
            after: Duration::from_secs(2),
        })
    );
}

/// A success that needs accounting (a retry budget to pay into, tokens to reconcile) is counted
/// as one, like a plain success.
#[test]
fn a_success_with_a_budget_or_a_token_limit_is_counted() {
    use staunch_runtime::{Error, Policy, Retry};
    let budgeted = Policy::builder("call-api-budget-success")
        .retry(Retry::new().budget(0.1))
        .build()
        .unwrap();
    assert_eq!(budgeted.call(|| Ok::<_, Error>(1)), Ok(1));
    assert_eq!(budgeted.handle().signals().successes, 1);
    let tokens = Policy::builder("call-api-tpm-success")
        .tpm(1000.0)
        .build()
        .unwrap();
    assert_eq!(tokens.call(|| Ok::<_, Error>(1)), Ok(1));
    assert_eq!(tokens.handle().signals().successes, 1);
}
