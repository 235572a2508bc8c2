use staunch::resilient;

#[derive(Debug)]
pub struct E;
impl From<staunch::Error> for E {
    fn from(_: staunch::Error) -> Self {
        E
    }
}

pub struct Client {
    calls: u32,
}

impl Client {
    #[resilient(hedge(after = "100ms"))]
    async fn get(&mut self) -> Result<u32, E> {
        self.calls += 1;
        Ok(self.calls)
    }
}

fn main() {}
