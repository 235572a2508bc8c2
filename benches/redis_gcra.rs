//! Admissions a second and latency an admission against a local `redis-server` (started here,
//! on a free loopback port): staunch's GCRA script (a whole `call_async` of a policy declared
//! with `redis`, one round trip) beside a naive fixed window (`INCR` + `EXPIRE` in one
//! atomic pipeline, one round trip), with 1 and 4 concurrent clients, each with its own
//! connection. The limit is never reached: this measures what an admission costs.
//!
//!   cargo bench --bench redis_gcra            # needs `redis-server` on the PATH
//!   SECONDS=5 cargo bench --bench redis_gcra  # longer runs

#[path = "../runtime/tests/redis_server/mod.rs"]
mod redis_server;

use std::time::{Duration, Instant};

use staunch::redis::Redis;
use staunch::{Breaker, Error, Policy};

/// Latencies of every admission of one client, in ns.
type Samples = Vec<u64>;

async fn ours(policy: Policy, until: Instant) -> Samples {
    let mut samples = Vec::with_capacity(1 << 16);
    while Instant::now() < until {
        let t = Instant::now();
        let r: Result<(), Error> = policy.call_async(|| async { Ok(()) }).await;
        samples.push(u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX));
        r.expect("admitted");
    }
    samples
}

async fn naive(mut conn: redis::aio::ConnectionManager, key: String, until: Instant) -> Samples {
    let mut samples = Vec::with_capacity(1 << 16);
    while Instant::now() < until {
        let t = Instant::now();
        let (count, _): (u64, bool) = redis::pipe()
            .atomic()
            .incr(&key, 1)
            .expire(&key, 60)
            .query_async(&mut conn)
            .await
            .expect("redis answers");
        samples.push(u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX));
        assert!(count > 0);
    }
    samples
}

fn report(what: &str, clients: usize, run: Duration, per_client: Vec<Samples>) {
    let mut all: Vec<u64> = per_client.into_iter().flatten().collect();
    all.sort_unstable();
    let q = |p: f64| {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let i = ((all.len() as f64 - 1.0) * p).round() as usize;
        Duration::from_nanos(all[i])
    };
    #[allow(clippy::cast_precision_loss)]
    let rate = all.len() as f64 / run.as_secs_f64();
    println!(
        "| {what} | {clients} | {rate:.0} | {:.0} | {:.0} |",
        q(0.5).as_secs_f64() * 1e6,
        q(0.99).as_secs_f64() * 1e6
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benches: nothing to list here
    }
    let secs: u64 = std::env::var("SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let run = Duration::from_secs(secs);
    let server = redis_server::Server::start();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!("| admission | clients | admissions/s | p50 µs | p99 µs |");
    println!("|---|---|---|---|---|");
    for clients in [1usize, 4] {
        rt.block_on(async {
            for (what, breaker) in [
                ("staunch GCRA script (`call_async`)", false),
                ("staunch GCRA + shared breaker (`call_async`)", true),
            ] {
                // one policy per client, each with its own connection as replicas would have,
                // all on one bucket: names of their own whose prefix + name is the same key
                // (a name is one policy per process: each row's names are its own)
                let word = match (clients, breaker) {
                    (1, false) => "solo",
                    (1, true) => "SOLO",
                    (_, false) => "team",
                    (_, true) => "TEAM",
                };
                let policies: Vec<Policy> = (0..clients)
                    .map(|i| {
                        let mut b = Policy::builder(&word[i..]).rps(1e9).burst(u32::MAX);
                        if breaker {
                            // every success is settled too (not waited for): it ends failures
                            // in a row that other replicas may have recorded
                            b = b.breaker(Breaker::new().threshold(5));
                        }
                        b.redis(
                            Redis::new()
                                .url(&server.url())
                                .prefix(&format!("bench{breaker}:{}", &word[..i]))
                                .timeout(Duration::from_secs(1)),
                        )
                        .build()
                        .unwrap()
                    })
                    .collect();
                // warm up: connect and load the scripts
                for p in &policies {
                    let _: Result<(), Error> = p.call_async(|| async { Ok(()) }).await;
                }
                let until = Instant::now() + run;
                let tasks: Vec<_> = policies
                    .into_iter()
                    .map(|p| tokio::spawn(ours(p, until)))
                    .collect();
                let mut samples = Vec::new();
                for t in tasks {
                    samples.push(t.await.unwrap());
                }
                report(what, clients, run, samples);
            }

            let client = redis::Client::open(server.url()).unwrap();
            let mut conns = Vec::new();
            for _ in 0..clients {
                conns.push(client.get_connection_manager().await.unwrap());
            }
            let until = Instant::now() + run;
            let tasks: Vec<_> = conns
                .into_iter()
                .map(|c| tokio::spawn(naive(c, "bench:naive".to_owned(), until)))
                .collect();
            let mut samples = Vec::new();
            for t in tasks {
                samples.push(t.await.unwrap());
            }
            report(
                "naive `INCR` + `EXPIRE` (atomic pipeline)",
                clients,
                run,
                samples,
            );
        });
    }
}
