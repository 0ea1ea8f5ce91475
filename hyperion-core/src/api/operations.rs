//! Slow operations on hostings (backup, restore, certificate, WordPress) and
//! the cluster-wide certificate renewal: each answers 202 and runs as a job.

use http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use super::context::within_deadline;
use super::rerun::Work;
use super::{AuditTarget, RequestContext};
use crate::BackupList;
use crate::error::ApiError;
use crate::http::ApiResponse;
use crate::model::{RestoreRequest, WpInstallRequest};

/// `POST /hostings/{id}/backup`.
pub(crate) async fn backup(
    ctx: &RequestContext<'_>,
    target: &mut AuditTarget,
) -> Result<ApiResponse, ApiError> {
    ctx.optional_json_body::<NoOptions>()?;
    let located = ctx.hosting(Some(target)).await?;
    let id = located.hosting.summary.id.clone();
    let on = id.to_string();
    let (node, deadline) = (located.node, ctx.job_deadline());
    ctx.start_job(&on, move |progress| async move {
        progress.step("starting the backup", 5);
        let backup = within_deadline(deadline, node.id(), node.backup(&id, &progress)).await?;
        Ok(Some(
            json!({"backup_id": backup.id, "size_bytes": backup.size_bytes}),
        ))
    })
    .await
}

/// An empty options object: the body may be absent or `{}`, nothing else.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoOptions {}

/// `GET /hostings/{id}/backups` (a view grant may read).
pub(crate) async fn list_backups(ctx: &RequestContext<'_>) -> Result<ApiResponse, ApiError> {
    let located = ctx.hosting(None).await?;
    let node = located.node.as_ref();
    let items = ctx
        .services
        .cluster
        .call(node, node.list_backups(&located.hosting.summary.id))
        .await?;
    Ok(ApiResponse::json(StatusCode::OK, &BackupList { items }))
}

/// `POST /hostings/{id}/restore`. An unknown
/// backup is refused before any job starts.
pub(crate) async fn restore(
    ctx: &RequestContext<'_>,
    target: &mut AuditTarget,
) -> Result<ApiResponse, ApiError> {
    let request: RestoreRequest = ctx.json_body()?;
    let located = ctx.hosting(Some(target)).await?;
    let id = located.hosting.summary.id.clone();
    let node = located.node;
    let backups = ctx
        .services
        .cluster
        .call(node.as_ref(), node.list_backups(&id))
        .await?;
    if !backups.iter().any(|backup| backup.id == request.backup_id) {
        return Err(ApiError::NotFound(format!(
            "backup `{}` not found for this hosting",
            request.backup_id
        )));
    }
    let on = id.to_string();
    let deadline = ctx.job_deadline();
    ctx.start_job(&on, move |progress| async move {
        progress.step(
            &format!("restoring {} ({})", request.backup_id, request.mode),
            5,
        );
        within_deadline(
            deadline,
            node.id(),
            node.restore(&id, &request.backup_id, request.mode, &progress),
        )
        .await?;
        Ok(Some(
            json!({"backup_id": request.backup_id, "mode": request.mode}),
        ))
    })
    .await
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CertificateRequest {
    #[serde(default)]
    staging: bool,
}

/// `POST /hostings/{id}/cert` `{staging?}`.
pub(crate) async fn issue_certificate(
    ctx: &RequestContext<'_>,
    target: &mut AuditTarget,
) -> Result<ApiResponse, ApiError> {
    let request: CertificateRequest = ctx.optional_json_body()?;
    let located = ctx.hosting(Some(target)).await?;
    let on = located.hosting.summary.id.to_string();
    let work = Work::Certificate {
        node: located.node.id().clone(),
        hosting: located.hosting.summary.id.clone(),
        staging: request.staging,
    };
    ctx.start_repeatable_job(&on, work).await
}

/// `POST /hostings/{id}/wp/install`. The admin
/// password goes to the node and nowhere else: not into the job record, its
/// result, a log or an audit event.
pub(crate) async fn install_wordpress(
    ctx: &RequestContext<'_>,
    target: &mut AuditTarget,
) -> Result<ApiResponse, ApiError> {
    let install = ctx.json_body::<WpInstallRequest>()?.validate()?;
    let located = ctx.hosting(Some(target)).await?;
    let id = located.hosting.summary.id.clone();
    let on = id.to_string();
    let (node, deadline) = (located.node, ctx.job_deadline());
    ctx.start_job(&on, move |progress| async move {
        progress.step("installing WordPress", 5);
        within_deadline(
            deadline,
            node.id(),
            node.install_wordpress(&id, &install, &progress),
        )
        .await?;
        Ok(Some(
            json!({"site_url": install.site_url, "admin_user": install.admin_user}),
        ))
    })
    .await
}

/// `POST /certs/renew-all` (cluster-wide): one job
/// that sweeps every node at once and records which succeeded and which failed.
pub(crate) async fn renew_all(
    ctx: &RequestContext<'_>,
    target: &mut AuditTarget,
) -> Result<ApiResponse, ApiError> {
    target.set("cluster");
    ctx.optional_json_body::<NoOptions>()?;
    ctx.start_repeatable_job("cluster", Work::RenewAll).await
}
