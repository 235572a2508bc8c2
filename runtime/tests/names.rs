//! Policy names that collide: an unnamed policy and a named one, two declarations of one name
//! that disagree, and two names that read the same environment variables.

use staunch_runtime::{warnings, Breaker, Policy, Retry};

fn warned(part: &str) -> Vec<String> {
    warnings()
        .into_iter()
        .filter(|w| w.contains(part))
        .collect()
}

#[test]
fn a_named_policy_never_joins_an_unnamed_one() {
    let unnamed = Policy::unnamed("names-held")
        .max_inflight(1)
        .build()
        .unwrap();
    let named = Policy::builder("names-held")
        .max_inflight(1)
        .build()
        .unwrap();
    assert_eq!(unnamed.name(), "names-held");
    assert_eq!(named.name(), "names-held#2");
    // they share no bulkhead: each lets one call in
    let _one = unnamed.call(|| {
        assert_eq!(named.call(|| Ok::<_, staunch_runtime::Error>(1)), Ok(1));
        Ok::<_, staunch_runtime::Error>(())
    });
    assert_eq!(
        warned("`names-held`"),
        [
            "policy `names-held`: the name is held by a function without `name = …`, which shares \
          nothing; this policy is `names-held#2`"
        ]
    );
    // a second policy of the name joins the first named one, not the unnamed one
    let again = Policy::builder("names-held").build().unwrap();
    assert_eq!(again.name(), "names-held#2");
    let _held = again.call(|| {
        let r = named.call(|| Ok::<_, staunch_runtime::Error>(1));
        assert!(
            matches!(r, Err(staunch_runtime::Error::BulkheadFull { .. })),
            "{r:?}"
        );
        Ok::<_, staunch_runtime::Error>(())
    });
    // an unnamed one created later passes both
    let later = Policy::unnamed("names-held").build().unwrap();
    assert_eq!(later.name(), "names-held#3");
}

#[test]
fn a_second_declaration_that_disagrees_is_reported_and_the_first_is_kept() {
    let first = Policy::builder("names-twice")
        .rps(10.0)
        .breaker(Breaker::new().threshold(5))
        .build()
        .unwrap();
    let second = Policy::builder("names-twice")
        .rps(20.0)
        .breaker(Breaker::new().threshold(5))
        .max_inflight(4)
        .build()
        .unwrap();
    assert_eq!(second.config().rate, first.config().rate);
    assert_eq!(second.config().max_inflight, None);
    assert_eq!(
        warned("`names-twice`"),
        ["policy `names-twice` is declared twice with a different rate, max_inflight; the first \
          declaration's are kept (declare the shared parts once, or give the policies different \
          names)"]
    );
}

#[test]
fn a_declaration_that_agrees_or_declares_nothing_shared_joins_silently() {
    let budget = Retry::new().budget(0.1);
    let _first = Policy::builder("names-agree")
        .rps(10.0)
        .retry(budget)
        .build()
        .unwrap();
    let _same = Policy::builder("names-agree")
        .rps(10.0)
        .retry(budget.max(1))
        .build()
        .unwrap();
    let _joins = Policy::builder("names-agree")
        .retry(Retry::new())
        .build()
        .unwrap();
    assert_eq!(warned("names-agree"), Vec::<String>::new());
}

#[test]
fn a_different_retry_budget_is_a_different_declaration() {
    let _first = Policy::builder("names-budget")
        .retry(Retry::new().budget(0.1))
        .build()
        .unwrap();
    let _second = Policy::builder("names-budget")
        .retry(Retry::new().budget(0.5))
        .build()
        .unwrap();
    assert_eq!(warned("`names-budget`").len(), 1);
    assert!(warned("`names-budget`")[0].contains("different retry budget;"));
}

#[test]
fn two_names_that_read_the_same_variables_are_reported() {
    let _a = Policy::builder("names-open-ai").build().unwrap();
    let _b = Policy::builder("names_open_ai").build().unwrap();
    assert_eq!(
        warned("STAUNCH_NAMES_OPEN_AI_"),
        [
            "policies `names-open-ai` and `names_open_ai` read the same variables, \
          STAUNCH_NAMES_OPEN_AI_*; rename one of them"
        ]
    );
}
