//! What must hold across replicas per request: rate limits and the names
//! of creates in flight.

use std::time::Duration;

use async_trait::async_trait;

use super::{Database, store_error};
use crate::keys::KeyId;
use crate::ratelimit::{RateDecision, RateLimitStore, rate_decision};
use crate::reservations::NameReservations;
use crate::store::StoreError;

/// Rate limits in PostgreSQL: one theoretical arrival time per limited key,
/// on the database's clock, so a key limited to 60 a minute gets 60 in all,
/// whichever replicas its requests reach.
#[derive(Clone)]
pub struct PostgresRateLimits {
    db: Database,
}

impl PostgresRateLimits {
    /// The rate limits of `db`.
    pub fn new(db: Database) -> Self {
        PostgresRateLimits { db }
    }
}

#[async_trait]
impl RateLimitStore for PostgresRateLimits {
    async fn check_all(&self, keys: &[(KeyId, u32)]) -> Result<RateDecision, StoreError> {
        // Sorted, so that two chains sharing keys lock them in one order.
        let mut ids: Vec<&str> = keys.iter().map(|(key, _)| key.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut client = self.db.client().await?;
        let tx = client.transaction().await.map_err(store_error)?;
        let ensure = tx
            .prepare_cached(
                "INSERT INTO rate_limits (key_id, tat_micros)
                 SELECT unnest($1::text[]), 0 ON CONFLICT DO NOTHING",
            )
            .await
            .map_err(store_error)?;
        tx.execute(&ensure, &[&ids]).await.map_err(store_error)?;
        let read = tx
            .prepare_cached(
                "SELECT key_id, tat_micros,
                        (extract(epoch FROM clock_timestamp()) * 1000000)::bigint
                 FROM rate_limits WHERE key_id = ANY($1) ORDER BY key_id FOR UPDATE",
            )
            .await
            .map_err(store_error)?;
        let rows = tx.query(&read, &[&ids]).await.map_err(store_error)?;
        let now: i64 = rows.first().map_or(0, |row| row.get(2));
        let backlog_of = |key: &KeyId| {
            let tat = rows
                .iter()
                .find(|row| row.get::<_, &str>(0) == key.as_str())
                .map_or(0, |row| row.get::<_, i64>(1));
            Duration::from_micros(u64::try_from(tat - now).unwrap_or(0))
        };
        let backlogs: Vec<(Duration, u32)> = keys
            .iter()
            .map(|(key, limit)| (backlog_of(key), *limit))
            .collect();
        let (decision, after) = rate_decision(&backlogs);
        if let Some(after) = after {
            let ids: Vec<&str> = keys.iter().map(|(key, _)| key.as_str()).collect();
            let tats: Vec<i64> = after
                .iter()
                .map(|backlog| now + i64::try_from(backlog.as_micros()).unwrap_or(i64::MAX / 2))
                .collect();
            let write = tx
                .prepare_cached(
                    "UPDATE rate_limits SET tat_micros = v.tat
                     FROM unnest($1::text[], $2::bigint[]) AS v(key_id, tat)
                     WHERE rate_limits.key_id = v.key_id",
                )
                .await
                .map_err(store_error)?;
            tx.execute(&write, &[&ids, &tats])
                .await
                .map_err(store_error)?;
        }
        tx.commit().await.map_err(store_error)?;
        Ok(decision)
    }
}

/// Names of creates in flight in PostgreSQL: concurrent creates of one
/// domain on any replicas give one success.
#[derive(Clone)]
pub struct PostgresNameReservations {
    db: Database,
    /// How long a hold on a name lasts at most: a replica that dies while
    /// creating gives the name back after this.
    lapses_after: Duration,
}

impl PostgresNameReservations {
    /// The name reservations of `db`, each held `lapses_after` at most.
    pub fn new(db: Database, lapses_after: Duration) -> Self {
        PostgresNameReservations { db, lapses_after }
    }
}

#[async_trait]
impl NameReservations for PostgresNameReservations {
    async fn reserve(&self, holder: &str, names: &[String]) -> Result<Option<usize>, StoreError> {
        let mut client = self.db.client().await?;
        let tx = client.transaction().await.map_err(store_error)?;
        tx.execute(
            "DELETE FROM name_reservations WHERE name = ANY($1) AND expires_at < now()",
            &[&names],
        )
        .await
        .map_err(store_error)?;
        let rows = tx
            .query(
                "INSERT INTO name_reservations (name, holder, expires_at)
                 SELECT unnest($1::text[]), $2, now() + $3 * interval '1 second'
                 ON CONFLICT DO NOTHING RETURNING name",
                &[&names, &holder, &self.lapses_after.as_secs_f64()],
            )
            .await
            .map_err(store_error)?;
        if rows.len() == names.len() {
            tx.commit().await.map_err(store_error)?;
            return Ok(None);
        }
        // All or none: the rollback gives back what was just taken.
        let got: Vec<String> = rows.iter().map(|row| row.get(0)).collect();
        let busy = names.iter().position(|name| !got.contains(name));
        drop(tx);
        Ok(Some(busy.unwrap_or(0)))
    }

    async fn release(&self, holder: &str, names: &[String]) -> Result<(), StoreError> {
        let client = self.db.client().await?;
        client
            .execute(
                "DELETE FROM name_reservations WHERE name = ANY($1) AND holder = $2",
                &[&names, &holder],
            )
            .await
            .map_err(store_error)?;
        Ok(())
    }
}

/// Drops rate limits that have fully recovered and lapsed reservations.
pub(super) async fn purge(db: &Database) -> Result<(), StoreError> {
    let client = db.client().await?;
    client
        .batch_execute(
            "DELETE FROM rate_limits
               WHERE tat_micros < (extract(epoch FROM clock_timestamp()) * 1000000)::bigint;
             DELETE FROM name_reservations WHERE expires_at < now();",
        )
        .await
        .map_err(store_error)
}
