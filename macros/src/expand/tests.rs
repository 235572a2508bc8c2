//! The expansion, checked on token streams.

use super::*;

/// The expansion of `attr` on `item`, which must not be a `compile_error!`.
fn expands(attr: &str, item: &str) -> String {
    let out = resilient(attr.parse().unwrap(), item.parse().unwrap()).to_string();
    assert!(!out.contains("compile_error"), "{attr}: {out}");
    out
}

#[test]
fn raw_identifiers_are_forwarded_as_written() {
    // it panicked: the arguments were re-created from their text, and `r#type` is no `Ident`
    for attr in [
        "fallback = other",
        "stale",
        "retry, fallback = other, stale",
    ] {
        for item in [
            "fn f(r#type: u32, r#match: &str) -> Result<u32, E> { Ok(r#type) }",
            "async fn f(&self, r#type: u32) -> Result<u32, E> { Ok(r#type) }",
        ] {
            let out = expands(attr, item);
            assert!(out.contains("r#type"), "{attr}: {out}");
        }
    }
    let out = expands(
        "stale, fallback = other",
        "fn f(r#type: u32) -> Result<u32, E> { Ok(r#type) }",
    );
    assert!(out.contains("key_hash (& (& r#type ,))"), "{out}");
    assert!(out.contains("other (r#type)"), "{out}");
}

#[test]
fn stale_sizes_not_written_are_the_runtime_defaults() {
    let item = "fn f(id: u32) -> Result<u32, E> { Ok(id) }";
    let out = expands("stale", item);
    assert!(
        out.contains("Stale :: new (:: staunch :: __private :: Stale :: DEFAULT_CAPACITY , :: staunch :: __private :: Stale :: DEFAULT_MAX_AGE)"),
        "{out}"
    );
    let out = expands("stale(capacity = 5, max_age = 2)", item);
    assert!(
        out.contains("Stale :: new (5 , :: core :: time :: Duration :: from_nanos (2000000000))"),
        "{out}"
    );
}

#[test]
fn the_async_trait_shape_is_wrapped_inside_its_box_pin() {
    let out = expands(
        "retry",
        "fn f<'a>(&'a self, x: u32) -> ::core::pin::Pin<Box<dyn ::core::future::Future<Output = Result<u32, E>> + Send + 'a>> { Box::pin(async move { let __self = self; let x = x; Ok(x) }) }",
    );
    let boxed = out
        .find("Box :: pin (async move {")
        .expect("the Box::pin kept");
    let policy = out.find("__STAUNCH_POLICY . get_or_init").unwrap();
    let hoisted = out.find("let x = x ;").unwrap();
    assert!(boxed < hoisted && hoisted < policy, "{out}");
    assert!(out.contains("attempt_async"), "{out}");
}
