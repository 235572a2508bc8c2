#![deny(warnings)]
#![deny(clippy::all, clippy::pedantic)]

use staunch::resilient;

#[derive(Debug)]
pub struct E;
impl From<staunch::Error> for E {
    fn from(_: staunch::Error) -> Self {
        E
    }
}

/// A fleet's quota per user and one breaker for every replica, in Redis.
#[resilient(
    name = "pass-redis",
    rpm = 500,
    key = user,
    tpm = 90_000,
    cost = 100,
    breaker(threshold = 3, cooldown = "10s", half_open = 2),
    redis(fail = "closed", timeout = "20ms", prefix = "app:")
)]
async fn call(user: &str) -> Result<usize, E> {
    Ok(user.len())
}

/// The defaults: fail open, 50 ms, `staunch:`.
#[resilient(rps = 10, redis)]
async fn plain() -> Result<u32, E> {
    Ok(1)
}

fn main() {
    let _ = call("x");
    let _ = plain();
}
