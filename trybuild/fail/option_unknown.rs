use staunch::resilient;

#[derive(Debug)]
pub struct E;
impl From<staunch::Error> for E {
    fn from(_: staunch::Error) -> Self {
        E
    }
}

#[resilient(retires(max = 3), tmeout = 1)]
fn call() -> Result<u32, E> {
    Ok(1)
}

fn main() {}
