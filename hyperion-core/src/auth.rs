//! Authentication: from an `Authorization: Bearer hyp_...` header to a
//! [`Principal`], or a 401. The raw key is hashed at once and never kept,
//! printed or logged; only its hash is looked up.

use std::net::IpAddr;
use std::sync::Arc;

use http::HeaderMap;
use http::header::AUTHORIZATION;

use crate::authz::{ChainLimit, MAX_CHAIN_DEPTH, Principal};
use crate::error::ApiError;
use crate::keys::{ApiKeyRecord, BearerToken, KeyId, KeyStore, Reach, allowlist_permits};
use crate::model::{OwnerId, now};
use crate::owner::OwnerDirectory;
use crate::ratelimit::{RateDecision, RateLimitStore};

fn unauthorized(message: &str) -> ApiError {
    ApiError::Unauthorized(message.to_owned())
}

/// Authenticates a request by its headers: the key must be well formed,
/// known, not revoked, not expired, and so must every key above it in its
/// minting chain, and their owners must still exist. The principal holds
/// only what every key of the chain holds (capabilities, scope, expiry),
/// intersected with each owner's current capabilities, and carries each
/// key's network and rate limits for `admit`.
#[cfg(feature = "bench-internals")]
pub async fn authenticate(
    headers: &HeaderMap,
    keys: &dyn KeyStore,
    owners: &dyn OwnerDirectory,
) -> Result<Principal, ApiError> {
    authenticate_naming(headers, keys, owners)
        .await
        .map_err(|refused| refused.error)
}

/// Why a request's key was not accepted, and which stored key it was when
/// the key itself is known (revoked, expired, its chain or owner gone): the
/// audit then counts the refusal against that key, so the use of a stolen,
/// revoked key is seen as such and never merged into anonymous noise.
pub(crate) struct Refused {
    pub(crate) error: ApiError,
    pub(crate) key: Option<Arc<ApiKeyRecord>>,
}

impl From<crate::store::StoreError> for Refused {
    fn from(error: crate::store::StoreError) -> Self {
        ApiError::from(error).into()
    }
}

impl From<ApiError> for Refused {
    fn from(error: ApiError) -> Self {
        Refused { error, key: None }
    }
}

/// Authenticates as `authenticate` does, naming the stored key a refusal
/// is about.
pub(crate) async fn authenticate_naming(
    headers: &HeaderMap,
    keys: &dyn KeyStore,
    owners: &dyn OwnerDirectory,
) -> Result<Principal, Refused> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let header = values
        .next()
        .ok_or_else(|| unauthorized("missing API key: send `Authorization: Bearer hyp_...`"))?;
    if values.next().is_some() {
        return Err(unauthorized("more than one Authorization header").into());
    }
    let token = BearerToken::parse(header.as_bytes())
        .ok_or_else(|| unauthorized("malformed Authorization header: expected `Bearer hyp_...`"))?;
    let record = keys
        .find_by_hash(&token.hash())
        .await?
        .ok_or_else(|| unauthorized("unknown API key"))?;
    let known = |error: ApiError| Refused {
        error,
        key: Some(Arc::clone(&record)),
    };
    if record.revoked_at.is_some() {
        return Err(known(unauthorized("this API key has been revoked")));
    }
    let at = now();
    if !record.is_active_at(at) {
        return Err(known(unauthorized("this API key has expired")));
    }
    let ancestors = minting_chain(&record, keys).await.map_err(known)?;
    if ancestors.iter().any(|key| !key.is_active_at(at)) {
        return Err(known(unauthorized(
            "a key above this API key in its minting chain was revoked or has expired",
        )));
    }
    let mut caps = record.caps;
    let mut expires_at = record.expires_at;
    // Each owner once: a chain holds at most MAX_CHAIN_DEPTH keys.
    let mut owners_seen: [Option<&OwnerId>; MAX_CHAIN_DEPTH] = [None; MAX_CHAIN_DEPTH];
    for (index, key) in std::iter::once(&record).chain(&ancestors).enumerate() {
        if !owners_seen.contains(&Some(&key.owner)) {
            let owner_caps = owners.current_caps(&key.owner).await?.ok_or_else(|| {
                known(unauthorized(
                    "the owner of this API key is no longer active",
                ))
            })?;
            caps = caps.intersection(owner_caps);
            if let Some(seen) = owners_seen.get_mut(index) {
                *seen = Some(&key.owner);
            }
        }
    }
    // A key reaches no further than any key above it.
    let reach = ancestors
        .iter()
        .fold(Reach::of(&record.scope), |reach, key| reach.and(&key.scope));
    let mut chain = Vec::with_capacity(1 + ancestors.len());
    chain.push(ChainLimit::of(&record));
    for key in &ancestors {
        caps = caps.intersection(key.caps);
        expires_at = match (expires_at, key.expires_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        chain.push(ChainLimit::of(key));
    }
    let mut principal = Principal::of_key(record);
    principal.caps = caps;
    principal.expires_at = expires_at;
    principal.chain = chain;
    Ok(principal.reaching(reach))
}

/// The keys above `record` in its minting chain, nearest first. A key whose
/// minter is gone from the store, or whose chain is longer than any mint
/// could make it (a store edited by hand), is refused.
pub(crate) async fn minting_chain(
    record: &ApiKeyRecord,
    keys: &dyn KeyStore,
) -> Result<Vec<Arc<ApiKeyRecord>>, ApiError> {
    let mut ancestors: Vec<Arc<ApiKeyRecord>> = Vec::new();
    let mut next = record.created_by.clone();
    while let Some(parent_id) = next {
        if ancestors.len() + 1 >= MAX_CHAIN_DEPTH || parent_id == record.id {
            return Err(unauthorized("this API key's minting chain is not valid"));
        }
        let parent = keys.get(&parent_id).await?.ok_or_else(|| {
            unauthorized("a key above this API key in its minting chain was revoked or has expired")
        })?;
        next = parent.created_by.clone();
        ancestors.push(parent);
    }
    Ok(ancestors)
}

/// The display prefix of the presented key, when the header holds a
/// well-formed one: the audit of a 401 names it, never the key itself.
pub(crate) fn presented_prefix(headers: &HeaderMap) -> Option<String> {
    let header = headers.get(AUTHORIZATION)?;
    BearerToken::parse(header.as_bytes()).map(|token| token.display_prefix())
}

/// Admits an authenticated principal from `client`: the allowlist of every
/// key of its minting chain, then the rate limit of every limited key of the
/// chain (a parent's limit is shared by everything it minted). Answers the
/// tightest limiter decision, for the `RateLimit` headers, when any key of
/// the chain is limited.
pub(crate) async fn admit(
    principal: &Principal,
    client: Option<IpAddr>,
    limiter: &dyn RateLimitStore,
) -> Result<Option<RateDecision>, (ApiError, Option<RateDecision>)> {
    for link in &principal.chain {
        if !link.ip_allowlist().is_empty()
            && !client.is_some_and(|ip| allowlist_permits(link.ip_allowlist(), ip))
        {
            tracing::debug!(key = %principal.key_id(), limit_of = %link.key_id(), ?client, "refused: client address not in the allowlist");
            let message = match client {
                Some(_) => "this API key may not be used from this address",
                None => {
                    "the client address could not be determined, and this API key may only be used from allowed addresses"
                }
            };
            return Err((ApiError::Forbidden(message.to_owned()), None));
        }
    }
    let limited: Vec<(KeyId, u32)> = principal
        .chain
        .iter()
        .filter(|link| link.rate_limit_per_min() > 0)
        .map(|link| (link.key_id().clone(), link.rate_limit_per_min()))
        .collect();
    if limited.is_empty() {
        return Ok(None);
    }
    // Without its limiter's word a limited key is not let through.
    let decision = limiter
        .check_all(&limited)
        .await
        .map_err(|err| (ApiError::from(err), None))?;
    if decision.allowed {
        Ok(Some(decision))
    } else {
        Err((
            ApiError::RateLimited {
                limit_per_min: decision.limit,
                retry_after_secs: decision.retry_after_secs,
            },
            Some(decision),
        ))
    }
}
