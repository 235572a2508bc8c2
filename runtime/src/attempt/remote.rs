//! An async attempt of a policy that keeps its state in Redis (feature `redis`): the shared
//! admission (one round trip), the wait for the reserved tokens, the rest of the attempt as
//! any other (hold-off, bulkhead, chaos, the body under its timeout, the outcome), then the
//! attempt settled in Redis (one round trip), then the backoff before a retry. Redis down: the
//! fail mode decides.

use std::future::Future;
use std::time::Duration;

use super::{Call, IsResult, Req, Step, LOCAL};
use crate::events::Part;
use crate::redis::{Fail, Gate, Remote, Verdict};
use crate::shared::Refusal;
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
            // the round trip took some of the time left: a wait now past the deadline is
            // refused, as the admission would have refused it (the ticket gives the tokens back)
            if wait > self.limit::<false>() {
                drop(ticket.finish(Verdict::Release, true, 0));
                return self.rejected(Refusal::Limited(wait));
            }
            // dropped while it waits, the ticket gives the tokens back
            tokio::time::sleep(Duration::from_nanos(wait)).await;
        }
        ticket.ran();
        // the in-memory parts must not count this attempt: its usage is reconciled here
        let usage = self.usage.take();
        let mut backoff = Duration::ZERO;
        let step = Self::attempt_shared(self, req, f, &mut backoff).await;
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
        // tokens used beyond the estimate (fewer: given back)
        let extra = match (usage, &step) {
            (Some(usage), Step::Done(out)) => out.as_ok().map_or(0, |ok| {
                let used = i64::try_from(usage(ok)).unwrap_or(i64::MAX);
                used.saturating_sub(i64::try_from(req.cost).unwrap_or(i64::MAX))
            }),
            _ => 0,
        };
        // the fleet sees the verdict before this caller goes on (within its deadline; a
        // caller that stops waiting, or is dropped, leaves the round trip to its task)
        if let Some(settling) = ticket.finish(verdict, refund, extra) {
            let left = Duration::from_nanos(self.limit::<false>());
            if let Ok(Ok(false)) = tokio::time::timeout(left, settling).await {
                remote.lost();
            }
        }
        if !backoff.is_zero() {
            tokio::time::sleep(backoff).await;
        }
        step
    }

    /// Redis could not answer and the policy fails closed: the call is rejected, worth its
    /// fallback.
    #[cold]
    #[inline(never)]
    fn unavailable(&mut self, reason: String) -> Step<R> {
        let part = if self.plan.shared.config.breaker.is_some() {
            Part::Breaker
        } else {
            Part::Limiter
        };
        let e = Error::BackendUnavailable {
            policy: self.plan.shared.name.clone(),
            reason,
        };
        self.refused(part, Duration::ZERO, e)
    }
}
