//! How many requests a run keeps in flight: adaptive (AIMD) under a ceiling, or fixed.
//!
//! Every request holds a [`Slot`] while it is on the wire. Adaptive, the limit starts at
//! [`START`] and is judged once per round (as many finished requests as the limit):
//! - a round with a 5xx, a timeout or a dropped connection: the limit is cut to
//!   [`DECREASE`] of itself (the server is overloaded, retries make it worse);
//! - two rounds in a row whose latency climbed past [`TOLERANCE`] × the best seen: cut too (requests
//!   queue at the server: more of them only adds latency). Latency is compared per route
//!   (`users.create`, `GET /users/{id}`): a create that hashes a password is slower than
//!   a lookup without any congestion, so each route's round mean is set against its own
//!   best;
//! - otherwise, if the limit was reached during the round (there was work waiting), the
//!   limit grows: doubling until the first cut (slow start), then by a quarter.
//!
//! 429s change nothing: under a rate limiter the pacer sets the pace, not concurrency.
//! The time a request waits for the pacer is not latency either: only the request's
//! round trip is measured.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The adaptive limit's first value.
pub const START: usize = 4;
/// A round's mean latency above this many times the best round's is congestion.
pub const TOLERANCE: f64 = 2.0;
/// The share of the limit kept after congestion or a server error.
pub const DECREASE: f64 = 0.75;
/// After slow start, a round that went well adds ⌈limit ÷ this⌉.
pub const INCREASE_DIVISOR: usize = 4;

/// How a request ended, as far as the server's load goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// An answer (2xx-4xx except 429): its round trip counts.
    Answered,
    /// 5xx, timeout, dropped connection.
    Overloaded,
    /// 429, or not sent: says nothing about concurrency.
    Neutral,
}

#[derive(Debug)]
struct State {
    limit: usize,
    in_flight: usize,
    slow_start: bool,
    /// Bumped at every change of the limit: a round counts only requests sent under the
    /// limit it judges.
    epoch: u64,
    /// Congested rounds in a row.
    slow_rounds: u32,
    /// Per route, the lowest mean latency of a round so far.
    best: HashMap<String, Duration>,
    round: Round,
}

#[derive(Debug, Default)]
struct Round {
    finished: usize,
    /// Per route: total latency and answers.
    answered: HashMap<String, (Duration, u32)>,
    errors: usize,
    /// The limit was reached during the round: there was more work than slots.
    saturated: bool,
}

/// The run's concurrency gate, shared by every request.
#[derive(Debug)]
pub struct Concurrency {
    ceiling: usize,
    adaptive: bool,
    state: Mutex<State>,
    freed: Condvar,
    /// The limit, for the progress line (read without the lock).
    shown: AtomicUsize,
}

impl Concurrency {
    /// `ceiling`: the most requests ever in flight (`--workers`); `adaptive`: find the
    /// limit under it (the default), or keep it at the ceiling (`--fixed-workers`).
    pub fn new(ceiling: usize, adaptive: bool) -> Concurrency {
        let ceiling = ceiling.max(1);
        let limit = if adaptive {
            START.min(ceiling)
        } else {
            ceiling
        };
        Concurrency {
            ceiling,
            adaptive,
            state: Mutex::new(State {
                limit,
                in_flight: 0,
                slow_start: true,
                epoch: 0,
                slow_rounds: 0,
                best: HashMap::new(),
                round: Round::default(),
            }),
            freed: Condvar::new(),
            shown: AtomicUsize::new(limit),
        }
    }

    /// Requests allowed in flight now.
    pub fn limit(&self) -> usize {
        self.shown.load(Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for a free slot for a request of `route`; `None` when Ctrl-C came meanwhile.
    pub fn acquire<'a>(&'a self, route: &'a str) -> Option<Slot<'a>> {
        let mut st = self.lock();
        while st.in_flight >= st.limit {
            st.round.saturated = true;
            if crate::interrupt::requested() {
                return None;
            }
            // Timed: Ctrl-C is noticed without a notification.
            st = match self.freed.wait_timeout(st, Duration::from_millis(100)) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
        st.in_flight += 1;
        let loaded = st.in_flight >= st.limit;
        if loaded {
            st.round.saturated = true;
        }
        Some(Slot {
            gate: self,
            route,
            epoch: st.epoch,
            loaded,
            started: Instant::now(),
            signal: Signal::Neutral,
        })
    }

    fn release(&self, slot: &Slot<'_>) {
        let mut st = self.lock();
        st.in_flight = st.in_flight.saturating_sub(1);
        if self.adaptive && slot.epoch == st.epoch {
            let r = &mut st.round;
            match slot.signal {
                // Latency says something about the limit only when the limit was reached
                // (the first requests after a change go out with fewer in flight).
                Signal::Answered if !slot.loaded => {}
                Signal::Answered => {
                    r.finished += 1;
                    let took = slot.started.elapsed();
                    match r.answered.get_mut(slot.route) {
                        Some((total, n)) => {
                            *total += took;
                            *n += 1;
                        }
                        None => {
                            r.answered.insert(slot.route.to_string(), (took, 1));
                        }
                    }
                }
                Signal::Overloaded => {
                    r.finished += 1;
                    r.errors += 1;
                }
                Signal::Neutral => {}
            }
            // An error cuts at once (once per round: the requests sent under the old
            // limit no longer count); otherwise the round ends after `limit` answers.
            if st.round.errors > 0 || st.round.finished >= st.limit {
                self.judge(&mut st);
            }
        }
        drop(st);
        // Every waiter: a grown limit may admit more than one.
        self.freed.notify_all();
    }

    /// The end of a round: the limit moves.
    fn judge(&self, st: &mut State) {
        let round = std::mem::take(&mut st.round);
        // The round's latency over the best, per route, weighted by answers.
        let (mut ratio, mut weight) = (0.0, 0u32);
        for (route, (total, n)) in round.answered {
            let mean = total / n;
            match st.best.get_mut(&route) {
                Some(best) => {
                    ratio += mean.as_secs_f64() / best.as_secs_f64().max(1e-6) * f64::from(n);
                    weight += n;
                    // At 1 or 2 in flight roster's own load is not what the latency
                    // measures: the round is the new baseline, so a lasting shift of the
                    // server's or the network's latency cannot hold the limit down for good.
                    *best = if st.limit <= 2 {
                        mean
                    } else {
                        (*best).min(mean)
                    };
                }
                None => {
                    st.best.insert(route, mean);
                }
            }
        }
        let congested = weight > 0 && ratio / f64::from(weight) > TOLERANCE;
        // One slow round may be the client's own machine being busy: two in a row are the
        // server's queue.
        st.slow_rounds = if congested { st.slow_rounds + 1 } else { 0 };
        let before = st.limit;
        if round.errors > 0 || st.slow_rounds >= 2 {
            st.slow_start = false;
            st.slow_rounds = 0;
            st.limit = ((st.limit as f64 * DECREASE) as usize).max(1);
        } else if round.saturated && (!congested || st.limit <= 2) {
            // At 1 or 2 in flight roster's own load cannot be what slows the server:
            // probe upwards, so a latency shift never starves the run.
            st.limit = if st.slow_start {
                st.limit * 2
            } else {
                // A quarter more: a short run reaches the ceiling in a few rounds.
                st.limit + st.limit.div_ceil(INCREASE_DIVISOR)
            }
            .min(self.ceiling);
        }
        if st.limit != before {
            st.epoch += 1;
        }
        self.shown.store(st.limit, Ordering::Relaxed);
    }
}

/// A request's place in flight; its round trip is measured from [`Slot::start`].
pub struct Slot<'a> {
    gate: &'a Concurrency,
    route: &'a str,
    epoch: u64,
    /// Sent with the limit reached.
    loaded: bool,
    started: Instant,
    signal: Signal,
}

impl Slot<'_> {
    /// The request goes out now (after the pacer's wait, which is not latency).
    pub fn start(&mut self) {
        self.started = Instant::now();
    }

    /// How the request ended; said before the slot is dropped.
    pub fn ended(&mut self, signal: Signal) {
        self.signal = signal;
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.gate.release(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `n` rounds of a server that answers in `latency(in_flight)`, or errs.
    fn drive(c: &Concurrency, rounds: usize, answer: impl Fn(usize) -> (Duration, Signal)) {
        for _ in 0..rounds {
            let limit = c.limit();
            let mut slots: Vec<Slot> = (0..limit).map(|_| c.acquire("b").expect("slot")).collect();
            let (took, signal) = answer(limit);
            for s in &mut slots {
                s.started = Instant::now() - took;
                s.loaded = true;
                s.ended(signal);
            }
            drop(slots);
        }
    }

    #[test]
    fn grows_to_the_ceiling_while_latency_stays_flat() {
        let c = Concurrency::new(32, true);
        assert_eq!(c.limit(), START);
        drive(&c, 3, |_| (Duration::from_millis(10), Signal::Answered));
        assert_eq!(c.limit(), 32, "slow start doubles: 4, 8, 16, 32");
        drive(&c, 5, |_| (Duration::from_millis(10), Signal::Answered));
        assert_eq!(c.limit(), 32, "never past the ceiling");
    }

    #[test]
    fn backs_off_on_server_errors_and_rising_latency_but_not_on_429() {
        let c = Concurrency::new(32, true);
        drive(&c, 3, |_| (Duration::from_millis(10), Signal::Answered));
        drive(&c, 1, |_| (Duration::from_millis(10), Signal::Overloaded));
        assert_eq!(c.limit(), 24);
        drive(&c, 1, |_| (Duration::from_millis(40), Signal::Answered));
        assert_eq!(c.limit(), 24, "one slow round may be noise");
        drive(&c, 1, |_| (Duration::from_millis(40), Signal::Answered));
        assert_eq!(c.limit(), 18, "two are congestion");
        drive(&c, 1, |_| (Duration::from_millis(10), Signal::Answered));
        assert_eq!(c.limit(), 23, "after a cut it grows by a quarter");
        // 429s: rounds of them move nothing.
        for _ in 0..100 {
            let mut s = c.acquire("b").expect("slot");
            s.ended(Signal::Neutral);
        }
        assert_eq!(c.limit(), 23);
    }

    #[test]
    fn settles_near_a_servers_capacity() {
        // Up to 10 at once at 10 ms; beyond, latency grows in proportion: the limit swings
        // between 1.5 and 2.5 times the capacity, where throughput is the capacity's.
        let c = Concurrency::new(64, true);
        drive(&c, 60, |n| {
            (
                Duration::from_millis(10 * n.max(10) as u64 / 10),
                Signal::Answered,
            )
        });
        let l = c.limit();
        assert!((15..=25).contains(&l), "limit {l}");
    }

    #[test]
    fn fixed_stays_at_the_ceiling() {
        let c = Concurrency::new(8, false);
        assert_eq!(c.limit(), 8);
        drive(&c, 3, |_| (Duration::from_millis(10), Signal::Overloaded));
        assert_eq!(c.limit(), 8);
    }

    /// The server's latency doubles and a half for good (another tenant's load, a slower
    /// network path) but does not depend on roster's concurrency at all: the limit should
    /// not collapse. `best` is never refreshed, so every round is "congested": the limit
    /// is cut every two rounds down to 1, and never grows again (growth needs a round that
    /// is not congested).
    #[test]
    fn a_lasting_latency_shift_does_not_starve_the_run() {
        let c = Concurrency::new(32, true);
        drive(&c, 3, |_| (Duration::from_millis(10), Signal::Answered));
        assert_eq!(c.limit(), 32);
        drive(&c, 60, |_| (Duration::from_millis(25), Signal::Answered));
        assert!(
            c.limit() >= 8,
            "limit {} after a lasting 2.5x latency shift",
            c.limit()
        );
    }
}
