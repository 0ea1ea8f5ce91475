//! Key records in this process's memory.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, PoisonError, RwLock};

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::keys::{ApiKeyRecord, GrantLevel, KeyHash, KeyId, KeyStore};
use crate::model::HostingId;
use crate::store::StoreError;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CapSet;
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
