use std::net::IpAddr;

use bytes::Bytes;

use super::{HyperionApi, Services};
use crate::audit::{AuditEvent, AuditOutcome};
use crate::authz::Principal;
use crate::error::ApiError;
use crate::http::{Query, RouteMatch};
use crate::model::{HostingSelector, now};

/// Everything an endpoint needs about its request, parsed once.
pub(crate) struct RequestContext<'a> {
    pub(crate) api: &'a HyperionApi,
    pub(crate) services: &'a Services,
    pub(crate) principal: Principal,
    pub(crate) request_id: &'a str,
    pub(crate) route: RouteMatch,
    pub(crate) query: Query,
    pub(crate) body: Bytes,
    pub(crate) peer: Option<IpAddr>,
}

impl RequestContext<'_> {
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

    /// An audit event for an action of this request's principal.
    pub(crate) fn audit_event(
        &self,
        action: &str,
        target: &str,
        outcome: AuditOutcome,
        status: Option<u16>,
        detail: Option<String>,
    ) -> AuditEvent {
        AuditEvent {
            at: now(),
            request_id: self.request_id.to_owned(),
            actor: self.principal.actor(),
            key_id: Some(self.principal.key_id.clone()),
            action: action.to_owned(),
            target: target.to_owned(),
            outcome,
            status,
            client_ip: self.peer,
            detail,
        }
    }

    /// Records the outcome of a synchronous mutation.
    pub(crate) async fn audit<T>(&self, action: &str, target: &str, result: &Result<T, ApiError>) {
        let (outcome, status, detail) = match result {
            Ok(_) => (AuditOutcome::Ok, 200, None),
            Err(err) => (
                AuditOutcome::Failed,
                err.status().as_u16(),
                Some(err.to_string()),
            ),
        };
        let event = self.audit_event(action, target, outcome, Some(status), detail);
        self.services.audit.record(event).await;
    }
}
