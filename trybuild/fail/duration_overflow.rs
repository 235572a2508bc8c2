use staunch::resilient;

#[derive(Debug)]
pub struct E;
impl From<staunch::Error> for E {
    fn from(_: staunch::Error) -> Self {
        E
    }
}

#[resilient(retry(max_delay = 18446744074), wait = "99999999999h", rps = 1)]
fn call() -> Result<u32, E> {
    Ok(1)
}

fn main() {}
