//! The shape of a function, as a user would see it: how it is wrapped, or why it is refused.

use super::*;

fn shape(item: &str) -> (Shape, usize) {
    let f: ItemFn = syn::parse_str(item).unwrap();
    let mut errors = Errors::default();
    let s = Shape::of(&f, &mut errors);
    (s, errors.finish().map_or(0, |e| e.into_iter().count()))
}

/// The one mistake of `f`.
fn refused_fn(f: &ItemFn) -> String {
    let mut errors = Errors::default();
    Shape::of(f, &mut errors);
    let all: Vec<String> = errors
        .finish()
        .map(|e| e.into_iter().map(|e| e.to_string()).collect())
        .unwrap_or_default();
    assert_eq!(all.len(), 1, "{all:?}");
    all[0].clone()
}

/// The one mistake of `item`.
fn refused(item: &str) -> String {
    refused_fn(&syn::parse_str(item).unwrap())
}

/// The message of a return type that cannot be a `Result`.
fn found(what: &str) -> String {
    format!("`#[resilient]` functions must return a `Result`, found {what}: return `Result<T, E>` (or an alias such as `std::io::Result<T>`) with `E: From<staunch::Error>`")
}

#[test]
fn kinds() {
    assert!(matches!(
        shape("fn f() -> Result<(), E> { Ok(()) }").0.kind,
        Kind::Sync
    ));
    assert!(matches!(
        shape("async fn f(&self) -> io::Result<()> { Ok(()) }")
            .0
            .kind,
        Kind::Async
    ));
    let (s, n) = shape(
        "fn f<'life0, 'async_trait>(&'life0 self) -> ::core::pin::Pin<Box<dyn ::core::future::Future<Output = Result<u8, E>> + ::core::marker::Send + 'async_trait>> { Box::pin(async move { Ok(1) }) }",
    );
    assert_eq!((n, s.receiver), (0, true));
    let Kind::BoxPin(BoxPin { callee, stmts }) = &s.kind else {
        panic!("the async-trait shape")
    };
    assert_eq!(quote::quote!(#callee).to_string(), "Box :: pin");
    assert_eq!(quote::quote!(#(#stmts)*).to_string(), "Ok (1)");
    let ret = s.ret.unwrap();
    assert_eq!(quote::quote!(#ret).to_string(), "Result < u8 , E >");
    // `Box::pin` of something else, or a return type that is not a boxed future: sync
    let (s, _) = shape("fn f() -> Result<u8, E> { Box::pin(async move { Ok(1) }) }");
    assert!(matches!(s.kind, Kind::Sync));
}

#[test]
fn refusals() {
    assert_eq!(
        refused("const fn f() -> Result<(), E> { Ok(()) }"),
        "`#[resilient]` cannot wrap a `const fn`: its body runs through the runtime; remove `const`"
    );
    assert_eq!(
        refused("extern \"C\" fn f() -> Result<(), E> { Ok(()) }"),
        "`#[resilient]` cannot wrap an `extern` function; wrap a Rust function and call it from the `extern` one"
    );
    assert_eq!(
        refused("fn f() {}"),
        "`#[resilient]` functions must return a `Result`: add `-> Result<T, E>` to `f` (with `E: From<staunch::Error>`)"
    );
    assert_eq!(refused("fn f() -> u32 { 1 }"), found("`u32`"));
    assert_eq!(
        refused("fn f() -> Option<u32> { None }"),
        found("`Option<…>`")
    );
    assert_eq!(refused("fn f() -> (u32, E) { todo!() }"), found("a tuple"));
    // an alias: left to the compiler
    assert_eq!(shape("fn f() -> Res<u32> { todo!() }").1, 0);
}

#[test]
fn every_return_type_that_cannot_be_a_result_is_named() {
    for (ret, what) in [
        ("()", "`()`"),
        ("(u32)", "`u32`"),
        ("((u32, E))", "a tuple"),
        ("&'static str", "a reference"),
        ("[u8; 4]", "an array"),
        ("[u8]", "a slice"),
        ("!", "`!`"),
        ("*const u8", "a pointer"),
        ("fn() -> u8", "a function pointer"),
        (
            "impl Future<Output = Result<u8, E>>",
            "`impl Trait` (for a future, write an `async fn`)",
        ),
        ("dyn Error", "a trait object"),
        ("Vec<u8>", "`Vec<…>`"),
        ("std::string::String", "`String`"),
    ] {
        assert_eq!(
            refused(&format!("fn f() -> {ret} {{ todo!() }}")),
            found(what),
            "{ret}"
        );
    }
    // a type passed through `macro_rules!` (`-> $ret`), in an invisible group
    let ret = proc_macro2::Group::new(proc_macro2::Delimiter::None, quote::quote!(u32));
    let f = syn::parse2(quote::quote!(fn f() -> #ret { 1 })).unwrap();
    assert_eq!(refused_fn(&f), found("`u32`"));
    // an associated type may be a `Result` whatever its name: left to the compiler
    assert_eq!(shape("fn f() -> <T as Api>::Option { todo!() }").1, 0);
}

/// Only `Box::pin(async move { .. })` returning a boxed `Future<Output = Result<..>>` is
/// wrapped as a future; any other body of a boxed future is refused at its return type.
#[test]
fn only_box_pin_of_an_async_move_block_is_wrapped_as_a_future() {
    let pinned = "::core::pin::Pin<Box<dyn ::core::future::Future<Output = Result<u8, E>> + Send>>";
    let (s, n) = shape(&format!(
        "fn f() -> {pinned} {{ Box::pin(async move {{ Ok(1) }}) }}"
    ));
    assert!(matches!((s.kind, n), (Kind::BoxPin(_), 0)));
    for (ret, body) in [
        // not `move`: wrapped, it would capture by move
        (pinned, "Box::pin(async { Ok(1) })"),
        (pinned, "FutureExt::boxed(async move { Ok(1) })"),
        // not a `Future` of `Output = …`
        (
            "Pin<Box<dyn Future<Item = Result<u8, E>>>>",
            "Box::pin(async move { Ok(1) })",
        ),
    ] {
        let item = format!("fn f() -> {ret} {{ {body} }}");
        assert_eq!(refused(&item), found("`Pin<…>`"), "{item}");
    }
}
