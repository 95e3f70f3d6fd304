//! The pacer: one bucket per server rate-limit bucket (each route on Rocket.Chat, the
//! whole API on Mattermost), shared by every worker.
//!
//! It caps the client at `--rate` (governor) and obeys the server. What "obey" means
//! depends on the server's algorithm, so each bucket follows one [`Limiter`]:
//! - [`Limiter::FixedWindow`] (Rocket.Chat, Meteor's rate limiter): N calls per window;
//!   the window's end is known from `X-RateLimit-Reset`. The pacer counts the calls it
//!   sends in the current window and stops at the server's budget until the window ends,
//!   so a run gets at most one 429 per window (when another client shares the budget).
//! - [`Limiter::Gcra`] (Mattermost, throttled): a continuous token bucket. The pacer keeps
//!   a mirror of the server's bucket, resynchronised from `X-Ratelimit-Remaining` on every
//!   answer, and learns the refill rate from how Remaining moves.
//!
//! A bucket whose answers carry no rate-limit headers (admins bypass Rocket.Chat's
//! limiter; Mattermost's is off by default) is left alone: the pacer stays out of the way.
//!
//! Time comes from a [`Clock`]: the machine's clock in a run, a manual one in unit tests,
//! so the window and bucket arithmetic is tested by advancing time instead of sleeping.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// Where the pacer reads the time and how it waits.
pub(crate) trait Clock: Send + Sync {
    fn now(&self) -> Instant;
    /// Waits `d`; `false` when Ctrl-C was pressed meanwhile.
    fn sleep(&self, d: Duration) -> bool;
}

/// The machine's clock, with Ctrl-C-aware sleeps.
struct RealClock;

impl Clock for RealClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
    fn sleep(&self, d: Duration) -> bool {
        crate::interrupt::sleep(d)
    }
}

/// The server's rate-limit algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limiter {
    FixedWindow,
    Gcra,
}

/// What one answer said about the bucket, already converted to this machine's clock
/// by the server's own header parser.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RateInfo {
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
    /// When the budget is whole again (end of a fixed window, or a full GCRA bucket).
    pub reset_at: Option<Instant>,
    /// Identifies a fixed window (Rocket.Chat's raw reset epoch in ms): answers with the
    /// same id count against the same budget.
    pub window: Option<u64>,
    /// How long to wait before trying again (on a 429).
    pub retry_after: Option<Duration>,
}

impl RateInfo {
    pub fn has_limits(&self) -> bool {
        self.remaining.is_some() || self.retry_after.is_some()
    }
}

/// A client-side cap: CALLS per PERIOD (`--rate 20/2s`, `10/min`, `5/s`, `300/60000ms`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub calls: u32,
    pub period: Duration,
}

impl std::str::FromStr for Rate {
    type Err = String;
    fn from_str(s: &str) -> Result<Rate, String> {
        let bad = || format!("--rate {s:?}: expected CALLS/PERIOD such as 20/2s, 10/min or 5/s");
        let (c, p) = s.split_once('/').ok_or_else(bad)?;
        let calls: u32 = c.trim().parse().map_err(|_| bad())?;
        if calls == 0 {
            return Err(bad());
        }
        let p = p.trim();
        let digits: String = p
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        let unit = p[digits.len()..].trim();
        let n: f64 = if digits.is_empty() {
            1.0
        } else {
            digits.parse().map_err(|_| bad())?
        };
        let secs = match unit {
            "ms" => n / 1000.0,
            "s" | "sec" | "second" | "seconds" => n,
            "m" | "min" | "minute" | "minutes" => n * 60.0,
            "h" | "hour" | "hours" => n * 3600.0,
            _ => return Err(bad()),
        };
        if !(secs > 0.0 && secs.is_finite()) {
            return Err(bad());
        }
        Ok(Rate {
            calls,
            period: Duration::from_secs_f64(secs),
        })
    }
}

/// A wait the progress display can show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waiting {
    pub bucket: String,
    pub until: Instant,
}

/// What a bucket's limits allow over time, for an ETA: the calls sent through it so far
/// and the most it can take per second (the `--rate` cap or the server's limit).
#[derive(Clone, Debug, PartialEq)]
pub struct Budget {
    pub bucket: String,
    pub calls: u64,
    pub per_sec: f64,
}

pub struct Pacer {
    limiter: Limiter,
    cap: Option<Rate>,
    buckets: Mutex<HashMap<String, Arc<Bucket>>>,
    clock: Arc<dyn Clock>,
}

struct Bucket {
    name: String,
    state: Mutex<State>,
    governor: Option<DefaultDirectRateLimiter>,
}

#[derive(Default)]
struct State {
    /// None: not known yet whether the server limits this bucket (one probe at a time).
    limited: Option<bool>,
    in_flight: u32,
    blocked_until: Option<Instant>,
    waiting_until: Option<Instant>,
    // Fixed window.
    window: Option<u64>,
    window_end: Option<Instant>,
    limit: u64,
    sent_in_window: u64,
    remaining: i64,
    // GCRA mirror.
    tokens: f64,
    refilled_at: Option<Instant>,
    rate: Option<f64>,
    accepted: u64,
    stretch: Option<(Instant, u64, u64)>,
    /// Calls let through, for [`Pacer::budgets`].
    sent: u64,
    /// The fixed window's length, as long as it was seen (reset time minus the time of
    /// the first answer in a window).
    window_len: Option<Duration>,
}

/// Safety margin after a window ends: Meteor resets a window only when strictly more
/// than the interval has passed, and the Reset header is rounded to milliseconds.
const WINDOW_MARGIN: Duration = Duration::from_millis(15);
/// Longest single sleep, so waits stay responsive to Ctrl-C and new information.
const MAX_NAP: Duration = Duration::from_millis(200);
/// When nothing else is known, how long a 429 blocks a bucket.
const DEFAULT_RETRY: Duration = Duration::from_secs(1);

/// Proof of an acquired slot; give it back with [`Pacer::observe`] or [`Pacer::abandon`].
pub struct Permit {
    bucket: Arc<Bucket>,
}

impl Pacer {
    pub fn new(limiter: Limiter, cap: Option<Rate>) -> Pacer {
        Pacer::with_clock(limiter, cap, Arc::new(RealClock))
    }

    /// A pacer on another clock. The `--rate` cap (governor) keeps the machine's clock:
    /// it is governor's arithmetic, tested there.
    pub(crate) fn with_clock(limiter: Limiter, cap: Option<Rate>, clock: Arc<dyn Clock>) -> Pacer {
        Pacer {
            limiter,
            cap,
            buckets: Mutex::new(HashMap::new()),
            clock,
        }
    }

    fn bucket(&self, name: &str) -> Arc<Bucket> {
        let mut map = lock(&self.buckets);
        map.entry(name.to_string())
            .or_insert_with(|| {
                let governor = self.cap.and_then(|r| {
                    let per = r.period / r.calls;
                    Quota::with_period(per.max(Duration::from_nanos(1)))
                        .map(|q| q.allow_burst(NonZeroU32::MIN))
                        .map(RateLimiter::direct)
                });
                Arc::new(Bucket {
                    name: name.to_string(),
                    state: Mutex::new(State::default()),
                    governor,
                })
            })
            .clone()
    }

    /// Blocks until a request to `bucket` may be sent; `None` when Ctrl-C was pressed
    /// meanwhile (the request must then not be sent: the run is stopping).
    pub fn acquire(&self, bucket: &str) -> Option<Permit> {
        let b = self.bucket(bucket);
        if let Some(g) = &b.governor {
            let clock = DefaultClock::default();
            while let Err(not_until) = g.check() {
                let wait = not_until.wait_time_from(clock.now());
                self.note_wait(&b, self.clock.now() + wait);
                if !self.clock.sleep(wait.min(MAX_NAP)) {
                    return None;
                }
            }
        }
        loop {
            let now = self.clock.now();
            let wait = {
                let mut s = lock(&b.state);
                match self.admit(&mut s, now) {
                    None => {
                        s.in_flight += 1;
                        s.sent += 1;
                        s.waiting_until = None;
                        break;
                    }
                    Some(w) => {
                        s.waiting_until = Some(now + w);
                        w
                    }
                }
            };
            if !self.clock.sleep(wait.min(MAX_NAP)) {
                lock(&b.state).waiting_until = None;
                return None;
            }
        }
        Some(Permit { bucket: b })
    }

    fn note_wait(&self, b: &Bucket, until: Instant) {
        lock(&b.state).waiting_until = Some(until);
    }

    /// `None` = go now (and the slot is taken); `Some(d)` = look again after `d`.
    fn admit(&self, s: &mut State, now: Instant) -> Option<Duration> {
        if let Some(until) = s.blocked_until {
            if now < until {
                return Some(until - now);
            }
            s.blocked_until = None;
        }
        match s.limited {
            Some(false) => return None,
            // Unknown: let one request find out, the others wait for its answer.
            None => {
                return if s.in_flight == 0 {
                    None
                } else {
                    Some(Duration::from_millis(2))
                };
            }
            Some(true) => {}
        }
        match self.limiter {
            Limiter::FixedWindow => {
                if let Some(end) = s.window_end
                    && now >= end + WINDOW_MARGIN
                {
                    // The window is over: the next request opens a new one. Probe it.
                    s.window = None;
                    s.window_end = None;
                    s.sent_in_window = 0;
                }
                if s.window.is_none() {
                    return if s.in_flight == 0 {
                        s.sent_in_window += 1;
                        None
                    } else {
                        Some(Duration::from_millis(2))
                    };
                }
                if s.remaining > 0 {
                    s.remaining -= 1;
                    s.sent_in_window += 1;
                    None
                } else {
                    let end = s.window_end.unwrap_or(now) + WINDOW_MARGIN;
                    Some(
                        end.saturating_duration_since(now)
                            .max(Duration::from_millis(1)),
                    )
                }
            }
            Limiter::Gcra => {
                if let (Some(rate), Some(at)) = (s.rate, s.refilled_at) {
                    let add = rate * now.saturating_duration_since(at).as_secs_f64();
                    s.tokens = (s.tokens + add).min(s.limit as f64);
                }
                s.refilled_at = Some(now);
                if s.tokens >= 1.0 {
                    s.tokens -= 1.0;
                    None
                } else {
                    let wait = match s.rate {
                        Some(r) if r > 0.0 => Duration::from_secs_f64((1.0 - s.tokens) / r),
                        // No rate known yet: wait for answers in flight, or probe.
                        _ if s.in_flight > 0 => Duration::from_millis(5),
                        _ => {
                            s.tokens = 0.0;
                            return None;
                        }
                    };
                    Some(wait.max(Duration::from_millis(1)))
                }
            }
        }
    }

    /// Records what an answer said. `rejected` is true for a 429.
    pub fn observe(&self, permit: Permit, info: &RateInfo, rejected: bool) {
        let b = permit.bucket;
        let mut s = lock(&b.state);
        let now = self.clock.now();
        s.in_flight = s.in_flight.saturating_sub(1);
        if !info.has_limits() && !rejected {
            // No headers: not limited for this caller (or the limiter is off).
            if s.limited.is_none() {
                s.limited = Some(false);
            }
            return;
        }
        s.limited = Some(true);
        if let Some(l) = info.limit {
            s.limit = l;
        }
        match self.limiter {
            Limiter::FixedWindow => observe_window(&mut s, info, rejected, now),
            Limiter::Gcra => observe_gcra(&mut s, info, rejected, now),
        }
        if rejected {
            let until = info
                .retry_after
                .map(|d| now + d)
                .or(info.reset_at.map(|r| r + WINDOW_MARGIN))
                .unwrap_or(now + DEFAULT_RETRY);
            s.blocked_until = Some(s.blocked_until.map_or(until, |b| b.max(until)));
        }
    }

    /// Gives a slot back after a request that got no answer (connection error).
    pub fn abandon(&self, permit: Permit) {
        let mut s = lock(&permit.bucket.state);
        s.in_flight = s.in_flight.saturating_sub(1);
    }

    /// The buckets whose limits are known, for an ETA that counts the waits ahead: a
    /// burst at the start of a Rocket.Chat window runs far faster than the window allows.
    pub fn budgets(&self) -> Vec<Budget> {
        let cap = self
            .cap
            .map(|r| f64::from(r.calls) / r.period.as_secs_f64());
        let buckets: Vec<Arc<Bucket>> = lock(&self.buckets).values().cloned().collect();
        buckets
            .iter()
            .filter_map(|b| {
                let s = lock(&b.state);
                let server = match (s.limited, self.limiter) {
                    (Some(true), Limiter::FixedWindow) => s
                        .window_len
                        .filter(|w| !w.is_zero() && s.limit > 0)
                        .map(|w| s.limit as f64 / w.as_secs_f64()),
                    (Some(true), Limiter::Gcra) => s.rate,
                    _ => None,
                };
                let per_sec = match (cap, server) {
                    (Some(a), Some(b)) => a.min(b),
                    (a, b) => a.or(b)?,
                };
                (per_sec > 0.0).then(|| Budget {
                    bucket: b.name.clone(),
                    calls: s.sent,
                    per_sec,
                })
            })
            .collect()
    }

    /// Buckets waiting now, longest wait first, for the progress display.
    pub fn waiting(&self) -> Vec<Waiting> {
        let now = self.clock.now();
        let buckets: Vec<Arc<Bucket>> = lock(&self.buckets).values().cloned().collect();
        let mut v: Vec<Waiting> = buckets
            .iter()
            .filter_map(|b| {
                let s = lock(&b.state);
                s.waiting_until
                    .filter(|u| *u > now + Duration::from_millis(300))
                    .map(|until| Waiting {
                        bucket: b.name.clone(),
                        until,
                    })
            })
            .collect();
        v.sort_by_key(|w| std::cmp::Reverse(w.until));
        v
    }
}

fn observe_window(s: &mut State, info: &RateInfo, rejected: bool, now: Instant) {
    let (Some(remaining), Some(window)) = (info.remaining, info.window) else {
        if rejected {
            s.remaining = 0;
        }
        return;
    };
    if s.window != Some(window) {
        // A new window: every request still in flight may count in it.
        s.window = Some(window);
        s.window_end = info.reset_at;
        if let Some(r) = info.reset_at {
            let len = r.saturating_duration_since(now);
            s.window_len = Some(s.window_len.map_or(len, |l| l.max(len)));
        }
        s.sent_in_window = s.sent_in_window.max(u64::from(s.in_flight) + 1);
        s.remaining = remaining as i64 - i64::from(s.in_flight);
    } else {
        // The server's count can only exceed ours by what someone else spent
        // (another process on this IP); never count our own requests twice.
        let server_used = s.limit.saturating_sub(remaining);
        let external = server_used.saturating_sub(s.sent_in_window);
        let ours_left = s.limit as i64 - s.sent_in_window as i64 - external as i64;
        s.remaining = s.remaining.min(ours_left);
        if let Some(r) = info.reset_at {
            s.window_end = Some(r);
        }
    }
    if rejected {
        s.remaining = 0;
    }
}

fn observe_gcra(s: &mut State, info: &RateInfo, rejected: bool, now: Instant) {
    let Some(remaining) = info.remaining else {
        return;
    };
    let limit = s.limit.max(remaining + 1);
    if !rejected {
        s.accepted += 1;
        // Learn the refill rate: while the bucket is not full, tokens refilled between
        // two answers = requests accepted + change in Remaining.
        if remaining + 1 >= limit {
            s.stretch = Some((now, s.accepted, remaining));
        } else if let Some((t0, a0, r0)) = s.stretch {
            let dt = now.saturating_duration_since(t0).as_secs_f64();
            if dt >= 0.5 {
                let refilled = (s.accepted - a0) as f64 + remaining as f64 - r0 as f64;
                if refilled > 0.0 {
                    s.rate = Some(refilled / dt);
                }
            }
        } else {
            s.stretch = Some((now, s.accepted, remaining));
        }
    }
    if s.rate.is_none()
        && let Some(reset) = info.reset_at
    {
        // A first, low estimate: the deficit refills by the reset time.
        let secs = reset
            .saturating_duration_since(now)
            .as_secs_f64()
            .max(0.001);
        let deficit = limit.saturating_sub(remaining) as f64;
        if deficit > 1.0 {
            s.rate = Some((deficit - 1.0) / secs);
        }
    }
    // Requests still in flight will take tokens the server has not yet counted.
    let mirror = remaining as f64 - f64::from(s.in_flight);
    s.tokens = if rejected { 0.0 } else { mirror };
    s.refilled_at = Some(now);
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A worker that panicked leaves the data usable: counts, not invariants.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse() {
        assert_eq!(
            "20/2s".parse::<Rate>().unwrap().period,
            Duration::from_secs(2)
        );
        assert_eq!(
            "10/min".parse::<Rate>().unwrap().period,
            Duration::from_secs(60)
        );
        assert_eq!("5/s".parse::<Rate>().unwrap().calls, 5);
        assert_eq!(
            "300/60000ms".parse::<Rate>().unwrap().period,
            Duration::from_secs(60)
        );
        assert!("0/s".parse::<Rate>().is_err());
        assert!("5".parse::<Rate>().is_err());
        assert!("5/parsec".parse::<Rate>().is_err());
    }

    /// A clock that moves only when a test advances it or the pacer sleeps on it.
    struct ManualClock {
        start: Instant,
        elapsed: Mutex<Duration>,
    }

    impl ManualClock {
        fn new() -> Arc<ManualClock> {
            Arc::new(ManualClock {
                start: Instant::now(),
                elapsed: Mutex::new(Duration::ZERO),
            })
        }
        fn advance(&self, d: Duration) {
            *lock(&self.elapsed) += d;
        }
        fn elapsed(&self) -> Duration {
            *lock(&self.elapsed)
        }
    }

    impl Clock for ManualClock {
        fn now(&self) -> Instant {
            self.start + self.elapsed()
        }
        fn sleep(&self, d: Duration) -> bool {
            self.advance(d);
            true
        }
    }

    fn pacer(limiter: Limiter) -> (Pacer, Arc<ManualClock>) {
        let clock = ManualClock::new();
        (Pacer::with_clock(limiter, None, clock.clone()), clock)
    }

    fn window(limit: u64, rem: u64, id: u64, reset_at: Instant) -> RateInfo {
        RateInfo {
            limit: Some(limit),
            remaining: Some(rem),
            reset_at: Some(reset_at),
            window: Some(id),
            retry_after: None,
        }
    }

    fn gcra(limit: u64, rem: u64, reset_at: Option<Instant>) -> RateInfo {
        RateInfo {
            limit: Some(limit),
            remaining: Some(rem),
            reset_at,
            window: None,
            retry_after: None,
        }
    }

    fn go(p: &Pacer, bucket: &str) -> Permit {
        p.acquire(bucket).expect("not interrupted")
    }

    #[test]
    fn unlimited_buckets_do_not_wait() {
        let (p, clock) = pacer(Limiter::FixedWindow);
        let a = go(&p, "x");
        p.observe(a, &RateInfo::default(), false);
        let permits: Vec<Permit> = (0..10).map(|_| go(&p, "x")).collect();
        assert_eq!(clock.elapsed(), Duration::ZERO);
        for q in permits {
            p.observe(q, &RateInfo::default(), false);
        }
        assert!(p.waiting().is_empty());
    }

    #[test]
    fn fixed_window_stops_at_the_budget() {
        let (p, clock) = pacer(Limiter::FixedWindow);
        let end = clock.now() + Duration::from_millis(300);
        let a = go(&p, "c");
        p.observe(a, &window(3, 2, 1, end), false);
        let b = go(&p, "c");
        let c = go(&p, "c");
        p.observe(b, &window(3, 1, 1, end), false);
        p.observe(c, &window(3, 0, 1, end), false);
        assert_eq!(clock.elapsed(), Duration::ZERO, "the budget was there");
        // The budget is spent: the next call waits for the window's end, plus the margin
        // Meteor needs, and no longer than one nap past it.
        let d = go(&p, "c");
        assert!(clock.now() >= end + WINDOW_MARGIN, "{:?}", clock.elapsed());
        assert!(
            clock.now() < end + WINDOW_MARGIN + MAX_NAP,
            "{:?}",
            clock.elapsed()
        );
        p.abandon(d);
    }

    #[test]
    fn fixed_window_follows_the_latest_reset_and_counts_other_clients() {
        let (p, clock) = pacer(Limiter::FixedWindow);
        let first_end = clock.now() + Duration::from_secs(1);
        // A later answer corrects the window's end (the Reset header, converted from the
        // server's clock with its Date, moved): the later one wins.
        let corrected_end = clock.now() + Duration::from_secs(3);
        let a = go(&p, "c");
        p.observe(a, &window(5, 4, 7, first_end), false);
        let b = go(&p, "c");
        // The server counts 4 used where we sent 2: another client spent 2, so only one
        // call of the budget is ours.
        p.observe(b, &window(5, 1, 7, corrected_end), false);
        let c = go(&p, "c");
        assert_eq!(clock.elapsed(), Duration::ZERO);
        p.abandon(c);
        let d = go(&p, "c");
        assert!(
            clock.now() >= corrected_end + WINDOW_MARGIN,
            "{:?}",
            clock.elapsed()
        );
        assert!(clock.now() < corrected_end + WINDOW_MARGIN + MAX_NAP);
        p.abandon(d);
    }

    #[test]
    fn a_429_blocks_the_bucket_for_retry_after() {
        let (p, clock) = pacer(Limiter::FixedWindow);
        let a = go(&p, "c");
        let info = RateInfo {
            retry_after: Some(Duration::from_secs(2)),
            ..RateInfo::default()
        };
        p.observe(a, &info, true);
        let b = go(&p, "c");
        assert!(clock.elapsed() >= Duration::from_secs(2));
        assert!(clock.elapsed() < Duration::from_secs(2) + MAX_NAP);
        p.abandon(b);
        // Another bucket is not blocked.
        let other = go(&p, "other");
        assert!(clock.elapsed() < Duration::from_secs(2) + MAX_NAP);
        p.abandon(other);
    }

    #[test]
    fn gcra_mirror_spends_remaining_then_waits_at_the_estimated_rate() {
        let (p, clock) = pacer(Limiter::Gcra);
        // Remaining 3 of 10, full again in 7 s: a first estimate of (7 - 1) / 7 tokens/s.
        let reset = clock.now() + Duration::from_secs(7);
        let a = go(&p, "api");
        p.observe(a, &gcra(10, 3, Some(reset)), false);
        let held: Vec<Permit> = (0..3).map(|_| go(&p, "api")).collect();
        assert_eq!(
            clock.elapsed(),
            Duration::ZERO,
            "three tokens were mirrored"
        );
        // Empty: one token takes 7/6 s at that rate.
        let e = go(&p, "api");
        let waited = clock.elapsed().as_secs_f64();
        assert!((1.16..1.38).contains(&waited), "{waited}");
        p.abandon(e);
        // An answer while others are in flight: their tokens are not counted twice.
        let mut held = held.into_iter();
        if let Some(b) = held.next() {
            p.observe(b, &gcra(10, 2, None), false);
        }
        // Remaining 2 minus the 2 calls still in flight: nothing to spend yet.
        let before = clock.elapsed();
        let f = go(&p, "api");
        assert!(clock.elapsed() > before, "the mirror had no token");
        p.abandon(f);
        for q in held {
            p.abandon(q);
        }
    }

    #[test]
    fn budgets_give_the_rate_each_limited_bucket_allows() {
        let (p, clock) = pacer(Limiter::FixedWindow);
        // Unlimited (no headers): no budget.
        let a = go(&p, "free");
        p.observe(a, &RateInfo::default(), false);
        // 10 calls per 2 s window: 5 calls/s; two calls sent.
        let end = clock.now() + Duration::from_secs(2);
        let b = go(&p, "users.create");
        p.observe(b, &window(10, 9, 1, end), false);
        let c = go(&p, "users.create");
        p.observe(c, &window(10, 8, 1, end), false);
        assert_eq!(
            p.budgets(),
            [Budget {
                bucket: "users.create".into(),
                calls: 2,
                per_sec: 5.0
            }]
        );
        // A --rate cap below the server's limit is what holds.
        let capped = Pacer::with_clock(
            Limiter::FixedWindow,
            Some("1/s".parse().unwrap()),
            clock.clone(),
        );
        let d = go(&capped, "users.info");
        capped.observe(d, &RateInfo::default(), false);
        let got = capped.budgets();
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].calls, got[0].per_sec), (1, 1.0));

        // Mattermost: the refill rate learned.
        let (g, clock) = pacer(Limiter::Gcra);
        let reset = clock.now() + Duration::from_secs(7);
        let e = go(&g, "api");
        g.observe(e, &gcra(10, 3, Some(reset)), false);
        let got = g.budgets();
        assert_eq!(got.len(), 1);
        assert!((got[0].per_sec - 6.0 / 7.0).abs() < 1e-9, "{got:?}");
    }

    #[test]
    fn gcra_learns_the_refill_rate_from_remaining() {
        let (p, clock) = pacer(Limiter::Gcra);
        // A full bucket (9 left of 10 after the probe), no reset: no rate known yet.
        let a = go(&p, "api");
        p.observe(a, &gcra(10, 9, None), false);
        let spent: Vec<Permit> = (0..9).map(|_| go(&p, "api")).collect();
        for (q, rem) in spent.into_iter().zip((0..9).rev()) {
            p.observe(q, &gcra(10, rem, None), false);
        }
        assert_eq!(clock.elapsed(), Duration::ZERO);
        // One second later, a probe finds 1 left after 10 calls since the full bucket:
        // 10 + 1 - 9 = 2 tokens refilled in 1 s.
        clock.advance(Duration::from_secs(1));
        let k = go(&p, "api");
        p.observe(k, &gcra(10, 1, None), false);
        let l = go(&p, "api");
        let before = clock.elapsed();
        let m = go(&p, "api");
        let waited = (clock.elapsed() - before).as_secs_f64();
        assert!((0.49..0.52).contains(&waited), "{waited}");
        p.abandon(l);
        p.abandon(m);
    }
}
