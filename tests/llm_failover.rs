//! The `llm_failover` example's scenario, end to end on tokio's paused clock: the same client
//! (`examples/llm/client.rs`, methods annotated with `#[resilient]`) against the same providers
//! (`examples/llm/scenario.rs`), reached in-process instead of over HTTP so that time is
//! virtual and the run is deterministic but for the backoff jitter.

#[path = "../examples/llm/mod.rs"]
mod llm;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use llm::client::{estimate_tokens, LlmClient, Reply, Transport};
use llm::scenario::{self, Answer, Provider};
use staunch::http::HttpError;
use staunch::CircuitState;
use tokio::time::Instant;

tokio::task_local! {
    /// Which user call a request belongs to.
    static CALL: u64;
}

/// One request a provider saw.
#[derive(Clone, Debug)]
struct Seen {
    call: u64,
    provider: Provider,
    key: String,
    /// When it arrived and when it was answered, since the start.
    at: Duration,
    done: Duration,
    answer: Answer,
    estimate: u64,
}

/// The providers, in-process, on the paused clock.
struct Sim {
    start: Instant,
    seen: Mutex<Vec<Seen>>,
    serial: AtomicU64,
}

impl Transport for Sim {
    async fn post(&self, provider: Provider, key: &str, prompt: &str) -> Result<Reply, HttpError> {
        let at = self.start.elapsed();
        let answer = scenario::answer(provider, at, key, prompt);
        let latency = match &answer {
            Answer::Ok { latency, .. } | Answer::Status { latency, .. } => *latency,
        };
        tokio::time::sleep(latency).await;
        self.seen.lock().unwrap().push(Seen {
            call: CALL.try_with(|c| *c).unwrap_or(u64::MAX),
            provider,
            key: key.to_owned(),
            at,
            done: self.start.elapsed(),
            answer: answer.clone(),
            estimate: estimate_tokens(prompt),
        });
        match answer {
            Answer::Ok {
                text, total_tokens, ..
            } => {
                // every answer unique, so that a stale one can be told apart
                let serial = self.serial.fetch_add(1, Ordering::Relaxed);
                Ok(Reply {
                    provider: provider.name().into(),
                    text: format!("{text} #{serial}"),
                    total_tokens,
                })
            }
            Answer::Status {
                status,
                retry_after,
                body,
                ..
            } => Err(HttpError::status(status, retry_after, body.to_owned())),
        }
    }
}

/// One user call.
#[derive(Clone, Debug)]
struct Call {
    id: u64,
    at: Duration,
    reply: Option<Reply>,
}

const WORKERS: u64 = 4;
const PAUSE: Duration = Duration::from_millis(300);

fn within(t: Duration, (from, to): (Duration, Duration)) -> bool {
    from <= t && t < to
}

#[tokio::test(start_paused = true)]
async fn the_client_rides_out_the_outage() {
    let start = Instant::now();
    let client = Arc::new(LlmClient::new(Sim {
        start,
        seen: Mutex::default(),
        serial: AtomicU64::new(0),
    }));
    let calls = Arc::new(Mutex::new(Vec::<Call>::new()));

    let mut workers = Vec::new();
    for w in 0..WORKERS {
        let (client, calls) = (client.clone(), calls.clone());
        workers.push(tokio::spawn(async move {
            let mut n = w;
            while start.elapsed() < scenario::LENGTH {
                let prompt = scenario::PROMPTS[n as usize % scenario::PROMPTS.len()];
                let at = start.elapsed();
                let reply = CALL.scope(n, client.ask(prompt)).await.ok();
                calls.lock().unwrap().push(Call { id: n, at, reply });
                n += WORKERS;
                tokio::time::sleep(PAUSE).await;
            }
        }));
    }
    // the careless user's burst of prompts that are too long
    let careless = llm::client::careless_user(client.clone(), start);
    // the breakers' transitions, as a monitor polling every 10 ms sees them
    let mut transitions: Vec<(Duration, &str, CircuitState)> = Vec::new();
    let mut states = [CircuitState::Closed; 3];
    let mut longest_hold_off = Duration::ZERO;
    while workers.iter().any(|w| !w.is_finished()) {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let now = start.elapsed();
        if let Some(bravo) = staunch::signals("bravo") {
            longest_hold_off = longest_hold_off.max(bravo.held_off_for);
        }
        for (i, p) in Provider::ALL.iter().enumerate() {
            let s = staunch::signals(p.name()).map_or(CircuitState::Closed, |s| s.circuit);
            if s != states[i] {
                transitions.push((now, p.name(), s));
                states[i] = s;
            }
        }
    }
    for w in workers {
        w.await.unwrap();
    }
    let calls = calls.lock().unwrap().clone();
    let seen = client.transport().seen.lock().unwrap().clone();
    assert!(calls.len() > 200, "a few hundred calls: {}", calls.len());

    // every call has a deadline, and the scenario's success rate stays at 99.5 % or more
    let answered = calls.iter().filter(|c| c.reply.is_some()).count();
    assert!(
        answered as f64 >= 0.995 * calls.len() as f64,
        "{answered} of {} calls answered",
        calls.len()
    );

    // a burst of bad prompts is refused, and never opens a provider's breaker
    let careless = careless.await.unwrap();
    assert_eq!(careless.len(), scenario::BAD_PROMPTS);
    for r in &careless {
        assert!(
            matches!(r, Err(HttpError::Status { status: 400, .. })),
            "{r:?}"
        );
    }
    assert!(
        seen.iter()
            .filter(|s| matches!(s.answer, Answer::Status { status: 400, .. }))
            .count()
            >= scenario::BAD_PROMPTS,
        "the bad prompts reached the providers"
    );
    let early_open: Vec<_> = transitions
        .iter()
        .filter(|(t, _, s)| *s == CircuitState::Open && *t < scenario::ALPHA_DOWN.0)
        .collect();
    assert!(
        early_open.is_empty(),
        "a breaker opened before any outage: {early_open:?}"
    );

    // success rate while alpha is down
    let during: Vec<&Call> = calls
        .iter()
        .filter(|c| within(c.at, scenario::ALPHA_DOWN))
        .collect();
    let ok = during.iter().filter(|c| c.reply.is_some()).count();
    assert!(
        ok as f64 >= 0.995 * during.len() as f64,
        "{ok} of {} answered while alpha was down",
        during.len()
    );

    // alpha's breaker opens within its threshold (5) of 503s, and closes within one cooldown
    // (2 s) plus one trial after alpha recovers
    let opened = transitions
        .iter()
        .find(|(t, p, s)| *p == "alpha" && *s == CircuitState::Open && *t >= scenario::ALPHA_DOWN.0)
        .expect("alpha's breaker opened")
        .0;
    // replay alpha's answers in the order they came back: the fifth failure in a row opens it,
    // and from then on no request reaches alpha for a cooldown
    let mut answers: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.provider == Provider::Alpha)
        .collect();
    answers.sort_by_key(|s| s.done);
    let mut in_a_row = 0;
    let fifth = answers
        .iter()
        .find(|s| {
            in_a_row = if matches!(s.answer, Answer::Ok { .. }) {
                0
            } else {
                in_a_row + 1
            };
            in_a_row == 5 && s.done >= scenario::ALPHA_DOWN.0
        })
        .expect("five failures in a row once alpha was down")
        .done;
    let after: Vec<_> = answers
        .iter()
        .filter(|s| s.at > fifth && s.at < fifth + Duration::from_secs(2))
        .collect();
    assert!(
        after.is_empty(),
        "requests reached alpha after its fifth failure in a row at {fifth:?}: {after:?}"
    );
    assert!(
        opened >= fifth && opened <= fifth + Duration::from_millis(10),
        "opened at {opened:?}, fifth failure at {fifth:?}"
    );
    let closed = transitions
        .iter()
        .find(|(t, p, s)| {
            *p == "alpha" && *s == CircuitState::Closed && *t >= scenario::ALPHA_DOWN.1
        })
        .expect("alpha's breaker closed again")
        .0;
    let trial = PAUSE + scenario::LATENCY[0] + Duration::from_millis(10);
    assert!(
        closed <= scenario::ALPHA_DOWN.1 + Duration::from_secs(2) + trial,
        "closed at {closed:?}"
    );

    // charlie's slow-call breaker: its slow answers never failed, yet it opened while charlie
    // was slow (half of its last eight calls over 400 ms), and no request reached charlie while
    // it was open (until its cooldown of 2 s let a trial through)
    let slow_failed: Vec<_> = seen
        .iter()
        .filter(|s| s.provider == Provider::Charlie && within(s.at, scenario::CHARLIE_SLOW))
        .filter(|s| !matches!(s.answer, Answer::Ok { .. }))
        .collect();
    assert!(slow_failed.is_empty(), "charlie failed: {slow_failed:?}");
    let charlie_opened = transitions
        .iter()
        .find(|(t, p, s)| {
            *p == "charlie" && *s == CircuitState::Open && within(*t, scenario::CHARLIE_SLOW)
        })
        .expect("charlie's slow-call breaker opened while charlie was slow")
        .0;
    let shed: Vec<_> = seen
        .iter()
        .filter(|s| s.provider == Provider::Charlie)
        .filter(|s| {
            s.at > charlie_opened + Duration::from_millis(10)
                && s.at < charlie_opened + Duration::from_secs(2)
        })
        .collect();
    assert!(
        shed.is_empty(),
        "charlie reached while open at {charlie_opened:?}: {shed:?}"
    );

    assert!(
        longest_hold_off > Duration::ZERO && longest_hold_off <= scenario::BRAVO_MAX_DELAY,
        "bravo held callers off for {longest_hold_off:?}"
    );
    // bravo's `Retry-After: 3600` holds callers off for its `max_delay` (1 s), not for an hour:
    // no call reaches bravo before then, and calls reach it again soon after
    for throttled in seen
        .iter()
        .filter(|s| s.provider == Provider::Bravo)
        .filter(|s| matches!(s.answer, Answer::Status { status: 429, .. }))
    {
        let until = throttled.done + scenario::BRAVO_MAX_DELAY;
        let early: Vec<_> = seen
            .iter()
            .filter(|s| s.provider == Provider::Bravo && s.at > throttled.done && s.at < until)
            .collect();
        assert!(
            early.is_empty(),
            "bravo reached before {until:?}: {early:?}"
        );
        // (in its first throttled second; in the later ones its breaker opens and closes
        // instead: five 429s in a row count against it)
        if within(throttled.done, scenario::BRAVO_THROTTLED[0]) {
            let again = seen
                .iter()
                .filter(|s| s.provider == Provider::Bravo && s.at >= until)
                .map(|s| s.at)
                .min()
                .expect("bravo asked again");
            assert!(
                again <= until + PAUSE + Duration::from_millis(100),
                "bravo held off until {again:?} after a 429 at {:?}",
                throttled.done
            );
        }
    }
    assert!(
        seen.iter()
            .any(|s| matches!(s.answer, Answer::Status { status: 429, .. })),
        "bravo did throttle"
    );

    // the retry budget: calls sent to alpha during its outage are at most 1.2 × first attempts,
    // plus the floor of one retry a second (ten a window)
    let floor = |d: Duration| d.as_secs_f64().ceil() + 10.0;
    let sent = seen
        .iter()
        .filter(|s| s.provider == Provider::Alpha && within(s.at, scenario::ALPHA_DOWN))
        .count() as f64;
    let outage = scenario::ALPHA_DOWN.1 - scenario::ALPHA_DOWN.0;
    assert!(
        sent <= 1.2 * during.len() as f64 + floor(outage),
        "{sent} requests to alpha for {} calls",
        during.len()
    );
    // retries only from credit that first attempts paid for, and the floor: by the outage's
    // end, and overall
    for until in [
        scenario::ALPHA_DOWN.1,
        scenario::LENGTH + Duration::from_secs(5),
    ] {
        let mut calls_tried = std::collections::HashSet::new();
        let mut retried = 0;
        for s in seen
            .iter()
            .filter(|s| s.provider == Provider::Alpha && s.at < until)
        {
            if !calls_tried.insert(s.call) {
                retried += 1;
            }
        }
        assert!(retried > 0, "alpha was retried");
        assert!(
            retried as f64 <= 0.2 * calls_tried.len() as f64 + floor(until),
            "{retried} retries for {} first attempts by {until:?}",
            calls_tried.len()
        );
    }

    // the token limit (3000 a minute, a minute's burst) is never exceeded; refunds make room
    let mut used = 0;
    let mut estimated = 0;
    for s in seen.iter().filter(|s| s.provider == Provider::Alpha) {
        if let Answer::Ok { total_tokens, .. } = s.answer {
            used += total_tokens;
            estimated += s.estimate;
            let allowed = 3000.0 + 50.0 * s.at.as_secs_f64();
            assert!(used as f64 <= allowed, "{used} tokens used by {:?}", s.at);
        }
    }
    let allowed_at_end = 3000.0 + 50.0 * scenario::LENGTH.as_secs_f64();
    assert!(
        estimated as f64 > allowed_at_end,
        "estimates alone ({estimated}) would not have fit: refunds made room"
    );

    // key rotation: the revoked key and the spent one are each tried once, then skipped for
    // their cooldown; the spent key's 429 takes the key out, not the provider
    for key in ["sk-alpha-revoked", "sk-alpha-spent"] {
        let tried = seen.iter().filter(|s| s.key == key).count();
        assert_eq!(tried, 1, "{key} was tried {tried} times");
    }
    assert_eq!(
        staunch::signals("alpha-keys[3]").unwrap().circuit,
        CircuitState::Open
    );
    assert!(
        seen.iter()
            .filter(|s| s.provider == Provider::Alpha && s.key != "sk-alpha-revoked")
            .count()
            > 100
    );

    // the stale answer is served only when every provider failed the call
    let fresh: std::collections::HashSet<String> = seen
        .iter()
        .filter_map(|s| match &s.answer {
            Answer::Ok { .. } => Some(s.call),
            _ => None,
        })
        .map(|c| c.to_string())
        .collect();
    let mut texts = std::collections::HashMap::new();
    let mut stale = 0;
    for call in &calls {
        let Some(reply) = &call.reply else { continue };
        if let Some(first) = texts.insert(reply.text.clone(), call.id) {
            stale += 1;
            assert!(
                !fresh.contains(&call.id.to_string()),
                "call {} got a stale answer (first given to {first}) though a provider answered it",
                call.id
            );
            // every provider failed or turned it away: only while alpha was down
            assert!(
                within(call.at, scenario::ALPHA_DOWN),
                "stale at {:?}",
                call.at
            );
        }
    }
    assert!(
        stale > 0,
        "from 9 s to 11 s alpha and bravo failed and charlie was shed: the last good answers were served"
    );
    assert_eq!(stale, staunch::signals("alpha").unwrap().stale_served);
}
