//! `GET /jobs/{id}`: a job's state. Its starter always reads it; another
//! key needs scope all and the capability of the action that started it
//! (see [`may_read_job`]); anything else is 404.

use http::StatusCode;

use super::RequestContext;
use crate::authz::may_read_job;
use crate::error::ApiError;
use crate::http::ApiResponse;
use crate::jobs::JobId;

fn job_not_found() -> ApiError {
    ApiError::NotFound("job not found".to_owned())
}

pub(crate) async fn show(ctx: &RequestContext<'_>) -> Result<ApiResponse, ApiError> {
    let id = JobId::parse(ctx.path_param("id")?).ok_or_else(job_not_found)?;
    let job = ctx
        .services
        .jobs
        .get(&id)
        .await?
        .filter(|job| may_read_job(&ctx.principal, job))
        .ok_or_else(job_not_found)?;
    Ok(ApiResponse::json(StatusCode::OK, &job))
}
