use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use rusqlite::{OptionalExtension, params};

use super::Database;
use crate::idempotency::{
    Claim, DEFAULT_IDEMPOTENCY_TTL, IdempotencyScope, IdempotencyStore, StoredResponse,
};
use crate::store::StoreError;

/// Idempotency records in SQLite: kept answers survive a restart.
#[derive(Clone)]
pub struct SqliteIdempotencyStore {
    db: Database,
    ttl: Duration,
}

fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

impl SqliteIdempotencyStore {
    /// The idempotency store of `db`, keeping answers for 24 hours. Claims a
    /// previous process left in flight are dropped: nothing runs them now.
    pub fn open(db: Database) -> Result<Self, StoreError> {
        db.run_blocking(|c| c.execute("DELETE FROM idempotency WHERE done = 0", []))?;
        Ok(SqliteIdempotencyStore {
            db,
            ttl: DEFAULT_IDEMPOTENCY_TTL,
        })
    }
}

impl SqliteIdempotencyStore {
    /// Deletes every kept answer older than the time it is kept for;
    /// answers how many went. The stores' maintenance runs it.
    pub async fn purge_expired(&self) -> Result<u64, StoreError> {
        let oldest = unix_now() - self.ttl.as_secs() as i64;
        self.db
            .run(move |c| {
                c.execute(
                    "DELETE FROM idempotency WHERE done = 1 AND at < ?1",
                    [oldest],
                )
                .map(|gone| gone as u64)
            })
            .await
    }
}

#[async_trait]
impl IdempotencyStore for SqliteIdempotencyStore {
    async fn claim(
        &self,
        scope: &IdempotencyScope,
        fingerprint: [u8; 32],
    ) -> Result<Claim, StoreError> {
        let scope = scope.clone();
        let oldest = unix_now() - self.ttl.as_secs() as i64;
        self.db
            .run(move |c| {
                let tx = c.transaction()?;
                tx.execute(
                    "DELETE FROM idempotency WHERE api_key = ?1 AND key = ?2 AND done = 1 AND at < ?3",
                    params![scope.api_key.as_str(), scope.key, oldest],
                )?;
                let held: Option<(Vec<u8>, bool, Option<u16>, Option<String>, Option<Vec<u8>>)> = tx
                    .query_row(
                        "SELECT fingerprint, done, status, headers, body FROM idempotency WHERE api_key = ?1 AND key = ?2",
                        params![scope.api_key.as_str(), scope.key],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                    )
                    .optional()?;
                let claim = match held {
                    None => {
                        tx.execute(
                            "INSERT INTO idempotency (api_key, key, fingerprint, done, at) VALUES (?1, ?2, ?3, 0, ?4)",
                            params![scope.api_key.as_str(), scope.key, fingerprint.as_slice(), unix_now()],
                        )?;
                        Claim::Fresh
                    }
                    Some((held, _, _, _, _)) if held != fingerprint => Claim::Mismatch,
                    Some((_, false, _, _, _)) => Claim::InFlight,
                    Some((_, true, status, headers, body)) => Claim::Replay(StoredResponse {
                        status: status.unwrap_or(200),
                        headers: headers
                            .and_then(|h| serde_json::from_str(&h).ok())
                            .unwrap_or_default(),
                        body: Bytes::from(body.unwrap_or_default()),
                    }),
                };
                tx.commit()?;
                Ok(claim)
            })
            .await
    }

    async fn complete(
        &self,
        scope: &IdempotencyScope,
        response: StoredResponse,
    ) -> Result<(), StoreError> {
        let scope = scope.clone();
        let headers =
            serde_json::to_string(&response.headers).map_err(|e| StoreError(e.to_string()))?;
        self.db
            .run(move |c| {
                c.execute(
                    "UPDATE idempotency SET done = 1, status = ?1, headers = ?2, body = ?3, at = ?4
                     WHERE api_key = ?5 AND key = ?6 AND done = 0",
                    params![
                        response.status,
                        headers,
                        response.body.to_vec(),
                        unix_now(),
                        scope.api_key.as_str(),
                        scope.key
                    ],
                )
                .map(|_| ())
            })
            .await
    }

    async fn release(&self, scope: &IdempotencyScope) -> Result<(), StoreError> {
        let scope = scope.clone();
        self.db
            .run(move |c| {
                c.execute(
                    "DELETE FROM idempotency WHERE api_key = ?1 AND key = ?2 AND done = 0",
                    params![scope.api_key.as_str(), scope.key],
                )
                .map(|_| ())
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyId;

    #[tokio::test]
    async fn expired_answers_are_purged_without_being_asked_for_again() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open_dir(dir.path()).unwrap();
        let store = SqliteIdempotencyStore::open(db.clone()).unwrap();
        for key in ["old", "new"] {
            let scope = IdempotencyScope {
                api_key: KeyId::parse("key_a").unwrap(),
                key: key.to_owned(),
            };
            assert_eq!(store.claim(&scope, [1; 32]).await.unwrap(), Claim::Fresh);
            let kept = StoredResponse {
                status: 201,
                headers: Vec::new(),
                body: Bytes::from_static(b"{}"),
            };
            store.complete(&scope, kept).await.unwrap();
        }
        let two_days_ago = unix_now() - 2 * 24 * 60 * 60;
        db.run_blocking(|c| {
            c.execute(
                "UPDATE idempotency SET at = ?1 WHERE key = 'old'",
                [two_days_ago],
            )
        })
        .unwrap();
        assert_eq!(store.purge_expired().await.unwrap(), 1);
        let left: Vec<String> = db
            .run_blocking(|c| {
                let mut statement = c.prepare("SELECT key FROM idempotency")?;
                let rows = statement.query_map([], |r| r.get(0))?;
                rows.collect()
            })
            .unwrap();
        assert_eq!(left, ["new"]);
    }
}
