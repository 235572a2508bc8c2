//! Parameters named with raw identifiers (`r#type`) are handed to the fallback and hashed for the
//! stale cache as written: the attribute used to panic on them.
#![deny(warnings)]

use staunch::resilient;

#[derive(Debug, PartialEq)]
pub struct E;

impl From<staunch::Error> for E {
    fn from(_: staunch::Error) -> Self {
        E
    }
}

fn other(r#type: u32, r#match: &str) -> Result<u32, E> {
    Ok(r#type + u32::from(r#match.is_empty()))
}

#[resilient(retry(max = 1, delay = 0), fallback = other, stale)]
fn call(r#type: u32, r#match: &str) -> Result<u32, E> {
    if r#match.is_empty() {
        Err(E)
    } else {
        Ok(r#type)
    }
}

pub struct S;

impl S {
    #[resilient(stale(capacity = 10))]
    async fn get(&self, r#in: u32) -> Result<u32, E> {
        Ok(r#in)
    }
}

fn main() {
    assert_eq!(call(2, "ab"), Ok(2));
    assert_eq!(call(2, ""), Ok(3));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert_eq!(rt.block_on(S.get(4)), Ok(4));
}
