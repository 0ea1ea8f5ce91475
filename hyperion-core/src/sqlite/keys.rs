use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::{OptionalExtension, Row, params};
use time::OffsetDateTime;

use super::{Database, corrupt, parse_opt_stamp, parse_stamp, stamp};
use crate::CapSet;
use crate::keys::{ApiKeyRecord, GrantLevel, KeyHash, KeyId, KeyScope, KeyStore};
use crate::model::{HostingId, OwnerId};
use crate::store::StoreError;
use crate::store::columns::KEYS as COLUMNS;

/// API keys in SQLite: the SHA-256 of each key, never the key. The records
/// read are kept in memory (shared by the requests that present them) until
/// this process changes them.
#[derive(Clone)]
pub struct SqliteKeyStore {
    db: Database,
}

impl SqliteKeyStore {
    /// The key store of `db`.
    pub fn new(db: Database) -> Self {
        SqliteKeyStore { db }
    }

    /// The record whose `column` (`id` or `hash`) matches, read by `query`
    /// (given the statement) and kept unless a change came meanwhile.
    async fn read_one(
        &self,
        column: &'static str,
        query: impl FnOnce(&rusqlite::Connection, &str) -> rusqlite::Result<Option<ApiKeyRecord>>
        + Send
        + 'static,
    ) -> Result<Option<Arc<ApiKeyRecord>>, StoreError> {
        let ticket = self.db.key_records.ticket();
        let found = self
            .db
            .run(move |c| {
                query(
                    c,
                    &format!("SELECT {COLUMNS} FROM keys WHERE {column} = ?1"),
                )
            })
            .await?
            .map(Arc::new);
        if let Some(found) = &found {
            self.db.key_records.keep(ticket, found);
        }
        Ok(found)
    }

    /// Whether any key exists (a fresh database mints its first admin key).
    pub async fn is_empty(&self) -> Result<bool, StoreError> {
        self.db
            .run(|c| c.query_row("SELECT NOT EXISTS (SELECT 1 FROM keys)", [], |r| r.get(0)))
            .await
    }
}

fn record(row: &Row<'_>) -> rusqlite::Result<ApiKeyRecord> {
    let hash: Vec<u8> = row.get(1)?;
    let hash: [u8; 32] = hash
        .try_into()
        .map_err(|_| corrupt("key hash", "not 32 bytes"))?;
    let scope: String = row.get(6)?;
    let allowlist: String = row.get(11)?;
    let created_by: Option<String> = row.get(10)?;
    let id: String = row.get(0)?;
    Ok(ApiKeyRecord {
        id: id.parse().map_err(|e| corrupt("key id", e))?,
        hash: KeyHash::from_bytes(hash),
        prefix: row.get(2)?,
        label: row.get(3)?,
        owner: row
            .get::<_, String>(4)?
            .parse()
            .map_err(|e| corrupt("owner", e))?,
        caps: CapSet::from_bits(row.get(5)?),
        scope: serde_json::from_str(&scope).map_err(|e| corrupt("scope", e))?,
        created_at: parse_stamp(&row.get::<_, String>(7)?)?,
        expires_at: parse_opt_stamp(row.get(8)?)?,
        revoked_at: parse_opt_stamp(row.get(9)?)?,
        created_by: created_by
            .map(|id| id.parse().map_err(|e| corrupt("key id", e)))
            .transpose()?,
        ip_allowlist: serde_json::from_str(&allowlist).map_err(|e| corrupt("allowlist", e))?,
        rate_limit_per_min: row.get(12)?,
    })
}

#[async_trait]
impl KeyStore for SqliteKeyStore {
    async fn insert(&self, key: ApiKeyRecord) -> Result<(), StoreError> {
        let scope = serde_json::to_string(&key.scope).map_err(|e| StoreError(e.to_string()))?;
        let allowlist =
            serde_json::to_string(&key.ip_allowlist).map_err(|e| StoreError(e.to_string()))?;
        self.db
            .run(move |c| {
                c.execute(
                    &format!("INSERT INTO keys ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"),
                    params![
                        key.id.as_str(),
                        key.hash.as_bytes().as_slice(),
                        key.prefix,
                        key.label,
                        key.owner.as_str(),
                        key.caps.bits(),
                        scope,
                        stamp(key.created_at),
                        key.expires_at.map(stamp),
                        key.revoked_at.map(stamp),
                        key.created_by.as_ref().map(KeyId::as_str),
                        allowlist,
                        key.rate_limit_per_min,
                    ],
                )
                .map(|_| ())
            })
            .await
    }

    async fn find_by_hash(&self, hash: &KeyHash) -> Result<Option<Arc<ApiKeyRecord>>, StoreError> {
        if let Some(hit) = self.db.key_records.by_hash(hash) {
            return Ok(Some(hit));
        }
        let hash = *hash.as_bytes();
        self.read_one("hash", move |c, sql| {
            c.query_row(sql, [hash.as_slice()], record).optional()
        })
        .await
    }

    async fn get(&self, id: &KeyId) -> Result<Option<Arc<ApiKeyRecord>>, StoreError> {
        if let Some(hit) = self.db.key_records.by_id(id) {
            return Ok(Some(hit));
        }
        let id = id.to_string();
        self.read_one("id", move |c, sql| {
            c.query_row(sql, [id], record).optional()
        })
        .await
    }

    async fn list(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.db
            .run(|c| {
                let mut statement =
                    c.prepare(&format!("SELECT {COLUMNS} FROM keys ORDER BY id"))?;
                let rows = statement.query_map([], record)?;
                rows.collect()
            })
            .await
    }

    async fn list_page(
        &self,
        after: Option<KeyId>,
        limit: usize,
    ) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let after = after.map(|id| id.to_string()).unwrap_or_default();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.db
            .run(move |c| {
                let mut statement = c.prepare(&format!(
                    "SELECT {COLUMNS} FROM keys WHERE id > ?1 ORDER BY id LIMIT ?2"
                ))?;
                let rows = statement.query_map(params![after, limit], record)?;
                rows.collect()
            })
            .await
    }

    async fn unrevoked_of_owner(&self, owner: &OwnerId) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let owner = owner.to_string();
        self.db
            .run(move |c| {
                let mut statement = c.prepare(&format!(
                    "SELECT {COLUMNS} FROM keys WHERE owner = ?1 AND revoked_at IS NULL ORDER BY id"
                ))?;
                let rows = statement.query_map([owner], record)?;
                rows.collect()
            })
            .await
    }

    async fn add_grant(
        &self,
        id: &KeyId,
        hosting: &HostingId,
        level: GrantLevel,
    ) -> Result<bool, StoreError> {
        let (id, hosting) = (id.to_string(), hosting.clone());
        let forgotten = id.clone();
        let changed = self
            .db
            .run(move |c| {
                let tx = c.transaction()?;
                let scope: Option<String> = tx
                    .query_row("SELECT scope FROM keys WHERE id = ?1", [&id], |r| r.get(0))
                    .optional()?;
                let Some(scope) = scope else {
                    return Ok(false);
                };
                let mut scope: KeyScope =
                    serde_json::from_str(&scope).map_err(|e| corrupt("scope", e))?;
                if !scope.is_all() {
                    scope.add_grant(hosting, level);
                    let text = serde_json::to_string(&scope).map_err(|e| corrupt("scope", e))?;
                    tx.execute(
                        "UPDATE keys SET scope = ?1 WHERE id = ?2",
                        params![text, id],
                    )?;
                }
                tx.commit()?;
                Ok(true)
            })
            .await;
        self.db.key_records.forget(&forgotten);
        changed
    }

    async fn revoke(&self, id: &KeyId, at: OffsetDateTime) -> Result<bool, StoreError> {
        let id = id.to_string();
        let forgotten = id.clone();
        let changed = self
            .db
            .run(move |c| {
                let tx = c.transaction()?;
                let exists: bool = tx.query_row(
                    "SELECT EXISTS (SELECT 1 FROM keys WHERE id = ?1)",
                    [&id],
                    |r| r.get(0),
                )?;
                tx.execute(
                    "UPDATE keys SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL",
                    params![stamp(at), id],
                )?;
                tx.commit()?;
                Ok(exists)
            })
            .await;
        // Whether it committed or not: the next read asks the database.
        self.db.key_records.forget(&forgotten);
        changed
    }
}
