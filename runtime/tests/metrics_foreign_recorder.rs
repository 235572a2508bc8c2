//! Metrics (feature `prometheus`) in a process whose application installed a global recorder
//! of its own first: `prometheus()` neither replaces it, fails nor panics; it renders staunch's
//! metrics from a recorder of its own and says so once; the latency histogram goes to both
//! recorders; `publish()` writes to the application's. One test: the global recorder is the
//! process's.
#![cfg(feature = "prometheus")]

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use metrics_util::MetricKind;
use prometheus_parse::{Scrape, Value};
use staunch_runtime::metrics::{prometheus, publish, time_attempts};
use staunch_runtime::{Error, Policy};

/// `(kind, name, value)` of every metric of the policy `policy` the application's recorder
/// holds, taken (and emptied) now.
fn taken(
    snapshotter: &metrics_util::debugging::Snapshotter,
    policy: &str,
) -> Vec<(MetricKind, String, DebugValue)> {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, ..)| {
            key.key()
                .labels()
                .any(|l| l.key() == "policy" && l.value() == policy)
        })
        .map(|(key, _, _, value)| {
            let (kind, key) = key.into_parts();
            (kind, key.name().to_owned(), value)
        })
        .collect()
}

#[test]
fn an_application_recorder_installed_first_is_kept_and_prometheus_still_renders() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().expect("the first global recorder");

    time_attempts(true);
    let p = Policy::builder("mf-policy")
        .max_inflight(2)
        .build()
        .unwrap();
    for _ in 0..3 {
        let _ = p.call(|| Ok::<_, Error>(()));
    }
    let _ = p.call(|| {
        Err::<(), _>(Error::Timeout {
            policy: "up".into(),
            after: Default::default(),
        })
    });

    // the text: staunch's metrics, parsed
    let text = prometheus();
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
    let value = |metric: &str, more: Option<(&str, &str)>| {
        scrape
            .samples
            .iter()
            .find(|s| {
                s.metric == metric
                    && s.labels.get("policy") == Some("mf-policy")
                    && more.is_none_or(|(k, v)| s.labels.get(k) == Some(v))
            })
            .map(|s| s.value.clone())
    };
    assert_eq!(
        value("staunch_calls_total", None),
        Some(Value::Counter(4.0))
    );
    assert_eq!(
        value("staunch_attempts_total", Some(("verdict", "failure"))),
        Some(Value::Counter(1.0))
    );
    assert_eq!(
        value("staunch_inflight_limit", None),
        Some(Value::Gauge(2.0))
    );
    assert_eq!(
        value("staunch_attempt_duration_seconds_count", None),
        Some(Value::Untyped(4.0))
    );

    // said once, on standard error and in `warnings()`
    let _ = prometheus();
    let said: Vec<String> = staunch_runtime::warnings()
        .into_iter()
        .filter(|w| w.contains("another global metrics recorder was installed first"))
        .collect();
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(said[0].contains("publish()"), "{}", said[0]);

    // the application's recorder: the histogram's samples, and no counters until `publish()`
    let before = taken(&snapshotter, "mf-policy");
    assert_eq!(before.len(), 1, "{before:?}");
    assert_eq!(before[0].0, MetricKind::Histogram);
    assert_eq!(before[0].1, "staunch_attempt_duration_seconds");
    assert!(matches!(&before[0].2, DebugValue::Histogram(samples) if samples.len() == 4));

    publish();
    let after = taken(&snapshotter, "mf-policy");
    let calls = after
        .iter()
        .find(|(kind, name, _)| *kind == MetricKind::Counter && name == "staunch_calls_total");
    assert_eq!(calls.map(|c| &c.2), Some(&DebugValue::Counter(4)));
}
