//! The state of a policy declared with `redis`, as Redis holds it: the connection, the scripts,
//! and what one admission and one outcome do.
//!
//! Every decision is one Lua script run on the server, on the server's clock (`TIME`), in
//! microseconds since the epoch (exact in a Lua number until the year 2255):
//!
//! - `ADMIT` walks the breaker (a hash: state `s` 0 closed / 1 open / 2 half-open, `until` the
//!   end of the cooldown, generation `g`, trials in flight `tr`, successes `ok`, failures in a
//!   row `f`, `since` the half-open period's start), then the request bucket and the token
//!   bucket (GCRA: each a theoretical arrival time, `SET … PX` until the bucket is full again),
//!   and takes all or nothing.
//! - `SETTLE` ends an admitted attempt: it moves the buckets' arrival times (its reserved
//!   tokens given back, or the tokens it used beyond its estimate charged), then applies its
//!   outcome to the breaker (a success, a failure or a trial's slot given back with no verdict;
//!   a trial counts only in the half-open period, the generation, that admitted it).

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use tokio::time::Instant;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Client, Script};

use super::{Fail, Redis};
use crate::clock::{duration_to_nanos, Nanos};
use crate::config::Config;
use crate::events::EventKind;
use crate::limiter::Gcra;
use crate::shared::Refusal;
use crate::sync::global::{lock, AtomicBool, Mutex};
use crate::sync::Ordering;

const ADMIT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local gen, fails, trial, fresh, s = 0, 0, 0, 0, 0
if ARGV[1] == '1' then
  local b = redis.call('HMGET', KEYS[1], 's', 'until', 'g', 'tr', 'f', 'since')
  s = tonumber(b[1]) or 0
  gen = tonumber(b[3]) or 0
  fails = tonumber(b[5]) or 0
  if s == 1 then
    local u = tonumber(b[2]) or 0
    if now < u then return {1, math.ceil(u - now), gen, 0, 1, fails} end
    trial, fresh = 1, 1
  elseif s == 2 then
    if (tonumber(b[4]) or 0) >= tonumber(ARGV[2]) then
      if now - (tonumber(b[6]) or now) < tonumber(ARGV[3]) then return {1, 0, gen, 0, 2, fails} end
      fresh = 1
    end
    trial = 1
  end
end
local wait, rnext, tnext = 0, nil, nil
if tonumber(ARGV[4]) > 0 then
  local tat = tonumber(redis.call('GET', KEYS[2])) or now
  if tat < now then tat = now end
  rnext = tat + tonumber(ARGV[4])
  local w = rnext - now - tonumber(ARGV[5])
  if w > wait then wait = w end
end
if tonumber(ARGV[6]) > 0 then
  local tat = tonumber(redis.call('GET', KEYS[3])) or now
  if tat < now then tat = now end
  tnext = tat + tonumber(ARGV[6]) * tonumber(ARGV[8])
  local w = tnext - now - tonumber(ARGV[7])
  if w > wait then wait = w end
end
if wait > tonumber(ARGV[9]) then return {2, math.ceil(wait), gen, 0, s, fails} end
if rnext then
  redis.call('SET', KEYS[2], string.format('%.17g', rnext), 'PX', math.floor((rnext - now) / 1000) + 1)
end
if tnext then
  redis.call('SET', KEYS[3], string.format('%.17g', tnext), 'PX', math.floor((tnext - now) / 1000) + 1)
end
if trial == 1 then
  if fresh == 1 then
    gen = gen + 1
    redis.call('HSET', KEYS[1], 's', 2, 'g', gen, 'tr', 1, 'ok', 0, 'since', string.format('%.17g', now))
  else
    redis.call('HINCRBY', KEYS[1], 'tr', 1)
  end
  redis.call('PEXPIRE', KEYS[1], 86400000)
  s = 2
end
return {0, math.ceil(wait), gen, trial, s, fails}
";

const SETTLE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
-- the buckets first: a refund (negative) or a charge of tokens used beyond the estimate, from
-- now if the bucket is full (its key expired), so that a charge counts even after a long call
local function adjust(key, delta)
  local tat = math.max(tonumber(redis.call('GET', key)) or now, now) + delta
  if tat > now then
    redis.call('SET', key, string.format('%.17g', tat), 'PX', math.floor((tat - now) / 1000) + 1)
  else
    redis.call('DEL', key)
  end
end
if tonumber(ARGV[7]) ~= 0 then adjust(KEYS[2], tonumber(ARGV[7])) end
if tonumber(ARGV[8]) ~= 0 then adjust(KEYS[3], tonumber(ARGV[8])) end
-- then the breaker: a success (0), a failure (1) or a trial's slot back (2); 3: nothing
local v = ARGV[1]
if v == '3' then return 0 end
local b = redis.call('HMGET', KEYS[1], 's', 'g', 'tr', 'ok', 'f')
local s = tonumber(b[1]) or 0
local g = tonumber(b[2]) or 0
local function open()
  redis.call('HSET', KEYS[1], 's', 1, 'until', string.format('%.17g', now + tonumber(ARGV[6])),
    'g', g + 1, 'tr', 0, 'ok', 0, 'f', 0)
  redis.call('PEXPIRE', KEYS[1], 86400000 + math.floor(tonumber(ARGV[6]) / 1000))
  return 1
end
if ARGV[3] == '1' then
  if s ~= 2 or g ~= tonumber(ARGV[2]) then return s end
  if v == '1' then return open() end
  local tr = (tonumber(b[3]) or 1) - 1
  if tr < 0 then tr = 0 end
  if v == '0' then
    local ok = (tonumber(b[4]) or 0) + 1
    if ok >= tonumber(ARGV[5]) then
      redis.call('HSET', KEYS[1], 's', 0, 'f', 0, 'tr', 0, 'ok', 0)
      return 0
    end
    redis.call('HSET', KEYS[1], 'tr', tr, 'ok', ok)
    return 2
  end
  redis.call('HSET', KEYS[1], 'tr', tr)
  return 2
end
if s ~= 0 then return s end
if v == '0' then
  if (tonumber(b[5]) or 0) > 0 then redis.call('HSET', KEYS[1], 'f', 0) end
  return 0
end
if v == '1' then
  local f = (tonumber(b[5]) or 0) + 1
  if f >= tonumber(ARGV[4]) then return open() end
  redis.call('HSET', KEYS[1], 'f', f)
  redis.call('PEXPIRE', KEYS[1], 86400000)
end
return 0
";

static ADMIT_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(ADMIT));
static SETTLE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(SETTLE));

/// After a failed round trip or connection, how long calls go to the fail mode at once before
/// the next attempt to connect.
const RECONNECT: Duration = Duration::from_millis(200);

/// The client given to [`register`], for every policy without a `url` of its own.
static REGISTERED: Mutex<Option<Client>> = Mutex::new(None);

/// Registers the Redis server of every policy declared with `redis` that names none of its own
/// ([`Redis::url`](super::Redis::url)); before `STAUNCH_REDIS_URL`. Policies connect at their
/// first async call (a policy already connected keeps its connection).
///
/// # Examples
///
/// ```
/// let client = staunch_runtime::redis::Client::open("redis://127.0.0.1:6379").unwrap();
/// staunch_runtime::redis::register(client);
/// ```
pub fn register(client: Client) {
    *lock(&REGISTERED) = Some(client);
}

/// [`register`]s the server at `url` (`redis://host:port/db`).
///
/// # Errors
///
/// The URL does not parse.
///
/// # Examples
///
/// ```
/// staunch_runtime::redis::register_url("redis://127.0.0.1:6379").unwrap();
/// assert!(staunch_runtime::redis::register_url("http://nope").is_err());
/// ```
pub fn register_url(url: &str) -> Result<(), ::redis::RedisError> {
    register(Client::open(url)?);
    Ok(())
}

/// A breaker of failures in a row, as the scripts read it.
#[derive(Debug, Clone, Copy)]
struct Spec {
    threshold: u32,
    half_open: u32,
    /// Microseconds.
    cooldown: u64,
    /// A half-open period older than this (µs) with every trial slot taken is forfeited: its
    /// trials' slots are cleared (a replica that died holding one never wedges the fleet).
    forfeit: u64,
}

/// A bucket as the scripts read it, in µs: the in-memory limiter's rules ([`Gcra`]), so that a
/// bucket in Redis admits exactly what one in memory would.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Between two tokens.
    interval: f64,
    /// The burst's worth of intervals.
    tolerance: f64,
    /// The bucket's size in tokens.
    burst: u64,
}

impl Bucket {
    #[allow(clippy::cast_precision_loss)] // nanoseconds, exact below 2^53 (104 days)
    fn new(rate: &crate::Rate) -> Self {
        let g = Gcra::new(rate.rate, rate.per, rate.burst);
        Bucket {
            interval: g.interval as f64 / 1e3,
            tolerance: g.tolerance as f64 / 1e3,
            burst: g.burst,
        }
    }

    /// `tokens` tokens' worth of µs.
    #[allow(clippy::cast_precision_loss)] // a token count
    fn of(&self, tokens: i64) -> f64 {
        self.interval * tokens as f64
    }
}

/// The outcome of an attempt the shared state admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Success,
    Failure,
    /// Neither (the caller's own fault, or turned away after admission): a trial's slot back.
    Release,
}

/// What the shared state said about an attempt.
pub(crate) enum Gate {
    /// Admitted: wait this long for the reserved tokens, then run, then [`Ticket::finish`].
    Admitted(Ticket, Nanos),
    /// Turned away by the shared breaker or limiter.
    Refused(Refusal),
    /// Redis could not answer in time: the fail mode decides.
    Down(String),
}

/// What a policy's tickets need to settle in Redis: its keys and what its scripts read. Shared
/// by the policy and its tickets (a ticket, and the task that settles it, carry it for a
/// reference count, not a copy of each key).
#[derive(Debug)]
struct Keys {
    breaker: String,
    rate: String,
    tokens: String,
    spec: Option<Spec>,
    rate_bucket: Option<Bucket>,
    tokens_bucket: Option<Bucket>,
    keyed: bool,
    /// The bound of one round trip.
    timeout: Duration,
}

/// The state of a policy declared with `redis`: what its scripts need, and its connection.
pub(crate) struct Remote {
    /// As declared.
    redis: Redis,
    keys: Arc<Keys>,
    /// The longest wait for a token (`wait`).
    max_wait: Nanos,
    conn: Mutex<Option<ConnectionManager>>,
    /// Held by the call that connects (it guards no data, so a panic breaks nothing: the
    /// policy stays unwind-safe).
    connecting: std::panic::AssertUnwindSafe<tokio::sync::Mutex<()>>,
    /// No attempt to connect before this (tokio's clock, as every wait of an async call).
    retry_at: Mutex<Option<Instant>>,
    /// Why the last round trip or connection failed (what a call told to wait is told).
    last_error: Mutex<String>,
    down: AtomicBool,
    /// Where the policy's events go.
    events: crate::sync::Arc<crate::events::Sink>,
    sync_warned: AtomicBool,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("name", &self.events.name)
            .field("redis", &self.redis)
            .finish_non_exhaustive()
    }
}

/// An attempt admitted by the shared state: its trial slot (if the breaker was half-open) and
/// its reserved tokens while it waits for them. Settled by [`finish`](Self::finish); dropped
/// unfinished (a dropped future, a panic), it settles itself from a task of its own (a failure
/// if a panic unwinds, its slot and its reserved tokens given back otherwise).
pub(crate) struct Ticket {
    conn: ConnectionManager,
    keys: Arc<Keys>,
    /// The request bucket's key when the limiter is keyed (`keys.rate` otherwise).
    rate_key: Option<String>,
    gen: i64,
    trial: bool,
    /// The breaker had failures in a row when admitted: a success must clear them.
    dirty: bool,
    /// The tokens reserved from the token limit.
    cost: u64,
    /// Not yet run (waiting for its tokens, or its admission's answer not yet taken): a drop
    /// gives the tokens back.
    reserved: bool,
    done: bool,
}

fn micros(n: Nanos) -> u64 {
    n / 1000
}

impl Remote {
    /// The shared state of a policy, if its configuration declares `redis`.
    pub(crate) fn new(
        config: &Config,
        events: &crate::sync::Arc<crate::events::Sink>,
    ) -> Option<Box<Remote>> {
        let r: &Redis = config.redis.as_ref()?;
        let base = format!("{}{}", r.prefix, config.name);
        let spec = config.breaker.map(|b| Spec {
            threshold: b.threshold,
            half_open: b.half_open,
            cooldown: micros(duration_to_nanos(b.cooldown)).max(1),
            forfeit: micros(duration_to_nanos(b.max_half_open.unwrap_or(b.cooldown))).max(1),
        });
        let keys = Keys {
            breaker: format!("{base}:breaker"),
            rate: format!("{base}:rate"),
            tokens: format!("{base}:tokens"),
            spec,
            rate_bucket: config.rate.as_ref().map(Bucket::new),
            tokens_bucket: config.tokens.as_ref().map(Bucket::new),
            keyed: config.rate.is_some_and(|r| r.keyed),
            timeout: r.timeout,
        };
        Some(Box::new(Remote {
            redis: r.clone(),
            keys: Arc::new(keys),
            max_wait: crate::limiter::max_wait(config.rate.or(config.tokens).and_then(|r| r.wait)),
            conn: Mutex::new(None),
            connecting: std::panic::AssertUnwindSafe(tokio::sync::Mutex::new(())),
            retry_at: Mutex::new(None),
            last_error: Mutex::new(String::new()),
            down: AtomicBool::new(false),
            events: events.clone(),
            sync_warned: AtomicBool::new(false),
        }))
    }

    /// The fail mode.
    pub(crate) fn fail(&self) -> Fail {
        self.redis.fail
    }

    /// The bound of one round trip: the policy's timeout, or what is left before the deadline
    /// (`limit`, ns) if less.
    pub(crate) fn bound(&self, limit: Nanos) -> Duration {
        self.redis.timeout.min(Duration::from_nanos(limit))
    }

    /// A sync call of this policy: it uses the in-memory state; said once.
    #[cold]
    pub(crate) fn sync_call(&self) {
        if !self.sync_warned.load(Ordering::Relaxed)
            && !self.sync_warned.swap(true, Ordering::Relaxed)
        {
            crate::env::report(
                &format!("redis sync {}", self.events.name),
                format!(
                    "policy `{}` shares its state through Redis, but a sync call cannot wait \
                     for it: sync calls use the in-memory state (call it from async code to \
                     share it)",
                    self.events.name
                ),
            );
        }
    }

    /// The client: the policy's own URL, the registered one, or `STAUNCH_REDIS_URL`.
    fn client(&self) -> Result<Client, String> {
        if let Some(url) = &self.redis.url {
            return Client::open(url.as_str()).map_err(|e| e.to_string());
        }
        if let Some(c) = lock(&REGISTERED).clone() {
            return Ok(c);
        }
        match std::env::var("STAUNCH_REDIS_URL") {
            Ok(url) => Client::open(url.as_str())
                .map_err(|e| format!("`STAUNCH_REDIS_URL` does not parse: {e}")),
            Err(_) => Err(
                "no Redis server: none registered (`staunch::redis::register`) and \
                 `STAUNCH_REDIS_URL` is not set"
                    .to_owned(),
            ),
        }
    }

    /// A connection, connecting if there is none: one caller connects while the others wait
    /// for it (within their bound); after a failure, no new attempt for [`RECONNECT`].
    async fn connection(&self, bound: Duration) -> Result<ConnectionManager, String> {
        if let Some(c) = lock(&self.conn).clone() {
            return Ok(c);
        }
        let timeout = self.redis.timeout;
        let own = bound >= timeout;
        let started = Instant::now();
        // while Redis is known to be down, a call does not wait for another's attempt to
        // reconnect: the fail mode decides at once (only the call that reconnects waits)
        let _connecting = if self.down.load(Ordering::Acquire) {
            match self.connecting.try_lock() {
                Ok(guard) => guard,
                Err(_) => {
                    return Err(format!(
                        "Redis is down ({}); another call is reconnecting",
                        lock(&self.last_error)
                    ))
                }
            }
        } else {
            match tokio::time::timeout(bound, self.connecting.lock()).await {
                Ok(guard) => guard,
                Err(_) => return Err(format!("no connection to Redis within {bound:?}")),
            }
        };
        if let Some(c) = lock(&self.conn).clone() {
            return Ok(c); // made while this call waited
        }
        if lock(&self.retry_at).is_some_and(|at| Instant::now() < at) {
            return Err(format!(
                "Redis is down ({}); the next attempt to connect is at most {RECONNECT:?} away",
                lock(&self.last_error)
            ));
        }
        let bound = bound.saturating_sub(started.elapsed());
        let client = match self.client() {
            Ok(c) => c,
            Err(why) => {
                self.gate(&why);
                return Err(why);
            }
        };
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(timeout)
            .set_response_timeout(timeout)
            // no retries of its own (their backoff starts at a second, past most bounds): a
            // refused connection fails at once, and this policy waits `RECONNECT` before the
            // next attempt
            .set_number_of_retries(0);
        let c =
            match tokio::time::timeout(bound, ConnectionManager::new_with_config(client, config))
                .await
            {
                Ok(Ok(c)) => c,
                Ok(Err(e)) => {
                    let why = format!("cannot connect to Redis: {e}");
                    self.gate(&why);
                    return Err(why);
                }
                Err(_) => {
                    let why = format!("cannot connect to Redis within {bound:?}");
                    // cut short by the caller's deadline: not a reason to wait to reconnect
                    if own {
                        self.gate(&why);
                    }
                    return Err(why);
                }
            };
        *lock(&self.conn) = Some(c.clone());
        Ok(c)
    }

    /// No attempt to connect for [`RECONNECT`], and why.
    #[cold]
    fn gate(&self, why: &str) {
        why.clone_into(&mut lock(&self.last_error));
        *lock(&self.retry_at) = Some(Instant::now() + RECONNECT);
    }

    /// A round trip failed: the connection is dropped (a new one is made at most once per
    /// [`RECONNECT`]) and the outage reported, once.
    #[cold]
    fn failed(&self, why: &str) {
        *lock(&self.conn) = None;
        self.gate(why);
        self.went_down(why);
    }

    /// An attempt's end did not reach Redis in time.
    #[cold]
    pub(crate) fn lost(&self) {
        self.failed("Redis did not take an attempt's outcome in time");
    }

    /// The outage is told to the policy's subscribers and `tracing` (once per outage) and to
    /// [`warnings`](crate::warnings) (once per policy: a Redis that comes and goes does not
    /// grow the list).
    #[cold]
    fn went_down(&self, why: &str) {
        if self.down.swap(true, Ordering::AcqRel) {
            return;
        }
        let then = match self.redis.fail {
            Fail::Open => "the in-memory state decides until it answers",
            Fail::Closed => "calls are rejected until it answers",
        };
        let message = format!(
            "policy `{}`: its shared state is unavailable ({why}); {then}",
            self.events.name
        );
        crate::env::report(&format!("redis down {}", self.events.name), message);
        self.events.tell(EventKind::Backend {
            available: false,
            reason: why.to_owned(),
        });
    }

    #[cold]
    fn came_back(&self) {
        if self.down.swap(false, Ordering::AcqRel) {
            self.events.tell(EventKind::Backend {
                available: true,
                reason: String::new(),
            });
        }
    }

    /// One admission: the breaker, the request bucket (`key`'s, if keyed) and `cost` tokens,
    /// taking all or nothing; a token wait longer than the policy's `wait` or than `limit`
    /// (the time left before the deadline) is a refusal. At most `bound`, connecting included.
    pub(crate) async fn admit(&self, key: u64, cost: u64, limit: Nanos, bound: Duration) -> Gate {
        let keys = &*self.keys;
        let cost = match &keys.tokens_bucket {
            None => 0,
            Some(t) if cost > t.burst => return Gate::Refused(Refusal::Limited(u64::MAX)),
            Some(_) => cost,
        };
        // a bound shorter than the policy's timeout is the caller's deadline: running out of
        // it says nothing of Redis, and must not take it down for every other call
        let own = bound >= self.redis.timeout;
        let started = Instant::now();
        let mut conn = match self.connection(bound).await {
            Ok(c) => c,
            Err(why) => {
                if own {
                    self.went_down(&why);
                }
                return Gate::Down(why);
            }
        };
        let bound = bound.saturating_sub(started.elapsed());
        let rate_key =
            (keys.rate_bucket.is_some() && keys.keyed).then(|| format!("{}:{key:016x}", keys.rate));
        let max_wait = micros(self.max_wait.min(limit));
        let mut inv = ADMIT_SCRIPT.prepare_invoke();
        inv.key(&keys.breaker)
            .key(rate_key.as_ref().unwrap_or(&keys.rate))
            .key(&keys.tokens)
            .arg(u8::from(keys.spec.is_some()))
            .arg(keys.spec.map_or(1, |b| b.half_open))
            .arg(keys.spec.map_or(1, |b| b.forfeit))
            .arg(keys.rate_bucket.map_or(0.0, |b| b.interval))
            .arg(keys.rate_bucket.map_or(0.0, |b| b.tolerance))
            // a call that costs nothing skips the token bucket, as in memory
            .arg(
                keys.tokens_bucket
                    .filter(|_| cost > 0)
                    .map_or(0.0, |b| b.interval),
            )
            .arg(keys.tokens_bucket.map_or(0.0, |b| b.tolerance))
            .arg(cost)
            .arg(max_wait);
        // the round trip runs in a task of its own, which makes the ticket from the answer: a
        // call dropped meanwhile drops the task's output once it is in, and the ticket gives
        // back what the script took (a trial's slot, the tokens)
        let ticket_keys = self.keys.clone();
        let answer = tokio::spawn(async move {
            let us_to_ns = |us: i64| u64::try_from(us).unwrap_or(0).saturating_mul(1000);
            match tokio::time::timeout(bound, inv.invoke_async::<Vec<i64>>(&mut conn)).await {
                Ok(Ok(r)) if r.len() == 6 => Ok(match r[0] {
                    1 => Gate::Refused(Refusal::Open(Duration::from_nanos(us_to_ns(r[1])))),
                    2 => Gate::Refused(Refusal::Limited(us_to_ns(r[1]))),
                    _ => Gate::Admitted(
                        Ticket {
                            conn,
                            keys: ticket_keys,
                            rate_key,
                            gen: r[2],
                            trial: r[3] == 1,
                            dirty: r[5] > 0,
                            cost,
                            reserved: true,
                            done: false,
                        },
                        us_to_ns(r[1]),
                    ),
                }),
                Ok(Ok(r)) => Err((
                    format!("unexpected reply from the admission script: {r:?}"),
                    true,
                )),
                Ok(Err(e)) => Err((format!("Redis error: {e}"), true)),
                // cut short by the caller's deadline, it says nothing of Redis
                Err(_) => Err((format!("Redis did not answer within {bound:?}"), own)),
            }
        });
        match answer.await {
            Ok(Ok(gate)) => {
                self.came_back();
                gate
            }
            Ok(Err((why, of_redis))) => {
                if of_redis {
                    self.failed(&why);
                }
                Gate::Down(why)
            }
            Err(e) => Gate::Down(format!("the admission's task failed: {e}")),
        }
    }
}

impl Ticket {
    /// The wait for the tokens is over (or there was none): they are the attempt's. Until
    /// then, a drop gives them back.
    pub(crate) fn ran(&mut self) {
        self.reserved = false;
    }

    /// Settles the attempt in Redis, in one round trip from a task of its own (so that a
    /// caller that stops waiting, or is dropped, loses nothing): `verdict` to the breaker, its
    /// reserved tokens given back if it was turned away after admission (`refund`), and
    /// `extra` tokens charged (given back if negative) when it used more (fewer) than its
    /// estimate. The task to wait for when the fleet must see it before this caller goes on
    /// (tokens moved, a failure, a trial's end, a success that clears failures in a row);
    /// `None` otherwise (nothing to send, or a success while closed, sent without waiting).
    pub(crate) fn finish(
        mut self,
        verdict: Verdict,
        refund: bool,
        extra: i64,
    ) -> Option<tokio::task::JoinHandle<bool>> {
        self.reserved = refund;
        let wait = refund
            || extra != 0
            || match verdict {
                Verdict::Success => self.trial || self.dirty,
                Verdict::Failure => true,
                Verdict::Release => self.trial,
            };
        let task = self.settle(verdict, extra)?;
        wait.then_some(task)
    }

    /// Spawns the round trip that settles the attempt, if it has anything to tell Redis (a
    /// success is told even while closed with no failures in a row seen at admission: another
    /// replica's may have come since, and a success ends them).
    fn settle(&mut self, verdict: Verdict, extra: i64) -> Option<tokio::task::JoinHandle<bool>> {
        self.done = true;
        let keys = &*self.keys;
        let outcome = match (keys.spec, verdict) {
            (None, _) => None,
            (Some(_), Verdict::Release) if !self.trial => None,
            (Some(spec), v) => Some((spec, v)),
        };
        let (mut rate, mut tokens) = (0.0, 0.0);
        if self.reserved {
            rate = keys.rate_bucket.map_or(0.0, |b| -b.interval);
            tokens = keys
                .tokens_bucket
                .map_or(0.0, |b| -b.of(i64::try_from(self.cost).unwrap_or(i64::MAX)));
        }
        if extra != 0 {
            tokens += keys.tokens_bucket.map_or(0.0, |b| b.of(extra));
        }
        if outcome.is_none() && rate == 0.0 && tokens == 0.0 {
            return None;
        }
        let mut inv = SETTLE_SCRIPT.prepare_invoke();
        inv.key(&keys.breaker)
            .key(self.rate_key.as_ref().unwrap_or(&keys.rate))
            .key(&keys.tokens)
            .arg(outcome.map_or(3, |(_, v)| match v {
                Verdict::Success => 0,
                Verdict::Failure => 1,
                Verdict::Release => 2,
            }))
            .arg(self.gen)
            .arg(u8::from(self.trial))
            .arg(outcome.map_or(1, |(s, _)| s.threshold))
            .arg(outcome.map_or(1, |(s, _)| s.half_open))
            .arg(outcome.map_or(1, |(s, _)| s.cooldown))
            .arg(rate)
            .arg(tokens);
        let (mut conn, timeout) = (self.conn.clone(), keys.timeout);
        // outside a runtime (a ticket dropped as its runtime shuts down), nothing can be sent
        let rt = tokio::runtime::Handle::try_current().ok()?;
        Some(rt.spawn(async move {
            let settled = inv.invoke_async::<i64>(&mut conn);
            matches!(tokio::time::timeout(timeout, settled).await, Ok(Ok(_)))
        }))
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        // a dropped future or a panic: nothing can be awaited here, a task of its own settles
        let verdict = if std::thread::panicking() {
            Verdict::Failure
        } else {
            Verdict::Release
        };
        drop(self.settle(verdict, 0));
    }
}
