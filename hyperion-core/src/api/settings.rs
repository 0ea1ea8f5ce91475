//! `PATCH /hostings/{id}/{limits,php,vhost,expiry,quota,owner,plan,labels}`:
//! synchronous configuration changes (capability `hosting_edit_config`),
//! answered with the new value. Patches are validated and merged here; the node receives
//! the complete new value.

use http::StatusCode;
use serde_json::json;

use super::{AuditTarget, RequestContext};
use crate::cluster::Located;
use crate::error::ApiError;
use crate::http::ApiResponse;
use crate::model::{
    ConfigChange, ExpiryPatch, HostingDetail, HostingKind, LabelsPatch, LimitsPatch, OwnerId,
    OwnerPatch, PhpPatch, PlanPatch, QuotaPatch, VhostPatch,
};
use crate::{ExpiryValue, LabelsValue, OwnerValue, PhpValue, PlanValue};

/// Which setting a PATCH changes.
#[derive(Clone, Copy)]
pub(crate) enum Setting {
    Limits,
    Php,
    Vhost,
    Expiry,
    Quota,
    Owner,
    Plan,
    Labels,
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
            Setting::Owner => ConfigChange::Owner(ctx.json_body::<OwnerPatch>()?.apply()?),
            Setting::Plan => ConfigChange::Plan(ctx.json_body::<PlanPatch>()?.apply()?),
            Setting::Labels => ConfigChange::Labels(
                ctx.json_body::<LabelsPatch>()?
                    .apply(&current.summary.labels)?,
            ),
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
            Setting::Owner => json!(OwnerValue {
                owner: detail.summary.owner.clone()
            }),
            Setting::Plan => json!(PlanValue {
                plan: detail.summary.plan.clone()
            }),
            Setting::Labels => json!(LabelsValue {
                labels: detail.summary.labels.clone()
            }),
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
    if let ConfigChange::Owner(owner) = &change {
        // Who it belonged to and who it belongs to now, in its audit event.
        let name = |owner: Option<&OwnerId>| owner.map_or("none", OwnerId::as_str).to_owned();
        target.note(format!(
            "owner {} -> {}",
            name(hosting.summary.owner.as_ref()),
            name(owner.as_ref())
        ));
    }
    let updated = ctx
        .services
        .cluster
        .call(node.as_ref(), node.update_config(id, &change))
        .await?;
    ctx.services
        .cluster
        .locator()
        .learn_detail(&updated, node.id());
    Ok(ApiResponse::json(StatusCode::OK, &setting.render(&updated)))
}
