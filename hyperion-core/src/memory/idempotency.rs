//! The in-memory idempotency store: bounded in entries and in time.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::idempotency::{
    Claim, DEFAULT_IDEMPOTENCY_TTL, IdempotencyScope, IdempotencyStore, StoredResponse,
};
use crate::store::StoreError;

enum Entry {
    InFlight {
        fingerprint: [u8; 32],
    },
    Done {
        fingerprint: [u8; 32],
        response: StoredResponse,
        at: Instant,
    },
}

/// Records in memory. Kept answers expire after the TTL; past `max_entries`
/// kept answers the oldest go first, so memory stays bounded. Answers are
/// queued in the order they were kept, so finding the oldest costs nothing
/// (eviction is amortised O(1), never a scan).
pub struct MemoryIdempotencyStore {
    records: Mutex<Records>,
    ttl: Duration,
    max_entries: usize,
}

#[derive(Default)]
struct Records {
    entries: HashMap<IdempotencyScope, Entry>,
    /// Every kept answer, oldest first, with the instant it was kept; an
    /// item whose entry has since changed is skipped when it comes up.
    kept_order: VecDeque<(Instant, IdempotencyScope)>,
}

impl Default for MemoryIdempotencyStore {
    fn default() -> Self {
        Self::new(DEFAULT_IDEMPOTENCY_TTL, 100_000)
    }
}

impl MemoryIdempotencyStore {
    /// A store keeping answers for `ttl`, at most `max_entries` of them.
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        MemoryIdempotencyStore {
            records: Mutex::default(),
            ttl,
            max_entries: max_entries.max(1),
        }
    }

    /// Drops expired answers, then the oldest past the bound.
    fn evict(&self, records: &mut Records) {
        let now = Instant::now();
        while let Some((at, _)) = records.kept_order.front() {
            let expired = now.duration_since(*at) >= self.ttl;
            if !expired && records.kept_order.len() <= self.max_entries {
                break;
            }
            let Some((at, scope)) = records.kept_order.pop_front() else {
                break;
            };
            if matches!(records.entries.get(&scope), Some(Entry::Done { at: kept, .. }) if *kept == at)
            {
                records.entries.remove(&scope);
            }
        }
    }
}

#[async_trait]
impl IdempotencyStore for MemoryIdempotencyStore {
    async fn claim(
        &self,
        scope: &IdempotencyScope,
        fingerprint: [u8; 32],
    ) -> Result<Claim, StoreError> {
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        self.evict(&mut records);
        let entries = &mut records.entries;
        if let Some(Entry::Done { at, .. }) = entries.get(scope)
            && at.elapsed() >= self.ttl
        {
            entries.remove(scope);
        }
        Ok(match entries.get(scope) {
            None => {
                entries.insert(scope.clone(), Entry::InFlight { fingerprint });
                Claim::Fresh
            }
            Some(
                Entry::InFlight { fingerprint: held }
                | Entry::Done {
                    fingerprint: held, ..
                },
            ) if *held != fingerprint => Claim::Mismatch,
            Some(Entry::InFlight { .. }) => Claim::InFlight,
            Some(Entry::Done { response, .. }) => Claim::Replay(response.clone()),
        })
    }

    async fn complete(
        &self,
        scope: &IdempotencyScope,
        response: StoredResponse,
    ) -> Result<(), StoreError> {
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        let fingerprint = match records.entries.get(scope) {
            Some(Entry::InFlight { fingerprint }) => *fingerprint,
            _ => {
                return Err(StoreError(
                    "completing an idempotency key that is not in flight".to_owned(),
                ));
            }
        };
        let at = Instant::now();
        records.entries.insert(
            scope.clone(),
            Entry::Done {
                fingerprint,
                response,
                at,
            },
        );
        records.kept_order.push_back((at, scope.clone()));
        self.evict(&mut records);
        Ok(())
    }

    async fn release(&self, scope: &IdempotencyScope) -> Result<(), StoreError> {
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        if matches!(records.entries.get(scope), Some(Entry::InFlight { .. })) {
            records.entries.remove(scope);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::keys::KeyId;

    fn scope(key: &str) -> IdempotencyScope {
        IdempotencyScope {
            api_key: KeyId::parse("key_a").unwrap(),
            key: key.to_owned(),
        }
    }

    fn response() -> StoredResponse {
        StoredResponse {
            status: 201,
            headers: vec![("location".into(), "/x".into())],
            body: Bytes::from_static(b"{}"),
        }
    }

    #[tokio::test]
    async fn claim_complete_replay_mismatch() {
        let store = MemoryIdempotencyStore::default();
        assert_eq!(store.claim(&scope("k"), [1; 32]).await, Ok(Claim::Fresh));
        assert_eq!(store.claim(&scope("k"), [1; 32]).await, Ok(Claim::InFlight));
        assert_eq!(store.claim(&scope("k"), [2; 32]).await, Ok(Claim::Mismatch));
        store.complete(&scope("k"), response()).await.unwrap();
        assert_eq!(
            store.claim(&scope("k"), [1; 32]).await,
            Ok(Claim::Replay(response()))
        );
        assert_eq!(store.claim(&scope("k"), [2; 32]).await, Ok(Claim::Mismatch));
        // Another API key with the same idempotency key is another scope.
        let other = IdempotencyScope {
            api_key: KeyId::parse("key_b").unwrap(),
            key: "k".into(),
        };
        assert_eq!(store.claim(&other, [1; 32]).await, Ok(Claim::Fresh));
    }

    #[tokio::test]
    async fn released_claims_run_again_and_old_answers_expire() {
        let store = MemoryIdempotencyStore::new(Duration::from_millis(0), 10);
        assert_eq!(store.claim(&scope("k"), [1; 32]).await, Ok(Claim::Fresh));
        store.release(&scope("k")).await.unwrap();
        assert_eq!(store.claim(&scope("k"), [1; 32]).await, Ok(Claim::Fresh));
        store.complete(&scope("k"), response()).await.unwrap();
        assert_eq!(store.claim(&scope("k"), [1; 32]).await, Ok(Claim::Fresh));
    }

    #[tokio::test]
    async fn a_full_store_keeps_the_newest_answers() {
        let store = MemoryIdempotencyStore::new(DEFAULT_IDEMPOTENCY_TTL, 1000);
        for n in 0..5000 {
            let key = format!("k{n}");
            store.claim(&scope(&key), [1; 32]).await.unwrap();
            store.complete(&scope(&key), response()).await.unwrap();
        }
        let records = store.records.lock().unwrap();
        assert_eq!(records.entries.len(), 1000);
        assert_eq!(records.kept_order.len(), 1000);
        assert!(records.entries.contains_key(&scope("k4999")));
        assert!(!records.entries.contains_key(&scope("k3999")));
    }

    #[tokio::test]
    async fn kept_answers_are_bounded() {
        let store = MemoryIdempotencyStore::new(DEFAULT_IDEMPOTENCY_TTL, 2);
        for key in ["a", "b", "c"] {
            store.claim(&scope(key), [1; 32]).await.unwrap();
            store.complete(&scope(key), response()).await.unwrap();
        }
        assert_eq!(store.claim(&scope("a"), [1; 32]).await, Ok(Claim::Fresh));
        assert!(matches!(
            store.claim(&scope("c"), [1; 32]).await,
            Ok(Claim::Replay(_))
        ));
    }
}
