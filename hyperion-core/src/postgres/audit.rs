use async_trait::async_trait;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::{Database, store_error};
use crate::audit::{AuditEvent, AuditLog, AuditOutcome, AuditPage, AuditQuery, AuditSink};
use crate::store::StoreError;
use crate::store::columns::AUDIT as COLUMNS;

/// The audit log in PostgreSQL: every replica's events in one log, in one
/// order (the database's sequence), readable newest first.
#[derive(Clone)]
pub struct PostgresAuditLog {
    db: Database,
}

impl PostgresAuditLog {
    /// The audit log of `db`.
    pub fn new(db: Database) -> Self {
        PostgresAuditLog { db }
    }
}

fn corrupt(what: &str, err: impl std::fmt::Display) -> StoreError {
    StoreError(format!("postgres: corrupt audit {what}: {err}"))
}

fn event(row: &Row) -> Result<AuditEvent, StoreError> {
    let key_id: Option<String> = row.get(4);
    let client_ip: Option<String> = row.get(10);
    let owner: Option<String> = row.get(12);
    Ok(AuditEvent {
        id: row.get::<_, i64>(0).max(0) as u64,
        at: row.get(1),
        request_id: row.get(2),
        actor: row.get(3),
        key_id: key_id
            .map(|k| k.parse().map_err(|e| corrupt("key id", e)))
            .transpose()?,
        key_prefix: row.get(5),
        action: row.get(6),
        target: row.get(7),
        outcome: row
            .get::<_, String>(8)
            .parse::<AuditOutcome>()
            .map_err(|e| corrupt("outcome", e))?,
        status: row
            .get::<_, Option<i32>>(9)
            .map(|s| u16::try_from(s).unwrap_or(0)),
        client_ip: client_ip
            .map(|ip| ip.parse().map_err(|e| corrupt("client ip", e)))
            .transpose()?,
        detail: row.get(11),
        owner: owner
            .map(|o| o.parse().map_err(|e| corrupt("owner", e)))
            .transpose()?,
        client_request_id: row.get(13),
        count: row.get::<_, i64>(14).max(1) as u64,
    })
}

impl PostgresAuditLog {
    async fn write(&self, event: &AuditEvent) -> Result<(), StoreError> {
        let client = self.db.client().await?;
        let statement = client
            .prepare_cached(
                "INSERT INTO audit (at, request_id, actor, key_id, key_prefix, action, target, outcome, status, client_ip, detail, owner, client_request_id, count)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            )
            .await
            .map_err(store_error)?;
        client
            .execute(
                &statement,
                &[
                    &event.at,
                    &event.request_id,
                    &event.actor,
                    &event.key_id.as_ref().map(|k| k.as_str()),
                    &event.key_prefix,
                    &event.action,
                    &event.target,
                    &event.outcome.as_str(),
                    &event.status.map(i32::from),
                    &event.client_ip.map(|ip| ip.to_string()),
                    &event.detail,
                    &event.owner.as_ref().map(|o| o.as_str()),
                    &event.client_request_id,
                    &i64::try_from(event.count).unwrap_or(i64::MAX),
                ],
            )
            .await
            .map_err(store_error)?;
        Ok(())
    }
}

#[async_trait]
impl AuditSink for PostgresAuditLog {
    async fn record(&self, event: AuditEvent) {
        let event = event.bounded();
        if let Err(err) = self.write(&event).await {
            tracing::error!(request_id = %event.request_id, error = %err, "could not write an audit event");
        }
    }
}

#[async_trait]
impl AuditLog for PostgresAuditLog {
    async fn query(&self, query: &AuditQuery) -> Result<AuditPage, StoreError> {
        let mut filters = Vec::new();
        let mut values: Vec<String> = Vec::new();
        for (column, value) in query.column_filters() {
            values.push(value);
            filters.push(format!("{column} = ${}", values.len()));
        }
        let matching = if filters.is_empty() {
            "TRUE".to_owned()
        } else {
            filters.join(" AND ")
        };
        let params: Vec<&(dyn ToSql + Sync)> =
            values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        let client = self.db.client().await?;
        let total: i64 = client
            .query_one(
                &format!("SELECT COUNT(*) FROM audit WHERE {matching}"),
                &params,
            )
            .await
            .map_err(store_error)?
            .get(0);
        let before = query
            .before
            .map_or(i64::MAX, |b| i64::try_from(b).unwrap_or(i64::MAX));
        let limit = query.limit.max(1);
        let rows = client
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM audit WHERE {matching} AND id < {before} ORDER BY id DESC LIMIT {}",
                    limit + 1
                ),
                &params,
            )
            .await
            .map_err(store_error)?;
        let mut items = rows.iter().map(event).collect::<Result<Vec<_>, _>>()?;
        let next_cursor = (items.len() > limit).then(|| items[limit - 1].id.to_string());
        items.truncate(limit);
        Ok(AuditPage {
            items,
            next_cursor,
            total: total.max(0) as u64,
        })
    }
}
