//! The generated code passes `#![deny(warnings)]` and `clippy::all` + `clippy::pedantic` (run
//! `cargo clippy --all-targets` to check the latter): the same file as `trybuild/pass/lints.rs`,
//! compiled here as a module so that clippy sees it.

#[path = "../trybuild/pass/lints.rs"]
mod lints;

#[test]
fn every_shape_and_option_compiles_without_a_lint() {
    lints::main();
}
