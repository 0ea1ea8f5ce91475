//! Per-key rate limits with GCRA (the generic cell rate algorithm): smooth,
//! exact, one timestamp per key. A key allowed `L` requests a minute gets one
//! every `60/L` s, with a burst of up to `L`; when refused, the answer says
//! exactly how long until one more request would pass.
//! The decision is here; where the timestamps are kept is a
//! [`RateLimitStore`] (this process's memory:
//! [`crate::memory::MemoryRateLimiter`]; replicas: PostgreSQL).

use std::time::Duration;

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
/// ([`crate::memory::MemoryRateLimiter`], the default); replicas that serve one cluster
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
pub(crate) fn decide(
    backlogs: &[(Duration, u32)],
    mut allowed: impl FnMut(Duration),
) -> RateDecision {
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
