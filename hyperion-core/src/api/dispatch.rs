//! Which function answers each endpoint.

use crate::error::ApiError;
use crate::http::ApiResponse;
use crate::http::routes::Endpoint;

use super::{
    AuditTarget, RequestContext, audit, hostings, jobs, keys, me, nodes, operations, provisioning,
    settings,
};

/// Calls the endpoint function of the matched route. Only the reads every
/// client makes all the time run in place; every other endpoint's future is
/// boxed, so that the request's future (moved whole through each layer of
/// the framework) stays the size of a read, not of the largest endpoint.
pub(super) async fn dispatch(
    ctx: &RequestContext<'_>,
    target: &mut AuditTarget,
) -> Result<ApiResponse, ApiError> {
    use settings::Setting;
    match ctx.route.spec.endpoint {
        // Served before authentication, in `respond`.
        Endpoint::OpenApi | Endpoint::Docs => {
            Err(ApiError::internal("a public route reached dispatch"))
        }
        Endpoint::Me => me::show(ctx).await,
        Endpoint::ListHostings => hostings::list(ctx).await,
        Endpoint::CreateHosting => Box::pin(provisioning::create(ctx, target)).await,
        Endpoint::GetHosting => hostings::show(ctx).await,
        Endpoint::SuspendHosting => Box::pin(hostings::suspend(ctx, target)).await,
        Endpoint::ResumeHosting => Box::pin(hostings::resume(ctx, target)).await,
        Endpoint::DeleteHosting => Box::pin(hostings::delete(ctx, target)).await,
        Endpoint::PatchLimits => Box::pin(settings::patch(ctx, target, Setting::Limits)).await,
        Endpoint::PatchPhp => Box::pin(settings::patch(ctx, target, Setting::Php)).await,
        Endpoint::PatchVhost => Box::pin(settings::patch(ctx, target, Setting::Vhost)).await,
        Endpoint::PatchExpiry => Box::pin(settings::patch(ctx, target, Setting::Expiry)).await,
        Endpoint::PatchQuota => Box::pin(settings::patch(ctx, target, Setting::Quota)).await,
        Endpoint::PatchOwner => Box::pin(settings::patch(ctx, target, Setting::Owner)).await,
        Endpoint::PatchPlan => Box::pin(settings::patch(ctx, target, Setting::Plan)).await,
        Endpoint::PatchLabels => Box::pin(settings::patch(ctx, target, Setting::Labels)).await,
        Endpoint::StartBackup => Box::pin(operations::backup(ctx, target)).await,
        Endpoint::ListBackups => Box::pin(operations::list_backups(ctx)).await,
        Endpoint::StartRestore => Box::pin(operations::restore(ctx, target)).await,
        Endpoint::IssueCertificate => Box::pin(operations::issue_certificate(ctx, target)).await,
        Endpoint::InstallWordPress => Box::pin(operations::install_wordpress(ctx, target)).await,
        Endpoint::RenewAllCertificates => Box::pin(operations::renew_all(ctx, target)).await,
        Endpoint::ListNodes => Box::pin(nodes::list(ctx)).await,
        Endpoint::GetJob => Box::pin(jobs::show(ctx)).await,
        Endpoint::MintKey => Box::pin(keys::mint(ctx, target)).await,
        Endpoint::ListKeys => Box::pin(keys::list(ctx)).await,
        Endpoint::GetKey => Box::pin(keys::show(ctx)).await,
        Endpoint::RevokeKey => Box::pin(keys::revoke(ctx, target)).await,
        Endpoint::ListAudit => Box::pin(audit::list(ctx)).await,
    }
}
