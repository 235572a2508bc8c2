use staunch::resilient;

#[derive(Debug)]
pub struct E;
impl From<staunch::Error> for E {
    fn from(_: staunch::Error) -> Self {
        E
    }
}

#[resilient(breaker(threshold = 5, failure_rate = 0.5))]
fn call1() -> Result<u32, E> {
    Ok(1)
}

#[resilient(breaker(window_calls = 100, window_time = "60s"))]
fn call2() -> Result<u32, E> {
    Ok(1)
}

#[resilient(breaker(window_calls = 10, min_calls = 20))]
fn call3() -> Result<u32, E> {
    Ok(1)
}

fn main() {}
