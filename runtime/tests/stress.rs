//! Threads hammering one policy: the limits hold as invariants, whatever the interleaving.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use staunch_runtime::{Breaker, Error, MockClock, Policy};

const THREADS: usize = 4;
const CALLS: usize = 20_000;

fn fail() -> Result<(), Error> {
    Err(Error::Timeout {
        policy: "x".into(),
        after: Duration::ZERO,
    })
}

/// Body that records how many bodies run at once.
fn tracked(
    now: &AtomicUsize,
    peak: &AtomicUsize,
    outcome: fn() -> Result<(), Error>,
) -> Result<(), Error> {
    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
    peak.fetch_max(n, Ordering::SeqCst);
    std::thread::yield_now();
    now.fetch_sub(1, Ordering::SeqCst);
    outcome()
}

/// Every thread reads one mock clock, and each moves it on by 50 µs after each call: refills
/// race with takes, yet the bound is exact (no real time in it).
#[test]
fn the_limiter_never_admits_more_than_burst_plus_rate_times_elapsed() {
    let (rate, burst) = (1000.0, 50u32);
    let clock = MockClock::new();
    let p = Policy::builder("stress-limiter")
        .rps(rate)
        .burst(burst)
        .wait(Duration::ZERO)
        .build()
        .unwrap();
    let admitted = AtomicUsize::new(0);
    let start = clock.elapsed();
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                let _installed = clock.install();
                for _ in 0..CALLS {
                    if p.call(|| Ok::<_, Error>(())).is_ok() {
                        admitted.fetch_add(1, Ordering::Relaxed);
                    }
                    clock.advance(Duration::from_micros(50));
                }
            });
        }
    });
    let elapsed = (clock.elapsed() - start).as_secs_f64();
    let admitted = admitted.load(Ordering::Relaxed) as f64;
    assert!(
        admitted >= f64::from(burst),
        "the full bucket was available: {admitted}"
    );
    assert!(
        admitted <= f64::from(burst) + rate * elapsed,
        "{admitted} admitted in {elapsed}s"
    );
}

#[test]
fn a_half_open_breaker_never_has_more_than_m_trials_in_flight() {
    let m = 2;
    let p = Policy::builder("stress-half-open")
        .breaker(
            Breaker::new()
                .threshold(1)
                .cooldown(Duration::ZERO)
                .half_open(m),
        )
        .build()
        .unwrap();
    assert_eq!(p.call(fail), fail()); // open; from now on every admitted call is a trial
    let (now, peak, trials) = (
        AtomicUsize::new(0),
        AtomicUsize::new(0),
        AtomicUsize::new(0),
    );
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                for _ in 0..CALLS {
                    let _ = p.call(|| {
                        trials.fetch_add(1, Ordering::Relaxed);
                        tracked(&now, &peak, fail)
                    });
                }
            });
        }
    });
    assert!(trials.load(Ordering::Relaxed) > 0);
    let peak = peak.load(Ordering::SeqCst);
    assert!(
        peak <= m as usize,
        "{peak} trials at once, at most {m} allowed"
    );
}

#[test]
fn in_flight_never_exceeds_the_bulkhead() {
    let p = Policy::builder("stress-bulkhead")
        .max_inflight(3)
        .build()
        .unwrap();
    let (now, peak, full) = (
        AtomicUsize::new(0),
        AtomicUsize::new(0),
        AtomicUsize::new(0),
    );
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                for _ in 0..CALLS {
                    if let Err(Error::BulkheadFull { .. }) =
                        p.call(|| tracked(&now, &peak, || Ok(())))
                    {
                        full.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    assert!(peak.load(Ordering::SeqCst) <= 3);
    assert_eq!(
        staunch_runtime::signals("stress-bulkhead")
            .unwrap()
            .inflight,
        0
    );
}
