use staunch::resilient;

#[derive(Debug)]
pub struct E;
impl From<staunch::Error> for E {
    fn from(_: staunch::Error) -> Self {
        E
    }
}

pub struct Cache(Vec<u32>);

impl Cache {
    // a `&mut` borrow returned from a retried body outlives its attempt: a known limit of the
    // borrow checker (a fresh closure per attempt would need Polonius)
    #[resilient(retry)]
    fn slot(&mut self) -> Result<&mut u32, E> {
        self.0.first_mut().ok_or(E)
    }
}

fn main() {}
