use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::GrantLevel;
use super::secret::KeyHash;
use super::{ApiKeyRecord, KeyId};
use crate::model::{HostingId, OwnerId};
use crate::store::StoreError;

/// Where key records live. The integrator may implement it over their own
/// database; [`crate::memory::MemoryKeyStore`] is the in-memory one.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Stores a new record.
    async fn insert(&self, record: ApiKeyRecord) -> Result<(), StoreError>;
    /// The record whose hash is `hash`: how a presented key is looked up.
    async fn find_by_hash(&self, hash: &KeyHash) -> Result<Option<Arc<ApiKeyRecord>>, StoreError>;
    /// The record with id `id`.
    async fn get(&self, id: &KeyId) -> Result<Option<Arc<ApiKeyRecord>>, StoreError>;
    /// Every record, in id order.
    async fn list(&self) -> Result<Vec<ApiKeyRecord>, StoreError>;
    /// Up to `limit` records with an id greater than `after`, in id order:
    /// how `GET /keys` pages without loading every key. The default reads
    /// [`KeyStore::list`]; a store over a database should override it.
    async fn list_page(
        &self,
        after: Option<KeyId>,
        limit: usize,
    ) -> Result<Vec<ApiKeyRecord>, StoreError> {
        Ok(self
            .list()
            .await?
            .into_iter()
            .filter(|key| after.as_ref().is_none_or(|after| key.id > *after))
            .take(limit)
            .collect())
    }
    /// The records of `owner` that are not revoked (expired ones included):
    /// what the per-owner cap and the label check count. The default reads
    /// [`KeyStore::list`]; a store over a database should override it.
    async fn unrevoked_of_owner(&self, owner: &OwnerId) -> Result<Vec<ApiKeyRecord>, StoreError> {
        Ok(self
            .list()
            .await?
            .into_iter()
            .filter(|key| key.owner == *owner && key.revoked_at.is_none())
            .collect())
    }
    /// Adds a grant to a grants-scoped key (a hosting it just created);
    /// `false` if there is no such key. Keys with scope all are left alone.
    async fn add_grant(
        &self,
        id: &KeyId,
        hosting: &HostingId,
        level: GrantLevel,
    ) -> Result<bool, StoreError>;
    /// Marks the key revoked at `at`; `false` if there is no such key.
    /// Revoking twice keeps the first time.
    async fn revoke(&self, id: &KeyId, at: OffsetDateTime) -> Result<bool, StoreError>;
    /// Holds every other process sharing this store off key changes until
    /// the answer is dropped. A mint or a revocation first checks (the
    /// per-owner cap, the unique label, the last admin key) and then
    /// writes; two processes must not both pass the check. A process
    /// already serializes its own changes, so a store only it uses needs
    /// nothing (the default); a store shared by replicas takes a lock
    /// there (PostgreSQL: an advisory lock).
    async fn lock_changes(&self) -> Result<KeyChangeLock, StoreError> {
        Ok(KeyChangeLock::none())
    }
}

/// A hold on key changes across processes (see [`KeyStore::lock_changes`]),
/// released when dropped.
pub struct KeyChangeLock(Option<Box<dyn Send + Sync>>);

impl KeyChangeLock {
    /// No hold: the store is used by one process.
    pub fn none() -> Self {
        KeyChangeLock(None)
    }

    /// A hold that lasts as long as `guard`, which releases it when dropped.
    pub fn holding(guard: impl Send + Sync + 'static) -> Self {
        KeyChangeLock(Some(Box::new(guard)))
    }
}

impl std::fmt::Debug for KeyChangeLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "KeyChangeLock(held)"
        } else {
            "KeyChangeLock(none)"
        })
    }
}
