use staunch::resilient;

#[derive(Debug)]
pub struct E;
impl From<staunch::Error> for E {
    fn from(_: staunch::Error) -> Self {
        E
    }
}

#[resilient(breaker(window_calls = 0))]
fn call1() -> Result<u32, E> {
    Ok(1)
}

#[resilient(breaker(window_calls = 2000000))]
fn call2() -> Result<u32, E> {
    Ok(1)
}

#[resilient(breaker(window_time = "5ms"))]
fn call3() -> Result<u32, E> {
    Ok(1)
}

#[resilient(breaker(min_calls = 0))]
fn call4() -> Result<u32, E> {
    Ok(1)
}

#[resilient(breaker(slow_call = 0))]
fn call5() -> Result<u32, E> {
    Ok(1)
}

fn main() {}
