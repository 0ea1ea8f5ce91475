use async_trait::async_trait;
use rusqlite::{Row, params_from_iter};

use super::{Database, corrupt, parse_stamp, stamp};
use crate::audit::{AuditEvent, AuditLog, AuditOutcome, AuditPage, AuditQuery, AuditSink};
use crate::store::StoreError;
use crate::store::columns::AUDIT as COLUMNS;

/// The audit log in SQLite, readable newest first, kept as long as its
/// [`AuditRetention`] says.
#[derive(Clone)]
pub struct SqliteAuditLog {
    db: Database,
    retention: AuditRetention,
}

/// How much of the audit log is kept; older events are deleted by
/// [`SqliteAuditLog::prune`], which the stores' maintenance runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuditRetention {
    /// Events older than this go (`None`: no age limit).
    pub max_age: Option<std::time::Duration>,
    /// Past this many events, the oldest go (`None`: no count limit).
    /// Counted apart for the events of requests that changed nothing
    /// (refusals and 4xx, see [`AuditEvent::changed_nothing`]) and for
    /// everything else, so that no flood of refused requests can push a
    /// real event out.
    pub max_events: Option<u64>,
}

impl Default for AuditRetention {
    /// 400 days and 10 million events.
    fn default() -> Self {
        AuditRetention {
            max_age: Some(std::time::Duration::from_secs(400 * 24 * 60 * 60)),
            max_events: Some(10_000_000),
        }
    }
}

impl SqliteAuditLog {
    /// The audit log of `db`, with the default retention.
    pub fn new(db: Database) -> Self {
        SqliteAuditLog {
            db,
            retention: AuditRetention::default(),
        }
    }

    /// The same log, keeping what `retention` says.
    #[must_use]
    pub fn with_retention(mut self, retention: AuditRetention) -> Self {
        self.retention = retention;
        self
    }

    /// Deletes what the retention no longer keeps; answers how many events went.
    pub async fn prune(&self) -> Result<u64, StoreError> {
        let retention = self.retention;
        // An age too large to subtract from now keeps everything.
        let oldest = retention.max_age.and_then(|age| {
            let age = time::Duration::try_from(age).ok()?;
            crate::model::now().checked_sub(age).map(stamp)
        });
        self.db
            .run(move |c| {
                let mut gone = 0;
                if let Some(oldest) = oldest {
                    gone += c.execute("DELETE FROM audit WHERE at < ?1", [oldest])?;
                }
                if let Some(max) = retention.max_events {
                    let max = i64::try_from(max).unwrap_or(i64::MAX);
                    // `AuditEvent::changed_nothing`, in SQL.
                    let nothing = "(outcome = 'denied' OR (outcome = 'failed' AND (status BETWEEN 400 AND 499 OR status BETWEEN 502 AND 504)))";
                    for class in [nothing.to_owned(), format!("NOT {nothing}")] {
                        gone += c.execute(
                            &format!(
                                "DELETE FROM audit WHERE {class} AND id <= \
                                 (SELECT id FROM audit WHERE {class} ORDER BY id DESC LIMIT 1 OFFSET ?1)"
                            ),
                            [max],
                        )?;
                    }
                }
                Ok(gone as u64)
            })
            .await
    }
}

fn event(row: &Row<'_>) -> rusqlite::Result<AuditEvent> {
    let key_id: Option<String> = row.get(4)?;
    let client_ip: Option<String> = row.get(10)?;
    Ok(AuditEvent {
        id: row.get::<_, i64>(0)?.max(0) as u64,
        at: parse_stamp(&row.get::<_, String>(1)?)?,
        request_id: row.get(2)?,
        actor: row.get(3)?,
        key_id: key_id
            .map(|k| k.parse().map_err(|e| corrupt("key id", e)))
            .transpose()?,
        key_prefix: row.get(5)?,
        action: row.get(6)?,
        target: row.get(7)?,
        outcome: row
            .get::<_, String>(8)?
            .parse::<AuditOutcome>()
            .map_err(|e| corrupt("outcome", e))?,
        status: row.get(9)?,
        client_ip: client_ip
            .map(|ip| ip.parse().map_err(|e| corrupt("client ip", e)))
            .transpose()?,
        detail: row.get(11)?,
        owner: row
            .get::<_, Option<String>>(12)?
            .map(|o| o.parse().map_err(|e| corrupt("owner", e)))
            .transpose()?,
        client_request_id: row.get(13)?,
        count: row.get::<_, i64>(14)?.max(1) as u64,
    })
}

#[async_trait]
impl AuditSink for SqliteAuditLog {
    async fn record(&self, event: AuditEvent) {
        let event = event.bounded();
        let request_id = event.request_id.clone();
        let written = self
            .db
            .run(move |c| {
                c.execute(
                    "INSERT INTO audit (at, request_id, actor, key_id, key_prefix, action, target, outcome, status, client_ip, detail, owner, client_request_id, count)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                    rusqlite::params![
                        stamp(event.at),
                        event.request_id,
                        event.actor,
                        event.key_id.as_ref().map(|k| k.as_str()),
                        event.key_prefix,
                        event.action,
                        event.target,
                        event.outcome.as_str(),
                        event.status,
                        event.client_ip.map(|ip| ip.to_string()),
                        event.detail,
                        event.owner.as_ref().map(|o| o.as_str()),
                        event.client_request_id,
                        i64::try_from(event.count).unwrap_or(i64::MAX),
                    ],
                )
            })
            .await;
        if let Err(err) = written {
            tracing::error!(%request_id, error = %err, "could not write an audit event");
        }
    }
}

#[async_trait]
impl AuditLog for SqliteAuditLog {
    async fn query(&self, query: &AuditQuery) -> Result<AuditPage, StoreError> {
        let query = query.clone();
        self.db
            .run(move |c| {
                let mut filters = Vec::new();
                let mut values: Vec<String> = Vec::new();
                for (column, value) in query.column_filters() {
                    values.push(value);
                    filters.push(format!("{column} = ?{}", values.len()));
                }
                let matching = if filters.is_empty() { "1".to_owned() } else { filters.join(" AND ") };
                let total: i64 = c.query_row(
                    &format!("SELECT COUNT(*) FROM audit WHERE {matching}"),
                    params_from_iter(values.iter()),
                    |r| r.get(0),
                )?;
                let total = total.max(0) as u64;
                let before = query.before.map_or(i64::MAX, |b| i64::try_from(b).unwrap_or(i64::MAX));
                let limit = query.limit.max(1);
                let mut statement = c.prepare(&format!(
                    "SELECT {COLUMNS} FROM audit WHERE {matching} AND id < {before} ORDER BY id DESC LIMIT {}",
                    limit + 1
                ))?;
                let mut items = statement
                    .query_map(params_from_iter(values.iter()), event)?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                let next_cursor = (items.len() > limit).then(|| items[limit - 1].id.to_string());
                items.truncate(limit);
                Ok(AuditPage { items, next_cursor, total })
            })
            .await
    }
}
