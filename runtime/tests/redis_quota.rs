//! One `rpm` quota for a fleet: four replicas (four processes, each its own runtime and
//! connection) share a bucket in a real Redis; together they are admitted no more than the
//! quota plus the burst over the window, and at least 99 % of it while they asked; and a token
//! limit in Redis charged the tokens a call used beyond its estimate.
#![cfg(feature = "redis")]

mod redis_server;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use redis_server::{replica_result, spawn_replica, Server, ROLE};
use staunch_runtime::attempt::{Req, Step};
use staunch_runtime::redis::Redis;
use staunch_runtime::{Class, Error, Policy};

/// 6,000 a minute (100 a second), a second's worth of burst (the default).
const RPM: f64 = 6000.0;
const BURST: f64 = 100.0;
/// µs between two tokens.
const INTERVAL_US: u64 = 10_000;
/// The bucket's tolerance (its burst, in µs).
const TAU_US: u64 = 1_000_000;
/// How long each replica keeps asking.
const ASKING: Duration = Duration::from_secs(3);

/// An interval of the server's clock, in µs, half-open: `[.0, .1)`.
type Span = (u64, u64);

/// What a replica reports: its admissions, and when, as far as it can tell, the fleet may
/// have lost tokens.
struct Replica {
    admitted: u64,
    /// Its first ask started / ended, its last ask started / ended.
    first: Span,
    last: Span,
    /// Its last refused ask started (a refusal ran after this), if any.
    last_refusal: Option<u64>,
    /// Between two of its consecutive asks, the script may not have run for longer than a
    /// token's interval within each of these.
    gaps: Vec<Span>,
    /// Within each of these a refusal of its ran less than `TAU_US - INTERVAL_US` before.
    drained: Vec<Span>,
}

fn spans(text: &str) -> Vec<Span> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| {
            let (a, b) = s.split_once('-').unwrap();
            (a.parse().unwrap(), b.parse().unwrap())
        })
        .collect()
}

fn print_spans(spans: &[Span]) -> String {
    spans
        .iter()
        .map(|(a, b)| format!("{a}-{b}"))
        .collect::<Vec<_>>()
        .join(",")
}

impl Replica {
    fn parse(line: &str) -> Replica {
        let f: Vec<&str> = line.split(';').collect();
        let n = |i: usize| -> u64 { f[i].parse().unwrap() };
        Replica {
            admitted: n(0),
            first: (n(1), n(2)),
            last: (n(3), n(4)),
            last_refusal: f[5].parse().ok(),
            gaps: spans(f[6]),
            drained: spans(f[7]),
        }
    }

    /// Whether this replica may have run no script at `t` for longer than a token's interval.
    fn idle(&self, t: u64) -> bool {
        t < self.first.1 || t >= self.last.0 || self.gaps.iter().any(|&(a, b)| a <= t && t < b)
    }
}

/// The length of the part of `[from, to)` where `lossy` holds: `lossy` is constant between two
/// consecutive `cuts`.
fn measure(from: u64, to: u64, cuts: &mut Vec<u64>, lossy: impl Fn(u64) -> bool) -> u64 {
    cuts.push(from);
    cuts.push(to);
    cuts.retain(|&c| (from..=to).contains(&c));
    cuts.sort_unstable();
    cuts.dedup();
    cuts.windows(2)
        .filter(|w| lossy(w[0]))
        .map(|w| w[1] - w[0])
        .sum()
}

/// The bounds, GCRA's (a bucket of `BURST` tokens, one every `INTERVAL_US`, full at first),
/// on the server's clock:
///
/// - at most: every admission happened between the first ask's start and the last ask's end,
///   and GCRA admits at most the burst plus the rate over that.
/// - at least: the bucket's arrival time `tat` moves by one interval per admission, plus the
///   time it fell behind the clock when an admission came to a full bucket (tokens lost,
///   `L`). It starts at the first admission (`t0`) and, at the last refusal (`r`), is more than
///   `r + TAU - INTERVAL`: so `admitted > BURST - 1 + rate * (r - t0) - L / INTERVAL`.
///
/// `L` is what slowness costs: a loaded machine whose replicas cannot ask 100 times a second
/// loses tokens, and a fixed "99 % of the window" is then flaky. So each replica records
/// where it may have lost some, and the lower bound is cut by all of it: tokens can be lost at
/// `t` only if no replica ran a script in the interval before `t` (after any script `tat` is at
/// least one interval ahead of the clock), and no refusal ran in the `TAU - INTERVAL` before
/// `t` (a refusal leaves `tat` more than that ahead). Both are judged conservatively from each
/// ask's start and end on the host's clock (the server's: same host, `CLOCK_REALTIME`, which
/// each replica checks against `TIME`). The bound holds however slow the machine; with the
/// replicas asking faster than the rate (the normal case) nothing is cut and the check is the
/// contract's: at least 99 % of the burst plus the rate over the time they asked. A fleet
/// admitted too few (a script charging too much, a lost refund) fails it: a bucket whose
/// interval was 3 % too long did (and one 3 % too short failed the upper bound). Only a
/// machine so loaded that the replicas could not keep the bucket empty for a second of the
/// three fails it otherwise, and says so.
#[test]
fn four_replicas_share_one_rpm_quota() {
    if std::env::var(ROLE).is_ok() {
        return; // a replica runs only its own test
    }
    let server = Server::start();
    let children: Vec<_> = (0..4)
        .map(|_| {
            spawn_replica(
                "quota_replica",
                "quota",
                &[("STAUNCH_REDIS_URL", server.url())],
            )
        })
        .collect();
    let replicas: Vec<Replica> = children
        .into_iter()
        .map(|c| Replica::parse(&replica_result(c)))
        .collect();
    let admitted: u64 = replicas.iter().map(|r| r.admitted).sum();
    let first_start = replicas.iter().map(|r| r.first.0).min().unwrap();
    let last_end = replicas.iter().map(|r| r.last.1).max().unwrap();
    #[allow(clippy::cast_precision_loss)]
    let tokens = |us: u64| us as f64 * RPM / 60e6;
    let most = BURST + tokens(last_end - first_start);

    // t0 is before the end of every replica's first ask, r after the start of its last refusal
    let t0 = replicas.iter().map(|r| r.first.1).min().unwrap();
    let r = replicas
        .iter()
        .filter_map(|r| r.last_refusal)
        .max()
        .expect("no replica was ever refused: they asked too slowly to empty the bucket");
    let mut cuts: Vec<u64> = replicas
        .iter()
        .flat_map(|r| {
            let ends = [r.first.1, r.last.0];
            let spans = r.gaps.iter().chain(&r.drained).flat_map(|&(a, b)| [a, b]);
            ends.into_iter().chain(spans)
        })
        .collect();
    // from before the first admission to after the last refusal
    let lost = measure(first_start, last_end, &mut cuts, |t| {
        replicas.iter().all(|x| x.idle(t))
            && !replicas
                .iter()
                .any(|x| x.drained.iter().any(|&(a, b)| a <= t && t < b))
    });
    let judged = r.saturating_sub(t0).saturating_sub(lost);
    let least = BURST + tokens(judged);
    #[allow(clippy::cast_precision_loss)]
    let got = admitted as f64;
    eprintln!(
        "admitted {admitted}: at most {most:.1}; at least 99 % of {least:.1} \
         (asked for {} ms, of which {} ms may have lost tokens)",
        r.saturating_sub(t0) / 1000,
        lost / 1000
    );
    assert!(
        got <= most.floor() + 1.0,
        "{admitted} admitted, at most {most:.1} allowed"
    );
    assert!(
        judged >= 1_000_000,
        "the replicas asked too slowly for a lower bound to mean anything: {} ms of {} ms \
         may have lost tokens (the machine is overloaded)",
        lost / 1000,
        r.saturating_sub(t0) / 1000
    );
    assert!(
        got >= 0.99 * least,
        "{admitted} admitted, fewer than 99 % of the {least:.1} the quota gave while they asked"
    );
}

/// The host's clock, in µs since the epoch: the server's (`TIME`), as each replica checks.
fn now_us() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_micros(),
    )
    .unwrap()
}

/// One replica: asks as fast as it can for [`ASKING`], never waiting for a token, and reports
/// (see [`Replica`]) where it could not have kept the bucket empty.
#[test]
fn quota_replica() {
    if std::env::var(ROLE).as_deref() != Ok("quota") {
        return;
    }
    let url = std::env::var("STAUNCH_REDIS_URL").unwrap();
    let mut side = redis::Client::open(url).unwrap().get_connection().unwrap();
    // the server's clock is this host's: its `TIME` falls between two readings of ours
    let before = now_us();
    let (s, us): (u64, u64) = redis::cmd("TIME").query(&mut side).unwrap();
    let after = now_us();
    let server = s * 1_000_000 + us;
    assert!(
        before <= server && server <= after,
        "the server's clock is not the host's: {before} <= {server} <= {after}"
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // slowness is not an outage here: the longest round trip
    let policy = Policy::builder("fleet-quota")
        .rpm(RPM)
        .wait(Duration::ZERO)
        .redis(Redis::new().fail_closed().timeout(Redis::MAX_TIMEOUT))
        .build()
        .unwrap();
    let mut admitted = 0u64;
    let (mut first, mut last) = ((0, 0), (0, 0));
    let mut last_refusal = None;
    let (mut gaps, mut drained): (Vec<Span>, Vec<Span>) = (Vec::new(), Vec::new());
    let asking = Instant::now();
    rt.block_on(async {
        loop {
            let start = now_us();
            let r: Result<(), Error> = policy.call_async(|| async { Ok(()) }).await;
            let end = now_us();
            if first == (0, 0) {
                first = (start, end);
            } else if end - last.0 > INTERVAL_US {
                // this ask's script and the previous one ran within [last.0, end)
                gaps.push((last.0, end));
            }
            last = (start, end);
            match r {
                Ok(()) => admitted += 1,
                Err(Error::RateLimited { .. }) => {
                    last_refusal = Some(start);
                    // a refusal ran in [start, end): from `end` until `start + TAU - INTERVAL`
                    // the bucket's arrival time is ahead of the clock
                    let span = (end, start + TAU_US - INTERVAL_US);
                    match drained.last_mut() {
                        Some(d) if span.0 <= d.1 => d.1 = d.1.max(span.1),
                        _ if span.0 < span.1 => drained.push(span),
                        _ => {}
                    }
                }
                Err(e) => panic!("unexpected {e}"),
            }
            if asking.elapsed() >= ASKING {
                break;
            }
        }
    });
    println!(
        "result={admitted};{};{};{};{};{};{};{}",
        first.0,
        first.1,
        last.0,
        last.1,
        last_refusal.map_or("-".to_owned(), |r: u64| r.to_string()),
        print_spans(&gaps),
        print_spans(&drained)
    );
}

/// The tokens key's arrival time (µs on the server's clock), read with a connection of the
/// test's own.
fn arrival(conn: &mut redis::Connection, key: &str) -> f64 {
    let v: String = redis::cmd("GET").arg(key).query(conn).unwrap();
    v.parse().unwrap()
}

/// A call that used more tokens than its estimate is charged the difference in Redis: the
/// token bucket's arrival time moves by `(used - estimate) * interval`, and the fleet's next
/// calls have that much less room.
#[test]
fn tokens_used_beyond_the_estimate_are_charged_in_redis() {
    if std::env::var(ROLE).is_ok() {
        return;
    }
    const KEY: &str = "staunch:overused:tokens";
    // 60 tokens a minute: one a second (1e6 µs), a bucket of 60; refills are far slower
    // than the test, whose margins are tens of tokens
    let interval_us = 1e6;
    let server = Server::start();
    let mut own = redis::Client::open(server.url())
        .unwrap()
        .get_connection()
        .unwrap();
    let p = Policy::builder("overused")
        .tpm(60.0)
        .wait(Duration::ZERO)
        .redis(Redis::new().url(&server.url()).fail_closed())
        .build()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ask = |estimate: u64, used: u64, own: &mut redis::Connection| {
        let mut call = p
            .begin::<Result<u64, Error>>(|_| Class::DEFAULT)
            .usage(|used| *used);
        let mut admitted_at = None;
        let step = rt.block_on(call.attempt_async(Req::new().cost(estimate), async {
            // admitted: the estimate is taken, the usage not yet reconciled
            admitted_at = Some(arrival(own, KEY));
            Ok(used)
        }));
        (step, admitted_at)
    };
    // estimated 30, used 50: the 30 taken at admission, then 20 more
    let (step, admitted) = ask(30, 50, &mut own);
    assert_eq!(step, Step::Done(Ok(50)));
    let admitted = admitted.expect("the call ran");
    let charged = arrival(&mut own, KEY);
    assert!(
        (charged - admitted - 20.0 * interval_us).abs() < 1.0,
        "charged {} µs, not 20 tokens' worth",
        charged - admitted
    );
    // 50 of 60 used: a call estimated at 30 is refused (it would pass had only the estimate
    // been taken: 30 + 30 fit in 60), and takes nothing
    let (step, ran) = ask(30, 30, &mut own);
    assert!(
        matches!(step, Step::Fallback(Err(Error::RateLimited { .. }))),
        "{step:?}"
    );
    assert!(ran.is_none());
    assert!((arrival(&mut own, KEY) - charged).abs() < 1.0);
    // the 10 left pass
    let (step, _) = ask(10, 10, &mut own);
    assert_eq!(step, Step::Done(Ok(10)));
}
