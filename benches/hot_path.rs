//! Wall time per call on the happy path (issue 5): the floor, each part against its anchor,
//! the whole stack against the same stack hand-combined and against tower, and two threads.
//!
//! `cargo bench --bench hot_path`; `benches/table.py` turns criterion's results into the
//! table of BENCHMARKS.md.

mod common;

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use common::*;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

fn floor(c: &mut Criterion) {
    let mut g = c.benchmark_group("floor");
    let mut x = 0u64;
    g.bench_function("bare_call", |b| {
        b.iter(|| {
            x = x.wrapping_add(1);
            body(black_box(x))
        });
    });
    g.bench_function("instant_now", |b| b.iter(Instant::now));
    let counter = AtomicU64::new(0);
    g.bench_function("atomic_rmw", |b| {
        b.iter(|| counter.fetch_add(1, Ordering::AcqRel));
    });
    g.finish();
}

fn parts(c: &mut Criterion) {
    let mut g = c.benchmark_group("parts");
    let mut x = 0u64;
    let mut next = move || {
        x = x.wrapping_add(1);
        black_box(x)
    };

    let p = empty_policy("bench-empty");
    g.bench_function("ours_no_part", |b| b.iter(|| call_policy(&p, next())));

    let p = limiter_policy("bench-limiter");
    g.bench_function("ours_limiter", |b| b.iter(|| call_policy(&p, next())));
    let l = governor_direct();
    g.bench_function("governor_direct", |b| b.iter(|| governor_call(&l, next())));

    for keys in [1u64, 10_000] {
        let p = keyed_policy(&format!("bench-keyed-{keys}"));
        g.bench_with_input(BenchmarkId::new("ours_keyed", keys), &keys, |b, &keys| {
            let mut k = 0;
            b.iter(|| {
                k = (k + 1) % keys;
                call_keyed(&p, black_box(k), next())
            });
        });
        let l = governor_keyed();
        g.bench_with_input(
            BenchmarkId::new("governor_keyed", keys),
            &keys,
            |b, &keys| {
                let mut k = 0;
                b.iter(|| {
                    k = (k + 1) % keys;
                    governor_keyed_call(&l, black_box(k), next())
                });
            },
        );
    }

    let p = breaker_policy("bench-breaker");
    g.bench_function("ours_breaker", |b| b.iter(|| call_policy(&p, next())));
    let f = failsafe_breaker();
    g.bench_function("failsafe", |b| b.iter(|| failsafe_call(&f, next())));

    let p = retry_policy("bench-retry");
    g.bench_function("ours_retry", |b| b.iter(|| call_policy(&p, next())));
    let r = backon_policy();
    g.bench_function("backon", |b| b.iter(|| backon_call(&r, next())));

    let p = bulkhead_policy("bench-bulkhead");
    g.bench_function("ours_bulkhead", |b| b.iter(|| call_policy(&p, next())));
    let s = semaphore();
    g.bench_function("tokio_semaphore", |b| {
        b.iter(|| semaphore_call(&s, next()));
    });
    g.finish();
}

fn stack_sync(c: &mut Criterion) {
    let mut g = c.benchmark_group("stack_sync");
    let mut x = 0u64;
    let mut next = move || {
        x = x.wrapping_add(1);
        black_box(x)
    };
    g.bench_function("ours_attribute", |b| b.iter(|| attr_sync(next())));
    let p = full_builder("bench-full-sync");
    g.bench_function("ours_builder", |b| b.iter(|| call_policy(&p, next())));
    let combined = Combined::new();
    g.bench_function("hand_combined", |b| b.iter(|| combined.call(next())));
    let rt = runtime();
    let mut tower = {
        let _enter = rt.enter();
        tower_stack()
    };
    g.bench_function("tower_polled", |b| {
        let _enter = rt.enter();
        b.iter(|| now_or_never(tower_call(&mut tower, next())));
    });
    g.finish();
}

/// Times `iters` awaited calls of `f` inside one task, on a current-thread runtime.
macro_rules! async_bench {
    ($g:expr, $rt:expr, $name:expr, |$x:ident| $call:expr) => {
        $g.bench_function($name, |b| {
            b.to_async($rt).iter_custom(|iters| async move {
                let start = Instant::now();
                for $x in 0..iters {
                    black_box($call.await.is_ok());
                }
                start.elapsed()
            });
        });
    };
}

fn stack_async(c: &mut Criterion) {
    let mut g = c.benchmark_group("stack_async");
    let rt = runtime();
    async_bench!(g, &rt, "ours_attribute", |x| attr_async(black_box(x)));
    let p = &full_builder("bench-full-async");
    async_bench!(g, &rt, "ours_builder", |x| call_policy_async(
        p,
        black_box(x)
    ));
    let combined = &Combined::new();
    async_bench!(g, &rt, "hand_combined", |x| combined
        .call_async(black_box(x)));
    g.bench_function("tower", |b| {
        b.to_async(&rt).iter_custom(|iters| async move {
            let mut tower = tower_stack();
            let start = Instant::now();
            for x in 0..iters {
                black_box(tower_call(&mut tower, black_box(x)).await.is_ok());
            }
            start.elapsed()
        });
    });
    let r = &backon_policy();
    async_bench!(g, &rt, "part_backon", |x| backon_call_async(
        r,
        black_box(x)
    ));
    let p = &retry_policy("bench-retry-async");
    async_bench!(g, &rt, "part_ours_retry", |x| call_policy_async(
        p,
        black_box(x)
    ));
    g.finish();
}

/// Wall time for `iters` calls on each of `threads` threads started together: the time per
/// iteration is the time for `threads` calls made at once.
fn on_threads<F: Fn(usize, u64) + Sync>(threads: usize, iters: u64, f: F) -> Duration {
    let start = Barrier::new(threads + 1);
    let done = Barrier::new(threads + 1);
    std::thread::scope(|s| {
        for t in 0..threads {
            let (start, done, f) = (&start, &done, &f);
            s.spawn(move || {
                start.wait();
                for i in 0..iters {
                    f(t, i);
                }
                done.wait();
            });
        }
        start.wait();
        let t0 = Instant::now();
        done.wait();
        t0.elapsed()
    })
}

fn threads(c: &mut Criterion) {
    let mut g = c.benchmark_group("threads");
    let one = full_builder("bench-threads-a");
    let two = full_builder("bench-threads-b");
    let pick = |t: usize| if t == 0 { &one } else { &two };
    g.bench_function("builder_1_thread", |b| {
        b.iter_custom(|iters| {
            on_threads(1, iters, |_, i| {
                black_box(call_policy(&one, i).is_ok());
            })
        });
    });
    g.bench_function("builder_2_threads_one_policy", |b| {
        b.iter_custom(|iters| {
            on_threads(2, iters, |_, i| {
                black_box(call_policy(&one, i).is_ok());
            })
        });
    });
    g.bench_function("builder_2_threads_two_policies", |b| {
        b.iter_custom(|iters| {
            on_threads(2, iters, |t, i| {
                black_box(call_policy(pick(t), i).is_ok());
            })
        });
    });
    g.bench_function("attribute_1_thread", |b| {
        b.iter_custom(|iters| {
            on_threads(1, iters, |_, i| {
                black_box(attr_sync(i).is_ok());
            })
        });
    });
    g.bench_function("attribute_2_threads_one_policy", |b| {
        b.iter_custom(|iters| {
            on_threads(2, iters, |_, i| {
                black_box(attr_sync(i).is_ok());
            })
        });
    });
    g.bench_function("attribute_2_threads_two_policies", |b| {
        b.iter_custom(|iters| {
            on_threads(2, iters, |t, i| {
                black_box(if t == 0 { attr_sync(i) } else { attr_sync_b(i) }.is_ok());
            })
        });
    });
    let combined = Combined::new();
    let combined_b = Combined::new();
    g.bench_function("hand_combined_1_thread", |b| {
        b.iter_custom(|iters| {
            on_threads(1, iters, |_, i| {
                black_box(combined.call(i).is_ok());
            })
        });
    });
    g.bench_function("hand_combined_2_threads_one_stack", |b| {
        b.iter_custom(|iters| {
            on_threads(2, iters, |_, i| {
                black_box(combined.call(i).is_ok());
            })
        });
    });
    g.bench_function("hand_combined_2_threads_two_stacks", |b| {
        b.iter_custom(|iters| {
            on_threads(2, iters, |t, i| {
                let s = if t == 0 { &combined } else { &combined_b };
                black_box(s.call(i).is_ok());
            })
        });
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_millis(1500))
        .sample_size(50)
}

criterion_group! {
    name = benches;
    config = config();
    targets = floor, parts, stack_sync, stack_async, threads
}
criterion_main!(benches);
