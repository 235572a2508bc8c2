use staunch::resilient;

#[derive(Debug)]
pub struct E;
impl From<staunch::Error> for E {
    fn from(_: staunch::Error) -> Self {
        E
    }
}

#[derive(Debug)]
pub struct User;

#[resilient(rps = 1, key = user, redis)]
async fn call(user: &User) -> Result<u32, E> {
    let _ = user;
    Ok(1)
}

fn main() {}
