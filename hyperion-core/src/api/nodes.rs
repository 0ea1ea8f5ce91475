//! `GET /nodes`: the cluster's nodes (cluster-wide: scope `all` only).

use http::StatusCode;

use super::RequestContext;
use crate::answers::NodeList;
use crate::authz::{require, require_cluster_scope};
use crate::capability::Capability;
use crate::error::ApiError;
use crate::http::ApiResponse;

pub(crate) async fn list(ctx: &RequestContext<'_>) -> Result<ApiResponse, ApiError> {
    require(&ctx.principal, Capability::NodesView)?;
    require_cluster_scope(&ctx.principal)?;
    let items = ctx.services.cluster.infos().await;
    Ok(ApiResponse::json(StatusCode::OK, &NodeList { items }))
}
