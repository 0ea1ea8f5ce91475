use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use super::{Database, store_error};
use crate::idempotency::{
    Claim, DEFAULT_IDEMPOTENCY_TTL, IdempotencyScope, IdempotencyStore, StoredResponse,
};
use crate::store::StoreError;

/// Idempotency records in PostgreSQL: a retry that lands on another replica
/// replays the first answer, and the same key sent to two replicas at once
/// runs once (the primary key decides who claimed it).
#[derive(Clone)]
pub struct PostgresIdempotencyStore {
    db: Database,
    ttl: Duration,
    /// How long a claim may stay in flight before a retry may take it over
    /// (its replica is taken to have stopped).
    abandoned_after: Duration,
}

impl PostgresIdempotencyStore {
    /// The idempotency store of `db`, keeping answers for 24 hours; a claim
    /// left in flight longer than `abandoned_after` may be taken over.
    pub fn new(db: Database, abandoned_after: Duration) -> Self {
        PostgresIdempotencyStore {
            db,
            ttl: DEFAULT_IDEMPOTENCY_TTL,
            abandoned_after,
        }
    }

    /// Deletes every kept answer older than the time it is kept for, and
    /// claims abandoned in flight; answers how many went.
    pub async fn purge_expired(&self) -> Result<u64, StoreError> {
        let client = self.db.client().await?;
        client
            .execute(
                "DELETE FROM idempotency
                 WHERE (done AND at < now() - $1 * interval '1 second')
                    OR (NOT done AND at < now() - $2 * interval '1 second')",
                &[&self.ttl.as_secs_f64(), &self.abandoned_after.as_secs_f64()],
            )
            .await
            .map_err(store_error)
    }
}

#[async_trait]
impl IdempotencyStore for PostgresIdempotencyStore {
    async fn claim(
        &self,
        scope: &IdempotencyScope,
        fingerprint: [u8; 32],
    ) -> Result<Claim, StoreError> {
        let client = self.db.client().await?;
        let (api_key, key) = (scope.api_key.as_str(), scope.key.as_str());
        // A record that has lapsed is as good as none.
        client
            .execute(
                "DELETE FROM idempotency WHERE api_key = $1 AND key = $2
                   AND ((done AND at < now() - $3 * interval '1 second')
                     OR (NOT done AND at < now() - $4 * interval '1 second'))",
                &[
                    &api_key,
                    &key,
                    &self.ttl.as_secs_f64(),
                    &self.abandoned_after.as_secs_f64(),
                ],
            )
            .await
            .map_err(store_error)?;
        // Whoever inserts first holds it; the others read what it holds.
        for _ in 0..3 {
            let inserted = client
                .execute(
                    "INSERT INTO idempotency (api_key, key, fingerprint, done, at)
                     VALUES ($1, $2, $3, FALSE, now()) ON CONFLICT DO NOTHING",
                    &[&api_key, &key, &fingerprint.as_slice()],
                )
                .await
                .map_err(store_error)?;
            if inserted == 1 {
                return Ok(Claim::Fresh);
            }
            let Some(row) = client
                .query_opt(
                    "SELECT fingerprint, done, status, headers, body FROM idempotency
                     WHERE api_key = $1 AND key = $2",
                    &[&api_key, &key],
                )
                .await
                .map_err(store_error)?
            else {
                // Released between the two statements: try to claim again.
                continue;
            };
            let held: Vec<u8> = row.get(0);
            let done: bool = row.get(1);
            return Ok(if held != fingerprint {
                Claim::Mismatch
            } else if !done {
                Claim::InFlight
            } else {
                let headers: Option<String> = row.get(3);
                let body: Option<Vec<u8>> = row.get(4);
                Claim::Replay(StoredResponse {
                    status: row
                        .get::<_, Option<i32>>(2)
                        .and_then(|s| u16::try_from(s).ok())
                        .unwrap_or(200),
                    headers: headers
                        .and_then(|h| serde_json::from_str(&h).ok())
                        .unwrap_or_default(),
                    body: Bytes::from(body.unwrap_or_default()),
                })
            });
        }
        Ok(Claim::InFlight)
    }

    async fn complete(
        &self,
        scope: &IdempotencyScope,
        response: StoredResponse,
    ) -> Result<(), StoreError> {
        let headers = serde_json::to_string(&response.headers).map_err(store_error)?;
        let client = self.db.client().await?;
        client
            .execute(
                "UPDATE idempotency SET done = TRUE, status = $1, headers = $2, body = $3, at = now()
                 WHERE api_key = $4 AND key = $5 AND NOT done",
                &[
                    &i32::from(response.status),
                    &headers,
                    &response.body.as_ref(),
                    &scope.api_key.as_str(),
                    &scope.key,
                ],
            )
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn release(&self, scope: &IdempotencyScope) -> Result<(), StoreError> {
        let client = self.db.client().await?;
        client
            .execute(
                "DELETE FROM idempotency WHERE api_key = $1 AND key = $2 AND NOT done",
                &[&scope.api_key.as_str(), &scope.key],
            )
            .await
            .map_err(store_error)?;
        Ok(())
    }
}
