//! The `#[async_trait]` shape: a `Box::pin(async move { .. })` body.
#![deny(warnings)]

use async_trait::async_trait;
use staunch::resilient;

#[derive(Debug)]
pub struct E;

impl From<staunch::Error> for E {
    fn from(_: staunch::Error) -> Self {
        E
    }
}

#[async_trait]
pub trait Store {
    async fn get(&self, key: String) -> Result<String, E>;
    async fn put(&mut self, key: String, (a, b): (u32, u32)) -> Result<u32, E>;
}

pub struct Mem(u32);

#[async_trait]
impl Store for Mem {
    #[resilient(retry(max = 2), timeout = 1, fallback = missing, hedge(after = "50ms"))]
    async fn get(&self, key: String) -> Result<String, E> {
        Ok(format!("{key}{}", self.0))
    }

    #[resilient(retry, fallback = put_nothing)]
    async fn put(&mut self, key: String, (a, b): (u32, u32)) -> Result<u32, E> {
        self.0 += a + b + u32::try_from(key.len()).unwrap_or(0);
        Ok(self.0)
    }
}

impl Mem {
    fn missing<'a>(
        &'a self,
        _key: String,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, E>> + Send + 'a>> {
        Box::pin(async { Err(E) })
    }

    fn put_nothing<'a>(
        &'a mut self,
        _key: String,
        _ab: (u32, u32),
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<u32, E>> + Send + 'a>> {
        Box::pin(async { Ok(0) })
    }
}

fn main() {
    let mut m = Mem(1);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        assert_eq!(m.get("k".to_owned()).await.unwrap(), "k1");
        assert_eq!(m.put("k".to_owned(), (1, 2)).await.unwrap(), 5);
    });
}
