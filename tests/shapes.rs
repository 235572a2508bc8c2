//! Every function shape the attribute takes, sync and async, with options.
mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::{Counter, Fail};
use staunch::{resilient, signals, Classify, MockClock};

// ---- free functions ----------------------------------------------------------------------

static FREE: Counter = Counter::new();

#[resilient(retry(max = 1, delay = 0), rps = 100, name = "shape-free")]
pub fn free(x: u32) -> Result<u32, Fail> {
    if FREE.next() == 1 {
        Err(Fail::Boom(x))
    } else {
        Ok(x + 1)
    }
}

static FREE_ASYNC: Counter = Counter::new();

#[resilient(retry(max = 1, delay = 0), timeout = 1, name = "shape-free-async")]
pub async fn free_async(x: u32) -> Result<u32, Fail> {
    tokio::task::yield_now().await;
    if FREE_ASYNC.next() == 1 {
        Err(Fail::Boom(x))
    } else {
        Ok(x + 1)
    }
}

#[test]
fn free_fn() {
    let clock = MockClock::new();
    let _g = clock.install();
    assert_eq!(free(1), Ok(2));
    assert_eq!(FREE.get(), 2);
    assert!(signals("shape-free").is_some());
}

#[tokio::test(start_paused = true)]
async fn free_async_fn() {
    assert_eq!(free_async(1).await, Ok(2));
    assert_eq!(FREE_ASYNC.get(), 2);
}

// ---- methods: &self, &mut self, self, no receiver ----------------------------------------

#[derive(Debug)]
struct Client {
    base: String,
    calls: AtomicU32,
    log: Vec<String>,
}

impl Client {
    fn new() -> Self {
        Client {
            base: "api".into(),
            calls: AtomicU32::new(0),
            log: Vec::new(),
        }
    }

    #[resilient(retry(max = 2, delay = 0), breaker(threshold = 10), name = "shape-ref")]
    fn get(&self, path: &str) -> Result<String, Fail> {
        if self.calls.fetch_add(1, Ordering::SeqCst) < 2 {
            Err(Fail::Fatal)
        } else {
            Ok(format!("{}/{path}", self.base))
        }
    }

    #[resilient(
        retry(max = 2, delay = "1s"),
        max_inflight = 4,
        name = "shape-ref-async"
    )]
    async fn get_async(&self, path: &str) -> Result<&str, Fail> {
        tokio::task::yield_now().await;
        if self.calls.fetch_add(1, Ordering::SeqCst) % 2 == 0 {
            Err(Fail::Fatal)
        } else {
            Ok(self.base.as_str().trim_end_matches(path))
        }
    }

    #[resilient(retry(max = 3, delay = 0), name = "shape-mut")]
    fn record(&mut self, entry: &str) -> Result<usize, Fail> {
        self.log.push(entry.to_owned());
        if self.log.len() < 2 {
            Err(Fail::Fatal)
        } else {
            Ok(self.log.len())
        }
    }

    #[resilient(retry(max = 3, delay = 0.1), rps = 50, name = "shape-mut-async")]
    async fn record_async(&mut self, entry: String) -> Result<usize, Fail> {
        tokio::task::yield_now().await;
        self.log.push(entry.clone());
        if self.log.len() % 2 == 1 {
            Err(Fail::Fatal)
        } else {
            Ok(self.log.len())
        }
    }

    // without retry and fallback, a body may consume `self` and its arguments
    #[resilient(breaker, name = "shape-self")]
    fn into_log(self, extra: String) -> Result<Vec<String>, Fail> {
        let mut log = self.log;
        log.push(extra);
        Ok(log)
    }

    #[resilient(max_inflight = 1, timeout = "5s", name = "shape-self-async")]
    async fn into_base(self) -> Result<String, Fail> {
        tokio::task::yield_now().await;
        Ok(self.base)
    }

    // with retry, `self` by value works when the body only borrows it
    #[resilient(retry(max = 1, delay = 0), name = "shape-self-retry")]
    fn size(self) -> Result<usize, Fail> {
        if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            Err(Fail::Fatal)
        } else {
            Ok(self.log.len())
        }
    }

    #[resilient(retry(max = 1, delay = 0), fallback = boxed_default, name = "shape-boxed")]
    fn boxed(self: Box<Self>) -> Result<usize, Fail> {
        if self.log.is_empty() {
            Err(Fail::Fatal)
        } else {
            Ok(self.log.len())
        }
    }

    #[allow(clippy::boxed_local, clippy::unnecessary_wraps)]
    fn boxed_default(self: Box<Self>) -> Result<usize, Fail> {
        Ok(self.base.len())
    }

    #[resilient(retry(max = 1, delay = 0), name = "shape-assoc")]
    fn build(base: &str) -> Result<Client, Fail> {
        Ok(Client {
            base: base.to_owned(),
            ..Client::new()
        })
    }

    #[resilient(rpm = 600, name = "shape-assoc-async")]
    async fn build_async(base: String) -> Result<Self, Fail> {
        Ok(Client {
            base,
            ..Client::new()
        })
    }
}

#[test]
fn methods_sync() {
    let clock = MockClock::new();
    let _g = clock.install();
    let mut c = Client::new();
    assert_eq!(c.get("x").unwrap(), "api/x");
    assert_eq!(c.record("a"), Ok(2));
    assert_eq!(c.log, ["a", "a"]);
    assert_eq!(c.into_log("z".into()).unwrap(), ["a", "a", "z"]);
    let c = Client::build("b").unwrap();
    assert_eq!(c.base, "b");
    assert_eq!(c.size(), Ok(0));
    assert_eq!(Box::new(Client::new()).boxed(), Ok(3));
}

#[tokio::test(start_paused = true)]
async fn methods_async() {
    let mut c = Client::new();
    let path = String::from("/p");
    assert_eq!(c.get_async(&path).await, Ok("api"));
    assert_eq!(c.record_async("a".into()).await, Ok(2));
    assert_eq!(c.into_base().await.unwrap(), "api");
    let c = Client::build_async("q".into()).await.unwrap();
    assert_eq!(c.base, "q");
}

#[tokio::test(start_paused = true)]
async fn async_methods_are_send() {
    let h = tokio::spawn(async {
        let mut c = Client::new();
        let n = c.record_async("a".into()).await?;
        let s = c.get_async("/x").await?.to_owned();
        Ok::<_, Fail>((n, s))
    });
    assert_eq!(h.await.unwrap(), Ok((2, "api".to_owned())));
    let h = tokio::spawn(Client::new().into_base());
    assert_eq!(h.await.unwrap().unwrap(), "api");
}

// ---- trait impls, native async fn in traits ----------------------------------------------

trait Repo {
    fn count(&self) -> Result<u32, Fail>;
    async fn load(&self, id: u32) -> Result<u32, Fail>;
}

struct Db;

static LOADS: Counter = Counter::new();

impl Repo for Db {
    #[resilient(breaker(threshold = 3), name = "shape-trait")]
    fn count(&self) -> Result<u32, Fail> {
        Ok(3)
    }

    #[resilient(
        retry(max = 2, delay = "1s", jitter = false),
        timeout = 10,
        name = "shape-trait-async"
    )]
    async fn load(&self, id: u32) -> Result<u32, Fail> {
        if LOADS.next() < 3 {
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
        Ok(id * 2)
    }
}

#[tokio::test(start_paused = true)]
async fn trait_methods() {
    assert_eq!(Db.count(), Ok(3));
    let t0 = tokio::time::Instant::now();
    assert_eq!(Db.load(4).await, Ok(8));
    assert_eq!(t0.elapsed(), Duration::from_secs(10 + 1 + 10 + 2));
}

// ---- generics, lifetimes, impl Trait ------------------------------------------------------

#[resilient(retry(max = 1, delay = 0), name = "shape-generic")]
fn first<T>(items: &[T]) -> Result<T, Fail>
where
    T: Clone + std::fmt::Debug + PartialEq,
{
    items.first().cloned().ok_or(Fail::Fatal)
}

#[resilient(retry(max = 2, delay = 0), name = "shape-generic-error")]
fn generic_error<E>(fail: bool) -> Result<u32, E>
where
    E: From<staunch::Error> + From<std::num::ParseIntError>,
{
    let n: u32 = if fail { "x" } else { "7" }.parse()?;
    Ok(n)
}

#[derive(Debug, PartialEq)]
enum Parse {
    Bad,
    Staunch(staunch::Error),
}

impl From<staunch::Error> for Parse {
    fn from(e: staunch::Error) -> Self {
        Parse::Staunch(e)
    }
}

impl From<std::num::ParseIntError> for Parse {
    fn from(_: std::num::ParseIntError) -> Self {
        Parse::Bad
    }
}

impl Classify for Parse {
    fn is_retryable(&self) -> bool {
        false
    }
}

static CLASSIFIED: Counter = Counter::new();

// a generic error type bounded by `Classify` is classified by it
#[resilient(retry(max = 3, delay = 0), name = "shape-generic-classify")]
fn generic_classified<E: From<staunch::Error> + Classify>(e: fn() -> E) -> Result<(), E> {
    CLASSIFIED.next();
    Err(e())
}

#[resilient(retry(max = 1, delay = 0), name = "shape-lifetimes")]
fn longest<'a, 'b: 'a>(a: &'a str, b: &'b str) -> Result<&'a str, Fail> {
    Ok(if a.len() >= b.len() { a } else { b })
}

#[resilient(retry(max = 1, delay = 0), name = "shape-lifetimes-async")]
async fn longest_async<'a>(a: &'a str, b: &'a str) -> Result<&'a str, Fail> {
    tokio::task::yield_now().await;
    Ok(if a.len() >= b.len() { a } else { b })
}

#[resilient(retry(max = 1, delay = 0), name = "shape-impl-trait")]
fn length(s: impl AsRef<str>, mut f: impl FnMut(usize) -> usize) -> Result<usize, Fail> {
    Ok(f(s.as_ref().len()))
}

#[resilient(retry(max = 1, delay = 0), fallback = length_zero, name = "shape-impl-trait-async")]
async fn length_async(s: impl AsRef<str> + Send) -> Result<usize, Fail> {
    let n = s.as_ref().len();
    if n == 0 {
        Err(Fail::Fatal)
    } else {
        Ok(n)
    }
}

async fn length_zero(_s: impl AsRef<str> + Send) -> Result<usize, Fail> {
    Ok(usize::MAX)
}

#[test]
fn generics_lifetimes_impl_trait() {
    let clock = MockClock::new();
    let _g = clock.install();
    assert_eq!(first(&[3, 4]), Ok(3));
    assert_eq!(first::<u8>(&[]), Err(Fail::Fatal));
    assert_eq!(generic_error::<Parse>(false), Ok(7));
    assert_eq!(generic_error::<Parse>(true), Err(Parse::Bad));
    assert_eq!(generic_classified(|| Parse::Bad), Err(Parse::Bad));
    assert_eq!(CLASSIFIED.get(), 1);
    let a = String::from("long");
    assert_eq!(longest(&a, "x"), Ok("long"));
    assert_eq!(length("abc", |n| n * 2), Ok(6));
}

#[tokio::test(start_paused = true)]
async fn generics_lifetimes_impl_trait_async() {
    let (a, b) = (String::from("ab"), String::from("abc"));
    assert_eq!(longest_async(&a, &b).await, Ok("abc"));
    assert_eq!(length_async("abcd").await, Ok(4));
    assert_eq!(length_async(String::new()).await, Ok(usize::MAX));
}

// ---- io::Result, anyhow::Result -----------------------------------------------------------

static IO: Counter = Counter::new();

#[resilient(retry(max = 2, delay = 0), name = "shape-io")]
fn read_config() -> std::io::Result<String> {
    if IO.next() == 1 {
        Err(std::io::ErrorKind::TimedOut.into())
    } else {
        Ok("cfg".into())
    }
}

#[resilient(max_inflight = 1, timeout = "1s", name = "shape-io-async")]
async fn read_async() -> std::io::Result<u8> {
    tokio::time::sleep(Duration::from_secs(2)).await;
    Ok(1)
}

static ANY: Counter = Counter::new();

#[resilient(retry(max = 2, delay = 0), name = "shape-anyhow")]
fn with_anyhow() -> anyhow::Result<u32> {
    if ANY.next() < 3 {
        anyhow::bail!("not yet");
    }
    Ok(3)
}

#[resilient(rps = 1, burst = 1, wait = 0, name = "shape-anyhow-async")]
async fn with_anyhow_async() -> anyhow::Result<u32> {
    Ok(1)
}

#[test]
fn io_and_anyhow_results() {
    let clock = MockClock::new();
    let _g = clock.install();
    assert_eq!(read_config().unwrap(), "cfg");
    assert_eq!(with_anyhow().unwrap(), 3);
}

#[tokio::test(start_paused = true)]
async fn io_and_anyhow_results_async() {
    let e = read_async().await.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
    assert_eq!(with_anyhow_async().await.unwrap(), 1);
    let e = with_anyhow_async().await.unwrap_err();
    assert!(matches!(
        e.downcast_ref::<staunch::Error>(),
        Some(staunch::Error::RateLimited { .. })
    ));
}

// ---- the async-trait shape: Box::pin(async move { .. }) -----------------------------------

#[async_trait::async_trait]
trait Remote {
    async fn fetch(&self, key: String) -> Result<String, Fail>;
    async fn store(&mut self, key: String, (a, b): (u32, u32)) -> Result<u32, Fail>;
}

struct Http {
    attempts: AtomicU32,
    stored: u32,
}

#[async_trait::async_trait]
impl Remote for Http {
    #[resilient(
        retry(max = 2, delay = "1s", jitter = false),
        timeout = 5,
        name = "shape-async-trait"
    )]
    async fn fetch(&self, key: String) -> Result<String, Fail> {
        if self.attempts.fetch_add(1, Ordering::SeqCst) < 2 {
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
        Ok(key.to_uppercase())
    }

    #[resilient(retry(max = 1, delay = 0), fallback = store_nothing, name = "shape-async-trait-mut")]
    async fn store(&mut self, key: String, (a, b): (u32, u32)) -> Result<u32, Fail> {
        if key.is_empty() {
            return Err(Fail::Fatal);
        }
        self.stored += a + b;
        Ok(self.stored)
    }
}

impl Http {
    fn store_nothing<'a>(
        &'a mut self,
        _key: String,
        _ab: (u32, u32),
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<u32, Fail>> + Send + 'a>> {
        Box::pin(async move { Ok(self.stored + 1000) })
    }
}

#[tokio::test(start_paused = true)]
async fn async_trait_bodies() {
    let mut h = Http {
        attempts: AtomicU32::new(0),
        stored: 0,
    };
    let t0 = tokio::time::Instant::now();
    assert_eq!(h.fetch("k".into()).await.unwrap(), "K");
    assert_eq!(t0.elapsed(), Duration::from_secs(5 + 1 + 5 + 2));
    assert_eq!(h.store("k".into(), (1, 2)).await, Ok(3));
    assert_eq!(h.store(String::new(), (1, 2)).await, Ok(1003));
    // and the boxed future is Send
    let r = tokio::spawn(async move { h.fetch("x".into()).await })
        .await
        .unwrap();
    assert_eq!(r.unwrap(), "X");
}

// ---- unsafe fn, attributes kept ------------------------------------------------------------

/// Doubles.
///
/// # Safety
///
/// None needed; `unsafe` only to show it is kept.
#[resilient(retry(max = 1, delay = 0), name = "shape-unsafe")]
#[inline]
#[must_use = "the doubled value"]
unsafe fn double(x: u32) -> Result<u32, Fail> {
    Ok(x * 2)
}

mod inner {
    use super::Fail;

    #[staunch::resilient(name = "shape-visibility")]
    pub(crate) fn visible() -> Result<u8, Fail> {
        Ok(1)
    }
}

#[test]
fn unsafe_and_visibility_kept() {
    // SAFETY: `double` has no safety requirement.
    assert_eq!(unsafe { double(2) }, Ok(4));
    assert_eq!(inner::visible(), Ok(1));
}

#[resilient]
fn unnamed() -> Result<(), Fail> {
    Ok(())
}

#[test]
fn without_a_name_the_policy_is_the_function_s_own() {
    assert_eq!(unnamed(), Ok(()));
    assert!(staunch::snapshot()
        .iter()
        .any(|(name, _)| name == "shapes::unnamed"));
}
