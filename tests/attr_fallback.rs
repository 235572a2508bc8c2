//! `fallback = path`: called with the same arguments when the call finally fails or is
//! rejected.
mod common;

use std::time::Duration;

use common::{Counter, Fail};
use staunch::{resilient, Classify, MockClock};

fn cached(id: u64, label: &str) -> Result<String, Fail> {
    Ok(format!("cached {label}{id}"))
}

#[resilient(retry(max = 2, delay = 0), fallback = cached)]
fn lookup(id: u64, label: &str) -> Result<String, Fail> {
    if id == 0 {
        Err(Fail::Boom(0))
    } else {
        Ok(format!("fresh {label}{id}"))
    }
}

#[test]
fn the_fallback_answers_when_every_attempt_failed() {
    let clock = MockClock::new();
    let _g = clock.install();
    assert_eq!(lookup(1, "#").unwrap(), "fresh #1");
    assert_eq!(lookup(0, "#").unwrap(), "cached #0");
}

static REJECTED: Counter = Counter::new();

fn closed_shop() -> Result<u32, Fail> {
    Ok(0)
}

#[resilient(breaker(threshold = 1, cooldown = 60), fallback = closed_shop, name = "fallback-open")]
fn shop() -> Result<u32, Fail> {
    REJECTED.next();
    Err(Fail::Fatal)
}

#[test]
fn the_fallback_answers_a_rejection() {
    let clock = MockClock::new();
    let _g = clock.install();
    assert_eq!(shop(), Ok(0));
    assert_eq!(shop(), Ok(0));
    assert_eq!(REJECTED.get(), 1);
}

#[derive(Debug, PartialEq)]
enum Quiet {
    NotWorthIt,
    Staunch(staunch::Error),
}

impl From<staunch::Error> for Quiet {
    fn from(e: staunch::Error) -> Self {
        Quiet::Staunch(e)
    }
}

impl Classify for Quiet {
    fn is_fallback_worthy(&self) -> bool {
        !matches!(self, Quiet::NotWorthIt)
    }
}

fn never() -> Result<u8, Quiet> {
    Ok(1)
}

#[resilient(fallback = never)]
fn unworthy() -> Result<u8, Quiet> {
    Err(Quiet::NotWorthIt)
}

#[test]
fn an_error_not_worth_a_fallback_is_returned() {
    assert_eq!(unworthy(), Err(Quiet::NotWorthIt));
}

fn sum_again((a, b): (u32, u32), mut scale: u32) -> Result<u32, Fail> {
    scale += 0;
    Ok((a + b) * scale + 1000)
}

#[resilient(retry(max = 1, delay = 0), fallback = sum_again)]
fn sum((a, b): (u32, u32), mut scale: u32) -> Result<u32, Fail> {
    scale += 1;
    if a == 0 {
        Err(Fail::Boom(scale))
    } else {
        Ok((a + b) * scale)
    }
}

#[test]
fn patterns_and_mut_arguments_are_handed_on() {
    let clock = MockClock::new();
    let _g = clock.install();
    assert_eq!(sum((1, 2), 1), Ok(6));
    // each attempt bumps `scale`: the fallback gets it as the last attempt left it
    assert_eq!(sum((0, 2), 1), Ok(2 * 3 + 1000));
}

struct Store {
    fresh: bool,
    misses: u32,
}

impl Store {
    #[resilient(retry(max = 1, delay = 0), fallback = stale)]
    fn get(&self, key: &str) -> Result<String, Fail> {
        if self.fresh {
            Ok(format!("fresh {key}"))
        } else {
            Err(Fail::Fatal)
        }
    }

    fn stale(&self, key: &str) -> Result<String, Fail> {
        Ok(format!("stale {key}"))
    }

    #[resilient(fallback = count_miss)]
    fn put(&mut self, key: String) -> Result<usize, Fail> {
        if self.fresh {
            Ok(key.len())
        } else {
            Err(Fail::Fatal)
        }
    }

    fn count_miss(&mut self, _key: String) -> Result<usize, Fail> {
        self.misses += 1;
        Ok(0)
    }

    #[resilient(fallback = Self::into_default)]
    fn into_value(self) -> Result<u32, Fail> {
        if self.fresh {
            Ok(self.misses)
        } else {
            Err(Fail::Fatal)
        }
    }

    fn into_default(self) -> Result<u32, Fail> {
        Ok(self.misses + 100)
    }

    #[resilient(retry(max = 2, delay = "1s"), fallback = refill)]
    async fn fetch(&mut self, n: u32) -> Result<u32, Fail> {
        tokio::task::yield_now().await;
        if self.fresh {
            Ok(n)
        } else {
            self.misses += 1;
            Err(Fail::Boom(n))
        }
    }

    async fn refill(&mut self, n: u32) -> Result<u32, Fail> {
        tokio::time::sleep(Duration::from_millis(1)).await;
        Ok(n + self.misses)
    }
}

#[test]
fn methods_fall_back_to_methods_with_the_same_receiver() {
    let clock = MockClock::new();
    let _g = clock.install();
    let mut s = Store {
        fresh: false,
        misses: 0,
    };
    assert_eq!(s.get("k").unwrap(), "stale k");
    assert_eq!(s.put("key".into()), Ok(0));
    assert_eq!(s.misses, 1);
    assert_eq!(s.into_value(), Ok(101));
    let s = Store {
        fresh: true,
        misses: 7,
    };
    assert_eq!(s.get("k").unwrap(), "fresh k");
    assert_eq!(s.into_value(), Ok(7));
}

#[tokio::test(start_paused = true)]
async fn async_fallbacks_are_awaited() {
    let mut s = Store {
        fresh: false,
        misses: 0,
    };
    assert_eq!(s.fetch(10).await, Ok(13));
    s.fresh = true;
    assert_eq!(s.fetch(10).await, Ok(10));
}

async fn spare(name: String) -> Result<String, Fail> {
    Ok(format!("spare {name}"))
}

#[resilient(timeout = "1s", fallback = spare)]
async fn slow(name: String) -> Result<String, Fail> {
    tokio::time::sleep(Duration::from_secs(5)).await;
    Ok(name.to_uppercase())
}

#[tokio::test(start_paused = true)]
async fn a_timeout_falls_back() {
    assert_eq!(slow("x".into()).await.unwrap(), "spare x");
}

// --- `fallback_why`: the fallback also hears why it was called ---

use staunch::Why;

static WHY_CALLS: Counter = Counter::new();

#[resilient(retry(max = 1, delay = 0), max_inflight = 1, name = "fallback-why", fallback_why = explained)]
fn explained_call(fail: bool) -> Result<String, Fail> {
    let n = WHY_CALLS.next();
    if fail {
        Err(Fail::Boom(n))
    } else {
        // a call while this one holds the only slot: the bulkhead turns it away
        explained_call(true)
    }
}

fn explained(fail: bool, why: Why<Fail>) -> Result<String, Fail> {
    Ok(match why {
        Why::Failed(e) => format!("failed ({fail}): {e:?}"),
        Why::Rejected(e) => format!("rejected: {}", e.is_bulkhead_full()),
        _ => unreachable!(),
    })
}

#[test]
fn fallback_why_hears_the_last_error_or_the_rejection() {
    let clock = MockClock::new();
    let _g = clock.install();
    assert_eq!(explained_call(true).unwrap(), "failed (true): Boom(2)");
    // the outer call succeeds with what its fallback said of the inner, rejected one
    assert_eq!(explained_call(false).unwrap(), "rejected: true");
}

struct Provider {
    calls: u32,
}

impl Provider {
    #[resilient(timeout = "1s", fallback_why = cached)]
    async fn ask(&mut self, prompt: &str) -> Result<String, Fail> {
        self.calls += 1;
        tokio::time::sleep(Duration::from_secs(5)).await;
        Ok(prompt.to_owned())
    }

    async fn cached(&mut self, prompt: &str, why: Why<Fail>) -> Result<String, Fail> {
        assert!(!why.is_rejection());
        assert!(why.error().is_timeout());
        Ok(format!("cached {prompt} after {} call", self.calls))
    }
}

#[tokio::test(start_paused = true)]
async fn an_async_method_fallback_why_hears_the_timeout() {
    let mut p = Provider { calls: 0 };
    assert_eq!(p.ask("hi").await.unwrap(), "cached hi after 1 call");
}
