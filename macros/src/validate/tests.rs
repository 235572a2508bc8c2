//! The checks of [`validate`](super), as a user would see them: the message of every mistake.

use super::*;
use crate::args;

fn check(attr: &str, item: &str) -> (Config, Vec<String>) {
    let opts = args::parse(attr.parse().unwrap(), is_group).unwrap();
    let f: syn::ItemFn = syn::parse_str(item).unwrap();
    let mut errors = Errors::default();
    let shape = Shape::of(&f, &mut errors);
    let cfg = validate(&opts, &shape, &mut errors);
    let messages = errors
        .finish()
        .map(|e| e.into_iter().map(|e| e.to_string()).collect())
        .unwrap_or_default();
    (cfg, messages)
}

fn ok(attr: &str) -> Config {
    let (cfg, errors) = check(attr, "async fn f() -> Result<(), E> { Ok(()) }");
    assert!(errors.is_empty(), "{attr}: {errors:?}");
    cfg
}

fn err(attr: &str) -> Vec<String> {
    check(attr, "async fn f() -> Result<(), E> { Ok(()) }").1
}

/// The one mistake of `attr`.
fn one(attr: &str) -> String {
    let errors = err(attr);
    assert_eq!(errors.len(), 1, "{attr}: {errors:?}");
    errors.into_iter().next().unwrap()
}

#[test]
fn the_contract_example() {
    let cfg = ok(
        "retry(max=3, backoff=2.0), breaker(threshold=5, cooldown=30), rps=10, fallback = other_fn",
    );
    let r = cfg.retry.unwrap();
    assert_eq!((r.max, r.backoff, r.delay), (Some(3), Some(2.0), None));
    let b = cfg.breaker.unwrap();
    assert_eq!(
        (b.threshold, b.cooldown, b.half_open),
        (Some(5), Some(30_000_000_000), None)
    );
    assert_eq!(cfg.rate, Some(Rate::PerSecond(10.0)));
    assert!(cfg.fallback.unwrap().is_ident("other_fn"));
}

#[test]
fn durations() {
    let d = |s: &str| ok(&format!("timeout = {s}")).timeout.unwrap();
    assert_eq!(d("30"), 30_000_000_000);
    assert_eq!(d("0.25"), 250_000_000);
    assert_eq!(d("\"250ms\""), 250_000_000);
    assert_eq!(d("\"2s\""), 2_000_000_000);
    assert_eq!(d("\"1m\""), 60_000_000_000);
    assert_eq!(d("\"1h\""), 3_600_000_000_000);
    assert_eq!(d("\"1.5s\""), 1_500_000_000);
    assert_eq!(d("0"), 0);
    assert_eq!(d("18446744073"), 18_446_744_073_000_000_000);
    // one grammar with the environment: a string without a unit is seconds
    assert_eq!(d("\"10\""), 10_000_000_000);
    assert_eq!(d("\"0.5\""), 500_000_000);
    assert_eq!(d("0x10"), 16_000_000_000);
    let too_long = "`timeout` is too long; the longest is 18446744073 seconds (about 584 years)";
    for (bad, message) in [
        ("-1", "`timeout` must not be negative"),
        ("-0.5", "`timeout` must not be negative"),
        ("\"-1s\"", "`timeout` must not be negative"),
        (
            "\"2sec\"",
            "unknown unit `sec` in `\"2sec\"`; use `ms`, `s`, `m` or `h`",
        ),
        (
            "\"fast\"",
            "cannot read `\"fast\"` as a duration; write a number and a unit: `\"250ms\"`, `\"2s\"`, `\"1m\"` or `\"1h\"`",
        ),
        ("18446744074", too_long),
        ("1e30", too_long),
        ("\"99999999999h\"", too_long),
        (
            "true",
            "`timeout` takes a duration: whole seconds (`timeout = 30`), fractional seconds (`timeout = 0.25`) or a string with a unit (`timeout = \"250ms\"`, `\"2s\"`, `\"1m\"`, `\"1h\"`)",
        ),
    ] {
        assert_eq!(one(&format!("timeout = {bad}")), message, "{bad}");
    }
}

#[test]
fn ranges() {
    let fraction = "`jitter` must be a fraction in (0, 1]; write `jitter = false` for exact waits";
    for (bad, message) in [
        ("retry(max = 0)", "`max` must be at least 1"),
        (
            "retry(backoff = 0.5)",
            "`backoff` must be at least 1.0 (1.0 waits the same `delay` before every retry)",
        ),
        ("retry(jitter = 0)", fraction),
        ("retry(jitter = 1.5)", fraction),
        (
            "retry(jitter = \"x\")",
            "`jitter` takes `true`, `false` or a fraction in (0, 1], such as `jitter = 0.5`",
        ),
        ("breaker(threshold = 0)", "`threshold` must be at least 1"),
        ("breaker(half_open = 0)", "`half_open` must be at least 1"),
        (
            "breaker(half_open = 65536)",
            "`half_open` must be at most 65535",
        ),
        ("rps = 0", "`rps` must be greater than 0"),
        ("rpm = -1", "`rpm` must be greater than 0"),
        ("rps = 1, burst = 0", "`burst` must be at least 1"),
        ("max_inflight = 0", "`max_inflight` must be at least 1"),
        ("max_inflight = -2", "`max_inflight` must be at least 1"),
        (
            "max_inflight = 2.5",
            "`max_inflight` takes a whole number: write e.g. `max_inflight = 3`",
        ),
        (
            "retry(max = 4294967296)",
            "`max` is too large; the largest is 4294967295",
        ),
        (
            "name = \"\"",
            "`name` must not be empty; write e.g. `name = \"openai\"`",
        ),
        (
            "name = openai",
            "`name` takes a string: write e.g. `name = \"openai\"`",
        ),
        ("rps = \"x\"", "`rps` takes a number: write e.g. `rps = 10`"),
        (
            "retry(on = |e| true)",
            "`on` takes the path of a function: write e.g. `on = is_transient`",
        ),
    ] {
        assert_eq!(one(bad), message, "{bad}");
    }
    let r = ok("retry(jitter = false)").retry.unwrap();
    assert_eq!(r.jitter, Some(0.0));
    assert_eq!(ok("retry(jitter = true)").retry.unwrap().jitter, Some(1.0));
    assert_eq!(ok("retry(backoff = 1)").retry.unwrap().backoff, Some(1.0));
    assert_eq!(
        ok("breaker(half_open = 65535)").breaker.unwrap().half_open,
        Some(65_535)
    );
}

#[test]
fn unknown_options_name_the_nearest() {
    let top = "`name`, `retry`, `breaker`, `rps`, `rpm`, `burst`, `key`, `wait`, `max_inflight`, `queue`, `queue_wait`, `timeout`, `deadline`, `fallback`, `fallback_why`, `tpm`, `cost`, `usage`, `stale`, `chaos`, `redis`, `hedge`";
    for (bad, message) in [
        (
            "retires = 3",
            "unknown option `retires`; did you mean `retry`?".to_owned(),
        ),
        (
            "tmeout = 3",
            "unknown option `tmeout`; did you mean `timeout`?".to_owned(),
        ),
        (
            "r#rps = 3",
            "unknown option `r#rps`; did you mean `rps`?".to_owned(),
        ),
        (
            "retry(maxx = 3)",
            "unknown option `maxx` of `retry`; did you mean `max`?".to_owned(),
        ),
        (
            "zzz = 1",
            format!("unknown option `zzz`; expected one of {top}"),
        ),
        (
            "max = 3",
            "`max` is an option of `retry`: write `retry(max = …)`".to_owned(),
        ),
        (
            "half_open = 3",
            "`half_open` is an option of `breaker`: write `breaker(half_open = …)`".to_owned(),
        ),
        (
            "capacity = 3",
            "`capacity` is an option of `stale`: write `stale(capacity = …)`".to_owned(),
        ),
        (
            "breaker(max = 3)",
            "`max` is an option of `retry`, not of `breaker`: write `retry(max = …)`".to_owned(),
        ),
        (
            "stale(cooldown = 3)",
            "`cooldown` is an option of `breaker`, not of `stale`: write `breaker(cooldown = …)`"
                .to_owned(),
        ),
        (
            "retry(rps = 1)",
            "`rps` is not an option of `retry(…)`: move it out, next to `retry`".to_owned(),
        ),
        // an option of `stale` in another group is only unknown there (as it always was)
        (
            "retry(capacity = 1)",
            "unknown option `capacity` of `retry`; expected one of `max`, `backoff`, `delay`, `max_delay`, `jitter`, `on`, `budget`".to_owned(),
        ),
    ] {
        assert_eq!(one(bad), message, "{bad}");
    }
}

#[test]
fn values_or_lists() {
    for (bad, message) in [
        ("rps", "`rps` needs a value: write `rps = 10`"),
        ("rps(10)", "`rps` takes a value, not a list: write `rps = 10`"),
        (
            "rps(max = )",
            "`rps` takes a value, not a list: write `rps = 10`",
        ),
        ("retry(max)", "`max` needs a value: write `max = 3`"),
        (
            "retry(on(f))",
            "`on` takes a value, not a list: write `on = is_transient`",
        ),
        (
            "retry = 3",
            "`retry` takes a list of options, not a value: write `retry(max = 3)` or a bare `retry`",
        ),
        (
            "breaker = true",
            "`breaker` takes a list of options, not a value: write `breaker(threshold = 5)` or a bare `breaker`",
        ),
        (
            "stale = 1",
            "`stale` takes a list of options, not a value: write `stale(max_age = \"10m\", capacity = 1000)` or a bare `stale`",
        ),
    ] {
        assert_eq!(one(bad), message, "{bad}");
    }
}

#[test]
fn llm_options() {
    let cfg = ok("retry(budget = 0.2), rpm = 1200, tpm = 3000, cost = estimate(prompt), usage = Reply::tokens, wait = 0, stale(max_age = \"10m\", capacity = 5)");
    assert_eq!(cfg.retry.unwrap().budget, Some(0.2));
    assert_eq!(cfg.tpm, Some(3000.0));
    assert!(cfg.cost.is_some() && cfg.usage.is_some());
    let s = cfg.stale.unwrap();
    assert_eq!((s.capacity, s.max_age), (Some(5), Some(600_000_000_000)));
    // the defaults are the runtime's
    let s = ok("stale").stale.unwrap();
    assert_eq!((s.capacity, s.max_age), (None, None));
    assert!(ok("tpm = 10, wait = 1").wait.is_some());
    assert_eq!(
        err("cost = 3, usage = f"),
        [
            "`cost` needs a token limit: add `tpm = …`",
            "`usage` needs a token limit: add `tpm = …`"
        ]
    );
    assert_eq!(one("retry(budget = 0)"), "`budget` must be greater than 0");
    assert_eq!(
        err("stale(capacity = 0, max_age = -1)"),
        [
            "`capacity` must be at least 1",
            "`max_age` must not be negative"
        ]
    );
    assert_eq!(
        one("stale(maxage = 1)"),
        "unknown option `maxage` of `stale`; did you mean `max_age`?"
    );
}

#[test]
fn prerequisites_conflicts_repeats() {
    let rate = |o: &str| format!("`{o}` needs a rate limit: add `rps = …` or `rpm = …`");
    assert_eq!(err("burst = 3"), [rate("burst")]);
    assert_eq!(err("key = id, wait = 1"), [rate("key"), rate("wait")]);
    // those needing `tpm` first, then a rate, then either, each in the order written
    assert_eq!(
        err("wait = 1, burst = 3, cost = 1"),
        [
            "`cost` needs a token limit: add `tpm = …`".to_owned(),
            rate("burst"),
            rate("wait")
        ]
    );
    assert_eq!(err("tpm = 10, wait = 1, key = id"), [rate("key")]);
    assert_eq!(
        one("rps = 1, rpm = 60"),
        "`rpm` conflicts with `rps`: set only one rate"
    );
    // an invalid rate is still a rate
    assert_eq!(one("rps = 0, burst = 1"), "`rps` must be greater than 0");
    assert_eq!(
        one("rps = 1, rps = 2"),
        "`rps` is set twice; remove one of them"
    );
    assert_eq!(
        one("retry, retry(max = 2)"),
        "`retry` is set twice; remove one of them"
    );
    assert_eq!(
        one("retry(max = 1, max = 2)"),
        "`max` is set twice in `retry(…)`; remove one of them"
    );
    assert!(ok("rpm = 60, burst = 3, key = id, wait = \"1s\"")
        .key
        .is_some());
}

#[test]
fn timeout_on_sync() {
    let (_, errors) = check("timeout = 1", "fn f() -> Result<(), E> { Ok(()) }");
    assert_eq!(
        errors,
        ["`timeout` needs an `async fn`: a sync call cannot be interrupted; remove it or make the function async"]
    );
}

#[test]
fn hedge_needs_an_async_fn_whose_body_only_borrows() {
    let (_, errors) = check("hedge", "fn f() -> Result<(), E> { Ok(()) }");
    assert_eq!(
        errors,
        ["`hedge` needs an `async fn`: a sync call cannot run twice at once; remove it or make the function async"]
    );
    let (_, errors) = check(
        "hedge(max = 2)",
        "async fn f(&mut self, mut n: u32, v: &mut Vec<u8>, k: &str) -> Result<(), E> { Ok(()) }",
    );
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(errors[0].contains("`&mut self` cannot allow: take `&self`"));
    assert!(errors[1].contains("`mut n` cannot allow: remove `mut`"));
    assert!(errors[2].contains("`v: &mut …` cannot allow: take it by shared reference"));
    let h = ok("hedge(after = \"200ms\", percentile = 0.9, min_after = 0, max = 3)")
        .hedge
        .unwrap();
    assert_eq!(
        (h.after, h.percentile, h.min_after, h.max),
        (Some(200_000_000), Some(0.9), Some(0), Some(3))
    );
    assert!(ok("hedge").hedge.is_some());
    assert_eq!(
        err("hedge(max = 4)"),
        ["`max` must be at most 3 (extra copies of one call)"]
    );
    assert_eq!(
        err("hedge(percentile = 0.4)"),
        ["`percentile` must be between 0.5 and 0.99"]
    );
    assert_eq!(
        err("retry(after = 1)"),
        ["`after` is an option of `hedge`, not of `retry`: write `hedge(after = …)`"]
    );
}

#[test]
fn every_mistake_at_once() {
    assert_eq!(
        err("retry(max = 0, jitter = 2), rps = \"x\", burst = 0, zzz"),
        [
            "`max` must be at least 1",
            "`jitter` must be a fraction in (0, 1]; write `jitter = false` for exact waits",
            "`rps` takes a number: write e.g. `rps = 10`",
            "`burst` must be at least 1",
            "unknown option `zzz`; expected one of `name`, `retry`, `breaker`, `rps`, `rpm`, `burst`, `key`, `wait`, `max_inflight`, `queue`, `queue_wait`, `timeout`, `deadline`, `fallback`, `fallback_why`, `tpm`, `cost`, `usage`, `stale`, `chaos`, `redis`, `hedge`",
        ]
    );
}

/// Every example text of every table is written as its option, and is valid as written, so
/// that the examples in the messages cannot rot.
#[test]
fn every_example_is_valid() {
    fn each<C>(rows: &[Row<C>], wrap: impl Fn(&str) -> String) {
        for row in rows {
            assert!(
                row.example.starts_with(row.name),
                "{}: {}",
                row.name,
                row.example
            );
            ok(&wrap(row.example));
        }
    }
    // what the top-level options need beside them, without repeating or conflicting with them
    each(TOP, |example| {
        let rate = |s: &str| s.starts_with("rps") || s.starts_with("rpm");
        let mut needs: Vec<&str> = ["rps = 10", "tpm = 90000"]
            .into_iter()
            .filter(|n| !(rate(example) && rate(n) || example.starts_with(&n[..3])))
            .collect();
        if example.starts_with("queue") {
            needs.push("max_inflight = 8");
        }
        if example.starts_with("queue_wait") {
            needs.push("queue = 10");
        }
        format!("{example}, {}", needs.join(", "))
    });
    each(RETRY, |example| format!("retry({example})"));
    // `cooldown_multiplier` needs `max_cooldown` beside it
    each(BREAKER, |example| {
        let needs = if example.starts_with("cooldown_multiplier") {
            ", max_cooldown = \"10m\""
        } else if example.starts_with("max_keys") {
            ", key = tenant"
        } else {
            ""
        };
        format!("breaker({example}{needs})")
    });
    each(STALE, |example| format!("stale({example})"));
    each(CHAOS, |example| {
        if example.starts_with("latency =") {
            format!("chaos({example})")
        } else {
            format!("chaos({example}, latency = 1)")
        }
    });
    each(HEDGE, |example| format!("hedge({example})"));
}

/// "expected one of" lists exactly the names of the group's table, in order.
#[test]
fn the_lists_are_the_tables() {
    fn list<C>(rows: &[Row<C>]) -> String {
        let names: Vec<String> = names(rows).iter().map(|n| format!("`{n}`")).collect();
        names.join(", ")
    }
    assert_eq!(
        one("zzz"),
        format!("unknown option `zzz`; expected one of {}", list(TOP))
    );
    for (group, list) in [
        ("retry", list(RETRY)),
        ("breaker", list(BREAKER)),
        ("stale", list(STALE)),
        ("chaos", list(CHAOS)),
        ("hedge", list(HEDGE)),
    ] {
        assert_eq!(
            one(&format!("{group}(zzz = 1)")),
            format!("unknown option `zzz` of `{group}`; expected one of {list}")
        );
    }
    assert_eq!(
        list(BREAKER),
        "`threshold`, `cooldown`, `half_open`, `max_half_open`, `on`, `failure_rate`, \
         `window_calls`, `window_time`, `min_calls`, `slow_call`, `slow_rate`, `max_cooldown`, \
         `cooldown_multiplier`, `key`, `max_keys`"
    );
    assert_eq!(list(STALE), "`max_age`, `capacity`");
    let groups: Vec<&str> = groups().map(|(g, _)| g).collect();
    assert_eq!(
        groups,
        ["retry", "breaker", "stale", "chaos", "redis", "hedge"]
    );
    assert_eq!(list(CHAOS), "`error`, `latency`, `latency_rate`, `reject`");
}

#[test]
fn deadline_is_a_duration_greater_than_zero() {
    assert_eq!(ok("deadline = \"30s\"").deadline, Some(30_000_000_000));
    assert_eq!(ok("deadline = 0.5").deadline, Some(500_000_000));
    assert_eq!(
        err("deadline = 0"),
        ["`deadline` must be greater than 0: write e.g. `deadline = \"30s\"`"]
    );
    assert_eq!(
        err("deadline = \"0ms\""),
        ["`deadline` must be greater than 0: write e.g. `deadline = \"30s\"`"]
    );
    assert_eq!(err("deadline = -1"), ["`deadline` must not be negative"]);
    // on a sync function too: it bounds the waits there
    let (cfg, errors) = check("deadline = 1", "fn f() -> Result<(), E> { Ok(()) }");
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(cfg.deadline, Some(1_000_000_000));
}

#[test]
fn breaker_on_is_a_path() {
    let b = ok("breaker(on = counts_against)").breaker.unwrap();
    assert!(b.on.unwrap().is_ident("counts_against"));
    assert_eq!(
        err("breaker(on = 3)"),
        ["`on` takes the path of a function: write e.g. `on = is_outage`"]
    );
    assert_eq!(
        err("breaker(on = a, on = b)"),
        ["`on` is set twice in `breaker(…)`; remove one of them"]
    );
}

#[test]
fn one_fallback_at_most() {
    let cfg = ok("fallback_why = answer");
    assert!(cfg.fallback_why && cfg.fallback.unwrap().is_ident("answer"));
    assert!(!ok("fallback = answer").fallback_why);
    assert_eq!(
        err("fallback = a, fallback_why = b"),
        ["`fallback_why` conflicts with `fallback`: set only one fallback"]
    );
    assert_eq!(
        err("fallback_why = 3"),
        ["`fallback_why` takes the path of a function: write e.g. `fallback_why = answer_anyway`"]
    );
}

#[test]
fn max_half_open_is_a_duration_greater_than_zero() {
    let b = ok("breaker(max_half_open = \"1m\")").breaker.unwrap();
    assert_eq!(b.max_half_open, Some(60_000_000_000));
    assert_eq!(
        err("breaker(max_half_open = 0)"),
        ["`max_half_open` must be greater than 0: write e.g. `max_half_open = \"1m\"`"]
    );
}

#[test]
fn values_are_literals() {
    // `!3` is not a negative number
    assert_eq!(
        one("retry(max = !3)"),
        "`max` takes a whole number: write e.g. `max = 3`"
    );
    assert_eq!(
        one("rps = !1"),
        "`rps` takes a number: write e.g. `rps = 10`"
    );
    assert_eq!(
        one("timeout = !1"),
        "`timeout` takes a duration: whole seconds (`timeout = 30`), fractional seconds (`timeout = 0.25`) or a string with a unit (`timeout = \"250ms\"`, `\"2s\"`, `\"1m\"`, `\"1h\"`)"
    );
    // too large for an `f64`
    assert_eq!(one("rps = 1e999"), "`rps` is not a finite number");
    assert_eq!(
        one("retry(backoff = 1e999)"),
        "`backoff` is not a finite number"
    );
    // a path under an attribute is not the path of a function
    assert_eq!(
        one("retry(on = #[cfg(test)] is_transient)"),
        "`on` takes the path of a function: write e.g. `on = is_transient`"
    );
}

#[test]
fn a_queue_needs_a_bulkhead_and_a_queue_wait_needs_a_queue() {
    let cfg = ok("max_inflight = 2, queue = 5, queue_wait = \"2s\"");
    assert_eq!((cfg.max_inflight, cfg.queue), (Some(2), Some(5)));
    assert_eq!(cfg.queue_wait, Some(2_000_000_000));
    assert_eq!(
        one("queue = 5"),
        "`queue` needs a bulkhead to queue for: add `max_inflight = …`"
    );
    assert_eq!(
        one("max_inflight = 2, queue_wait = 1"),
        "`queue_wait` needs a queue to wait in: add `queue = …`"
    );
    // each missing option once, and no cascade from a bad value
    assert_eq!(
        err("queue = 5, queue_wait = 1"),
        ["`queue` needs a bulkhead to queue for: add `max_inflight = …`",]
    );
    assert_eq!(
        one("max_inflight = 0, queue = 1"),
        "`max_inflight` must be at least 1"
    );
    assert_eq!(
        one("max_inflight = 1, queue = 0"),
        "`queue` must be at least 1"
    );
    assert_eq!(
        one("max_inflight = 1, queue = 1000001"),
        "`queue` must be at most 1000000"
    );
    assert_eq!(
        one("max_inflight = 1, queue = 1, queue_wait = 0"),
        "`queue_wait` must be greater than 0: write e.g. `queue_wait = \"2s\"`"
    );
}

#[test]
fn chaos_rates_are_fractions_and_say_what_they_inject() {
    let c = ok("chaos(error = 0.1, latency = \"200ms\", latency_rate = 0.2, reject = 0.05)")
        .chaos
        .unwrap();
    assert_eq!(
        (c.error, c.latency, c.latency_rate, c.reject),
        (Some(0.1), Some(200_000_000), Some(0.2), Some(0.05))
    );
    // the bounds are inclusive, and rates of 0 and 1 are whole numbers too
    let c = ok("chaos(error = 0, reject = 1)").chaos.unwrap();
    assert_eq!((c.error, c.reject), (Some(0.0), Some(1.0)));
    assert_eq!(
        ok("chaos(error = 0.5, reject = 0.5)").chaos.unwrap().error,
        Some(0.5)
    );
    // a sync function may rehearse too
    let (cfg, errors) = check("chaos(latency = 1)", "fn f() -> Result<(), E> { Ok(()) }");
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(cfg.chaos.unwrap().latency, Some(1_000_000_000));
    for (bad, message) in [
        (
            "chaos",
            "`chaos` needs at least one of `error`, `latency` or `reject`: write e.g. `chaos(error = 0.1)`",
        ),
        (
            "chaos()",
            "`chaos` needs at least one of `error`, `latency` or `reject`: write e.g. `chaos(error = 0.1)`",
        ),
        (
            "chaos = 0.1",
            "`chaos` takes a list of options, not a value: write `chaos(error = 0.1)` or a bare `chaos`",
        ),
        (
            "chaos(error = 1.5)",
            "`error` must be a fraction between 0 and 1 (0.1: one attempt in ten), such as `error = 0.1`",
        ),
        (
            "chaos(reject = -0.1)",
            "`reject` must be a fraction between 0 and 1 (0.1: one attempt in ten), such as `reject = 0.05`",
        ),
        (
            "chaos(error = \"10%\")",
            "`error` takes a number: write e.g. `error = 0.1`",
        ),
        (
            "chaos(latency_rate = 0.5)",
            "`latency_rate` needs `latency`: add e.g. `latency = \"200ms\"`",
        ),
        (
            "chaos(error = 0.7, reject = 0.4)",
            "`error` and `reject` add up to more than 1 (an attempt is rejected, fails, or runs): lower one of them",
        ),
        (
            "chaos(latency = \"soon\")",
            "cannot read `\"soon\"` as a duration; write a number and a unit: `\"250ms\"`, `\"2s\"`, `\"1m\"` or `\"1h\"`",
        ),
        (
            "error = 0.1",
            "`error` is an option of `chaos`: write `chaos(error = …)`",
        ),
        (
            "chaos(errors = 0.1)",
            "unknown option `errors` of `chaos`; did you mean `error`?",
        ),
        (
            "retry(latency = 1)",
            "`latency` is an option of `chaos`, not of `retry`: write `chaos(latency = …)`",
        ),
        (
            "chaos(error = 0.1, error = 0.2)",
            "`error` is set twice in `chaos(…)`; remove one of them",
        ),
    ] {
        assert_eq!(one(bad), message, "{bad}");
    }
}

/// The failure-rate breaker's options: their bounds and the checks across them.
#[test]
fn the_failure_rate_breaker_options() {
    let cfg = ok("breaker(failure_rate = 0.3, window_calls = 20, min_calls = 20, slow_call = \"2s\", slow_rate = 0.8, max_cooldown = \"10m\", cooldown_multiplier = 1.5)");
    let b = cfg.breaker.unwrap();
    assert_eq!(
        (b.failure_rate, b.window_calls, b.min_calls, b.slow_rate),
        (Some(0.3), Some(20), Some(20), Some(0.8))
    );
    assert_eq!(b.slow_call, Some(2_000_000_000));
    assert_eq!(b.max_cooldown, Some(600_000_000_000));
    assert_eq!(b.cooldown_multiplier, Some(1.5));
    assert_eq!(
        ok("breaker(window_time = \"10ms\")")
            .breaker
            .unwrap()
            .window_time,
        Some(10_000_000)
    );
    for (attr, message) in [
        ("breaker(failure_rate = 50)", "`failure_rate` is a fraction, not a percentage: write `failure_rate = 0.5` for 50 %"),
        ("breaker(failure_rate = 150)", "`failure_rate` must be a fraction in (0, 1]: write e.g. `failure_rate = 0.5`"),
        ("breaker(slow_rate = 0)", "`slow_rate` must be a fraction in (0, 1]: write e.g. `slow_rate = 0.8`"),
        ("breaker(window_calls = 1000001)", "`window_calls` must be at most 1000000"),
        ("breaker(window_calls = 0)", "`window_calls` must be at least 1"),
        ("breaker(window_time = \"9ms\")", "`window_time` must be at least 10ms: write e.g. `window_time = \"60s\"`"),
        ("breaker(min_calls = 0)", "`min_calls` must be at least 1"),
        ("breaker(slow_call = 0)", "`slow_call` must be greater than 0: write e.g. `slow_call = \"2s\"`"),
        ("breaker(threshold = 3, failure_rate = 0.5)", "`failure_rate` makes a failure-rate breaker, which conflicts with `threshold` (failures in a row): set only one of them"),
        ("breaker(slow_call = 1, threshold = 3)", "`slow_call` makes a failure-rate breaker, which conflicts with `threshold` (failures in a row): set only one of them"),
        ("breaker(window_calls = 10, window_time = 60)", "`window_time` conflicts with `window_calls`: set only one window, by calls or by time"),
        ("breaker(window_time = 60, window_calls = 10)", "`window_calls` conflicts with `window_time`: set only one window, by calls or by time"),
        ("breaker(window_calls = 10, min_calls = 11)", "`min_calls` must be at most `window_calls` (10): the window never holds more"),
        ("breaker(cooldown_multiplier = 2.0)", "`cooldown_multiplier` needs `max_cooldown`: add e.g. `max_cooldown = \"10m\"`"),
        ("breaker(max_cooldown = 60, cooldown_multiplier = 0.5)", "`cooldown_multiplier` must be at least 1.0 (1.0 keeps every open period at `cooldown`)"),
        ("breaker(max_cooldown = 10)", "`max_cooldown` must be at least `cooldown` (30s by default)"),
        ("breaker(cooldown = 20.5, max_cooldown = 10)", "`max_cooldown` must be at least `cooldown` (20.5s)"),
    ] {
        assert_eq!(one(attr), message, "{attr}");
    }
}
