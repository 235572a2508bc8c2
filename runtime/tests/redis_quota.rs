//! One `rpm` quota for a fleet: four replicas (four processes, each its own runtime and
//! connection) share a bucket in a real Redis; together they are admitted no more than the
//! quota plus the burst over the window, and at least 99 % of it.
#![cfg(feature = "redis")]

mod redis_server;

use std::time::{Duration, Instant};

use redis_server::{replica_result, spawn_replica, Server, ROLE};
use staunch_runtime::redis::Redis;
use staunch_runtime::{Error, Policy};

/// 6,000 a minute (100 a second), a second's worth of burst (the default).
const RPM: f64 = 6000.0;
const BURST: f64 = 100.0;
/// How long each replica keeps asking.
const ASKING: Duration = Duration::from_secs(3);

#[test]
fn four_replicas_share_one_rpm_quota() {
    if std::env::var(ROLE).is_ok() {
        return; // a replica runs only its own test
    }
    let server = Server::start();
    let replicas: Vec<_> = (0..4)
        .map(|_| {
            spawn_replica(
                "quota_replica",
                "quota",
                &[("STAUNCH_REDIS_URL", server.url())],
            )
        })
        .collect();
    let mut admitted = 0u64;
    let (mut first_start, mut last_start) = (u64::MAX, 0u64);
    let (mut first_end, mut last_end) = (u64::MAX, 0u64);
    for r in replicas {
        let out = replica_result(r);
        let v: Vec<u64> = out.split(',').map(|x| x.parse().unwrap()).collect();
        let (n, start, end, unavailable) = (v[0], v[1], v[2], v[3]);
        assert_eq!(unavailable, 0, "Redis answered every admission");
        admitted += n;
        first_start = first_start.min(start);
        last_start = last_start.max(start);
        first_end = first_end.min(end);
        last_end = last_end.max(end);
    }
    let per_us = RPM / 60e6;
    // every admission happened between the first replica's first ask and the last one's last
    // answer, on the server's clock: GCRA admits at most the burst plus the rate over that
    #[allow(clippy::cast_precision_loss)]
    let most = BURST + per_us * (last_end - first_start) as f64;
    // while all four were asking, every token made was taken (a full bucket to start with)
    #[allow(clippy::cast_precision_loss)]
    let least = BURST + per_us * first_end.saturating_sub(last_start) as f64;
    #[allow(clippy::cast_precision_loss)]
    let got = admitted as f64;
    eprintln!("admitted {admitted}: at most {most:.1}, at least 99 % of {least:.1}");
    assert!(
        got <= most.floor() + 1.0,
        "{admitted} admitted, at most {most:.1} allowed"
    );
    assert!(
        got >= 0.99 * least,
        "{admitted} admitted, fewer than 99 % of the {least:.1} the quota gave while all asked"
    );
}

/// One replica: asks as fast as it can for [`ASKING`], never waiting for a token.
#[test]
fn quota_replica() {
    if std::env::var(ROLE).as_deref() != Ok("quota") {
        return;
    }
    let url = std::env::var("STAUNCH_REDIS_URL").unwrap();
    let mut clock = redis::Client::open(url).unwrap().get_connection().unwrap();
    let mut time = || {
        let (s, us): (u64, u64) = redis::cmd("TIME").query(&mut clock).unwrap();
        s * 1_000_000 + us
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let policy = Policy::builder("fleet-quota")
        .rpm(RPM)
        .wait(Duration::ZERO)
        .redis(Redis::new().fail_closed().timeout(Duration::from_secs(2)))
        .build()
        .unwrap();
    let (mut admitted, mut unavailable) = (0u64, 0u64);
    let start = time();
    let asking = Instant::now();
    rt.block_on(async {
        while asking.elapsed() < ASKING {
            let r: Result<(), Error> = policy.call_async(|| async { Ok(()) }).await;
            match r {
                Ok(()) => admitted += 1,
                Err(Error::RateLimited { .. }) => {}
                Err(Error::BackendUnavailable { .. }) => unavailable += 1,
                Err(e) => panic!("unexpected {e}"),
            }
        }
    });
    let end = time();
    println!("result={admitted},{start},{end},{unavailable}");
}
