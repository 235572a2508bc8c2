//! What the event and metrics tests share: an API's errors, and one call run the way the
//! attribute runs it, attempt by attempt, with scripted answers on tokio's clock.
#![allow(dead_code)] // each test binary uses its part

use std::time::Duration;

use staunch_runtime::attempt::{Req, Step};
use staunch_runtime::{Classify, Error, Policy};

/// A millisecond.
pub const MS: Duration = Duration::from_millis(1);

/// What a scripted provider answers with.
#[derive(Clone, Debug, PartialEq)]
pub enum Api {
    /// The provider is down.
    Down,
    /// The request was wrong: the caller's fault.
    BadRequest,
    /// Busy: come back after this long.
    Busy(Duration),
    /// The policy's own rejection.
    Policy(Error),
}

impl std::fmt::Display for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Api::Down => f.write_str("down"),
            Api::BadRequest => f.write_str("bad request"),
            Api::Busy(d) => write!(f, "busy for {d:?}"),
            Api::Policy(e) => e.fmt(f),
        }
    }
}

impl From<Error> for Api {
    fn from(e: Error) -> Self {
        Api::Policy(e)
    }
}

impl Classify for Api {
    fn is_caller_fault(&self) -> bool {
        *self == Api::BadRequest
    }
    fn retry_after(&self) -> Option<Duration> {
        match self {
            Api::Busy(d) => Some(*d),
            _ => None,
        }
    }
}

/// One call through `policy` the way the attribute runs it: one scripted answer (after its
/// time) per attempt that runs; the fallback (`Ok(0)`) reported and taken when the policy hands
/// the call to it.
pub async fn ask(
    policy: &Policy,
    mut answers: Vec<(Duration, Result<u32, Api>)>,
) -> Result<u32, Api> {
    answers.reverse();
    let mut call = policy
        .begin::<Result<u32, Api>>(|e| e.class())
        .describe(|e| e.to_string());
    loop {
        let next = answers.pop();
        let step = call
            .attempt_async(Req::new(), async move {
                let (takes, answer) = next.expect("an answer per attempt that runs");
                tokio::time::sleep(takes).await;
                answer
            })
            .await;
        match step {
            Step::Done(r) => return r,
            Step::Again => {}
            Step::Fallback(r) => {
                call.fell_back(&r);
                return Ok(0);
            }
        }
    }
}
