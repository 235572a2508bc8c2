use staunch::resilient;

#[derive(Debug)]
pub struct E;
impl From<staunch::Error> for E {
    fn from(_: staunch::Error) -> Self {
        E
    }
}

pub struct Conn(String);

impl Conn {
    #[resilient(retry)]
    async fn close(self) -> Result<String, E> {
        Ok(self.0)
    }
}

fn main() {}
