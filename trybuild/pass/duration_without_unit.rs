//! A duration string without a unit is seconds, as in `STAUNCH_<NAME>_TIMEOUT=10`: the attribute
//! and the environment read durations with one grammar.
#![deny(warnings)]

use staunch::resilient;

#[derive(Debug, PartialEq)]
pub struct E;

impl From<staunch::Error> for E {
    fn from(_: staunch::Error) -> Self {
        E
    }
}

#[resilient(timeout = "10", retry(delay = "0", max_delay = "0.5"), breaker(cooldown = "30"))]
async fn call() -> Result<u32, E> {
    Ok(1)
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert_eq!(rt.block_on(call()), Ok(1));
}
