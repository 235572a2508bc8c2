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
