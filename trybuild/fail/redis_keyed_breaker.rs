use staunch::resilient;

#[derive(Debug)]
pub struct E;
impl From<staunch::Error> for E {
    fn from(_: staunch::Error) -> Self {
        E
    }
}

#[resilient(breaker(threshold = 3, key = tenant), redis)]
async fn call(tenant: &str) -> Result<u32, E> {
    let _ = tenant;
    Ok(1)
}

fn main() {}
