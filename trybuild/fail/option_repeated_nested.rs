use staunch::resilient;

#[derive(Debug)]
pub struct E;
impl From<staunch::Error> for E {
    fn from(_: staunch::Error) -> Self {
        E
    }
}

#[resilient(retry(max = 1, max = 2), breaker(cooldown = 1, cooldown = 2))]
fn call() -> Result<u32, E> {
    Ok(1)
}

fn main() {}
