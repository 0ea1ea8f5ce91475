//! Job records with leases. The replica that runs a job holds a lease on
//! it, renewed every third of its length; a replica that stops (crash,
//! kill -9, lost network) stops renewing, and once the lease lapses any
//! replica marks the job failed, so no job stays "running" for ever. A
//! replica that was only stalled (paused, cut off) and comes back finishes
//! the work it had begun, and its record then shows the real outcome.
//! The work itself (a closure over the node) lives only in the process
//! that accepted it, so a job is not taken over by another replica.

use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::Row;

use super::{Database, store_error};
use crate::jobs::{Job, JobArchive, JobId, JobState};
use crate::store::StoreError;

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

const COLUMNS: &str = "id, kind, target, state, progress, step, error, result, actor, started_by, created_at, updated_at, finished_at";

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
    })
}

/// Writes `group` in one transaction. A finished job is not changed again,
/// with one exception: a replica that was only stalled past its lease (the
/// others marked its job [`REPLICA_STOPPED`]) and comes back still records
/// what its work really did.
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
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
                     now() + $15 * interval '1 second')
             ON CONFLICT (id) DO UPDATE SET state = excluded.state, progress = excluded.progress,
               step = excluded.step, error = excluded.error, result = excluded.result,
               updated_at = excluded.updated_at, finished_at = excluded.finished_at,
               lease_until = excluded.lease_until
             WHERE jobs.state IN ('queued', 'running')
                OR (jobs.replica = excluded.replica AND jobs.error = $16)"
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
                &replica,
                &lease.as_secs_f64(),
                &REPLICA_STOPPED,
            ],
        )
        .await
        .map_err(store_error)?;
    }
    tx.commit().await.map_err(store_error)
}

/// Renews this replica's leases, then ends the jobs whose lease lapsed.
async fn renew_and_sweep(db: &Database, replica: &str, lease: Duration) -> Result<(), StoreError> {
    let client = db.client().await?;
    client
        .execute(
            "UPDATE jobs SET lease_until = now() + $2 * interval '1 second'
             WHERE replica = $1 AND state IN ('queued', 'running')",
            &[&replica, &lease.as_secs_f64()],
        )
        .await
        .map_err(store_error)?;
    let orphaned = client
        .query(
            "UPDATE jobs SET state = 'failed', error = $1, updated_at = now(), finished_at = now()
             WHERE state IN ('queued', 'running') AND lease_until < now()
             RETURNING id, replica",
            &[&REPLICA_STOPPED],
        )
        .await
        .map_err(store_error)?;
    for row in orphaned {
        tracing::warn!(
            job = row.get::<_, &str>(0),
            replica = row.get::<_, &str>(1),
            "a job's replica stopped renewing its lease; the job is marked failed"
        );
    }
    Ok(())
}

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
                let result = commit_group(&writer_db, &writer_replica, lease, &group).await;
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
                if let Err(err) = renew_and_sweep(&keeper_db, &keeper_replica, lease).await {
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
