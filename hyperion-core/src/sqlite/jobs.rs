use std::sync::mpsc;

use async_trait::async_trait;
use rusqlite::{OptionalExtension, Row, params};

use super::{Database, corrupt, parse_opt_stamp, parse_stamp, stamp};
use crate::jobs::{Job, JobArchive, JobId, JobState};
use crate::model::now;
use crate::store::StoreError;
use crate::store::columns::JOBS as COLUMNS;

/// Job records in SQLite. Writes are queued to one writer thread, so a job
/// reporting progress never blocks on the database; a new job's record is
/// waited for (see [`JobArchive::save_durably`]), and the writer commits
/// everything queued at once in one transaction (group commit), so many
/// concurrent requests share one commit instead of each waiting for its own.
pub struct SqliteJobArchive {
    db: Database,
    writes: Option<mpsc::Sender<Write>>,
    writer: Option<std::thread::JoinHandle<()>>,
    /// The jobs a previous process left unfinished, until taken over.
    left: std::sync::Mutex<Vec<JobId>>,
}

/// One queued write, with whoever waits for it to be committed.
struct Write {
    job: Job,
    committed: Option<tokio::sync::oneshot::Sender<Result<(), String>>>,
}

/// Most writes committed in one transaction.
const MAX_GROUP: usize = 512;

/// Writes `group` in one transaction, then tells every waiter.
fn commit_group(database: &Database, group: Vec<Write>) {
    let result = database.run_blocking(|c| {
        let tx = c.transaction()?;
        for write in &group {
            upsert(&tx, &write.job)?;
        }
        tx.commit()
    });
    if let Err(err) = &result {
        tracing::error!(jobs = group.len(), error = %err, "could not save job records");
    }
    for write in group {
        if let Some(committed) = write.committed {
            let _ = committed.send(result.clone().map_err(|err| err.0));
        }
    }
}

/// The error a job left unfinished by a previous process ends with.
pub const INTERRUPTED: &str = "interrupted by a restart of the server";

fn job(row: &Row<'_>) -> rusqlite::Result<Job> {
    let result: Option<String> = row.get(7)?;
    let started_by: Option<String> = row.get(9)?;
    Ok(Job {
        id: JobId::parse(&row.get::<_, String>(0)?)
            .ok_or_else(|| corrupt("job id", "bad shape"))?,
        kind: row.get(1)?,
        target: row.get(2)?,
        state: row
            .get::<_, String>(3)?
            .parse::<JobState>()
            .map_err(|e| corrupt("job state", e))?,
        progress: row.get(4)?,
        step: row.get(5)?,
        error: row.get(6)?,
        result: result
            .map(|r| serde_json::from_str(&r).map_err(|e| corrupt("job result", e)))
            .transpose()?,
        actor: row.get(8)?,
        started_by: started_by
            .map(|id| id.parse().map_err(|e| corrupt("key id", e)))
            .transpose()?,
        created_at: parse_stamp(&row.get::<_, String>(10)?)?,
        updated_at: parse_stamp(&row.get::<_, String>(11)?)?,
        finished_at: parse_opt_stamp(row.get(12)?)?,
        plan: row
            .get::<_, Option<String>>(13)?
            .map(|plan| serde_json::from_str(&plan).map_err(|e| corrupt("job plan", e)))
            .transpose()?,
        attempt: row.get(14)?,
    })
}

fn upsert(conn: &rusqlite::Connection, job: &Job) -> rusqlite::Result<()> {
    conn.execute(
        &format!(
            "INSERT INTO jobs ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
             ON CONFLICT(id) DO UPDATE SET state = excluded.state, progress = excluded.progress,
               step = excluded.step, error = excluded.error, result = excluded.result,
               updated_at = excluded.updated_at, finished_at = excluded.finished_at
             WHERE jobs.state IN ('queued', 'running') AND jobs.attempt = excluded.attempt"
        ),
        params![
            job.id.as_str(),
            job.kind,
            job.target,
            job.state.as_str(),
            job.progress,
            job.step,
            job.error,
            job.result.as_ref().map(|r| r.to_string()),
            job.actor,
            job.started_by.as_ref().map(|k| k.as_str()),
            stamp(job.created_at),
            stamp(job.updated_at),
            job.finished_at.map(stamp),
            job.plan.as_ref().map(|p| p.to_string()),
            job.attempt,
        ],
    )
    .map(|_| ())
}

impl SqliteJobArchive {
    /// The job archive of `db`. The jobs a previous process left queued or
    /// running are taken over by the first [`JobArchive::take_over`] (the
    /// API's job keeper calls it as it starts): run again when safe to
    /// repeat, failed ([`INTERRUPTED`]) otherwise.
    pub fn open(db: Database) -> Result<Self, StoreError> {
        let left = db.run_blocking(|c| {
            let mut unfinished =
                c.prepare("SELECT id FROM jobs WHERE state IN ('queued', 'running')")?;
            let ids = unfinished.query_map([], |row| row.get::<_, String>(0))?;
            ids.collect::<rusqlite::Result<Vec<String>>>()
        })?;
        let left = left.iter().filter_map(|id| JobId::parse(id)).collect();
        let (writes, queue) = mpsc::channel::<Write>();
        let database = db.clone();
        let writer = std::thread::Builder::new()
            .name("hyperion-job-writer".to_owned())
            .spawn(move || {
                while let Ok(first) = queue.recv() {
                    let mut group = vec![first];
                    while group.len() < MAX_GROUP {
                        match queue.try_recv() {
                            Ok(next) => group.push(next),
                            Err(_) => break,
                        }
                    }
                    commit_group(&database, group);
                }
            })
            .map_err(|err| StoreError(format!("cannot start the job writer: {err}")))?;
        Ok(SqliteJobArchive {
            db,
            writes: Some(writes),
            writer: Some(writer),
            left: std::sync::Mutex::new(left),
        })
    }
}

impl Drop for SqliteJobArchive {
    /// Writes what is still queued before letting go.
    fn drop(&mut self) {
        self.writes.take();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

#[async_trait]
impl JobArchive for SqliteJobArchive {
    fn save(&self, job: &Job) {
        let write = Write {
            job: job.clone(),
            committed: None,
        };
        let sent = self
            .writes
            .as_ref()
            .is_some_and(|writes| writes.send(write).is_ok());
        if !sent {
            tracing::error!(job = %job.id, "the job writer has stopped; a job record was not saved");
        }
    }

    async fn save_durably(&self, job: &Job) -> Result<(), StoreError> {
        let (committed, done) = tokio::sync::oneshot::channel();
        let write = Write {
            job: job.clone(),
            committed: Some(committed),
        };
        let writes = self
            .writes
            .as_ref()
            .ok_or_else(|| StoreError("the job writer has stopped".to_owned()))?;
        writes
            .send(write)
            .map_err(|_| StoreError("the job writer has stopped".to_owned()))?;
        done.await
            .map_err(|_| StoreError("the job writer has stopped".to_owned()))?
            .map_err(StoreError)
    }

    async fn take_over(&self) -> Result<Vec<Job>, StoreError> {
        let left = std::mem::take(
            &mut *self
                .left
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        if left.is_empty() {
            return Ok(Vec::new());
        }
        let at = stamp(now());
        let (taken, failed) = self
            .db
            .run(move |c| {
                let tx = c.transaction()?;
                let mut taken = Vec::new();
                let mut failed = 0;
                for id in &left {
                    let again = tx.query_row(
                        &format!(
                            "UPDATE jobs SET attempt = attempt + 1, state = 'queued', updated_at = ?2,
                               step = 'taken over after a restart of the server'
                             WHERE id = ?1 AND state IN ('queued', 'running') AND plan IS NOT NULL
                             RETURNING {COLUMNS}"
                        ),
                        params![id.as_str(), at],
                        job,
                    );
                    match again.optional()? {
                        Some(again) => taken.push(again),
                        None => {
                            failed += tx.execute(
                                "UPDATE jobs SET state = 'failed', updated_at = ?2, finished_at = ?2,
                                   error = ?3 || '; ' || kind || ' is not safe to repeat, so it was not run again'
                                 WHERE id = ?1 AND state IN ('queued', 'running')",
                                params![id.as_str(), at, INTERRUPTED],
                            )?;
                        }
                    }
                }
                tx.commit()?;
                Ok((taken, failed))
            })
            .await?;
        if failed > 0 {
            tracing::warn!(
                failed,
                "jobs left unfinished by a previous run, not safe to repeat, were marked failed"
            );
        }
        if !taken.is_empty() {
            tracing::warn!(
                jobs = taken.len(),
                "jobs left unfinished by a previous run are run again"
            );
        }
        Ok(taken)
    }

    async fn holds(&self, id: &JobId, attempt: u32) -> Result<bool, StoreError> {
        let id = id.to_string();
        self.db
            .run(move |c| {
                c.query_row(
                    "SELECT 1 FROM jobs WHERE id = ?1 AND attempt = ?2 AND state IN ('queued', 'running')",
                    params![id, attempt],
                    |_| Ok(()),
                )
                .optional()
                .map(|found| found.is_some())
            })
            .await
    }

    async fn load(&self, id: &JobId) -> Result<Option<Job>, StoreError> {
        let id = id.to_string();
        self.db
            .run(move |c| {
                c.query_row(
                    &format!("SELECT {COLUMNS} FROM jobs WHERE id = ?1"),
                    [id],
                    job,
                )
                .optional()
            })
            .await
    }
}
