use staunch::resilient;

#[derive(Debug)]
pub struct E;
impl From<staunch::Error> for E {
    fn from(_: staunch::Error) -> Self {
        E
    }
}

#[resilient(retry)]
fn call() -> Option<u32> {
    Some(1)
}

fn main() {}
