//! The retry budget's floor: a quiet client retries once a second over the ten-second window,
//! whatever its first attempts.

use std::time::Duration;

use staunch_runtime::{Error, MockClock, Policy, Retry};

#[test]
fn a_quiet_client_gets_ten_retries_over_the_window_from_the_floor() {
    let clock = MockClock::new();
    let _g = clock.install(); // the backoff waits (1 ms each) move the mock clock
    let p = Policy::builder("budget-floor")
        .retry(
            Retry::new()
                .max(50)
                .delay(Duration::from_millis(1))
                .backoff(1.0)
                .jitter(0.0)
                // one first attempt pays for a ten-thousandth of a retry: the floor is all
                .budget(0.0001),
        )
        .build()
        .unwrap();
    let down = Error::Timeout {
        policy: "upstream".into(),
        after: Duration::ZERO,
    };
    let mut attempts = 0;
    let r: Result<(), Error> = p.call(|| {
        attempts += 1;
        Err(down.clone())
    });
    assert_eq!(r, Err(down.clone()));
    assert_eq!(attempts, 11, "the first attempt and ten retries");
    assert_eq!(p.handle().signals().retries, 10);

    // the window is spent: the next call gets no retry at all
    let mut attempts = 0;
    let _ = p.call(|| {
        attempts += 1;
        Err::<(), _>(down.clone())
    });
    assert_eq!(attempts, 1);
}
