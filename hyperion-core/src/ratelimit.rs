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

use crate::keys::KeyId;

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

/// GCRA state of every limited key.
pub(crate) struct RateLimiter {
    /// Theoretical arrival time per key.
    tat: Mutex<HashMap<KeyId, Instant>>,
    max_keys: usize,
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::new(100_000)
    }
}

/// The emission interval and burst tolerance of a limit per minute.
fn cell(limit_per_min: u32) -> (Duration, Duration) {
    let interval = WINDOW / limit_per_min.max(1);
    (interval, WINDOW - interval)
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl RateLimiter {
    /// A limiter that tracks at most `max_keys` keys at a time.
    pub(crate) fn new(max_keys: usize) -> Self {
        RateLimiter {
            tat: Mutex::default(),
            max_keys: max_keys.max(1),
        }
    }

    /// Decides one request of `key`, limited to `limit_per_min`, at `now`.
    #[cfg(test)]
    fn check(&self, key: &KeyId, limit_per_min: u32, now: Instant) -> RateDecision {
        self.check_all(&[(key, limit_per_min)], now)
    }

    /// Decides one request that counts against every `(key, limit)` of a
    /// minting chain at once: it passes only if every key has room, and then
    /// uses room in each; when refused, nothing is used and the answer waits
    /// for the slowest key. The decision shown is the tightest one.
    pub(crate) fn check_all(&self, keys: &[(&KeyId, u32)], now: Instant) -> RateDecision {
        let mut tats = self.tat.lock().unwrap_or_else(PoisonError::into_inner);
        // First look: does every key have room?
        let refused = keys
            .iter()
            .filter_map(|(key, limit)| {
                let (_, tolerance) = cell(*limit);
                let tat = tats.get(*key).copied().unwrap_or(now).max(now);
                let backlog = tat - now;
                (backlog > tolerance).then(|| RateDecision {
                    allowed: false,
                    limit: (*limit).max(1),
                    remaining: 0,
                    reset_secs: ceil_secs(backlog),
                    retry_after_secs: ceil_secs(backlog - tolerance).max(1),
                })
            })
            .max_by_key(|decision| decision.retry_after_secs);
        if let Some(decision) = refused {
            return decision;
        }
        // Then use one cell of each.
        let mut tightest: Option<RateDecision> = None;
        for (key, limit) in keys {
            let (interval, tolerance) = cell(*limit);
            let tat = tats.get(*key).copied().unwrap_or(now).max(now);
            let next = tat + interval;
            if tats.len() >= self.max_keys && !tats.contains_key(*key) {
                Self::prune(&mut tats, now, self.max_keys);
            }
            tats.insert((*key).clone(), next);
            let backlog = next - now;
            // The next request passes while its backlog stays within the tolerance.
            let remaining = if backlog > tolerance {
                0
            } else {
                ((tolerance - backlog).as_nanos() / interval.as_nanos()) as u32 + 1
            };
            let decision = RateDecision {
                allowed: true,
                limit: (*limit).max(1),
                remaining,
                reset_secs: ceil_secs(backlog),
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
        let limiter = RateLimiter::default();
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
        let limiter = RateLimiter::default();
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
        let limiter = RateLimiter::new(100);
        let now = Instant::now();
        for n in 0..1000 {
            limiter.check(&key(n), 10, now);
        }
        assert!(limiter.tracked_keys() <= 100);
    }

    #[test]
    fn a_chain_shares_its_parents_limit_and_a_refusal_uses_nothing() {
        let limiter = RateLimiter::default();
        let t = Instant::now();
        let (child, sibling, parent) = (key(1), key(2), key(3));
        // The parent allows 3 a minute; its two children 3 each.
        let passed = (0..6)
            .filter(|n| {
                let me = if n % 2 == 0 { &child } else { &sibling };
                limiter.check_all(&[(me, 3), (&parent, 3)], t).allowed
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
        let refused = limiter.check_all(&[(&child, 3), (&parent, 3)], t);
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after_secs, 20);
    }
}
