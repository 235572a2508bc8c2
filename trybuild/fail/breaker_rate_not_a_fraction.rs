use staunch::resilient;

#[derive(Debug)]
pub struct E;
impl From<staunch::Error> for E {
    fn from(_: staunch::Error) -> Self {
        E
    }
}

#[resilient(breaker(failure_rate = 50))]
fn call1() -> Result<u32, E> {
    Ok(1)
}

#[resilient(breaker(slow_rate = 0))]
fn call2() -> Result<u32, E> {
    Ok(1)
}

#[resilient(breaker(failure_rate = "half"))]
fn call3() -> Result<u32, E> {
    Ok(1)
}

fn main() {}
