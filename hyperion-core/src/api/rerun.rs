//! The work of the jobs that are safe to repeat (delete, certificate issue,
//! the certificate sweep), as data: a job stores its [`JobPlan`], so that
//! when the runner running it stops, another one (a surviving replica, or
//! this server after a restart) runs the same work again from the record
//! alone. Repeating is safe: a second delete of a deleted hosting, or a
//! second certificate request, leaves the hosting as one would. A job whose
//! work is not safe to repeat (backup, restore, WordPress) has no plan and
//! is failed instead, saying why.
//!
//! The work runs the same way the first time and any later time, and the
//! job's end is audited once, by the run that still holds the job.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::Services;
use super::context::within_deadline;
use crate::audit::{AuditEvent, AuditOutcome, AuditSink};
use crate::cluster::Cluster;
use crate::jobs::{Job, JobFailure, JobOutcome, JobProgress, JobTask};
use crate::model::{HostingId, NodeId, now};
use crate::node::{DeleteOptions, Node};

/// What a job does, as data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum Work {
    /// Delete a hosting on its node.
    Delete {
        node: NodeId,
        hosting: HostingId,
        keep_user: bool,
        keep_database: bool,
    },
    /// Issue a certificate for a hosting.
    Certificate {
        node: NodeId,
        hosting: HostingId,
        staging: bool,
    },
    /// Renew the certificates of every node.
    RenewAll,
}

/// What a job stores to be run again: its work, and the audit event its
/// end is recorded as (the request that started it, its key and client).
#[derive(Serialize, Deserialize)]
pub(crate) struct JobPlan {
    work: Work,
    finished: AuditEvent,
}

impl JobPlan {
    /// The plan of `work` started by the request `finished` describes.
    pub(crate) fn new(work: Work, finished: AuditEvent) -> Self {
        JobPlan { work, finished }
    }

    /// As stored with the job.
    pub(crate) fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// The job's task: the work over `cluster`, each node call within
    /// `deadline`, its end audited to `audit`.
    pub(crate) fn task(
        self,
        cluster: Cluster,
        deadline: Duration,
        audit: Arc<dyn AuditSink>,
    ) -> JobTask {
        let JobPlan { work, finished } = self;
        audited(
            move |progress| async move { work.run(&cluster, deadline, &progress).await },
            finished,
            audit,
        )
    }
}

impl Work {
    async fn run(
        self,
        cluster: &Cluster,
        deadline: Duration,
        progress: &JobProgress,
    ) -> JobOutcome {
        match self {
            Work::Delete {
                node,
                hosting,
                keep_user,
                keep_database,
            } => {
                let node = node_of(cluster, &node)?;
                progress.step(&format!("deleting on {}", node.id()), 10);
                let options = DeleteOptions {
                    keep_user,
                    keep_database,
                };
                within_deadline(deadline, node.id(), node.delete(&hosting, options)).await?;
                cluster.locator().forget(&hosting);
                Ok(None)
            }
            Work::Certificate {
                node,
                hosting,
                staging,
            } => {
                let node = node_of(cluster, &node)?;
                progress.step("requesting the certificate", 5);
                let call = node.issue_certificate(&hosting, staging, progress);
                let certificate = within_deadline(deadline, node.id(), call).await?;
                Ok(Some(json!(certificate)))
            }
            Work::RenewAll => renew_all(cluster.nodes(), deadline, progress).await,
        }
    }
}

/// The node `id` of `cluster`; a job naming a node this server does not
/// serve fails, saying so.
fn node_of<'a>(cluster: &'a Cluster, id: &NodeId) -> Result<&'a Arc<dyn Node>, JobFailure> {
    cluster
        .node(id)
        .ok_or_else(|| JobFailure::from(format!("node {id} is not served here")))
}

/// Sweeps every node at once; records which succeeded and which failed.
async fn renew_all(
    nodes: &[Arc<dyn Node>],
    deadline: Duration,
    progress: &JobProgress,
) -> JobOutcome {
    let total = nodes.len().max(1);
    let done = std::sync::atomic::AtomicUsize::new(0);
    let sweeps = nodes.iter().map(|node| {
        let done = &done;
        async move {
            let report =
                within_deadline(deadline, node.id(), node.renew_certificates(progress)).await;
            let finished = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            progress.step(
                &format!("{finished} of {total} nodes swept"),
                (finished * 100 / total) as u8,
            );
            (node.id().clone(), report)
        }
    });
    let mut succeeded = Vec::new();
    let mut failed = Vec::new();
    for (node, report) in futures::future::join_all(sweeps).await {
        match report {
            Ok(report) => succeeded
                .push(json!({"node": node, "renewed": report.renewed, "skipped": report.skipped})),
            Err(failure) => failed.push(json!({"node": node, "error": failure.error})),
        }
    }
    let result = json!({"succeeded": succeeded, "failed": failed});
    if failed.is_empty() {
        Ok(Some(result))
    } else {
        Err(JobFailure {
            error: format!("{} of {} nodes failed", failed.len(), nodes.len()),
            result: Some(result),
        })
    }
}

/// `work` as a job task whose end is audited as `finished` (its outcome
/// and time filled in), by the run that still holds the job only: a run
/// stalled past its lease, whose job another runner took over, records
/// nothing.
pub(crate) fn audited<F, Fut>(
    work: F,
    mut finished: AuditEvent,
    audit: Arc<dyn AuditSink>,
) -> JobTask
where
    F: FnOnce(JobProgress) -> Fut + Send + 'static,
    Fut: Future<Output = JobOutcome> + Send + 'static,
{
    Box::new(move |progress: JobProgress| {
        Box::pin(async move {
            let outcome = work(progress.clone()).await;
            if progress.still_held().await {
                if let Err(failure) = &outcome {
                    finished.outcome = AuditOutcome::Failed;
                    finished.detail = Some(failure.error.clone());
                }
                finished.at = now();
                audit.record(finished).await;
            }
            outcome
        })
    })
}

/// Runs again, here, a job another runner left unfinished (see
/// [`crate::jobs::JobRunner::take_over`]).
pub(crate) async fn resume(services: &Services, job: Job) {
    let plan = job
        .plan
        .clone()
        .map(serde_json::from_value::<JobPlan>)
        .transpose();
    let attempt = job.attempt;
    let task = match plan {
        Ok(Some(mut plan)) => {
            plan.finished.detail = Some(format!(
                "run again (attempt {attempt}) after the runner of its first attempts stopped"
            ));
            plan.task(
                services.cluster.clone(),
                services.config.job_node_deadline,
                Arc::clone(&services.audit),
            )
        }
        Ok(None) | Err(_) => {
            let why = "its plan could not be read, so it was not run again".to_owned();
            Box::new(
                move |_: JobProgress| -> futures::future::BoxFuture<'static, JobOutcome> {
                    Box::pin(async move { Err(JobFailure::from(why)) })
                },
            ) as JobTask
        }
    };
    let id = job.id.clone();
    if let Err(err) = services.jobs.resume(job, task).await {
        tracing::error!(job = %id, error = %err, "could not run a job taken over");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_reads_back_as_written() {
        let work = Work::Delete {
            node: "node-1".parse().unwrap(),
            hosting: "h1".parse().unwrap(),
            keep_user: true,
            keep_database: false,
        };
        let stored = serde_json::to_value(&work).unwrap();
        assert_eq!(stored["op"], "delete");
        assert_eq!(serde_json::from_value::<Work>(stored).unwrap(), work);
        for work in [
            Work::Certificate {
                node: "node-2".parse().unwrap(),
                hosting: "h2".parse().unwrap(),
                staging: true,
            },
            Work::RenewAll,
        ] {
            let stored = serde_json::to_value(&work).unwrap();
            assert_eq!(serde_json::from_value::<Work>(stored).unwrap(), work);
        }
    }
}
