//! Per-key rate limits with GCRA (the generic cell rate algorithm): smooth,
//! exact, one timestamp per key. A key allowed `L` requests a minute gets one
//! every `60/L` s, with a burst of up to `L`; when refused, the answer says
//! exactly how long until one more request would pass.
//!
//! Memory stays bounded: a key whose state has fully recovered carries no
//! information and is dropped; past `max_keys`, the most recovered keys go.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::keys::KeyId;
use crate::store::StoreError;

/// The window the limits are expressed in.
const WINDOW: Duration = Duration::from_secs(60);

/// What the limiter decided, with what the `RateLimit` headers show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateDecision {
    /// Whether the request may go on.
    pub allowed: bool,
    /// The key's limit per minute.
    pub limit: u32,
    /// Requests still allowed right now.
    pub remaining: u32,
    /// Whole seconds (rounded up) until the key is back to its full burst.
    pub reset_secs: u64,
    /// When refused: whole seconds (rounded up) until one request would pass.
    pub retry_after_secs: u64,
}

/// Where the rate limits' state lives. One process keeps it in memory
/// ([`MemoryRateLimiter`], the default); replicas that serve one cluster
/// share it in their database, so that a key gets its limit once in all.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait RateLimitStore: Send + Sync {
    /// Decides one request that counts against every `(key, limit per
    /// minute)` of a minting chain at once: it passes only if every key has
    /// room, and then uses room in each; when refused, nothing is used and
    /// the answer waits for the slowest key. The decision shown is the
    /// tightest one. [`rate_decision`] does the arithmetic.
    async fn check_all(&self, keys: &[(KeyId, u32)]) -> Result<RateDecision, StoreError>;
}

/// The GCRA arithmetic of [`RateLimitStore::check_all`], for a store that
/// keeps each key's theoretical arrival time: given each key's backlog now
/// (how far its arrival time is ahead of now, zero if behind) and limit,
/// answers the decision and, when allowed, each key's backlog after it.
pub fn rate_decision(backlogs: &[(Duration, u32)]) -> (RateDecision, Option<Vec<Duration>>) {
    let mut after = Vec::with_capacity(backlogs.len());
    let decision = decide(backlogs, |next| after.push(next));
    (decision, decision.allowed.then_some(after))
}

/// [`rate_decision`], handing each key's backlog after an allowed request
/// to `allowed`, in order (so that a store can write them where they go).
fn decide(backlogs: &[(Duration, u32)], mut allowed: impl FnMut(Duration)) -> RateDecision {
    let refused = backlogs
        .iter()
        .filter_map(|&(backlog, limit)| {
            let (_, tolerance) = cell(limit);
            (backlog > tolerance).then(|| RateDecision {
                allowed: false,
                limit: limit.max(1),
                remaining: 0,
                reset_secs: ceil_secs(backlog),
                retry_after_secs: ceil_secs(backlog - tolerance).max(1),
            })
        })
        .max_by_key(|decision| decision.retry_after_secs);
    if let Some(decision) = refused {
        return decision;
    }
    let mut tightest: Option<RateDecision> = None;
    for &(backlog, limit) in backlogs {
        let (interval, tolerance) = cell(limit);
        let next = backlog + interval;
        allowed(next);
        // The next request passes while its backlog stays within the tolerance.
        let remaining = if next > tolerance {
            0
        } else {
            // Within a minute: the nanoseconds fit a u64 (no u128 division).
            let (room, interval) = (duration_nanos(tolerance - next), duration_nanos(interval));
            u32::try_from(room / interval.max(1)).unwrap_or(u32::MAX - 1) + 1
        };
        let decision = RateDecision {
            allowed: true,
            limit: limit.max(1),
            remaining,
            reset_secs: ceil_secs(next),
            retry_after_secs: 0,
        };
        if tightest.is_none_or(|t| decision.remaining < t.remaining) {
            tightest = Some(decision);
        }
    }
    tightest.unwrap_or(RateDecision {
        allowed: true,
        limit: 0,
        remaining: 0,
        reset_secs: 0,
        retry_after_secs: 0,
    })
}

/// Keys of a chain decided without a heap allocation (a minting chain
/// holds at most 8 keys; a longer list is still decided, on the heap).
const KEYS_ON_STACK: usize = 8;

/// Rate limits of one process: one timestamp per limited key.
pub struct MemoryRateLimiter {
    /// Theoretical arrival time per key.
    tat: Mutex<HashMap<KeyId, Instant>>,
    max_keys: usize,
}

impl Default for MemoryRateLimiter {
    fn default() -> Self {
        Self::new(100_000)
    }
}

/// The emission interval and burst tolerance of a limit per minute.
fn cell(limit_per_min: u32) -> (Duration, Duration) {
    let interval = WINDOW / limit_per_min.max(1);
    (interval, WINDOW - interval)
}

fn duration_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

#[async_trait]
impl RateLimitStore for MemoryRateLimiter {
    async fn check_all(&self, keys: &[(KeyId, u32)]) -> Result<RateDecision, StoreError> {
        Ok(self.check_all_at(keys, Instant::now()))
    }
}

impl MemoryRateLimiter {
    /// A limiter that tracks at most `max_keys` keys at a time.
    pub fn new(max_keys: usize) -> Self {
        MemoryRateLimiter {
            tat: Mutex::default(),
            max_keys: max_keys.max(1),
        }
    }

    /// Decides one request of `key`, limited to `limit_per_min`, at `now`.
    #[cfg(test)]
    fn check(&self, key: &KeyId, limit_per_min: u32, now: Instant) -> RateDecision {
        self.check_all_at(&[(key.clone(), limit_per_min)], now)
    }

    /// [`RateLimitStore::check_all`] at `now`.
    fn check_all_at(&self, keys: &[(KeyId, u32)], now: Instant) -> RateDecision {
        let mut tats = self.tat.lock().unwrap_or_else(PoisonError::into_inner);
        let backlog_of = |(key, limit): &(KeyId, u32)| {
            let backlog = tats
                .get(key)
                .map_or(Duration::ZERO, |tat| tat.saturating_duration_since(now));
            (backlog, *limit)
        };
        let mut on_stack = [(Duration::ZERO, 0); KEYS_ON_STACK];
        let on_heap: Vec<(Duration, u32)>;
        let backlogs: &[(Duration, u32)] = if keys.len() <= KEYS_ON_STACK {
            for (slot, key) in on_stack.iter_mut().zip(keys) {
                *slot = backlog_of(key);
            }
            &on_stack[..keys.len()]
        } else {
            on_heap = keys.iter().map(backlog_of).collect();
            &on_heap
        };
        let mut next_key = keys.iter();
        decide(backlogs, |backlog| {
            let Some((key, _)) = next_key.next() else {
                return;
            };
            if let Some(tat) = tats.get_mut(key) {
                *tat = now + backlog;
                return;
            }
            if tats.len() >= self.max_keys {
                Self::prune(&mut tats, now, self.max_keys);
            }
            tats.insert(key.clone(), now + backlog);
        })
    }

    /// Drops recovered keys; if still full, the keys closest to recovery.
    fn prune(tats: &mut HashMap<KeyId, Instant>, now: Instant, max_keys: usize) {
        tats.retain(|_, tat| *tat > now);
        if tats.len() >= max_keys {
            let mut by_tat: Vec<(Instant, KeyId)> =
                tats.iter().map(|(k, t)| (*t, k.clone())).collect();
            by_tat.sort_unstable_by_key(|(tat, _)| *tat);
            for (_, key) in by_tat.into_iter().take(tats.len() + 1 - max_keys) {
                tats.remove(&key);
            }
        }
    }

    /// How many keys are tracked now.
    #[cfg(test)]
    fn tracked_keys(&self) -> usize {
        self.tat
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u32) -> KeyId {
        KeyId::parse(&format!("key_{n}")).unwrap()
    }

    #[test]
    fn allows_the_burst_then_says_the_true_wait() {
        let limiter = MemoryRateLimiter::default();
        let start = Instant::now();
        for n in 0..6 {
            let d = limiter.check(&key(1), 6, start);
            assert!(d.allowed, "request {n}");
            assert_eq!(d.remaining, 5 - n);
        }
        let refused = limiter.check(&key(1), 6, start);
        assert!(!refused.allowed);
        // One request every 10 s: the next passes 10 s after the burst.
        assert_eq!(refused.retry_after_secs, 10);
        assert_eq!(refused.reset_secs, 60);
        let later = limiter.check(&key(1), 6, start + Duration::from_millis(9_500));
        assert_eq!(later.retry_after_secs, 1);
        assert!(
            limiter
                .check(&key(1), 6, start + Duration::from_secs(10))
                .allowed
        );
        // Other keys are untouched.
        assert!(limiter.check(&key(2), 6, start).allowed);
    }

    #[test]
    fn refills_smoothly() {
        let limiter = MemoryRateLimiter::default();
        let start = Instant::now();
        for _ in 0..60 {
            assert!(limiter.check(&key(1), 60, start).allowed);
        }
        assert!(!limiter.check(&key(1), 60, start).allowed);
        let d = limiter.check(&key(1), 60, start + Duration::from_secs(30));
        assert!(d.allowed);
        assert_eq!(d.remaining, 29);
    }

    #[test]
    fn memory_stays_bounded() {
        let limiter = MemoryRateLimiter::new(100);
        let now = Instant::now();
        for n in 0..1000 {
            limiter.check(&key(n), 10, now);
        }
        assert!(limiter.tracked_keys() <= 100);
    }

    #[test]
    fn a_chain_shares_its_parents_limit_and_a_refusal_uses_nothing() {
        let limiter = MemoryRateLimiter::default();
        let t = Instant::now();
        let (child, sibling, parent) = (key(1), key(2), key(3));
        // The parent allows 3 a minute; its two children 3 each.
        let passed = (0..6)
            .filter(|n| {
                let me = if n % 2 == 0 { &child } else { &sibling };
                limiter
                    .check_all_at(&[(me.clone(), 3), (parent.clone(), 3)], t)
                    .allowed
            })
            .count();
        assert_eq!(passed, 3, "the family shares the parent's 3");
        // A refusal by the parent used none of the child's room.
        let alone = limiter.check(&sibling, 3, t);
        assert!(alone.allowed);
        assert_eq!(
            alone.remaining, 1,
            "the sibling had used one of its own 3 cells"
        );
        let refused = limiter.check_all_at(&[(child.clone(), 3), (parent.clone(), 3)], t);
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after_secs, 20);
    }
}
