use staunch::resilient;

#[derive(Debug)]
pub struct E;
impl From<staunch::Error> for E {
    fn from(_: staunch::Error) -> Self {
        E
    }
}

#[resilient(chaos)]
fn bare() -> Result<u32, E> {
    Ok(1)
}

#[resilient(chaos())]
async fn empty() -> Result<u32, E> {
    Ok(1)
}

fn main() {}
