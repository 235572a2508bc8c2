//! What the attribute emits.
//!
//! ```text
//! fn f(args) -> Ret {
//!     static __STAUNCH_POLICY: FnCell = FnCell::new();
//!     let __staunch_req = Req::new();                      // .key(key_hash(&(key))) once
//!     let mut __staunch_call = __STAUNCH_POLICY.get_or_init(|| Policy::…).begin::<Ret>(classify);
//!     loop {                                               // no loop without `retry`
//!         match __staunch_call.attempt_sync(__staunch_req, || { body }) {  // `async { body }`
//!             Step::Done(r) => break r,
//!             Step::Again => {}
//!             Step::Fallback(r) => break fallback(args),   // or `r` without a fallback
//!         }
//!     }
//! }
//! ```

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{AttrStyle, Expr, FnArg, ItemFn, Pat, Signature, Stmt, Type};

use crate::args;
use crate::errors::Errors;
use crate::shape::{Kind, Shape};
use crate::validate::{
    is_group, validate, BreakerConfig, ChaosConfig, Config, HedgeConfig, Rate, RetryConfig,
    StaleConfig,
};

/// The whole attribute: parse, check, expand; on any mistake, every error plus the function as
/// written (so nothing else breaks because of it).
pub fn resilient(attr: TokenStream, item: TokenStream) -> TokenStream {
    let f: ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(_) => {
            let e = syn::Error::new(
                Span::call_site(),
                "`#[resilient]` applies to a `fn` or `async fn` with a body",
            );
            return with(e, item);
        }
    };
    let opts = match args::parse(attr, is_group) {
        Ok(opts) => opts,
        Err(e) => return with(e, item),
    };
    let mut errors = Errors::default();
    let shape = Shape::of(&f, &mut errors);
    let cfg = validate(&opts, &shape, &mut errors);
    match errors.finish() {
        Some(e) => with(e, item),
        None => expand(f, &shape, &cfg),
    }
}

fn with(e: syn::Error, item: TokenStream) -> TokenStream {
    let mut out = e.to_compile_error();
    out.extend(item);
    out
}

/// A local of the generated code, invisible to the user's code.
fn local(name: &str) -> Ident {
    Ident::new(name, Span::mixed_site())
}

/// `ident`, located at `span` (resolved where it was written): a clone, so a raw identifier
/// (`r#type`) stays one.
fn located_at(ident: &Ident, span: Span) -> Ident {
    let mut ident = ident.clone();
    ident.set_span(ident.span().located_at(span));
    ident
}

/// The final assembly: the function as written, its body replaced by the policy's.
fn expand(f: ItemFn, shape: &Shape, cfg: &Config) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        mut sig,
        block,
    } = f;
    let ret = shape
        .ret
        .as_ref()
        .expect("a refused function is not expanded");
    let (inner, outer): (Vec<_>, Vec<_>) = attrs
        .into_iter()
        .partition(|a| matches!(a.style, AttrStyle::Inner(_)));

    // the async-trait shape: the `async move` block's leading `let x = x;` move the arguments
    // into the future once; they stay outside the attempts, which borrow them
    let (boxed, mut stmts) = match &shape.kind {
        Kind::BoxPin(b) => (Some(&b.callee), b.stmts.clone()),
        Kind::Sync | Kind::Async => (None, block.stmts),
    };
    let prelude: Vec<Stmt> = if boxed.is_some() {
        hoist(&mut stmts)
    } else {
        Vec::new()
    };
    let forward = if cfg.fallback.is_some() || cfg.stale.is_some() {
        forward(&mut sig, &prelude)
    } else {
        Forward::default()
    };

    let rebinds = &forward.rebinds;
    let body = quote!({ #(#rebinds)* #(#stmts)* });
    // the loop and the attempt's closure point at `retry`, so that an argument the body
    // consumes is reported as moved "in previous iteration of loop" there
    let at = cfg.retry.as_ref().map_or(Span::call_site(), |r| r.span);
    let attempt = attempt(shape, ret, body, at, cfg.hedge.as_ref().map(|h| h.span));
    let fallback = cfg
        .fallback
        .as_ref()
        .map(|path| fallback_call(path, &forward.names, shape, cfg.fallback_why));
    let mut run = run(cfg.retry.is_some(), &attempt, fallback, at);
    let mut stale_static = None;
    let mut stale_key = None;
    if let Some(st) = &cfg.stale {
        let stale = stale(st, &forward.names, shape, &run);
        (stale_static, stale_key, run) = (Some(stale.item), Some(stale.key), stale.run);
    }
    let setup = setup(cfg, &sig, ret, stale_key, &prelude);
    let policy = quote!(__STAUNCH_POLICY);
    let inner_body = match boxed {
        Some(func) => quote!(#func(async move { #setup #run })),
        None => quote!(#setup #run),
    };
    quote! {
        #(#outer)*
        #vis #sig {
            #(#inner)*
            static #policy: ::staunch::__private::FnCell = ::staunch::__private::FnCell::new();
            #stale_static
            #inner_body
        }
    }
}

/// What the fallback and the stale cache are handed: each argument by name, patterns being
/// bound to a name first.
#[derive(Default)]
struct Forward {
    /// `let pattern = __staunch_argN;`, at the start of each attempt.
    rebinds: Vec<TokenStream>,
    /// The arguments, `self` (or async-trait's `__self`) included.
    names: Vec<Ident>,
}

/// Names every argument of `sig`, replacing a pattern (`(a, b): (u32, u32)`) by a hidden name.
fn forward(sig: &mut Signature, prelude: &[Stmt]) -> Forward {
    let mut forward = Forward::default();
    let renamed_self = prelude.iter().any(|s| binds(s, "__self"));
    for (i, arg) in sig.inputs.iter_mut().enumerate() {
        match arg {
            FnArg::Receiver(r) => {
                let name = if renamed_self { "__self" } else { "self" };
                forward.names.push(Ident::new(name, r.self_token.span));
            }
            FnArg::Typed(pt) => match &*pt.pat {
                Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => {
                    forward.names.push(p.ident.clone());
                }
                pat => {
                    let name = Ident::new(
                        &format!("__staunch_arg{i}"),
                        Span::mixed_site().located_at(pat.span()),
                    );
                    forward.rebinds.push(quote!(let #pat = #name;));
                    *pt.pat = syn::parse_quote!(#name);
                    forward.names.push(name);
                }
            },
        }
    }
    forward
}

/// One attempt: `Call::attempt_sync(&mut call, req, || body)`, or `attempt_async` with an
/// `async` block, `.await`ed; with `hedge` (written at `hedge`), `attempt_hedged` with a
/// closure that makes the `async` block, once per copy (spanned on `hedge`, so a body that
/// moves or changes what it captures is reported there).
fn attempt(
    shape: &Shape,
    ret: &Type,
    body: TokenStream,
    at: Span,
    hedge: Option<Span>,
) -> TokenStream {
    let call = local("__staunch_call");
    let req = local("__staunch_req");
    let ret_span = ret.span();
    if let Some(h) = hedge {
        // bound first, so that its kind is inferred from the body: a body that moves or
        // changes what it captures is then reported as "this closure implements `FnOnce`, not
        // `Fn`", naming the variable, rather than as a move out of an `Fn` closure
        let make = local("__staunch_make");
        let closure = quote_spanned!(h=> let #make = || async #body;);
        let mut args = proc_macro2::Group::new(
            proc_macro2::Delimiter::Parenthesis,
            quote!(&mut #call, #req, #make),
        );
        args.set_span(ret_span);
        return quote_spanned!(ret_span=> {
            #closure
            ::staunch::__private::Call::attempt_hedged #args.await
        });
    }
    let args = if shape.kind.is_sync() {
        let closure = quote_spanned!(at=> ||);
        quote!(&mut #call, #req, #closure #body)
    } else {
        let block = quote_spanned!(at=> async);
        quote!(&mut #call, #req, #block #body)
    };
    // the attempt calls (and `begin::<Ret>`) are spanned on the return type: a return type that
    // is not a `Result`, or whose error lacks `From<staunch::Error>`, is reported there, once
    // (rustc reports an unmet bound once per span)
    let mut args = proc_macro2::Group::new(proc_macro2::Delimiter::Parenthesis, args);
    args.set_span(ret_span);
    if shape.kind.is_sync() {
        quote_spanned!(ret_span=> ::staunch::__private::Call::attempt_sync #args)
    } else {
        quote_spanned!(ret_span=> ::staunch::__private::Call::attempt_async #args.await)
    }
}

/// The attempts and what comes after the last: a loop with `retry`, the fallback's call when
/// there is one.
/// The fallback's call is reported first ([`Call::fell_back`]); with `why`, it says why from
/// the result it replaces.
fn run(retry: bool, attempt: &TokenStream, fallback: Option<TokenStream>, at: Span) -> TokenStream {
    let r = local("__staunch_r");
    let call = local("__staunch_call");
    // the fallback is reported (an event) before it runs; `why` then takes the result
    let handed = quote!(#r);
    let fb = fallback.map(|fb| {
        quote!({
            ::staunch::__private::Call::fell_back(&#call, &#r);
            #fb
        })
    });
    let loop_ = quote_spanned!(at=> loop);
    let step = quote!(::staunch::__private::Step);
    match (retry, fb) {
        (true, Some(fb)) => quote! {
            #loop_ {
                match #attempt {
                    #step::Done(#r) => break #r,
                    #step::Again => {}
                    #step::Fallback(#handed) => break #fb,
                }
            }
        },
        (true, None) => quote! {
            #loop_ {
                match #attempt {
                    #step::Done(#r) | #step::Fallback(#r) => break #r,
                    #step::Again => {}
                }
            }
        },
        (false, Some(fb)) => quote! {
            match #attempt {
                #step::Done(#r) => #r,
                #step::Fallback(#handed) => #fb,
                #step::Again => ::core::unreachable!("`#[resilient]` without `retry` never retries"),
            }
        },
        (false, None) => quote! {
            match #attempt {
                #step::Done(#r) | #step::Fallback(#r) => #r,
                #step::Again => ::core::unreachable!("`#[resilient]` without `retry` never retries"),
            }
        },
    }
}

/// `stale(…)`: the cache, the arguments' hash, and `run` settled through the cache.
struct StaleParts {
    /// `static __STAUNCH_STALE: Stale = Stale::new(…);`
    item: TokenStream,
    /// `let __staunch_stale_key = key_hash(&(&arg, …));`
    key: TokenStream,
    /// The outcome of `run`, answered from the cache when it is an error.
    run: TokenStream,
}

/// The stale cache of `st`; the sizes not written are the runtime's defaults.
fn stale(st: &StaleConfig, forward: &[Ident], shape: &Shape, run: &TokenStream) -> StaleParts {
    let stale = quote!(::staunch::__private::Stale);
    let cap = st.capacity.map_or_else(
        || quote!(#stale::DEFAULT_CAPACITY),
        |n| Literal::u32_unsuffixed(n).into_token_stream(),
    );
    let age = st
        .max_age
        .map_or_else(|| quote!(#stale::DEFAULT_MAX_AGE), nanos);
    let item = quote! {
        static __STAUNCH_STALE: ::staunch::__private::Stale =
            ::staunch::__private::Stale::new(#cap, #age);
    };
    // the arguments (not `self`), hashed once before the first attempt
    let stale_key = local("__staunch_stale_key");
    let args = forward
        .iter()
        .filter(|a| *a != "self" && *a != "__self")
        .map(|a| located_at(a, st.span));
    let key = quote_spanned!(st.span=>
        let #stale_key = ::staunch::__private::key_hash(&(#(&#args,)*));
    );
    let settle = if shape.kind.is_sync() {
        quote_spanned!(st.span=> stale_sync)
    } else {
        quote_spanned!(st.span=> stale_async)
    };
    let (out, policy) = (local("__staunch_out"), local("__staunch_policy"));
    let run = quote! {
        let #out = #run;
        #policy.#settle(&__STAUNCH_STALE, #stale_key, #out)
    };
    StaleParts { item, key, run }
}

/// Before the first attempt: the request (its key and cost), the stale key, async-trait's
/// moved arguments, the policy (made at the first call) and the call.
fn setup(
    cfg: &Config,
    sig: &Signature,
    ret: &Type,
    stale_key: Option<TokenStream>,
    prelude: &[Stmt],
) -> TokenStream {
    let (req, call, policy) = (
        local("__staunch_req"),
        local("__staunch_call"),
        local("__staunch_policy"),
    );
    let mut req_value = quote!(::staunch::__private::Req::new());
    // one key for the limiter and the breaker (validation made sure they are the same)
    let key = cfg
        .key
        .as_ref()
        .or_else(|| cfg.breaker.as_ref().and_then(|b| b.key.as_ref()));
    if let Some(k) = key {
        // with `redis`, every replica must hash a key alike: a hash seeded the same everywhere
        let hash = if cfg.redis.is_some() {
            "shared_key_hash"
        } else {
            "key_hash"
        };
        // spanned on the key, as the rest of the call: a key that is not `Hash` is reported there
        let hash = Ident::new(hash, k.span());
        req_value.extend(quote_spanned!(k.span()=> .key(::staunch::__private::#hash(&(#k)))));
    }
    if let Some(c) = &cfg.cost {
        req_value.extend(quote_spanned!(c.span()=> .cost(#c)));
    }
    let usage = cfg
        .usage
        .as_ref()
        .map(|u| quote_spanned!(u.span()=> .usage(#u)));
    let make = builder(cfg, &sig.ident);
    let classify = classify(cfg);
    let begin = quote_spanned!(ret.span()=> begin_described::<#ret>);
    let e = local("__staunch_e");
    // the error's text in events: its `Display`, else its `Debug`, else its type's name
    let describe = quote! {
        |#e| {
            use ::staunch::__private::{DescribeViaDebug as _, DescribeViaDefault as _, DescribeViaDisplay as _};
            (&&::staunch::__private::Describe(#e)).__staunch_describe()
        }
    };
    quote! {
        let #req = #req_value;
        #stale_key
        #(#prelude)*
        let #policy = __STAUNCH_POLICY.get_or_init(#make);
        let mut #call = #policy.#begin(#classify, #describe) #usage;
    }
}

/// Takes out of `stmts` the bindings that move the arguments into an `async move` block
/// (`let x = x;`, `let __self = self;`, `let (a, b) = { let __arg1 = __arg1; __arg1 };`),
/// among the statements before the body proper.
fn hoist(stmts: &mut Vec<Stmt>) -> Vec<Stmt> {
    let mut hoisted = Vec::new();
    let mut i = 0;
    while i < stmts.len() {
        match &stmts[i] {
            Stmt::Local(l) if moves_an_argument(l) => hoisted.push(stmts.remove(i)),
            // async-trait's type hint, `if let Some(__ret) = None::<Ret> { return __ret; }`
            Stmt::Expr(Expr::If(_), _) => i += 1,
            _ => break,
        }
    }
    hoisted
}

fn moves_an_argument(l: &syn::Local) -> bool {
    let Some(init) = &l.init else { return false };
    if init.diverge.is_some() || binds_name(&l.pat, "__ret") {
        return false;
    }
    match &*init.expr {
        Expr::Path(p) => p.path.get_ident().is_some(),
        Expr::Block(b) => {
            matches!(
                b.block.stmts.as_slice(),
                [Stmt::Local(_), Stmt::Expr(Expr::Path(_), None)]
            )
        }
        _ => false,
    }
}

fn binds(s: &Stmt, name: &str) -> bool {
    matches!(s, Stmt::Local(l) if binds_name(&l.pat, name))
}

fn binds_name(pat: &Pat, name: &str) -> bool {
    match pat {
        Pat::Ident(p) => p.ident == name,
        Pat::Type(t) => binds_name(&t.pat, name),
        _ => false,
    }
}

/// `path(args)` (with `why` last for `fallback_why`), `Self::path(self, args)` in a method;
/// `.await`ed for an async function. Every token is located at the path in the attribute, so a
/// signature mismatch is reported there.
fn fallback_call(path: &syn::Path, forward: &[Ident], shape: &Shape, why: bool) -> TokenStream {
    let span = path.span();
    let mut args: Vec<TokenStream> = forward
        .iter()
        .map(|a| located_at(a, span).to_token_stream())
        .collect();
    if why {
        let call = local("__staunch_call");
        let r = local("__staunch_r");
        args.push(quote_spanned!(span=> ::staunch::__private::Call::why(&#call, #r)));
    }
    let callee = if shape.receiver && path.get_ident().is_some() {
        quote_spanned!(span=> Self::#path)
    } else {
        path.to_token_stream()
    };
    let call = quote_spanned!(span=> #callee(#(#args),*));
    if shape.kind.is_sync() {
        call
    } else {
        quote_spanned!(span=> #call.await)
    }
}

fn nanos(n: u64) -> TokenStream {
    let n = Literal::u64_unsuffixed(n);
    quote!(::core::time::Duration::from_nanos(#n))
}

fn float(v: f64) -> Literal {
    Literal::f64_unsuffixed(v)
}

/// `|| Policy::builder(name)…`: only the options written (the runtime holds the defaults).
fn builder(cfg: &Config, fn_name: &Ident) -> TokenStream {
    let mut b = match &cfg.name {
        Some(name) => quote!(::staunch::__private::Policy::builder(#name)),
        None => {
            let name = fn_name.to_string();
            let name = name.strip_prefix("r#").unwrap_or(&name);
            quote!(::staunch::__private::Policy::unnamed(
                ::core::concat!(::core::module_path!(), "::", #name)
            ))
        }
    };
    // first, so that every value after it is the attribute's
    b.extend(quote!(.from_attribute()));
    if let Some(r) = &cfg.retry {
        let r = retry(r);
        b.extend(quote!(.retry(#r)));
    }
    if let Some(br) = &cfg.breaker {
        let br = breaker(br);
        b.extend(quote!(.breaker(#br)));
    }
    match cfg.rate {
        Some(Rate::PerSecond(v)) => {
            let v = float(v);
            b.extend(quote!(.rps(#v)));
        }
        Some(Rate::PerMinute(v)) => {
            let v = float(v);
            b.extend(quote!(.rpm(#v)));
        }
        None => {}
    }
    if let Some(v) = cfg.tpm {
        let v = float(v);
        b.extend(quote!(.tpm(#v)));
    }
    if let Some(n) = cfg.burst {
        let n = Literal::u32_unsuffixed(n);
        b.extend(quote!(.burst(#n)));
    }
    if cfg.key.is_some() {
        b.extend(quote!(.keyed()));
    }
    if let Some(d) = cfg.wait {
        let d = nanos(d);
        b.extend(quote!(.wait(#d)));
    }
    if let Some(n) = cfg.max_inflight {
        let n = Literal::u32_unsuffixed(n);
        b.extend(quote!(.max_inflight(#n)));
    }
    if let Some(n) = cfg.queue {
        let n = Literal::u32_unsuffixed(n);
        b.extend(quote!(.queue(#n)));
    }
    if let Some(d) = cfg.queue_wait {
        let d = nanos(d);
        b.extend(quote!(.queue_wait(#d)));
    }
    if let Some(d) = cfg.deadline {
        let d = nanos(d);
        b.extend(quote!(.deadline(#d)));
    }
    if let Some(d) = cfg.timeout {
        let d = nanos(d);
        b.extend(quote!(.timeout(#d)));
    }
    if let Some(c) = &cfg.chaos {
        let c = chaos(c);
        b.extend(quote!(.chaos(#c)));
    }
    if let Some(h) = &cfg.hedge {
        let h = hedge(h);
        b.extend(quote!(.hedge(#h)));
    }
    if let Some(r) = &cfg.redis {
        let mut t = quote!(::staunch::__private::Redis::new());
        match r.fail_closed {
            Some(true) => t.extend(quote!(.fail_closed())),
            Some(false) => t.extend(quote!(.fail_open())),
            None => {}
        }
        if let Some(d) = r.timeout {
            let d = nanos(d);
            t.extend(quote!(.timeout(#d)));
        }
        if let Some(p) = &r.prefix {
            t.extend(quote!(.prefix(#p)));
        }
        b.extend(quote!(.redis(#t)));
    }
    quote!(|| #b)
}

/// `Chaos::new()…`: the same in every build, the `chaos` feature or not (the runtime decides
/// whether it injects).
fn chaos(c: &ChaosConfig) -> TokenStream {
    let mut t = quote!(::staunch::__private::Chaos::new());
    for (setter, rate) in [
        ("error", c.error),
        ("latency_rate", c.latency_rate),
        ("reject", c.reject),
    ] {
        if let Some(v) = rate {
            let setter = Ident::new(setter, Span::call_site());
            let v = float(v);
            t.extend(quote!(.#setter(#v)));
        }
    }
    if let Some(d) = c.latency {
        let d = nanos(d);
        t.extend(quote!(.latency(#d)));
    }
    t
}

fn hedge(h: &HedgeConfig) -> TokenStream {
    let mut t = quote!(::staunch::__private::Hedge::new());
    if let Some(d) = h.after {
        let d = nanos(d);
        t.extend(quote!(.after(#d)));
    }
    if let Some(p) = h.percentile {
        let p = float(p);
        t.extend(quote!(.percentile(#p)));
    }
    if let Some(d) = h.min_after {
        let d = nanos(d);
        t.extend(quote!(.min_after(#d)));
    }
    if let Some(n) = h.max {
        let n = Literal::u32_unsuffixed(n);
        t.extend(quote!(.max(#n)));
    }
    t
}

fn retry(r: &RetryConfig) -> TokenStream {
    let mut t = quote!(::staunch::__private::Retry::new());
    if let Some(n) = r.max {
        let n = Literal::u32_unsuffixed(n);
        t.extend(quote!(.max(#n)));
    }
    if let Some(v) = r.backoff {
        let v = float(v);
        t.extend(quote!(.backoff(#v)));
    }
    if let Some(d) = r.delay {
        let d = nanos(d);
        t.extend(quote!(.delay(#d)));
    }
    if let Some(d) = r.max_delay {
        let d = nanos(d);
        t.extend(quote!(.max_delay(#d)));
    }
    if let Some(v) = r.jitter {
        let v = float(v);
        t.extend(quote!(.jitter(#v)));
    }
    if let Some(v) = r.budget {
        let v = float(v);
        t.extend(quote!(.budget(#v)));
    }
    t
}

fn breaker(b: &BreakerConfig) -> TokenStream {
    let mut t = quote!(::staunch::__private::Breaker::new());
    if let Some(n) = b.threshold {
        let n = Literal::u32_unsuffixed(n);
        t.extend(quote!(.threshold(#n)));
    }
    if let Some(d) = b.cooldown {
        let d = nanos(d);
        t.extend(quote!(.cooldown(#d)));
    }
    if let Some(n) = b.half_open {
        let n = Literal::u32_unsuffixed(n);
        t.extend(quote!(.half_open(#n)));
    }
    if let Some(d) = b.max_half_open {
        let d = nanos(d);
        t.extend(quote!(.max_half_open(#d)));
    }
    if b.key.is_some() {
        t.extend(quote!(.keyed()));
    }
    if let Some(n) = b.max_keys {
        let n = Literal::u32_unsuffixed(n);
        t.extend(quote!(.max_keys(#n)));
    }
    for (name, v) in [
        ("failure_rate", b.failure_rate),
        ("slow_rate", b.slow_rate),
        ("cooldown_multiplier", b.cooldown_multiplier),
    ] {
        if let Some(v) = v {
            let (name, v) = (Ident::new(name, Span::call_site()), float(v));
            t.extend(quote!(.#name(#v)));
        }
    }
    for (name, n) in [("window_calls", b.window_calls), ("min_calls", b.min_calls)] {
        if let Some(n) = n {
            let (name, n) = (
                Ident::new(name, Span::call_site()),
                Literal::u32_unsuffixed(n),
            );
            t.extend(quote!(.#name(#n)));
        }
    }
    for (name, d) in [
        ("window_time", b.window_time),
        ("slow_call", b.slow_call),
        ("max_cooldown", b.max_cooldown),
    ] {
        if let Some(d) = d {
            let (name, d) = (Ident::new(name, Span::call_site()), nanos(d));
            t.extend(quote!(.#name(#d)));
        }
    }
    t
}

/// `|e| class of e`: the error's own `Classify` if it has one (autoref specialization), else
/// the default; `retry(on = pred)` decides retryability and `breaker(on = pred)` what counts
/// against the breaker; without `retry` nothing is retryable, so an environment override cannot
/// ask for an attempt the body may not allow.
fn classify(cfg: &Config) -> TokenStream {
    let e = local("__staunch_e");
    let mut class = quote!((&::staunch::__private::Probe(#e)).__staunch_class());
    // `on(e)`, spanned on the path: a wrong signature is reported there
    let ask = |on: &syn::Path| {
        let span = on.span();
        let arg = Ident::new("__staunch_e", Span::mixed_site().located_at(span));
        quote_spanned!(span=> #on(#arg))
    };
    match &cfg.retry {
        Some(RetryConfig { on: Some(on), .. }) => {
            let pred = ask(on);
            class.extend(quote!(.retryable_if(#pred)));
        }
        Some(_) => {}
        None => class.extend(quote!(.retryable_if(false))),
    }
    if let Some(on) = cfg.breaker.as_ref().and_then(|b| b.on.as_ref()) {
        let pred = ask(on);
        class.extend(quote!(.counting_if(#pred)));
    }
    quote! {
        |#e| {
            use ::staunch::__private::{ClassifyViaDefault as _, ClassifyViaTrait as _};
            #class
        }
    }
}

#[cfg(test)]
mod tests;
