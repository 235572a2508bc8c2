use staunch::resilient;

#[derive(Debug)]
pub struct E;
impl From<staunch::Error> for E {
    fn from(_: staunch::Error) -> Self {
        E
    }
}

fn cached(_s: &Svc) -> Result<u32, E> {
    Ok(0)
}

pub struct Svc;

impl Svc {
    #[resilient(fallback = cached)]
    fn call(&self) -> Result<u32, E> {
        Ok(1)
    }
}

fn main() {}
