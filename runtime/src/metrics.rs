//! Metrics (feature `metrics`): every policy's counters and gauges, and a latency histogram,
//! through the [`metrics`](https://docs.rs/metrics) facade; with the feature `prometheus`,
//! rendered as Prometheus text by `prometheus()`.
//!
//! A policy keeps its counts itself (they are what [`Signals`](crate::Signals) reads), so a call
//! pays nothing for metrics: [`publish`] copies every policy's counts to the current recorder
//! when asked, typically right before the recorder is scraped. Only the latency histogram is
//! fed by the calls themselves, and only once [`time_attempts`] has turned it on.
//!
//! Every metric has a `policy` label: the policy's name as registered
//! ([`Policy::name`](crate::Policy::name)). Functions without `name = …` are named after their
//! path (`my_crate::client::fetch`), with `#2`, `#3`, … for a second or third of the same name.
//!
//! | metric | type | more labels | what it counts or tells |
//! | --- | --- | --- | --- |
//! | `staunch_calls_total` | counter | | calls that ended ([`Signals::calls`](crate::Signals::calls)) |
//! | `staunch_attempts_total` | counter | `verdict`: `success`, `failure`, `ignored` | attempts that ran, by how the breaker judged them (`ignored`: the caller's own fault) |
//! | `staunch_retries_total` | counter | | retries made |
//! | `staunch_rejections_total` | counter | `part`: `breaker`, `limiter`, `bulkhead`, `chaos` | attempts turned away, by the part that turned them away |
//! | `staunch_fallbacks_total` | counter | | calls that failed or were rejected in a way worth a fallback (and were handed to it, if there is one) |
//! | `staunch_stale_total` | counter | | calls answered from the stale cache (`stale(…)`) |
//! | `staunch_inflight` | gauge | | calls in flight |
//! | `staunch_inflight_limit` | gauge | | the bulkhead's bound (only with `max_inflight`) |
//! | `staunch_breaker_state` | gauge | | the breaker: **0 closed, 1 half-open, 2 open** (only with a breaker) |
//! | `staunch_consecutive_failures` | gauge | | failures in a row counted by the breaker (only with a breaker) |
//! | `staunch_rate_tokens_remaining` | gauge | | requests the rate limit would admit now (only with `rps`/`rpm`, not keyed) |
//! | `staunch_rate_keys` | gauge | | keys a keyed rate limit remembers (only with a keyed one) |
//! | `staunch_tpm_tokens_remaining` | gauge | | tokens left under the token limit (only with `tpm`) |
//! | `staunch_hold_off_seconds` | gauge | | how long every caller is still held off by a retry-after hint (only with a rate or token limit) |
//! | `staunch_breaker_failure_rate` | gauge | | the failure rate of the breaker's window now, a fraction (only with a failure-rate breaker) |
//! | `staunch_breaker_slow_rate` | gauge | | the slow-call rate of the breaker's window now, a fraction (only with a failure-rate breaker) |
//! | `staunch_breaker_open_keys` | gauge | | keys whose breaker is open or half-open now (only with a keyed breaker) |
//! | `staunch_breaker_keys` | gauge | | keys the keyed breaker remembers (only with a keyed breaker) |
//! | `staunch_queued` | gauge | | calls waiting in the bulkhead's queue (only with `queue`) |
//! | `staunch_hedges_total` | counter | | hedged copies started (only once a function of the name hedges) |
//! | `staunch_injected_total` | counter | `kind`: `error`, `delay`, `rejection` | faults chaos injected (only with `chaos`) |
//! | `staunch_attempt_duration_seconds` | histogram | | how long each attempt that ran took, from its start to its outcome (any wait for a token included), in seconds (only once [`time_attempts`] is on) |
//!
//! With the feature `prometheus`, a `/metrics` endpoint returns `prometheus()` with the
//! `Content-Type` `PROMETHEUS_CONTENT_TYPE`; call `time_attempts(true)` at start-up to have the
//! histogram too. `examples/metrics_server.rs` does this with axum.
//!
//! Counters and gauges are written as absolute values ([`Counter::absolute`](::metrics::Counter::absolute),
//! [`Gauge::set`](::metrics::Gauge::set)) read from the policies, so publishing twice, or to two
//! recorders, counts nothing twice. A policy's counters count from its creation and are never
//! reset ([`Handle::reset`](crate::Handle::reset) resets the breaker and the buckets, not the
//! counts).
//!
//! ```
//! use metrics_util::debugging::{DebugValue, DebuggingRecorder};
//! use staunch_runtime::{Error, Policy};
//!
//! let p = Policy::builder("docs-metrics").max_inflight(4).build().unwrap();
//! let _ = p.call(|| Ok::<_, Error>(()));
//!
//! // any recorder of the `metrics` facade: here a test one, for this thread only
//! let recorder = DebuggingRecorder::new();
//! let snapshot = recorder.snapshotter();
//! metrics::with_local_recorder(&recorder, staunch_runtime::metrics::publish);
//!
//! let calls = snapshot.snapshot().into_vec().into_iter().find(|(key, ..)| {
//!     key.key().name() == "staunch_calls_total"
//!         && key.key().labels().any(|l| l.key() == "policy" && l.value() == "docs-metrics")
//! });
//! assert_eq!(calls.map(|(.., value)| value), Some(DebugValue::Counter(1)));
//! ```

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ::metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Histogram,
    HistogramFn, Unit,
};

use crate::events::Sink;
use crate::shared::Shared;
use crate::CircuitState;

const CALLS: &str = "staunch_calls_total";
const ATTEMPTS: &str = "staunch_attempts_total";
const RETRIES: &str = "staunch_retries_total";
const REJECTIONS: &str = "staunch_rejections_total";
const FALLBACKS: &str = "staunch_fallbacks_total";
const STALE: &str = "staunch_stale_total";
const INFLIGHT: &str = "staunch_inflight";
const INFLIGHT_LIMIT: &str = "staunch_inflight_limit";
const BREAKER_STATE: &str = "staunch_breaker_state";
const CONSECUTIVE_FAILURES: &str = "staunch_consecutive_failures";
const RATE_REMAINING: &str = "staunch_rate_tokens_remaining";
const RATE_KEYS: &str = "staunch_rate_keys";
const TPM_REMAINING: &str = "staunch_tpm_tokens_remaining";
const HOLD_OFF: &str = "staunch_hold_off_seconds";
const FAILURE_RATE: &str = "staunch_breaker_failure_rate";
const SLOW_RATE: &str = "staunch_breaker_slow_rate";
const OPEN_KEYS: &str = "staunch_breaker_open_keys";
const BREAKER_KEYS: &str = "staunch_breaker_keys";
const QUEUED: &str = "staunch_queued";
const HEDGES: &str = "staunch_hedges_total";
const INJECTED: &str = "staunch_injected_total";
/// The name of the latency histogram.
pub(crate) const LATENCY: &str = "staunch_attempt_duration_seconds";

/// Writes every policy's counters and gauges to the current recorder of the `metrics` facade
/// (the thread's local one if set, else the global one), with their descriptions.
///
/// Call it right before the recorder is read: before rendering a scrape, or on a timer for a
/// recorder that pushes. It reads each policy's counts (a few relaxed loads and one lock of the
/// registry) and registers each series with the recorder; calls never wait for it.
///
/// The values are absolute: publishing again, or to another recorder, counts nothing twice.
/// The metrics, their labels and units are listed in the [module's documentation](self).
///
/// # Examples
///
/// With the `metrics-util` crate's test recorder (any recorder works the same):
///
/// ```
/// use metrics_util::debugging::{DebugValue, DebuggingRecorder};
/// use metrics_util::MetricKind;
/// use staunch_runtime::{Breaker, Error, Policy};
///
/// let p = Policy::builder("docs-publish").breaker(Breaker::new().threshold(1)).build().unwrap();
/// let down = || Err::<(), _>(Error::Timeout { policy: "upstream".into(), after: Default::default() });
/// let _ = p.call(down); // fails: the breaker opens
/// let _ = p.call(down); // rejected by the open breaker
///
/// let recorder = DebuggingRecorder::new();
/// let snapshot = recorder.snapshotter();
/// metrics::with_local_recorder(&recorder, staunch_runtime::metrics::publish);
///
/// let mut mine = Vec::new();
/// for (key, unit, _help, value) in snapshot.snapshot().into_vec() {
///     let (kind, key) = key.into_parts();
///     let labels: Vec<String> = key.labels().map(|l| format!("{}={}", l.key(), l.value())).collect();
///     if labels.contains(&"policy=docs-publish".to_string()) {
///         mine.push((kind, key.name().to_string(), labels, unit, value));
///     }
/// }
/// let find = |name: &str, label: &str| {
///     mine.iter()
///         .find(|m| m.1 == name && (label.is_empty() || m.2.iter().any(|l| l == label)))
///         .map(|m| &m.4)
/// };
/// assert_eq!(find("staunch_calls_total", ""), Some(&DebugValue::Counter(2)));
/// assert_eq!(find("staunch_attempts_total", "verdict=failure"), Some(&DebugValue::Counter(1)));
/// assert_eq!(find("staunch_rejections_total", "part=breaker"), Some(&DebugValue::Counter(1)));
/// assert_eq!(find("staunch_breaker_state", ""), Some(&DebugValue::Gauge(2.0.into()))); // open
/// // no rate limit: no gauge of its tokens
/// assert_eq!(find("staunch_rate_tokens_remaining", ""), None);
/// // counters are counts; the hold-off is in seconds
/// assert!(mine.iter().all(|m| m.0 != MetricKind::Counter || m.3 == Some(metrics::Unit::Count)));
/// ```
pub fn publish() {
    describe();
    write();
}

/// Describes every metric (help text and unit) to the current recorder. Descriptions are
/// idempotent: describing again overwrites them with the same.
fn describe() {
    describe_counter!(
        CALLS,
        Unit::Count,
        "Calls that ended: attempts that ran or were turned away, less the retries."
    );
    describe_counter!(
        ATTEMPTS,
        Unit::Count,
        "Attempts that ran, by how the breaker judged them (ignored: the caller's own fault)."
    );
    describe_counter!(RETRIES, Unit::Count, "Retries made.");
    describe_counter!(
        REJECTIONS,
        Unit::Count,
        "Attempts turned away, by the part of the policy that turned them away."
    );
    describe_counter!(
        FALLBACKS,
        Unit::Count,
        "Calls that failed or were rejected in a way worth a fallback (handed to it, if any)."
    );
    describe_counter!(STALE, Unit::Count, "Calls answered from the stale cache.");
    describe_gauge!(INFLIGHT, Unit::Count, "Calls in flight.");
    describe_gauge!(
        INFLIGHT_LIMIT,
        Unit::Count,
        "The bulkhead's bound (max_inflight)."
    );
    describe_gauge!(
        BREAKER_STATE,
        "The breaker's state: 0 closed, 1 half-open, 2 open."
    );
    describe_gauge!(
        CONSECUTIVE_FAILURES,
        Unit::Count,
        "Failures in a row counted by the breaker."
    );
    describe_gauge!(
        RATE_REMAINING,
        Unit::Count,
        "Requests the rate limit would admit now."
    );
    describe_gauge!(
        RATE_KEYS,
        Unit::Count,
        "Keys the keyed rate limit remembers."
    );
    describe_gauge!(
        TPM_REMAINING,
        Unit::Count,
        "Tokens left under the token limit (tpm)."
    );
    describe_gauge!(
        HOLD_OFF,
        Unit::Seconds,
        "How long every caller is still held off by a retry-after hint."
    );
    describe_gauge!(
        FAILURE_RATE,
        "The failure rate of the breaker's window now (a fraction)."
    );
    describe_gauge!(
        SLOW_RATE,
        "The slow-call rate of the breaker's window now (a fraction)."
    );
    describe_gauge!(
        OPEN_KEYS,
        Unit::Count,
        "Keys whose breaker is open or half-open now (keyed breaker)."
    );
    describe_gauge!(
        BREAKER_KEYS,
        Unit::Count,
        "Keys the keyed breaker remembers."
    );
    describe_gauge!(
        QUEUED,
        Unit::Count,
        "Calls waiting in the bulkhead's queue."
    );
    describe_counter!(HEDGES, Unit::Count, "Hedged copies started.");
    describe_counter!(
        INJECTED,
        Unit::Count,
        "Faults injected by chaos, by kind (error, delay, rejection)."
    );
    describe_histogram!(
        LATENCY,
        Unit::Seconds,
        "How long each attempt that ran took, any wait for a token included."
    );
}

/// Writes every policy's counters and gauges to the current recorder.
fn write() {
    let now = crate::clock::now_observed();
    for shared in crate::registry::all() {
        write_one(&shared, now);
    }
}

fn write_one(shared: &Shared, now: crate::clock::Nanos) {
    let s = shared.signals(now);
    let config = &shared.config;
    let policy = shared.name.clone();
    let p = || policy.clone();

    counter!(CALLS, "policy" => p()).absolute(s.calls());
    for (verdict, n) in [
        ("success", s.successes),
        ("failure", s.failures),
        ("ignored", s.ignored),
    ] {
        counter!(ATTEMPTS, "policy" => p(), "verdict" => verdict).absolute(n);
    }
    counter!(RETRIES, "policy" => p()).absolute(s.retries);
    let r = s.rejections;
    for (part, n) in [
        ("breaker", r.breaker),
        ("limiter", r.limiter),
        ("bulkhead", r.bulkhead),
        ("chaos", r.chaos),
    ] {
        counter!(REJECTIONS, "policy" => p(), "part" => part).absolute(n);
    }
    counter!(FALLBACKS, "policy" => p()).absolute(s.fallbacks);
    counter!(STALE, "policy" => p()).absolute(s.stale_served);

    gauge!(INFLIGHT, "policy" => p()).set(count(s.inflight));
    if let Some(limit) = config.max_inflight {
        gauge!(INFLIGHT_LIMIT, "policy" => p()).set(count(limit));
    }
    if config.breaker.is_some() {
        gauge!(BREAKER_STATE, "policy" => p()).set(breaker_state(s.circuit));
        gauge!(CONSECUTIVE_FAILURES, "policy" => p()).set(f64::from(s.consecutive_failures));
    }
    if let Some(remaining) = s.rate_remaining {
        gauge!(RATE_REMAINING, "policy" => p()).set(remaining);
    }
    if let Some(keys) = s.keys {
        gauge!(RATE_KEYS, "policy" => p()).set(count(keys));
    }
    if let Some(remaining) = s.tokens_remaining {
        gauge!(TPM_REMAINING, "policy" => p()).set(remaining);
    }
    if config.rate.is_some() || config.tokens.is_some() {
        gauge!(HOLD_OFF, "policy" => p()).set(s.held_off_for.as_secs_f64());
    }
    if let Some(rate) = s.failure_rate {
        gauge!(FAILURE_RATE, "policy" => p()).set(rate);
    }
    if let Some(rate) = s.slow_rate {
        gauge!(SLOW_RATE, "policy" => p()).set(rate);
    }
    if let Some(open) = s.open_keys {
        gauge!(OPEN_KEYS, "policy" => p()).set(count(open));
    }
    if let Some(keys) = s.breaker_keys {
        gauge!(BREAKER_KEYS, "policy" => p()).set(count(keys));
    }
    if config.queue.is_some() {
        gauge!(QUEUED, "policy" => p()).set(count(s.queued));
    }
    // hedging is a function's, not the name's: told once any function of the name hedged
    if config.hedge.is_some() || s.hedges > 0 {
        counter!(HEDGES, "policy" => p()).absolute(s.hedges);
    }
    if config.chaos.is_some() {
        let i = s.injected;
        for (kind, n) in [
            ("error", i.errors),
            ("delay", i.delays),
            ("rejection", i.rejections),
        ] {
            counter!(INJECTED, "policy" => p(), "kind" => kind).absolute(n);
        }
    }
}

/// A count as a gauge's value (exact below 2^53, which any count of calls or keys is).
#[allow(clippy::cast_precision_loss)]
fn count(n: usize) -> f64 {
    n as f64
}

/// `staunch_breaker_state`: 0 closed, 1 half-open, 2 open.
fn breaker_state(state: CircuitState) -> f64 {
    match state {
        CircuitState::Closed => 0.0,
        CircuitState::HalfOpen => 1.0,
        CircuitState::Open => 2.0,
    }
}

/// Times every attempt of every policy (`true`), or stops (`false`), for the latency histogram
/// `staunch_attempt_duration_seconds{policy}`. Off by default.
///
/// **Cost:** two clock reads per attempt (the CPU counter for sync calls, tokio's clock for
/// async ones) and one sample pushed into the recorder's histogram, for every attempt of every
/// policy, successes included: measured on x86-64 (release build, `prometheus()`'s recorder),
/// about 40 ns more per sync attempt and 100 ns more per async one. Off, an attempt pays one
/// relaxed load (the check it already makes for event subscribers).
///
/// **Which recorder:** each policy's histogram is registered with the recorder current at its
/// first sample: install yours before the first timed attempt (a histogram registered before
/// any recorder was installed stays the facade's no-op one). With the `prometheus` feature,
/// turning timing on also sets up `prometheus()`'s recorder, as its first call would (see
/// there), so that `prometheus()` holds every sample taken since.
///
/// # Examples
///
/// ```
/// use metrics_util::debugging::{DebugValue, DebuggingRecorder};
/// use staunch_runtime::{Error, Policy};
///
/// let recorder = DebuggingRecorder::new();
/// let snapshot = recorder.snapshotter();
/// recorder.install().unwrap(); // the process's global recorder, before any timed attempt
///
/// staunch_runtime::metrics::time_attempts(true);
/// let p = Policy::builder("docs-time-attempts").build().unwrap();
/// for _ in 0..3 {
///     let _ = p.call(|| Ok::<_, Error>(()));
/// }
/// staunch_runtime::metrics::time_attempts(false);
/// let _ = p.call(|| Ok::<_, Error>(())); // not timed
///
/// let samples = snapshot.snapshot().into_vec().into_iter().find_map(|(key, _, _, value)| {
///     match value {
///         DebugValue::Histogram(v) if key.key().name() == "staunch_attempt_duration_seconds" => Some(v),
///         _ => None,
///     }
/// });
/// assert_eq!(samples.map(|v| v.len()), Some(3));
/// ```
pub fn time_attempts(on: bool) {
    #[cfg(feature = "prometheus")]
    if on {
        self::prometheus::exporter();
    }
    crate::events::set_timing(on);
}

/// Where a policy keeps its latency histogram (registered at its first sample): a
/// `OnceLock<Histogram>` that is unwind-safe, so that a `Policy` stays `UnwindSafe` and
/// `RefUnwindSafe` with the feature on (`metrics::Histogram` holds a `dyn HistogramFn`, which
/// is neither). A panic while a sample is recorded loses at most that sample.
#[derive(Debug, Default)]
pub(crate) struct LatencyCell(OnceLock<Histogram>);

impl std::ops::Deref for LatencyCell {
    type Target = OnceLock<Histogram>;
    fn deref(&self) -> &OnceLock<Histogram> {
        &self.0
    }
}

impl std::panic::UnwindSafe for LatencyCell {}
impl std::panic::RefUnwindSafe for LatencyCell {}

/// Records one attempt's time in the policy's latency histogram.
pub(crate) fn record_latency(sink: &Sink, elapsed: Duration) {
    sink.latency
        .get_or_init(|| Histogram::from_arc(Arc::new(Latency::new(sink.name.clone()))))
        .record(elapsed.as_secs_f64());
}

/// A policy's latency histogram, which picks its recorders at each sample: `prometheus()`'s
/// once it is set up, and the one current at the first sample unless that is the same one.
/// So a sample taken before `prometheus()` set up its recorder does not leave the policy's
/// histogram tied to the facade's no-op recorder forever, and when the application has a
/// global recorder of its own, both get every sample.
struct Latency {
    policy: Arc<str>,
    /// Registered with the recorder current at its first sample (when `prometheus()`'s recorder
    /// is not the global one, or not set up yet).
    current: OnceLock<Histogram>,
    /// Registered with `prometheus()`'s recorder, once it is set up.
    #[cfg(feature = "prometheus")]
    own: OnceLock<Histogram>,
    /// Samples into `own`, for its upkeep.
    #[cfg(feature = "prometheus")]
    samples: std::sync::atomic::AtomicU64,
}

impl Latency {
    fn new(policy: Arc<str>) -> Self {
        Latency {
            policy,
            current: OnceLock::new(),
            #[cfg(feature = "prometheus")]
            own: OnceLock::new(),
            #[cfg(feature = "prometheus")]
            samples: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The histogram, registered with the current recorder.
    fn register(&self) -> Histogram {
        histogram!(LATENCY, "policy" => self.policy.to_string())
    }
}

impl HistogramFn for Latency {
    fn record(&self, seconds: f64) {
        #[cfg(feature = "prometheus")]
        if let Some(exporter) = EXPORTER.get() {
            self.own
                .get_or_init(|| {
                    ::metrics::with_local_recorder(exporter.recorder, || self.register())
                })
                .record(seconds);
            exporter.upkeep(&self.samples);
            if exporter.global {
                return; // `current` is the same recorder, or was registered before it (no-op)
            }
        }
        self.current.get_or_init(|| self.register()).record(seconds);
    }
}

#[cfg(feature = "prometheus")]
pub use self::prometheus::{prometheus, PROMETHEUS_CONTENT_TYPE};

#[cfg(feature = "prometheus")]
use self::prometheus::EXPORTER;

#[cfg(feature = "prometheus")]
mod prometheus {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;

    use metrics_exporter_prometheus::{
        Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
    };

    use super::{describe, write, LATENCY};

    /// The buckets of the latency histogram, in seconds: from 5 ms to a minute, for calls
    /// to APIs.
    const BUCKETS: [f64; 14] = [
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0,
    ];

    /// Samples between two upkeeps of the recorder (which move the histograms' samples into
    /// their buckets; a scrape does it too), so that memory stays bounded between scrapes.
    const UPKEEP_EVERY: u64 = 4096;

    /// The `Content-Type` of [`prometheus()`]'s text: the Prometheus text exposition format,
    /// version 0.0.4.
    ///
    /// # Examples
    ///
    /// ```
    /// use staunch_runtime::metrics::PROMETHEUS_CONTENT_TYPE;
    /// assert!(PROMETHEUS_CONTENT_TYPE.starts_with("text/plain; version=0.0.4"));
    /// ```
    pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

    /// `prometheus()`'s recorder.
    pub(super) struct Exporter {
        pub(super) recorder: &'static PrometheusRecorder,
        handle: PrometheusHandle,
        /// Whether it is the process's global recorder (else another one was installed first).
        pub(super) global: bool,
    }

    impl Exporter {
        /// Counts a sample of a histogram; every [`UPKEEP_EVERY`] samples, runs the upkeep.
        pub(super) fn upkeep(&self, samples: &AtomicU64) {
            if samples.fetch_add(1, Ordering::Relaxed) % UPKEEP_EVERY == UPKEEP_EVERY - 1 {
                self.handle.run_upkeep();
            }
        }
    }

    pub(super) static EXPORTER: OnceLock<Exporter> = OnceLock::new();

    /// Sets up `prometheus()`'s recorder, once: built, then installed as the global recorder
    /// if no other one is.
    pub(super) fn exporter() -> &'static Exporter {
        EXPORTER.get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(LATENCY.to_owned()), &BUCKETS)
                .unwrap_or_else(|_| PrometheusBuilder::new()); // never: the buckets are not empty
                                                               // leaked once: it lives as long as the process, as a global recorder does
            let recorder: &'static PrometheusRecorder =
                Box::leak(Box::new(builder.build_recorder()));
            let handle = recorder.handle();
            let global = ::metrics::set_global_recorder(recorder).is_ok();
            ::metrics::with_local_recorder(recorder, describe);
            Exporter {
                recorder,
                handle,
                global,
            }
        })
    }

    /// Every policy's metrics as Prometheus text (the text exposition format, version 0.0.4,
    /// served with [`PROMETHEUS_CONTENT_TYPE`]): what a `/metrics` endpoint returns.
    ///
    /// Each call [publishes](super::publish) every policy's counters and gauges, then renders
    /// the recorder with `metrics-exporter-prometheus`. The metrics are listed in the
    /// [module's documentation](super). The latency histogram
    /// (`staunch_attempt_duration_seconds`, buckets from 5 ms to 60 s) is there once
    /// [`time_attempts`](super::time_attempts) is on, with every sample taken since.
    ///
    /// **The recorder.** The first call (or `time_attempts(true)`, if it comes first) builds a
    /// `PrometheusRecorder` and installs it as the process's global recorder of the `metrics`
    /// facade, so the text also holds whatever the application records through the facade
    /// (`metrics::counter!(…)` and the like; its histograms are rendered as summaries). A
    /// process has one global recorder, set once:
    ///
    /// - If the application installed one before (its own exporter, say), it is never
    ///   replaced, and this never fails nor panics: `prometheus()` keeps a recorder of its own
    ///   and its text holds staunch's metrics only, which it says once on standard error and in
    ///   [`warnings`](crate::warnings). The latency histogram then goes to both recorders. To
    ///   export staunch's metrics through the application's recorder instead, call
    ///   [`publish`](super::publish) before that recorder renders, and not this.
    /// - If the application installs one after, its installation fails (the slot is taken):
    ///   install it first.
    ///
    /// The histograms' samples are moved into their buckets at each call, and every few
    /// thousand samples in between, so memory stays bounded however rarely it is scraped.
    ///
    /// # Examples
    ///
    /// ```
    /// use staunch_runtime::{Error, Policy};
    ///
    /// let p = Policy::builder("docs-prometheus").rps(10.0).build().unwrap();
    /// let _ = p.call(|| Ok::<_, Error>(()));
    ///
    /// let text = staunch_runtime::metrics::prometheus();
    /// assert!(text.contains("# TYPE staunch_calls_total counter"));
    /// assert!(text.contains(r#"staunch_calls_total{policy="docs-prometheus"} 1"#));
    /// assert!(text.contains(r#"staunch_attempts_total{policy="docs-prometheus",verdict="success"} 1"#));
    /// assert!(text.contains(r#"staunch_rate_tokens_remaining{policy="docs-prometheus"}"#));
    /// ```
    #[must_use]
    pub fn prometheus() -> String {
        let exporter = exporter();
        if !exporter.global {
            crate::env::report(
                "metrics recorder",
                "staunch::metrics::prometheus(): another global metrics recorder was installed \
                 first, so its text holds only staunch's metrics, from a recorder of staunch's \
                 own (to export staunch's metrics through the application's recorder instead, \
                 call staunch::metrics::publish() before that recorder renders)"
                    .to_owned(),
            );
        }
        ::metrics::with_local_recorder(exporter.recorder, write);
        exporter.handle.render()
    }
}
