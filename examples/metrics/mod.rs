//! The `metrics_server` example's parts, shared with `tests/metrics_server.rs`: a simulated
//! flaky upstream, a client whose methods are annotated with `#[resilient]`, the load that
//! drives it from a few background tasks, and the `/metrics` route.
//!
//! The upstream is in-process and runs on tokio's clock, so that the test drives the same load
//! on a paused clock, in virtual time.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use axum::Router;
use staunch::resilient;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// What the client's calls fail with: the upstream's own error, or the policy's.
#[derive(Clone, Debug)]
pub enum UpstreamError {
    /// The upstream answered with an error (a 503, say).
    Unavailable,
    /// The policy turned the call away, or timed it out.
    Staunch(staunch::Error),
}

impl From<staunch::Error> for UpstreamError {
    fn from(e: staunch::Error) -> Self {
        UpstreamError::Staunch(e)
    }
}

/// When the upstream is down: 4 s out of every 30 s, from 8 s after the start.
pub const OUTAGE_EVERY: Duration = Duration::from_secs(30);
pub const OUTAGE_FROM: Duration = Duration::from_secs(8);
pub const OUTAGE_FOR: Duration = Duration::from_secs(4);

/// The simulated upstream: a quote service and a profile service, each failing some fraction
/// of its calls and slow at times, and both down together on a schedule.
pub struct Upstream {
    start: Instant,
    /// A splitmix64 state: the dice.
    seed: AtomicU64,
}

impl Upstream {
    pub fn new(start: Instant, seed: u64) -> Self {
        Upstream {
            start,
            seed: AtomicU64::new(seed),
        }
    }

    /// A number in [0, 1).
    fn roll(&self) -> f64 {
        let mut z = self
            .seed
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
            .wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A duration between `lo` and `hi` milliseconds.
    fn between(&self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + (self.roll() * (hi - lo) as f64) as u64)
    }

    /// Whether the upstream is down now.
    pub fn is_down(&self) -> bool {
        let t = self.start.elapsed();
        t >= OUTAGE_FROM
            && (t - OUTAGE_FROM).as_nanos() % OUTAGE_EVERY.as_nanos() < OUTAGE_FOR.as_nanos()
    }

    /// A quote: 10 % errors, 5 % hang past the client's timeout, 10 % slow, the rest quick.
    pub async fn quote(&self, symbol: &str) -> Result<f64, UpstreamError> {
        if self.is_down() {
            tokio::time::sleep(Duration::from_millis(5)).await;
            return Err(UpstreamError::Unavailable);
        }
        let r = self.roll();
        let (takes, answer) = if r < 0.10 {
            (self.between(10, 40), Err(UpstreamError::Unavailable))
        } else if r < 0.15 {
            (Duration::from_millis(1500), Ok(()))
        } else if r < 0.25 {
            (self.between(250, 900), Ok(()))
        } else {
            (self.between(5, 60), Ok(()))
        };
        tokio::time::sleep(takes).await;
        answer.map(|()| 100.0 + symbol.len() as f64 + self.roll())
    }

    /// A user's profile: 10 % errors, 20 % slow (which fills the bulkhead), the rest quick.
    pub async fn profile(&self, user: u64) -> Result<String, UpstreamError> {
        if self.is_down() {
            tokio::time::sleep(Duration::from_millis(5)).await;
            return Err(UpstreamError::Unavailable);
        }
        let r = self.roll();
        let (takes, answer) = if r < 0.10 {
            (self.between(10, 30), Err(UpstreamError::Unavailable))
        } else if r < 0.30 {
            (self.between(200, 500), Ok(()))
        } else {
            (self.between(20, 80), Ok(()))
        };
        tokio::time::sleep(takes).await;
        answer.map(|()| format!("user {user}"))
    }
}

/// The client, as a user of staunch writes it.
pub struct Client {
    upstream: Upstream,
    /// The last good quote, for the fallback.
    last_quote: std::sync::Mutex<Option<f64>>,
}

impl Client {
    pub fn new(upstream: Upstream) -> Self {
        Client {
            upstream,
            last_quote: std::sync::Mutex::new(None),
        }
    }

    /// A quote, behind the policy named `quotes`: two quick retries, a breaker, a rate limit
    /// (a call waits up to 50 ms for a token), a bulkhead, a timeout, and the last good quote
    /// as a fallback.
    #[resilient(
        name = "quotes",
        retry(max = 2, delay = "50ms"),
        breaker(threshold = 5, cooldown = "3s"),
        rps = 60,
        wait = "50ms",
        max_inflight = 6,
        timeout = "1s",
        fallback = last_quote
    )]
    pub async fn quote(&self, symbol: &str) -> Result<f64, UpstreamError> {
        let price = self.upstream.quote(symbol).await?;
        *self.last_quote.lock().unwrap() = Some(price);
        Ok(price)
    }

    /// The fallback: the last good quote, if there is one.
    async fn last_quote(&self, _symbol: &str) -> Result<f64, UpstreamError> {
        let last = *self.last_quote.lock().unwrap();
        last.ok_or(UpstreamError::Unavailable)
    }

    /// A profile, behind an unnamed policy, named after its path ([`profile_policy`]: the
    /// module's path, then `::profile`): one retry, a bulkhead of two, and the last good answer for
    /// the same user when it finally fails or is turned away.
    #[resilient(
        retry(max = 1, delay = "100ms"),
        max_inflight = 2,
        timeout = "2s",
        stale
    )]
    pub async fn profile(&self, user: u64) -> Result<String, UpstreamError> {
        self.upstream.profile(user).await
    }
}

/// The name of the `profile` method's policy (its module's path and its name).
pub fn profile_policy() -> String {
    format!("{}::profile", module_path!())
}

/// Calls made by the load, per method.
#[derive(Debug, Default)]
pub struct Made {
    pub quotes: AtomicU64,
    pub profiles: AtomicU64,
}

/// Runs the load until `until`: four tasks asking for quotes every 40 ms, three asking for
/// profiles every 100 ms. Returns when every task is done, with the calls they made.
pub async fn load(client: Arc<Client>, until: Instant) -> Arc<Made> {
    const SYMBOLS: [&str; 4] = ["ACME", "GLOBEX", "INITECH", "UMBRELLA"];
    let made = Arc::new(Made::default());
    let mut tasks = JoinSet::new();
    for w in 0..4 {
        let (client, made) = (client.clone(), made.clone());
        tasks.spawn(async move {
            let mut n = w;
            while Instant::now() < until {
                let _ = client.quote(SYMBOLS[n % SYMBOLS.len()]).await;
                made.quotes.fetch_add(1, Ordering::Relaxed);
                n += 1;
                tokio::time::sleep(Duration::from_millis(40)).await;
            }
        });
    }
    for w in 0..3u64 {
        let (client, made) = (client.clone(), made.clone());
        tasks.spawn(async move {
            let mut user = w;
            while Instant::now() < until {
                let _ = client.profile(user % 5).await;
                made.profiles.fetch_add(1, Ordering::Relaxed);
                user += 3;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("a load task does not panic");
    }
    made
}

/// `GET /metrics`: every policy's metrics, as Prometheus text.
pub fn router() -> Router {
    Router::new().route(
        "/metrics",
        get(|| async {
            (
                [(CONTENT_TYPE, staunch::metrics::PROMETHEUS_CONTENT_TYPE)],
                staunch::metrics::prometheus(),
            )
        }),
    )
}
