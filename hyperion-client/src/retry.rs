//! When a call is tried again, and how long it waits first.
//!
//! The contract's rules: a 429 waits exactly its `Retry-After` and may be
//! sent again whatever the method (the API did nothing). A 502, 503 or 504,
//! or a broken connection, is tried again only where repeating is safe:
//! `GET`, and a `POST` sent with an `Idempotency-Key` (the API runs it at
//! most once per key). A connection that was never made is safe for every
//! method. Attempts and total time are bounded.

use std::time::Duration;

/// How persistent a client is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1: never try again).
    pub max_attempts: u32,
    /// Time from the first attempt after which no new attempt starts.
    pub max_elapsed: Duration,
    /// The wait before the second attempt; doubled for each one after.
    pub base_delay: Duration,
    /// The longest wait between two attempts (before jitter).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            max_elapsed: Duration::from_secs(60),
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// Never try again.
    pub fn never() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The wait after failed attempt number `attempt` (1-based): capped
    /// exponential backoff, with up to half of it again as random jitter so
    /// that many clients do not retry in step.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(16);
        let delay = self
            .base_delay
            .saturating_mul(1 << exponent)
            .min(self.max_delay);
        delay + delay.mul_f64(jitter() / 2.0)
    }
}

/// A random fraction in `[0, 1)`.
fn jitter() -> f64 {
    let mut bytes = [0u8; 4];
    if getrandom::fill(&mut bytes).is_err() {
        return 0.5;
    }
    f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap_with_bounded_jitter() {
        let policy = RetryPolicy::default();
        for (attempt, base) in [(1, 200), (2, 400), (3, 800), (6, 5000), (30, 5000)] {
            let wait = policy.backoff(attempt);
            let base = Duration::from_millis(base);
            assert!(
                wait >= base && wait <= base + base / 2,
                "{attempt}: {wait:?}"
            );
        }
    }
}
