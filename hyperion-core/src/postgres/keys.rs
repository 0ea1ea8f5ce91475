use async_trait::async_trait;
use time::OffsetDateTime;
use tokio_postgres::Row;

use std::sync::Arc;

use super::key_cache;
use super::{Database, store_error};
use crate::CapSet;
use crate::keys::{
    ApiKeyRecord, GrantLevel, KeyChangeLock, KeyHash, KeyId, KeyRecordCache, KeyScope, KeyStore,
};
use crate::model::{HostingId, OwnerId};
use crate::store::StoreError;
use crate::store::columns::KEYS as COLUMNS;

/// API keys in PostgreSQL: the SHA-256 of each key, never the key. A
/// replica keeps the records it read only while it hears every replica's
/// changes, so a revocation holds on every replica at once.
#[derive(Clone)]
pub struct PostgresKeyStore {
    db: Database,
    cache: Arc<KeyRecordCache>,
}

impl PostgresKeyStore {
    /// The key store of `db`, with a cache of the records it read that
    /// listens for every replica's key changes (needs a tokio runtime).
    pub fn new(db: Database) -> Self {
        let cache = key_cache::start(&db);
        PostgresKeyStore { db, cache }
    }

    /// The record whose `column` (`id` or `hash`) is `value`, read from the
    /// database and kept in the cache unless a change was heard meanwhile.
    async fn read_one(
        &self,
        column: &'static str,
        value: &(dyn tokio_postgres::types::ToSql + Sync),
    ) -> Result<Option<Arc<ApiKeyRecord>>, StoreError> {
        let ticket = self.cache.ticket();
        let client = self.db.client().await?;
        let statement = client
            .prepare_cached(&format!("SELECT {COLUMNS} FROM keys WHERE {column} = $1"))
            .await
            .map_err(store_error)?;
        let row = client
            .query_opt(&statement, &[value])
            .await
            .map_err(store_error)?;
        let found = row.as_ref().map(record).transpose()?.map(Arc::new);
        if let Some(found) = &found {
            self.cache.keep(ticket, found);
        }
        Ok(found)
    }

    /// Whether any key exists (a fresh database mints its first admin key).
    pub async fn is_empty(&self) -> Result<bool, StoreError> {
        let client = self.db.client().await?;
        let row = client
            .query_one("SELECT NOT EXISTS (SELECT 1 FROM keys)", &[])
            .await
            .map_err(store_error)?;
        Ok(row.get(0))
    }
}

/// Tells every replica (this one too) that key `id` changed, when `tx`
/// commits.
async fn announce(tx: &deadpool_postgres::Transaction<'_>, id: &KeyId) -> Result<(), StoreError> {
    tx.execute(
        "SELECT pg_notify($1, $2)",
        &[&key_cache::CHANNEL, &id.as_str()],
    )
    .await
    .map_err(store_error)?;
    Ok(())
}

fn corrupt(what: &str, err: impl std::fmt::Display) -> StoreError {
    StoreError(format!("postgres: corrupt {what}: {err}"))
}

fn record(row: &Row) -> Result<ApiKeyRecord, StoreError> {
    let hash: Vec<u8> = row.get(1);
    let hash: [u8; 32] = hash
        .try_into()
        .map_err(|_| corrupt("key hash", "not 32 bytes"))?;
    let created_by: Option<String> = row.get(10);
    Ok(ApiKeyRecord {
        id: row
            .get::<_, String>(0)
            .parse()
            .map_err(|e| corrupt("key id", e))?,
        hash: KeyHash::from_bytes(hash),
        prefix: row.get(2),
        label: row.get(3),
        owner: row
            .get::<_, String>(4)
            .parse()
            .map_err(|e| corrupt("owner", e))?,
        caps: CapSet::from_bits(u32::try_from(row.get::<_, i64>(5)).unwrap_or(0)),
        scope: serde_json::from_str(row.get(6)).map_err(|e| corrupt("scope", e))?,
        created_at: row.get(7),
        expires_at: row.get(8),
        revoked_at: row.get(9),
        created_by: created_by
            .map(|id| id.parse().map_err(|e| corrupt("key id", e)))
            .transpose()?,
        ip_allowlist: serde_json::from_str(row.get(11)).map_err(|e| corrupt("allowlist", e))?,
        rate_limit_per_min: u32::try_from(row.get::<_, i64>(12)).unwrap_or(u32::MAX),
    })
}

fn records(rows: &[Row]) -> Result<Vec<ApiKeyRecord>, StoreError> {
    rows.iter().map(record).collect()
}

#[async_trait]
impl KeyStore for PostgresKeyStore {
    async fn insert(&self, key: ApiKeyRecord) -> Result<(), StoreError> {
        let scope = serde_json::to_string(&key.scope).map_err(store_error)?;
        let allowlist = serde_json::to_string(&key.ip_allowlist).map_err(store_error)?;
        let client = self.db.client().await?;
        client
            .execute(
                &format!(
                    "INSERT INTO keys ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
                ),
                &[
                    &key.id.as_str(),
                    &key.hash.as_bytes().as_slice(),
                    &key.prefix,
                    &key.label,
                    &key.owner.as_str(),
                    &i64::from(key.caps.bits()),
                    &scope,
                    &key.created_at,
                    &key.expires_at,
                    &key.revoked_at,
                    &key.created_by.as_ref().map(KeyId::as_str),
                    &allowlist,
                    &i64::from(key.rate_limit_per_min),
                ],
            )
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn find_by_hash(&self, hash: &KeyHash) -> Result<Option<Arc<ApiKeyRecord>>, StoreError> {
        match self.cache.by_hash(hash) {
            Some(hit) => Ok(Some(hit)),
            None => self.read_one("hash", &hash.as_bytes().as_slice()).await,
        }
    }

    async fn get(&self, id: &KeyId) -> Result<Option<Arc<ApiKeyRecord>>, StoreError> {
        match self.cache.by_id(id) {
            Some(hit) => Ok(Some(hit)),
            None => self.read_one("id", &id.as_str()).await,
        }
    }

    async fn list(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let client = self.db.client().await?;
        let rows = client
            .query(&format!("SELECT {COLUMNS} FROM keys ORDER BY id"), &[])
            .await
            .map_err(store_error)?;
        records(&rows)
    }

    async fn list_page(
        &self,
        after: Option<KeyId>,
        limit: usize,
    ) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let after = after.map(|id| id.to_string()).unwrap_or_default();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let client = self.db.client().await?;
        let rows = client
            .query(
                &format!("SELECT {COLUMNS} FROM keys WHERE id > $1 ORDER BY id LIMIT $2"),
                &[&after, &limit],
            )
            .await
            .map_err(store_error)?;
        records(&rows)
    }

    async fn unrevoked_of_owner(&self, owner: &OwnerId) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let client = self.db.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM keys WHERE owner = $1 AND revoked_at IS NULL ORDER BY id"
                ),
                &[&owner.as_str()],
            )
            .await
            .map_err(store_error)?;
        records(&rows)
    }

    async fn add_grant(
        &self,
        id: &KeyId,
        hosting: &HostingId,
        level: GrantLevel,
    ) -> Result<bool, StoreError> {
        let mut client = self.db.client().await?;
        let tx = client.transaction().await.map_err(store_error)?;
        let Some(row) = tx
            .query_opt(
                "SELECT scope FROM keys WHERE id = $1 FOR UPDATE",
                &[&id.as_str()],
            )
            .await
            .map_err(store_error)?
        else {
            return Ok(false);
        };
        let mut scope: KeyScope =
            serde_json::from_str(row.get(0)).map_err(|e| corrupt("scope", e))?;
        if !scope.is_all() {
            scope.add_grant(hosting.clone(), level);
            let text = serde_json::to_string(&scope).map_err(store_error)?;
            tx.execute(
                "UPDATE keys SET scope = $1 WHERE id = $2",
                &[&text, &id.as_str()],
            )
            .await
            .map_err(store_error)?;
            announce(&tx, id).await?;
        }
        tx.commit().await.map_err(store_error)?;
        self.cache.forget(id.as_str());
        Ok(true)
    }

    async fn revoke(&self, id: &KeyId, at: OffsetDateTime) -> Result<bool, StoreError> {
        let mut client = self.db.client().await?;
        let tx = client.transaction().await.map_err(store_error)?;
        let row = tx
            .query_one(
                "WITH revoked AS (
                     UPDATE keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL RETURNING 1
                 )
                 SELECT EXISTS (SELECT 1 FROM keys WHERE id = $2)",
                &[&at, &id.as_str()],
            )
            .await
            .map_err(store_error)?;
        // In the same transaction: every replica hears of the revocation
        // exactly when it is committed, or neither happens.
        announce(&tx, id).await?;
        tx.commit().await.map_err(store_error)?;
        self.cache.forget(id.as_str());
        Ok(row.get(0))
    }

    /// An advisory lock, held on one pooled connection until dropped.
    async fn lock_changes(&self) -> Result<KeyChangeLock, StoreError> {
        let held = self.hold_key_changes().await?;
        // The change before ours has committed, but its notification may
        // not have reached this replica yet: what the change checks (the
        // minting chain, say) is read from the database, not the cache.
        self.cache.forget_everything();
        Ok(KeyChangeLock::holding(held))
    }
}

/// The advisory lock key changes take (any constant of our own).
const KEY_CHANGES_LOCK: i64 = 0x4859_5045_4b45_5953; // "HYPEKEYS"

/// A connection holding the key-change lock; gives it back when dropped.
struct HeldKeyChanges(Option<deadpool_postgres::Object>);

impl Drop for HeldKeyChanges {
    fn drop(&mut self) {
        let Some(client) = self.0.take() else {
            return;
        };
        let unlock = async move {
            if client
                .execute("SELECT pg_advisory_unlock($1)", &[&KEY_CHANGES_LOCK])
                .await
                .is_err()
            {
                // A connection that may still hold the lock is not reused:
                // closing it releases the lock.
                drop(deadpool_postgres::Object::take(client));
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(unlock);
            }
            Err(_) => {
                // No runtime to unlock with: the connection must not return to the pool.
            }
        }
    }
}

impl PostgresKeyStore {
    async fn hold_key_changes(&self) -> Result<HeldKeyChanges, StoreError> {
        let client = self.db.client().await?;
        client
            .execute("SELECT pg_advisory_lock($1)", &[&KEY_CHANGES_LOCK])
            .await
            .map_err(store_error)?;
        Ok(HeldKeyChanges(Some(client)))
    }
}
