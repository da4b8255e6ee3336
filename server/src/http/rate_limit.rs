//! Rate limits, kept per process: each replica counts the requests it
//! serves, so behind a load balancer that spreads a client over N replicas
//! the client gets up to N times the limit. That bounds what one client
//! costs a replica, which is what the limits are for; a limit shared by all
//! replicas would cost a database round trip per request.
//!
//! Each limit is a generic cell rate algorithm (GCRA) over one time per
//! key: `per_minute` requests a minute on average, up to `burst` at once.
//! A key whose time has passed is as good as new, so idle keys are dropped
//! whenever a shard grows, and memory stays bounded by the keys active in
//! the last `burst / per_minute` minutes.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How many requests a limit lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Requests a minute, on average.
    pub per_minute: u32,
    /// Requests at once, after a quiet spell.
    pub burst: u32,
}

/// What a limit said of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Let through; this many more would be now.
    Allowed { remaining: u32 },
    /// Refused: wait this long (rounded up to whole seconds in headers).
    Refused { retry_after: Duration },
}

/// The limits' settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// Every request by one client address.
    pub address: Rate,
    /// The purchases, holds and confirmations of one buyer.
    pub buyer: Rate,
}

/// The limits a server keeps.
#[derive(Debug)]
pub struct RateLimits {
    pub address: Limiter<IpAddr>,
    pub buyer: Limiter<uuid::Uuid>,
}

impl RateLimits {
    pub fn new(settings: RateLimitSettings) -> Self {
        Self {
            address: Limiter::new("per-address", settings.address),
            buyer: Limiter::new("per-buyer", settings.buyer),
        }
    }
}

const SHARDS: usize = 16;

/// A rate limit over keys of type `K`.
#[derive(Debug)]
pub struct Limiter<K> {
    /// The name the headers and metrics give it.
    pub name: &'static str,
    pub rate: Rate,
    interval: Duration,
    tolerance: Duration,
    epoch: Instant,
    hasher: std::collections::hash_map::RandomState,
    shards: [Mutex<HashMap<K, Duration>>; SHARDS],
}

impl<K: Hash + Eq + Clone> Limiter<K> {
    pub fn new(name: &'static str, rate: Rate) -> Self {
        let interval = Duration::from_secs(60) / rate.per_minute.max(1);
        Self {
            name,
            rate,
            interval,
            tolerance: interval * rate.burst.max(1).saturating_sub(1),
            epoch: Instant::now(),
            hasher: std::collections::hash_map::RandomState::new(),
            shards: std::array::from_fn(|_| Mutex::new(HashMap::new())),
        }
    }

    /// Counts one request by `key` at `now`.
    pub fn check(&self, key: &K, now: Instant) -> Verdict {
        let now = now.saturating_duration_since(self.epoch);
        let shard = &self.shards[usize::try_from(self.hasher.hash_one(key)).unwrap_or(0) % SHARDS];
        let mut times = shard.lock().unwrap_or_else(PoisonError::into_inner);
        // The theoretical arrival time of the key's next request.
        let due = times.get(key).copied().unwrap_or(now).max(now);
        let ahead = due.saturating_sub(now);
        if ahead > self.tolerance {
            return Verdict::Refused {
                retry_after: ahead.saturating_sub(self.tolerance),
            };
        }
        let next = due + self.interval;
        if times.len() >= 4096 && !times.contains_key(key) {
            times.retain(|_, time| *time > now);
        }
        times.insert(key.clone(), next);
        let headroom = (self.tolerance + self.interval).saturating_sub(next.saturating_sub(now));
        Verdict::Allowed {
            remaining: u32::try_from(headroom.as_nanos() / self.interval.as_nanos().max(1))
                .unwrap_or(u32::MAX),
        }
    }

    /// The `RateLimit-Policy` field of this limit (IETF draft
    /// draft-ietf-httpapi-ratelimit-headers): its quota over its window.
    pub fn policy(&self) -> String {
        let window = 60 * self.rate.burst.max(1) / self.rate.per_minute.max(1);
        format!(
            "\"{}\";q={};w={}",
            self.name,
            self.rate.burst,
            window.max(1)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_minute: u32, burst: u32) -> Limiter<u8> {
        Limiter::new("test", Rate { per_minute, burst })
    }

    #[test]
    fn a_burst_goes_through_then_the_rest_waits_its_turn() {
        let limiter = limiter(60, 3);
        let now = Instant::now();
        let verdicts: Vec<Verdict> = (0..4).map(|_| limiter.check(&1, now)).collect();
        assert_eq!(
            verdicts[..3],
            [
                Verdict::Allowed { remaining: 2 },
                Verdict::Allowed { remaining: 1 },
                Verdict::Allowed { remaining: 0 }
            ]
        );
        assert_eq!(
            verdicts[3],
            Verdict::Refused {
                retry_after: Duration::from_secs(1)
            }
        );
        // One interval later, one more goes through.
        assert!(matches!(
            limiter.check(&1, now + Duration::from_secs(1)),
            Verdict::Allowed { .. }
        ));
    }

    #[test]
    fn keys_are_counted_apart() {
        let limiter = limiter(60, 1);
        let now = Instant::now();
        assert!(matches!(limiter.check(&1, now), Verdict::Allowed { .. }));
        assert!(matches!(limiter.check(&1, now), Verdict::Refused { .. }));
        assert!(matches!(limiter.check(&2, now), Verdict::Allowed { .. }));
    }

    #[test]
    fn idle_keys_are_forgotten_as_a_shard_fills() {
        let limiter = Limiter::new(
            "test",
            Rate {
                per_minute: 60_000,
                burst: 1,
            },
        );
        let start = Instant::now();
        for key in 0..100_000_u32 {
            limiter.check(&key, start + Duration::from_millis(u64::from(key)));
        }
        let kept: usize = limiter
            .shards
            .iter()
            .map(|shard| shard.lock().expect("lock").len())
            .sum();
        assert!(kept < 16 * 4096, "{kept} keys kept");
    }

    #[test]
    fn the_policy_states_quota_and_window() {
        assert_eq!(limiter(1200, 200).policy(), "\"test\";q=200;w=10");
    }
}
