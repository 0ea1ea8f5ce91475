//! `PATCH /hostings/{id}/{limits,php,vhost,expiry,quota}`: synchronous
//! configuration changes (capability `hosting_edit_config`), answered with
//! the new value. Patches are validated and merged here; the node receives
//! the complete new value.

use http::StatusCode;
use serde_json::json;

use super::{AuditTarget, RequestContext};
use crate::cluster::Located;
use crate::error::ApiError;
use crate::http::ApiResponse;
use crate::model::{
    ConfigChange, ExpiryPatch, HostingDetail, HostingKind, LimitsPatch, PhpPatch, QuotaPatch,
    VhostPatch,
};
use crate::{ExpiryValue, PhpValue};

/// Which setting a PATCH changes.
#[derive(Clone, Copy)]
pub(crate) enum Setting {
    Limits,
    Php,
    Vhost,
    Expiry,
    Quota,
}

impl Setting {
    /// The change this request's body makes to `current`.
    fn change(
        self,
        ctx: &RequestContext<'_>,
        current: &HostingDetail,
    ) -> Result<ConfigChange, ApiError> {
        Ok(match self {
            Setting::Limits => {
                ConfigChange::Limits(ctx.json_body::<LimitsPatch>()?.apply(&current.limits)?)
            }
            Setting::Php => {
                let patch: PhpPatch = ctx.json_body()?;
                if current.kind != HostingKind::Php {
                    return Err(ApiError::Conflict(format!(
                        "a {} hosting has no PHP version",
                        current.kind
                    )));
                }
                ConfigChange::Php(patch.version)
            }
            Setting::Vhost => {
                ConfigChange::Vhost(ctx.json_body::<VhostPatch>()?.apply(&current.vhost)?)
            }
            Setting::Expiry => ConfigChange::Expiry(ctx.json_body::<ExpiryPatch>()?.apply()?),
            Setting::Quota => {
                ConfigChange::Quota(ctx.json_body::<QuotaPatch>()?.apply(&current.quota)?)
            }
        })
    }

    /// The new value, as answered.
    fn render(self, detail: &HostingDetail) -> serde_json::Value {
        match self {
            Setting::Limits => json!(detail.limits),
            Setting::Php => json!(PhpValue {
                php_version: detail.summary.php_version
            }),
            Setting::Vhost => json!(detail.vhost),
            Setting::Expiry => json!(ExpiryValue {
                expires_at: detail.expires_at
            }),
            Setting::Quota => json!(detail.quota),
        }
    }
}

/// One `PATCH`: authorize, validate and merge, apply on the node.
pub(crate) async fn patch(
    ctx: &RequestContext<'_>,
    target: &mut AuditTarget,
    setting: Setting,
) -> Result<ApiResponse, ApiError> {
    let Located { node, hosting } = ctx.hosting(Some(target)).await?;
    let id = &hosting.summary.id;
    let change = setting.change(ctx, &hosting)?;
    let updated = ctx
        .services
        .cluster
        .call(node.as_ref(), node.update_config(id, &change))
        .await?;
    Ok(ApiResponse::json(StatusCode::OK, &setting.render(&updated)))
}
