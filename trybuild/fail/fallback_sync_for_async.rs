use staunch::resilient;

#[derive(Debug)]
pub struct E;
impl From<staunch::Error> for E {
    fn from(_: staunch::Error) -> Self {
        E
    }
}

fn cached() -> Result<u32, E> {
    Ok(0)
}

#[resilient(retry, fallback = cached)]
async fn call() -> Result<u32, E> {
    Ok(1)
}

fn main() {}
