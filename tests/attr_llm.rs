//! The LLM options of the attribute: `tpm`, `cost`, `usage`, `retry(budget)`, `stale(…)`.
mod common;

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};

use common::{Counter, Fail};
use staunch::{resilient, signals, MockClock};

#[derive(Clone, Debug, PartialEq)]
struct Reply {
    text: String,
    tokens: u64,
}

impl Reply {
    fn tokens(&self) -> u64 {
        self.tokens
    }
}

fn estimate(prompt: &str) -> u64 {
    prompt.len() as u64 * 10
}

#[resilient(tpm = 100, cost = estimate(prompt), usage = Reply::tokens, wait = 0, name = "llm-tpm")]
fn complete(prompt: &str) -> Result<Reply, Fail> {
    Ok(Reply {
        text: prompt.to_uppercase(),
        tokens: 5,
    })
}

#[test]
fn the_token_limit_takes_the_estimate_and_refunds_the_difference() {
    let clock = MockClock::new();
    let _g = clock.install();
    // 80 tokens estimated, 5 used: 75 come back
    assert_eq!(complete("abcdefgh").unwrap().text, "ABCDEFGH");
    let left = signals("llm-tpm").unwrap().tokens_remaining.unwrap();
    assert!((94.0..=96.0).contains(&left), "{left}");
    // an estimate above what is left is rejected
    assert!(complete(&"x".repeat(11)).unwrap_err().is_rate_limited());
}

static UP: AtomicBool = AtomicBool::new(true);
static CALLS: Counter = Counter::new();

#[resilient(
    retry(max = 1, delay = 0),
    stale(max_age = "10m", capacity = 10),
    name = "llm-stale"
)]
fn answer(prompt: &str) -> Result<Reply, Fail> {
    CALLS.next();
    if UP.load(SeqCst) {
        Ok(Reply {
            text: format!("fresh {prompt}"),
            tokens: 1,
        })
    } else {
        Err(Fail::Fatal)
    }
}

#[test]
fn the_last_good_answer_for_the_same_arguments_is_served_when_all_failed() {
    let clock = MockClock::new();
    let _g = clock.install();
    assert_eq!(answer("q").unwrap().text, "fresh q");
    UP.store(false, SeqCst);
    assert_eq!(answer("q").unwrap().text, "fresh q");
    assert_eq!(CALLS.get(), 3);
    assert_eq!(signals("llm-stale").unwrap().stale_served, 1);
    // nothing remembered for other arguments
    assert_eq!(answer("other"), Err(Fail::Fatal));
    // nor past `max_age`
    clock.advance(std::time::Duration::from_secs(601));
    assert_eq!(answer("q"), Err(Fail::Fatal));
}
