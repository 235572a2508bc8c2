use staunch::resilient;

#[derive(Debug)]
pub struct E;
impl From<staunch::Error> for E {
    fn from(_: staunch::Error) -> Self {
        E
    }
}

type Answer = Option<u32>;

#[resilient(retry)]
fn call() -> Answer {
    Some(1)
}

fn main() {}
