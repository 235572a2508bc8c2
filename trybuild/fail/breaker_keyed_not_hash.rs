use staunch::resilient;

#[derive(Debug)]
pub struct E;
impl From<staunch::Error> for E {
    fn from(_: staunch::Error) -> Self {
        E
    }
}

pub struct Tenant;

#[resilient(breaker(key = tenant))]
fn call(tenant: Tenant) -> Result<(), E> {
    let _ = tenant;
    Ok(())
}

fn main() {}
