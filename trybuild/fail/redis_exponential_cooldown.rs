use staunch::resilient;

#[derive(Debug)]
pub struct E;
impl From<staunch::Error> for E {
    fn from(_: staunch::Error) -> Self {
        E
    }
}

#[resilient(breaker(max_cooldown = "10m"), redis)]
async fn call() -> Result<u32, E> {
    Ok(1)
}

fn main() {}
