//! Bulkhead: at most N calls in flight; the next one is turned away at once, or, with a queue,
//! waits for a slot in arrival order.
//!
//! The count of calls in flight is one word. A call takes a slot with one compare-and-swap
//! while the count is under the limit and nobody waits; it gives it back with one subtraction.
//! With a queue, the word's top bit ([`WAITING`]) says that someone waits: it makes the count
//! look full to newcomers (so none barges in ahead of a waiter, it queues behind), and it tells
//! the caller that gives a slot back to hand it on, under the queue's lock, to the longest
//! waiter. The bit is set and cleared only under that lock, as the queue turns non-empty and
//! empty: so, under the lock, the queue is non-empty exactly when the bit is set, and once the
//! lock is released either nobody waits or every slot is taken (a slot given back meanwhile
//! came with the bit set, and its caller takes the lock to hand it on).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::clock::{self, Nanos};
use crate::sync::{lock, AtomicU64, AtomicUsize, Condvar, Mutex, MutexGuard, Ordering, Padded};

/// The top bit of the in-flight word: someone waits in the queue.
const WAITING: usize = 1 << (usize::BITS - 1);

/// Counts the calls in flight of a policy and bounds them.
///
/// Every policy counts its calls in flight (for [`Signals::inflight`](crate::Signals::inflight));
/// only one with `max_inflight` turns calls away, and only one with `queue` lets them wait.
#[derive(Debug)]
pub(crate) struct Bulkhead {
    limit: usize,
    /// Written by every call: kept off the cache lines the other parts read.
    line: Padded<Line>,
    /// The waiters, with `queue`; boxed, so a policy without one carries a pointer.
    queue: Option<Box<Queue>>,
}

/// What every call writes, on one line.
#[derive(Debug)]
struct Line {
    /// Calls holding a slot, and [`WAITING`].
    inflight: AtomicUsize,
    /// Attempts that succeeded, since the policy was created.
    succeeded: AtomicU64,
}

/// The callers waiting for a slot (the slow path only).
#[derive(Debug)]
struct Queue {
    /// At most this many wait; one more is turned away at once.
    capacity: usize,
    /// The longest one waits (`None`: as long as it takes, up to its call's deadline).
    wait: Option<Duration>,
    waiters: Mutex<Waiters>,
    /// Where sync waiters block.
    ready: Condvar,
}

#[derive(Debug, Default)]
struct Waiters {
    next: u64,
    /// In arrival order.
    waiting: VecDeque<Waiter>,
    /// Waiters handed a slot (counted in the in-flight word) that have not picked it up yet.
    granted: Vec<u64>,
}

#[derive(Debug)]
struct Waiter {
    id: u64,
    /// `None`: a sync waiter, blocked on the condvar.
    waker: Option<Waker>,
}

/// Where a caller that found every slot taken stands.
#[derive(Debug)]
pub(crate) enum Joined<'a> {
    /// A slot freed meanwhile, with nobody ahead.
    Entered(Slot<'a>),
    /// Waiting, under this ticket.
    Waiting(u64),
    /// The queue is full (or there is none): turned away, at this limit.
    Full(usize),
}

impl Bulkhead {
    pub(crate) fn new(limit: Option<usize>) -> Self {
        Bulkhead {
            limit: limit.unwrap_or(usize::MAX),
            line: Padded(Line {
                inflight: AtomicUsize::new(0),
                succeeded: AtomicU64::new(0),
            }),
            queue: None,
        }
    }

    /// A bulkhead of `limit` slots where up to `capacity` callers wait, each at most `wait`.
    pub(crate) fn with_queue(limit: usize, capacity: usize, wait: Option<Duration>) -> Self {
        Bulkhead {
            // below the bit: nobody has 2^63 calls in flight
            limit: limit.min(WAITING - 1),
            queue: Some(Box::new(Queue {
                capacity,
                wait,
                waiters: Mutex::new(Waiters::default()),
                ready: Condvar::new(),
            })),
            ..Bulkhead::new(None)
        }
    }

    /// Takes a slot, or returns the limit when every slot is taken (or someone waits for one).
    /// A compare-and-swap rather than an add-then-undo, so that a call turned away never makes
    /// a concurrent call see a full bulkhead that is not.
    #[inline]
    pub(crate) fn enter(&self) -> Result<Slot<'_>, usize> {
        if self.limit == usize::MAX {
            // no bulkhead, only the count
            self.line.inflight.fetch_add(1, Ordering::Relaxed);
            return Ok(Slot { bulkhead: self });
        }
        let mut n = self.line.inflight.load(Ordering::Relaxed);
        loop {
            // with `WAITING` set, `n` is above any limit: a newcomer never barges in
            if n >= self.limit {
                return Err(self.limit);
            }
            match self.line.inflight.compare_exchange_weak(
                n,
                n + 1,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(Slot { bulkhead: self }),
                Err(actual) => n = actual,
            }
        }
    }

    /// Whether callers that find every slot taken may wait.
    pub(crate) fn has_queue(&self) -> bool {
        self.queue.is_some()
    }

    /// The longest a caller waits in the queue, if bounded.
    pub(crate) fn queue_wait(&self) -> Option<Duration> {
        self.queue.as_ref().and_then(|q| q.wait)
    }

    /// Joins the queue behind every caller already in it, after [`enter`](Self::enter) found
    /// every slot taken. `waker`: `None` for a sync caller.
    #[cold]
    pub(crate) fn join(&self, waker: Option<Waker>) -> Joined<'_> {
        let Some(q) = &self.queue else {
            return Joined::Full(self.limit);
        };
        let mut w = lock(&q.waiters);
        if w.waiting.is_empty() {
            // nobody ahead (and the bit clear): a slot freed since `enter` is this caller's
            if let Ok(slot) = self.enter() {
                return Joined::Entered(slot);
            }
        }
        if w.waiting.len() >= q.capacity {
            return Joined::Full(self.limit);
        }
        let id = w.next;
        w.next += 1;
        w.waiting.push_back(Waiter { id, waker });
        if w.waiting.len() == 1 {
            self.line.inflight.fetch_or(WAITING, Ordering::AcqRel);
        }
        // a slot given back before the bit was set came without it: hand it on now
        let woken = self.dispatch(&mut w);
        let joined = match w.granted.iter().position(|&g| g == id) {
            Some(i) => {
                w.granted.swap_remove(i);
                Joined::Entered(Slot { bulkhead: self })
            }
            None => Joined::Waiting(id),
        };
        drop(w);
        woken.wake(q);
        joined
    }

    /// Under the queue's lock: hands every free slot to the longest waiters, and clears the bit
    /// once nobody waits. Returns whom to wake, once the lock is released.
    fn dispatch(&self, w: &mut MutexGuard<'_, Waiters>) -> Woken {
        let mut woken = Woken::default();
        while !w.waiting.is_empty() {
            let mut n = self.line.inflight.load(Ordering::Relaxed);
            let took = loop {
                if n & !WAITING >= self.limit {
                    break false;
                }
                match self.line.inflight.compare_exchange_weak(
                    n,
                    n + 1,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => break true,
                    Err(actual) => n = actual,
                }
            };
            if !took {
                break;
            }
            let Some(head) = w.waiting.pop_front() else {
                unreachable!("the queue is not empty")
            };
            w.granted.push(head.id);
            woken.add(head.waker);
        }
        if w.waiting.is_empty() {
            self.line.inflight.fetch_and(!WAITING, Ordering::AcqRel);
        }
        woken
    }

    /// A slot was given back while someone waited: hand it on.
    #[cold]
    #[inline(never)]
    fn hand_on(&self) {
        if let Some(q) = &self.queue {
            let woken = self.dispatch(&mut lock(&q.waiters));
            woken.wake(q);
        }
    }

    /// Picks up the slot handed to ticket `id`, or (re)registers `waker` to be woken when one is.
    pub(crate) fn poll_ticket(&self, id: u64, waker: &Waker) -> Option<Slot<'_>> {
        let q = self.queue.as_ref()?;
        let mut w = lock(&q.waiters);
        if let Some(i) = w.granted.iter().position(|&g| g == id) {
            w.granted.swap_remove(i);
            return Some(Slot { bulkhead: self });
        }
        if let Some(me) = w.waiting.iter_mut().find(|me| me.id == id) {
            if !me.waker.as_ref().is_some_and(|old| old.will_wake(waker)) {
                me.waker = Some(waker.clone());
            }
        }
        None
    }

    /// Blocks the thread until ticket `id` is handed a slot, or `until` (on the sync clock; 0:
    /// no bound) passes, when it leaves the queue. Under a [`MockClock`](crate::MockClock), the
    /// bound is read on the mock clock, looked at every millisecond.
    pub(crate) fn wait_ticket(&self, id: u64, until: Nanos) -> Option<Slot<'_>> {
        let q = self.queue.as_ref()?;
        let mut w = lock(&q.waiters);
        loop {
            if let Some(i) = w.granted.iter().position(|&g| g == id) {
                w.granted.swap_remove(i);
                return Some(Slot { bulkhead: self });
            }
            if until == 0 {
                w = q
                    .ready
                    .wait(w)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                continue;
            }
            let now = clock::now_sync();
            if now >= until {
                drop(w);
                self.leave(id);
                return None;
            }
            let left = if clock::mocked() {
                Duration::from_millis(1)
            } else {
                Duration::from_nanos(until - now)
            };
            w = wait_timeout(&q.ready, w, left);
        }
    }

    /// Ticket `id` gives up (its future dropped, its wait over): it leaves the queue as if it
    /// had never joined, and a slot handed to it already goes to the next waiter.
    pub(crate) fn leave(&self, id: u64) {
        let Some(q) = &self.queue else { return };
        let mut w = lock(&q.waiters);
        if let Some(i) = w.granted.iter().position(|&g| g == id) {
            w.granted.swap_remove(i);
            drop(w);
            drop(Slot { bulkhead: self }); // handed on
            return;
        }
        if let Some(i) = w.waiting.iter().position(|me| me.id == id) {
            w.waiting.remove(i);
            if w.waiting.is_empty() {
                self.line.inflight.fetch_and(!WAITING, Ordering::AcqRel);
            }
        }
    }

    /// Calls holding a slot.
    pub(crate) fn inflight(&self) -> usize {
        self.line.inflight.load(Ordering::Acquire) & !WAITING
    }

    /// Callers waiting for a slot (not yet handed one).
    pub(crate) fn queued(&self) -> usize {
        self.queue
            .as_ref()
            .map_or(0, |q| lock(&q.waiters).waiting.len())
    }

    /// Counts a success whose slot was given back already.
    pub(crate) fn count_success(&self) {
        self.line.succeeded.fetch_add(1, Ordering::Relaxed);
    }

    /// Attempts that succeeded.
    pub(crate) fn succeeded(&self) -> u64 {
        self.line.succeeded.load(Ordering::Relaxed)
    }

    pub(crate) fn limit(&self) -> Option<usize> {
        (self.limit != usize::MAX).then_some(self.limit)
    }
}

/// The waiters a hand-off granted a slot, woken once the queue's lock is released (a waker
/// may run code of its own).
#[derive(Default)]
#[must_use]
struct Woken {
    /// The common case: one slot, one async waiter; no allocation.
    first: Option<Waker>,
    rest: Vec<Waker>,
    /// A sync waiter was granted: the condvar is notified.
    threads: bool,
}

impl Woken {
    fn add(&mut self, waker: Option<Waker>) {
        match (waker, &self.first) {
            (None, _) => self.threads = true,
            (Some(w), None) => self.first = Some(w),
            (Some(w), Some(_)) => self.rest.push(w),
        }
    }

    fn wake(self, q: &Queue) {
        if let Some(w) = self.first {
            w.wake();
        }
        for w in self.rest {
            w.wake();
        }
        if self.threads {
            q.ready.notify_all();
        }
    }
}

#[cfg(not(loom))]
fn wait_timeout<'a, T>(c: &Condvar, g: MutexGuard<'a, T>, d: Duration) -> MutexGuard<'a, T> {
    match c.wait_timeout(g, d) {
        Ok((g, _)) => g,
        Err(poisoned) => poisoned.into_inner().0,
    }
}

/// loom has no timed wait: a model's waiter wakes when notified (models use no bound).
#[cfg(loom)]
fn wait_timeout<'a, T>(c: &Condvar, g: MutexGuard<'a, T>, _: Duration) -> MutexGuard<'a, T> {
    c.wait(g).unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// An async caller after [`Bulkhead::enter`] found every slot taken: joins the queue at its
/// first poll, then waits (by awaiting) for a slot, in arrival order; `Err(limit)` at once if
/// the queue is full. Dropped while it waits, it leaves the queue as if it had never joined.
#[derive(Debug)]
pub(crate) struct Entering<'a> {
    bulkhead: &'a Bulkhead,
    /// `None` before it joins and once it has its slot.
    ticket: Option<u64>,
}

impl<'a> Entering<'a> {
    pub(crate) fn new(bulkhead: &'a Bulkhead) -> Self {
        Entering {
            bulkhead,
            ticket: None,
        }
    }
}

impl<'a> Future for Entering<'a> {
    type Output = Result<Slot<'a>, usize>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(id) = self.ticket else {
            return match self.bulkhead.join(Some(cx.waker().clone())) {
                Joined::Entered(slot) => Poll::Ready(Ok(slot)),
                Joined::Full(limit) => Poll::Ready(Err(limit)),
                Joined::Waiting(id) => {
                    self.ticket = Some(id);
                    Poll::Pending
                }
            };
        };
        match self.bulkhead.poll_ticket(id, cx.waker()) {
            Some(slot) => {
                self.ticket = None;
                Poll::Ready(Ok(slot))
            }
            None => Poll::Pending,
        }
    }
}

impl Drop for Entering<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.ticket {
            self.bulkhead.leave(id);
        }
    }
}

/// A slot in the bulkhead, given back when dropped: on success, error, panic, or when the future
/// holding it is dropped.
#[derive(Debug)]
pub(crate) struct Slot<'a> {
    bulkhead: &'a Bulkhead,
}

impl Slot<'_> {
    /// Gives the slot back after a success, counting it (on the line the slot is on).
    #[inline]
    pub(crate) fn succeeded(self) {
        self.bulkhead.line.succeeded.fetch_add(1, Ordering::Relaxed);
    }
}

impl Drop for Slot<'_> {
    #[inline]
    fn drop(&mut self) {
        let was = self.bulkhead.line.inflight.fetch_sub(1, Ordering::Release);
        // `was & WAITING != 0`, written as the sign of the word (a held slot counts at least
        // one, so `was` is never 0): the compiler then tests the flags of the subtraction
        // itself (`lock dec; js`) instead of fetching the old value (measured: 1 Ir a call
        // instead of 3)
        #[allow(clippy::cast_possible_wrap)]
        if (was as isize) < 1 {
            self.bulkhead.hand_on();
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests;
