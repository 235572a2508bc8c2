use staunch::resilient;

#[derive(Debug)]
pub struct E;
impl From<staunch::Error> for E {
    fn from(_: staunch::Error) -> Self {
        E
    }
}

#[resilient(chaos(error = 1.5, reject = -0.1))]
fn call() -> Result<u32, E> {
    Ok(1)
}

fn main() {}
