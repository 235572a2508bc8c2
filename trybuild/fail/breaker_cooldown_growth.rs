use staunch::resilient;

#[derive(Debug)]
pub struct E;
impl From<staunch::Error> for E {
    fn from(_: staunch::Error) -> Self {
        E
    }
}

#[resilient(breaker(cooldown_multiplier = 2.0))]
fn call1() -> Result<u32, E> {
    Ok(1)
}

#[resilient(breaker(max_cooldown = "10m", cooldown_multiplier = 0.5))]
fn call2() -> Result<u32, E> {
    Ok(1)
}

#[resilient(breaker(cooldown = 60, max_cooldown = 30))]
fn call3() -> Result<u32, E> {
    Ok(1)
}

fn main() {}
