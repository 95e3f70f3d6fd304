//! Mattermost's rate limiter: the GCRA of throttled v2.2.5 (`rate.go`, `RateLimit`) over its
//! memstore (an LRU of `MemoryStoreSize` keys), and the headers of MM `app/ratelimit.go`
//! (mattermost-api.md §2.3, §2.4).
//!
//! Times are nanoseconds of a monotonic clock. The arithmetic is Go's: `time.Duration` is an
//! int64 of nanoseconds and `Duration / Duration` truncates toward zero. The server reads
//! them from [`crate::clock`]; the arithmetic here takes them as arguments.

use std::collections::{BTreeMap, HashMap};

const SECOND_NS: i64 = 1_000_000_000;

/// throttled's `RateLimitResult`; -1 = not set (the header is then not sent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimitResult {
    pub limit: i64,
    pub remaining: i64,
    pub reset_after_ns: i64,
    pub retry_after_ns: i64,
}

/// memstore: a hashicorp LRU of `cap` keys (0 = an unbounded map). Evicting a key forgets
/// its bucket.
#[derive(Debug, Default)]
struct Store {
    cap: usize,
    values: HashMap<String, (i64, u64)>,
    recency: BTreeMap<u64, String>,
    tick: u64,
}

impl Store {
    /// `GetWithTime`: the value, marking the key as recently used.
    fn get(&mut self, key: &str) -> Option<i64> {
        self.tick += 1;
        let tick = self.tick;
        let (value, used) = self.values.get_mut(key)?;
        self.recency.remove(used);
        *used = tick;
        self.recency.insert(tick, key.to_string());
        Some(*value)
    }

    fn set(&mut self, key: &str, value: i64) {
        self.tick += 1;
        let tick = self.tick;
        if let Some((v, used)) = self.values.get_mut(key) {
            *v = value;
            self.recency.remove(used);
            *used = tick;
            self.recency.insert(tick, key.to_string());
            return;
        }
        if self.cap > 0
            && self.values.len() >= self.cap
            && let Some((_, oldest)) = self.recency.pop_first()
        {
            self.values.remove(&oldest);
        }
        self.values.insert(key.to_string(), (value, tick));
        self.recency.insert(tick, key.to_string());
    }
}

/// `GCRARateLimiter` with its store.
#[derive(Debug)]
pub struct Gcra {
    /// T = time.Second / PerSec.
    emission_ns: i64,
    /// tau = T * (MaxBurst + 1).
    tolerance_ns: i64,
    limit: i64,
    store: Store,
}

impl Gcra {
    /// `NewGCRARateLimiter(memstore.New(store_size), RateQuota{PerSec(per_sec), max_burst})`.
    /// A rate above 1e9/s would make T zero (Go divides by it): refused, like 0.
    pub fn new(per_sec: u32, max_burst: u32, store_size: usize) -> Result<Gcra, String> {
        if per_sec == 0 || i64::from(per_sec) > SECOND_NS {
            return Err(format!(
                "rate limit PerSec must be from 1 to 1000000000, not {per_sec}"
            ));
        }
        let emission_ns = SECOND_NS / i64::from(per_sec);
        Ok(Gcra {
            emission_ns,
            tolerance_ns: emission_ns.saturating_mul(i64::from(max_burst) + 1),
            limit: i64::from(max_burst) + 1,
            store: Store {
                cap: store_size,
                ..Store::default()
            },
        })
    }

    /// `RateLimit(key, 1)` at `now` (ns): (limited, result). A limited request leaves the
    /// stored TAT as it was.
    pub fn rate_limit(&mut self, key: &str, now: i64) -> (bool, RateLimitResult) {
        let mut result = RateLimitResult {
            limit: self.limit,
            remaining: 0,
            reset_after_ns: 0,
            retry_after_ns: -1,
        };
        let tat = self.store.get(key).unwrap_or(now);
        let increment = self.emission_ns;
        // `now.After(tat)`: strictly later.
        let new_tat = if now > tat {
            now.saturating_add(increment)
        } else {
            tat.saturating_add(increment)
        };
        let allow_at = new_tat - self.tolerance_ns;
        let diff = now - allow_at;
        let limited;
        let ttl;
        if diff < 0 {
            if increment <= self.tolerance_ns {
                result.retry_after_ns = -diff;
            }
            ttl = tat - now;
            limited = true;
        } else {
            ttl = new_tat - now;
            self.store.set(key, new_tat);
            limited = false;
        }
        let next = self.tolerance_ns - ttl;
        if next > -self.emission_ns {
            result.remaining = next / self.emission_ns;
        }
        result.reset_after_ns = ttl;
        (limited, result)
    }
}

/// `int(math.Ceil(d.Seconds()))` with Go's `Seconds()`: whole seconds plus the fraction.
pub fn ceil_seconds(ns: i64) -> i64 {
    let secs = ns / SECOND_NS;
    let frac = ns % SECOND_NS;
    (secs as f64 + frac as f64 / 1e9).ceil() as i64
}

/// `setRateLimitHeaders`, with the names as Go canonicalises them on the wire.
pub fn headers(r: &RateLimitResult) -> Vec<(String, String)> {
    let mut h = Vec::with_capacity(4);
    if r.limit >= 0 {
        h.push(("X-Ratelimit-Limit".to_string(), r.limit.to_string()));
    }
    if r.remaining >= 0 {
        h.push(("X-Ratelimit-Remaining".to_string(), r.remaining.to_string()));
    }
    if r.reset_after_ns >= 0 {
        h.push((
            "X-Ratelimit-Reset".to_string(),
            ceil_seconds(r.reset_after_ns).to_string(),
        ));
    }
    if r.retry_after_ns >= 0 {
        h.push((
            "Retry-After".to_string(),
            ceil_seconds(r.retry_after_ns).to_string(),
        ));
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 100_000_000;

    #[test]
    fn defaults_give_the_documented_burst_and_refusal() {
        let mut g = Gcra::new(10, 100, 10_000).unwrap();
        let now = 5 * SECOND_NS;
        for n in 1..=101 {
            let (limited, r) = g.rate_limit("ip", now);
            assert!(!limited, "request {n}");
            assert_eq!(r.limit, 101);
            assert_eq!(r.remaining, 101 - n);
            assert_eq!(ceil_seconds(r.reset_after_ns), (n + 9) / 10);
            assert_eq!(r.retry_after_ns, -1);
        }
        let (limited, r) = g.rate_limit("ip", now);
        assert!(limited);
        assert_eq!(r.remaining, 0);
        assert_eq!(ceil_seconds(r.reset_after_ns), 11);
        assert_eq!(r.retry_after_ns, T);
        assert_eq!(ceil_seconds(r.retry_after_ns), 1);
        // Refusals do not move the TAT: one emission interval later, exactly one passes.
        for _ in 0..5 {
            assert!(g.rate_limit("ip", now).0);
        }
        assert!(!g.rate_limit("ip", now + T).0);
        assert!(g.rate_limit("ip", now + T).0);
        let (limited, r) = g.rate_limit("ip", now + T + T / 2);
        assert!(limited);
        assert_eq!(r.retry_after_ns, T / 2);
        assert!(!g.rate_limit("ip", now + 2 * T).0);
        // Another key has its own bucket.
        assert_eq!(g.rate_limit("other", now).1.remaining, 100);
    }

    #[test]
    fn integer_division_and_truncation_like_go() {
        // 3 per second: T = 333333333 ns (integer division), tau = 2 T with burst 1.
        let mut g = Gcra::new(3, 1, 0).unwrap();
        assert_eq!(g.emission_ns, 333_333_333);
        assert_eq!(g.tolerance_ns, 666_666_666);
        let (_, r) = g.rate_limit("k", SECOND_NS);
        assert_eq!((r.remaining, r.reset_after_ns), (1, 333_333_333));
        let (_, r) = g.rate_limit("k", SECOND_NS);
        assert_eq!((r.remaining, r.reset_after_ns), (0, 666_666_666));
        let (limited, r) = g.rate_limit("k", SECOND_NS + 1);
        assert!(limited);
        // next = tau - ttl = 1 ns: 1 / T truncates to 0.
        assert_eq!(r.remaining, 0);
        assert_eq!(r.retry_after_ns, 333_333_332);
        assert_eq!(ceil_seconds(r.reset_after_ns), 1);
    }

    #[test]
    fn a_stale_tat_counts_as_a_fresh_key() {
        let mut g = Gcra::new(10, 100, 0).unwrap();
        g.rate_limit("k", SECOND_NS);
        let (_, r) = g.rate_limit("k", 100 * SECOND_NS);
        assert_eq!((r.remaining, r.reset_after_ns), (100, T));
    }

    #[test]
    fn the_lru_forgets_the_least_recently_used_key() {
        let mut g = Gcra::new(10, 100, 2).unwrap();
        let now = SECOND_NS;
        g.rate_limit("a", now);
        g.rate_limit("b", now);
        g.rate_limit("a", now); // a is now the most recent
        g.rate_limit("c", now); // evicts b
        assert_eq!(g.rate_limit("a", now).1.remaining, 98);
        assert_eq!(g.rate_limit("b", now).1.remaining, 100);
    }

    #[test]
    fn headers_only_when_set_and_retry_after_only_when_limited() {
        let r = RateLimitResult {
            limit: 101,
            remaining: 3,
            reset_after_ns: 1,
            retry_after_ns: -1,
        };
        assert_eq!(
            headers(&r),
            vec![
                ("X-Ratelimit-Limit".to_string(), "101".to_string()),
                ("X-Ratelimit-Remaining".to_string(), "3".to_string()),
                ("X-Ratelimit-Reset".to_string(), "1".to_string()),
            ]
        );
        assert_eq!(ceil_seconds(0), 0);
        assert_eq!(ceil_seconds(10_100_000_000), 11);
        assert_eq!(ceil_seconds(10_000_000_000), 10);
        assert!(Gcra::new(0, 1, 1).is_err());
    }
}
