//! Authentication: from an `Authorization: Bearer hyp_...` header to a
//! [`Principal`], or a 401. The raw key is hashed at once and never kept,
//! printed or logged; only its hash is looked up.

use http::HeaderMap;
use http::header::AUTHORIZATION;

use crate::authz::Principal;
use crate::error::ApiError;
use crate::keys::{BearerToken, KeyStore};
use crate::model::now;
use crate::owner::OwnerDirectory;

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
    })
}
