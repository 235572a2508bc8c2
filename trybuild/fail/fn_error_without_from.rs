use staunch::resilient;

#[derive(Debug)]
pub struct E;
impl From<staunch::Error> for E {
    fn from(_: staunch::Error) -> Self {
        E
    }
}

#[derive(Debug)]
pub struct Plain;

#[resilient(retry)]
fn call() -> Result<u32, Plain> {
    Ok(1)
}

fn main() {}
