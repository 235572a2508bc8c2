//! Hedging against a simulated long-tail upstream, on tokio's paused clock (so the figures are
//! exact and the same on every machine): p50/p99/p99.9 of what callers see, and the extra load
//! (copies started per call), without hedging, with a fixed delay, and with learned ones.
//!
//! The upstream: each copy's latency is drawn from a seeded generator, 95 % uniform in
//! [80 ms, 120 ms], 5 % at 2 s; copies are independent (a hedge is a fresh draw). Calls run
//! one after another, so no copy waits for another.
//!
//! ```text
//! cargo bench --bench hedge_tail            # 20,000 calls a row
//! CALLS=100000 cargo bench --bench hedge_tail
//! ```

use std::cell::Cell;
use std::time::Duration;

use staunch::{Error, Hedge, Policy};
use tokio::time::Instant;

/// splitmix64: small, seeded, and good enough to draw latencies.
struct Rng(Cell<u64>);

impl Rng {
    fn next(&self) -> u64 {
        let s = self.0.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
        self.0.set(s);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// One copy's latency: 95 % in [80, 120] ms, 5 % at 2 s.
    fn latency(&self) -> Duration {
        if self.next() % 100 < 5 {
            Duration::from_secs(2)
        } else {
            Duration::from_micros(80_000 + self.next() % 40_001)
        }
    }
}

struct Row {
    name: &'static str,
    hedge: Option<Hedge>,
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[rank]
}

async fn run(row: &Row, calls: usize) -> String {
    let mut b = Policy::builder(&format!("bench-hedge-{}", row.name));
    if let Some(h) = row.hedge {
        b = b.hedge(h);
    }
    let policy = b.build().expect("valid settings");
    let rng = Rng(Cell::new(0x5EED));
    let copies = Cell::new(0_u64);
    let mut seen = Vec::with_capacity(calls);
    for _ in 0..calls {
        let t0 = Instant::now();
        let r: Result<(), Error> = policy
            .call_hedged(|| {
                copies.set(copies.get() + 1);
                let d = rng.latency();
                async move {
                    tokio::time::sleep(d).await;
                    Ok(())
                }
            })
            .await;
        r.expect("the upstream never fails");
        seen.push(t0.elapsed());
    }
    seen.sort_unstable();
    #[allow(clippy::cast_precision_loss)]
    let load = copies.get() as f64 / calls as f64;
    let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1000.0);
    format!(
        "| {} | {} | {} | {} | {} | {:.3} |",
        row.name,
        ms(quantile(&seen, 0.5)),
        ms(quantile(&seen, 0.99)),
        ms(quantile(&seen, 0.999)),
        ms(seen.iter().sum::<Duration>() / u32::try_from(calls).unwrap_or(u32::MAX)),
        load,
    )
}

fn main() {
    let calls: usize = std::env::var("CALLS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(20_000);
    let ms = Duration::from_millis;
    let rows = [
        Row {
            name: "no hedging",
            hedge: None,
        },
        Row {
            name: "after = 150ms",
            hedge: Some(Hedge::new().after(ms(150))),
        },
        Row {
            name: "after = 150ms, max = 2",
            hedge: Some(Hedge::new().after(ms(150)).max(2)),
        },
        Row {
            name: "after = 500ms",
            hedge: Some(Hedge::new().after(ms(500))),
        },
        Row {
            name: "percentile = 0.9",
            hedge: Some(Hedge::new().percentile(0.9)),
        },
        Row {
            name: "percentile = 0.95 (bare `hedge`)",
            hedge: Some(Hedge::new()),
        },
        Row {
            name: "percentile = 0.99",
            hedge: Some(Hedge::new().percentile(0.99)),
        },
    ];
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a runtime");
    println!("{calls} calls a row, one at a time; upstream: 95 % in [80, 120] ms, 5 % at 2 s\n");
    println!("| hedging | p50 | p99 | p99.9 | mean | copies per call |");
    println!("|---|---|---|---|---|---|");
    for row in &rows {
        println!("{}", rt.block_on(run(row, calls)));
    }
}
