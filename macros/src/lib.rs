//! The `#[resilient]` attribute of [staunch](https://docs.rs/staunch). Use it through the
//! `staunch` crate, which re-exports it with the runtime it expands to.
#![deny(missing_docs)]

mod args;
mod expand;
mod shape;
mod validate;

use proc_macro::TokenStream;

/// Wraps a `fn` or `async fn` in a resilience policy.
#[proc_macro_attribute]
pub fn resilient(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::resilient(attr.into(), item.into()).into()
}
