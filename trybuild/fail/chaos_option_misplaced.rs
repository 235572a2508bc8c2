use staunch::resilient;

#[derive(Debug)]
pub struct E;
impl From<staunch::Error> for E {
    fn from(_: staunch::Error) -> Self {
        E
    }
}

#[resilient(retry, error = 0.1)]
fn call() -> Result<u32, E> {
    Ok(1)
}

#[resilient(chaos(errors = 0.1))]
fn misspelt() -> Result<u32, E> {
    Ok(1)
}

fn main() {}
