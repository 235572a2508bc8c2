use staunch::resilient;

#[derive(Debug)]
pub struct E;
impl From<staunch::Error> for E {
    fn from(_: staunch::Error) -> Self {
        E
    }
}

pub struct Svc;

impl Svc {
    fn cached(&mut self) -> Result<u32, E> {
        Ok(0)
    }

    #[resilient(fallback = cached)]
    fn call(&self) -> Result<u32, E> {
        Ok(1)
    }
}

fn main() {}
