use staunch::resilient;

#[derive(Debug)]
pub struct E;
impl From<staunch::Error> for E {
    fn from(_: staunch::Error) -> Self {
        E
    }
}

#[resilient(chaos(latency_rate = 0.2, error = 0.1))]
fn call() -> Result<u32, E> {
    Ok(1)
}

fn main() {}
