//! Where the emulators' rate limiters read the time: the real clocks by default, or a
//! [`ManualClock`] a test moves by hand, so window rollovers, GCRA refills and
//! Retry-After values are checked exactly instead of by sleeping (and without depending on
//! how fast requests travel on a loaded machine).
//!
//! Both limiters take the time as an argument (`FixedWindow::hit`, `Gcra::rate_limit`), so
//! their own unit tests pass plain numbers; this module is what a running server reads.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use crate::util;

const SECOND_NS: i64 = 1_000_000_000;
/// Where a manual clock starts: arbitrary but not 0, like a monotonic clock's reading.
const MANUAL_START_NS: i64 = 1_000 * SECOND_NS;

/// A clock tests move by hand. Clones share the same time.
#[derive(Clone, Debug)]
pub struct ManualClock(Arc<Manual>);

#[derive(Debug)]
struct Manual {
    ns: AtomicI64,
    /// The wall clock when it was made: Rocket.Chat's limiter works in epoch ms (its
    /// `X-RateLimit-Reset` is a date), so manual time continues from a real date.
    wall_start_ms: i64,
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock::new()
    }
}

impl ManualClock {
    /// Stands still until [`ManualClock::advance`].
    pub fn new() -> Self {
        ManualClock(Arc::new(Manual {
            ns: AtomicI64::new(MANUAL_START_NS),
            wall_start_ms: util::now_ms(),
        }))
    }

    pub fn advance(&self, by: Duration) {
        let ns = i64::try_from(by.as_nanos()).unwrap_or(i64::MAX);
        self.0.ns.fetch_add(ns, Ordering::SeqCst);
    }

    /// Monotonic nanoseconds (Mattermost's limiter).
    pub fn now_ns(&self) -> i64 {
        self.0.ns.load(Ordering::SeqCst)
    }

    /// Epoch milliseconds (Rocket.Chat's limiter): the creation date plus the time advanced.
    pub fn now_ms(&self) -> i64 {
        self.0.wall_start_ms + (self.now_ns() - MANUAL_START_NS) / 1_000_000
    }
}

/// What a limiter reads.
#[derive(Debug)]
pub(crate) enum Clock {
    /// The real clocks; the instant the limiter was built, for nanoseconds.
    Real(Instant),
    Manual(ManualClock),
}

impl Clock {
    pub fn new(manual: Option<ManualClock>) -> Self {
        match manual {
            Some(m) => Clock::Manual(m),
            None => Clock::Real(Instant::now()),
        }
    }

    /// Monotonic nanoseconds.
    pub fn now_ns(&self) -> i64 {
        match self {
            // Offset by one second so no real instant is 0.
            Clock::Real(start) => {
                i64::try_from(start.elapsed().as_nanos()).unwrap_or(i64::MAX) + SECOND_NS
            }
            Clock::Manual(m) => m.now_ns(),
        }
    }

    /// Epoch milliseconds.
    pub fn now_ms(&self) -> i64 {
        match self {
            Clock::Real(_) => util::now_ms(),
            Clock::Manual(m) => m.now_ms(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_advanced_and_clones_share_it() {
        let m = ManualClock::new();
        let clock = Clock::new(Some(m.clone()));
        let (ns, ms) = (clock.now_ns(), clock.now_ms());
        assert!(ms > 1_600_000_000_000, "a real date: {ms}");
        m.advance(Duration::from_millis(1_500));
        assert_eq!(clock.now_ns() - ns, 1_500_000_000);
        assert_eq!(clock.now_ms() - ms, 1_500);
    }
}
