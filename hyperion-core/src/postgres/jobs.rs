//! Job records with leases. The replica that runs a job holds a lease on
//! it, renewed every third of its length; a replica that stops (crash,
//! kill -9, lost network) stops renewing, and once the lease lapses another
//! replica takes the job over ([`JobArchive::take_over`]): a job whose work
//! is safe to repeat (it has a plan) is run again there as its next
//! attempt, any other is failed, saying why. Every write names its attempt,
//! and one from an earlier attempt (a replica only stalled past its lease,
//! come back) is refused, as is any write to a finished job: a job's end
//! is written once.

use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::Row;

use super::{Database, store_error};
use crate::jobs::{Job, JobArchive, JobId, JobState};
use crate::store::StoreError;
use crate::store::columns::JOBS as COLUMNS;

/// The error of a job whose replica stopped while running it.
pub const REPLICA_STOPPED: &str = "the replica running it stopped";

/// Job records in PostgreSQL. Writes are queued to one writer task, so a
/// job reporting progress never waits for the database; the writer commits
/// everything queued at once in one transaction. A new job's first record
/// is waited for (see [`JobArchive::save_durably`]).
pub struct PostgresJobArchive {
    db: Database,
    writes: mpsc::UnboundedSender<Write>,
    replica: String,
    lease: Duration,
}

struct Write {
    job: Job,
    committed: Option<oneshot::Sender<Result<(), StoreError>>>,
}

/// Most writes committed in one transaction.
const MAX_GROUP: usize = 256;

/// How long one group of job records may take to commit.
const COMMIT_DEADLINE: Duration = Duration::from_secs(30);

fn corrupt(what: &str, err: impl std::fmt::Display) -> StoreError {
    StoreError(format!("postgres: corrupt job {what}: {err}"))
}

fn job(row: &Row) -> Result<Job, StoreError> {
    let result: Option<String> = row.get(7);
    let started_by: Option<String> = row.get(9);
    Ok(Job {
        id: JobId::parse(row.get(0)).ok_or_else(|| corrupt("id", "bad shape"))?,
        kind: row.get(1),
        target: row.get(2),
        state: row
            .get::<_, String>(3)
            .parse::<JobState>()
            .map_err(|e| corrupt("state", e))?,
        progress: u8::try_from(row.get::<_, i16>(4)).unwrap_or(0),
        step: row.get(5),
        error: row.get(6),
        result: result
            .map(|r| serde_json::from_str(&r).map_err(|e| corrupt("result", e)))
            .transpose()?,
        actor: row.get(8),
        started_by: started_by
            .map(|id| id.parse().map_err(|e| corrupt("key id", e)))
            .transpose()?,
        created_at: row.get(10),
        updated_at: row.get(11),
        finished_at: row.get(12),
        plan: row
            .get::<_, Option<String>>(13)
            .map(|plan| serde_json::from_str(&plan).map_err(|e| corrupt("plan", e)))
            .transpose()?,
        attempt: u32::try_from(row.get::<_, i32>(14)).unwrap_or(1),
    })
}

/// Writes `group` in one transaction. A finished job is never changed
/// again, and a write from an attempt the record no longer follows (taken
/// over meanwhile) changes nothing.
async fn commit_group(
    db: &Database,
    replica: &str,
    lease: Duration,
    group: &[Write],
) -> Result<(), StoreError> {
    let mut client = db.client().await?;
    let tx = client.transaction().await.map_err(store_error)?;
    let statement = tx
        .prepare_cached(&format!(
            "INSERT INTO jobs ({COLUMNS}, replica, lease_until)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                     now() + $17 * interval '1 second')
             ON CONFLICT (id) DO UPDATE SET state = excluded.state, progress = excluded.progress,
               step = excluded.step, error = excluded.error, result = excluded.result,
               updated_at = excluded.updated_at, finished_at = excluded.finished_at,
               lease_until = excluded.lease_until
             WHERE jobs.state IN ('queued', 'running') AND jobs.attempt = excluded.attempt"
        ))
        .await
        .map_err(store_error)?;
    for write in group {
        let job = &write.job;
        tx.execute(
            &statement,
            &[
                &job.id.as_str(),
                &job.kind,
                &job.target,
                &job.state.as_str(),
                &i16::from(job.progress),
                &job.step,
                &job.error,
                &job.result.as_ref().map(|r| r.to_string()),
                &job.actor,
                &job.started_by.as_ref().map(|k| k.as_str()),
                &job.created_at,
                &job.updated_at,
                &job.finished_at,
                &job.plan.as_ref().map(|p| p.to_string()),
                &i32::try_from(job.attempt).unwrap_or(i32::MAX),
                &replica,
                &lease.as_secs_f64(),
            ],
        )
        .await
        .map_err(store_error)?;
    }
    tx.commit().await.map_err(store_error)
}

/// Renews this replica's leases.
async fn renew(db: &Database, replica: &str, lease: Duration) -> Result<(), StoreError> {
    let client = db.client().await?;
    client
        .execute(
            "UPDATE jobs SET lease_until = now() + $2 * interval '1 second'
             WHERE replica = $1 AND state IN ('queued', 'running')",
            &[&replica, &lease.as_secs_f64()],
        )
        .await
        .map_err(store_error)?;
    Ok(())
}

/// Most jobs one replica takes over at a time.
const TAKE_AT_ONCE: i64 = 64;

impl PostgresJobArchive {
    /// The job archive of `db` for this replica (a fresh random name),
    /// holding leases of length `lease`. Needs a tokio runtime: it starts
    /// the writer and the lease keeper, which stop when the archive goes.
    pub(crate) fn open(db: Database, lease: Duration) -> Self {
        let lease = lease.max(Duration::from_secs(1));
        let replica = format!("replica-{}", crate::random::hex(8));
        let (writes, mut queue) = mpsc::unbounded_channel::<Write>();
        let (writer_db, writer_replica) = (db.clone(), replica.clone());
        tokio::spawn(async move {
            while let Some(first) = queue.recv().await {
                let mut group = vec![first];
                while group.len() < MAX_GROUP {
                    match queue.try_recv() {
                        Ok(next) => group.push(next),
                        Err(_) => break,
                    }
                }
                // A database that stops answering fails the group instead
                // of holding every later job record behind it.
                let committing = commit_group(&writer_db, &writer_replica, lease, &group);
                let result = tokio::time::timeout(COMMIT_DEADLINE, committing)
                    .await
                    .unwrap_or_else(|_| {
                        Err(StoreError(
                            "postgres: the database did not answer in time".to_owned(),
                        ))
                    });
                if let Err(err) = &result {
                    tracing::error!(jobs = group.len(), error = %err, "could not save job records");
                }
                for write in group {
                    if let Some(committed) = write.committed {
                        let _ = committed.send(result.clone());
                    }
                }
            }
        });
        let keeper = writes.downgrade();
        let (keeper_db, keeper_replica) = (db.clone(), replica.clone());
        tokio::spawn(async move {
            let mut every = tokio::time::interval(lease / 3);
            loop {
                every.tick().await;
                // Stops with the archive (its sender is the writer's).
                if keeper.upgrade().is_none() {
                    return;
                }
                if let Err(err) = renew(&keeper_db, &keeper_replica, lease).await {
                    tracing::warn!(error = %err, "could not renew job leases");
                }
            }
        });
        PostgresJobArchive {
            db,
            writes,
            replica,
            lease,
        }
    }

    /// This replica's name in the jobs it runs.
    pub fn replica(&self) -> &str {
        &self.replica
    }

    /// How long a lease lasts unrenewed.
    pub fn lease(&self) -> Duration {
        self.lease
    }
}

#[async_trait]
impl JobArchive for PostgresJobArchive {
    fn save(&self, job: &Job) {
        let write = Write {
            job: job.clone(),
            committed: None,
        };
        if self.writes.send(write).is_err() {
            tracing::error!(job = %job.id, "the job writer has stopped; a job record was not saved");
        }
    }

    async fn save_durably(&self, job: &Job) -> Result<(), StoreError> {
        let (committed, done) = oneshot::channel();
        let stopped = || StoreError("the job writer has stopped".to_owned());
        self.writes
            .send(Write {
                job: job.clone(),
                committed: Some(committed),
            })
            .map_err(|_| stopped())?;
        done.await.map_err(|_| stopped())?
    }

    async fn take_over(&self) -> Result<Vec<Job>, StoreError> {
        let client = self.db.client().await?;
        let lease = self.lease.as_secs_f64();
        // One replica claims each job (SKIP LOCKED), with a lease of its own.
        let rows = client
            .query(
                &format!(
                    "UPDATE jobs SET replica = $1, attempt = attempt + 1, state = 'queued',
                       step = 'taken over: its replica stopped', updated_at = now(),
                       lease_until = now() + $2 * interval '1 second'
                     WHERE id IN (SELECT id FROM jobs
                                  WHERE state IN ('queued', 'running') AND lease_until < now()
                                    AND plan IS NOT NULL
                                  LIMIT $3 FOR UPDATE SKIP LOCKED)
                     RETURNING {COLUMNS}"
                ),
                &[&self.replica, &lease, &TAKE_AT_ONCE],
            )
            .await
            .map_err(store_error)?;
        let failed = client
            .query(
                "UPDATE jobs SET state = 'failed', updated_at = now(), finished_at = now(),
                   error = $1 || '; ' || kind || ' is not safe to repeat, so it was not run again'
                 WHERE id IN (SELECT id FROM jobs
                              WHERE state IN ('queued', 'running') AND lease_until < now()
                                AND plan IS NULL
                              FOR UPDATE SKIP LOCKED)
                 RETURNING id, replica",
                &[&REPLICA_STOPPED],
            )
            .await
            .map_err(store_error)?;
        for row in failed {
            tracing::warn!(
                job = row.get::<_, &str>(0),
                replica = row.get::<_, &str>(1),
                "a job's replica stopped renewing its lease; the job is not safe to repeat and is marked failed"
            );
        }
        let taken = rows.iter().map(job).collect::<Result<Vec<_>, _>>()?;
        for job in &taken {
            tracing::warn!(job = %job.id, kind = %job.kind, attempt = job.attempt, "a job's replica stopped renewing its lease; this replica runs it again");
        }
        Ok(taken)
    }

    async fn holds(&self, id: &JobId, attempt: u32) -> Result<bool, StoreError> {
        let client = self.db.client().await?;
        let row = client
            .query_opt(
                "SELECT attempt, state FROM jobs WHERE id = $1",
                &[&id.as_str()],
            )
            .await
            .map_err(store_error)?;
        Ok(row.is_some_and(|row| {
            let state: &str = row.get(1);
            u32::try_from(row.get::<_, i32>(0)).ok() == Some(attempt)
                && matches!(state, "queued" | "running")
        }))
    }

    async fn load(&self, id: &JobId) -> Result<Option<Job>, StoreError> {
        let client = self.db.client().await?;
        let row = client
            .query_opt(
                &format!("SELECT {COLUMNS} FROM jobs WHERE id = $1"),
                &[&id.as_str()],
            )
            .await
            .map_err(store_error)?;
        row.as_ref().map(job).transpose()
    }
}
