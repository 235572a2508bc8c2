//! What the user wrote inside `#[resilient(...)]`, parsed but not yet judged.
//!
//! The syntax is generic: a comma-separated list (a trailing comma allowed) of options, each
//! `name`, `name = expr` or `name(list)`, the list being options again. Names are any
//! identifier (raw ones too), known or not: [`validate`](crate::validate) judges them against
//! its tables, so that every mistake of one attribute is reported at once. Only malformed syntax
//! (`rps = ,`) stops parsing.

use proc_macro2::TokenStream;
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::{token, Expr, Ident, Token};

/// One option: its name (with its span) and what followed it.
pub struct Opt {
    /// The name as written, for lookups, messages and spans.
    pub name: Ident,
    /// What followed the name.
    pub value: Value,
}

/// How an option was written after its name.
pub enum Value {
    /// `name` alone.
    Flag,
    /// `name = expr`.
    Assign(Expr),
    /// `name(list)`. The list is `Err` when it is not a list of options, which is a mistake
    /// only where a list of options is expected (see [`parse`]).
    List(token::Paren, syn::Result<Vec<Opt>>),
}

/// Parses the options of an attribute. `strict` tells the names whose list must be a list of
/// options (the groups, such as `retry(…)`): a syntax error in it stops parsing, in the order
/// written. Any other list is parsed leniently and kept, for the validator to reject as a whole
/// (`rps(10)`, `retires(max = )`).
pub fn parse(tokens: TokenStream, strict: fn(&Ident) -> bool) -> syn::Result<Vec<Opt>> {
    (|input: ParseStream| list(input, strict)).parse2(tokens)
}

/// Parses `opt, opt, ...` (as `Punctuated::parse_terminated` would); the lists of names that
/// satisfy `strict` must be lists of options.
fn list(input: ParseStream, strict: fn(&Ident) -> bool) -> syn::Result<Vec<Opt>> {
    let mut opts = Vec::new();
    while !input.is_empty() {
        opts.push(opt(input, strict)?);
        if input.is_empty() {
            break;
        }
        input.parse::<Token![,]>()?;
    }
    Ok(opts)
}

/// Never strict: the lists nested in a list are never read as options.
fn lenient(_: &Ident) -> bool {
    false
}

/// Reads one option: a name, then nothing, `= expr` or `(list)`.
fn opt(input: ParseStream, strict: fn(&Ident) -> bool) -> syn::Result<Opt> {
    if !input.peek(Ident::peek_any) {
        return Err(syn::Error::new(
            input.span(),
            "expected an option such as `retry(max = 3)`, `rps = 10` or `fallback = path`",
        ));
    }
    let name = input.call(Ident::parse_any)?;
    let value = if input.peek(Token![=]) {
        input.parse::<Token![=]>()?;
        if input.is_empty() || input.peek(Token![,]) {
            return Err(input.error("expected a value after `=`"));
        }
        Value::Assign(input.parse()?)
    } else if input.peek(token::Paren) {
        let content;
        let paren = syn::parenthesized!(content in input);
        let opts = if strict(&name) {
            Ok(list(&content, lenient)?)
        } else {
            let tokens: TokenStream = content.parse()?;
            (|input: ParseStream| list(input, lenient)).parse2(tokens)
        };
        Value::List(paren, opts)
    } else if input.is_empty() || input.peek(Token![,]) {
        Value::Flag
    } else {
        return Err(input.error("expected `=`, `(` or `,` after the option's name"));
    };
    Ok(Opt { name, value })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups(name: &Ident) -> bool {
        name == "retry" || name == "breaker"
    }

    fn parse(s: &str) -> syn::Result<Vec<Opt>> {
        super::parse(s.parse().unwrap(), groups)
    }

    fn names(opts: &[Opt]) -> Vec<String> {
        opts.iter().map(|o| o.name.to_string()).collect()
    }

    fn nested(o: &Opt) -> &[Opt] {
        let Value::List(_, Ok(list)) = &o.value else {
            panic!("a list of options")
        };
        list
    }

    #[test]
    fn the_contract_example_parses() {
        let args = parse(
            "retry(max=3, backoff=2.0), breaker(threshold=5, cooldown=30), rps=10, fallback = other_fn",
        )
        .unwrap();
        assert_eq!(names(&args), ["retry", "breaker", "rps", "fallback"]);
        assert_eq!(names(nested(&args[0])), ["max", "backoff"]);
        assert!(matches!(args[3].value, Value::Assign(Expr::Path(_))));
    }

    #[test]
    fn bare_groups_and_trailing_comma() {
        let args = parse("retry, breaker,").unwrap();
        assert!(matches!(args[0].value, Value::Flag));
        assert!(matches!(args[1].value, Value::Flag));
        assert!(parse("").unwrap().is_empty());
    }

    #[test]
    fn unknown_names_are_kept_for_validation() {
        let args = parse("retires(max = 2), type = 3, r#rps = 1, rps(10), zzz(max = )").unwrap();
        assert_eq!(names(&args), ["retires", "type", "r#rps", "rps", "zzz"]);
        assert_eq!(names(nested(&args[0])), ["max"]);
        assert!(matches!(args[3].value, Value::List(_, Err(_))));
        assert!(matches!(args[4].value, Value::List(_, Err(_))));
        let args = parse("retry(maxx = 2, on(1 + 1))").unwrap();
        let list = nested(&args[0]);
        assert_eq!(names(list), ["maxx", "on"]);
        assert!(matches!(list[1].value, Value::List(_, Err(_))));
    }

    #[test]
    fn names_that_prefix_others_are_told_apart() {
        let args = parse("retry(max = 1, max_delay = 2)").unwrap();
        assert_eq!(names(nested(&args[0])), ["max", "max_delay"]);
    }

    #[test]
    fn malformed_syntax_is_an_error() {
        for (bad, message) in [
            (
                "rps = ",
                "unexpected end of input, expected a value after `=`",
            ),
            ("rps = ,", "expected a value after `=`"),
            (
                "3",
                "expected an option such as `retry(max = 3)`, `rps = 10` or `fallback = path`",
            ),
            ("rps 3", "expected `=`, `(` or `,` after the option's name"),
            (
                "retry(max = )",
                "unexpected end of input, expected a value after `=`",
            ),
            (
                "retry(3)",
                "expected an option such as `retry(max = 3)`, `rps = 10` or `fallback = path`",
            ),
            // the first mistake in the order written
            (
                "retry(max = ), rps 3",
                "unexpected end of input, expected a value after `=`",
            ),
        ] {
            match parse(bad) {
                Ok(_) => panic!("{bad}: parsed"),
                Err(e) => assert_eq!(e.to_string(), message, "{bad}"),
            }
        }
    }
}
