//! `GET /nodes`: the cluster's nodes (cluster-wide: scope `all` only).

use http::StatusCode;

use super::RequestContext;
use crate::NodeList;
use crate::error::ApiError;
use crate::http::ApiResponse;

pub(crate) async fn list(ctx: &RequestContext<'_>) -> Result<ApiResponse, ApiError> {
    let items = ctx.services.cluster.infos().await;
    Ok(ApiResponse::json(StatusCode::OK, &NodeList { items }))
}
