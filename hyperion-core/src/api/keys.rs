//! `/keys`: mint, list, show and revoke API keys over HTTP (capability
//! `api_keys_manage`), and the same operations as a Rust API for integrators.
//!
//! A key never mints more than it holds ([`check_mint`]); the raw key is in
//! the mint response and nowhere else, ever.

use std::collections::BTreeMap;

use futures::{StreamExt, TryStreamExt};
use http::StatusCode;
use serde::Serialize;

use super::{HyperionApi, RequestContext};
use crate::authz::{Principal, check_mint, may_see_key, require};
use crate::capability::Capability;
use crate::error::ApiError;
use crate::http::{ApiResponse, parse_json_body};
use crate::keys::{
    ApiKeyRecord, KeyId, KeyScope, KeyView, MintRequest, MintedKey, NewKey, RequestedGrant,
    StoreError,
};
use crate::model::{HostingSelector, OwnerId, now};

/// How many grants are resolved against the nodes at once.
const GRANT_LOOKUPS_IN_FLIGHT: usize = 16;

impl HyperionApi {
    /// Mints a key for an integrator (e.g. from their own settings page) and
    /// stores it. The returned secret is the only copy: hand it over once.
    /// The owner is whoever `new.owner` names; use [`HyperionApi::resolve_grants`]
    /// to build a grants scope from ids or domains.
    pub async fn mint_key(&self, new: NewKey) -> Result<MintedKey, StoreError> {
        let minted = new.mint();
        self.services.keys.insert(minted.record.clone()).await?;
        Ok(minted)
    }

    /// Resolves grants given by id or domain into a scope keyed by canonical
    /// ids; an unknown hosting is a validation error.
    pub async fn resolve_grants(&self, grants: Vec<RequestedGrant>) -> Result<KeyScope, ApiError> {
        resolve_grants(self, None, grants).await
    }

    /// The keys of `owner`, or every key when `owner` is `None`, in id order.
    pub async fn list_keys(&self, owner: Option<&OwnerId>) -> Result<Vec<KeyView>, StoreError> {
        Ok(self
            .services
            .keys
            .list()
            .await?
            .iter()
            .filter(|key| owner.is_none_or(|owner| key.owner == *owner))
            .map(ApiKeyRecord::view)
            .collect())
    }

    /// One key.
    pub async fn get_key(&self, id: &KeyId) -> Result<Option<KeyView>, StoreError> {
        Ok(self.services.keys.get(id).await?.map(|key| key.view()))
    }

    /// Revokes a key: its next request is refused. `false` if there is no such key.
    pub async fn revoke_key(&self, id: &KeyId) -> Result<bool, StoreError> {
        self.services.keys.revoke(id, now()).await
    }
}

/// Resolves requested grants to canonical ids. With a `principal` (a key
/// minting over HTTP), a hosting outside its scope is answered exactly like
/// one that does not exist, so minting cannot be used to probe for hostings.
async fn resolve_grants(
    api: &HyperionApi,
    principal: Option<&Principal>,
    grants: Vec<RequestedGrant>,
) -> Result<KeyScope, ApiError> {
    let visible = |id: &_| principal.is_none_or(|p| p.scope.level_on(id).is_some());
    let cluster = &api.services.cluster;
    let resolved: Vec<_> = futures::stream::iter(grants)
        .map(|grant| async move {
            let unknown =
                || ApiError::Validation(format!("scope: unknown hosting `{}`", grant.hosting));
            if let HostingSelector::Id(id) = &grant.hosting {
                if !visible(id) {
                    return Err(unknown());
                }
            }
            let id = match cluster.locate(&grant.hosting).await {
                Ok(located) => located.hosting.summary.id,
                Err(ApiError::NotFound(_)) => return Err(unknown()),
                Err(err) => return Err(err),
            };
            if !visible(&id) {
                return Err(unknown());
            }
            Ok((id, grant.level))
        })
        .buffered(GRANT_LOOKUPS_IN_FLIGHT)
        .try_collect()
        .await?;
    let mut scope = BTreeMap::new();
    for (id, level) in resolved {
        if scope.insert(id.clone(), level).is_some() {
            return Err(ApiError::Validation(format!(
                "scope: hosting `{id}` is granted more than once"
            )));
        }
    }
    Ok(KeyScope::Grants(scope))
}

fn key_not_found() -> ApiError {
    ApiError::NotFound("key not found".to_owned())
}

#[derive(Serialize)]
struct Minted<'a> {
    /// The raw key: this response is the only place it ever appears.
    key: &'a str,
    #[serde(flatten)]
    view: KeyView,
}

/// `POST /keys`: 201 with the raw key, once.
pub(crate) async fn mint(ctx: &RequestContext<'_>) -> Result<ApiResponse, ApiError> {
    let principal = &ctx.principal;
    require(principal, Capability::ApiKeysManage)?;
    let request = parse_json_body::<MintRequest>(&ctx.body)?.validate()?;
    let scope = match request.grants {
        None => KeyScope::All,
        Some(grants) => resolve_grants(ctx.api, Some(principal), grants).await?,
    };
    check_mint(principal, request.caps, &scope, request.expires_at)?;
    let new = NewKey {
        label: request.label,
        owner: principal.owner.clone(),
        caps: request.caps,
        scope,
        expires_at: request.expires_at,
        created_by: Some(principal.key_id.clone()),
        ip_allowlist: request.ip_allowlist,
        rate_limit_per_min: request.rate_limit_per_min,
    };
    let minted = ctx.api.mint_key(new).await?;
    ctx.set_target(minted.record.id.as_str());
    let mut response = ApiResponse::json(
        StatusCode::CREATED,
        &Minted {
            key: minted.secret.expose(),
            view: minted.record.view(),
        },
    );
    response.set_header(
        http::header::LOCATION,
        &format!("/api/v1/keys/{}", minted.record.id),
    );
    Ok(response)
}

#[derive(Serialize)]
struct KeyPage {
    items: Vec<KeyView>,
    next_cursor: Option<KeyId>,
    total: u64,
}

/// `GET /keys?limit&cursor`: scope-all keys see every key; others the keys they minted.
pub(crate) async fn list(ctx: &RequestContext<'_>) -> Result<ApiResponse, ApiError> {
    require(&ctx.principal, Capability::ApiKeysManage)?;
    let limit = ctx.query.page_size()?;
    let after = ctx.query.cursor::<KeyId>()?;
    let visible: Vec<ApiKeyRecord> = ctx
        .services
        .keys
        .list()
        .await?
        .into_iter()
        .filter(|key| may_see_key(&ctx.principal, key))
        .collect();
    let total = visible.len() as u64;
    let mut page: Vec<KeyView> = visible
        .iter()
        .filter(|key| after.as_ref().is_none_or(|after| key.id > *after))
        .take(limit + 1)
        .map(ApiKeyRecord::view)
        .collect();
    let next_cursor = (page.len() > limit).then(|| page[limit - 1].id.clone());
    page.truncate(limit);
    Ok(ApiResponse::json(
        StatusCode::OK,
        &KeyPage {
            items: page,
            next_cursor,
            total,
        },
    ))
}

/// The key named by the path, if the principal may see it; 404 otherwise.
async fn visible_key(ctx: &RequestContext<'_>) -> Result<ApiKeyRecord, ApiError> {
    require(&ctx.principal, Capability::ApiKeysManage)?;
    let id = KeyId::parse(ctx.path_param("id")?).ok_or_else(key_not_found)?;
    ctx.services
        .keys
        .get(&id)
        .await?
        .filter(|key| may_see_key(&ctx.principal, key))
        .ok_or_else(key_not_found)
}

/// `GET /keys/{id}`: never the raw key, never its hash.
pub(crate) async fn show(ctx: &RequestContext<'_>) -> Result<ApiResponse, ApiError> {
    let key = visible_key(ctx).await?;
    Ok(ApiResponse::json(StatusCode::OK, &key.view()))
}

/// `DELETE /keys/{id}`: revokes; the key's next request is 401. Revoking a
/// revoked key is a 200 no-op that keeps the first revocation time.
pub(crate) async fn revoke(ctx: &RequestContext<'_>) -> Result<ApiResponse, ApiError> {
    let key = visible_key(ctx).await?;
    ctx.set_target(key.id.as_str());
    ctx.services.keys.revoke(&key.id, now()).await?;
    let key = ctx
        .services
        .keys
        .get(&key.id)
        .await?
        .ok_or_else(key_not_found)?;
    Ok(ApiResponse::json(StatusCode::OK, &key.view()))
}
