//! The `metrics_server` example's parts (`examples/metrics/`): the same client, upstream and
//! load, run for 20 s on tokio's paused clock (the upstream is down from 8 s to 12 s); then its
//! `/metrics` route, served by axum on loopback, scraped with reqwest and read by a Prometheus
//! text parser. Every counter must say what the policies' signals say, and the calls must be
//! those the load made.

#[path = "../examples/metrics/mod.rs"]
mod demo;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use prometheus_parse::{Scrape, Value};
use tokio::net::TcpListener;
use tokio::time::Instant;

/// The value of `metric` for `policy` (and the label `more`, if any).
fn value(scrape: &Scrape, metric: &str, policy: &str, more: Option<(&str, &str)>) -> Option<f64> {
    let mut found = scrape.samples.iter().filter(|s| {
        s.metric == metric
            && s.labels.get("policy") == Some(policy)
            && s.labels.len() == 1 + usize::from(more.is_some())
            && more.is_none_or(|(k, v)| s.labels.get(k) == Some(v))
    });
    let sample = found.next()?;
    assert!(found.next().is_none(), "{metric} of {policy} twice");
    match sample.value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => Some(v),
        ref other => panic!("{metric} of {policy}: {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn the_example_serves_what_its_policies_counted() {
    staunch::metrics::time_attempts(true);
    let start = Instant::now();
    let client = Arc::new(demo::Client::new(demo::Upstream::new(start, 7)));
    let made = demo::load(client, start + Duration::from_secs(20)).await;

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, demo::router()).await });
    let response = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        staunch::metrics::PROMETHEUS_CONTENT_TYPE
    );
    let text = response.text().await.unwrap();
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
    server.abort();

    let profile = demo::profile_policy();
    assert_eq!(profile, "metrics_server::demo::profile");
    for (policy, made) in [
        ("quotes", made.quotes.load(Ordering::Relaxed)),
        (profile.as_str(), made.profiles.load(Ordering::Relaxed)),
    ] {
        let s = staunch::signals(policy).unwrap();
        let v = |metric, more| value(&scrape, metric, policy, more);
        let counts = [
            ("staunch_calls_total", None, made),
            ("staunch_calls_total", None, s.calls()),
            ("staunch_retries_total", None, s.retries),
            ("staunch_fallbacks_total", None, s.fallbacks),
            ("staunch_stale_total", None, s.stale_served),
            (
                "staunch_attempts_total",
                Some(("verdict", "success")),
                s.successes,
            ),
            (
                "staunch_attempts_total",
                Some(("verdict", "failure")),
                s.failures,
            ),
            (
                "staunch_attempts_total",
                Some(("verdict", "ignored")),
                s.ignored,
            ),
            (
                "staunch_rejections_total",
                Some(("part", "breaker")),
                s.rejections.breaker,
            ),
            (
                "staunch_rejections_total",
                Some(("part", "limiter")),
                s.rejections.limiter,
            ),
            (
                "staunch_rejections_total",
                Some(("part", "bulkhead")),
                s.rejections.bulkhead,
            ),
            // one latency sample per attempt that ran
            (
                "staunch_attempt_duration_seconds_count",
                None,
                s.successes + s.failures + s.ignored,
            ),
        ];
        for (metric, more, expected) in counts {
            assert_eq!(
                v(metric, more),
                Some(expected as f64),
                "{metric} {more:?} of {policy}"
            );
        }
        assert_eq!(v("staunch_inflight", None), Some(0.0), "{policy}");
    }

    // the scenario moved what it is meant to move
    let v = |metric, policy: &str, more| value(&scrape, metric, policy, more).unwrap();
    assert!(v("staunch_retries_total", "quotes", None) > 0.0);
    // the outage opened the breaker, which turned calls away to the fallback
    assert!(
        v(
            "staunch_rejections_total",
            "quotes",
            Some(("part", "breaker"))
        ) > 0.0
    );
    assert!(v("staunch_fallbacks_total", "quotes", None) > 0.0);
    assert_eq!(v("staunch_inflight_limit", "quotes", None), 6.0);
    assert!(value(&scrape, "staunch_breaker_state", "quotes", None).is_some());
    assert!(value(&scrape, "staunch_rate_tokens_remaining", "quotes", None).is_some());
    // the profile's bulkhead of two turned calls away, answered from the stale cache
    assert!(
        v(
            "staunch_rejections_total",
            &profile,
            Some(("part", "bulkhead"))
        ) > 0.0
    );
    assert!(v("staunch_stale_total", &profile, None) > 0.0);
    assert_eq!(
        value(&scrape, "staunch_breaker_state", &profile, None),
        None
    );
}
