//! The compile-time side of `#[resilient]`: every misuse is a compile error with a good message
//! (`trybuild/fail`, each with its reviewed `.stderr`), and the pass cases compile cleanly.
//! Regenerate the `.stderr` files with `TRYBUILD=overwrite cargo test --test trybuild`, then
//! read the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("trybuild/pass/*.rs");
    t.compile_fail("trybuild/fail/*.rs");
}
