//! The function's own attributes stay: here `#[must_use = "…"]`.
#![deny(unused_must_use)]

use staunch::resilient;

#[derive(Debug)]
pub struct E;
impl From<staunch::Error> for E {
    fn from(_: staunch::Error) -> Self {
        E
    }
}

#[resilient(retry)]
#[must_use = "the answer matters"]
fn call() -> Result<u32, E> {
    Ok(1)
}

fn main() {
    call();
}
