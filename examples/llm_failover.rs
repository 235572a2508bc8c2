//! Three OpenAI-style providers on loopback, each failing in its own way, and a client that
//! rides it out: alpha goes down for ten seconds (and one of its keys has no money left), bravo
//! throttles with an absurd `Retry-After: 3600`, charlie is slow at times (its slow-call breaker
//! sheds it), and a careless user
//! sends a burst of prompts that are too long. See `examples/llm/scenario.rs` for the timeline.
//!
//!     cargo run --example llm_failover

#[path = "llm/mod.rs"]
mod llm;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use llm::client::{LlmClient, Reply, Transport};
use llm::scenario::{self, Provider};
use llm::server::{self, ChatRequest, ChatResponse, Message};
use staunch::events::{Event, EventKind, Filter, Kinds};
use staunch::http::HttpError;
use staunch::CircuitState;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// The client's transport: reqwest, as a user would write it.
struct Http {
    client: reqwest::Client,
    base: String,
}

impl Transport for Http {
    async fn post(&self, provider: Provider, key: &str, prompt: &str) -> Result<Reply, HttpError> {
        let request = ChatRequest {
            model: "chat-small".into(),
            messages: vec![Message {
                role: "user".into(),
                content: prompt.into(),
            }],
        };
        let resp = self
            .client
            .post(format!(
                "{}/{}/v1/chat/completions",
                self.base,
                provider.name()
            ))
            .bearer_auth(key)
            .json(&request)
            .send()
            .await?;
        // what the provider says of its limits tightens ours
        if let Some(policy) = staunch::policy(provider.name()) {
            policy.observe(staunch::http::observed(resp.headers()));
        }
        let body: ChatResponse = HttpError::check(resp).await?.json().await?;
        let text = body
            .choices
            .into_iter()
            .next()
            .map(|c| c.message.content)
            .unwrap_or_default();
        Ok(Reply {
            provider: provider.name().into(),
            text,
            total_tokens: body.usage.total_tokens,
        })
    }
}

/// One user call, as the load generator saw it.
struct Outcome {
    at: Duration,
    latency: Duration,
    ok: bool,
}

const WORKERS: usize = 4;
const PAUSE: Duration = Duration::from_millis(300);

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let start = Instant::now();
    let (addr, seen) = server::start(start).await?;
    let client = Arc::new(LlmClient::new(Http {
        client: reqwest::Client::new(),
        base: format!("http://{addr}"),
    }));
    println!("providers on http://{addr}: alpha down 4s-14s (one key revoked, one out of money), bravo 429 (Retry-After: 3600) at 6s, 9s-11s, 18s; charlie slow (700 ms) 9s-11s");
    println!(
        "a careless user sends {} prompts that are too long at {:?}",
        scenario::BAD_PROMPTS,
        scenario::BAD_PROMPTS_AT
    );
    println!(
        "{WORKERS} users send a prompt every {PAUSE:?} for {:?}\n",
        scenario::LENGTH
    );
    println!(
        "ok/err: answers each provider sent (a timed-out request has none); rt: retries; fb: calls handed on to the next provider"
    );
    println!("   t |     alpha ok/err rt fb |   bravo ok/err fb | charlie ok/err fb | stale failed | breakers a/b/c");

    // every breaker's state changes, as they happen
    let (_subscription, mut changes) =
        staunch::events::channel(Filter::all().kinds(Kinds::STATE), 1024);
    let outcomes = Arc::new(Mutex::new(Vec::new()));
    let mut workers = Vec::new();
    // the careless user: every one of these is refused (400), and none counts against a breaker
    let careless = llm::client::careless_user(client.clone(), start);
    for w in 0..WORKERS {
        let (client, outcomes) = (client.clone(), outcomes.clone());
        workers.push(tokio::spawn(async move {
            let mut n = w;
            while start.elapsed() < scenario::LENGTH {
                let prompt = scenario::PROMPTS[n % scenario::PROMPTS.len()];
                n += WORKERS;
                let t0 = Instant::now();
                let r = client.ask(prompt).await;
                outcomes.lock().await.push(Outcome {
                    at: t0 - start,
                    latency: t0.elapsed(),
                    ok: r.is_ok(),
                });
                tokio::time::sleep(PAUSE).await;
            }
        }));
    }

    // once a second: what each provider answered, and the breakers; state changes as they come,
    // from the policies' events
    let names = ["alpha", "bravo", "charlie"];
    let mut last = Totals::read(&seen);
    let mut next_tick = start + Duration::from_secs(1);
    while workers.iter().any(|w| !w.is_finished()) {
        let event = tokio::select! {
            e = changes.recv() => e,
            () = tokio::time::sleep_until(next_tick) => None,
        };
        if let Some(Event {
            policy,
            kind: EventKind::StateChange { from, to },
            ..
        }) = event
        {
            println!(
                "     | {:>5.2}s  {policy} breaker {from:?} -> {to:?}",
                start.elapsed().as_secs_f64(),
            );
        }
        if Instant::now() >= next_tick {
            // each breaker as it stands (an open one whose cooldown has passed is half-open: a
            // trial may pass, though none has come yet)
            let now_states =
                names.map(|n| staunch::signals(n).map_or(CircuitState::Closed, |s| s.circuit));
            let totals = Totals::read(&seen);
            let d = totals.minus(&last);
            let failed = outcomes
                .lock()
                .await
                .iter()
                .filter(|o| {
                    !o.ok
                        && o.at >= next_tick - start - Duration::from_secs(1)
                        && o.at < next_tick - start
                })
                .count();
            println!(
                "{:>3}s | {:>12}/{:<3} {:>2} {:>2} | {:>8}/{:<3} {:>2} | {:>10}/{:<3} {:>2} | {:>5} {:>6} | {:?}/{:?}/{:?}",
                (next_tick - start).as_secs(),
                d.ok[0], d.failed[0], d.retries, d.fallbacks[0],
                d.ok[1], d.failed[1], d.fallbacks[1],
                d.ok[2], d.failed[2], d.fallbacks[2],
                d.stale, failed,
                now_states[0], now_states[1], now_states[2],
            );
            last = totals;
            next_tick += Duration::from_secs(1);
        }
    }

    let outcomes = outcomes.lock().await;
    let total = outcomes.len();
    let ok = outcomes.iter().filter(|o| o.ok).count();
    let mut latencies: Vec<Duration> = outcomes.iter().map(|o| o.latency).collect();
    latencies.sort();
    let pct = |p: f64| {
        latencies[((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1]
    };
    let totals = Totals::read(&seen);
    println!(
        "\nsummary: {total} calls, {ok} answered ({:.1}%), {} from the last good answer",
        100.0 * ok as f64 / total as f64,
        totals.stale
    );
    println!(
        "latency: p50 {:?}  p95 {:?}  p99 {:?}",
        pct(0.50),
        pct(0.95),
        pct(0.99)
    );
    for (i, p) in Provider::ALL.iter().enumerate() {
        println!(
            "{:>8}: {} requests answered, {} failed; {} attempts by the client",
            p.name(),
            totals.ok[i],
            totals.failed[i],
            client.attempts[i].load(Ordering::Relaxed)
        );
    }
    let key = |i| {
        staunch::signals(&format!("alpha-keys[{i}]")).map_or(CircuitState::Closed, |s| s.circuit)
    };
    println!(
        "alpha retries: {}; breakers of the revoked alpha key: {:?}, of the spent one: {:?}",
        totals.retries,
        key(1),
        key(3)
    );
    let why = |p: usize, i: usize| client.handed_on[p][i].load(Ordering::Relaxed);
    println!(
        "handed on, as the fallbacks heard why: alpha {} turned away, {} failed; bravo {} turned away, {} failed",
        why(0, 0),
        why(0, 1),
        why(1, 0),
        why(1, 1)
    );
    println!(
        "the careless user's {} prompts: {} refused (400), and no breaker opened for them",
        scenario::BAD_PROMPTS,
        careless.await?.iter().filter(|r| r.is_err()).count()
    );
    Ok(())
}

/// Running totals, server side and from the policies' signals.
#[derive(Clone, Default)]
struct Totals {
    ok: [u64; 3],
    failed: [u64; 3],
    retries: u64,
    fallbacks: [u64; 3],
    stale: u64,
}

impl Totals {
    fn read(seen: &server::Seen) -> Totals {
        let alpha = staunch::signals("alpha");
        Totals {
            ok: std::array::from_fn(|i| seen.ok[i].load(Ordering::Relaxed)),
            failed: std::array::from_fn(|i| seen.failed[i].load(Ordering::Relaxed)),
            retries: alpha.map_or(0, |s| s.retries),
            fallbacks: Provider::ALL.map(|p| staunch::signals(p.name()).map_or(0, |s| s.fallbacks)),
            stale: alpha.map_or(0, |s| s.stale_served),
        }
    }

    fn minus(&self, before: &Totals) -> Totals {
        Totals {
            ok: std::array::from_fn(|i| self.ok[i] - before.ok[i]),
            failed: std::array::from_fn(|i| self.failed[i] - before.failed[i]),
            retries: self.retries - before.retries,
            fallbacks: std::array::from_fn(|i| self.fallbacks[i] - before.fallbacks[i]),
            stale: self.stale - before.stale,
        }
    }
}
