//! Rates and budgets the builder refuses, and the warning a rate from the environment that is
//! not a positive number gets.

use staunch_runtime::{warnings, Policy, Retry};

fn refusal(b: staunch_runtime::PolicyBuilder) -> String {
    b.build().unwrap_err().to_string()
}

#[test]
fn a_rate_must_be_a_positive_finite_number() {
    for (r, what) in [
        (0.0, "zero"),
        (-1.0, "negative"),
        (f64::INFINITY, "infinite"),
        (f64::NAN, "not a number"),
    ] {
        assert_eq!(
            refusal(Policy::builder("val-rps").rps(r)),
            "policy `val-rps`: `rps` must be greater than 0",
            "{what}"
        );
        assert_eq!(
            refusal(Policy::builder("val-rpm").rpm(r)),
            "policy `val-rpm`: `rpm` must be greater than 0",
            "{what}"
        );
        assert_eq!(
            refusal(Policy::builder("val-tpm").tpm(r)),
            "policy `val-tpm`: `tpm` must be greater than 0",
            "{what}"
        );
    }
    assert!(Policy::builder("val-rps-ok").rps(0.5).build().is_ok());
}

#[test]
fn a_retry_budget_must_be_a_positive_finite_number() {
    for (b, what) in [
        (0.0, "zero"),
        (-0.1, "negative"),
        (f64::INFINITY, "infinite"),
        (f64::NAN, "not a number"),
    ] {
        assert_eq!(
            refusal(Policy::builder("val-budget").retry(Retry::new().budget(b))),
            "policy `val-budget`: `retry(budget)` must be greater than 0",
            "{what}"
        );
    }
    let p = Policy::builder("val-budget-ok")
        .retry(Retry::new().budget(0.2))
        .build()
        .unwrap();
    assert_eq!(p.config().retry.unwrap().budget_ratio(), Some(0.2));
}

#[test]
fn a_rate_from_the_environment_that_is_not_positive_is_reported_as_such() {
    std::env::set_var("STAUNCH_VAL_ENV_ZERO_RPS", "0");
    std::env::set_var("STAUNCH_VAL_ENV_NEGATIVE_RPM", "-2");
    std::env::set_var("STAUNCH_VAL_ENV_INFINITE_TPM", "inf");
    let zero = Policy::builder("val-env-zero").rps(5.0).build().unwrap();
    let negative = Policy::builder("val-env-negative")
        .rpm(60.0)
        .build()
        .unwrap();
    let infinite = Policy::builder("val-env-infinite")
        .tpm(1000.0)
        .build()
        .unwrap();
    assert_eq!(zero.config().rate.unwrap().rate, 5.0);
    assert_eq!(negative.config().rate.unwrap().rate, 60.0);
    assert_eq!(infinite.config().tokens.unwrap().rate, 1000.0);
    let w = warnings();
    for (var, value) in [
        ("STAUNCH_VAL_ENV_ZERO_RPS", "0"),
        ("STAUNCH_VAL_ENV_NEGATIVE_RPM", "-2"),
        ("STAUNCH_VAL_ENV_INFINITE_TPM", "inf"),
    ] {
        let want = format!(
            "ignoring {var}=\"{value}\": expected a number greater than 0; keeping the configured value"
        );
        assert!(w.contains(&want), "{want} in {w:#?}");
    }
}
