//! Token buckets by key (client IP, transaction sender): `per_sec` tokens refill each second
//! up to `burst`; a call takes one. The quota can be changed live; buckets of idle keys are
//! swept once the table grows, so a flood of distinct keys cannot grow it without bound.

use std::{
    collections::HashMap,
    hash::Hash,
    time::{Duration, Instant},
};

use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};

/// How fast a key may call. `per_sec == 0` means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Quota {
    /// Sustained calls per second (0: no limit).
    pub per_sec: u32,
    /// Calls allowed at once after an idle spell (raised to `per_sec` if lower).
    pub burst: u32,
}

impl Quota {
    /// No limit.
    pub const UNLIMITED: Self = Self {
        per_sec: 0,
        burst: 0,
    };
}

/// Table size past which full (idle) buckets are dropped.
const SWEEP_AT: usize = 65_536;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets by key.
#[derive(Debug)]
pub struct RateLimiter<K> {
    quota: RwLock<Quota>,
    buckets: Mutex<Buckets<K>>,
}

#[derive(Debug)]
struct Buckets<K> {
    map: HashMap<K, Bucket>,
    /// Last sweep: at most one a second, so a flood of new keys does not make every call
    /// scan the table.
    swept: Option<Instant>,
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    pub fn new(quota: Quota) -> Self {
        Self {
            quota: RwLock::new(quota),
            buckets: Mutex::new(Buckets {
                map: HashMap::new(),
                swept: None,
            }),
        }
    }

    /// The quota in force.
    pub fn quota(&self) -> Quota {
        *self.quota.read()
    }

    /// Changes the quota for every key from the next call on.
    pub fn set_quota(&self, quota: Quota) {
        *self.quota.write() = quota;
        self.buckets.lock().map.clear();
    }

    /// Gives back the token of a call that turned out not to count (e.g. a transaction the
    /// pool refused), so replaying someone's old transactions cannot spend their quota.
    pub fn refund(&self, key: &K) {
        let quota = *self.quota.read();
        if quota.per_sec == 0 {
            return;
        }
        let burst = f64::from(quota.burst.max(quota.per_sec));
        if let Some(b) = self.buckets.lock().map.get_mut(key) {
            b.tokens = (b.tokens + 1.0).min(burst);
        }
    }

    /// Takes `amount` more tokens from `key` after the fact (the cost of a call is known
    /// once it ran). The balance may go below zero: the key is then refused until the
    /// refill brings it back above one token.
    pub fn charge(&self, key: &K, amount: f64) {
        let quota = *self.quota.read();
        if quota.per_sec == 0 || amount <= 0.0 {
            return;
        }
        let burst = f64::from(quota.burst.max(quota.per_sec));
        if let Some(b) = self.buckets.lock().map.get_mut(key) {
            // Overdrawn by at most one burst more, so one huge call is not a life sentence.
            b.tokens = (b.tokens - amount).max(-burst);
        }
    }

    /// Takes a token for `key` if one is there.
    pub fn check(&self, key: &K) -> bool {
        self.check_at(key, Instant::now())
    }

    fn check_at(&self, key: &K, now: Instant) -> bool {
        let quota = *self.quota.read();
        if quota.per_sec == 0 {
            return true;
        }
        let rate = f64::from(quota.per_sec);
        let burst = f64::from(quota.burst.max(quota.per_sec));
        let mut buckets = self.buckets.lock();
        if buckets.map.len() >= SWEEP_AT
            && buckets
                .swept
                .is_none_or(|t| now.saturating_duration_since(t) >= Duration::from_secs(1))
        {
            // A bucket idle long enough to be full again carries no information (an
            // overdrawn one, see `charge`, takes longer to get there).
            buckets.map.retain(|_, b| {
                let full_after = Duration::from_secs_f64((burst - b.tokens).max(0.0) / rate);
                now.saturating_duration_since(b.at) < full_after
            });
            buckets.swept = Some(now);
        }
        let bucket = buckets.map.entry(key.clone()).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill_per_key() {
        let l = RateLimiter::new(Quota {
            per_sec: 10,
            burst: 20,
        });
        let t0 = Instant::now();
        assert!((0..20).all(|_| l.check_at(&1, t0)));
        assert!(!l.check_at(&1, t0), "the burst is spent");
        assert!(l.check_at(&2, t0), "another key has its own bucket");
        // 0.1 s refills one token at 10/s.
        let t1 = t0 + Duration::from_millis(100);
        assert!(l.check_at(&1, t1));
        assert!(!l.check_at(&1, t1));
        // A long idle spell refills up to the burst, no more.
        let t2 = t1 + Duration::from_secs(60);
        assert_eq!((0..25).filter(|_| l.check_at(&1, t2)).count(), 20);
    }

    #[test]
    fn a_refund_gives_the_token_back() {
        let l = RateLimiter::new(Quota {
            per_sec: 1,
            burst: 2,
        });
        let t0 = Instant::now();
        assert!(l.check_at(&1, t0));
        l.refund(&1);
        assert!(l.check_at(&1, t0));
        assert!(l.check_at(&1, t0));
        assert!(!l.check_at(&1, t0));
    }

    #[test]
    fn zero_is_unlimited_and_quota_changes_live() {
        let l = RateLimiter::new(Quota::UNLIMITED);
        let t0 = Instant::now();
        assert!((0..10_000).all(|_| l.check_at(&"a", t0)));
        l.set_quota(Quota {
            per_sec: 1,
            burst: 1,
        });
        assert!(l.check_at(&"a", t0));
        assert!(!l.check_at(&"a", t0));
    }
}
