use staunch::resilient;

#[derive(Debug)]
pub struct E;
impl From<staunch::Error> for E {
    fn from(_: staunch::Error) -> Self {
        E
    }
}

#[resilient(retry(max = 0, backoff = 0.5, jitter = 2), breaker(threshold = 0), rps = 0, rpm = 1, burst = 0, colour = 1, timeout = 1)]
fn call() -> Result<u32, E> {
    Ok(1)
}

fn main() {}
