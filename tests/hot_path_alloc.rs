//! The happy path allocates nothing: a warm annotated function (every part, sync and async, and
//! a keyed limiter on a key it has seen) makes no allocation per call (issue 5).
//!
//! Alone in its test binary, with an allocator that counts the allocations of the calling
//! thread only, so that the test harness's own threads cannot disturb the count.
mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use common::Fail;
use staunch::resilient;

struct CountingThisThread;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is passed to `System` as is; counting touches only a const-initialised
// thread-local without a destructor, which never allocates.
unsafe impl GlobalAlloc for CountingThisThread {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which we pass on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above, for `dealloc`.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: as above, for `realloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingThisThread = CountingThisThread;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

#[resilient(
    retry(max = 3, backoff = 2.0),
    breaker(threshold = 5, cooldown = 30),
    rps = 1000000000,
    max_inflight = 64
)]
fn full_stack(x: u64) -> Result<u64, Fail> {
    Ok(x)
}

#[resilient(retry, breaker, rps = 1000000000, key = user)]
fn keyed(user: u64) -> Result<u64, Fail> {
    Ok(user)
}

#[resilient(
    retry(max = 3, backoff = 2.0),
    breaker(threshold = 5, cooldown = 30),
    rps = 1000000000,
    max_inflight = 64,
    timeout = "1s"
)]
async fn full_stack_async(x: u64) -> Result<u64, Fail> {
    Ok(x)
}

#[test]
fn a_warm_call_allocates_nothing() {
    // the first calls build the policies, calibrate the clock and remember the keys
    for i in 0..100 {
        assert_eq!(full_stack(i), Ok(i));
        assert_eq!(keyed(i % 10), Ok(i % 10));
    }
    let before = allocations();
    for i in 0..10_000 {
        assert_eq!(full_stack(i), Ok(i));
        assert_eq!(keyed(i % 10), Ok(i % 10));
    }
    assert_eq!(allocations() - before, 0, "sync calls allocated");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        for i in 0..100 {
            assert_eq!(full_stack_async(i).await, Ok(i));
        }
        let before = allocations();
        for i in 0..10_000 {
            assert_eq!(full_stack_async(i).await, Ok(i));
        }
        assert_eq!(allocations() - before, 0, "async calls allocated");
    });
}
