//! Background jobs: slow mutations (delete, backup, ...) answer `202` at once
//! and run here. A job records its step and progress as it goes and ends
//! `succeeded` or `failed`; a job that panics ends `failed` and takes nothing
//! else down.

use std::collections::{HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use futures::FutureExt;
use futures::future::BoxFuture;

pub use hyperion_wire::jobs::{Job, JobId, JobState};

use crate::keys::KeyId;
use crate::model::now;
use crate::store::StoreError;

/// What to start.
#[derive(Clone, Debug)]
pub struct JobSpec {
    /// What it does (`hosting.delete`, ...).
    pub kind: String,
    /// What it works on.
    pub target: String,
    /// Who starts it (`apikey:<label>`).
    pub actor: String,
    /// The key that starts it.
    pub started_by: Option<KeyId>,
    /// For work that is safe to repeat: what another runner needs to run it
    /// again if this one stops before the job ends (stored with the record,
    /// never shown). `None`: the job is failed instead, saying why.
    pub plan: Option<serde_json::Value>,
}

/// Why a job failed, and whatever partial result it still has to report.
#[derive(Clone, Debug, PartialEq)]
pub struct JobFailure {
    /// What went wrong.
    pub error: String,
    /// A partial result (e.g. which nodes of a sweep failed).
    pub result: Option<serde_json::Value>,
}

impl From<String> for JobFailure {
    fn from(error: String) -> Self {
        JobFailure {
            error,
            result: None,
        }
    }
}

/// How a job ends: a result value on success, a [`JobFailure`] otherwise.
pub type JobOutcome = Result<Option<serde_json::Value>, JobFailure>;

/// The work of a job: given a progress reporter, a future that ends it.
pub type JobTask = Box<dyn FnOnce(JobProgress) -> BoxFuture<'static, JobOutcome> + Send>;

/// Receives `(step, percent)` reports from a running job.
type ProgressReport = dyn Fn(&str, u8) + Send + Sync;

/// Answers whether the running attempt still holds its job.
type HoldCheck = dyn Fn() -> BoxFuture<'static, bool> + Send + Sync;

/// Lets a running job report its step and progress.
#[derive(Clone)]
pub struct JobProgress {
    report: Arc<ProgressReport>,
    held: Option<Arc<HoldCheck>>,
}

impl JobProgress {
    /// A reporter that calls `report(step, percent)`.
    pub fn new(report: impl Fn(&str, u8) + Send + Sync + 'static) -> Self {
        JobProgress {
            report: Arc::new(report),
            held: None,
        }
    }

    /// Whether this run still holds its job: `false` once another runner
    /// took it over or ended it (this run was stalled past its lease), so
    /// that what it did is not reported twice.
    pub async fn still_held(&self) -> bool {
        match &self.held {
            Some(held) => held().await,
            None => true,
        }
    }

    /// Records the current step and progress (clamped to 0..=100).
    pub fn step(&self, step: &str, percent: u8) {
        let most = crate::model::bounds::PROGRESS_PERCENT.max;
        (self.report)(step, percent.min(most as u8));
    }
}

/// Runs jobs and keeps their records.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait JobRunner: Send + Sync {
    /// Records a queued job, starts `task` in the background and returns
    /// the record as accepted.
    async fn submit(&self, spec: JobSpec, task: JobTask) -> Result<Job, StoreError>;
    /// The record of job `id`.
    async fn get(&self, id: &JobId) -> Result<Option<Job>, StoreError>;
    /// Takes over the jobs whose runner stopped before they ended (see
    /// [`JobArchive::take_over`]): answers those to run again here, each with
    /// its plan and its new attempt. The default takes over nothing.
    async fn take_over(&self) -> Result<Vec<Job>, StoreError> {
        Ok(Vec::new())
    }
    /// Runs `task` for `job`, a record [`JobRunner::take_over`] answered.
    async fn resume(&self, job: Job, task: JobTask) -> Result<(), StoreError> {
        drop(task);
        Err(StoreError(format!(
            "this job runner cannot run job {} again",
            job.id
        )))
    }
}

/// A durable copy of a runner's job records (e.g. [`crate::sqlite`]).
#[async_trait]
pub trait JobArchive: Send + Sync {
    /// Keeps the current state of `job`. Called after every change, from
    /// inside running jobs: it must not block (queue the write instead).
    fn save(&self, job: &Job);
    /// Keeps `job` and waits until it is durable: the runner calls it for a
    /// job's first record before answering 202, so an accepted job survives
    /// a crash. The default only queues it with [`JobArchive::save`]; an
    /// archive that can wait for its storage must override it.
    async fn save_durably(&self, job: &Job) -> Result<(), StoreError> {
        self.save(job);
        Ok(())
    }
    /// A job the runner no longer holds in memory (older, or from before a restart).
    async fn load(&self, id: &JobId) -> Result<Option<Job>, StoreError>;
    /// Claims the jobs left unfinished by a runner that stopped (one whose
    /// lease lapsed; for a store only one process opens, those a previous
    /// process left): one with a plan is answered with its next attempt, to
    /// be run again by the caller, and held by it; one without is failed,
    /// saying why. Each job is claimed by one caller only. The default
    /// claims nothing.
    async fn take_over(&self) -> Result<Vec<Job>, StoreError> {
        Ok(Vec::new())
    }
    /// Whether attempt `attempt` of job `id` is still the one the record
    /// follows (not taken over, not ended by another runner). The default
    /// says yes.
    async fn holds(&self, id: &JobId, attempt: u32) -> Result<bool, StoreError> {
        let _ = (id, attempt);
        Ok(true)
    }
}

/// How many finished jobs [`TokioJobRunner`] keeps before forgetting the oldest.
pub(crate) const DEFAULT_FINISHED_JOBS_KEPT: usize = 10_000;

#[derive(Default)]
struct JobTable {
    jobs: HashMap<JobId, Job>,
    finished: VecDeque<JobId>,
    unfinished: usize,
}

/// The default runner: each job is a tokio task; records live in memory and
/// the oldest finished ones are dropped past a bound, so memory stays flat.
#[derive(Clone)]
pub struct TokioJobRunner {
    table: Arc<Mutex<JobTable>>,
    keep_finished: usize,
    idle: Arc<tokio::sync::Notify>,
    archive: Option<Arc<dyn JobArchive>>,
}

impl Default for TokioJobRunner {
    fn default() -> Self {
        Self::new(DEFAULT_FINISHED_JOBS_KEPT)
    }
}

impl TokioJobRunner {
    /// A runner that keeps at most `keep_finished` finished jobs.
    pub fn new(keep_finished: usize) -> Self {
        TokioJobRunner {
            table: Arc::default(),
            keep_finished: keep_finished.max(1),
            idle: Arc::default(),
            archive: None,
        }
    }

    /// Also keeps every job in `archive`, and reads from it the jobs no
    /// longer in memory.
    #[must_use]
    pub fn with_archive(mut self, archive: Arc<dyn JobArchive>) -> Self {
        self.archive = Some(archive);
        self
    }

    /// How many jobs are queued or running.
    pub fn unfinished(&self) -> usize {
        self.table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .unfinished
    }

    /// Waits until no job is queued or running, or `grace` has passed (for a
    /// clean shutdown); answers how many are still unfinished.
    pub async fn drain(&self, grace: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            let notified = self.idle.notified();
            let left = self.unfinished();
            if left == 0 || tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.unfinished();
            }
        }
    }

    fn update(&self, id: &JobId, change: impl FnOnce(&mut Job)) {
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(job) = table.jobs.get_mut(id) else {
            return;
        };
        if job.state.is_finished() {
            return;
        }
        change(job);
        job.updated_at = now();
        if let Some(archive) = &self.archive {
            let finished = job.state.is_finished();
            let mut snapshot = job.clone();
            if finished {
                snapshot.finished_at = Some(snapshot.updated_at);
            }
            archive.save(&snapshot);
        }
        if job.state.is_finished() {
            job.finished_at = Some(job.updated_at);
            table.unfinished -= 1;
            if table.unfinished == 0 {
                self.idle.notify_waiters();
            }
            table.finished.push_back(id.clone());
            while table.finished.len() > self.keep_finished {
                if let Some(oldest) = table.finished.pop_front() {
                    table.jobs.remove(&oldest);
                }
            }
        }
    }

    async fn run(self, id: JobId, task: JobTask, progress: JobProgress) {
        self.update(&id, |job| job.state = JobState::Running);
        let outcome = AssertUnwindSafe(async move { task(progress).await })
            .catch_unwind()
            .await
            .unwrap_or_else(|_| Err(JobFailure::from("the job panicked".to_owned())));
        self.update(&id, |job| match outcome {
            Ok(result) => {
                job.state = JobState::Succeeded;
                job.progress = 100;
                job.result = result;
            }
            Err(failure) => {
                tracing::warn!(job = %job.id, kind = %job.kind, error = %failure.error, "job failed");
                job.state = JobState::Failed;
                job.error = Some(failure.error);
                job.result = failure.result;
            }
        });
    }
}

impl TokioJobRunner {
    /// Holds `job` (as submitted or taken over) and runs `task` for it.
    fn start(&self, job: &Job, task: JobTask) {
        {
            let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
            table.jobs.insert(job.id.clone(), job.clone());
            table.unfinished += 1;
        }
        let runner = self.clone();
        let id = job.id.clone();
        let mut progress = JobProgress::new(move |step, percent| {
            runner.update(&id, |job| {
                job.step = Some(step.to_owned());
                job.progress = percent;
            });
        });
        if let Some(archive) = &self.archive {
            let (archive, id, attempt) = (Arc::clone(archive), job.id.clone(), job.attempt);
            progress.held = Some(Arc::new(move || {
                let (archive, id) = (Arc::clone(&archive), id.clone());
                Box::pin(async move { archive.holds(&id, attempt).await.unwrap_or(true) })
            }));
        }
        tokio::spawn(self.clone().run(job.id.clone(), task, progress));
    }
}

#[async_trait]
impl JobRunner for TokioJobRunner {
    async fn submit(&self, spec: JobSpec, task: JobTask) -> Result<Job, StoreError> {
        let created_at = now();
        let job = Job {
            id: JobId::generate(),
            kind: spec.kind,
            target: spec.target,
            state: JobState::Queued,
            progress: 0,
            step: None,
            error: None,
            result: None,
            actor: spec.actor,
            started_by: spec.started_by,
            plan: spec.plan,
            attempt: hyperion_wire::jobs::first_attempt(),
            created_at,
            updated_at: created_at,
            finished_at: None,
        };
        // Durable before anything runs or anyone is told: a 202 is a promise.
        if let Some(archive) = &self.archive {
            archive.save_durably(&job).await?;
        }
        self.start(&job, task);
        Ok(job)
    }

    /// The record this runner holds (its progress may be newer than the
    /// archive's), unless the archive knows better: a record another runner
    /// took over (a later attempt) or ended is the archive's, so a job reads
    /// the same on every replica once it ends.
    async fn get(&self, id: &JobId) -> Result<Option<Job>, StoreError> {
        let held = self
            .table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .jobs
            .get(id)
            .cloned();
        let Some(archive) = &self.archive else {
            return Ok(held);
        };
        match held {
            Some(job) => match archive.load(id).await? {
                Some(stored) if stored.state.is_finished() || stored.attempt > job.attempt => {
                    Ok(Some(stored))
                }
                _ => Ok(Some(job)),
            },
            None => archive.load(id).await,
        }
    }

    async fn take_over(&self) -> Result<Vec<Job>, StoreError> {
        match &self.archive {
            Some(archive) => archive.take_over().await,
            None => Ok(Vec::new()),
        }
    }

    async fn resume(&self, job: Job, task: JobTask) -> Result<(), StoreError> {
        self.start(&job, task);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> JobSpec {
        JobSpec {
            kind: "test".into(),
            target: "t".into(),
            actor: "apikey:test".into(),
            started_by: None,
            plan: None,
        }
    }

    async fn wait_finished(runner: &TokioJobRunner, id: &JobId) -> Job {
        loop {
            let job = runner.get(id).await.unwrap().unwrap();
            if job.state.is_finished() {
                return job;
            }
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn a_job_reports_progress_and_succeeds_with_a_result() {
        let runner = TokioJobRunner::default();
        let (go, wait) = tokio::sync::oneshot::channel::<()>();
        let job = runner
            .submit(
                spec(),
                Box::new(|progress| {
                    Box::pin(async move {
                        progress.step("halfway", 50);
                        wait.await.ok();
                        Ok(Some(serde_json::json!({"backup_id": "b1"})))
                    })
                }),
            )
            .await
            .unwrap();
        assert_eq!(job.state, JobState::Queued);
        loop {
            let now = runner.get(&job.id).await.unwrap().unwrap();
            if now.progress == 50 {
                assert_eq!(now.state, JobState::Running);
                assert_eq!(now.step.as_deref(), Some("halfway"));
                break;
            }
            tokio::task::yield_now().await;
        }
        go.send(()).unwrap();
        let done = wait_finished(&runner, &job.id).await;
        assert_eq!(done.state, JobState::Succeeded);
        assert_eq!(done.progress, 100);
        assert_eq!(done.result, Some(serde_json::json!({"backup_id": "b1"})));
        assert!(done.finished_at.is_some());
    }

    #[tokio::test]
    async fn a_panicking_job_fails_and_the_runner_goes_on() {
        let runner = TokioJobRunner::default();
        let job = runner
            .submit(spec(), Box::new(|_| Box::pin(async { panic!("boom") })))
            .await
            .unwrap();
        let done = wait_finished(&runner, &job.id).await;
        assert_eq!(done.state, JobState::Failed);
        assert_eq!(done.error.as_deref(), Some("the job panicked"));
        let next = runner
            .submit(
                spec(),
                Box::new(|_| Box::pin(async { Err("no disk".to_owned().into()) })),
            )
            .await
            .unwrap();
        let done = wait_finished(&runner, &next.id).await;
        assert_eq!(done.error.as_deref(), Some("no disk"));
    }

    #[tokio::test]
    async fn drain_waits_for_running_jobs_within_the_grace() {
        let runner = TokioJobRunner::default();
        let (go, wait) = tokio::sync::oneshot::channel::<()>();
        runner
            .submit(
                spec(),
                Box::new(|_| {
                    Box::pin(async move {
                        wait.await.ok();
                        Ok(None)
                    })
                }),
            )
            .await
            .unwrap();
        assert_eq!(runner.unfinished(), 1);
        assert_eq!(runner.drain(Duration::from_millis(20)).await, 1);
        go.send(()).unwrap();
        assert_eq!(runner.drain(Duration::from_secs(30)).await, 0);
    }

    #[tokio::test]
    async fn finished_jobs_are_bounded() {
        let runner = TokioJobRunner::new(2);
        let mut ids = Vec::new();
        for _ in 0..3 {
            let job = runner
                .submit(spec(), Box::new(|_| Box::pin(async { Ok(None) })))
                .await
                .unwrap();
            wait_finished(&runner, &job.id).await;
            ids.push(job.id);
        }
        assert!(runner.get(&ids[0]).await.unwrap().is_none());
        assert!(runner.get(&ids[2]).await.unwrap().is_some());
    }
}
