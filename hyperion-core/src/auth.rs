//! Authentication: from an `Authorization: Bearer hyp_...` header to a
//! [`Principal`], or a 401. The raw key is hashed at once and never kept,
//! printed or logged; only its hash is looked up.

use std::net::IpAddr;
use std::time::Instant;

use http::HeaderMap;
use http::header::AUTHORIZATION;

use crate::authz::Principal;
use crate::error::ApiError;
use crate::keys::{BearerToken, KeyStore, allowlist_permits};
use crate::model::now;
use crate::owner::OwnerDirectory;
use crate::ratelimit::{RateDecision, RateLimiter};

fn unauthorized(message: &str) -> ApiError {
    ApiError::Unauthorized(message.to_owned())
}

/// Authenticates a request by its headers: the key must be well formed,
/// known, not revoked, not expired, and its owner must still exist. The
/// principal's capabilities are the key's intersected with the owner's
/// current ones.
pub async fn authenticate(
    headers: &HeaderMap,
    keys: &dyn KeyStore,
    owners: &dyn OwnerDirectory,
) -> Result<Principal, ApiError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let header = values
        .next()
        .ok_or_else(|| unauthorized("missing API key: send `Authorization: Bearer hyp_...`"))?;
    if values.next().is_some() {
        return Err(unauthorized("more than one Authorization header"));
    }
    let token = BearerToken::parse(header.as_bytes())
        .ok_or_else(|| unauthorized("malformed Authorization header: expected `Bearer hyp_...`"))?;
    let record = keys
        .find_by_hash(&token.hash())
        .await?
        .ok_or_else(|| unauthorized("unknown API key"))?;
    if record.revoked_at.is_some() {
        return Err(unauthorized("this API key has been revoked"));
    }
    if !record.is_active_at(now()) {
        return Err(unauthorized("this API key has expired"));
    }
    let owner_caps = owners
        .current_caps(&record.owner)
        .await?
        .ok_or_else(|| unauthorized("the owner of this API key is no longer active"))?;
    Ok(Principal {
        caps: record.caps.intersection(owner_caps),
        key_id: record.id,
        label: record.label,
        prefix: record.prefix,
        owner: record.owner,
        scope: record.scope,
        expires_at: record.expires_at,
        ip_allowlist: record.ip_allowlist,
        rate_limit_per_min: record.rate_limit_per_min,
    })
}

/// The display prefix of the presented key, when the header holds a
/// well-formed one: the audit of a 401 names it, never the key itself.
pub fn presented_prefix(headers: &HeaderMap) -> Option<String> {
    let header = headers.get(AUTHORIZATION)?;
    BearerToken::parse(header.as_bytes()).map(|token| token.display_prefix())
}

/// Admits an authenticated principal from `client`: its IP allowlist, then
/// its rate limit. Answers the limiter's decision, for the `RateLimit`
/// headers, when the key is limited.
pub fn admit(
    principal: &Principal,
    client: Option<IpAddr>,
    limiter: &RateLimiter,
) -> Result<Option<RateDecision>, (ApiError, Option<RateDecision>)> {
    if !principal.ip_allowlist.is_empty()
        && !client.is_some_and(|ip| allowlist_permits(&principal.ip_allowlist, ip))
    {
        tracing::debug!(key = %principal.key_id, ?client, "refused: client address not in the allowlist");
        return Err((
            ApiError::Forbidden("this API key may not be used from this address".to_owned()),
            None,
        ));
    }
    if principal.rate_limit_per_min == 0 {
        return Ok(None);
    }
    let decision = limiter.check(
        &principal.key_id,
        principal.rate_limit_per_min,
        Instant::now(),
    );
    if decision.allowed {
        Ok(Some(decision))
    } else {
        Err((
            ApiError::RateLimited {
                limit_per_min: principal.rate_limit_per_min,
                retry_after_secs: decision.retry_after_secs,
            },
            Some(decision),
        ))
    }
}
