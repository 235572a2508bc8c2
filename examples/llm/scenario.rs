//! The outage the `llm_failover` example and its test both play: three OpenAI-style providers
//! and what goes wrong with each of them, as a function of the time since the scenario began.
//!
//! - `alpha` is down (503) from 4 s to 14 s, then recovers. Of its four API keys, one is revoked
//!   (401) and one has run out of money (429 `insufficient_quota`) the whole time.
//! - `bravo` answers 429 with an absurd `Retry-After: 3600` from 6 s to 7 s, from 9 s to 11 s and
//!   from 18 s to 19 s.
//! - `charlie` is slow (700 ms a call instead of 90 ms: under the client's timeout, past its
//!   slow-call bound) from 9 s to 11 s.
//! - Every provider refuses a prompt that is too long (400 `context_length_exceeded`): the
//!   caller's fault, not the provider's.
//!
//! So from 9 s to 11 s alpha and bravo fail and charlie is slow: once charlie's slow-call
//! breaker has shed it too, only the last good answer is left.

#![allow(dead_code)] // each of the example and the test uses its own part of it

use std::time::Duration;

/// How long the scenario runs.
pub const LENGTH: Duration = Duration::from_secs(24);
/// When `alpha` goes down and comes back.
pub const ALPHA_DOWN: (Duration, Duration) = (Duration::from_secs(4), Duration::from_secs(14));
/// When `bravo` throttles, and the `Retry-After` it sends then.
pub const BRAVO_THROTTLED: [(Duration, Duration); 3] = [
    (Duration::from_secs(6), Duration::from_secs(7)),
    (Duration::from_secs(9), Duration::from_secs(11)),
    (Duration::from_secs(18), Duration::from_secs(19)),
];
pub const BRAVO_RETRY_AFTER: Duration = Duration::from_secs(3600);
/// The longest the client honours a hint from `bravo` (its `retry(max_delay)`).
pub const BRAVO_MAX_DELAY: Duration = Duration::from_secs(1);
/// When `charlie` is slow, and how slow.
pub const CHARLIE_SLOW: (Duration, Duration) = (Duration::from_secs(9), Duration::from_secs(11));
pub const CHARLIE_SLOW_LATENCY: Duration = Duration::from_millis(700);
/// A healthy call's latency, by provider.
pub const LATENCY: [Duration; 3] = [
    Duration::from_millis(40),
    Duration::from_millis(60),
    Duration::from_millis(90),
];
/// The API keys of `alpha`; the second one was revoked, the fourth has no money left.
pub const ALPHA_KEYS: [&str; 4] = [
    "sk-alpha-1",
    "sk-alpha-revoked",
    "sk-alpha-3",
    "sk-alpha-spent",
];
/// The longest prompt the providers accept.
pub const MAX_PROMPT: usize = 200;
/// When a careless user sends a burst of prompts that are too long.
pub const BAD_PROMPTS_AT: Duration = Duration::from_secs(2);
/// How many.
pub const BAD_PROMPTS: usize = 12;

/// The error bodies the providers send, as OpenAI-style APIs write them.
pub const BODY_DOWN: &str = r#"{"error": {"message": "The server is overloaded or not ready yet.", "type": "server_error", "param": null, "code": null}}"#;
pub const BODY_REVOKED: &str = r#"{"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}}"#;
pub const BODY_SPENT: &str = r#"{"error": {"message": "You exceeded your current quota, please check your plan and billing details.", "type": "insufficient_quota", "param": null, "code": "insufficient_quota"}}"#;
pub const BODY_THROTTLED: &str = r#"{"error": {"message": "Rate limit reached for requests.", "type": "requests", "param": null, "code": "rate_limit_exceeded"}}"#;
pub const BODY_TOO_LONG: &str = r#"{"error": {"message": "This model's maximum context length was exceeded.", "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}}"#;

/// A prompt that is too long, as a careless user writes one.
pub fn too_long_prompt(n: usize) -> String {
    format!("{n}: {}", "please summarise all of this: ".repeat(10))
}
/// The prompts the users send (they repeat: the last good answer to each is worth keeping).
pub const PROMPTS: [&str; 12] = [
    "What is the capital of France?",
    "Summarise the plot of Hamlet in one line.",
    "Translate 'good morning' into Italian.",
    "Give me a haiku about rain.",
    "What is 17 times 23?",
    "Name three prime numbers above 100.",
    "Explain a circuit breaker in one sentence.",
    "What does HTTP 429 mean?",
    "Suggest a name for a grey cat.",
    "Which planet has the most moons?",
    "Write a limerick about Rust.",
    "What is the boiling point of water in Kelvin?",
];

/// The providers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Provider {
    Alpha,
    Bravo,
    Charlie,
}

impl Provider {
    pub const ALL: [Provider; 3] = [Provider::Alpha, Provider::Bravo, Provider::Charlie];

    pub fn name(self) -> &'static str {
        match self {
            Provider::Alpha => "alpha",
            Provider::Bravo => "bravo",
            Provider::Charlie => "charlie",
        }
    }

    pub fn from_name(name: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// What a provider does with one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// 200, after `latency`, with the tokens the call used.
    Ok {
        latency: Duration,
        text: String,
        total_tokens: u64,
    },
    /// An error status, after `latency`, with its JSON body.
    Status {
        latency: Duration,
        status: u16,
        retry_after: Option<Duration>,
        body: &'static str,
    },
}

fn within(t: Duration, (from, to): (Duration, Duration)) -> bool {
    from <= t && t < to
}

/// Whether `bravo` throttles at `t`.
pub fn bravo_throttled(t: Duration) -> bool {
    BRAVO_THROTTLED.iter().any(|&w| within(t, w))
}

/// Tokens a call uses, as the provider reports them: the prompt's and a short answer's.
pub fn usage(prompt: &str) -> u64 {
    prompt.len() as u64 / 4 + 8
}

/// What `provider` answers at `t` (since the scenario began) to `prompt`, sent with `key`.
pub fn answer(provider: Provider, t: Duration, key: &str, prompt: &str) -> Answer {
    let latency = LATENCY[provider as usize];
    let status = |status, retry_after, body| Answer::Status {
        latency,
        status,
        retry_after,
        body,
    };
    match provider {
        _ if prompt.len() > MAX_PROMPT => return status(400, None, BODY_TOO_LONG),
        Provider::Alpha if key == "sk-alpha-revoked" => return status(401, None, BODY_REVOKED),
        Provider::Alpha if key == "sk-alpha-spent" => return status(429, None, BODY_SPENT),
        Provider::Alpha if within(t, ALPHA_DOWN) => return status(503, None, BODY_DOWN),
        Provider::Bravo if bravo_throttled(t) => {
            return status(429, Some(BRAVO_RETRY_AFTER), BODY_THROTTLED)
        }
        _ => {}
    }
    let latency = if provider == Provider::Charlie && within(t, CHARLIE_SLOW) {
        CHARLIE_SLOW_LATENCY
    } else {
        latency
    };
    Answer::Ok {
        latency,
        text: format!("{} says: an answer to {prompt:?}", provider.name()),
        total_tokens: usage(prompt),
    }
}
