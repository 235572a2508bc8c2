use staunch::resilient;

#[derive(Debug)]
pub struct E;
impl From<staunch::Error> for E {
    fn from(_: staunch::Error) -> Self {
        E
    }
}

#[resilient(hedge(after = "100ms"))]
async fn send(body: String) -> Result<usize, E> {
    let bytes = body.into_bytes();
    Ok(bytes.len())
}

fn main() {}
