use staunch::resilient;

#[derive(Debug)]
pub struct E;
impl From<staunch::Error> for E {
    fn from(_: staunch::Error) -> Self {
        E
    }
}

#[resilient(hedge(after = "100ms"))]
async fn send(mut tries: u32, log: &mut Vec<u32>) -> Result<u32, E> {
    tries += 1;
    log.push(tries);
    Ok(tries)
}

fn main() {}
