use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use serde::de::DeserializeOwned;

use super::rerun::{JobPlan, Work, audited};
use super::{HyperionApi, Services};
use crate::JobAccepted;
use crate::audit::{AuditEvent, AuditOutcome, Happening, RequestFacts};
use crate::authz::{HostingRule, Principal, require_hosting_access};
use crate::cluster::Located;
use crate::error::ApiError;
use crate::http::{ApiResponse, Query, RouteMatch, parse_json_body};
use crate::jobs::{JobFailure, JobOutcome, JobProgress, JobSpec, JobTask};
use crate::model::{HostingSelector, NodeId};

/// Everything an endpoint needs about its request, parsed once.
/// What an endpoint acted on, handed back to the pipeline for the audit
/// event once the endpoint knows it (the canonical id of a hosting named by
/// domain, the id of a new key), whether the request then succeeds or not.
#[derive(Debug, Default)]
pub(crate) struct AuditTarget(Option<String>, Option<String>);

impl AuditTarget {
    /// Names what the request acts on.
    pub(crate) fn set(&mut self, target: &str) {
        self.0 = Some(target.to_owned());
    }

    /// What the audit event of a success says it did (an owner's change
    /// names the old and the new owner).
    pub(crate) fn note(&mut self, detail: String) {
        self.1 = Some(detail);
    }

    /// The note of a success, if any.
    pub(crate) fn noted(&self) -> Option<String> {
        self.1.clone()
    }
}

pub(crate) struct RequestContext<'a> {
    pub(crate) api: &'a HyperionApi,
    pub(crate) services: &'a Services,
    pub(crate) principal: Principal,
    pub(crate) request_id: &'a str,
    /// The client's own request id, when sane (kept beside ours, never for it).
    pub(crate) client_request_id: Option<&'a str>,
    /// The request path as sent (still percent-encoded).
    pub(crate) raw_path: &'a str,
    /// Where the app mounted `/api/v1` (see [`crate::RequestHead::prefix`]).
    pub(crate) prefix: &'a str,
    pub(crate) route: RouteMatch,
    pub(crate) query: Query,
    pub(crate) body: Bytes,
    /// The client address (see [`crate::http::client_ip`]).
    pub(crate) peer: Option<IpAddr>,
}

impl RequestContext<'_> {
    /// What this request acted on, for its audit event: what the endpoint
    /// handed back, else the raw `{id}` it was asked about.
    pub(crate) fn target(&self, handed_back: &AuditTarget) -> String {
        handed_back
            .0
            .clone()
            .or_else(|| self.route.param("id").map(str::to_owned))
            .unwrap_or_default()
    }

    /// The hosting the route's `{id}` names, found and checked by the
    /// route's own rule (its capability and the grant it needs on the
    /// hosting), and, given `target`, recorded as what the request acts on.
    pub(crate) async fn hosting(
        &self,
        target: Option<&mut AuditTarget>,
    ) -> Result<Located, ApiError> {
        let rule = self.route.spec.rule;
        let (Some(cap), HostingRule::Access(access)) = (rule.cap, rule.hosting) else {
            return Err(ApiError::internal(format!(
                "{:?} is not declared as acting on a hosting",
                self.route.spec.endpoint
            )));
        };
        let selector = self.hosting_selector()?;
        let cluster = &self.services.cluster;
        let located =
            require_hosting_access(&self.principal, cluster, &selector, cap, access).await?;
        if let Some(target) = target {
            target.set(located.hosting.summary.id.as_str());
        }
        Ok(located)
    }

    /// The `{id}` path parameter as a hosting selector.
    pub(crate) fn hosting_selector(&self) -> Result<HostingSelector, ApiError> {
        Ok(self.path_param("id")?.parse()?)
    }

    /// A path parameter the route pattern declares.
    pub(crate) fn path_param(&self, name: &str) -> Result<&str, ApiError> {
        self.route
            .param(name)
            .ok_or_else(|| ApiError::internal(format!("route has no `{name}` parameter")))
    }

    /// The JSON body as `T`.
    pub(crate) fn json_body<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        parse_json_body(&self.body)
    }

    /// The JSON body as `T`, or `T::default()` when there is no body at all.
    pub(crate) fn optional_json_body<T: DeserializeOwned + Default>(&self) -> Result<T, ApiError> {
        if self.body.is_empty() {
            Ok(T::default())
        } else {
            parse_json_body(&self.body)
        }
    }

    /// Starts `work` as a background job for a slow mutation that is not
    /// safe to repeat (a runner that stops before it ends leaves it failed)
    /// and answers `202 {"job_id","status":"accepted"}` with `Location`.
    /// The job's kind is the route's action; when the job ends, its outcome
    /// is audited as that action on `target`.
    pub(crate) async fn start_job<F, Fut>(
        &self,
        target: &str,
        work: F,
    ) -> Result<ApiResponse, ApiError>
    where
        F: FnOnce(JobProgress) -> Fut + Send + 'static,
        Fut: Future<Output = JobOutcome> + Send + 'static,
    {
        let finished = self.job_end_event(target);
        let task = audited(work, finished, Arc::clone(&self.services.audit));
        self.submit_job(target, None, task).await
    }

    /// [`RequestContext::start_job`] for `work` that is safe to repeat: it
    /// is stored with the job, and run again elsewhere if the runner
    /// running it stops before it ends.
    pub(crate) async fn start_repeatable_job(
        &self,
        target: &str,
        work: Work,
    ) -> Result<ApiResponse, ApiError> {
        let plan = JobPlan::new(work, self.job_end_event(target));
        let stored = plan.to_value();
        let task = plan.task(
            self.services.cluster.clone(),
            self.job_deadline(),
            Arc::clone(&self.services.audit),
        );
        self.submit_job(target, Some(stored), task).await
    }

    /// The audit event a job of this request ends with (outcome and time
    /// filled in then).
    fn job_end_event(&self, target: &str) -> AuditEvent {
        let endpoint = self.route.spec.endpoint;
        debug_assert!(endpoint.starts_job(), "{endpoint:?} does not start jobs");
        self.audit_event(endpoint.action(), target, AuditOutcome::Ok, None, None)
    }

    async fn submit_job(
        &self,
        target: &str,
        plan: Option<serde_json::Value>,
        task: JobTask,
    ) -> Result<ApiResponse, ApiError> {
        let spec = JobSpec {
            kind: self.route.spec.endpoint.action().to_owned(),
            target: target.to_owned(),
            actor: self.principal.actor(),
            started_by: Some(self.principal.key_id().clone()),
            plan,
        };
        let job = self.services.jobs.submit(spec, task).await?;
        let mut response = ApiResponse::json(
            StatusCode::ACCEPTED,
            &JobAccepted {
                job_id: job.id.clone(),
                status: "accepted".to_owned(),
            },
        );
        response.set_header(
            http::header::LOCATION,
            &self.link(&format!("/jobs/{}", job.id)),
        );
        Ok(response)
    }

    /// The deadline of one node call made by a job.
    pub(crate) fn job_deadline(&self) -> Duration {
        self.services.config.job_node_deadline
    }

    /// The path a client follows to `path` (e.g. `/jobs/j1`): under
    /// `/api/v1`, under the prefix the app mounted the API at.
    pub(crate) fn link(&self, path: &str) -> String {
        format!("{}{}{path}", self.prefix, crate::http::BASE_PATH)
    }

    /// An audit event for an action of this request's principal.
    pub(crate) fn audit_event(
        &self,
        action: &str,
        target: &str,
        outcome: AuditOutcome,
        status: Option<u16>,
        detail: Option<String>,
    ) -> AuditEvent {
        let what = Happening {
            action,
            target,
            outcome,
            status,
            detail,
        };
        crate::audit::event(self.principal.requester(), self.facts(), what)
    }

    /// This request, as its audit events record it.
    pub(crate) fn facts(&self) -> RequestFacts<'_> {
        RequestFacts {
            request_id: self.request_id,
            client_request_id: self.client_request_id,
            client_ip: self.peer,
        }
    }
}

/// Runs one node call inside a job, bounded by `deadline`; a failure becomes
/// the job's error.
pub(crate) async fn within_deadline<T>(
    deadline: Duration,
    node: &NodeId,
    call: impl Future<Output = Result<T, crate::node::NodeError>>,
) -> Result<T, JobFailure> {
    match tokio::time::timeout(deadline, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(JobFailure::from(err.to_string())),
        Err(_) => Err(JobFailure::from(format!(
            "node {node} did not finish in time"
        ))),
    }
}
