//! `/keys`: mint, list, show and revoke API keys over HTTP (capability
//! `api_keys_manage`), and the same operations as a Rust API for integrators.
//!
//! A key never mints more than it holds ([`check_mint`]); the raw key is in
//! the mint response and nowhere else, ever.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use http::StatusCode;

use super::{AuditTarget, HyperionApi, RequestContext};
use crate::audit::{AuditActor, AuditOutcome, Happening};
use crate::authz::{
    MAX_CHAIN_DEPTH, MintTerms, Principal, check_mint, inherit_limits, is_full_admin,
    may_manage_key,
};
use crate::error::ApiError;
use crate::http::{ApiResponse, parse_json_body};
use crate::keys::{
    ApiKeyRecord, KeyId, KeyScope, KeyStore, KeyView, MAX_GRANTS, MintRequest, MintedKey, NewKey,
    RequestedGrant, ScopeRequest, check_label, normalize_allowlist,
};
use crate::model::{HostingId, HostingSelector, OwnerId, now};
use crate::store::StoreError;
use crate::{KeyPage, NewKeyAnswer};

/// How many grants are resolved against the nodes at once.
const GRANT_LOOKUPS_IN_FLIGHT: usize = 16;

impl HyperionApi {
    /// Mints a key from Rust (e.g. the integrator's own settings page) and
    /// stores it. It is checked exactly as `POST /keys` checks a request
    /// (label, expiry, allowlist, grants that exist, the per-owner cap, no
    /// second active key of the owner with the same label) and audited as
    /// `key.mint` by `actor`. The returned secret is the only copy: hand it
    /// over once. Use [`HyperionApi::resolve_grants`] to build a grants scope
    /// from ids or domains.
    pub async fn mint_key(&self, actor: &AuditActor, new: NewKey) -> Result<MintedKey, ApiError> {
        let result = self.mint_checked(new).await;
        let target = result
            .as_ref()
            .map_or("", |minted| minted.record.id.as_str());
        self.audit_rust_call(actor, "key.mint", target, &result)
            .await;
        result
    }

    async fn mint_checked(&self, mut new: NewKey) -> Result<MintedKey, ApiError> {
        new.label = check_label(&new.label)?;
        if new.expires_at.is_some_and(|at| at <= now()) {
            return Err(ApiError::Validation(
                "expires_at must be in the future".to_owned(),
            ));
        }
        new.ip_allowlist = normalize_allowlist(&new.ip_allowlist)?;
        if let KeyScope::Grants(grants) = &new.scope {
            if grants.len() > MAX_GRANTS {
                return Err(ApiError::Validation(format!(
                    "scope holds more than {MAX_GRANTS} grants"
                )));
            }
            let requested = grants
                .iter()
                .map(|(id, level)| RequestedGrant {
                    hosting: HostingSelector::Id(id.clone()),
                    level: *level,
                })
                .collect();
            resolve_grants(self, None, requested).await?;
        }
        if let Some(parent) = &new.created_by
            && self.services.keys.get(parent).await?.is_none()
        {
            return Err(ApiError::Validation(format!(
                "created_by: no key `{parent}`"
            )));
        }
        self.store_new_key(new).await
    }

    /// Stores a checked key, one key change at a time, so that the label and
    /// cap checks and the insert are one step.
    async fn store_new_key(&self, new: NewKey) -> Result<MintedKey, ApiError> {
        let services = &self.services;
        let _one_at_a_time = services.key_changes.lock().await;
        let _nor_elsewhere = services.keys.lock_changes().await?;
        let at = now();
        // The chain above the new key must still stand now that no other
        // change can run: a parent revoked (on any replica) after its
        // request was let in cannot leave a child that looks active.
        let mut above = new.created_by.clone();
        for _ in 0..MAX_CHAIN_DEPTH {
            let Some(id) = above else { break };
            match services.keys.get(&id).await? {
                Some(parent) if parent.is_active_at(at) => above = parent.created_by.clone(),
                _ => {
                    return Err(ApiError::Unauthorized(
                        "the key minting this one was revoked or expired meanwhile".to_owned(),
                    ));
                }
            }
        }
        let siblings: Vec<ApiKeyRecord> = services
            .keys
            .unrevoked_of_owner(&new.owner)
            .await?
            .into_iter()
            .filter(|key| key.is_active_at(at))
            .collect();
        // The audit names a key `apikey:<label>`: no key may borrow the name
        // of another active key of the same owner.
        // Compared without case: `Admin` would pass for `admin` in a log.
        let taken = new.label.to_lowercase();
        if siblings.iter().any(|key| key.label.to_lowercase() == taken) {
            return Err(ApiError::Validation(format!(
                "label: another active key of this owner is already labelled `{}`",
                new.label
            )));
        }
        let cap = services.config.max_active_keys_per_owner;
        if siblings.len() >= cap {
            return Err(ApiError::Conflict(format!(
                "this owner already holds {cap} active keys, the most allowed; revoke some first"
            )));
        }
        let minted = new.mint();
        services.keys.insert(minted.record.clone()).await?;
        Ok(minted)
    }

    /// Resolves grants given by id or domain into a scope keyed by canonical
    /// ids; an unknown hosting is a validation error.
    pub async fn resolve_grants(&self, grants: Vec<RequestedGrant>) -> Result<KeyScope, ApiError> {
        Ok(resolve_grants(self, None, grants).await?.0)
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

    /// One key, as `GET /keys/{id}` shows it (never its hash).
    pub async fn get_key(&self, id: &KeyId) -> Result<Option<KeyView>, StoreError> {
        Ok(self.services.keys.get(id).await?.map(|key| key.view()))
    }

    /// Revokes a key and every key it minted, down its whole chain: their
    /// next requests are refused. Audited as `key.revoke` by `actor`.
    /// `false` if there is no such key.
    pub async fn revoke_key(&self, actor: &AuditActor, id: &KeyId) -> Result<bool, ApiError> {
        let result = self.revoke_chain(id).await;
        let done = match &result {
            Ok(true) => Ok(()),
            Ok(false) => Err(key_not_found()),
            Err(err) => Err(err.clone()),
        };
        self.audit_rust_call(actor, "key.revoke", id.as_str(), &done)
            .await;
        result
    }

    async fn revoke_chain(&self, id: &KeyId) -> Result<bool, ApiError> {
        let keys = self.services.keys.as_ref();
        let _one_at_a_time = self.services.key_changes.lock().await;
        let _nor_elsewhere = keys.lock_changes().await?;
        let Some(key) = keys.get(id).await? else {
            return Ok(false);
        };
        let at = now();
        for key in key_and_descendants(keys, (*key).clone()).await? {
            keys.revoke(&key.id, at).await?;
        }
        Ok(true)
    }

    /// Records a key change made from Rust, with the integrator's actor.
    async fn audit_rust_call<T>(
        &self,
        actor: &AuditActor,
        action: &str,
        target: &str,
        result: &Result<T, ApiError>,
    ) {
        let (outcome, detail) = match result {
            Ok(_) => (AuditOutcome::Ok, None),
            Err(err) => (AuditOutcome::Failed, Some(err.to_string())),
        };
        let what = Happening {
            action,
            target,
            outcome,
            status: None,
            detail,
        };
        let event = crate::audit::integrator_event(actor, what);
        self.services.audit.record(event).await;
    }
}

/// Grants resolved to canonical ids, with the owner each hosting had when
/// it was resolved (a key scoped to an owner may grant only its owner's).
pub(crate) type ResolvedGrants = (KeyScope, BTreeMap<HostingId, Option<OwnerId>>);

/// Resolves requested grants to canonical ids. With a `principal` (a key
/// minting over HTTP), a hosting outside its reach is answered exactly like
/// one that does not exist, so minting cannot be used to probe for hostings.
async fn resolve_grants(
    api: &HyperionApi,
    principal: Option<&Principal>,
    grants: Vec<RequestedGrant>,
) -> Result<ResolvedGrants, ApiError> {
    let reach = principal.map(Principal::scope);
    let visible = |id: &HostingId, owner: Option<&OwnerId>| {
        reach.is_none_or(|reach| reach.level_on(id, owner).is_some())
    };
    let by_id_alone = reach.is_none_or(|reach| reach.decides_by_id());
    let cluster = &api.services.cluster;
    let resolved: Vec<_> = futures::stream::iter(grants)
        .map(|grant| async move {
            let unknown =
                || ApiError::Validation(format!("scope: unknown hosting `{}`", grant.hosting));
            if let HostingSelector::Id(id) = &grant.hosting
                && by_id_alone
                && !visible(id, None)
            {
                return Err(unknown());
            }
            let hosting = match cluster.locate_visible(&grant.hosting, &visible).await {
                Ok(located) => located.hosting,
                Err(ApiError::NotFound(_)) => return Err(unknown()),
                // A tenant minting learns nothing from a failing node: a
                // name it cannot resolve to its own hosting is just unknown.
                Err(_) if reach.is_some_and(|reach| !reach.is_all()) => return Err(unknown()),
                Err(err) => return Err(err),
            };
            let (id, owner) = (&hosting.summary.id, hosting.summary.owner.as_ref());
            if !visible(id, owner) {
                return Err(unknown());
            }
            Ok((id.clone(), grant.level, owner.cloned()))
        })
        .buffered(GRANT_LOOKUPS_IN_FLIGHT)
        .try_collect()
        .await?;
    let mut scope = BTreeMap::new();
    let mut owners = BTreeMap::new();
    for (id, level, owner) in resolved {
        if scope.insert(id.clone(), level).is_some() {
            return Err(ApiError::Validation(format!(
                "scope: hosting `{id}` is granted more than once"
            )));
        }
        owners.insert(id, owner);
    }
    Ok((KeyScope::Grants(scope), owners))
}

fn key_not_found() -> ApiError {
    ApiError::NotFound("key not found".to_owned())
}

/// `key` and every key minted below it, `key` first. Reads every record:
/// revocation is rare, and a chain must end whole.
async fn key_and_descendants(
    keys: &dyn KeyStore,
    key: ApiKeyRecord,
) -> Result<Vec<ApiKeyRecord>, StoreError> {
    let mut children: HashMap<KeyId, Vec<ApiKeyRecord>> = HashMap::new();
    for record in keys.list().await? {
        if let Some(parent) = record.created_by.clone() {
            children.entry(parent).or_default().push(record);
        }
    }
    let mut found = vec![key];
    let mut next = 0;
    while next < found.len() {
        if let Some(below) = children.remove(&found[next].id) {
            found.extend(below);
        }
        next += 1;
    }
    Ok(found)
}

/// Answers "was this key minted (directly or further down) by that one?",
/// remembering every parent it has read for the rest of one request.
struct Lineage<'a> {
    keys: &'a dyn KeyStore,
    parents: HashMap<KeyId, Option<KeyId>>,
}

impl<'a> Lineage<'a> {
    fn new(keys: &'a dyn KeyStore) -> Self {
        Lineage {
            keys,
            parents: HashMap::new(),
        }
    }

    async fn minted_by(&mut self, key: &ApiKeyRecord, ancestor: &KeyId) -> Result<bool, ApiError> {
        let mut next = key.created_by.clone();
        for _ in 0..MAX_CHAIN_DEPTH {
            let Some(id) = next else {
                return Ok(false);
            };
            if id == *ancestor {
                return Ok(true);
            }
            next = match self.parents.get(&id) {
                Some(parent) => parent.clone(),
                None => {
                    let parent = self.keys.get(&id).await?.and_then(|k| k.created_by.clone());
                    self.parents.insert(id, parent.clone());
                    parent
                }
            };
        }
        Ok(false)
    }

    /// Whether `principal` may see and revoke `key`.
    async fn may_manage(
        &mut self,
        principal: &Principal,
        key: &ApiKeyRecord,
    ) -> Result<bool, ApiError> {
        if may_manage_key(principal, key, false) {
            return Ok(true);
        }
        let minted = self.minted_by(key, principal.key_id()).await?;
        Ok(may_manage_key(principal, key, minted))
    }
}

/// `POST /keys`: 201 with the raw key, once.
pub(crate) async fn mint(
    ctx: &RequestContext<'_>,
    target: &mut AuditTarget,
) -> Result<ApiResponse, ApiError> {
    let principal = &ctx.principal;
    let request = parse_json_body::<MintRequest>(&ctx.body)?.validate()?;
    let (scope, grant_owners) = match request.scope {
        ScopeRequest::All => (KeyScope::All, BTreeMap::new()),
        ScopeRequest::Owner { owner, level } => (KeyScope::Owner { owner, level }, BTreeMap::new()),
        ScopeRequest::Grants(grants) => resolve_grants(ctx.api, Some(principal), grants).await?,
    };
    let mut terms = MintTerms {
        caps: request.caps,
        scope,
        grant_owners,
        expires_at: request.expires_at,
        ip_allowlist: request.ip_allowlist,
        rate_limit_per_min: request.rate_limit_per_min,
    };
    inherit_limits(principal, &mut terms);
    check_mint(principal, &terms)?;
    let new = NewKey {
        label: request.label,
        owner: principal.owner.clone(),
        caps: terms.caps,
        scope: terms.scope,
        expires_at: terms.expires_at,
        created_by: Some(principal.key_id().clone()),
        ip_allowlist: terms.ip_allowlist,
        rate_limit_per_min: terms.rate_limit_per_min,
    };
    let minted = ctx.api.store_new_key(new).await?;
    target.set(minted.record.id.as_str());
    let mut response = ApiResponse::json(
        StatusCode::CREATED,
        &NewKeyAnswer {
            key: minted.secret.expose().to_owned(),
            view: minted.record.view(),
        },
    );
    response.set_header(
        http::header::LOCATION,
        &ctx.link(&format!("/keys/{}", minted.record.id)),
    );
    Ok(response)
}

/// How many records `GET /keys` reads from the store at a time.
const KEY_SCAN_BATCH: usize = 256;

/// `GET /keys?limit&cursor`: the keys the caller may manage (see
/// [`may_manage_key`]), read from the store a batch at a time.
pub(crate) async fn list(ctx: &RequestContext<'_>) -> Result<ApiResponse, ApiError> {
    let limit = ctx.query.page_size()?;
    let after = ctx.query.cursor::<KeyId>()?;
    let keys = ctx.services.keys.as_ref();
    let mut lineage = Lineage::new(keys);
    let mut page: Vec<KeyView> = Vec::new();
    let mut total = 0u64;
    let mut scanned: Option<KeyId> = None;
    loop {
        let batch = keys.list_page(scanned.clone(), KEY_SCAN_BATCH).await?;
        let Some(last) = batch.last() else { break };
        scanned = Some(last.id.clone());
        let full = batch.len() == KEY_SCAN_BATCH;
        for key in &batch {
            if !lineage.may_manage(&ctx.principal, key).await? {
                continue;
            }
            total += 1;
            if after.as_ref().is_none_or(|after| key.id > *after) && page.len() <= limit {
                page.push(key.view());
            }
        }
        if !full {
            break;
        }
    }
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

/// The key named by the path, if the principal may manage it; 404 otherwise.
async fn visible_key(ctx: &RequestContext<'_>) -> Result<Arc<ApiKeyRecord>, ApiError> {
    let id = KeyId::parse(ctx.path_param("id")?).ok_or_else(key_not_found)?;
    let keys = ctx.services.keys.as_ref();
    let key = keys.get(&id).await?.ok_or_else(key_not_found)?;
    if Lineage::new(keys).may_manage(&ctx.principal, &key).await? {
        Ok(key)
    } else {
        Err(key_not_found())
    }
}

/// `GET /keys/{id}`: never the raw key, never its hash.
pub(crate) async fn show(ctx: &RequestContext<'_>) -> Result<ApiResponse, ApiError> {
    let key = visible_key(ctx).await?;
    Ok(ApiResponse::json(StatusCode::OK, &key.view()))
}

/// `DELETE /keys/{id}`: revokes the key and every key it minted, down the
/// whole chain; their next requests are 401. Revoking a revoked key is a 200
/// no-op that keeps the first revocation time. The last active full admin
/// key cannot be revoked over the API (409), so no key locks the operator out.
pub(crate) async fn revoke(
    ctx: &RequestContext<'_>,
    target: &mut AuditTarget,
) -> Result<ApiResponse, ApiError> {
    let key = visible_key(ctx).await?;
    target.set(key.id.as_str());
    let keys = ctx.services.keys.as_ref();
    // One key change at a time: the last-admin check and the writes are one step.
    let _one_at_a_time = ctx.services.key_changes.lock().await;
    let _nor_elsewhere = keys.lock_changes().await?;
    let at = now();
    let ending = key_and_descendants(keys, (*key).clone()).await?;
    let ends_an_admin = ending
        .iter()
        .any(|key| is_full_admin(key) && key.is_active_at(at));
    if ends_an_admin {
        let ending_ids: Vec<&KeyId> = ending.iter().map(|key| &key.id).collect();
        let another_admin = keys.list().await?.into_iter().any(|other| {
            is_full_admin(&other) && other.is_active_at(at) && !ending_ids.contains(&&other.id)
        });
        if !another_admin {
            return Err(ApiError::Conflict(
                "this would revoke the last active key holding every capability with scope `all`; mint another one first (or use the server's break-glass path)".to_owned(),
            ));
        }
    }
    for key in &ending {
        keys.revoke(&key.id, at).await?;
    }
    let key = keys.get(&key.id).await?.ok_or_else(key_not_found)?;
    Ok(ApiResponse::json(StatusCode::OK, &key.view()))
}
