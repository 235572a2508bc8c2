use staunch::resilient;

#[derive(Debug)]
pub struct E;
impl From<staunch::Error> for E {
    fn from(_: staunch::Error) -> Self {
        E
    }
}

#[resilient(key = id)]
fn call(id: u64) -> Result<u64, E> {
    Ok(id)
}

fn main() {}
