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

/// Bytes live after, and peak during, `f` (above what was live before); `f`'s result is kept.
fn measure<T>(f: impl FnOnce() -> T) -> (T, usize, usize) {
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let kept = f();
    let live = LIVE.load(Ordering::Relaxed) - before;
    let peak = PEAK.load(Ordering::Relaxed) - before;
    (kept, live, peak)
}

fn report(name: &str, fixed: usize, live: usize, peak: usize) {
    #[allow(clippy::cast_precision_loss)]
    let per = |b: usize| b as f64 / KEYS as f64;
    println!(
        "{name:28} empty {fixed:>6} B   keys: live {live:>10} B = {:>6.3} B/key   peak {peak:>10} B = {:>6.3} B/key",
        per(live),
        per(peak)
    );
}

fn main() {
    // `cargo bench` passes `--bench`; a filter, if any, is ignored: this target has one run.
    println!("keyed limiter, {KEYS} keys, one token taken per key (the limiter's own size apart)");

    let (policy, fixed, _) = measure(|| {
        staunch::Policy::builder("memory-keyed")
            .rpm(1.0)
            .keyed()
            .build()
            .expect("valid policy")
    });
    let ((), live, peak) = measure(|| {
        for k in 0..KEYS {
            let mut c = policy.begin::<Result<(), staunch::Error>>(|_| staunch::Class::DEFAULT);
            let r = loop {
                match c.attempt_sync(
                    staunch::attempt::Req::new().key(staunch::attempt::key_hash(&k)),
                    || Ok(()),
                ) {
                    staunch::attempt::Step::Done(r) | staunch::attempt::Step::Fallback(r) => {
                        break r
                    }
                    staunch::attempt::Step::Again => {}
                }
            };
            r.expect("a full bucket admits");
        }
    });
    let held = staunch::signals("memory-keyed").and_then(|s| s.keys);
    assert_eq!(held, Some(KEYS as usize), "every key is still held");
    report("staunch (keyed, 1/min)", fixed, live, peak);
    drop(policy);

    let (limiter, fixed, _) =
        measure(|| governor::RateLimiter::keyed(governor::Quota::per_minute(NonZeroU32::MIN)));
    let ((), live, peak) = measure(|| {
        for k in 0..KEYS {
            limiter.check_key(&k).expect("a full bucket admits");
        }
    });
    assert_eq!(limiter.len(), KEYS as usize, "every key is still held");
    report("governor (DashMap, 1/min)", fixed, live, peak);
    black_box(limiter);
}
