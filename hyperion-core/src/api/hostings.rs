//! `/hostings`: list, detail, suspend, resume, delete.

use std::collections::BTreeSet;
use std::sync::Arc;

use http::StatusCode;
use serde::Serialize;
use serde_json::Value;

use super::rendered::{PageKey, View};
use super::rerun::Work;
use super::{AuditTarget, RequestContext};
use crate::authz::{Principal, may_resume, suspender};
use crate::cluster::worst_failure;
use crate::error::ApiError;
use crate::http::ApiResponse;
use crate::model::{
    HostingId, HostingState, LabelSelector, MAX_DOMAIN_LEN, MAX_LABELS, NodeId, OwnerId, PlanName,
    SuspendedBy,
};
use crate::node::{DeleteOptions, ListQuery};
use crate::{HostingPage, StateChange};

/// A hosting, or a page of them, as the principal may see it: node names
/// never reach a grants-scoped key, so for one every `node_id` is null.
pub(crate) fn hosting_response<T: Serialize>(
    principal: &Principal,
    status: StatusCode,
    body: &T,
) -> Result<ApiResponse, ApiError> {
    if principal.scope().is_all() {
        return Ok(ApiResponse::json(status, body));
    }
    let mut value = serde_json::to_value(body)
        .map_err(|err| ApiError::internal(format!("could not render a hosting: {err}")))?;
    hide_node_ids(&mut value);
    Ok(ApiResponse::json(status, &value))
}

fn hide_node_ids(value: &mut Value) {
    if let Some(object) = value.as_object_mut() {
        if let Some(node) = object.get_mut("node_id") {
            *node = Value::Null;
        }
        if let Some(Value::Array(items)) = object.get_mut("items") {
            items.iter_mut().for_each(hide_node_ids);
        }
    }
}

/// `GET /hostings?limit&cursor&state&node&q&owner&plan&label&allow_partial`:
/// only what the key may read.
pub(crate) async fn list(ctx: &RequestContext<'_>) -> Result<ApiResponse, ApiError> {
    let query = &ctx.query;
    let limit = query.page_size()?;
    let after = query.cursor::<HostingId>()?;
    let state = query.parse_value::<HostingState>("state")?;
    if query.get("node")?.is_some() && !ctx.principal.scope().is_all() {
        // The same answer for every node id, known or not: node names never
        // reach a grants-scoped key.
        return Err(ApiError::Validation(
            "query parameter `node` needs a key with scope `all`".to_owned(),
        ));
    }
    let node = query.parse_value::<NodeId>("node")?;
    let allow_partial = query.parse_value::<bool>("allow_partial")?.unwrap_or(true);
    let domain_contains = match query.get("q")? {
        Some(q) if q.len() > MAX_DOMAIN_LEN => {
            return Err(ApiError::Validation(format!(
                "query parameter `q` is longer than {MAX_DOMAIN_LEN} characters"
            )));
        }
        Some("") | None => None,
        Some(q) => Some(q.to_lowercase()),
    };
    let owner = query.parse_value::<OwnerId>("owner")?;
    let plan = query.parse_value::<PlanName>("plan")?;
    let labels = query.parse_all::<LabelSelector>("label", MAX_LABELS)?;
    let reach = ctx.principal.scope();
    let only = reach
        .grants()
        .map(|grants| Arc::new(grants.keys().cloned().collect::<BTreeSet<_>>()));
    if only.as_ref().is_some_and(|only| only.is_empty()) {
        return hosting_response(
            &ctx.principal,
            StatusCode::OK,
            &HostingPage {
                items: Vec::new(),
                next_cursor: None,
                total: 0,
                partial: false,
                unavailable_nodes: Vec::new(),
            },
        );
    }
    // A scope-all page is answered from the bytes rendered last while
    // every node it asks vouches for the revision it had then.
    let reusable = reach.is_all().then(|| PageKey {
        node: node.clone(),
        after: after.clone(),
        limit,
        state,
        domain_contains: domain_contains.clone(),
        owner: owner.clone(),
        plan: plan.clone(),
        labels: labels.clone(),
    });
    let revisions = reusable
        .as_ref()
        .and_then(|_| ctx.services.cluster.revisions(node.as_ref()));
    if let (Some(key), Some(revisions)) = (&reusable, &revisions)
        && let Some(bytes) = ctx.services.pages.get(key, revisions)
    {
        return Ok(ApiResponse::json_bytes(StatusCode::OK, bytes));
    }
    // Boxed: asking every node makes a large future, and every request's
    // future is as large as its largest branch.
    let page = Box::pin(ctx.services.cluster.list(
        node.as_ref(),
        &ListQuery {
            after,
            limit,
            state,
            domain_contains,
            only,
            only_owner: reach.owner().cloned(),
            owner,
            plan,
            labels,
        },
    ))
    .await?;
    if !allow_partial && !page.unavailable.is_empty() {
        return Err(worst_failure(page.unavailable));
    }
    let partial = !page.unavailable.is_empty();
    let unavailable_nodes = if ctx.principal.scope().is_all() {
        page.unavailable.into_iter().map(|(node, _)| node).collect()
    } else {
        Vec::new()
    };
    let response = hosting_response(
        &ctx.principal,
        StatusCode::OK,
        &HostingPage {
            items: page.items,
            next_cursor: page.next_cursor,
            total: page.total,
            partial,
            unavailable_nodes,
        },
    )?;
    if let (Some(key), Some(revisions)) = (reusable, revisions)
        && !partial
        && response.status == StatusCode::OK
    {
        ctx.services
            .pages
            .keep(key, revisions, response.body.clone());
    }
    Ok(response)
}

/// `GET /hostings/{id}`: by id or domain.
pub(crate) async fn show(ctx: &RequestContext<'_>) -> Result<ApiResponse, ApiError> {
    let located = ctx.hosting(None).await?;
    let view = if ctx.principal.scope().is_all() {
        View::Cluster
    } else {
        View::Tenant
    };
    let body = ctx.services.rendered.detail(&located.hosting, view);
    Ok(ApiResponse::json_bytes(StatusCode::OK, body))
}

/// Which way a suspend-or-resume goes.
#[derive(Clone, Copy)]
enum Toggle {
    Suspend,
    Resume,
}

impl Toggle {
    /// (the state it starts from, the state it leads to)
    fn states(self) -> (HostingState, HostingState) {
        match self {
            Toggle::Suspend => (HostingState::Active, HostingState::Suspended),
            Toggle::Resume => (HostingState::Suspended, HostingState::Active),
        }
    }
}

/// `POST /hostings/{id}/suspend`.
pub(crate) async fn suspend(
    ctx: &RequestContext<'_>,
    target: &mut AuditTarget,
) -> Result<ApiResponse, ApiError> {
    toggle(ctx, target, Toggle::Suspend).await
}

/// `POST /hostings/{id}/resume`.
pub(crate) async fn resume(
    ctx: &RequestContext<'_>,
    target: &mut AuditTarget,
) -> Result<ApiResponse, ApiError> {
    toggle(ctx, target, Toggle::Resume).await
}

/// Suspend or resume, synchronously; already being there is a 200 no-op that
/// does not call the node.
async fn toggle(
    ctx: &RequestContext<'_>,
    target: &mut AuditTarget,
    toggle: Toggle,
) -> Result<ApiResponse, ApiError> {
    let located = ctx.hosting(Some(target)).await?;
    let id = &located.hosting.summary.id;
    let (from, to) = toggle.states();
    let current = located.hosting.summary.state;
    let recorded = located.hosting.suspended_by;
    if matches!(toggle, Toggle::Resume) && current == HostingState::Suspended {
        may_resume(&ctx.principal, recorded)?;
    }
    let by = suspender(&ctx.principal);
    // The operator suspending what a tenant suspended makes it the operator's
    // (an unknown origin already counts as the operator's).
    let takes_over = matches!(toggle, Toggle::Suspend)
        && current == HostingState::Suspended
        && by == SuspendedBy::Operator
        && recorded == Some(SuspendedBy::Tenant);
    let result = match current {
        current if current == to && !takes_over => Ok(to),
        current if current == from || takes_over => {
            let node = located.node.as_ref();
            let call = async {
                match toggle {
                    Toggle::Suspend => node.suspend(id, by).await,
                    Toggle::Resume => node.resume(id).await,
                }
            };
            ctx.services
                .cluster
                .call(node, call)
                .await
                .map_err(ApiError::from)
        }
        current => Err(ApiError::Conflict(format!(
            "hosting is {current}; only a {from} hosting can go {to}"
        ))),
    };
    let state = result?;
    Ok(ApiResponse::json(
        StatusCode::OK,
        &StateChange {
            id: id.clone(),
            state,
        },
    ))
}

/// `DELETE /hostings/{id}?keep_user&keep_database`: 202 and a job.
pub(crate) async fn delete(
    ctx: &RequestContext<'_>,
    target: &mut AuditTarget,
) -> Result<ApiResponse, ApiError> {
    let options = DeleteOptions {
        keep_user: ctx.query.flag("keep_user")?,
        keep_database: ctx.query.flag("keep_database")?,
    };
    let located = ctx.hosting(Some(target)).await?;
    if located.hosting.summary.state == HostingState::Deleting {
        return Err(ApiError::Conflict(
            "hosting is already being deleted".to_owned(),
        ));
    }
    let work = Work::Delete {
        node: located.node.id().clone(),
        hosting: located.hosting.summary.id.clone(),
        keep_user: options.keep_user,
        keep_database: options.keep_database,
    };
    ctx.start_repeatable_job(located.hosting.summary.id.as_str(), work)
        .await
}
