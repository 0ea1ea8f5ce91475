//! `GET /me`: what the presented key is and may do right now.

use http::StatusCode;
use serde::Serialize;
use time::OffsetDateTime;

use super::RequestContext;
use crate::capability::CapSet;
use crate::error::ApiError;
use crate::http::ApiResponse;
use crate::keys::{KeyId, KeyScope};
use crate::model::OwnerId;

#[derive(Serialize)]
struct KeySummary<'a> {
    id: &'a KeyId,
    prefix: &'a str,
    label: &'a str,
    owner: &'a OwnerId,
}

#[derive(Serialize)]
struct Me<'a> {
    key: KeySummary<'a>,
    /// Effective capabilities (after the owner clamp).
    caps: CapSet,
    scope: &'a KeyScope,
    #[serde(with = "crate::model::timestamp::option")]
    expires_at: Option<OffsetDateTime>,
}

pub(crate) async fn show(ctx: &RequestContext<'_>) -> Result<ApiResponse, ApiError> {
    let p = &ctx.principal;
    Ok(ApiResponse::json(
        StatusCode::OK,
        &Me {
            key: KeySummary {
                id: &p.key_id,
                prefix: &p.prefix,
                label: &p.label,
                owner: &p.owner,
            },
            caps: p.caps,
            scope: &p.scope,
            expires_at: p.expires_at,
        },
    ))
}
