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

/// `item`, a function, as the compiler reads it: the same text for the same tokens, however
/// they were spaced or joined (`>>`).
fn function(item: &str) -> String {
    syn::parse_str::<ItemFn>(item)
        .unwrap()
        .to_token_stream()
        .to_string()
}

/// The messages of the compile errors that `attr` on `item` expands to, in order.
fn errors(attr: &str, item: &str) -> Vec<String> {
    use proc_macro2::TokenTree;
    let out = resilient(attr.parse().unwrap(), item.parse().unwrap());
    let tokens: Vec<TokenTree> = out.into_iter().collect();
    // `::core::compile_error! { "message" }`
    tokens
        .windows(3)
        .filter_map(|w| match w {
            [TokenTree::Ident(i), TokenTree::Punct(p), TokenTree::Group(g)]
                if i == "compile_error" && p.as_char() == '!' =>
            {
                Some(syn::parse2::<syn::LitStr>(g.stream()).unwrap().value())
            }
            _ => None,
        })
        .collect()
}

/// What `#[async_trait]` (0.1) makes of
/// `async fn ask(&self, id: u32, (a, b): (u8, u8), _: ()) -> Result<u32, E> { let sum = …; sum }`.
const ASYNC_TRAIT_ASK: &str = "
    fn ask<'life0, 'async_trait>(&'life0 self, id: u32, __arg2: (u8, u8), __arg3: ())
        -> ::core::pin::Pin<Box<dyn ::core::future::Future<Output = Result<u32, E>> + ::core::marker::Send + 'async_trait>>
    where 'life0: 'async_trait, Self: 'async_trait
    {
        Box::pin(async move {
            if let ::core::option::Option::Some(__ret) = ::core::option::Option::None::<Result<u32, E>> {
                #[allow(unreachable_code)]
                return __ret;
            }
            let __self = self;
            let id = id;
            let (a, b) = { let __arg2 = __arg2; __arg2 };
            let __arg3 = __arg3;
            let __ret: Result<u32, E> = { let sum = Ok(id + u32::from(a + b)); sum };
            #[allow(unreachable_code)]
            __ret
        })
    }";

#[test]
fn the_contract_example_expands_to_its_policy() {
    let out = expands(
        "retry(max = 3), breaker(threshold = 5), rps = 10, fallback = other",
        "fn ask(prompt: &str) -> Result<Reply, E> { call(prompt) }",
    );
    let expected = quote! {
        fn ask(prompt: &str) -> Result<Reply, E> {
            static __STAUNCH_POLICY: ::staunch::__private::FnCell = ::staunch::__private::FnCell::new();
            let __staunch_req = ::staunch::__private::Req::new();
            let __staunch_policy = __STAUNCH_POLICY.get_or_init(
                || ::staunch::__private::Policy::unnamed(::core::concat!(::core::module_path!(), "::", "ask")).from_attribute()
                    .retry(::staunch::__private::Retry::new().max(3))
                    .breaker(::staunch::__private::Breaker::new().threshold(5))
                    .rps(10.0)
            );
            let mut __staunch_call = __staunch_policy.begin_described::<Result<Reply, E>>(|__staunch_e| {
                use ::staunch::__private::{ClassifyViaDefault as _, ClassifyViaTrait as _};
                (&::staunch::__private::Probe(__staunch_e)).__staunch_class()
            }, |__staunch_e| {
                use ::staunch::__private::{DescribeViaDebug as _, DescribeViaDefault as _, DescribeViaDisplay as _};
                (&&::staunch::__private::Describe(__staunch_e)).__staunch_describe()
            });
            loop {
                match ::staunch::__private::Call::attempt_sync(&mut __staunch_call, __staunch_req, || { call(prompt) }) {
                    ::staunch::__private::Step::Done(__staunch_r) => break __staunch_r,
                    ::staunch::__private::Step::Again => {}
                    ::staunch::__private::Step::Fallback(__staunch_r) => break { ::staunch::__private::Call::fell_back(&__staunch_call, &__staunch_r); other(prompt) },
                }
            }
        }
    };
    assert_eq!(function(&out), function(&expected.to_string()));
}

#[test]
fn an_async_fn_without_options_runs_its_body_once() {
    let out = expands(
        "",
        "async fn ask(prompt: &str) -> Result<Reply, E> { call(prompt).await }",
    );
    let expected = quote! {
        async fn ask(prompt: &str) -> Result<Reply, E> {
            static __STAUNCH_POLICY: ::staunch::__private::FnCell = ::staunch::__private::FnCell::new();
            let __staunch_req = ::staunch::__private::Req::new();
            let __staunch_policy = __STAUNCH_POLICY.get_or_init(
                || ::staunch::__private::Policy::unnamed(::core::concat!(::core::module_path!(), "::", "ask")).from_attribute()
            );
            // without `retry`, no error is retryable, whatever the environment says
            let mut __staunch_call = __staunch_policy.begin_described::<Result<Reply, E>>(|__staunch_e| {
                use ::staunch::__private::{ClassifyViaDefault as _, ClassifyViaTrait as _};
                (&::staunch::__private::Probe(__staunch_e)).__staunch_class().retryable_if(false)
            }, |__staunch_e| {
                use ::staunch::__private::{DescribeViaDebug as _, DescribeViaDefault as _, DescribeViaDisplay as _};
                (&&::staunch::__private::Describe(__staunch_e)).__staunch_describe()
            });
            match ::staunch::__private::Call::attempt_async(&mut __staunch_call, __staunch_req, async { call(prompt).await }).await {
                ::staunch::__private::Step::Done(__staunch_r) | ::staunch::__private::Step::Fallback(__staunch_r) => __staunch_r,
                ::staunch::__private::Step::Again => ::core::unreachable!("`#[resilient]` without `retry` never retries"),
            }
        }
    };
    assert_eq!(function(&out), function(&expected.to_string()));
}

#[test]
fn every_option_of_retry_and_breaker_is_emitted() {
    let out = expands(
        "name = \"llm\", retry(max = 2, backoff = 1.5, delay = \"100ms\", max_delay = 1, jitter = false, on = transient, budget = 0.1), \
         breaker(threshold = 4, cooldown = 30, half_open = 2, max_half_open = \"1m\", on = counts)",
        "fn ask(prompt: &str) -> Result<Reply, E> { call(prompt) }",
    );
    let builder = quote! {
        get_or_init(|| ::staunch::__private::Policy::builder("llm").from_attribute()
            .retry(::staunch::__private::Retry::new()
                .max(2)
                .backoff(1.5)
                .delay(::core::time::Duration::from_nanos(100000000))
                .max_delay(::core::time::Duration::from_nanos(1000000000))
                .jitter(0.0)
                .budget(0.1))
            .breaker(::staunch::__private::Breaker::new()
                .threshold(4)
                .cooldown(::core::time::Duration::from_nanos(30000000000))
                .half_open(2)
                .max_half_open(::core::time::Duration::from_nanos(60000000000))))
    };
    assert!(out.contains(&builder.to_string()), "{out}");
    // the predicates decide, on the error
    let class = quote! {
        __staunch_class().retryable_if(transient(__staunch_e)).counting_if(counts(__staunch_e))
    };
    assert!(out.contains(&class.to_string()), "{out}");
}

#[test]
fn the_fallback_and_the_stale_key_get_every_argument() {
    let item = "fn f(id: u32, name: &str) -> Result<u32, E> { Ok(id) }";
    let fallback = expands("fallback = other", item);
    assert!(
        fallback.contains("fell_back (& __staunch_call , & __staunch_r) ; other (id , name)"),
        "{fallback}"
    );
    let stale = expands("stale", item);
    assert!(
        stale.contains(
            "let __staunch_stale_key = :: staunch :: __private :: key_hash (& (& id , & name ,)) ;"
        ),
        "{stale}"
    );
}

#[test]
fn a_free_fallback_is_called_by_its_path_a_method_s_through_self() {
    // the arm that calls the fallback, after the last attempt
    let fallback = |attr: &str, item: &str| {
        let out = expands(&format!("retry, {attr}"), item);
        let arm = out
            .find("fell_back (& __staunch_call , & __staunch_r) ; ")
            .expect("a fallback arm")
            + 47;
        let end = out[arm..].find(" } , }").expect("the last arm") + arm;
        out[arm..end].to_owned()
    };
    let free = "fn f(x: u32) -> Result<u32, E> { Ok(x) }";
    let method = "fn f(&self, x: u32) -> Result<u32, E> { Ok(x) }";
    assert_eq!(fallback("fallback = other", free), "other (x)");
    assert_eq!(
        fallback("fallback = other", method),
        "Self :: other (self , x)"
    );
    assert_eq!(
        fallback("fallback = crate::other", method),
        "crate :: other (self , x)"
    );
    assert_eq!(
        fallback("fallback = other", &format!("async {method}")),
        "Self :: other (self , x) . await"
    );
}

#[test]
fn patterns_are_bound_to_hidden_names_and_the_fallback_gets_the_whole_value() {
    let out = expands(
        "fallback = other",
        "fn f((a, b): (u8, u8), ref c: String, mut d: u8, _: ()) -> Result<u8, E> { d += a + b; Ok(d) }",
    );
    assert!(
        out.starts_with("fn f (__staunch_arg0 : (u8 , u8) , __staunch_arg1 : String , mut d : u8 , __staunch_arg3 : ())"),
        "{out}"
    );
    assert!(
        out.contains("|| { let (a , b) = __staunch_arg0 ; let ref c = __staunch_arg1 ; let _ = __staunch_arg3 ; d += a + b ; Ok (d) }"),
        "{out}"
    );
    assert!(
        out.contains("fell_back (& __staunch_call , & __staunch_r) ; other (__staunch_arg0 , __staunch_arg1 , d , __staunch_arg3)"),
        "{out}"
    );
    // without a fallback (nor `stale`), the parameters are left as written
    let out = expands(
        "retry",
        "fn f((a, b): (u8, u8), ref c: String) -> Result<u8, E> { Ok(a + b) }",
    );
    assert!(
        out.starts_with("fn f ((a , b) : (u8 , u8) , ref c : String)"),
        "{out}"
    );
}

#[test]
fn the_stale_key_leaves_out_the_receiver() {
    let out = expands("stale", "fn f(&self, id: u32) -> Result<u32, E> { Ok(id) }");
    assert!(out.contains("key_hash (& (& id ,))"), "{out}");
    let out = expands("stale", ASYNC_TRAIT_ASK);
    assert!(
        out.contains("key_hash (& (& id , & __arg2 , & __arg3 ,))"),
        "{out}"
    );
}

/// `#[async_trait]`'s body: the bindings that move the arguments into the future are made once,
/// before the first attempt; its type hint and the body proper stay in each attempt.
#[test]
fn async_trait_s_bindings_are_made_once_its_body_in_each_attempt() {
    let out = expands("retry, fallback = other", ASYNC_TRAIT_ASK);
    let expected = quote! {
        fn ask<'life0, 'async_trait>(&'life0 self, id: u32, __arg2: (u8, u8), __arg3: ())
            -> ::core::pin::Pin<Box<dyn ::core::future::Future<Output = Result<u32, E>> + ::core::marker::Send + 'async_trait>>
        where 'life0: 'async_trait, Self: 'async_trait
        {
            static __STAUNCH_POLICY: ::staunch::__private::FnCell = ::staunch::__private::FnCell::new();
            Box::pin(async move {
                let __staunch_req = ::staunch::__private::Req::new();
                let __self = self;
                let id = id;
                let (a, b) = { let __arg2 = __arg2; __arg2 };
                let __arg3 = __arg3;
                let __staunch_policy = __STAUNCH_POLICY.get_or_init(
                    || ::staunch::__private::Policy::unnamed(::core::concat!(::core::module_path!(), "::", "ask")).from_attribute()
                        .retry(::staunch::__private::Retry::new())
                );
                let mut __staunch_call = __staunch_policy.begin_described::<Result<u32, E>>(|__staunch_e| {
                    use ::staunch::__private::{ClassifyViaDefault as _, ClassifyViaTrait as _};
                    (&::staunch::__private::Probe(__staunch_e)).__staunch_class()
                }, |__staunch_e| {
                use ::staunch::__private::{DescribeViaDebug as _, DescribeViaDefault as _, DescribeViaDisplay as _};
                (&&::staunch::__private::Describe(__staunch_e)).__staunch_describe()
            });
                loop {
                    match ::staunch::__private::Call::attempt_async(&mut __staunch_call, __staunch_req, async {
                        if let ::core::option::Option::Some(__ret) = ::core::option::Option::None::<Result<u32, E>> {
                            #[allow(unreachable_code)]
                            return __ret;
                        }
                        let __ret: Result<u32, E> = { let sum = Ok(id + u32::from(a + b)); sum };
                        #[allow(unreachable_code)]
                        __ret
                    }).await {
                        ::staunch::__private::Step::Done(__staunch_r) => break __staunch_r,
                        ::staunch::__private::Step::Again => {}
                        // `self` was moved into `__self`
                        ::staunch::__private::Step::Fallback(__staunch_r) => break { ::staunch::__private::Call::fell_back(&__staunch_call, &__staunch_r); Self::other(__self, id, __arg2, __arg3).await },
                    }
                }
            })
        }
    };
    assert_eq!(function(&out), function(&expected.to_string()));
}

/// A `Box::pin(async move { .. })` written by hand: a trailing `if` is the body, and `self`
/// keeps its name.
#[test]
fn a_hand_written_box_pin_keeps_self_and_its_trailing_if() {
    let out = expands(
        "retry, fallback = other",
        "fn f<'a>(&'a self, x: u32) -> Pin<Box<dyn Future<Output = Result<u32, E>> + Send + 'a>> { Box::pin(async move { let x = x; if x > 0 { Ok(x) } else { Err(E) } }) }",
    );
    let policy = out.find("__STAUNCH_POLICY . get_or_init").unwrap();
    let hoisted = out.find("let x = x ;").unwrap();
    assert!(hoisted < policy, "{out}");
    assert!(
        out.contains("async { if x > 0 { Ok (x) } else { Err (E) } }"),
        "{out}"
    );
    assert!(
        out.contains(
            "fell_back (& __staunch_call , & __staunch_r) ; Self :: other (self , x) . await"
        ),
        "{out}"
    );
}

#[test]
fn a_syntax_error_in_a_group_is_the_only_error() {
    let item = "fn f() -> Result<(), E> { Ok(()) }";
    // parsing stops there: the unknown `zzz` after it is not reported
    assert_eq!(
        errors("retry(max = ), zzz = 1", item),
        ["unexpected end of input, expected a value after `=`"]
    );
    // the function is left as written
    let out = resilient("retry(max = )".parse().unwrap(), item.parse().unwrap()).to_string();
    assert!(
        out.ends_with("fn f () -> Result < () , E > { Ok (()) }"),
        "{out}"
    );
    // outside a group, the list is judged as a whole, with the other mistakes
    let all = errors("rps(max = ), zzz = 1", item);
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(all[0], "`rps` takes a value, not a list: write `rps = 10`");
    assert!(all[1].starts_with("unknown option `zzz`"), "{all:?}");
}

#[test]
fn chaos_is_emitted_the_same_in_every_build() {
    let out = expands(
        "name = \"rehearsal\", chaos(reject = 0.05, latency = \"200ms\", error = 0.1, latency_rate = 0.2)",
        "fn ask(prompt: &str) -> Result<Reply, E> { call(prompt) }",
    );
    let builder = quote! {
        get_or_init(|| ::staunch::__private::Policy::builder("rehearsal").from_attribute()
            .chaos(::staunch::__private::Chaos::new()
                .error(0.1)
                .latency_rate(0.2)
                .reject(0.05)
                .latency(::core::time::Duration::from_nanos(200000000))))
    };
    assert!(out.contains(&builder.to_string()), "{out}");
}
