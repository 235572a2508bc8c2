use staunch::resilient;

#[derive(Debug)]
pub struct E;
impl From<staunch::Error> for E {
    fn from(_: staunch::Error) -> Self {
        E
    }
}

fn cached(_body: String) -> Result<usize, E> {
    Ok(0)
}

#[resilient(fallback = cached)]
fn send(body: String) -> Result<usize, E> {
    drop(body);
    Ok(1)
}

fn main() {}
