use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{HyperionApi, Services};
use crate::audit::{AuditEvent, AuditOutcome};
use crate::authz::Principal;
use crate::error::ApiError;
use crate::http::{ApiResponse, Query, RouteMatch, parse_json_body};
use crate::jobs::{JobFailure, JobOutcome, JobProgress, JobSpec};
use crate::model::{HostingSelector, NodeId, now};

/// Everything an endpoint needs about its request, parsed once.
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
    /// What the request acted on, once the endpoint knows (a canonical hosting
    /// id, a new key id); the audit event names it.
    pub(crate) target: Mutex<Option<String>>,
}

impl RequestContext<'_> {
    /// Names what this request acts on, for its audit event.
    pub(crate) fn set_target(&self, target: &str) {
        *self.target.lock().unwrap_or_else(PoisonError::into_inner) = Some(target.to_owned());
    }

    /// What this request acted on: the endpoint's word, else the raw `{id}`.
    pub(crate) fn target(&self) -> String {
        self.target
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .or_else(|| self.route.param("id").map(str::to_owned))
            .unwrap_or_default()
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

    /// Starts `work` as a background job for a slow mutation and answers
    /// `202 {"job_id","status":"accepted"}` with `Location`. When the job
    /// ends, its outcome is audited as `action` on `target`.
    pub(crate) async fn start_job<F, Fut>(
        &self,
        action: &str,
        target: &str,
        work: F,
    ) -> Result<ApiResponse, ApiError>
    where
        F: FnOnce(JobProgress) -> Fut + Send + 'static,
        Fut: Future<Output = JobOutcome> + Send + 'static,
    {
        let audit = Arc::clone(&self.services.audit);
        let mut finished = self.audit_event(action, target, AuditOutcome::Ok, None, None);
        let spec = JobSpec {
            kind: action.to_owned(),
            target: target.to_owned(),
            actor: self.principal.actor(),
            started_by: Some(self.principal.key_id.clone()),
        };
        let job = self
            .services
            .jobs
            .submit(
                spec,
                Box::new(move |progress: JobProgress| {
                    Box::pin(async move {
                        let outcome = work(progress).await;
                        if let Err(failure) = &outcome {
                            finished.outcome = AuditOutcome::Failed;
                            finished.detail = Some(failure.error.clone());
                        }
                        finished.at = now();
                        audit.record(finished).await;
                        outcome
                    })
                }),
            )
            .await?;
        let mut response = ApiResponse::json(
            StatusCode::ACCEPTED,
            &Accepted {
                job_id: job.id.as_str(),
                status: "accepted",
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

    /// An audit event for an action of this request's principal.
    /// The path a client follows to `path` (e.g. `/jobs/j1`): under
    /// `/api/v1`, under the prefix the app mounted the API at.
    pub(crate) fn link(&self, path: &str) -> String {
        format!("{}{}{path}", self.prefix, crate::http::BASE_PATH)
    }

    pub(crate) fn audit_event(
        &self,
        action: &str,
        target: &str,
        outcome: AuditOutcome,
        status: Option<u16>,
        detail: Option<String>,
    ) -> AuditEvent {
        AuditEvent {
            id: 0,
            key_prefix: None,
            at: now(),
            request_id: self.request_id.to_owned(),
            client_request_id: self.client_request_id.map(str::to_owned),
            actor: self.principal.actor(),
            key_id: Some(self.principal.key_id.clone()),
            owner: Some(self.principal.owner.clone()),
            action: action.to_owned(),
            target: target.to_owned(),
            outcome,
            status,
            client_ip: self.peer,
            detail,
            count: 1,
        }
        .bounded()
    }
}

#[derive(Serialize)]
struct Accepted<'a> {
    job_id: &'a str,
    status: &'static str,
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
