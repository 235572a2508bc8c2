use staunch::resilient;

#[derive(Debug)]
pub struct E;
impl From<staunch::Error> for E {
    fn from(_: staunch::Error) -> Self {
        E
    }
}

#[resilient(cost = 10, usage = u64::clone, retry(budget = 0))]
fn call() -> Result<u64, E> {
    Ok(1)
}

fn main() {}
