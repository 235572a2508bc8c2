use staunch::resilient;

#[derive(Debug)]
pub struct E;
impl From<staunch::Error> for E {
    fn from(_: staunch::Error) -> Self {
        E
    }
}

fn cached(_id: u64) -> Result<u32, E> {
    Ok(0)
}

#[resilient(fallback = cached, fallback_why = cached)]
fn call(id: u64) -> Result<u32, E> {
    let _ = id;
    Ok(1)
}

fn main() {}
