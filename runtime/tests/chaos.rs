//! Chaos: injected errors, latency and rejections, as a caller sees them. With the `chaos`
//! feature (the workspace's tests enable it), every fault at its rate; without it, nothing,
//! and a warning.

use staunch_runtime::{warnings, Chaos, Error, Policy};

#[cfg(not(feature = "chaos"))]
#[test]
fn without_the_feature_chaos_is_inert_and_reported_once() {
    const { assert!(!Chaos::ENABLED) };
    let p = Policy::builder("chaos-off")
        .chaos(Chaos::new().error(1.0).reject(0.0))
        .build()
        .unwrap();
    let _again = Policy::builder("chaos-off").build().unwrap();
    let mut ran = 0;
    for _ in 0..10 {
        assert_eq!(
            p.call(|| {
                ran += 1;
                Ok::<_, Error>(())
            }),
            Ok(())
        );
    }
    assert_eq!(ran, 10);
    assert_eq!(p.handle().signals().injected.total(), 0);
    let said: Vec<String> = warnings()
        .into_iter()
        .filter(|w| w.contains("`chaos-off`"))
        .collect();
    assert_eq!(
        said,
        ["policy `chaos-off` configures chaos, but staunch was built without its `chaos` feature: \
          nothing is injected (enable the `chaos` feature of `staunch`)"]
    );
    // a policy whose chaos injects nothing is not reported
    let _quiet = Policy::builder("chaos-off-quiet")
        .chaos(Chaos::new().error(0.0))
        .build()
        .unwrap();
    assert!(!warnings().iter().any(|w| w.contains("chaos-off-quiet")));
}

#[test]
fn bad_settings_are_refused_at_build() {
    let refused = |c: Chaos| {
        Policy::builder("chaos-bad")
            .chaos(c)
            .build()
            .unwrap_err()
            .to_string()
    };
    for (chaos, message) in [
        (
            Chaos::new().error(1.01),
            "`chaos(error)` must be a fraction between 0 and 1",
        ),
        (
            Chaos::new().error(f64::NAN),
            "`chaos(error)` must be a fraction between 0 and 1",
        ),
        (
            Chaos::new().reject(-0.5),
            "`chaos(reject)` must be a fraction between 0 and 1",
        ),
        (
            Chaos::new().latency_rate(2.0),
            "`chaos(latency_rate)` must be a fraction between 0 and 1",
        ),
        (
            Chaos::new().error(0.5).reject(0.6),
            "`chaos(error)` and `chaos(reject)` add up to more than 1",
        ),
    ] {
        assert_eq!(refused(chaos), format!("policy `chaos-bad`: {message}"));
    }
    // the bounds are inclusive
    for ok in [
        Chaos::new().error(1.0),
        Chaos::new().reject(1.0),
        Chaos::new().error(0.5).reject(0.5),
        Chaos::new().latency_rate(0.0),
    ] {
        Policy::unnamed("chaos-bounds").chaos(ok).build().unwrap();
    }
}

#[cfg(feature = "chaos")]
mod enabled {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use staunch_runtime::attempt::{Req, Step};
    use staunch_runtime::events::{self, EventKind, Filter, Kinds, Part, Reason, Verdict};
    use staunch_runtime::{Breaker, CircuitState, Class, MockClock, Retry};

    /// Runs `n` calls whose body always succeeds; the results, in order.
    fn run(p: &Policy, n: usize) -> Vec<Result<(), Error>> {
        (0..n).map(|_| p.call(|| Ok::<_, Error>(()))).collect()
    }

    fn injected(name: &str) -> Error {
        Error::Injected {
            policy: name.into(),
        }
    }

    #[test]
    fn a_rate_of_0_3_over_1000_calls_fails_an_exact_reproducible_count() {
        let chaos = Chaos::new().error(0.3).seed(42);
        let a = Policy::builder("chaos-count-a")
            .chaos(chaos)
            .build()
            .unwrap();
        let b = Policy::builder("chaos-count-b")
            .chaos(chaos)
            .build()
            .unwrap();
        let ran = AtomicUsize::new(0);
        let seen: Vec<Result<(), Error>> = (0..1000)
            .map(|_| {
                a.call(|| {
                    ran.fetch_add(1, Ordering::Relaxed);
                    Ok::<_, Error>(())
                })
            })
            .collect();
        let failed = seen.iter().filter(|r| r.is_err()).count();
        // seed 42 fails exactly this many of the first 1000 attempts: 300 give or take 1.3
        // standard deviations (14.5)
        assert_eq!(failed, 319);
        assert!(seen.iter().all(|r| r
            .as_ref()
            .map_or_else(|e| *e == injected("chaos-count-a"), |()| true)));
        // a failed attempt never ran the body
        assert_eq!(ran.load(Ordering::Relaxed), 1000 - failed);
        // the same seed, the same faults in the same order
        let again: Vec<bool> = run(&b, 1000).iter().map(Result::is_ok).collect();
        assert_eq!(again, seen.iter().map(Result::is_ok).collect::<Vec<_>>());
        let s = a.handle().signals();
        assert_eq!(s.injected.errors, 319);
        assert_eq!((s.failures, s.successes, s.calls()), (319, 681, 1000));
    }

    #[test]
    fn rates_of_0_and_1() {
        let none = Policy::builder("chaos-zero")
            .chaos(
                Chaos::new()
                    .error(0.0)
                    .reject(0.0)
                    .latency_rate(0.0)
                    .latency(Duration::from_secs(9)),
            )
            .build()
            .unwrap();
        assert!(run(&none, 500).iter().all(Result::is_ok));
        assert_eq!(none.handle().signals().injected.total(), 0);

        let all = Policy::builder("chaos-one")
            .chaos(Chaos::new().error(1.0))
            .build()
            .unwrap();
        let mut ran = 0;
        for _ in 0..500 {
            let r = all.call(|| {
                ran += 1;
                Ok::<_, Error>(())
            });
            assert_eq!(r, Err(injected("chaos-one")));
        }
        assert_eq!(ran, 0);
        assert_eq!(all.handle().signals().injected.errors, 500);

        let turned = Policy::builder("chaos-reject-one")
            .chaos(Chaos::new().reject(1.0))
            .build()
            .unwrap();
        for r in run(&turned, 500) {
            assert_eq!(
                r,
                Err(Error::InjectedRejection {
                    policy: "chaos-reject-one".into()
                })
            );
        }
        let s = turned.handle().signals();
        assert_eq!((s.rejections.chaos, s.injected.rejections), (500, 500));
        assert_eq!((s.rejections.total(), s.calls(), s.failures), (500, 500, 0));
    }

    #[test]
    fn errors_and_rejections_split_the_attempts_at_their_rates() {
        let p = Policy::builder("chaos-split")
            .chaos(Chaos::new().error(0.2).reject(0.1).seed(7))
            .build()
            .unwrap();
        let seen = run(&p, 10_000);
        let rejected = seen
            .iter()
            .filter(|r| matches!(r, Err(Error::InjectedRejection { .. })))
            .count();
        let failed = seen
            .iter()
            .filter(|r| matches!(r, Err(Error::Injected { .. })))
            .count();
        // seed 7, exactly: 1000 and 2000 give or take 1.4 and 0.5 standard deviations (30, 40)
        assert_eq!((rejected, failed), (958, 2020));
        let s = p.handle().signals();
        assert_eq!(
            (s.injected.rejections, s.injected.errors, s.successes),
            (
                rejected as u64,
                failed as u64,
                (10_000 - rejected - failed) as u64
            )
        );
    }

    #[test]
    fn an_injected_error_is_retried_opens_the_breaker_and_goes_to_the_fallback() {
        let clock = MockClock::new();
        let _g = clock.install();
        let p = Policy::builder("chaos-failure")
            .retry(Retry::new().max(2).jitter(0.0))
            .breaker(Breaker::new().threshold(3))
            .chaos(Chaos::new().error(1.0))
            .build()
            .unwrap();
        let mut call = p.begin::<Result<(), Error>>(|_| Class::DEFAULT);
        let mut steps = Vec::new();
        loop {
            match call.attempt_sync(Req::new(), || Ok(())) {
                Step::Again => steps.push("again"),
                Step::Fallback(r) => {
                    assert_eq!(r, Err(injected("chaos-failure")));
                    assert!(!call.was_rejected(), "a failure, not a rejection");
                    steps.push("fallback");
                    break;
                }
                Step::Done(r) => panic!("done: {r:?}"),
            }
        }
        assert_eq!(steps, ["again", "again", "fallback"]);
        let s = p.handle().signals();
        assert_eq!((s.failures, s.retries, s.fallbacks), (3, 2, 1));
        assert_eq!(s.circuit, CircuitState::Open);
        // the breaker now turns calls away before chaos draws
        assert!(matches!(
            p.call(|| Ok::<_, Error>(())),
            Err(Error::CircuitOpen { .. })
        ));
        assert_eq!(p.handle().signals().injected.errors, 3);
    }

    #[test]
    fn an_injected_rejection_is_not_retried_and_gives_back_what_it_held() {
        let p = Policy::builder("chaos-rejection")
            .retry(Retry::new().max(3))
            .rps(1.0)
            .wait(Duration::ZERO)
            .max_inflight(1)
            .chaos(Chaos::new().reject(1.0))
            .build()
            .unwrap();
        let mut call = p.begin::<Result<(), Error>>(|_| Class::DEFAULT);
        let step = call.attempt_sync(Req::new(), || Ok(()));
        assert_eq!(
            step,
            Step::Fallback(Err(Error::InjectedRejection {
                policy: "chaos-rejection".into()
            }))
        );
        assert!(call.was_rejected());
        assert_eq!(call.retries(), 0);
        let s = p.handle().signals();
        // the slot and the token are back
        assert_eq!((s.inflight, s.rate_remaining), (0, Some(1.0)));
        assert_eq!((s.rejections.chaos, s.retries, s.fallbacks), (1, 0, 1));
    }

    #[test]
    fn sync_latency_moves_the_mock_clock_at_its_rate() {
        let clock = MockClock::new();
        let _g = clock.install();
        let start = clock.elapsed();
        let every = Policy::builder("chaos-latency-sync")
            .chaos(Chaos::new().latency(Duration::from_millis(200)))
            .build()
            .unwrap();
        assert!(run(&every, 5).iter().all(Result::is_ok));
        assert_eq!(clock.elapsed() - start, Duration::from_secs(1));
        assert_eq!(every.handle().signals().injected.delays, 5);

        let some = Policy::builder("chaos-latency-rate")
            .chaos(
                Chaos::new()
                    .latency(Duration::from_millis(200))
                    .latency_rate(0.2)
                    .seed(3),
            )
            .build()
            .unwrap();
        let before = clock.elapsed();
        assert!(run(&some, 1000).iter().all(Result::is_ok));
        let delays = some.handle().signals().injected.delays;
        assert_eq!(delays, 197); // seed 3: 200 give or take 0.3 standard deviations (12.6)
        assert_eq!(
            clock.elapsed() - before,
            Duration::from_millis(200) * u32::try_from(delays).unwrap()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn async_latency_follows_the_paused_clock() {
        let p = Policy::builder("chaos-latency-async")
            .chaos(Chaos::new().latency(Duration::from_millis(200)))
            .build()
            .unwrap();
        let start = tokio::time::Instant::now();
        let r: Result<u8, Error> = p.call_async(|| async { Ok(1) }).await;
        assert_eq!(r, Ok(1));
        assert_eq!(start.elapsed(), Duration::from_millis(200));
        // a slow failure: the wait, then the error
        let slow = Policy::builder("chaos-slow-failure")
            .chaos(Chaos::new().latency(Duration::from_secs(2)).error(1.0))
            .build()
            .unwrap();
        let start = tokio::time::Instant::now();
        let r: Result<u8, Error> = slow.call_async(|| async { Ok(1) }).await;
        assert_eq!(r, Err(injected("chaos-slow-failure")));
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn the_timeout_and_the_deadline_cut_the_injected_latency() {
        let p = Policy::builder("chaos-timeout")
            .timeout(Duration::from_millis(50))
            .chaos(Chaos::new().latency(Duration::from_secs(1)).error(1.0))
            .build()
            .unwrap();
        let start = tokio::time::Instant::now();
        let r: Result<(), Error> = p.call_async(|| async { Ok(()) }).await;
        assert_eq!(
            r,
            Err(Error::Timeout {
                policy: "chaos-timeout".into(),
                after: Duration::from_millis(50)
            })
        );
        assert_eq!(start.elapsed(), Duration::from_millis(50));
        // the error was never returned: not counted as injected
        let s = p.handle().signals();
        assert_eq!(
            (s.injected.delays, s.injected.errors, s.failures),
            (1, 0, 1)
        );

        let d = Policy::builder("chaos-deadline")
            .deadline(Duration::from_millis(300))
            .chaos(Chaos::new().latency(Duration::from_secs(1)))
            .build()
            .unwrap();
        let start = tokio::time::Instant::now();
        let r: Result<(), Error> = d.call_async(|| async { Ok(()) }).await;
        assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");
        assert_eq!(start.elapsed(), Duration::from_millis(300));
    }

    #[tokio::test(start_paused = true)]
    async fn a_future_dropped_during_the_injected_latency_gives_its_slot_back() {
        let p = Policy::builder("chaos-dropped")
            .max_inflight(1)
            .chaos(Chaos::new().latency(Duration::from_secs(10)))
            .build()
            .unwrap();
        let ran = Arc::new(AtomicUsize::new(0));
        let body = ran.clone();
        let call = p.call_async(move || {
            let body = body.clone();
            async move {
                body.fetch_add(1, Ordering::Relaxed);
                Ok::<_, Error>(())
            }
        });
        let cut = tokio::time::timeout(Duration::from_secs(1), call).await;
        assert!(cut.is_err(), "still waiting");
        assert_eq!(ran.load(Ordering::Relaxed), 0);
        assert_eq!(p.handle().signals().inflight, 0);
    }

    #[test]
    fn rejections_and_injected_failures_are_reported_as_events() {
        let (_s, mut rx) = events::channel(
            Filter::policy("chaos-events")
                .kinds(Kinds::REJECTED | Kinds::ATTEMPT | Kinds::FALLBACK),
            16,
        );
        let p = Policy::builder("chaos-events")
            .chaos(Chaos::new().error(0.5).reject(0.5).seed(1))
            .build()
            .unwrap();
        let mut call = p
            .begin::<Result<(), Error>>(|_| Class::DEFAULT)
            .describe(|e| e.to_string());
        let mut results = Vec::new();
        for _ in 0..4 {
            if let Step::Fallback(r) = call.attempt_sync(Req::new(), || Ok(())) {
                call.fell_back(&r);
                results.push(r.unwrap_err());
            }
        }
        events::flush();
        let mut expected = Vec::new();
        for e in &results {
            match e {
                Error::Injected { .. } => {
                    expected.push(EventKind::Attempt {
                        attempt: 1,
                        verdict: Verdict::Failure,
                        error: Some("policy `chaos-events`: injected failure (chaos)".into()),
                        elapsed: Duration::ZERO,
                    });
                    expected.push(EventKind::Fallback {
                        reason: Reason::Failed,
                        error: "policy `chaos-events`: injected failure (chaos)".into(),
                    });
                }
                Error::InjectedRejection { .. } => {
                    expected.push(EventKind::Rejected {
                        part: Part::Chaos,
                        retry_in: Duration::ZERO,
                    });
                    expected.push(EventKind::Fallback {
                        reason: Reason::Rejected(Part::Chaos),
                        error: "policy `chaos-events`: injected rejection (chaos)".into(),
                    });
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(results.len(), 4, "every attempt met a fault");
        let mut seen = Vec::new();
        while let Ok(e) = rx.try_recv() {
            let mut kind = e.kind;
            if let EventKind::Attempt { elapsed, .. } = &mut kind {
                *elapsed = Duration::ZERO; // the real clock's
            }
            seen.push(kind);
        }
        assert_eq!(seen, expected);
    }

    #[test]
    fn the_environment_turns_chaos_on_without_a_rebuild() {
        std::env::set_var("STAUNCH_CHAOS_ENV_ON_CHAOS_ERROR", "1");
        std::env::set_var("STAUNCH_CHAOS_ENV_ON_CHAOS_LATENCY", "250ms");
        std::env::set_var("STAUNCH_CHAOS_ENV_ON_CHAOS_LATENCY_RATE", "0.5");
        std::env::set_var("STAUNCH_CHAOS_ENV_ON_CHAOS_REJECT", "0");
        let p = Policy::builder("chaos-env-on").build().unwrap();
        assert_eq!(
            p.config().chaos,
            Some(
                Chaos::new()
                    .error(1.0)
                    .latency(Duration::from_millis(250))
                    .latency_rate(0.5)
                    .reject(0.0)
            )
        );
        assert_eq!(p.call(|| Ok::<_, Error>(())), Err(injected("chaos-env-on")));
        // and off, overriding the code's
        std::env::set_var("STAUNCH_CHAOS_ENV_OFF_CHAOS_REJECT", "0");
        let off = Policy::builder("chaos-env-off")
            .chaos(Chaos::new().reject(1.0))
            .build()
            .unwrap();
        assert!(run(&off, 100).iter().all(Result::is_ok));
    }

    #[test]
    fn a_bad_chaos_variable_is_reported_once_and_the_configured_value_kept() {
        std::env::set_var("STAUNCH_CHAOS_ENV_BAD_CHAOS_ERROR", "10%");
        std::env::set_var("STAUNCH_CHAOS_ENV_BAD_CHAOS_LATENCY", "soon");
        // valid alone, but with the configured `error` more than every attempt
        std::env::set_var("STAUNCH_CHAOS_ENV_BAD_CHAOS_REJECT", "0.9");
        let configured = Chaos::new().error(0.2).seed(1);
        let p = Policy::builder("chaos-env-bad")
            .chaos(configured)
            .build()
            .unwrap();
        let _again = Policy::builder("chaos-env-bad").build().unwrap();
        assert_eq!(p.config().chaos, Some(configured));
        let said: Vec<String> = warnings()
            .into_iter()
            .filter(|w| w.contains("STAUNCH_CHAOS_ENV_BAD_"))
            .collect();
        assert_eq!(
            said,
            [
                "ignoring STAUNCH_CHAOS_ENV_BAD_CHAOS_ERROR=\"10%\": expected a fraction between 0 and 1; keeping the configured value",
                "ignoring STAUNCH_CHAOS_ENV_BAD_CHAOS_LATENCY=\"soon\": expected a duration such as `30`, `0.5`, `250ms`, `2s`, `1m` or `1h`; keeping the configured value",
                "ignoring STAUNCH_CHAOS_ENV_BAD_CHAOS_REJECT=\"0.9\": `chaos(error)` and `chaos(reject)` add up to more than 1; keeping the configured value",
            ]
        );
    }

    /// Regression: chaos was drawn only for plain attempts; a hedged call (`call_hedged`, the
    /// attribute's `hedge`) ran its copies untouched.
    mod hedged {
        use super::*;
        use staunch_runtime::Hedge;

        fn hedged(name: &str, chaos: Chaos) -> Policy {
            Policy::builder(name)
                .hedge(Hedge::new().after(Duration::from_millis(100)))
                .chaos(chaos)
                .build()
                .unwrap()
        }

        #[tokio::test(start_paused = true)]
        async fn an_injected_error_replaces_every_copys_body() {
            let p = hedged("chaos-hedged-error", Chaos::new().error(1.0));
            let ran = AtomicUsize::new(0);
            let r = p
                .call_hedged(|| async {
                    ran.fetch_add(1, Ordering::Relaxed);
                    Ok::<_, Error>(())
                })
                .await;
            assert_eq!(r, Err(injected("chaos-hedged-error")));
            assert_eq!(ran.load(Ordering::Relaxed), 0);
            let s = p.handle().signals();
            assert_eq!((s.injected.errors, s.failures), (1, 1));
        }

        #[tokio::test(start_paused = true)]
        async fn an_injected_rejection_turns_the_call_away_and_gives_back_its_slot() {
            let p = Policy::builder("chaos-hedged-reject")
                .hedge(Hedge::new().after(Duration::from_millis(100)))
                .max_inflight(1)
                .chaos(Chaos::new().reject(1.0))
                .build()
                .unwrap();
            let ran = AtomicUsize::new(0);
            for _ in 0..3 {
                let r = p
                    .call_hedged(|| async {
                        ran.fetch_add(1, Ordering::Relaxed);
                        Ok::<_, Error>(())
                    })
                    .await;
                assert_eq!(
                    r,
                    Err(Error::InjectedRejection {
                        policy: "chaos-hedged-reject".into()
                    })
                );
            }
            assert_eq!(ran.load(Ordering::Relaxed), 0);
            let s = p.handle().signals();
            assert_eq!((s.injected.rejections, s.inflight), (3, 0));
        }

        #[tokio::test(start_paused = true)]
        async fn injected_latency_delays_each_copy_and_the_hedge_still_fires() {
            // every copy waits 1 s before its body (10 ms): the first ends at 1.01 s, the hedge
            // (started at 0.1 s) at 1.11 s, so the first wins and the hedge is cancelled
            let p = hedged(
                "chaos-hedged-latency",
                Chaos::new().latency(Duration::from_secs(1)),
            );
            let began = tokio::time::Instant::now();
            let copies = AtomicUsize::new(0);
            let r = p
                .call_hedged(|| async {
                    let n = copies.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    Ok::<_, Error>(n)
                })
                .await;
            assert_eq!(r, Ok(0));
            assert_eq!(began.elapsed(), Duration::from_millis(1010));
            let s = p.handle().signals();
            assert_eq!((s.hedges, s.injected.delays), (1, 2));
        }

        #[tokio::test(start_paused = true)]
        async fn injected_latency_past_the_timeout_times_the_copy_out() {
            let p = Policy::builder("chaos-hedged-cut")
                .hedge(Hedge::new().after(Duration::from_secs(5)))
                .timeout(Duration::from_millis(300))
                .chaos(Chaos::new().latency(Duration::from_secs(1)))
                .build()
                .unwrap();
            let began = tokio::time::Instant::now();
            let r = p.call_hedged(|| async { Ok::<_, Error>(()) }).await;
            assert_eq!(
                r,
                Err(Error::Timeout {
                    policy: "chaos-hedged-cut".into(),
                    after: Duration::from_millis(300)
                })
            );
            assert_eq!(began.elapsed(), Duration::from_millis(300));
        }
    }
}
