//! Meteor's `rate-limit` fixed window, as Rocket.Chat's REST limiter and its
//! `RateLimiter.limitFunction` wrappers use it (rocketchat-api.md §2 Algorithm).

use std::collections::HashMap;

/// One rule: N calls per interval, counters per key, one window start for all keys.
#[derive(Debug)]
pub struct FixedWindow {
    limit: u32,
    interval_ms: i64,
    /// Shared by every key; restarted lazily by the first call after the window expired.
    last_reset_ms: i64,
    counters: HashMap<String, u32>,
}

/// What `check` tells after `increment`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub allowed: bool,
    pub limit: u32,
    /// `numInvocationsLeft`: 0 on the refused call.
    pub remaining: u32,
    /// `timeToReset` in ms.
    pub time_to_reset_ms: i64,
    /// When the check ran plus `timeToReset`: the `X-RateLimit-Reset` value (epoch ms).
    pub reset_at_ms: i64,
}

impl Outcome {
    /// Seconds as the 429 message states them: `ceil(ms / 1000)`.
    pub fn wait_seconds(&self) -> i64 {
        (self.time_to_reset_ms + 999).div_euclid(1000)
    }
}

impl FixedWindow {
    /// `start_ms` is when the rule was registered (Meteor: at server start).
    pub fn new(limit: u32, interval_ms: u64, start_ms: i64) -> Self {
        FixedWindow {
            limit,
            interval_ms: interval_ms as i64,
            last_reset_ms: start_ms,
            counters: HashMap::new(),
        }
    }

    /// `increment(input)` then `check(input)`, exactly in Meteor's order: calls 1..=N are
    /// allowed (remaining N-1 .. 0), call N+1 is refused.
    pub fn hit(&mut self, key: &str, now_ms: i64) -> Outcome {
        // increment
        if now_ms - self.last_reset_ms > self.interval_ms {
            self.counters.clear();
            self.last_reset_ms = now_ms;
        }
        let counter = self.counters.entry(key.to_string()).or_insert(0);
        *counter = counter.saturating_add(1);
        let mut count = *counter;
        // check
        let mut time_to_next_reset = self.interval_ms - (now_ms - self.last_reset_ms);
        if time_to_next_reset < 0 {
            self.counters.clear();
            self.last_reset_ms = now_ms;
            time_to_next_reset = self.interval_ms;
            count = 0;
        }
        if count > self.limit {
            Outcome {
                allowed: false,
                limit: self.limit,
                remaining: 0,
                time_to_reset_ms: time_to_next_reset,
                reset_at_ms: now_ms + time_to_next_reset,
            }
        } else {
            Outcome {
                allowed: true,
                limit: self.limit,
                remaining: self.limit - count,
                time_to_reset_ms: time_to_next_reset,
                reset_at_ms: now_ms + time_to_next_reset,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn n_calls_then_refused_then_lazy_reset() {
        let mut w = FixedWindow::new(3, 1000, 0);
        let r: Vec<_> = (0..4).map(|_| w.hit("ip", 100)).collect();
        assert_eq!(
            r.iter()
                .map(|o| (o.allowed, o.remaining))
                .collect::<Vec<_>>(),
            vec![(true, 2), (true, 1), (true, 0), (false, 0)]
        );
        assert_eq!(r[3].time_to_reset_ms, 900);
        assert_eq!(r[3].wait_seconds(), 1);
        // Another key has its own counter but the same window start.
        let o = w.hit("other", 500);
        assert_eq!((o.allowed, o.remaining, o.time_to_reset_ms), (true, 2, 500));
        // Exactly at the interval the window has not expired yet (`>` not `>=`).
        assert!(!w.hit("ip", 1000).allowed);
        // After it, the first call restarts the window for everyone.
        let o = w.hit("ip", 1001);
        assert_eq!(
            (o.allowed, o.remaining, o.time_to_reset_ms),
            (true, 2, 1000)
        );
    }
}
