//! The client, written as a user of staunch would write it: one method per provider, each
//! behind its own named policy, falling back alpha → bravo → charlie → the last good answer.
//!
//! The transport is a parameter so that the test can drive the same client on tokio's paused
//! clock against the scenario directly, while the example sends real HTTP requests.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;
use std::time::Duration;

use staunch::http::HttpError;
use staunch::{resilient, Breaker, KeyPool, Why};

use super::scenario::{Provider, ALPHA_KEYS};

/// A chat answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub provider: String,
    pub text: String,
    pub total_tokens: u64,
}

impl Reply {
    /// The tokens the provider says the call used.
    pub fn tokens(&self) -> u64 {
        self.total_tokens
    }
}

/// Sends one chat request to a provider.
pub trait Transport: Send + Sync {
    fn post(
        &self,
        provider: Provider,
        key: &str,
        prompt: &str,
    ) -> impl Future<Output = Result<Reply, HttpError>> + Send;
}

/// What a call will cost at most: the prompt and the longest answer we ask for.
pub fn estimate_tokens(prompt: &str) -> u64 {
    prompt.len() as u64 / 4 + 32
}

/// `alpha`'s API keys: a key that is refused (401 or 403) or spent (its quota or money gone)
/// leaves the rotation for a minute.
static ALPHA_POOL: LazyLock<KeyPool> = LazyLock::new(|| {
    KeyPool::new(
        "alpha-keys",
        ALPHA_KEYS,
        Breaker::new()
            .threshold(1)
            .cooldown(Duration::from_secs(60)),
    )
    .expect("four keys and a valid breaker")
});

pub struct LlmClient<T> {
    transport: T,
    /// Attempts made per provider (a retry is an attempt too).
    pub attempts: [AtomicU64; 3],
    /// Why `alpha` and `bravo` handed calls on: `[provider][0]` turned away by the policy
    /// (breaker, limit, hold-off), `[provider][1]` failed.
    pub handed_on: [[AtomicU64; 2]; 2],
}

impl<T: Transport> LlmClient<T> {
    pub fn new(transport: T) -> Self {
        LlmClient {
            transport,
            attempts: Default::default(),
            handed_on: Default::default(),
        }
    }

    pub fn transport(&self) -> &T {
        &self.transport
    }

    fn attempt(&self, provider: Provider) {
        self.attempts[provider as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts why `provider` handed a call on.
    fn handed_on(&self, provider: Provider, why: &Why<HttpError>) {
        let reason = usize::from(!why.is_rejection());
        self.handed_on[provider as usize][reason].fetch_add(1, Ordering::Relaxed);
    }

    /// Asks `alpha`, the main provider; retries a little (within a budget of 20 % of first
    /// attempts), keeps to its request and token limits, gives up after 3 s in all, and falls
    /// back to `bravo`, saying why. When every provider failed, the last good answer to the same
    /// prompt (up to ten minutes old) answers.
    #[resilient(
        name = "alpha",
        retry(max = 2, delay = "20ms", budget = 0.2),
        breaker(threshold = 5, cooldown = 2),
        rpm = 1200,
        tpm = 3000,
        cost = estimate_tokens(prompt),
        usage = Reply::tokens,
        wait = 0,
        timeout = "800ms",
        deadline = "3s",
        fallback_why = after_alpha,
        stale(max_age = "10m", capacity = 1000)
    )]
    pub async fn ask(&self, prompt: &str) -> Result<Reply, HttpError> {
        self.attempt(Provider::Alpha);
        ALPHA_POOL
            .call_async_with(HttpError::is_key_fault, |key| async move {
                self.transport.post(Provider::Alpha, &key, prompt).await
            })
            .await
    }

    /// `alpha` failed or turned the call away: note why, then ask `bravo`.
    async fn after_alpha(&self, prompt: &str, why: Why<HttpError>) -> Result<Reply, HttpError> {
        self.handed_on(Provider::Alpha, &why);
        self.ask_bravo(prompt).await
    }

    /// The second provider: one quick retry. A 429 holds off every caller until its
    /// `Retry-After`, but never longer than `max_delay` (1 s), however long the header says;
    /// those calls go on to `charlie` at once.
    #[resilient(
        name = "bravo",
        retry(max = 1, delay = "20ms", max_delay = "1s"),
        breaker(threshold = 5, cooldown = 2),
        rps = 50,
        wait = 0,
        timeout = "800ms",
        deadline = "2s",
        fallback_why = after_bravo
    )]
    pub async fn ask_bravo(&self, prompt: &str) -> Result<Reply, HttpError> {
        self.attempt(Provider::Bravo);
        self.transport
            .post(Provider::Bravo, "sk-bravo", prompt)
            .await
    }

    /// `bravo` failed or turned the call away: note why, then ask `charlie`.
    async fn after_bravo(&self, prompt: &str, why: Why<HttpError>) -> Result<Reply, HttpError> {
        self.handed_on(Provider::Bravo, &why);
        self.ask_charlie(prompt).await
    }

    /// The last provider: slow at times. A slow answer never fails (the timeout is 1 s), but
    /// when half of its last eight calls took over 400 ms its breaker opens: a slow-call breaker,
    /// which a breaker of failures in a row would never open.
    #[resilient(
        name = "charlie",
        breaker(
            failure_rate = 0.5,
            window_calls = 8,
            min_calls = 4,
            slow_call = "400ms",
            slow_rate = 0.5,
            cooldown = 2
        ),
        timeout = "1s",
        deadline = "2s"
    )]
    pub async fn ask_charlie(&self, prompt: &str) -> Result<Reply, HttpError> {
        self.attempt(Provider::Charlie);
        self.transport
            .post(Provider::Charlie, "sk-charlie", prompt)
            .await
    }
}

/// The careless user: at `start + BAD_PROMPTS_AT`, a burst of prompts that are too long, all at
/// once. Every one is refused (400), and none counts against a breaker. Their answers, in the
/// order they came.
pub fn careless_user<T: Transport + 'static>(
    client: std::sync::Arc<LlmClient<T>>,
    start: tokio::time::Instant,
) -> tokio::task::JoinHandle<Vec<Result<Reply, HttpError>>> {
    use super::scenario::{too_long_prompt, BAD_PROMPTS, BAD_PROMPTS_AT};
    tokio::spawn(async move {
        tokio::time::sleep_until(start + BAD_PROMPTS_AT).await;
        let mut asks = tokio::task::JoinSet::new();
        for n in 0..BAD_PROMPTS {
            let client = client.clone();
            asks.spawn(async move { client.ask(&too_long_prompt(n)).await });
        }
        let mut answers = Vec::new();
        while let Some(answer) = asks.join_next().await {
            answers.push(answer.expect("an ask does not panic"));
        }
        answers
    })
}
