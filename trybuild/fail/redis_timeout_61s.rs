use staunch::resilient;

#[derive(Debug)]
pub struct E;
impl From<staunch::Error> for E {
    fn from(_: staunch::Error) -> Self {
        E
    }
}

#[resilient(rpm = 500, redis(timeout = "61s"))]
async fn call() -> Result<u32, E> {
    Ok(1)
}

fn main() {}
