//! The attempt/step machinery: one call through a policy as a loop of attempts, each admitted
//! by the parts, run, and judged; the loop itself is the caller's (the code `#[resilient]`
//! generates, or [`Policy::call`](crate::Policy::call)), so every attempt builds its body
//! afresh.
//!
//! This is the low-level API that the attribute expands to; most users never name it.

use std::future::Future;
use std::hash::{BuildHasher, Hash};
use std::marker::PhantomData;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::{pin, Pin};
use std::task::{Context, Poll};
use std::time::Duration;

use std::sync::LazyLock;

use crate::bulkhead::Slot;
#[cfg(feature = "chaos")]
use crate::chaos::Fault;
use crate::classify::Class;
use crate::clock::{self, Mode, Nanos};
use crate::events::{EventKind, Kinds, Part, Reason, Verdict};
use crate::hedge::Hedging;
use crate::retry::Retry;
use crate::shared::{Admitted, Refusal, Shared, TAKE};
use crate::sync::{Arc, Ordering};
use crate::trace;
use crate::Error;

mod hedged;
mod outcome;
#[cfg(feature = "redis")]
mod remote;
pub use outcome::{IsResult, Step, Why};

/// What one attempt needs besides the body: the key of a keyed limiter or breaker (one key for
/// both).
///
/// # Examples
///
/// ```
/// use staunch_runtime::attempt::{key_hash, Req};
/// let req = Req::new().key(key_hash(&42_u64)).cost(100);
/// assert_ne!(req, Req::new());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Req {
    key: u64,
    cost: u64,
}

impl Req {
    /// A request with no key.
    ///
    /// # Examples
    ///
    /// ```
    /// use staunch_runtime::attempt::Req;
    /// assert_eq!(Req::new(), Req::default());
    /// ```
    #[must_use]
    pub const fn new() -> Self {
        Req { key: 0, cost: 0 }
    }

    /// The request's key for a keyed limiter or a keyed breaker (from [`key_hash`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use staunch_runtime::attempt::{key_hash, Req, Step};
    /// use staunch_runtime::{Class, Error, Policy};
    /// let p = Policy::builder("docs-req-key").rps(1.0).keyed().wait(std::time::Duration::ZERO).build().unwrap();
    /// let mut call = p.begin::<Result<(), Error>>(|_| Class::DEFAULT);
    /// let alice = Req::new().key(key_hash("alice"));
    /// assert_eq!(call.attempt_sync(alice, || Ok(())), Step::Done(Ok(())));
    /// assert!(matches!(call.attempt_sync(alice, || Ok(())), Step::Fallback(Err(Error::RateLimited { .. }))));
    /// // a bucket of her own
    /// assert_eq!(call.attempt_sync(Req::new().key(key_hash("bob")), || Ok(())), Step::Done(Ok(())));
    /// ```
    #[must_use]
    pub const fn key(mut self, key: u64) -> Self {
        self.key = key;
        self
    }

    /// The request's estimated cost in tokens, taken from the policy's token limit
    /// ([`PolicyBuilder::tpm`](crate::PolicyBuilder::tpm)) before the call and reconciled after
    /// it with the usage the response reports ([`Call::usage`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use staunch_runtime::attempt::{Req, Step};
    /// use staunch_runtime::{Class, Error, MockClock, Policy};
    /// let clock = MockClock::new();
    /// let _g = clock.install(); // no token comes back while the example runs
    /// let p = Policy::builder("docs-req-cost").tpm(60_000.0).build().unwrap();
    /// let mut call = p.begin::<Result<(), Error>>(|_| Class::DEFAULT);
    /// assert_eq!(call.attempt_sync(Req::new().cost(1200), || Ok(())), Step::Done(Ok(())));
    /// assert_eq!(p.handle().signals().tokens_remaining, Some(58_800.0));
    /// ```
    #[must_use]
    pub const fn cost(mut self, tokens: u64) -> Self {
        self.cost = tokens;
        self
    }
}

/// The modes of an async attempt (see `Call::attempt_async_each`).
pub(crate) const PLAIN: u8 = 0;
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
const SHARED: u8 = 1;
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
const LOCAL: u8 = 2;

/// What the in-memory limiters reserved for an attempt of mode `MODE` that asked `req`: nothing
/// when Redis admitted it ([`SHARED`]: its tokens are Redis's, given back through its ticket).
#[inline(always)]
const fn held<const MODE: u8>(req: Req) -> Option<Req> {
    if MODE == SHARED {
        None
    } else {
        Some(req)
    }
}

/// Seeded at random once per process, so that keys cannot be chosen to collide.
static KEY_HASHER: LazyLock<foldhash::fast::RandomState> = LazyLock::new(Default::default);

/// The 64-bit hash under which a keyed limiter keeps `key` (seeded at random once per process).
///
/// Keys are stored as this hash, so a key that borrows (`&str`) works as well as an owned one.
/// Two keys whose hashes collide share one bucket: stricter, never looser.
///
/// # Examples
///
/// ```
/// use staunch_runtime::attempt::key_hash;
/// assert_eq!(key_hash("alice"), key_hash(&String::from("alice")));
/// assert_ne!(key_hash("alice"), key_hash("bob"));
/// ```
#[must_use]
pub fn key_hash<K: Hash + ?Sized>(key: &K) -> u64 {
    KEY_HASHER.hash_one(key)
}

/// A call in progress: how many retries it has made, and how its errors are classified.
///
/// The retry loop is the caller's, so that every attempt can build its body afresh (and lend
/// `&mut self` to it): see [`Step`].
#[derive(Debug)]
pub struct Call<'p, R: IsResult> {
    plan: &'p Plan,
    retries: u32,
    classify: fn(&R::Err) -> Class,
    /// `From<Error>` of the error type, taken once by `begin` (so that a missing impl is
    /// reported there, once).
    convert: fn(Error) -> R::Err,
    usage: Option<fn(&R::Ok) -> u64>,
    /// The error's text, for events.
    describe: fn(&R::Err) -> String,
    /// The part that turned the last attempt away, if one did.
    rejected: Option<Part>,
    /// When the current attempt began, shifted left by one, if anyone wants its event (0
    /// otherwise); its lowest bit: the sync attempt holds a `tracing` span.
    started: Nanos,
    /// When the call's deadline passes, set at its first attempt; 0 without a deadline (the
    /// time base starts a year ahead of the monotonic clock, so no deadline falls at 0).
    until: Nanos,
    _result: PhantomData<fn() -> R>,
}

/// Tokens reserved for an attempt that must wait for them: given back if the attempt never runs
/// (its future dropped while it waits, or the bulkhead full after the wait), so that the buckets
/// are as if it had never asked. Forgotten once the attempt holds its bulkhead slot.
struct Reservation<'a> {
    shared: &'a Shared,
    key: u64,
    cost: u64,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.shared.refund(self.key, self.cost);
    }
}

/// The body of an async attempt, polled in the attempt's span (`S`: `()` for none) with its
/// panic caught: `Ok(out)`, or `Err(panic)` to record and resume. A future of its own rather
/// than `poll_fn`, so that its poll is always inlined into the attempt's (with a span's work
/// out of line, it was not: +20 Ir a call).
struct Caught<'b, F, S> {
    body: Pin<&'b mut F>,
    span: S,
}

impl<F: Future, S: trace::PollIn> Future for Caught<'_, F, S> {
    type Output = Result<F::Output, Box<dyn std::any::Any + Send>>;

    #[inline(always)]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let body = &mut this.body;
        this.span.poll_in(
            || match catch_unwind(AssertUnwindSafe(|| body.as_mut().poll(cx))) {
                Ok(Poll::Pending) => Poll::Pending,
                Ok(Poll::Ready(out)) => Poll::Ready(Ok(out)),
                Err(panic) => Poll::Ready(Err(panic)),
            },
        )
    }
}

/// The lowest bit of an attempt's `started`: it holds a sync `tracing` span (the clock's reading
/// is kept shifted left by one: it is a year and some of nanoseconds, far from the top bit).
const TRACED: Nanos = 1;

/// An async attempt waiting in the bulkhead's queue.
type Queued<'p> = std::pin::Pin<Box<dyn Future<Output = Result<Slot<'p>, Refusal>> + Send + 'p>>;

/// No deadline: a wait as long as the policy allows.
const NO_LIMIT: Nanos = u64::MAX;

/// Armed around a sync body, and forgotten when it returns: dropped only while the body's panic
/// unwinds, when it records the failure.
struct Unwinding<'g, 'a, 'p, R: IsResult>(&'g mut Option<Admitted<'a>>, &'g Call<'p, R>);

impl<R: IsResult> Drop for Unwinding<'_, '_, '_, R> {
    #[cold]
    fn drop(&mut self) {
        if let Some(admitted) = self.0.take() {
            let now = Mode::Sync.now();
            self.1.panicked(now);
            admitted.failure(self.1.started_at(), now);
        }
        if self.1.traced() {
            // the attempt's span, entered by `attempt_sync` (a call caught and used again
            // forgets it at its next attempt's start)
            trace::sync_leave();
        }
    }
}

/// The error text of a type the events know nothing of (also the attribute's, for an error
/// with neither `Display` nor `Debug`).
pub(crate) fn type_of<E>(_: &E) -> String {
    format!("an error of type `{}`", std::any::type_name::<E>())
}

enum Settled<R> {
    Step(Step<R>),
    RetryAfter(Duration),
}

/// The body of an async attempt, shared by its two entries (`Call::attempt_async_args` for
/// the builder's loop, `Call::attempt_async_each` for the attribute's, `Call::attempt_shared`
/// for an attempt Redis admitted) and by the path of an attempt that a `tracing` subscriber may
/// want a span of (`Call::attempt_async_traced`): `$this` the call, `$req` its request, `$f`
/// the body's future, `$backoff` what an attempt of mode [`SHARED`] does with its backoff
/// instead of waiting it (a closure; the other modes wait it, and pass one that is never
/// called); `plain` with `$out`, the traced path's out-parameter for its backoff, or `traced`.
macro_rules! attempt_async_body {
    ($this:ident, $req:ident, $f:ident, $backoff:expr, plain, $out:expr) => {
        attempt_async_body!($this, $req, $f, $backoff, plain, (), $out)
    };
    ($this:ident, $req:ident, $f:ident, $backoff:expr, traced) => {
        attempt_async_body!(
            $this,
            $req,
            $f,
            $backoff,
            traced,
            trace::BodySpan::open(&$this.plan.shared.name, $this.retries),
            ()
        )
    };
    ($this:ident, $req:ident, $f:ident, $backoff:expr, $kind:ident, $span:expr, $out:expr) => {{
        // Each await below keeps only what it needs in the future: values that are dead by then
        // are scoped out in blocks (a moved-from local still takes room until its scope ends).
        // That took the attempt's future from 360 to 256 bytes around a small body. Every
        // attempt's future is moved into its caller's, so its size is paid on every call.
        // a policy that declares `redis` (the hot path pays this branch, with the feature)
        #[cfg(feature = "redis")]
        if attempt_async_body!(@plain $kind) && MODE == PLAIN {
            if let Some(remote) = $this.plan.shared.remote() {
                return Box::pin($this.attempt_remote(remote, $req, $f)).await;
            }
        }
        let limit = $this.limit::<false>();
        let shared = &*$this.plan.shared;
        let traced = $this.start::<false>();
        // an attempt that a `tracing` subscriber may want a span of goes its own way (cold,
        // boxed), so that this future carries no span: the untraced attempt pays this branch
        attempt_async_body!(@traced $kind, $this, $req, $f, traced, $out);
        // matched where it is made: a `Result` held in a local and matched after costs 9 Ir a
        // call (measured)
        #[cfg(feature = "redis")]
        let (admitted, wait) = if MODE == SHARED {
            match shared.admit_held(clock::now_async, limit) {
                Ok(admitted) => admitted,
                Err(r) => return $this.rejected(r),
            }
        } else {
            match shared.admit::<TAKE>($req.key, $req.cost, clock::now_async, limit) {
                Ok(admitted) => admitted,
                Err(r) => return $this.rejected(r),
            }
        };
        #[cfg(not(feature = "redis"))]
        let (admitted, wait) =
            match shared.admit::<TAKE>($req.key, $req.cost, clock::now_async, limit) {
                Ok(admitted) => admitted,
                Err(r) => return $this.rejected(r),
            };
        // in a block: what it leaves behind (the entry's result, moved from) is out of scope,
        // so it takes no room in the future at the later suspension points (left in scope, it
        // and the body's moved-from output grew the future from 264 to 296 bytes, and moving
        // it then cost two calls to `memcpy` a call: +60 Ir)
        let slot = {
            let entered = if wait == 0 {
                shared.enter()
            } else {
                // dropped while it waits, the attempt gives its tokens back (none in memory
                // when Redis admitted it: its wait is the hold-off's)
                let reserved = (MODE != SHARED).then_some(Reservation {
                    shared,
                    key: $req.key,
                    cost: $req.cost,
                });
                tokio::time::sleep(Duration::from_nanos(wait)).await;
                // from here the tokens are given back by `turned_away`, or by the queue's own
                // reservation below
                std::mem::forget(reserved);
                shared.enter()
            };
            match entered {
                Ok(slot) => slot,
                Err(r) => match $this.queue_async(held::<MODE>($req)) {
                    None => return $this.turned_away(r, held::<MODE>($req)),
                    Some(queued) => match queued.await {
                        Ok(slot) => slot,
                        Err(r) => return $this.rejected(r),
                    },
                },
            }
        };
        #[allow(unused_mut)] // chaos's wait shortens it
        let mut cut = $this.cut();
        // chaos, if the name has any: its wait, under the attempt's time limit, then its fault
        // (the hot path pays this branch)
        #[cfg(feature = "chaos")]
        if let Some(chaos) = shared.chaos() {
            let (mut fault, delay) = $this.chaos_draw(chaos);
            if let Some(d) = delay {
                match cut {
                    Some(within) if within <= d => {
                        Box::pin(tokio::time::sleep(within)).await;
                        fault = Fault::CutAfter(within);
                    }
                    _ => {
                        Box::pin(tokio::time::sleep(d)).await;
                        cut = cut.map(|within| within - d);
                    }
                }
            }
            if fault != Fault::None {
                let wait =
                    match $this.chaos_fault::<false>(fault, held::<MODE>($req), admitted, slot) {
                        Ok(Settled::Step(step)) | Err(step) => return step,
                        Ok(Settled::RetryAfter(w)) => w,
                    };
                #[cfg(feature = "redis")]
                if MODE == SHARED {
                    ($backoff)(wait); // waited once Redis has the outcome
                    return Step::Again;
                }
                Box::pin(tokio::time::sleep(wait)).await;
                return Step::Again;
            }
        }
        // in a block too: the body's output, moved into `settle`, is out of scope at the
        // backoff's wait
        let wait = {
            let out = {
                // a panic in the body is caught where it is polled, recorded, and resumed (a guard
                // like the sync one, kept in the future across polls, measured 7 Ir a call more)
                let mut body = pin!($f);
                // the body is polled in the attempt's span, if it has one
                let caught = Caught {
                    body: body.as_mut(),
                    span: $span,
                };
                let caught = match cut {
                    None => caught.await,
                    Some(within) => match tokio::time::timeout(within, caught).await {
                        Ok(caught) => caught,
                        Err(_) => Ok(R::from_err(($this.convert)(Error::Timeout {
                            policy: shared.name.clone(),
                            after: $this.cut_by(within),
                        }))),
                    },
                };
                match caught {
                    Ok(out) => out,
                    Err(panic) => $this.unwind(admitted, slot, panic),
                }
            };
            if $this.is_plain_success(&out) {
                slot.succeeded();
                $this.succeeded::<false>();
                admitted.success($this.started_at(), clock::now_async);
                return Step::Done(out);
            }
            drop(slot);
            match $this.settle::<false>(out, admitted) {
                Settled::Step(step) => return step,
                Settled::RetryAfter(w) => w,
            }
        };
        #[cfg(feature = "redis")]
        if MODE == SHARED {
            ($backoff)(wait); // waited once Redis has the outcome
            return Step::Again;
        }
        tokio::time::sleep(wait).await;
        Step::Again
    }};
    (@plain plain) => {
        true
    };
    (@plain traced) => {
        false
    };
    // the traced path is named only in the plain one (not even in a branch never taken: the
    // traced path of the traced path would be instantiated without end)
    (@traced plain, $this:ident, $req:ident, $f:ident, $traced:ident, $out:expr) => {
        #[cfg(feature = "tracing")]
        if $traced {
            return Box::pin(Self::attempt_async_traced::<MODE, F>($this, $req, $f, $out)).await;
        }
        #[cfg(not(feature = "tracing"))]
        let _ = $traced;
    };
    (@traced traced, $this:ident, $req:ident, $f:ident, $traced:ident, $out:expr) => {
        let _ = $traced;
    };
}

/// The arguments of an async attempt, in one value (see `Call::attempt_async_args`).
pub(crate) struct AsyncArgs<'s, 'p, R: IsResult, F> {
    pub(crate) call: &'s mut Call<'p, R>,
    pub(crate) req: Req,
    pub(crate) f: F,
}

impl<'p, R: IsResult> Call<'p, R> {
    /// Runs one attempt of a sync call: admission, the body (a panic in it is recorded as a
    /// failure and goes on unwinding, the slots given back by their drops), the outcome, and the
    /// backoff wait before `Again`.
    /// Waits block the thread (or move its [`MockClock`](crate::MockClock)).
    ///
    /// # Examples
    ///
    /// See [`Step`].
    #[inline(always)]
    pub fn attempt_sync<F: FnOnce() -> R>(&mut self, req: Req, f: F) -> Step<R> {
        // with `DEBUG` on, the attempt runs in a span entered here and left before each return
        // below (or by `Unwinding`, while a panic in the body unwinds); otherwise this is one
        // load and a branch. Left before the step is made, not after: keeping a step across
        // the leave moves it once more (measured: +20 Ir a call)
        let limit = self.limit::<true>();
        let shared = &*self.plan.shared;
        if self.start::<true>() {
            self.enter_span();
        }
        let admitted = match shared.admit::<TAKE>(req.key, req.cost, clock::now_sync, limit) {
            Ok((admitted, 0)) => admitted,
            Ok((admitted, wait)) => {
                clock::sleep_sync(Duration::from_nanos(wait));
                admitted
            }
            Err(r) => {
                let step = self.rejected(r);
                return self.leave(step);
            }
        };
        let slot = match shared.enter() {
            Ok(slot) => slot,
            Err(r) => match self.queue_sync(r) {
                Ok(slot) => slot,
                Err(r) => {
                    let step = self.turned_away(r, Some(req));
                    return self.leave(step);
                }
            },
        };
        // chaos, if the name has any: its wait, then its fault (the hot path pays this branch)
        #[cfg(feature = "chaos")]
        if let Some(chaos) = shared.chaos() {
            let (fault, delay) = self.chaos_draw(chaos);
            if let Some(d) = delay {
                clock::sleep_sync(d);
            }
            if fault != Fault::None {
                let step = match self.chaos_fault::<true>(fault, Some(req), admitted, slot) {
                    Err(step) | Ok(Settled::Step(step)) => step,
                    Ok(Settled::RetryAfter(w)) => {
                        clock::sleep_sync(w);
                        Step::Again
                    }
                };
                return self.leave(step);
            }
        }
        // no `catch_unwind` (it costs a copy of the result): if the body panics, this guard's
        // drop records the failure while the panic unwinds; the slot's drop gives the slot back
        let mut admitted = Some(admitted);
        let unwinding = Unwinding(&mut admitted, self);
        let out = f();
        std::mem::forget(unwinding);
        let Some(admitted) = admitted else {
            unreachable!("only the unwinding guard takes the pass")
        };
        // the happy path stays here, inline: moving `out` through another enum costs
        if self.is_plain_success(&out) {
            slot.succeeded();
            self.succeeded::<true>();
            admitted.success(self.started_at(), clock::now_sync);
            return Step::Done(out);
        }
        drop(slot);
        let step = match self.settle::<true>(out, admitted) {
            Settled::Step(step) => step,
            Settled::RetryAfter(w) => {
                clock::sleep_sync(w);
                Step::Again
            }
        };
        self.leave(step)
    }

    /// Runs one attempt of an async call, as [`attempt_sync`](Self::attempt_sync) does, on
    /// tokio's clock and timers, with the policy's timeout. Dropping the future releases
    /// everything the attempt holds.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use staunch_runtime::attempt::{Req, Step};
    /// use staunch_runtime::{Class, Policy};
    /// let policy = Policy::builder("docs-attempt-async").build().unwrap();
    /// let mut call = policy.begin::<Result<u8, staunch_runtime::Error>>(|_| Class::DEFAULT);
    /// let step = call.attempt_async(Req::new(), async { Ok(5) }).await;
    /// assert_eq!(step, Step::Done(Ok(5)));
    /// # }
    /// ```
    pub fn attempt_async<'s, F: Future<Output = R> + 's>(
        &'s mut self,
        req: Req,
        f: F,
    ) -> impl Future<Output = Step<R>> + use<'s, 'p, R, F> {
        Self::attempt_async_each::<PLAIN, F>(self, req, f)
    }

    /// The builder's attempt, from its arguments in one value: a future's arguments are laid out
    /// among its largest fields, so three arguments (the `&mut self` last, after every 16-byte
    /// field the attempt keeps) spread the future's first state over 144 bytes, which each move
    /// of the future in the builder's loop copied with a call to `memcpy` (two a call: +58 Ir);
    /// one 40-byte argument comes first, and is copied in a few moves. The attribute's own loop
    /// moves the future without `memcpy` either way, and is 13 Ir a call faster with three
    /// arguments: [`attempt_async_each`](Self::attempt_async_each).
    pub(crate) async fn attempt_async_args<const MODE: u8, F: Future<Output = R>>(
        args: AsyncArgs<'_, 'p, R, F>,
    ) -> Step<R> {
        let AsyncArgs { call, req, f } = args;
        attempt_async_body!(call, req, f, |_| {}, plain, &mut Duration::default())
    }

    /// The attribute's attempt (see [`attempt_async_args`](Self::attempt_async_args)). `MODE`:
    /// [`PLAIN`] (a policy that declares `redis` goes to the state in Redis first, feature
    /// `redis`), [`SHARED`] (Redis admitted it: only the hold-off is left), [`LOCAL`] (Redis is
    /// down and the policy fails open: the in-memory parts decide).
    pub(crate) async fn attempt_async_each<const MODE: u8, F: Future<Output = R>>(
        call: &mut Self,
        req: Req,
        f: F,
    ) -> Step<R> {
        attempt_async_body!(call, req, f, |_| {}, plain, &mut Duration::default())
    }

    /// An attempt Redis admitted ([`SHARED`]): only the hold-off is left of the admission, and
    /// the backoff before a retry is not waited but written to `backoff`, to be waited once
    /// Redis has the outcome (so that the fleet sees a failure at once, and a call dropped
    /// during its backoff has lost nothing).
    #[cfg(feature = "redis")]
    pub(crate) async fn attempt_shared<F: Future<Output = R>>(
        call: &mut Self,
        req: Req,
        f: F,
        backoff: &mut Duration,
    ) -> Step<R> {
        const MODE: u8 = SHARED;
        attempt_async_body!(call, req, f, |wait| *backoff = wait, plain, &mut *backoff)
    }

    /// An attempt that a `tracing` subscriber may want a span of (its policy's mark
    /// `Kinds::TRACING`), from the start of a plain one of mode `MODE`: the same attempt, its
    /// body polled in the span (`trace::BodySpan`), its backoff written to `backoff` in mode
    /// [`SHARED`] (see `attempt_shared`). Boxed and cold, so that the plain attempt's future
    /// carries no span.
    #[cfg(feature = "tracing")]
    #[cfg_attr(not(feature = "redis"), allow(unused_variables))]
    #[cold]
    #[inline(never)]
    async fn attempt_async_traced<const MODE: u8, F: Future<Output = R>>(
        call: &mut Self,
        req: Req,
        f: F,
        backoff: &mut Duration,
    ) -> Step<R> {
        attempt_async_body!(call, req, f, |wait| *backoff = wait, traced)
    }

    /// Chaos's draw for an attempt that holds its pass and slot: its fault, and its wait
    /// (counted here; the attempt waits it on its own clock).
    #[cfg(feature = "chaos")]
    #[cold]
    #[inline(never)]
    fn chaos_draw(&self, chaos: &crate::chaos::Injector) -> (Fault, Option<Duration>) {
        let (fault, delay) = chaos.draw();
        if fault == Fault::Reject {
            return (fault, None); // turned away at once
        }
        if delay.is_some() {
            let counts = &self.plan.shared.counts;
            counts.injected_delays.fetch_add(1, Ordering::Relaxed);
        }
        (fault, delay)
    }

    /// The attempt ends in chaos's fault, in place of the body: a rejection gives back the
    /// slot, the pass and the tokens (`Err`: the step); an injected error, or the attempt's time
    /// limit cut during chaos's wait, is settled like a real failure (`Ok`: the caller waits
    /// out a retry's backoff).
    #[cfg(feature = "chaos")]
    #[cold]
    #[inline(never)]
    fn chaos_fault<const SYNC: bool>(
        &mut self,
        fault: Fault,
        reserved: Option<Req>,
        admitted: Admitted<'_>,
        slot: Slot<'_>,
    ) -> Result<Settled<R>, Step<R>> {
        drop(slot);
        let shared = &*self.plan.shared;
        let e = match fault {
            Fault::None => unreachable!("the body runs"),
            Fault::Reject => {
                drop(admitted);
                return Err(self.turned_away(Refusal::Chaos, reserved));
            }
            Fault::Error => {
                shared
                    .counts
                    .injected_errors
                    .fetch_add(1, Ordering::Relaxed);
                Error::Injected {
                    policy: shared.name.clone(),
                }
            }
            Fault::CutAfter(within) => Error::Timeout {
                policy: shared.name.clone(),
                after: self.cut_by(within),
            },
        };
        let out = R::from_err((self.convert)(e));
        Ok(self.settle::<SYNC>(out, admitted))
    }

    /// Notes when the attempt began, if anyone wants its event.
    #[inline(always)]
    fn start<const SYNC: bool>(&mut self) -> bool {
        // one mask says who wants the attempt: event subscribers, the latency histogram
        // (`TIMED`), the breaker for slow calls or a time window (`CLOCKED`), and `tracing`
        // (`TRACING`: a subscriber may want the attempt's span, which is then looked at
        // closely). The lowest bit of `started` is the sync attempt's span (see `enter_span`),
        // clear here. Returns whether to look for a span.
        let mask = self.plan.shared.mask();
        let timed = Kinds::ATTEMPT.bits()
            | Kinds::TIMED.bits()
            | Kinds::CLOCKED.bits()
            | Kinds::TRACING.bits();
        if mask & (timed | Kinds::REMOTE.bits()) == 0 {
            // the happy path: nobody wants anything, so no span either
            self.started = 0;
            return false;
        }
        // a sync call of a policy that declares `redis` uses the in-memory state (said once)
        #[cfg(feature = "redis")]
        if SYNC && mask & Kinds::REMOTE.bits() != 0 {
            self.sync_remote();
        }
        // the clock only for those who want it (not for the mark of `redis` alone)
        self.started = if mask & timed != 0 {
            Self::clock::<SYNC>() << 1
        } else {
            0
        };
        cfg!(feature = "tracing") && mask & Kinds::TRACING.bits() != 0
    }

    /// A sync call of a policy whose state is in Redis: it uses the in-memory state, and says
    /// so once.
    #[cfg(feature = "redis")]
    #[cold]
    #[inline(never)]
    fn sync_remote(&self) {
        if let Some(remote) = self.plan.shared.remote() {
            remote.sync_call();
        }
    }

    /// Enters the span of a sync attempt (`DEBUG` is on), to be left by [`leave`](Self::leave)
    /// or by `Unwinding`. The attempt's event is then wanted: the attempt is timed, and the
    /// lowest bit of its start says it holds a span. Kept in `started`, which the happy path
    /// reads anyway, so that a call without a span tests nothing more on its way out.
    #[cold]
    #[inline(never)]
    fn enter_span(&mut self) {
        if trace::sync_enter(&self.plan.shared.name, self.retries) {
            let started = if self.started == 0 {
                Self::clock::<true>() << 1
            } else {
                self.started
            };
            self.started = started | TRACED;
        }
    }

    /// When the current attempt began, if it was timed (0 otherwise).
    #[inline(always)]
    fn started_at(&self) -> Nanos {
        self.started >> 1
    }

    /// Whether the current sync attempt holds a span.
    fn traced(&self) -> bool {
        self.started & TRACED != 0
    }

    /// Leaves the span of a sync attempt, if it entered one, before it returns `step`.
    #[inline(always)]
    fn leave(&mut self, step: Step<R>) -> Step<R> {
        if self.traced() {
            trace::sync_leave();
        }
        step
    }

    /// Reports a plain success, if anyone wanted the attempt's event when it began, and leaves
    /// the attempt's span if it holds one.
    #[inline(always)]
    fn succeeded<const SYNC: bool>(&self) {
        if self.started != 0 {
            self.succeeded_watched(Self::clock::<SYNC>());
        }
    }

    #[cold]
    #[inline(never)]
    fn succeeded_watched(&self, now: Nanos) {
        self.attempted(Verdict::Success, None, now);
        if self.traced() {
            trace::sync_leave();
        }
    }

    fn clock<const SYNC: bool>() -> Nanos {
        if SYNC { Mode::Sync } else { Mode::Async }.now()
    }

    /// Reports an attempt's end (an event, and a sample of the latency histogram).
    #[cold]
    fn attempted(&self, verdict: Verdict, error: Option<String>, now: Nanos) {
        let elapsed = if self.started == 0 {
            Duration::ZERO // the subscription began during the attempt
        } else {
            Duration::from_nanos(now.saturating_sub(self.started >> 1))
        };
        #[cfg(feature = "metrics")]
        if self.started != 0 && self.plan.shared.watches(Kinds::TIMED) {
            crate::metrics::record_latency(&self.plan.shared.events, elapsed);
        }
        if self.watches(Kinds::ATTEMPT) {
            self.report(EventKind::Attempt {
                attempt: self.retries.saturating_add(1),
                verdict,
                error,
                elapsed,
            });
        }
    }

    /// Whether anyone (a subscriber, or `tracing`) wants events of `kind`.
    #[inline(always)]
    fn watches(&self, kind: Kinds) -> bool {
        self.plan.shared.watches(kind)
    }

    /// An event, to `tracing` (in the attempt's span, the current one) and to the subscribers
    /// that want it.
    #[cold]
    fn report(&self, kind: EventKind) {
        self.plan.shared.events.tell(kind);
    }

    /// A panic in the body, recorded.
    #[cold]
    fn panicked(&self, now: Nanos) {
        let shared = &self.plan.shared;
        shared.counts.failures.fetch_add(1, Ordering::Relaxed);
        self.attempted(Verdict::Failure, Some("the body panicked".to_owned()), now);
    }

    /// A panic in an async body, caught where it was polled: recorded as a failure, its slots
    /// given back, and it goes on unwinding.
    #[cold]
    fn unwind(
        &self,
        admitted: Admitted<'_>,
        slot: Slot<'_>,
        panic: Box<dyn std::any::Any + Send>,
    ) -> ! {
        let now = Mode::Async.now();
        self.panicked(now);
        admitted.failure(self.started_at(), now);
        drop(slot);
        resume_unwind(panic)
    }

    /// The time left before the call's deadline (set at the first attempt), or [`NO_LIMIT`].
    #[inline(always)]
    fn limit<const SYNC: bool>(&mut self) -> Nanos {
        match self.plan.deadline {
            None => NO_LIMIT,
            Some(deadline) => self.limit_slow::<SYNC>(deadline),
        }
    }

    #[cold]
    fn limit_slow<const SYNC: bool>(&mut self, deadline: Duration) -> Nanos {
        let now = if SYNC { Mode::Sync } else { Mode::Async }.now();
        if self.until == 0 {
            self.until = now.saturating_add(clock::duration_to_nanos(deadline));
        }
        // a token wait must end before the deadline, not at it
        self.until.saturating_sub(now).saturating_sub(1)
    }

    /// How long an async attempt may run: the policy's timeout, or what is left of the
    /// deadline if that is shorter.
    #[inline(always)]
    fn cut(&self) -> Option<Duration> {
        if self.until == 0 {
            return self.plan.timeout;
        }
        Some(Self::cut_slow(self.plan.timeout, self.until))
    }

    #[cold]
    fn cut_slow(timeout: Option<Duration>, until: Nanos) -> Duration {
        let left = Duration::from_nanos(until.saturating_sub(Mode::Async.now()));
        timeout.map_or(left, |t| t.min(left))
    }

    /// The limit an attempt cut after `within` ran past: the policy's timeout, unless the
    /// deadline cut it shorter.
    #[cold]
    fn cut_by(&self, within: Duration) -> Duration {
        match (self.plan.timeout, self.plan.deadline) {
            (Some(t), _) if t <= within => t,
            (_, Some(deadline)) => deadline,
            (timeout, None) => timeout.unwrap_or(within),
        }
    }

    /// Records the outcome and decides what follows.
    /// The happy path: an `Ok` with nothing to account for (no retry budget to pay into, no
    /// token usage to reconcile) needs only the breaker told.
    #[inline(always)]
    fn is_plain_success(&self, out: &R) -> bool {
        out.as_err().is_none() && self.plan.shared.plain_ok()
    }

    /// Everything else: records the outcome and decides what follows.
    #[inline(never)]
    fn settle<const SYNC: bool>(&mut self, out: R, admitted: Admitted<'_>) -> Settled<R> {
        let now = if SYNC { Mode::Sync } else { Mode::Async }.now();
        let shared = &*self.plan.shared;
        if let (0, Some(budget)) = (self.retries, shared.budget()) {
            budget.deposit(now);
        }
        let Some(e) = out.as_err() else {
            if let (Some(usage), Some(ok)) = (self.usage, out.as_ok()) {
                // reconcile the estimate with what the call reports it used
                shared.reconcile(admitted.cost, usage(ok));
            }
            shared.count_success();
            self.attempted(Verdict::Success, None, now);
            admitted.success(
                self.started_at(),
                if SYNC {
                    clock::now_sync
                } else {
                    clock::now_async
                },
            );
            return Settled::Step(Step::Done(out));
        };
        let class = (self.classify)(e);
        let describe = self.describe;
        let text = |wanted: Kinds| shared.watches(wanted).then(|| describe(e));
        if !class.counts {
            // neither a success nor a failure: a trial gives its slot back, with no verdict
            drop(admitted);
            shared.counts.ignored.fetch_add(1, Ordering::Relaxed);
            self.attempted(Verdict::Ignored, text(Kinds::ATTEMPT), now);
            return Settled::Step(self.finish(out, class.fallback));
        }
        shared.counts.failures.fetch_add(1, Ordering::Relaxed);
        self.attempted(Verdict::Failure, text(Kinds::ATTEMPT), now);
        admitted.failure(self.started_at(), now);
        // a hint is honoured up to `max_delay`; a policy with a limit holds every caller off
        // for it, not only this one, and never longer than `max_delay`
        let cap = self.plan.retry.unwrap_or_default().max_delay;
        if let (Some(hint), true) = (class.retry_after, shared.is_limited()) {
            let hold = hint.min(cap);
            shared.hold_off(now.saturating_add(clock::duration_to_nanos(hold)));
            if self.watches(Kinds::HOLD_OFF) {
                self.report(EventKind::HoldOff { hold });
            }
        }
        match self.retry_wait(&class, cap, now) {
            Some(wait) => {
                self.retries += 1;
                shared.counts.retries.fetch_add(1, Ordering::Relaxed);
                if let Some(error) = text(Kinds::RETRY) {
                    self.report(EventKind::Retry {
                        retry: self.retries,
                        wait,
                        error,
                    });
                }
                Settled::RetryAfter(wait)
            }
            None => Settled::Step(self.finish(out, class.fallback)),
        }
    }

    /// The wait before the next attempt, if the error, the retry settings, the hint, the
    /// deadline and the budget all allow one. The budget is asked last: it pays only for a retry
    /// that will be made.
    fn retry_wait(&self, class: &Class, cap: Duration, now: Nanos) -> Option<Duration> {
        let retry = self.plan.retry.as_ref()?;
        if !class.retryable || self.retries >= retry.max {
            return None;
        }
        if class.retry_after.is_some_and(|hint| hint > cap) {
            return None; // a hint past `max_delay` ends the retries at once
        }
        let wait = retry.wait(self.retries, class.retry_after);
        let ends = now.saturating_add(clock::duration_to_nanos(wait));
        if self.until != 0 && ends >= self.until {
            return None; // the retry would start at or past the deadline
        }
        if !self.plan.shared.budget().is_none_or(|b| b.withdraw(now)) {
            return None;
        }
        Some(wait)
    }

    /// The call ends with `out`: handed to the fallback if it is worth one.
    fn finish(&self, out: R, fallback: bool) -> Step<R> {
        if fallback {
            self.plan
                .shared
                .counts
                .fallbacks
                .fetch_add(1, Ordering::Relaxed);
            Step::Fallback(out)
        } else {
            Step::Done(out)
        }
    }

    /// The bulkhead found every slot taken: with a queue, a sync attempt waits there (blocking)
    /// for at most the queue's wait and what is left of the deadline.
    #[cold]
    #[inline(never)]
    fn queue_sync(&self, refusal: Refusal) -> Result<Slot<'p>, Refusal> {
        let shared: &'p Shared = &self.plan.shared;
        if !shared.has_queue() {
            return Err(refusal);
        }
        shared.enter_queued_sync(self.until)
    }

    /// The bulkhead found every slot taken: with a queue, the wait of an async attempt there
    /// (boxed: only a waiting attempt pays for its room).
    #[cold]
    #[inline(never)]
    fn queue_async(&self, req: Option<Req>) -> Option<Queued<'p>> {
        let shared: &'p Shared = &self.plan.shared;
        if !shared.has_queue() {
            return None;
        }
        let until = self.until;
        Some(Box::pin(async move {
            // dropped while it waits in the queue, or turned away after it, the attempt gives
            // its tokens back (held here, in the box, not in the attempt's future)
            let reserved = req.map(|req| Reservation {
                shared,
                key: req.key,
                cost: req.cost,
            });
            let entered = shared.enter_queued_async(until).await;
            if entered.is_ok() {
                std::mem::forget(reserved);
            }
            entered
        }))
    }

    /// The bulkhead turned away an attempt the limiters had admitted: its tokens go back
    /// (`reserved`: what the in-memory limiters reserved for it, if they admitted it).
    #[cold]
    #[inline(never)]
    fn turned_away(&mut self, refusal: Refusal, reserved: Option<Req>) -> Step<R> {
        if let Some(req) = reserved {
            self.plan.shared.refund(req.key, req.cost);
        }
        self.rejected(refusal)
    }

    /// A rejection by the policy itself ends the call: it is not retried, and is worth a
    /// fallback.
    #[cold]
    #[inline(never)]
    fn rejected(&mut self, refusal: Refusal) -> Step<R> {
        let e = self.plan.shared.error(refusal);
        let (part, retry_in) = refusal.part();
        self.refused(part, retry_in, e)
    }

    /// The call is turned away by `part` with `e`, counted and told (see
    /// [`rejected`](Self::rejected)).
    #[cold]
    fn refused(&mut self, part: Part, retry_in: Duration, e: Error) -> Step<R> {
        let shared = &*self.plan.shared;
        self.rejected = Some(part);
        shared.counts.rejected[part as usize].fetch_add(1, Ordering::Relaxed);
        shared.counts.fallbacks.fetch_add(1, Ordering::Relaxed);
        if self.watches(Kinds::REJECTED) {
            self.report(EventKind::Rejected { part, retry_in });
        }
        Step::Fallback(R::from_err((self.convert)(e)))
    }

    /// Reports that the call goes to its fallback with `out`, the result of a
    /// [`Step::Fallback`]. What the attribute's code calls before a fallback runs; a loop of
    /// your own that has a fallback calls it too, for [`Kinds::FALLBACK`] events.
    ///
    /// # Examples
    ///
    /// ```
    /// use staunch_runtime::attempt::{Req, Step};
    /// use staunch_runtime::events::{self, EventKind, Filter, Kinds, Reason};
    /// use staunch_runtime::{Class, Error, Policy};
    ///
    /// let (_s, mut rx) = events::channel(Filter::policy("docs-fell-back").kinds(Kinds::FALLBACK), 8);
    /// let p = Policy::builder("docs-fell-back").build().unwrap();
    /// let mut call = p.begin::<Result<u8, Error>>(|_| Class::DEFAULT).describe(|e| e.to_string());
    /// let down = Error::Timeout { policy: "up".into(), after: Default::default() };
    /// let out = match call.attempt_sync(Req::new(), || Err(down)) {
    ///     Step::Fallback(r) => {
    ///         call.fell_back(&r);
    ///         Ok(0) // the fallback's answer
    ///     }
    ///     Step::Done(r) => r,
    ///     Step::Again => unreachable!(),
    /// };
    /// assert_eq!(out, Ok(0));
    /// events::flush();
    /// let e = rx.try_recv().unwrap();
    /// assert_eq!(e.kind, EventKind::Fallback {
    ///     reason: Reason::Failed,
    ///     error: "policy `up`: timed out after 0ns".into(),
    /// });
    /// ```
    pub fn fell_back(&self, out: &R) {
        if !self.watches(Kinds::FALLBACK) {
            return;
        }
        let reason = self.rejected.map_or(Reason::Failed, Reason::Rejected);
        let error = out
            .as_err()
            .map_or_else(String::new, |e| (self.describe)(e));
        self.report(EventKind::Fallback { reason, error });
    }

    /// How events write this call's errors: `describe(e)` (by default, the error's type name).
    /// The attribute sets it to the error's `Display` (or else `Debug`) where the error has one.
    ///
    /// # Examples
    ///
    /// See [`fell_back`](Self::fell_back).
    #[must_use]
    pub fn describe(mut self, describe: fn(&R::Err) -> String) -> Self {
        self.describe = describe;
        self
    }

    /// Reconciles the token limit after a successful attempt: `usage` reads the tokens the call
    /// really used from its result, and the difference from [`Req::cost`] is refunded or charged.
    ///
    /// # Examples
    ///
    /// ```
    /// use staunch_runtime::attempt::{Req, Step};
    /// use staunch_runtime::{Class, Policy};
    /// let p = Policy::builder("docs-usage").tpm(1000.0).build().unwrap();
    /// let mut call = p.begin::<Result<u64, staunch_runtime::Error>>(|_| Class::DEFAULT).usage(|used| *used);
    /// let step = call.attempt_sync(Req::new().cost(900), || Ok(100));
    /// assert_eq!(step, Step::Done(Ok(100)));
    /// // 800 tokens came back: 900 are free again
    /// assert!(p.handle().signals().tokens_remaining.unwrap() >= 900.0);
    /// ```
    #[must_use]
    pub fn usage(mut self, usage: fn(&R::Ok) -> u64) -> Self {
        self.usage = Some(usage);
        self
    }

    /// Whether the policy itself turned the last attempt away (breaker, limiter or bulkhead),
    /// rather than the attempt running and failing.
    ///
    /// # Examples
    ///
    /// ```
    /// use staunch_runtime::attempt::Req;
    /// use staunch_runtime::{Class, Policy};
    /// let p = Policy::builder("docs-was-rejected").max_inflight(1).build().unwrap();
    /// let mut call = p.begin::<Result<(), staunch_runtime::Error>>(|_| Class::DEFAULT);
    /// let _ = call.attempt_sync(Req::new(), || Ok(()));
    /// assert!(!call.was_rejected());
    /// ```
    #[must_use]
    pub fn was_rejected(&self) -> bool {
        self.rejected.is_some()
    }

    /// Why the call is handed to its fallback: `out`, the result of a [`Step::Fallback`], with
    /// whether the policy turned the last attempt away. What `fallback_why = path` expands to.
    ///
    /// # Panics
    ///
    /// If `out` is an `Ok`: a [`Step::Fallback`] always holds an `Err`.
    ///
    /// # Examples
    ///
    /// ```
    /// use staunch_runtime::attempt::{Req, Step};
    /// use staunch_runtime::{Class, Error, Policy, Why};
    /// let p = Policy::builder("docs-why").max_inflight(1).build().unwrap();
    /// let mut call = p.begin::<Result<(), Error>>(|_| Class::DEFAULT);
    /// let down = Error::Timeout { policy: "up".into(), after: Default::default() };
    /// let Step::Fallback(r) = call.attempt_sync(Req::new(), || Err(down.clone())) else { unreachable!() };
    /// assert_eq!(call.why(r), Why::Failed(down));
    /// ```
    pub fn why(&self, out: R) -> Why<R::Err> {
        let Some(e) = out.into_err() else {
            panic!("a call is handed to its fallback only with an error");
        };
        if self.rejected.is_some() {
            Why::Rejected(e)
        } else {
            Why::Failed(e)
        }
    }

    /// Retries made so far.
    ///
    /// # Examples
    ///
    /// ```
    /// let p = staunch_runtime::Policy::builder("docs-retries").build().unwrap();
    /// let call = p.begin::<Result<(), staunch_runtime::Error>>(|_| staunch_runtime::Class::DEFAULT);
    /// assert_eq!(call.retries(), 0);
    /// ```
    #[must_use]
    pub fn retries(&self) -> u32 {
        self.retries
    }
}

/// What every attempt of one policy reads: the parts shared by its name, and the policy's own
/// retry, timeout and deadline.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub(crate) shared: Arc<Shared>,
    pub(crate) retry: Option<Retry>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) deadline: Option<Duration>,
    /// The function's own hedging, with what it learned; `None` without `hedge`.
    pub(crate) hedge: Option<Arc<Hedging>>,
}

impl Plan {
    /// Starts a call whose errors `classify` classifies.
    pub(crate) fn begin<R: IsResult>(&self, classify: fn(&R::Err) -> Class) -> Call<'_, R>
    where
        R::Err: From<Error>,
    {
        Call {
            plan: self,
            retries: 0,
            classify,
            convert: <R::Err as From<Error>>::from,
            usage: None,
            describe: type_of::<R::Err>,
            rejected: None,
            started: 0,
            until: 0,
            _result: PhantomData,
        }
    }
}
