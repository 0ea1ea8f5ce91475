//! Rate limits in this process's memory: one timestamp per limited key
//! (the GCRA of [`crate::ratelimit`]). Memory stays bounded: a key whose
//! state has fully recovered carries no information and is dropped; past
//! `max_keys`, the most recovered keys go.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::keys::KeyId;
use crate::ratelimit::{RateDecision, RateLimitStore, decide};
use crate::store::StoreError;

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
