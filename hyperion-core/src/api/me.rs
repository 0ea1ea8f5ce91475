//! `GET /me`: what the presented key is and may do right now.

use http::StatusCode;

use super::RequestContext;
use crate::error::ApiError;
use crate::http::ApiResponse;
use crate::{KeySummary, Me};

pub(crate) async fn show(ctx: &RequestContext<'_>) -> Result<ApiResponse, ApiError> {
    let p = &ctx.principal;
    Ok(ApiResponse::json(
        StatusCode::OK,
        &Me {
            key: KeySummary {
                id: p.key_id().clone(),
                prefix: p.key.prefix.clone(),
                label: p.key.label.clone(),
                owner: p.owner.clone(),
            },
            caps: p.caps,
            scope: p.scope().as_scope(),
            expires_at: p.expires_at,
        },
    ))
}
