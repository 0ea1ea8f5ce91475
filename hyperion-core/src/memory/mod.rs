//! Every in-memory store together: keys, owners, the audit log,
//! idempotency records, rate limits and the names of creates in flight. For examples, tests, benches and small deployments
//! that accept losing state on restart; `sqlite` (feature `sqlite`) has the
//! durable ones.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, PoisonError, RwLock};

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::CapSet;
use crate::keys::{ApiKeyRecord, GrantLevel, KeyHash, KeyId, KeyStore};
use crate::model::{HostingId, OwnerId};
use crate::owner::OwnerDirectory;
use crate::store::StoreError;

mod audit;
mod idempotency;

pub use crate::ratelimit::MemoryRateLimiter;
pub use crate::reservations::MemoryNameReservations;
pub use audit::{DEFAULT_AUDIT_WINDOW, MemoryAuditSink};
pub use idempotency::MemoryIdempotencyStore;

/// Key records in memory, indexed by id and by hash. Each record is shared
/// with the requests that present it; a change replaces it.
#[derive(Debug, Default)]
pub struct MemoryKeyStore {
    inner: RwLock<KeyTables>,
}

#[derive(Debug, Default)]
struct KeyTables {
    by_id: BTreeMap<KeyId, Arc<ApiKeyRecord>>,
    id_by_hash: HashMap<KeyHash, KeyId>,
}

impl MemoryKeyStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl KeyStore for MemoryKeyStore {
    async fn insert(&self, record: ApiKeyRecord) -> Result<(), StoreError> {
        let mut tables = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        if tables.by_id.contains_key(&record.id) || tables.id_by_hash.contains_key(&record.hash) {
            return Err(StoreError(
                "a key with this id or hash already exists".to_owned(),
            ));
        }
        tables.id_by_hash.insert(record.hash, record.id.clone());
        tables.by_id.insert(record.id.clone(), Arc::new(record));
        Ok(())
    }

    async fn find_by_hash(&self, hash: &KeyHash) -> Result<Option<Arc<ApiKeyRecord>>, StoreError> {
        let tables = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        Ok(tables
            .id_by_hash
            .get(hash)
            .and_then(|id| tables.by_id.get(id))
            .cloned())
    }

    async fn get(&self, id: &KeyId) -> Result<Option<Arc<ApiKeyRecord>>, StoreError> {
        let tables = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        Ok(tables.by_id.get(id).cloned())
    }

    async fn list(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let tables = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        Ok(tables
            .by_id
            .values()
            .map(|record| (**record).clone())
            .collect())
    }

    async fn add_grant(
        &self,
        id: &KeyId,
        hosting: &HostingId,
        level: GrantLevel,
    ) -> Result<bool, StoreError> {
        let mut tables = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        Ok(match tables.by_id.get_mut(id) {
            Some(record) => {
                Arc::make_mut(record)
                    .scope
                    .add_grant(hosting.clone(), level);
                true
            }
            None => false,
        })
    }

    async fn revoke(&self, id: &KeyId, at: OffsetDateTime) -> Result<bool, StoreError> {
        let mut tables = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        Ok(match tables.by_id.get_mut(id) {
            Some(record) => {
                if record.revoked_at.is_none() {
                    Arc::make_mut(record).revoked_at = Some(at);
                }
                true
            }
            None => false,
        })
    }
}

/// Owners and their capabilities in memory; change them at run time to see
/// every key of an owner shrink or die at once.
#[derive(Debug, Default)]
pub struct MemoryOwnerDirectory {
    owners: RwLock<HashMap<OwnerId, CapSet>>,
}

impl MemoryOwnerDirectory {
    /// An empty directory.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an owner or replaces its capabilities.
    pub fn set(&self, owner: OwnerId, caps: CapSet) {
        self.owners
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(owner, caps);
    }

    /// Removes an owner: its keys stop working.
    pub fn remove(&self, owner: &OwnerId) {
        self.owners
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(owner);
    }
}

#[async_trait]
impl OwnerDirectory for MemoryOwnerDirectory {
    async fn current_caps(&self, owner: &OwnerId) -> Result<Option<CapSet>, StoreError> {
        Ok(self
            .owners
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(owner)
            .copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::NewKey;

    #[tokio::test]
    async fn keys_are_found_by_hash_and_revoked_once() {
        let store = MemoryKeyStore::new();
        let minted = NewKey::new("k", "o".parse().unwrap(), CapSet::all()).mint();
        store.insert(minted.record.clone()).await.unwrap();
        assert!(store.insert(minted.record.clone()).await.is_err());
        let found = store
            .find_by_hash(&minted.secret.hash())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.id, minted.record.id);
        let first = crate::model::now();
        assert!(store.revoke(&found.id, first).await.unwrap());
        assert!(
            store
                .revoke(&found.id, first + time::Duration::hours(1))
                .await
                .unwrap()
        );
        let revoked = store.get(&found.id).await.unwrap().unwrap();
        assert_eq!(revoked.revoked_at, Some(first));
        assert!(
            !store
                .revoke(&KeyId::parse("key_none").unwrap(), first)
                .await
                .unwrap()
        );
    }
}
