//! What the user wrote inside `#[resilient(...)]`, parsed but not yet judged.
//!
//! Parsing is lenient on purpose: every `key`, `key = value` or `key(...)` is accepted here,
//! known or not, with its spans, so that [`validate`](crate::validate) can report every mistake
//! of one attribute at once. Only malformed syntax (`rps = ,`) stops parsing.

use proc_macro2::TokenStream;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{token, Expr, Ident, Token};

/// The option keywords, for peeking.
pub mod kw {
    syn::custom_keyword!(name);
    syn::custom_keyword!(retry);
    syn::custom_keyword!(breaker);
    syn::custom_keyword!(rps);
    syn::custom_keyword!(rpm);
    syn::custom_keyword!(burst);
    syn::custom_keyword!(key);
    syn::custom_keyword!(wait);
    syn::custom_keyword!(max_inflight);
    syn::custom_keyword!(timeout);
    syn::custom_keyword!(fallback);
    syn::custom_keyword!(tpm);
    syn::custom_keyword!(cost);
    syn::custom_keyword!(usage);
    syn::custom_keyword!(stale);
    // stale(...)
    syn::custom_keyword!(max_age);
    syn::custom_keyword!(capacity);
    syn::custom_keyword!(budget);
    // retry(...)
    syn::custom_keyword!(max);
    syn::custom_keyword!(backoff);
    syn::custom_keyword!(delay);
    syn::custom_keyword!(max_delay);
    syn::custom_keyword!(jitter);
    syn::custom_keyword!(on);
    // breaker(...)
    syn::custom_keyword!(threshold);
    syn::custom_keyword!(cooldown);
    syn::custom_keyword!(half_open);
}

/// How an option was written after its key.
pub enum Value<L> {
    /// `key` alone.
    Flag,
    /// `key = expr`.
    Assign(Expr),
    /// `key(...)`, with the list parsed as `L`.
    List(token::Paren, L),
}

/// One option: its key (with the key's span) and what followed it.
pub struct Opt<K, L = TokenStream> {
    /// Which option.
    pub key: K,
    /// The key as written, for messages and spans.
    pub ident: Ident,
    /// What followed the key.
    pub value: Value<L>,
}

/// The top-level options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Top {
    Name,
    Retry,
    Breaker,
    Rps,
    Rpm,
    Burst,
    Key,
    Wait,
    MaxInflight,
    Timeout,
    Fallback,
    Tpm,
    Cost,
    Usage,
    Stale,
    Unknown,
}

/// The options of `retry(...)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryKey {
    Max,
    Backoff,
    Delay,
    MaxDelay,
    Jitter,
    On,
    Budget,
    Unknown,
}

/// The options of `breaker(...)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerKey {
    Threshold,
    Cooldown,
    HalfOpen,
    Unknown,
}

/// The options of `stale(...)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StaleKey {
    MaxAge,
    Capacity,
    Unknown,
}

/// Everything inside `#[resilient(...)]`, in the order written.
pub struct Args {
    pub opts: Vec<TopOpt>,
}

/// One top-level option; `retry` and `breaker` carry their parsed lists.
pub enum TopOpt {
    Retry(Opt<Top, RetryArgs>),
    Breaker(Opt<Top, BreakerArgs>),
    Stale(Opt<Top, StaleArgs>),
    Other(Opt<Top>),
}

/// Everything inside `retry(...)`.
pub struct RetryArgs {
    pub opts: Vec<Opt<RetryKey>>,
}

/// Everything inside `breaker(...)`.
pub struct BreakerArgs {
    pub opts: Vec<Opt<BreakerKey>>,
}

/// Everything inside `stale(...)`.
pub struct StaleArgs {
    pub opts: Vec<Opt<StaleKey>>,
}

/// The names of the top-level options, for "did you mean".
pub const TOP_NAMES: &[&str] = &[
    "name",
    "retry",
    "breaker",
    "rps",
    "rpm",
    "burst",
    "key",
    "wait",
    "max_inflight",
    "timeout",
    "fallback",
    "tpm",
    "cost",
    "usage",
    "stale",
];
/// The names of the options of `retry(...)`.
pub const RETRY_NAMES: &[&str] = &[
    "max",
    "backoff",
    "delay",
    "max_delay",
    "jitter",
    "on",
    "budget",
];
/// The names of the options of `stale(...)`.
pub const STALE_NAMES: &[&str] = &["max_age", "capacity"];
/// The names of the options of `breaker(...)`.
pub const BREAKER_NAMES: &[&str] = &["threshold", "cooldown", "half_open"];

/// Reads the key of an option: a known keyword (peeked as such) or any other identifier.
/// Peeks for one keyword.
type Peek = fn(ParseStream) -> bool;

fn key<K: Copy>(input: ParseStream, known: &[(Peek, K)], unknown: K) -> syn::Result<(K, Ident)> {
    let which = known
        .iter()
        .find(|(peek, _)| peek(input))
        .map_or(unknown, |(_, k)| *k);
    let lookahead = input.lookahead1();
    if lookahead.peek(Ident::peek_any) {
        Ok((which, input.call(Ident::parse_any)?))
    } else {
        Err(syn::Error::new(
            input.span(),
            "expected an option such as `retry(max = 3)`, `rps = 10` or `fallback = path`",
        ))
    }
}

/// Reads what follows a key: nothing, `= expr` or `(list)`.
fn value<L: Parse>(input: ParseStream) -> syn::Result<Value<L>> {
    if input.peek(Token![=]) {
        input.parse::<Token![=]>()?;
        if input.is_empty() || input.peek(Token![,]) {
            return Err(input.error("expected a value after `=`"));
        }
        Ok(Value::Assign(input.parse()?))
    } else if input.peek(token::Paren) {
        let content;
        let paren = syn::parenthesized!(content in input);
        Ok(Value::List(paren, content.parse()?))
    } else if input.is_empty() || input.peek(Token![,]) {
        Ok(Value::Flag)
    } else {
        Err(input.error("expected `=`, `(` or `,` after the option's name"))
    }
}

/// Parses `opt, opt, ...` (a trailing comma allowed) with `one` reading each option.
fn list<T>(input: ParseStream, one: fn(ParseStream) -> syn::Result<T>) -> syn::Result<Vec<T>> {
    let opts: Punctuated<T, Token![,]> = Punctuated::parse_terminated_with(input, one)?;
    Ok(opts.into_iter().collect())
}

macro_rules! peekers {
    ($($kw:ident => $key:expr),* $(,)?) => {
        [$(((|input: ParseStream| input.peek(kw::$kw)) as Peek, $key)),*]
    };
}

impl Parse for Args {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let opts = list(input, |input| {
            let known = peekers![
                name => Top::Name,
                retry => Top::Retry,
                breaker => Top::Breaker,
                rps => Top::Rps,
                rpm => Top::Rpm,
                burst => Top::Burst,
                key => Top::Key,
                wait => Top::Wait,
                max_inflight => Top::MaxInflight,
                timeout => Top::Timeout,
                fallback => Top::Fallback,
                tpm => Top::Tpm,
                cost => Top::Cost,
                usage => Top::Usage,
                stale => Top::Stale,
            ];
            let (key, ident) = key(input, &known, Top::Unknown)?;
            Ok(match key {
                Top::Retry => TopOpt::Retry(Opt {
                    key,
                    ident,
                    value: value(input)?,
                }),
                Top::Breaker => TopOpt::Breaker(Opt {
                    key,
                    ident,
                    value: value(input)?,
                }),
                Top::Stale => TopOpt::Stale(Opt {
                    key,
                    ident,
                    value: value(input)?,
                }),
                _ => TopOpt::Other(Opt {
                    key,
                    ident,
                    value: value(input)?,
                }),
            })
        })?;
        Ok(Args { opts })
    }
}

impl Parse for RetryArgs {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let opts = list(input, |input| {
            let known = peekers![
                max => RetryKey::Max,
                backoff => RetryKey::Backoff,
                delay => RetryKey::Delay,
                max_delay => RetryKey::MaxDelay,
                jitter => RetryKey::Jitter,
                on => RetryKey::On,
                budget => RetryKey::Budget,
            ];
            let (key, ident) = key(input, &known, RetryKey::Unknown)?;
            Ok(Opt {
                key,
                ident,
                value: value(input)?,
            })
        })?;
        Ok(RetryArgs { opts })
    }
}

impl Parse for BreakerArgs {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let opts = list(input, |input| {
            let known = peekers![
                threshold => BreakerKey::Threshold,
                cooldown => BreakerKey::Cooldown,
                half_open => BreakerKey::HalfOpen,
            ];
            let (key, ident) = key(input, &known, BreakerKey::Unknown)?;
            Ok(Opt {
                key,
                ident,
                value: value(input)?,
            })
        })?;
        Ok(BreakerArgs { opts })
    }
}

impl Parse for StaleArgs {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let opts = list(input, |input| {
            let known = peekers![
                max_age => StaleKey::MaxAge,
                capacity => StaleKey::Capacity,
            ];
            let (key, ident) = key(input, &known, StaleKey::Unknown)?;
            Ok(Opt {
                key,
                ident,
                value: value(input)?,
            })
        })?;
        Ok(StaleArgs { opts })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> syn::Result<Args> {
        syn::parse_str(s)
    }

    #[test]
    fn the_contract_example_parses() {
        let args = parse(
            "retry(max=3, backoff=2.0), breaker(threshold=5, cooldown=30), rps=10, fallback = other_fn",
        )
        .unwrap();
        assert_eq!(args.opts.len(), 4);
        let TopOpt::Retry(r) = &args.opts[0] else {
            panic!("retry first")
        };
        let Value::List(_, list) = &r.value else {
            panic!("a list")
        };
        let keys: Vec<_> = list.opts.iter().map(|o| o.key).collect();
        assert_eq!(keys, [RetryKey::Max, RetryKey::Backoff]);
        let TopOpt::Other(f) = &args.opts[3] else {
            panic!()
        };
        assert_eq!(f.key, Top::Fallback);
        assert!(matches!(f.value, Value::Assign(Expr::Path(_))));
    }

    #[test]
    fn bare_groups_and_trailing_comma() {
        let args = parse("retry, breaker,").unwrap();
        assert!(matches!(
            &args.opts[0],
            TopOpt::Retry(Opt {
                value: Value::Flag,
                ..
            })
        ));
        assert!(matches!(
            &args.opts[1],
            TopOpt::Breaker(Opt {
                value: Value::Flag,
                ..
            })
        ));
        assert!(parse("").unwrap().opts.is_empty());
    }

    #[test]
    fn unknown_keys_are_kept_for_validation() {
        let args = parse("retires(max = 2), type = 3, rps = 1").unwrap();
        let TopOpt::Other(o) = &args.opts[0] else {
            panic!()
        };
        assert_eq!(
            (o.key, o.ident.to_string()),
            (Top::Unknown, "retires".to_owned())
        );
        let TopOpt::Other(o) = &args.opts[1] else {
            panic!()
        };
        assert_eq!(o.ident.to_string(), "type");
        let args = parse("retry(maxx = 2)").unwrap();
        let TopOpt::Retry(Opt {
            value: Value::List(_, l),
            ..
        }) = &args.opts[0]
        else {
            panic!()
        };
        assert_eq!(l.opts[0].key, RetryKey::Unknown);
    }

    #[test]
    fn keys_that_prefix_others_are_told_apart() {
        let args = parse("retry(max = 1, max_delay = 2)").unwrap();
        let TopOpt::Retry(Opt {
            value: Value::List(_, l),
            ..
        }) = &args.opts[0]
        else {
            panic!()
        };
        assert_eq!(l.opts[0].key, RetryKey::Max);
        assert_eq!(l.opts[1].key, RetryKey::MaxDelay);
    }

    #[test]
    fn malformed_syntax_is_an_error() {
        for bad in ["rps = ", "rps = ,", "3", "rps 3", "retry(max = )"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
