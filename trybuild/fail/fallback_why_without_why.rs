use staunch::resilient;

#[derive(Debug)]
pub struct E;
impl From<staunch::Error> for E {
    fn from(_: staunch::Error) -> Self {
        E
    }
}

// `fallback_why` hands the fallback a last argument, `why: staunch::Why<E>`, that this one lacks
fn cached(id: u64) -> Result<u32, E> {
    Ok(id as u32)
}

#[resilient(fallback_why = cached)]
fn call(id: u64) -> Result<u32, E> {
    let _ = id;
    Ok(1)
}

fn main() {}
