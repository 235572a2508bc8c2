//! An async attempt of a policy that keeps its state in Redis (feature `redis`): the shared
//! admission (one round trip), the wait for the reserved tokens, the rest of the attempt as
//! any other (hold-off, bulkhead, chaos, the body under its timeout, the outcome), then the
//! outcome told to the shared breaker. Redis down: the fail mode decides.

use std::future::Future;
use std::time::Duration;

use super::{Call, IsResult, Req, Step, LOCAL, SHARED};
use crate::events::{EventKind, Kinds, Part};
use crate::redis::{Fail, Gate, Remote, Verdict};
use crate::sync::Ordering;
use crate::Error;

impl<'p, R: IsResult> Call<'p, R> {
    /// The attempt, through the state in Redis.
    pub(super) async fn attempt_remote<F: Future<Output = R>>(
        &mut self,
        remote: &'p Remote,
        req: Req,
        f: F,
    ) -> Step<R> {
        let limit = self.limit::<false>();
        let gate = remote
            .admit(req.key, req.cost, limit, remote.bound(limit))
            .await;
        let (mut ticket, wait) = match gate {
            Gate::Admitted(ticket, wait) => (ticket, wait),
            Gate::Refused(refusal) => return self.rejected(refusal),
            Gate::Down(reason) => {
                return match remote.fail() {
                    Fail::Open => Self::attempt_async_each::<LOCAL, F>(self, req, f).await,
                    Fail::Closed => self.unavailable(reason),
                }
            }
        };
        if wait > 0 {
            // dropped while it waits, the ticket gives the tokens back
            ticket.reserve();
            tokio::time::sleep(Duration::from_nanos(wait)).await;
            ticket.ran();
        }
        // the in-memory parts must not count this attempt: its usage is reconciled here
        let usage = self.usage.take();
        let step = Self::attempt_async_each::<SHARED, F>(self, Req::new(), f).await;
        self.usage = usage;
        let (verdict, refund) = match &step {
            Step::Again => (Verdict::Failure, false),
            Step::Done(out) | Step::Fallback(out) => match out.as_err() {
                None => (Verdict::Success, false),
                // turned away after admission (hold-off, bulkhead): its tokens go back
                Some(_) if self.rejected.is_some() => (Verdict::Release, true),
                Some(e) if (self.classify)(e).counts => (Verdict::Failure, false),
                Some(_) => (Verdict::Release, false),
            },
        };
        let left = Duration::from_nanos(self.limit::<false>());
        if !ticket.finish(verdict, refund, left).await {
            remote.lost();
        }
        if let (Some(usage), Step::Done(out)) = (usage, &step) {
            if let Some(ok) = out.as_ok() {
                let used = i64::try_from(usage(ok)).unwrap_or(i64::MAX);
                let cost = i64::try_from(req.cost).unwrap_or(i64::MAX);
                remote.charge_tokens(used.saturating_sub(cost)).await;
            }
        }
        step
    }

    /// Redis could not answer and the policy fails closed: the call is rejected, worth its
    /// fallback.
    #[cold]
    #[inline(never)]
    fn unavailable(&mut self, reason: String) -> Step<R> {
        let shared = &*self.plan.shared;
        let part = if shared.config.breaker.is_some() {
            Part::Breaker
        } else {
            Part::Limiter
        };
        self.rejected = Some(part);
        shared.counts.rejected[part as usize].fetch_add(1, Ordering::Relaxed);
        shared.counts.fallbacks.fetch_add(1, Ordering::Relaxed);
        if self.watches(Kinds::REJECTED) {
            self.report(EventKind::Rejected {
                part,
                retry_in: Duration::ZERO,
            });
        }
        Step::Fallback(R::from_err((self.convert)(Error::BackendUnavailable {
            policy: shared.name.clone(),
            reason,
        })))
    }
}
