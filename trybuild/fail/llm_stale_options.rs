use staunch::resilient;

#[derive(Debug)]
pub struct E;
impl From<staunch::Error> for E {
    fn from(_: staunch::Error) -> Self {
        E
    }
}

#[resilient(stale(maxage = "1m", capacity = 0), max_age = 3)]
fn call() -> Result<u64, E> {
    Ok(1)
}

fn main() {}
