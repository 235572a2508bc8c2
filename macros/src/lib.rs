//! The `#[resilient]` attribute of [staunch](https://docs.rs/staunch).
//!
//! Use it through the `staunch` crate, which re-exports it as `staunch::resilient` together with
//! the runtime that the generated code calls (the generated code names the runtime only as
//! `::staunch::__private::…`). Runnable examples of every option are in the `staunch` crate's
//! documentation; this crate documents what the attribute accepts and what it emits.
#![deny(missing_docs)]

mod args;
/// The one duration grammar, shared with the runtime (which reads the environment with it).
#[path = "../../runtime/src/duration.rs"]
mod duration;
mod errors;
mod expand;
#[cfg(test)]
mod fuzz;
mod shape;
mod validate;
mod values;

use proc_macro::TokenStream;

/// Wraps a `fn` or `async fn` returning a `Result` in a resilience policy: retries, a circuit
/// breaker, a rate limit, a bulkhead, a timeout and a fallback, every one optional.
///
/// ```text
/// #[resilient(retry(max = 3, backoff = 2.0), breaker(threshold = 5, cooldown = 30), rps = 10, fallback = other_fn)]
/// async fn call(id: u64) -> Result<Reply, MyError> { … }
/// ```
///
/// Every option is optional and used at most once, in any order. Every mistake in the
/// attribute is a compile error pointing at the offending tokens, and all of them are reported
/// at once; the function is then left as written, so nothing else breaks because of it.
///
/// # Options
///
/// | option | default | valid values | meaning |
/// |---|---|---|---|
/// | `name = "openai"` | the function's path (`module::fn`), a policy of its own | a non-empty string | functions of one name share one breaker, one limiter and one bulkhead, process-wide |
/// | `retry` or `retry(…)` | no retry | see below | run the body again after a failed attempt |
/// | `retry(max = N)` | `3` | N ≥ 1 | at most N retries (N + 1 attempts) |
/// | `retry(backoff = F)` | `2.0` | F ≥ 1.0 | each wait is F times the one before |
/// | `retry(delay = D)` | `"100ms"` | a duration | the first wait |
/// | `retry(max_delay = D)` | `"30s"` | a duration | no wait is longer |
/// | `retry(jitter = J)` | `true` | `true` (= 1), `false` (= 0, exact waits) or a fraction in (0, 1] | each wait `w` is drawn from `[(1 − J)·w, w]` |
/// | `retry(on = path)` | every error | a `fn(&E) -> bool` | which errors are worth another attempt |
/// | `breaker` or `breaker(…)` | no breaker | see below | reject calls at once while the service is failing |
/// | `breaker(threshold = N)` | `5` | N ≥ 1 | open after N failures in a row |
/// | `breaker(cooldown = D)` | `30` (seconds) | a duration | how long it stays open before trial calls |
/// | `breaker(half_open = M)` | `1` | 1 ≤ M ≤ 65535 | trial calls at a time; M successes close it |
/// | `breaker(max_half_open = D)` | no bound | a duration > 0 | the longest it stays half-open without a verdict; past it, it re-opens for a full cooldown and the late trials' answers are ignored |
/// | `breaker(failure_rate = F)` | `0.5` once any window option is set | 0 < F ≤ 1 (a fraction, not a percentage) | a failure-rate breaker: open when at least F of the calls in the sliding window failed (resilience4j's `failureRateThreshold`); any of `failure_rate`, `window_calls`, `window_time`, `min_calls`, `slow_call`, `slow_rate` makes one, and conflicts with `threshold` |
/// | `breaker(window_calls = N)` | `100` | 1 ≤ N ≤ 1000000 | the window is the last N calls (count-based); conflicts with `window_time` |
/// | `breaker(window_time = D)` | count-based | D ≥ 10ms | the window is the calls that ended in the last D (time-based, ten buckets of D/10) |
/// | `breaker(min_calls = N)` | `100`, or `window_calls` if smaller | 1 ≤ N (≤ `window_calls`) | the fewest calls in the window before its rates are judged |
/// | `breaker(slow_call = D)` | no call is slow | a duration > 0 | a call longer than D (admission to outcome) is slow: it counts in the slow-call rate whether it succeeded or failed, and a slow trial re-opens a half-open breaker; attempts are timed only with this option or `window_time` |
/// | `breaker(slow_rate = F)` | `1.0` | 0 < F ≤ 1 | open when at least F of the calls in the window were slow |
/// | `breaker(max_cooldown = D)` | every open period lasts `cooldown` | D ≥ `cooldown` | an exponential open period: each re-open from half-open multiplies the cooldown by `cooldown_multiplier`, up to D; closing brings it back to `cooldown` (either kind of breaker) |
/// | `breaker(cooldown_multiplier = F)` | `2.0` | F ≥ 1.0; needs `max_cooldown` | the factor of each re-open |
/// | `breaker(key = expr)` | one breaker for every call | an expression over the arguments whose value is `Hash`; if the top-level `key` is also written, the same expression (a call has one key) | one breaker per value (tenant, API key, host): one key's failures never open another's. A key is forgotten only when its breaker is closed with nothing counted and no call in flight (no key gains by being forgotten); `staunch::signals` shows `circuit: Closed`, `open_keys` and `breaker_keys`; state-change events do not name the key |
/// | `breaker(max_keys = N)` | `10000` | 1 ≤ N ≤ 1000000; needs `key` | the most keys remembered (their breakers are made as keys come, and kept for the policy's life); past it, a new key takes the room of a key whose breaker is idle with no call in flight (looking at up to 32 keys of its shard, from where the last look ended), and when there is none, the new keys share one overflow breaker (stricter, never looser) |
/// | `breaker(on = path)` | every error counts (but the caller's own faults) | a `fn(&E) -> bool` | which errors count against the breaker; one that does not is neither a success nor a failure, is not retried, and goes to the fallback |
/// | `rps = R` / `rpm = R` | no limit | R > 0, not both | a token bucket refilled at R a second / a minute |
/// | `burst = B` | one second of `rps`, at least 1 | B ≥ 1; needs `rps` or `rpm` | the bucket's size |
/// | `key = expr` | one bucket | an expression over the arguments whose value is `Hash`; needs `rps` or `rpm` | one bucket per value |
/// | `wait = D` | wait as long as it takes | a duration; needs `rps` or `rpm` | the longest a call waits for a token, then `Error::RateLimited` |
/// | `max_inflight = N` | no bulkhead | N ≥ 1 | at most N calls in flight; one more fails with `Error::BulkheadFull` |
/// | `queue = Q` | no queue | 1 ≤ Q ≤ 1000000; needs `max_inflight` | up to Q callers that find every slot taken wait for one, in arrival order (a freed slot goes to the longest waiter, never to a newcomer); one more fails at once with `Error::BulkheadFull`. A sync caller blocks its thread, an async one awaits; a dropped future leaves the queue as if it had never joined |
/// | `queue_wait = D` | as long as it takes, up to `deadline` | a duration > 0; needs `queue` | the longest a caller waits for a slot, then `Error::BulkheadFull`; a wait never outlasts the call's `deadline` either (`Error::BulkheadFull` when it passes) |
/// | `timeout = D` | none | a duration; `async` functions only | each attempt's time limit, then `Error::Timeout` |
/// | `deadline = D` | none | a duration > 0 | the longest the whole call may take: attempts, backoff waits, token waits and hold-offs; no retry starts past it, no token is waited for past it (`Error::RateLimited` at once), an async attempt running at it is cancelled (`Error::Timeout`); the fallback runs outside it |
/// | `tpm = R` | no token limit | R > 0 | a token bucket of R tokens a minute beside any request rate (an LLM provider's TPM) |
/// | `cost = expr` | 0 | an expression over the arguments giving a `u64`; needs `tpm` | the call's estimated tokens, taken before each attempt |
/// | `usage = path` | none | a `fn(&T) -> u64` over the `Ok` value; needs `tpm` | the tokens really used: the difference from `cost` is refunded or charged |
/// | `retry(budget = F)` | no budget | F > 0 | the retries of the policy's name may add at most F × its first attempts of the last ten seconds, plus a floor of one retry a second |
/// | `stale` or `stale(max_age = D, capacity = N)` | `max_age = "10m"`, `capacity = 1000` | N ≥ 1; the arguments `Hash`, the `Ok` value `Clone + Send + Sync + 'static` | when the call (and its fallback) finally fails, answer the last good result for the same arguments, if younger than `max_age` |
/// | `chaos(…)` | no chaos | at least one of `error`, `latency`, `reject`; inert without the `chaos` feature of `staunch` (reported once in `staunch::warnings()`) | rehearse an outage: inject faults into the attempts that pass the breaker, limiter and bulkhead (see `staunch::Chaos`) |
/// | `chaos(error = F)` | `0` | 0 ≤ F ≤ 1; with `reject`, at most 1 | the fraction of attempts that fail with `Error::Injected` in place of the body: a failure like any other (the breaker counts it, it is retried, the fallback answers) |
/// | `chaos(latency = D)` | none | a duration | how long a delayed attempt waits before it runs (under `timeout` and `deadline`; a sync one blocks) |
/// | `chaos(latency_rate = F)` | `1` | 0 ≤ F ≤ 1; needs `latency` | the fraction of attempts delayed by `latency` |
/// | `chaos(reject = F)` | `0` | 0 ≤ F ≤ 1; with `error`, at most 1 | the fraction of attempts turned away with `Error::InjectedRejection`: a rejection (not retried, the fallback answers) |
/// | `hedge` or `hedge(…)` | no hedging | `async fn` only; see below and [Hedging](#hedging) | **marks the call safe to repeat**: after a delay, a call still running gets another copy; the first `Ok` wins and the other copies are cancelled |
/// | `hedge(after = D)` | none | a duration > 0 | a fixed delay; with `percentile`, the delay until the percentile is learned |
/// | `hedge(percentile = P)` | `0.95` when `after` is not given | 0.5 ≤ P ≤ 0.99 | the delay is the P-quantile of this function's last 512 successful attempt latencies; no hedge (or `after`) before 64 are in |
/// | `hedge(min_after = D)` | `"1ms"` | a duration | a floor under the learned delay |
/// | `hedge(max = N)` | `1` | 1 ≤ N ≤ 3 | extra copies at most, one delay apart |
/// | `redis` or `redis(…)` | state in memory | `async fn` only; needs a rate (`rps`, `rpm`, `tpm`) or a breaker of failures in a row (not a failure-rate breaker, not a keyed one, no `max_cooldown`); the `redis` feature of `staunch` (without it the state stays in memory, reported once in `staunch::warnings()`) | **one quota and one breaker for a fleet**: the limiter's bucket(s) and the breaker's state live in Redis, shared by every process that declares the same `name`, one script run (one round trip) an admission; the server is `staunch::redis::register(…)`'s or `STAUNCH_REDIS_URL`. See `staunch::redis` |
/// | `redis(fail = "open" \| "closed")` | `"open"` | `"open"` or `"closed"` | Redis down, slow or not configured: `"open"` lets the in-memory state decide (an event per outage, listed once in `staunch::warnings()`), `"closed"` rejects the call with `Error::BackendUnavailable` |
/// | `redis(timeout = D)` | `"50ms"` | 0 < D ≤ 60 s | the longest one round trip to Redis may take (connecting included), and never past the call's `deadline` |
/// | `redis(prefix = "…")` | `"staunch:"` | not empty | the keys' prefix: the state lives under `<prefix><name>:…` |
/// | `fallback = path` | none | a function with the same parameters, return type and asyncness | called with the arguments when the call finally fails or is rejected |
/// | `fallback_why = path` | none | as `fallback`, with one more parameter last: `why: staunch::Why<E>`; not with `fallback` | the fallback also hears why it was called: `Why::Failed(last error)` or `Why::Rejected(the policy's rejection)` |
///
/// A duration `D` is whole seconds (`30`), fractional seconds (`0.25`) or a string read as a
/// `STAUNCH_<NAME>_<KNOB>` environment variable is: a number with a unit (`"250ms"`, `"2s"`,
/// `"1.5m"`, `"1h"`) or without one (`"10"`, seconds). Not negative, at most `u64::MAX`
/// nanoseconds (about 584 years). Only the options written are emitted; the defaults live in
/// the runtime, and
/// `STAUNCH_<NAME>_<KNOB>` environment variables override them when the policy is created at the
/// function's first call.
///
/// # What it expands to
///
/// The function keeps its signature, attributes, docs, visibility, generics and where clause;
/// its body becomes (for a sync function; an `async fn` builds an `async` block per attempt and
/// `.await`s it):
///
/// ```text
/// static __STAUNCH_POLICY: FnCell = FnCell::new();          // the policy, made at the first call
/// let __staunch_req = Req::new();                            // `.key(key_hash(&(key)))`, evaluated once
/// let mut __staunch_call = __STAUNCH_POLICY
///     .get_or_init(|| Policy::builder("name").from_attribute().retry(Retry::new().max(3)).rps(10.0)/* … */)
///     .begin::<Ret>(classify);                               // the error's own `Classify`, or the default
/// loop {                                                     // no loop without `retry`
///     match __staunch_call.attempt_sync(__staunch_req, || { /* the body */ }) {
///         Step::Done(r) => break r,
///         Step::Again => {}                                  // the backoff wait is over
///         Step::Fallback(_) => break other_fn(id),           // `break r` without a fallback
///     }
/// }
/// ```
///
/// Each attempt passes the breaker, the limiter and the bulkhead, then runs the body (under the
/// timeout); its outcome is recorded. The generated locals use `Span::mixed_site()` and cannot
/// clash with the function's; the generated paths are absolute. The code trips no lint under
/// `#![deny(warnings)]`, `clippy::all` or `clippy::pedantic`, and compiles in edition 2021 and
/// 2024 crates. The future of an `async fn` is `Send` whenever its body's is.
///
/// # Supported functions
///
/// - `fn` and `async fn`; free functions, inherent methods (`&self`, `&mut self`, `self`,
///   `self: Box<Self>`, no receiver), methods of trait impls (including native `async fn` in
///   traits), generic functions, functions with explicit lifetimes, `impl Trait` arguments,
///   `unsafe fn`.
/// - Methods under `#[async_trait]`: their `Box::pin(async move { … })` body is wrapped like an
///   `async fn`'s (put `#[resilient]` on the method inside the `#[async_trait]` impl).
/// - The return type is a `Result<T, E>` by any name (`io::Result<T>`, `anyhow::Result<T>`, an
///   alias of your own) with `E: From<staunch::Error>`; anything else is a compile error at the
///   return type. `const fn` and `extern` functions are refused.
///
/// # Arguments, retries and fallbacks
///
/// - Each attempt is a fresh closure (or `async` block) that borrows the arguments: they are
///   reused across attempts, `&mut self` is lent to each attempt in turn, and what an attempt
///   changes (`self.count += 1`, a `mut` argument) the next one sees.
/// - Without `retry` and `fallback` the body runs once and may consume its arguments and `self`.
/// - With `retry`, a body that consumes an argument cannot run twice: the compiler reports
///   "use of moved value: `arg`", "value moved into closure here, in previous iteration of loop",
///   pointing at `retry`. Borrow it, or clone it inside the body.
/// - With `fallback`, the arguments are handed to the fallback after the last attempt, so a body
///   that consumes one is reported as "use of moved value" at the fallback's path. A parameter
///   written as a pattern (`(a, b): (u32, u32)`, `_: T`) is bound to a hidden name and
///   destructured at the start of each attempt; the fallback gets the whole value.
/// - In a method, `fallback = name` calls `Self::name(self, args…)`; write a path
///   (`fallback = crate::cached`) for a free function. An async function's fallback is awaited.
///   A mismatch in the fallback's parameters, return type or asyncness is a type error at the
///   fallback's path.
///
/// # Hedging
///
/// **Writing `hedge` is your promise that the call is safe to repeat**: a hedged call may reach
/// the upstream two to four times at once, and a copy that lost is cancelled wherever it
/// stands (its request may already have done its work). Never put it on a call that charges,
/// sends or writes something unless the upstream deduplicates it.
///
/// - Hedging belongs to the function, not to its policy's `name`: a named policy is shared by
///   functions that may not be safe to repeat. What it learns is the function's own.
/// - Each copy passes the breaker, the limiter and the bulkhead like an attempt; a hedge one of
///   them turns away (an open breaker, a half-open one without a free trial slot, no token
///   left now: a hedge never waits for one, a full bulkhead) is simply not started and fails
///   nothing. Signals count the hedges started (`Signals::hedges`).
/// - The first `Ok` wins; the other copies are dropped, which gives back their bulkhead slots
///   and half-open trial slots (with no verdict). A copy that fails while another runs is
///   recorded (the breaker hears it) and the others go on; when every copy in flight has
///   failed, the attempt fails with the last copy's error. So a first copy that fails before the
///   delay behaves exactly as without `hedge`.
/// - With `retry`, one hedged round is one attempt of the retry loop: `retry(max = 2)` with
///   `hedge(max = 1)` makes at most three rounds of at most two copies. `timeout` limits each
///   copy; `deadline` the whole call (no hedge starts past it). Dropping the call's future
///   cancels every copy.
/// - A learned delay learns from each winning copy's latency, and from how long each slower
///   copy it cancels had run (a lower bound), so that cancelling the slow copies does not drag
///   the percentile down round after round.
/// - The body runs as copies at the same time, so it may only borrow what it captures: a
///   `&mut self` or `mut self` receiver, a `mut` argument or a `&mut` argument is a compile
///   error at that token; a body that moves an argument out (`body.into_bytes()`) is reported
///   by the compiler as "cannot move out of `body`, a captured variable in an `Fn` closure",
///   pointing at `hedge`: borrow it, or clone it inside the body.
///
/// # Errors and classification
///
/// Every `Err` counts as a failure and is retried, unless `retry(on = …)` or `breaker(on = …)`
/// says otherwise or the error type implements `staunch::Classify` (found by autoref
/// specialization when the error type is concrete, or bounded by `Classify` in a generic
/// function). An error that does not count against the breaker (the caller's own fault, such as
/// an HTTP 400 with the `http` feature) is neither a success nor a failure: it is not retried and
/// goes to the fallback. A retry-after hint is honoured up to `max_delay` (30 s without `retry`);
/// a longer one ends the retries at once. The policy's own rejections (`staunch::Error`) reach
/// the caller converted with `From`.
///
/// # Limitations
///
/// - Under `retry`, a body returning a `&mut` borrow of `self` (`-> Result<&mut T, E>`) does not
///   compile ("two closures require unique access"): the borrow checker cannot see that only the
///   last attempt's borrow escapes.
/// - The return type must be nameable inside the body: no `impl Trait` inside the `Result`.
/// - Without `retry`, the function never retries, whatever `STAUNCH_<NAME>_RETRY_MAX` says: its
///   body may consume its arguments.
/// - A generic function has one policy for all its instantiations.
/// - The breaker, limiter and bulkhead of a name are configured by the first function of that
///   name to be called; its later siblings share them as they are.
#[proc_macro_attribute]
pub fn resilient(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::resilient(attr.into(), item.into()).into()
}
