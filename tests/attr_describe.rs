//! What an annotated function's policy says of itself: the attribute's values say they came
//! from the attribute, an environment variable set before the first call says it came from
//! there.
mod common;

use common::Fail;
use staunch::{resilient, Source};

#[resilient(
    retry(max = 2, delay = 0),
    breaker(threshold = 3),
    max_inflight = 4,
    name = "attr-describe"
)]
fn described() -> Result<(), Fail> {
    Ok(())
}

#[test]
fn the_attributes_values_say_attribute_and_an_env_var_says_environment() {
    // set before the first call, which creates the policy
    std::env::set_var("STAUNCH_ATTR_DESCRIBE_MAX_INFLIGHT", "9");
    assert_eq!(described(), Ok(()));
    let d = staunch::policy("attr-describe").unwrap().describe();
    let s = |part, name| d.setting(part, name).unwrap().clone();
    assert_eq!(s("retry", "max").source, Source::Attribute);
    assert_eq!(s("retry", "delay").value, "0s");
    assert_eq!(s("retry", "delay").source, Source::Attribute);
    assert_eq!(s("retry", "backoff").source, Source::Default);
    assert_eq!(s("breaker", "threshold").source, Source::Attribute);
    assert_eq!(s("breaker", "cooldown").source, Source::Default);
    let m = s("bulkhead", "max_inflight");
    assert_eq!(m.value, "9");
    assert_eq!(
        m.source,
        Source::Environment {
            variable: "STAUNCH_ATTR_DESCRIBE_MAX_INFLIGHT".to_owned()
        }
    );
    assert_eq!(m.was.as_deref(), Some("4 in the attribute"));
    let text = d.to_string();
    assert!(
        text.starts_with("policy `attr-describe` (shared by name)\n  1. retry: max 2 (attribute)"),
        "{text}"
    );
}

#[resilient(timeout = "2s")]
async fn unnamed_timeout() -> Result<(), Fail> {
    Ok(())
}

#[tokio::test]
async fn a_function_without_a_name_is_described_as_sharing_nothing() {
    assert_eq!(unnamed_timeout().await, Ok(()));
    let d = staunch::policy(concat!(module_path!(), "::unnamed_timeout"))
        .unwrap()
        .describe();
    assert!(!d.shared_by_name);
    assert_eq!(
        d.setting("call", "timeout").unwrap().to_string(),
        "timeout 2s (attribute)"
    );
}
