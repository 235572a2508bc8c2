use staunch::resilient;

#[derive(Debug)]
pub struct E;
impl From<staunch::Error> for E {
    fn from(_: staunch::Error) -> Self {
        E
    }
}

pub struct NoHash;

#[resilient(stale)]
fn call(x: NoHash) -> Result<u64, E> {
    let _ = x;
    Ok(1)
}

fn main() {}
