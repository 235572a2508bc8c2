//! A subscriber that never returns slows no call: the events it holds up fill the queue, the
//! newest are dropped and counted, and every call is answered. (A test binary of its own: the
//! stuck subscriber holds up every subscriber of the process while it is stuck.)

use std::sync::mpsc;
use std::sync::Mutex;

use staunch_runtime::events::{self, Filter, Kinds};
use staunch_runtime::{Error, Policy};

#[test]
fn a_stuck_subscriber_never_holds_up_a_call() {
    let (release, stuck) = mpsc::channel::<()>();
    let stuck = Mutex::new(stuck);
    let _s = events::subscribe(
        Filter::policy("ev-stuck").kinds(Kinds::ATTEMPT),
        move |_| {
            // stuck until the test lets it go
            let _ = stuck.lock().unwrap().recv();
        },
    );
    let p = Policy::builder("ev-stuck").max_inflight(4).build().unwrap();
    let calls = 50_000;
    for i in 0..calls {
        assert_eq!(p.call(|| Ok::<_, Error>(i)), Ok(i));
    }
    // every call was answered, and the queue (16,384 events) overflowed
    assert!(events::dropped() > 0);
    assert_eq!(p.handle().signals().successes, calls);
    assert_eq!(p.handle().signals().inflight, 0);
    drop(release);
    events::flush();
}
