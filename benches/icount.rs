//! Instructions per call, for callgrind: `icount <variant> <n>` runs `n` calls of one variant
//! (after building its stack), so that two runs with different `n` give the cost of one call
//! with every setup cost cancelled out. Driven by `benches/callgrind.sh`; `icount list` prints
//! the variants.
//!
//! A bench target without a harness: `cargo bench --bench icount -- <variant> <n>` runs it
//! natively too (useful to check a variant before a slow callgrind run).

mod common;

use std::future::{poll_fn, Future};
use std::hint::black_box;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use common::*;

const VARIANTS: &[&str] = &[
    "empty_loop",
    "bare_call",
    "instant_now",
    "atomic_rmw",
    "ours_no_part",
    "ours_limiter",
    "governor_direct",
    "ours_keyed_1",
    "governor_keyed_1",
    "ours_keyed_10000",
    "governor_keyed_10000",
    "ours_breaker",
    "ours_breaker_window",
    "ours_breaker_window_slow",
    "ours_breaker_window_time",
    "ours_breaker_keyed_1",
    "ours_breaker_keyed_10000",
    "failsafe",
    "ours_retry",
    "backon",
    "ours_bulkhead",
    "tokio_semaphore",
    "sync_ours_attribute",
    "sync_ours_builder",
    "sync_hand_combined",
    "sync_tower_polled",
    "async_empty_loop",
    "async_ours_attribute",
    "async_ours_builder",
    "async_hand_combined",
    "async_tower",
    "async_backon",
    "async_ours_retry",
    "sync_ours_attribute_watched",
    "async_ours_attribute_watched",
    "sync_ours_attribute_info",
    "async_ours_attribute_info",
];

/// The failure-rate breaker of `variant`: a window of 100 calls, with a slow-call bound (the
/// attempt reads the clock at its start and end), or a time window of 60 s (the same).
fn window_breaker_policy(variant: &str) -> staunch::Policy {
    let b = staunch::Breaker::new().failure_rate(0.5);
    let b = match variant {
        "ours_breaker_window_slow" => b.window_calls(100).slow_call(Duration::from_secs(2)),
        "ours_breaker_window_time" => b.window_time(Duration::from_secs(60)),
        _ => b.window_calls(100),
    };
    staunch::Policy::builder("icount")
        .breaker(b)
        .build()
        .expect("valid policy")
}

/// An events subscriber that wants only breaker state changes: filtered out for attempts.
fn watch_states() {
    std::mem::forget(staunch::events::subscribe(
        staunch::events::Filter::all().kinds(staunch::events::Kinds::STATE),
        |_| {},
    ));
}

/// A `tracing` subscriber at `INFO`, as a service runs in production: staunch's happy path
/// is below it.
fn trace_at_info() {
    use tracing_subscriber::layer::SubscriberExt;
    let subscriber =
        tracing_subscriber::registry().with(tracing_subscriber::filter::LevelFilter::INFO);
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
}

/// Calls made before the measured ones, so that every lazy initialisation (the policy, the
/// clock's calibration, whose instruction count depends on how long it takes) is done before
/// callgrind starts counting.
const WARM_UP: u64 = 1_000;

fn sync_loop(n: u64, mut f: impl FnMut(u64) -> bool) {
    for i in 0..WARM_UP {
        black_box(f(black_box(i)));
    }
    measured(n, &mut f);
}

/// The counted loop: `callgrind.sh` collects only inside functions named `measured*`.
#[inline(never)]
fn measured(n: u64, f: &mut impl FnMut(u64) -> bool) {
    for i in 0..n {
        black_box(f(black_box(i)));
    }
}

fn async_loop<F, Fut>(n: u64, mut f: F)
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = bool>,
{
    runtime().block_on(async {
        for i in 0..WARM_UP {
            black_box(f(black_box(i)).await);
        }
        let mut counted = pin!(async {
            for i in 0..n {
                black_box(f(black_box(i)).await);
            }
        });
        poll_fn(|cx| measured_poll(counted.as_mut(), cx)).await;
    });
}

/// Polls the counted async loop (see [`measured`]): an async block's own poll is inlined into
/// its caller, so callgrind is pointed at this function instead.
#[inline(never)]
fn measured_poll<F: Future>(f: Pin<&mut F>, cx: &mut Context<'_>) -> Poll<F::Output> {
    f.poll(cx)
}

fn run(variant: &str, n: u64) {
    match variant {
        "empty_loop" => sync_loop(n, |i| i & 1 == 0),
        "bare_call" => sync_loop(n, |i| body(i).is_ok()),
        "instant_now" => sync_loop(n, |_| {
            black_box(Instant::now());
            true
        }),
        "atomic_rmw" => {
            let c = AtomicU64::new(0);
            sync_loop(n, |i| c.fetch_add(i, Ordering::AcqRel) > 0);
        }
        "ours_no_part" => {
            let p = empty_policy("icount");
            sync_loop(n, |i| call_policy(&p, i).is_ok());
        }
        "ours_limiter" => {
            let p = limiter_policy("icount");
            sync_loop(n, |i| call_policy(&p, i).is_ok());
        }
        "governor_direct" => {
            let l = governor_direct();
            sync_loop(n, |i| governor_call(&l, i).is_ok());
        }
        "ours_keyed_1" | "ours_keyed_10000" => {
            let keys = if variant.ends_with("_1") { 1 } else { 10_000 };
            let p = keyed_policy("icount");
            sync_loop(n, |i| call_keyed(&p, i % keys, i).is_ok());
        }
        "governor_keyed_1" | "governor_keyed_10000" => {
            let keys = if variant.ends_with("_1") { 1 } else { 10_000 };
            let l = governor_keyed();
            sync_loop(n, |i| governor_keyed_call(&l, i % keys, i).is_ok());
        }
        "ours_breaker" => {
            let p = breaker_policy("icount");
            sync_loop(n, |i| call_policy(&p, i).is_ok());
        }
        "ours_breaker_window" | "ours_breaker_window_slow" | "ours_breaker_window_time" => {
            let p = window_breaker_policy(variant);
            sync_loop(n, |i| call_policy(&p, i).is_ok());
        }
        "ours_breaker_keyed_1" | "ours_breaker_keyed_10000" => {
            let keys = if variant.ends_with("_1") { 1 } else { 10_000 };
            let p = staunch::Policy::builder("icount")
                .breaker(staunch::Breaker::new().keyed())
                .build()
                .expect("valid policy");
            sync_loop(n, |i| call_keyed(&p, i % keys, i).is_ok());
        }
        "failsafe" => {
            let b = failsafe_breaker();
            sync_loop(n, |i| failsafe_call(&b, i).is_ok());
        }
        "ours_retry" => {
            let p = retry_policy("icount");
            sync_loop(n, |i| call_policy(&p, i).is_ok());
        }
        "backon" => {
            let b = backon_policy();
            sync_loop(n, |i| backon_call(&b, i).is_ok());
        }
        "ours_bulkhead" => {
            let p = bulkhead_policy("icount");
            sync_loop(n, |i| call_policy(&p, i).is_ok());
        }
        "tokio_semaphore" => {
            let s = semaphore();
            sync_loop(n, |i| semaphore_call(&s, i).is_ok());
        }
        "sync_ours_attribute" => sync_loop(n, |i| attr_sync(i).is_ok()),
        "sync_ours_attribute_watched" => {
            watch_states();
            sync_loop(n, |i| attr_sync(i).is_ok());
        }
        "sync_ours_attribute_info" => {
            trace_at_info();
            sync_loop(n, |i| attr_sync(i).is_ok());
        }
        "async_ours_attribute_watched" => {
            watch_states();
            async_loop(n, |i| async move { attr_async(i).await.is_ok() });
        }
        "async_ours_attribute_info" => {
            trace_at_info();
            async_loop(n, |i| async move { attr_async(i).await.is_ok() });
        }
        "sync_ours_builder" => {
            let p = full_builder("icount");
            sync_loop(n, |i| call_policy(&p, i).is_ok());
        }
        "sync_hand_combined" => {
            let c = Combined::new();
            sync_loop(n, |i| c.call(i).is_ok());
        }
        "sync_tower_polled" => {
            let rt = runtime();
            let _enter = rt.enter();
            let mut t = tower_stack();
            sync_loop(n, |i| now_or_never(tower_call(&mut t, i)).is_ok());
        }
        "async_empty_loop" => async_loop(n, |i| async move { i & 1 == 0 }),
        "async_ours_attribute" => async_loop(n, |i| async move { attr_async(i).await.is_ok() }),
        "async_ours_builder" => {
            let p = &full_builder("icount");
            async_loop(n, |i| async move { call_policy_async(p, i).await.is_ok() });
        }
        "async_hand_combined" => {
            let c = &Combined::new();
            async_loop(n, |i| async move { c.call_async(i).await.is_ok() });
        }
        "async_tower" => runtime().block_on(async {
            let mut t = tower_stack();
            for i in 0..WARM_UP {
                black_box(tower_call(&mut t, black_box(i)).await.is_ok());
            }
            let mut counted = pin!(async {
                for i in 0..n {
                    black_box(tower_call(&mut t, black_box(i)).await.is_ok());
                }
            });
            poll_fn(|cx| measured_poll(counted.as_mut(), cx)).await;
        }),
        "async_backon" => {
            let b = &backon_policy();
            async_loop(n, |i| async move { backon_call_async(b, i).await.is_ok() });
        }
        "async_ours_retry" => {
            let p = &retry_policy("icount");
            async_loop(n, |i| async move { call_policy_async(p, i).await.is_ok() });
        }
        other => {
            eprintln!("unknown variant `{other}`; `icount list` prints them");
            std::process::exit(2);
        }
    }
}

fn main() {
    // `cargo bench` passes `--bench`; skip every flag.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    match args.as_slice() {
        [] => {
            // `cargo bench` with no arguments: a quick native run of every variant
            for v in VARIANTS {
                let t0 = Instant::now();
                run(v, 100_000);
                println!(
                    "{v:24} {:>8.1} ns/call",
                    t0.elapsed().as_nanos() as f64 / 1e5
                );
            }
        }
        [list] if list == "list" => {
            for v in VARIANTS {
                println!("{v}");
            }
        }
        [variant, n] => run(variant, n.parse().expect("n: a number of calls")),
        _ => {
            eprintln!("usage: icount <variant> <n> | icount list");
            std::process::exit(2);
        }
    }
}
