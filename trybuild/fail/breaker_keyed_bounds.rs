use staunch::resilient;

#[derive(Debug)]
pub struct E;
impl From<staunch::Error> for E {
    fn from(_: staunch::Error) -> Self {
        E
    }
}

#[resilient(breaker(max_keys = 100))]
fn no_key(tenant: u64) -> Result<u64, E> {
    Ok(tenant)
}

#[resilient(breaker(key = tenant, max_keys = 0))]
fn zero(tenant: u64) -> Result<u64, E> {
    Ok(tenant)
}

#[resilient(breaker(key = tenant, max_keys = 1000001))]
fn too_many(tenant: u64) -> Result<u64, E> {
    Ok(tenant)
}

#[resilient(rps = 10, key = user, breaker(key = tenant))]
fn two_keys(user: u64, tenant: u64) -> Result<u64, E> {
    Ok(user + tenant)
}

fn main() {}
