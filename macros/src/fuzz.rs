//! The attribute under generated input: option names (known, misspelt, raw, misplaced), values
//! of every kind and size, nested and repeated groups, on function shapes of every kind
//! (receivers, generics, lifetimes, patterns, raw identifiers, `async`, async-trait bodies).
//! Whatever comes in, the expansion never panics, and what comes out is either the function
//! rewritten (a function again) or compile errors with the function as written.

use proc_macro2::TokenStream;
use proptest::prelude::*;

use crate::expand::resilient;

/// A value an option might be given.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("0".to_owned()),
        Just("1".to_owned()),
        Just("-1".to_owned()),
        Just("0.5".to_owned()),
        Just("1e308".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("340282366920938463463374607431768211455".to_owned()),
        Just("4294967296".to_owned()),
        Just("65536".to_owned()),
        Just("true".to_owned()),
        Just("\"250ms\"".to_owned()),
        Just("\"10\"".to_owned()),
        Just("\"\"".to_owned()),
        Just("\"1.5.2h\"".to_owned()),
        Just("\"99999999999999999999h\"".to_owned()),
        Just("cached".to_owned()),
        Just("Self::cached".to_owned()),
        Just("r#type".to_owned()),
        Just("id".to_owned()),
        Just("estimate(prompt)".to_owned()),
        Just("(1)".to_owned()),
        Just("[1, 2]".to_owned()),
        Just("|x| x".to_owned()),
        (0u64..u64::MAX).prop_map(|n| n.to_string()),
        (-1e12f64..1e12).prop_map(|f| format!("{f:?}")),
    ]
}

/// An option name: known at the top or in a group, misspelt, or raw.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("name"),
        Just("retry"),
        Just("breaker"),
        Just("rps"),
        Just("rpm"),
        Just("burst"),
        Just("key"),
        Just("wait"),
        Just("max_inflight"),
        Just("queue"),
        Just("queue_wait"),
        Just("timeout"),
        Just("deadline"),
        Just("fallback"),
        Just("fallback_why"),
        Just("tpm"),
        Just("cost"),
        Just("usage"),
        Just("stale"),
        Just("max"),
        Just("backoff"),
        Just("delay"),
        Just("max_delay"),
        Just("jitter"),
        Just("on"),
        Just("budget"),
        Just("threshold"),
        Just("cooldown"),
        Just("half_open"),
        Just("max_half_open"),
        Just("failure_rate"),
        Just("window_calls"),
        Just("window_time"),
        Just("min_calls"),
        Just("slow_call"),
        Just("slow_rate"),
        Just("max_cooldown"),
        Just("cooldown_multiplier"),
        Just("max_keys"),
        Just("max_age"),
        Just("capacity"),
        Just("chaos"),
        Just("error"),
        Just("latency"),
        Just("latency_rate"),
        Just("reject"),
        Just("hedge"),
        Just("after"),
        Just("percentile"),
        Just("min_after"),
        Just("redis"),
        Just("fail"),
        Just("prefix"),
        Just("retires"),
        Just("r#retry"),
        Just("r#type"),
        Just("x"),
    ]
    .prop_map(str::to_owned)
}

/// One option: `name`, `name = value`, or `name(options)`.
fn option() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        name(),
        (name(), value()).prop_map(|(n, v)| format!("{n} = {v}")),
    ];
    leaf.prop_recursive(2, 16, 4, |inner| {
        (name(), proptest::collection::vec(inner, 0..4))
            .prop_map(|(n, opts)| format!("{n}({})", opts.join(", ")))
    })
}

/// Options as a user writes them, valid alone (together they may still conflict): so that
/// the expansion, not only the checks, meets the shapes.
fn sensible() -> impl Strategy<Value = String> {
    let options = [
        "retry",
        "retry(max = 2, delay = 0, jitter = false)",
        "breaker(threshold = 2, half_open = 2, max_half_open = 5)",
        "breaker(failure_rate = 0.5, window_calls = 20, min_calls = 5, slow_call = \"2s\", slow_rate = 0.8)",
        "breaker(window_time = \"60s\", max_cooldown = \"10m\", cooldown_multiplier = 1.5)",
        "breaker",
        "breaker(threshold = 1, key = 7, max_keys = 8)",
        "rps = 10",
        "burst = 2",
        "wait = 0",
        "max_inflight = 4",
        "max_inflight = 2, queue = 8",
        "max_inflight = 1, queue = 1, queue_wait = \"1s\"",
        "timeout = 1",
        "deadline = \"2s\"",
        "fallback = cached",
        "fallback_why = cached",
        "stale",
        "stale(capacity = 3, max_age = 60)",
        "name = \"fuzz\"",
        "chaos(error = 0.1, latency = \"200ms\", latency_rate = 0.2, reject = 0.05)",
        "chaos(reject = 1)",
        "hedge",
        "hedge(after = \"100ms\", percentile = 0.9, min_after = 0, max = 3)",
        "redis",
        "redis(fail = \"closed\", timeout = \"20ms\", prefix = \"app:\")",
    ];
    proptest::sample::subsequence(options.to_vec(), 0..=6).prop_map(|o| o.join(", "))
}

fn attribute() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::collection::vec(option(), 0..6).prop_map(|o| o.join(", ")),
        sensible(),
    ]
}

/// A function the attribute may be put on.
fn function() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("fn f(id: u64) -> Result<u64, E> { Ok(id) }"),
        Just("async fn f(&self, prompt: &str) -> Result<String, E> { Ok(prompt.into()) }"),
        Just("async fn f(&mut self, r#type: u32) -> io::Result<u32> { Ok(r#type) }"),
        Just("fn f(self, (a, b): (u8, u8), _: ()) -> Result<u8, E> { Ok(a + b) }"),
        Just("fn f(self: Box<Self>) -> Res<()> { Ok(()) }"),
        Just("fn f<'a, T: Clone>(x: &'a T, user: &'a str) -> Result<&'a T, E> where T: Send { Ok(x) }"),
        Just("async fn f(x: impl AsRef<str>) -> anyhow::Result<usize> { Ok(x.as_ref().len()) }"),
        Just("fn f<'life0, 'async_trait>(&'life0 self) -> ::core::pin::Pin<Box<dyn ::core::future::Future<Output = Result<u8, E>> + ::core::marker::Send + 'async_trait>> { Box::pin(async move { let __self = self; Ok(1) }) }"),
        Just("unsafe fn f() -> Result<(), E> { Ok(()) }"),
        Just("const fn f() -> Result<(), E> { Ok(()) }"),
        Just("extern \"C\" fn f() -> Result<(), E> { Ok(()) }"),
        Just("fn f() {}"),
        Just("fn f() -> u32 { 1 }"),
        Just("struct NotAFunction;"),
    ]
    .prop_map(str::to_owned)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn the_attribute_never_panics_and_gives_a_function_or_errors(
        attr in attribute(),
        item in function(),
    ) {
        let attr: TokenStream = attr.parse().expect("the generator writes tokens");
        let item_tokens: TokenStream = item.parse().expect("the generator writes tokens");
        let out = std::panic::catch_unwind(|| resilient(attr, item_tokens).to_string());
        prop_assert!(out.is_ok(), "the attribute panicked");
        let out = out.unwrap();
        if !out.contains("compile_error") {
            // rewritten: a function again
            prop_assert!(syn::parse_str::<syn::ItemFn>(&out).is_ok(), "not a function: {out}");
        }
    }
}
