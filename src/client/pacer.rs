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

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

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

pub struct Pacer {
    limiter: Limiter,
    cap: Option<Rate>,
    buckets: Mutex<HashMap<String, Arc<Bucket>>>,
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
        Pacer {
            limiter,
            cap,
            buckets: Mutex::new(HashMap::new()),
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
                self.note_wait(&b, Instant::now() + wait);
                if !crate::interrupt::sleep(wait.min(MAX_NAP)) {
                    return None;
                }
            }
        }
        loop {
            let now = Instant::now();
            let wait = {
                let mut s = lock(&b.state);
                match self.admit(&mut s, now) {
                    None => {
                        s.in_flight += 1;
                        s.waiting_until = None;
                        break;
                    }
                    Some(w) => {
                        s.waiting_until = Some(now + w);
                        w
                    }
                }
            };
            if !crate::interrupt::sleep(wait.min(MAX_NAP)) {
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
        let now = Instant::now();
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

    /// Buckets waiting now, longest wait first, for the progress display.
    pub fn waiting(&self) -> Vec<Waiting> {
        let now = Instant::now();
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
    let _ = now;
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

    #[test]
    fn unlimited_buckets_do_not_wait() {
        let p = Pacer::new(Limiter::FixedWindow, None);
        let a = p.acquire("x").expect("not interrupted");
        p.observe(a, &RateInfo::default(), false);
        let t = Instant::now();
        let permits: Vec<Permit> = (0..10)
            .map(|_| p.acquire("x").expect("not interrupted"))
            .collect();
        assert!(t.elapsed() < Duration::from_millis(50));
        for q in permits {
            p.observe(q, &RateInfo::default(), false);
        }
    }

    #[test]
    fn fixed_window_stops_at_the_budget() {
        let p = Pacer::new(Limiter::FixedWindow, None);
        let end = Instant::now() + Duration::from_millis(300);
        let info = |rem| RateInfo {
            limit: Some(3),
            remaining: Some(rem),
            reset_at: Some(end),
            window: Some(1),
            retry_after: None,
        };
        let a = p.acquire("c").expect("not interrupted");
        p.observe(a, &info(2), false);
        let b = p.acquire("c").expect("not interrupted");
        let c = p.acquire("c").expect("not interrupted");
        p.observe(b, &info(1), false);
        p.observe(c, &info(0), false);
        let t = Instant::now();
        let d = p.acquire("c").expect("not interrupted");
        assert!(Instant::now() >= end, "waited {:?}", t.elapsed());
        p.abandon(d);
    }
}
