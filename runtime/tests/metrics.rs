//! Metrics (feature `prometheus`): a scripted scenario on tokio's paused clock, then
//! `prometheus()`'s text, read by a Prometheus text parser, checked number by number: every
//! counter and gauge per policy and label, and the latency histogram's buckets, count and sum.
//! In this process `prometheus()`'s recorder is the global one (see
//! `metrics_foreign_recorder.rs` for a process where the application installed its own first).
#![cfg(feature = "prometheus")]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use prometheus_parse::{Scrape, Value};

use staunch_runtime::metrics::{prometheus, time_attempts};
use staunch_runtime::{Breaker, Error, Policy, Retry, Stale};

mod common;

use common::{ask, Api, MS};

/// One scraping test at a time: a scrape publishes every policy's gauges as its own thread's
/// clock reads them, and another test's thread (not on this test's paused clock) would publish
/// this test's hold-off as the real clock sees it (it did, once in about twelve runs).
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A scrape, parsed by `prometheus-parse`.
struct Text(Scrape);

impl Text {
    fn scrape() -> Self {
        let text = prometheus();
        Text(Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("Prometheus text"))
    }

    /// The sample of `metric` whose labels are exactly `labels`.
    fn find(&self, metric: &str, labels: &[(&str, &str)]) -> Option<&Value> {
        let want: HashMap<String, String> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let mut found = self
            .0
            .samples
            .iter()
            .filter(|s| s.metric == metric && *s.labels == want);
        let first = found.next();
        assert!(found.next().is_none(), "{metric} {labels:?} twice");
        first.map(|s| &s.value)
    }

    /// The value of the counter `metric` of `policy` (with `more` labels).
    fn counter(&self, metric: &str, policy: &str, more: &[(&str, &str)]) -> f64 {
        let labels: Vec<_> = [("policy", policy)]
            .into_iter()
            .chain(more.iter().copied())
            .collect();
        match self.find(metric, &labels) {
            Some(Value::Counter(v)) => *v,
            other => panic!("{metric} {labels:?}: expected a counter, found {other:?}"),
        }
    }

    /// The value of the gauge `metric` of `policy`, if it is there.
    fn gauge(&self, metric: &str, policy: &str) -> Option<f64> {
        match self.find(metric, &[("policy", policy)]) {
            Some(Value::Gauge(v)) => Some(*v),
            None => None,
            other => panic!("{metric} {policy}: expected a gauge, found {other:?}"),
        }
    }

    /// Every counter of `policy`, as `(metric, label, value)`, for a compact comparison.
    fn counters(&self, policy: &str) -> Vec<(&'static str, &'static str, f64)> {
        let mut all = vec![
            (
                "staunch_calls_total",
                "",
                self.counter("staunch_calls_total", policy, &[]),
            ),
            (
                "staunch_retries_total",
                "",
                self.counter("staunch_retries_total", policy, &[]),
            ),
            (
                "staunch_fallbacks_total",
                "",
                self.counter("staunch_fallbacks_total", policy, &[]),
            ),
            (
                "staunch_stale_total",
                "",
                self.counter("staunch_stale_total", policy, &[]),
            ),
        ];
        for verdict in ["success", "failure", "ignored"] {
            let v = self.counter("staunch_attempts_total", policy, &[("verdict", verdict)]);
            all.push(("staunch_attempts_total", verdict, v));
        }
        for part in ["breaker", "limiter", "bulkhead"] {
            let v = self.counter("staunch_rejections_total", policy, &[("part", part)]);
            all.push(("staunch_rejections_total", part, v));
        }
        all
    }

    /// The latency histogram of `policy`: its cumulative bucket counts by upper bound, its
    /// count and its sum.
    fn latency(&self, policy: &str) -> (Vec<(f64, f64)>, f64, f64) {
        let buckets = match self.find("staunch_attempt_duration_seconds", &[("policy", policy)]) {
            Some(Value::Histogram(b)) => b.iter().map(|b| (b.less_than, b.count)).collect(),
            other => panic!("latency of {policy}: expected a histogram, found {other:?}"),
        };
        let untyped = |metric| match self.find(metric, &[("policy", policy)]) {
            Some(Value::Untyped(v)) => *v,
            other => panic!("{metric} of {policy}: found {other:?}"),
        };
        (
            buckets,
            untyped("staunch_attempt_duration_seconds_count"),
            untyped("staunch_attempt_duration_seconds_sum"),
        )
    }
}

/// The cumulative counts a histogram with the exporter's buckets holds for these samples.
fn cumulative(samples: &[Duration]) -> Vec<(f64, f64)> {
    let bounds = [
        0.005,
        0.01,
        0.025,
        0.05,
        0.1,
        0.25,
        0.5,
        1.0,
        2.5,
        5.0,
        10.0,
        20.0,
        30.0,
        60.0,
        f64::INFINITY,
    ];
    bounds
        .iter()
        .map(|&le| {
            let n = samples.iter().filter(|s| s.as_secs_f64() <= le).count();
            (le, n as f64)
        })
        .collect()
}

#[allow(clippy::await_holding_lock)] // the scraping tests of this binary, one at a time
#[tokio::test(start_paused = true)]
async fn a_scripted_scenario_is_scraped_number_by_number() {
    let _one_at_a_time = serial();
    time_attempts(true);

    // ---- mt-flaky: retries, a breaker that opens and turns a call away, fallbacks
    let flaky = Policy::builder("mt-flaky")
        .retry(
            Retry::new()
                .max(2)
                .delay(Duration::from_secs(1))
                .jitter(0.0),
        )
        .breaker(
            Breaker::new()
                .threshold(3)
                .cooldown(Duration::from_secs(30)),
        )
        .build()
        .unwrap();
    let down = || Err(Api::Down);
    // a failure, then a success on the retry
    assert_eq!(
        ask(&flaky, vec![(30 * MS, down()), (3 * MS, Ok(1))]).await,
        Ok(1)
    );
    // a slow success
    assert_eq!(ask(&flaky, vec![(200 * MS, Ok(2))]).await, Ok(2));
    // the caller's own fault: neither a success nor a failure, to the fallback
    assert_eq!(
        ask(&flaky, vec![(MS * 7, Err(Api::BadRequest))]).await,
        Ok(0)
    );
    // three failures in a row: two retries, the breaker opens, the fallback answers
    let three = vec![(40 * MS, down()), (40 * MS, down()), (1500 * MS, down())];
    assert_eq!(ask(&flaky, three).await, Ok(0));
    // the open breaker turns the next call away (no attempt runs), to the fallback
    assert_eq!(ask(&flaky, vec![]).await, Ok(0));

    // ---- mt-full: a bulkhead of one, held by a slow call while another arrives
    let full = Arc::new(Policy::builder("mt-full").max_inflight(1).build().unwrap());
    let holder = {
        let full = full.clone();
        tokio::spawn(async move { ask(&full, vec![(12 * Duration::from_secs(1), Ok(7))]).await })
    };
    tokio::task::yield_now().await; // the holder takes the slot and sleeps
    assert!(matches!(
        ask(&full, vec![]).await,
        Ok(0) // rejected by the bulkhead: to the fallback
    ));

    // ---- mt-limited: a rate limit without waiting, a retry-after hint, a stale answer
    let limited = Policy::builder("mt-limited")
        .rps(4.0)
        .burst(2)
        .wait(Duration::ZERO)
        .build()
        .unwrap();
    static CACHE: Stale = Stale::new(8, Duration::from_secs(60));
    let fresh = ask(&limited, vec![(Duration::ZERO, Ok(5))]).await;
    assert_eq!(limited.stale_async(&CACHE, 1, fresh), Ok(5));
    // the provider is busy for 3 s: every caller of the policy is held off
    let busy = Err(Api::Busy(3 * Duration::from_secs(1)));
    assert_eq!(ask(&limited, vec![(Duration::ZERO, busy)]).await, Ok(0));
    // held off: turned away by the limiter, answered from the stale cache
    let held = ask(&limited, vec![]).await;
    assert_eq!(held, Ok(0));
    assert_eq!(
        limited.stale_async(&CACHE, 1, Err::<u32, _>(Api::Down)),
        Ok(5)
    );

    // ---- mid-way: the slow call still holds the bulkhead
    let mid = Text::scrape();
    assert_eq!(mid.gauge("staunch_inflight", "mt-full"), Some(1.0));
    assert_eq!(mid.gauge("staunch_inflight_limit", "mt-full"), Some(1.0));
    assert_eq!(
        mid.gauge("staunch_hold_off_seconds", "mt-limited"),
        Some(3.0)
    );
    // two tokens of burst, both taken (time has not moved since)
    assert_eq!(
        mid.gauge("staunch_rate_tokens_remaining", "mt-limited"),
        Some(0.0)
    );
    assert_eq!(mid.counter("staunch_calls_total", "mt-full", &[]), 1.0);

    // ---- the end: the slow call is done, half a second later
    assert_eq!(holder.await.unwrap(), Ok(7));
    tokio::time::advance(500 * MS).await;
    let end = Text::scrape();

    assert_eq!(
        end.counters("mt-flaky"),
        vec![
            ("staunch_calls_total", "", 5.0),
            ("staunch_retries_total", "", 3.0),
            ("staunch_fallbacks_total", "", 3.0),
            ("staunch_stale_total", "", 0.0),
            ("staunch_attempts_total", "success", 2.0),
            ("staunch_attempts_total", "failure", 4.0),
            ("staunch_attempts_total", "ignored", 1.0),
            ("staunch_rejections_total", "breaker", 1.0),
            ("staunch_rejections_total", "limiter", 0.0),
            ("staunch_rejections_total", "bulkhead", 0.0),
        ]
    );
    assert_eq!(
        end.counters("mt-full"),
        vec![
            ("staunch_calls_total", "", 2.0),
            ("staunch_retries_total", "", 0.0),
            ("staunch_fallbacks_total", "", 1.0),
            ("staunch_stale_total", "", 0.0),
            ("staunch_attempts_total", "success", 1.0),
            ("staunch_attempts_total", "failure", 0.0),
            ("staunch_attempts_total", "ignored", 0.0),
            ("staunch_rejections_total", "breaker", 0.0),
            ("staunch_rejections_total", "limiter", 0.0),
            ("staunch_rejections_total", "bulkhead", 1.0),
        ]
    );
    assert_eq!(
        end.counters("mt-limited"),
        vec![
            ("staunch_calls_total", "", 3.0),
            ("staunch_retries_total", "", 0.0),
            ("staunch_fallbacks_total", "", 2.0),
            ("staunch_stale_total", "", 1.0),
            ("staunch_attempts_total", "success", 1.0),
            ("staunch_attempts_total", "failure", 1.0),
            ("staunch_attempts_total", "ignored", 0.0),
            ("staunch_rejections_total", "breaker", 0.0),
            ("staunch_rejections_total", "limiter", 1.0),
            ("staunch_rejections_total", "bulkhead", 0.0),
        ]
    );

    // gauges: the breaker open (2) after three failures in a row; a breaker's gauges only
    // where there is a breaker, a limiter's only where there is a limiter
    assert_eq!(end.gauge("staunch_breaker_state", "mt-flaky"), Some(2.0));
    assert_eq!(
        end.gauge("staunch_consecutive_failures", "mt-flaky"),
        Some(3.0)
    );
    assert_eq!(end.gauge("staunch_breaker_state", "mt-full"), None);
    assert_eq!(
        end.gauge("staunch_consecutive_failures", "mt-limited"),
        None
    );
    assert_eq!(end.gauge("staunch_inflight", "mt-full"), Some(0.0));
    assert_eq!(end.gauge("staunch_inflight", "mt-flaky"), Some(0.0));
    assert_eq!(end.gauge("staunch_inflight_limit", "mt-flaky"), None);
    assert_eq!(end.gauge("staunch_rate_tokens_remaining", "mt-flaky"), None);
    assert_eq!(end.gauge("staunch_hold_off_seconds", "mt-flaky"), None);
    assert_eq!(
        end.gauge("staunch_tpm_tokens_remaining", "mt-limited"),
        None
    );
    // 12.5 s later: the hold-off is over and the bucket full again
    assert_eq!(
        end.gauge("staunch_hold_off_seconds", "mt-limited"),
        Some(0.0)
    );
    assert_eq!(
        end.gauge("staunch_rate_tokens_remaining", "mt-limited"),
        Some(2.0)
    );
    // the counters only grew
    assert_eq!(end.counter("staunch_calls_total", "mt-full", &[]), 2.0);

    // the latency histogram: one sample per attempt that ran, of its time on tokio's clock
    let flaky_samples = [30, 3, 200, 7, 40, 40, 1500].map(|ms| ms * MS);
    let (buckets, count, sum) = end.latency("mt-flaky");
    assert_eq!(buckets, cumulative(&flaky_samples));
    assert_eq!(count, 7.0);
    let total: f64 = flaky_samples.iter().map(Duration::as_secs_f64).sum();
    assert!((sum - total).abs() < 1e-9, "sum {sum}, expected {total}");
    // as many samples as attempts that ran (while timing was on)
    let attempts: f64 = ["success", "failure", "ignored"]
        .iter()
        .map(|v| end.counter("staunch_attempts_total", "mt-flaky", &[("verdict", v)]))
        .sum();
    assert_eq!(count, attempts);
    let (buckets, count, _) = end.latency("mt-full");
    assert_eq!(buckets, cumulative(&[12 * Duration::from_secs(1)]));
    assert_eq!(count, 1.0);
    let (buckets, count, _) = end.latency("mt-limited");
    assert_eq!(buckets, cumulative(&[Duration::ZERO; 2]));
    assert_eq!(count, 2.0);

    // every metric is described
    for metric in [
        "staunch_calls_total",
        "staunch_attempts_total",
        "staunch_rejections_total",
        "staunch_breaker_state",
        "staunch_hold_off_seconds",
        "staunch_attempt_duration_seconds",
    ] {
        assert!(end.0.docs.contains_key(metric), "no help for {metric}");
    }
    assert_eq!(
        end.0.docs["staunch_breaker_state"],
        "The breaker's state: 0 closed, 1 half-open, 2 open."
    );
}

#[test]
fn the_text_holds_the_applications_own_metrics_too() {
    let _one_at_a_time = serial();
    // the first call installs the recorder as the global one (nothing else does here)
    let _ = prometheus();
    metrics::counter!("app_orders_total", "shop" => "north").increment(3);
    let text = Text::scrape();
    assert!(matches!(
        text.find("app_orders_total", &[("shop", "north")]),
        Some(Value::Counter(v)) if *v == 3.0
    ));
    assert!(staunch_runtime::warnings()
        .iter()
        .all(|w| !w.contains("metrics recorder")));
}

#[test]
fn a_policy_unnamed_and_a_second_of_its_name_are_labelled_as_registered() {
    let _one_at_a_time = serial();
    let first = Policy::unnamed("mt_crate::client::fetch").build().unwrap();
    let second = Policy::unnamed("mt_crate::client::fetch").build().unwrap();
    assert_eq!(second.name(), "mt_crate::client::fetch#2");
    let _ = first.call(|| Ok::<_, Error>(()));
    for _ in 0..2 {
        let _ = second.call(|| Ok::<_, Error>(()));
    }
    let text = Text::scrape();
    assert_eq!(
        text.counter("staunch_calls_total", "mt_crate::client::fetch", &[]),
        1.0
    );
    assert_eq!(
        text.counter("staunch_calls_total", "mt_crate::client::fetch#2", &[]),
        2.0
    );
}

#[test]
fn a_policy_stays_unwind_safe_with_the_feature() {
    fn unwind_safe<T: std::panic::UnwindSafe + std::panic::RefUnwindSafe>() {}
    unwind_safe::<Policy>();
    unwind_safe::<staunch_runtime::Handle>();
}

/// Issue 14's policies in the scrape: the failure-rate breaker's rates, a keyed breaker's keys,
/// the queue's length, hedged copies and chaos's faults, each only for a policy that has it.
#[allow(clippy::await_holding_lock)] // the scraping tests of this binary, one at a time
#[tokio::test(start_paused = true)]
async fn the_production_policies_are_scraped_too() {
    use staunch_runtime::{attempt::key_hash, Chaos, Hedge};
    use std::future::Future;
    use std::task::{Context, Waker};
    let _one_at_a_time = serial();
    let down = || {
        Err::<u32, _>(Error::Timeout {
            policy: "upstream".into(),
            after: Duration::ZERO,
        })
    };
    // failure rate: 1 failure in 4 calls
    let rate = Policy::builder("mt-rate")
        .breaker(
            Breaker::new()
                .failure_rate(0.5)
                .window_calls(4)
                .min_calls(4),
        )
        .build()
        .unwrap();
    for i in 0..4 {
        let _ = if i == 0 {
            rate.call(down)
        } else {
            rate.call(|| Ok(1))
        };
    }
    // keyed: one key fails and opens, another succeeds
    let keyed = Policy::builder("mt-keyed")
        .breaker(Breaker::new().threshold(1).keyed())
        .build()
        .unwrap();
    let _ = keyed.call_keyed(key_hash("acme"), down);
    let _ = keyed.call_keyed(key_hash("globex"), || Ok::<_, Error>(1));
    // the queue: one call holds the only slot, one waits
    let queued = Policy::builder("mt-queue")
        .max_inflight(1)
        .queue(2)
        .build()
        .unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let mut rx = Some(rx);
    let mut holder = Box::pin(queued.call_async(move || {
        let rx = rx.take();
        async move {
            if let Some(rx) = rx {
                let _ = rx.await;
            }
            Ok::<_, Error>(1)
        }
    }));
    let mut waiter = Box::pin(queued.call_async(|| async { Ok::<_, Error>(2) }));
    let mut cx = Context::from_waker(Waker::noop());
    assert!(holder.as_mut().poll(&mut cx).is_pending());
    assert!(waiter.as_mut().poll(&mut cx).is_pending());
    // hedging: the first copy is slow, the hedge answers
    let hedged = Policy::builder("mt-hedge")
        .hedge(Hedge::new().after(Duration::from_millis(100)))
        .build()
        .unwrap();
    let copies = std::sync::atomic::AtomicU32::new(0);
    let r = hedged
        .call_hedged(|| async {
            let n = copies.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(if n == 0 { 1000 } else { 10 })).await;
            Ok::<_, Error>(n)
        })
        .await;
    assert_eq!(r, Ok(1));
    // chaos: every attempt fails
    let chaotic = Policy::builder("mt-chaos")
        .chaos(Chaos::new().error(1.0))
        .build()
        .unwrap();
    let _ = chaotic.call(|| Ok::<_, Error>(1));

    let text = Text::scrape();
    assert_eq!(
        text.gauge("staunch_breaker_failure_rate", "mt-rate"),
        Some(0.25)
    );
    assert_eq!(
        text.gauge("staunch_breaker_slow_rate", "mt-rate"),
        Some(0.0)
    );
    assert_eq!(
        text.gauge("staunch_breaker_open_keys", "mt-keyed"),
        Some(1.0)
    );
    assert_eq!(text.gauge("staunch_breaker_keys", "mt-keyed"), Some(2.0));
    assert_eq!(text.gauge("staunch_queued", "mt-queue"), Some(1.0));
    assert_eq!(text.counter("staunch_hedges_total", "mt-hedge", &[]), 1.0);
    let injected = |kind| text.counter("staunch_injected_total", "mt-chaos", &[("kind", kind)]);
    let expected = if cfg!(feature = "chaos") { 1.0 } else { 0.0 };
    assert_eq!(
        (injected("error"), injected("delay"), injected("rejection")),
        (expected, 0.0, 0.0)
    );
    // none of these for a policy without the part
    for metric in [
        "staunch_breaker_failure_rate",
        "staunch_breaker_open_keys",
        "staunch_queued",
    ] {
        assert_eq!(text.gauge(metric, "mt-chaos"), None, "{metric}");
    }
    assert!(text
        .find("staunch_hedges_total", &[("policy", "mt-chaos")])
        .is_none());
    assert!(text
        .find(
            "staunch_injected_total",
            &[("policy", "mt-rate"), ("kind", "error")]
        )
        .is_none());
    // the queue empties as the holder ends
    drop(tx);
    assert_eq!(holder.await, Ok(1));
    assert_eq!(waiter.await, Ok(2));
    assert_eq!(
        Text::scrape().gauge("staunch_queued", "mt-queue"),
        Some(0.0)
    );
}
