//! `GET /audit`: the audit log, newest first (capability `audit_view`,
//! scope all), with keyset pagination and filters.

use http::StatusCode;

use super::RequestContext;
use crate::audit::{AuditOutcome, AuditQuery};
use crate::error::ApiError;
use crate::http::ApiResponse;
use crate::keys::KeyId;

pub(crate) async fn list(ctx: &RequestContext<'_>) -> Result<ApiResponse, ApiError> {
    let log = ctx
        .services
        .audit_log
        .as_ref()
        .ok_or_else(|| ApiError::NotFound("no audit log is configured".to_owned()))?;
    // The log keeps control characters escaped, so a filter holding one
    // could match nothing; it is refused rather than sent to the store.
    let text = |name: &str| -> Result<Option<String>, ApiError> {
        let value = ctx.query.get(name)?.filter(|v| !v.is_empty());
        if value.is_some_and(|v| v.chars().any(char::is_control)) {
            return Err(ApiError::Validation(format!(
                "query parameter `{name}` holds a control character"
            )));
        }
        Ok(value.map(str::to_owned))
    };
    let query = AuditQuery {
        before: ctx.query.cursor::<u64>()?,
        limit: ctx.query.page_size()?,
        actor: text("actor")?,
        // Unlike the text filters, an empty `key_id` is no key id: 400.
        key_id: match ctx.query.get("key_id")? {
            None => None,
            Some(id) => Some(KeyId::parse(id).ok_or_else(|| {
                ApiError::Validation("query parameter `key_id` is not a key id".to_owned())
            })?),
        },
        action: text("action")?,
        target: text("target")?,
        outcome: ctx.query.parse_value::<AuditOutcome>("outcome")?,
    };
    ctx.services.record_refusal_counts().await;
    let page = log.query(&query).await?;
    Ok(ApiResponse::json(StatusCode::OK, &page))
}
