use staunch::resilient;

#[derive(Debug)]
pub struct E;
impl From<staunch::Error> for E {
    fn from(_: staunch::Error) -> Self {
        E
    }
}

#[resilient(max_inflight = 2, queue = 2000000)]
fn call() -> Result<u32, E> {
    Ok(1)
}

fn main() {}
