//! `GET /jobs/{id}`: a job's state. Its starter always reads it; another
//! key needs scope all and the capability of the action that started it
//! (see [`may_read_job`]); anything else is 404.

use http::StatusCode;

use super::RequestContext;
use crate::authz::may_read_job;
use crate::error::ApiError;
use crate::http::ApiResponse;
use crate::jobs::{Job, JobId};

fn job_not_found() -> ApiError {
    ApiError::NotFound("job not found".to_owned())
}

pub(crate) async fn show(ctx: &RequestContext<'_>) -> Result<ApiResponse, ApiError> {
    let id = JobId::parse(ctx.path_param("id")?).ok_or_else(job_not_found)?;
    let mut job = ctx
        .services
        .jobs
        .get(&id)
        .await?
        .filter(|job| may_read_job(&ctx.principal, job))
        .ok_or_else(job_not_found)?;
    if !ctx.principal.scope().is_all() {
        hide_node_names(ctx, &mut job);
    }
    Ok(ApiResponse::json(StatusCode::OK, &job))
}

/// Node names never reach a grants-scoped key: a job's step and error
/// ("deleting on node-2", "node node-3 unavailable") name nodes, so for such
/// a key every node id in them reads "a node".
fn hide_node_names(ctx: &RequestContext<'_>, job: &mut Job) {
    let mut ids: Vec<&str> = ctx
        .services
        .cluster
        .nodes()
        .iter()
        .map(|node| node.id().as_str())
        .collect();
    // Longest first, so `node-1` never eats the start of `node-10`.
    ids.sort_unstable_by_key(|id| std::cmp::Reverse(id.len()));
    for text in [&mut job.step, &mut job.error].into_iter().flatten() {
        for id in &ids {
            if text.contains(id) {
                *text = text
                    .replace(&format!("node {id}"), "a node")
                    .replace(id, "a node");
            }
        }
    }
}
