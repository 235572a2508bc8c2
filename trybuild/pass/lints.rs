//! Every shape and option under `deny(warnings)` and clippy pedantic: the generated code must
//! not trip a lint in the user's crate.
#![deny(warnings)]
#![deny(clippy::all, clippy::pedantic)]

use std::time::Duration;

use staunch::resilient;

/// An error.
#[derive(Debug)]
pub struct MyError;

impl From<staunch::Error> for MyError {
    fn from(_: staunch::Error) -> Self {
        MyError
    }
}

/// Is it transient?
#[must_use]
pub fn transient(_: &MyError) -> bool {
    true
}

/// A fallback.
///
/// # Errors
///
/// For id 0.
pub fn cached(id: u64, _name: &str) -> Result<u64, MyError> {
    if id == 0 {
        Err(MyError)
    } else {
        Ok(id)
    }
}

/// Everything at once.
///
/// # Errors
///
/// When the service fails.
#[resilient(
    name = "lints-all",
    retry(max = 3, backoff = 2.0, delay = "100ms", max_delay = "30s", jitter = 0.5, on = transient),
    breaker(threshold = 5, cooldown = 30, half_open = 2, on = transient),
    rps = 10,
    burst = 20,
    key = id,
    wait = 0.5,
    max_inflight = 8,
    deadline = "10s",
    fallback = cached
)]
pub fn everything(id: u64, name: &str) -> Result<u64, MyError> {
    let _ = name;
    Ok(id)
}

/// A fallback that hears why.
///
/// # Errors
///
/// When the call was turned away.
pub fn explained(id: u64, why: staunch::Why<MyError>) -> Result<u64, MyError> {
    if why.is_rejection() {
        Err(why.into_error())
    } else {
        Ok(id)
    }
}

/// With a fallback that hears why.
///
/// # Errors
///
/// When the service fails.
#[resilient(retry(max = 1), fallback_why = explained)]
pub fn why(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

/// A reply with its token usage.
#[derive(Clone, Debug)]
pub struct Reply(pub u64);

impl Reply {
    /// Tokens used.
    #[must_use]
    pub fn tokens(&self) -> u64 {
        self.0
    }
}

/// The LLM options.
///
/// # Errors
///
/// When the provider fails.
#[resilient(
    retry(max = 2, budget = 0.2),
    rpm = 60,
    tpm = 1000,
    cost = u64::from(n),
    usage = Reply::tokens,
    stale(max_age = "10m", capacity = 100),
    name = "lints-llm"
)]
pub async fn llm(n: u32) -> Result<Reply, MyError> {
    tokio::task::yield_now().await;
    Ok(Reply(u64::from(n)))
}

/// Chaos, in a build with or without the `chaos` feature.
///
/// # Errors
///
/// When the service fails, or chaos says it did.
#[resilient(
    retry(max = 1),
    chaos(error = 0.1, latency = "200ms", latency_rate = 0.2, reject = 0.05)
)]
pub async fn rehearsed(n: u32) -> Result<u32, MyError> {
    tokio::task::yield_now().await;
    Ok(n)
}

/// Chaos on a sync function.
///
/// # Errors
///
/// When chaos says it failed.
#[resilient(chaos(reject = 1))]
pub fn rejected() -> Result<(), MyError> {
    Ok(())
}

/// A bare retry, an unnamed policy.
///
/// # Errors
///
/// When the service fails.
#[resilient(retry, breaker)]
#[must_use = "it is a result"]
pub fn bare() -> Result<(), MyError> {
    Ok(())
}

/// A failure-rate breaker with slow calls and an exponential open period.
///
/// # Errors
///
/// When the service fails.
#[resilient(breaker(
    failure_rate = 0.5,
    window_time = "60s",
    min_calls = 20,
    slow_call = "2s",
    slow_rate = 0.8,
    max_cooldown = "10m",
    cooldown_multiplier = 1.5
))]
pub fn windowed() -> Result<(), MyError> {
    Ok(())
}

/// A breaker per tenant, bounded.
///
/// # Errors
///
/// When the service fails.
#[resilient(breaker(threshold = 3, key = tenant, max_keys = 1000))]
pub fn per_tenant(tenant: &str) -> Result<usize, MyError> {
    Ok(tenant.len())
}

/// Without retry: the body may consume its argument.
///
/// # Errors
///
/// When the service fails.
#[resilient(rpm = 60)]
pub fn consumes(s: String) -> Result<Vec<u8>, MyError> {
    Ok(s.into_bytes())
}

/// A service.
pub struct Svc {
    hits: u32,
}

impl Svc {
    /// `&self`, with a fallback.
    ///
    /// # Errors
    ///
    /// When the service fails.
    #[resilient(retry(max = 1, jitter = false), fallback = stale)]
    pub fn get(&self, k: &str) -> Result<String, MyError> {
        Ok(format!("{k}{}", self.hits))
    }

    /// The fallback of `get`.
    ///
    /// # Errors
    ///
    /// Without hits.
    pub fn stale(&self, k: &str) -> Result<String, MyError> {
        if self.hits == 0 {
            return Err(MyError);
        }
        Ok(format!("stale {k}{}", self.hits))
    }

    /// `&mut self`.
    ///
    /// # Errors
    ///
    /// When the service fails.
    #[resilient(retry(max = 2), max_inflight = 1)]
    pub fn bump(&mut self) -> Result<u32, MyError> {
        self.hits += 1;
        Ok(self.hits)
    }

    /// `self`, async, with timeout.
    ///
    /// # Errors
    ///
    /// When the service fails.
    #[resilient(timeout = "2s", breaker(cooldown = "1m"))]
    pub async fn finish(self) -> Result<u32, MyError> {
        Ok(self.hits)
    }

    /// No receiver, async, retried, keyed.
    ///
    /// # Errors
    ///
    /// When the service fails.
    #[resilient(retry(delay = 0.01), rps = 0.5, key = user, wait = "1h")]
    pub async fn make(user: &str) -> Result<Svc, MyError> {
        let _ = user;
        Ok(Svc { hits: 0 })
    }

    /// Async `&mut self` with an async fallback.
    ///
    /// # Errors
    ///
    /// When the service fails.
    #[resilient(retry, fallback = zero)]
    pub async fn hit(&mut self, by: u32) -> Result<u32, MyError> {
        self.hits += by;
        tokio::task::yield_now().await;
        Ok(self.hits)
    }

    async fn zero(&mut self, _by: u32) -> Result<u32, MyError> {
        tokio::task::yield_now().await;
        Ok(0)
    }
}

/// Generics, lifetimes, where clauses, `impl Trait`, `io::Result`.
///
/// # Errors
///
/// When the service fails.
#[resilient(retry(max = 2), name = "lints-generic")]
pub fn generic<'a, T>(items: &'a [T], extra: impl AsRef<str>) -> std::io::Result<&'a T>
where
    T: std::fmt::Debug,
{
    let _ = extra.as_ref();
    items
        .first()
        .ok_or_else(|| std::io::ErrorKind::NotFound.into())
}

/// A trait with a native async fn.
pub trait Fetch {
    /// Fetches.
    fn fetch(&self, id: u32) -> impl std::future::Future<Output = Result<u32, MyError>> + Send;
}

impl Fetch for Svc {
    #[resilient(
        retry(max = 1),
        timeout = 1,
        hedge(percentile = 0.9, after = "1s", max = 2)
    )]
    async fn fetch(&self, id: u32) -> Result<u32, MyError> {
        Ok(id + self.hits)
    }
}

pub fn main() {
    let clock = staunch::MockClock::new();
    let _g = clock.install();
    let _ = everything(1, "a");
    let _ = why(2);
    let _ = bare();
    let _ = consumes(String::new());
    let mut s = Svc { hits: 0 };
    let _ = s.get("k");
    let _ = s.bump();
    let _ = generic(&[1, 2], "x");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let _ = s.hit(1).await;
        let _ = s.fetch(1).await;
        let _ = llm(3).await;
        let _ = Svc::make("u").await;
        let _ = s.finish().await;
        tokio::time::sleep(Duration::ZERO).await;
    });
}
