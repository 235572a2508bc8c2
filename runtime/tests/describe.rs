//! `Policy::describe` and `Handle::describe`: the pipeline in order, each value with its source.

use std::time::Duration;

use staunch_runtime::{Breaker, Chaos, Hedge, Policy, Retry, Source};

fn env(variable: &str) -> Source {
    Source::Environment {
        variable: variable.to_owned(),
    }
}

#[test]
fn builder_values_say_builder_and_unset_ones_say_default_with_the_default() {
    let d = Policy::builder("describe-builder")
        .retry(Retry::new().max(5))
        .breaker(Breaker::new().threshold(3))
        .rps(4.0)
        .build()
        .unwrap()
        .describe();
    let s = |part, name| d.setting(part, name).unwrap();
    assert_eq!(
        (s("retry", "max").value.as_str(), &s("retry", "max").source),
        ("5", &Source::Builder)
    );
    assert_eq!(s("retry", "delay").value, "100ms");
    assert_eq!(s("retry", "delay").source, Source::Default);
    assert_eq!(s("breaker", "threshold").source, Source::Builder);
    assert_eq!(
        (
            s("breaker", "cooldown").value.as_str(),
            &s("breaker", "cooldown").source
        ),
        ("30s", &Source::Default)
    );
    assert_eq!(s("rate limit", "rps").value, "4/s");
    // the default burst: one second's worth
    assert_eq!(
        (
            s("rate limit", "burst").value.as_str(),
            &s("rate limit", "burst").source
        ),
        ("4", &Source::Default)
    );
    assert_eq!(s("call", "timeout").value, "none");
    assert!(d
        .stages
        .iter()
        .all(|st| st.settings.iter().all(|x| x.was.is_none())));
}

#[test]
fn an_environment_override_names_its_variable_and_what_it_replaced() {
    std::env::set_var("STAUNCH_DESCRIBE_ENV_RPS", "10");
    std::env::set_var("STAUNCH_DESCRIBE_ENV_BREAKER_COOLDOWN", "1m");
    std::env::set_var("STAUNCH_DESCRIBE_ENV_TIMEOUT", "250ms");
    let d = Policy::builder("describe-env")
        .breaker(Breaker::new().threshold(5))
        .rps(5.0)
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap()
        .describe();
    let rps = d.setting("rate limit", "rps").unwrap();
    assert_eq!(rps.value, "10/s");
    assert_eq!(rps.source, env("STAUNCH_DESCRIBE_ENV_RPS"));
    assert_eq!(rps.was.as_deref(), Some("5/s in the builder"));
    // the burst follows the new rate, still by default
    assert_eq!(d.setting("rate limit", "burst").unwrap().value, "10");
    assert_eq!(
        d.setting("breaker", "cooldown").unwrap().to_string(),
        "cooldown 60s (environment STAUNCH_DESCRIBE_ENV_BREAKER_COOLDOWN, was 30s by default)"
    );
    assert_eq!(
        d.setting("call", "timeout").unwrap().to_string(),
        "timeout 250ms (environment STAUNCH_DESCRIBE_ENV_TIMEOUT, was 1s in the builder)"
    );
    assert_eq!(
        d.setting("breaker", "threshold").unwrap().source,
        Source::Builder
    );
}

#[test]
fn an_environment_variable_can_add_a_part_the_builder_left_out() {
    std::env::set_var("STAUNCH_DESCRIBE_ENV_ADDS_MAX_INFLIGHT", "3");
    let d = Policy::builder("describe-env-adds")
        .build()
        .unwrap()
        .describe();
    let m = d.setting("bulkhead", "max_inflight").unwrap();
    assert_eq!(m.source, env("STAUNCH_DESCRIBE_ENV_ADDS_MAX_INFLIGHT"));
    assert_eq!(m.was.as_deref(), Some("unset"));
}

#[test]
fn a_policy_with_every_part_lists_them_in_the_order_a_call_goes_through() {
    let p = Policy::builder("describe-all")
        .deadline(Duration::from_secs(10))
        .retry(Retry::new().budget(0.2))
        .hedge(Hedge::new().after(Duration::from_millis(200)))
        .breaker(
            Breaker::new()
                .failure_rate(0.5)
                .window_time(Duration::from_secs(60))
                .slow_call(Duration::from_secs(2))
                .max_cooldown(Duration::from_secs(600)),
        )
        .rps(10.0)
        .tpm(90_000.0)
        .max_inflight(8)
        .queue(16)
        .queue_wait(Duration::from_secs(1))
        .chaos(Chaos::new().error(0.1))
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let d = p.describe();
    let parts: Vec<&str> = d.stages.iter().map(|s| s.part).collect();
    assert_eq!(
        parts,
        [
            "deadline",
            "retry",
            "hedge",
            "breaker",
            "hold-off",
            "rate limit",
            "token limit",
            "bulkhead",
            "chaos",
            "call"
        ]
    );
    let shared: Vec<bool> = d.stages.iter().map(|s| s.shared).collect();
    assert_eq!(
        shared,
        [false, false, false, true, true, true, true, true, true, false]
    );
    let text = d.to_string();
    assert!(
        text.contains(
            "  4. breaker: failure rate, failure_rate 0.5 (builder), window_time 60s (builder), \
             min_calls 100 (default), slow_call 2s (builder), slow_rate 1 (default), cooldown 30s \
             (default), max_cooldown 600s (builder), cooldown_multiplier 2 (default), half_open 1 \
             (default)\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "  8. bulkhead: max_inflight 8 (builder), queue 16 (builder), queue_wait 1s (builder)\n"
        ),
        "{text}"
    );
    assert_eq!(d.setting("retry", "budget").unwrap().value, "0.2");
    assert_eq!(d.setting("hedge", "after").unwrap().value, "200ms");
    assert!(d.setting("hedge", "percentile").is_none()); // a fixed delay learns nothing
    assert_eq!(d.setting("token limit", "tpm").unwrap().value, "90000/min");
    assert_eq!(d.setting("chaos", "error").unwrap().source, Source::Builder);
    assert_eq!(
        d.setting("chaos", "reject").unwrap().source,
        Source::Default
    );
    assert!(
        text.starts_with(
            "policy `describe-all` (shared by name)\n  1. deadline: deadline 10s (builder)\n"
        ),
        "{text}"
    );
}

#[test]
fn a_later_policy_of_a_name_shows_the_first_ones_shared_parts_and_says_so() {
    let first = Policy::builder("describe-later")
        .max_inflight(2)
        .build()
        .unwrap();
    let later = Policy::builder("describe-later")
        .max_inflight(5)
        .retry(Retry::new())
        .build()
        .unwrap();
    assert!(!first.describe().from_first);
    let d = later.describe();
    assert!(d.from_first);
    assert_eq!(d.setting("bulkhead", "max_inflight").unwrap().value, "2");
    assert!(d.setting("retry", "max").is_some()); // its own
    assert!(d.to_string().contains("reported in `warnings()`"), "{d}");
    assert!(staunch_runtime::warnings()
        .iter()
        .any(|w| w.contains("`describe-later` is declared twice")));
}

#[test]
fn a_handle_describes_its_name_as_first_declared() {
    std::env::set_var("STAUNCH_DESCRIBE_HANDLE_BURST", "7");
    Policy::builder("describe-handle")
        .rpm(60.0)
        .build()
        .unwrap();
    let d = staunch_runtime::policy("describe-handle")
        .unwrap()
        .describe();
    let burst = d.setting("rate limit", "burst").unwrap();
    assert_eq!(burst.value, "7");
    assert_eq!(burst.source, env("STAUNCH_DESCRIBE_HANDLE_BURST"));
    assert_eq!(burst.was.as_deref(), Some("1 by default"));
    assert_eq!(d.setting("rate limit", "rpm").unwrap().value, "60/min");
}

#[test]
fn an_unnamed_policy_says_it_shares_nothing() {
    let d = Policy::unnamed("describe-unnamed")
        .build()
        .unwrap()
        .describe();
    assert!(!d.shared_by_name);
    assert_eq!(
        d.to_string(),
        "policy `describe-unnamed` (unnamed: shares nothing)\n  1. call: timeout none (default)\n"
    );
}

/// Regression: a value set to what the default is was described as the default (the source
/// was judged by comparing with the default, not by whether it was set).
#[test]
fn a_value_set_to_the_default_is_still_the_users() {
    let set = Policy::builder("describe-set-to-default")
        .breaker(
            Breaker::new()
                .threshold(5)
                .cooldown(Duration::from_secs(30))
                .half_open(1),
        )
        .hedge(Hedge::new().min_after(Duration::from_millis(1)).max(1));
    // and left alone, the same values are the defaults
    let left_alone = Policy::builder("describe-left-alone")
        .breaker(Breaker::new())
        .hedge(Hedge::new());
    for (builder, source) in [(set, Source::Builder), (left_alone, Source::Default)] {
        let d = builder.build().unwrap().describe();
        for (part, name) in [
            ("breaker", "threshold"),
            ("breaker", "cooldown"),
            ("breaker", "half_open"),
            ("hedge", "min_after"),
            ("hedge", "max"),
        ] {
            assert_eq!(
                d.setting(part, name).unwrap().source,
                source,
                "{part} {name}"
            );
        }
    }
}
