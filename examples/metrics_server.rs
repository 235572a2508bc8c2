//! Prometheus metrics of a client that rides out a flaky upstream: an axum server on loopback
//! serves `GET /metrics` (`staunch::metrics::prometheus()`), while a few background tasks call
//! an in-process upstream that fails some calls, is slow at times and goes down for 4 s out of
//! every 30 s, through methods annotated with `#[resilient]` (see `examples/metrics/mod.rs`).
//!
//!     cargo run --example metrics_server              # serves for 60 s, or until Ctrl-C
//!     cargo run --example metrics_server -- 10        # for 10 s
//!     curl -s http://127.0.0.1:PORT/metrics           # in another terminal
//!
//! Its first line says where the metrics are: `metrics on http://127.0.0.1:PORT/metrics`.

#[path = "metrics/mod.rs"]
mod demo;

use std::sync::Arc;
use std::time::Duration;

use staunch::CircuitState;
use tokio::net::TcpListener;
use tokio::time::Instant;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secs: u64 = match std::env::args().nth(1) {
        None => 60,
        Some(arg) => arg
            .parse()
            .map_err(|_| format!("expected a number of seconds to serve, found `{arg}`"))?,
    };
    // the latency histogram: two clock reads per attempt, so it is off unless asked for
    staunch::metrics::time_attempts(true);

    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("metrics on http://{}/metrics", listener.local_addr()?);

    let start = Instant::now();
    let until = start + Duration::from_secs(secs);
    let client = Arc::new(demo::Client::new(demo::Upstream::new(start, 0x5eed)));
    let load = tokio::spawn(demo::load(client, until));

    let server = axum::serve(listener, demo::router()).with_graceful_shutdown(async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = tokio::time::sleep_until(until) => {}
        }
    });
    let mut server = tokio::spawn(async move { server.await });

    // every ten seconds, a line of what the policies' signals say
    let profile = demo::profile_policy();
    let mut ticks =
        tokio::time::interval_at(start + Duration::from_secs(10), Duration::from_secs(10));
    loop {
        tokio::select! {
            served = &mut server => {
                served??;
                break;
            }
            _ = ticks.tick() => {}
        }
        if let (Some(q), Some(p)) = (staunch::signals("quotes"), staunch::signals(&profile)) {
            let breaker = match q.circuit {
                CircuitState::Closed => "closed",
                CircuitState::HalfOpen => "half-open",
                CircuitState::Open => "open",
            };
            println!(
                "{:>3}s quotes: {} calls, {} retries, {} fallbacks, breaker {breaker} | profile: {} calls, {} turned away, {} stale",
                start.elapsed().as_secs(),
                q.calls(),
                q.retries,
                q.fallbacks,
                p.calls(),
                p.rejections.total(),
                p.stale_served,
            );
        }
    }
    // the load's last calls end on their own within two seconds; no need to wait for them
    load.abort();
    println!("done");
    Ok(())
}
