//! Memory per key of a keyed limiter holding 1,000,000 keys (issue 5 item 5): ours against
//! governor's keyed limiter (its default `DashMap` store), counted by a global allocator.
//!
//! `cargo bench --bench memory` prints, for each, the bytes still allocated once every key has
//! taken a token (live), the most ever allocated while they were added (peak), and both per key.
//! The rate is one a minute, so no bucket refills (and none may be forgotten) during the run.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to `System` unchanged; only the counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grow(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grow(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            grow(new_size);
        }
        p
    }
}

fn grow(n: usize) {
    let live = LIVE.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

#[global_allocator]
static ALLOC: Counting = Counting;

const KEYS: u64 = 1_000_000;

/// Bytes live and peak (above what was live before) while `f` runs and keeps its result.
fn measure<T>(f: impl FnOnce() -> T) -> (T, usize, usize) {
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let kept = f();
    let live = LIVE.load(Ordering::Relaxed) - before;
    let peak = PEAK.load(Ordering::Relaxed) - before;
    (kept, live, peak)
}

fn report(name: &str, live: usize, peak: usize) {
    #[allow(clippy::cast_precision_loss)]
    let per = |b: usize| b as f64 / KEYS as f64;
    println!(
        "{name:28} live {live:>10} B = {:>5.2} B/key   peak {peak:>10} B = {:>5.2} B/key",
        per(live),
        per(peak)
    );
}

fn main() {
    // `cargo bench` passes `--bench`; a filter, if any, is ignored: this target has one run.
    println!("keyed limiter, {KEYS} keys, one token taken per key");

    let (policy, live, peak) = measure(|| {
        let p = staunch::Policy::builder("memory-keyed")
            .rpm(1.0)
            .keyed()
            .build()
            .expect("valid policy");
        for k in 0..KEYS {
            let mut c = p.begin::<Result<(), staunch::Error>>(|_| staunch::Class::DEFAULT);
            let r = loop {
                match c.attempt_sync(staunch::Req::new().key(staunch::key_hash(&k)), || Ok(())) {
                    staunch::Step::Done(r) | staunch::Step::Fallback(r) => break r,
                    staunch::Step::Again => {}
                }
            };
            r.expect("a full bucket admits");
        }
        p
    });
    let held = staunch::signals("memory-keyed").and_then(|s| s.keys);
    assert_eq!(held, Some(KEYS as usize), "every key is still held");
    report("staunch (keyed, 1/min)", live, peak);
    drop(policy);

    let (limiter, live, peak) = measure(|| {
        let l = governor::RateLimiter::keyed(governor::Quota::per_minute(NonZeroU32::MIN));
        for k in 0..KEYS {
            l.check_key(&k).expect("a full bucket admits");
        }
        l
    });
    assert_eq!(limiter.len(), KEYS as usize, "every key is still held");
    report("governor (DashMap, 1/min)", live, peak);
    black_box(limiter);
}
