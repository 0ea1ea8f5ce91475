//! Authorization: the one place where access is decided.
//!
//! The rules (DESIGN.md, "Authorization"):
//! - a missing capability is 403, decided before any hosting is looked up,
//!   so it says nothing about which hostings exist;
//! - reading a hosting needs scope all or any grant on it, managing one needs
//!   scope all or a `manage` grant; no grant at all is 404, word for word the
//!   answer for a hosting that does not exist; a `view` grant on a manage
//!   action is 403;
//! - cluster-wide things need scope all.
//!
//! The decisions are pure functions of (principal, capability, target); the
//! `resolve_*` helpers add the cluster look-up around them. The precise
//! reason for a refusal goes to `tracing`; the client gets the plain code.

// Some of its `pub` items are reachable only through the benchmarks'
// internals (feature `bench-internals`), where the lint checks them.
#![cfg_attr(not(feature = "bench-internals"), allow(unreachable_pub))]

use std::sync::Arc;

use time::OffsetDateTime;

use crate::cluster::{Cluster, Located};
use crate::error::ApiError;
use crate::http::routes::{Endpoint, ROUTES};
use crate::jobs::Job;
use crate::keys::{ApiKeyRecord, GrantLevel, KeyId, KeyScope, Reach, parse_allowlist_entry};
use crate::model::{HostingId, HostingSelector, OwnerId, SuspendedBy};
use crate::{CapSet, Capability};

/// Who is making a request: an authenticated key, with its capabilities
/// already clamped by its owner's current ones. It shares the key's stored
/// record rather than copying it (a record may hold a thousand grants).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The key's stored record.
    pub key: Arc<ApiKeyRecord>,
    /// The key's owner.
    pub owner: OwnerId,
    /// Effective capabilities: the key's ∩ the owner's current ones.
    pub caps: CapSet,
    /// Which hostings it reaches: its key's scope and that of every key
    /// above it in its minting chain.
    reach: Reach,
    /// When the key expires.
    pub expires_at: Option<OffsetDateTime>,
    /// The network and rate limits of the key and of every key above it in
    /// its minting chain (the key first): a request must pass all of them.
    pub chain: Vec<ChainLimit>,
}

/// What one key of a minting chain imposes on every request made with a
/// key it minted (directly or not): its allowlist and its rate limit, read
/// live on each request from the key's shared record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainLimit {
    /// The key imposing it.
    pub key: Arc<ApiKeyRecord>,
}

impl ChainLimit {
    /// The limits of `record` itself.
    pub fn of(record: &Arc<ApiKeyRecord>) -> Self {
        ChainLimit {
            key: Arc::clone(record),
        }
    }

    /// The id of the key imposing it.
    pub fn key_id(&self) -> &KeyId {
        &self.key.id
    }

    /// Its allowlist (empty: anywhere).
    pub fn ip_allowlist(&self) -> &[String] {
        &self.key.ip_allowlist
    }

    /// Its requests per minute, shared by every key below it (0: unlimited).
    pub fn rate_limit_per_min(&self) -> u32 {
        self.key.rate_limit_per_min
    }
}

/// How many keys a minting chain may hold, the root included: deep enough
/// for any real delegation, shallow enough to walk on every request.
pub(crate) const MAX_CHAIN_DEPTH: usize = 8;

impl Principal {
    /// The principal of `key` alone, as if it had no minting chain: its own
    /// capabilities, scope and limits.
    pub fn of_key(key: Arc<ApiKeyRecord>) -> Self {
        Principal {
            owner: key.owner.clone(),
            caps: key.caps,
            reach: Reach::of(&key.scope),
            expires_at: key.expires_at,
            chain: vec![ChainLimit::of(&key)],
            key,
        }
    }

    /// The key's id.
    pub fn key_id(&self) -> &KeyId {
        &self.key.id
    }

    /// The family of keys it belongs to, which shares such things as a
    /// part of the body budget: the key its chain's first key (minted by
    /// the integrator, from Rust) minted, and every key below that one; the
    /// first key is a family of its own. So no key multiplies its share by
    /// minting children, scope-all or not, and no tenant takes the share of
    /// the operator who minted it.
    pub(crate) fn family(&self) -> &KeyId {
        match self.chain.len() {
            0 | 1 => &self.key.id,
            links => self.chain[links - 2].key_id(),
        }
    }

    /// The same principal reaching only `reach` (what every key of its
    /// minting chain allows).
    #[must_use]
    pub fn reaching(mut self, reach: Reach) -> Self {
        self.reach = reach;
        self
    }

    /// Which hostings it reaches: every key of its chain's scope at once.
    pub fn scope(&self) -> &Reach {
        &self.reach
    }

    /// The audit actor: `apikey:<label>`.
    pub fn actor(&self) -> String {
        format!("apikey:{}", self.key.label)
    }

    /// How the audit log names this key: its actor, id and owner.
    pub(crate) fn requester(&self) -> crate::audit::Requester {
        crate::audit::Requester {
            actor: self.actor(),
            key_id: Some(self.key_id().clone()),
            owner: Some(self.owner.clone()),
            key_prefix: None,
        }
    }

    /// The tightest rate limit of the chain (0: none is limited).
    pub fn effective_rate_limit(&self) -> u32 {
        self.chain
            .iter()
            .map(ChainLimit::rate_limit_per_min)
            .filter(|limit| *limit > 0)
            .min()
            .unwrap_or(0)
    }

    /// The nearest non-empty allowlist of the chain (empty: none is set).
    pub fn nearest_allowlist(&self) -> &[String] {
        self.chain
            .iter()
            .map(ChainLimit::ip_allowlist)
            .find(|list| !list.is_empty())
            .unwrap_or(&[])
    }
}

pub use hyperion_wire::Access;

/// Refuses unless the principal holds `cap`.
pub(crate) fn require(principal: &Principal, cap: Capability) -> Result<(), ApiError> {
    if principal.caps.contains(cap) {
        Ok(())
    } else {
        tracing::debug!(key = %principal.key_id(), %cap, "refused: capability missing");
        Err(ApiError::Forbidden(format!(
            "this API key lacks the `{cap}` capability"
        )))
    }
}

/// Refuses unless the principal's scope is the whole cluster.
pub(crate) fn require_cluster_scope(principal: &Principal) -> Result<(), ApiError> {
    if principal.scope().is_all() {
        Ok(())
    } else {
        tracing::debug!(key = %principal.key_id(), "refused: cluster-wide action with a grants-scoped key");
        Err(ApiError::Forbidden(
            "this action is cluster-wide and needs a key with scope `all`".to_owned(),
        ))
    }
}

/// The scope decision for one known hosting: `Ok` when the principal's scope
/// allows `access`, 404 when it has no grant (as if the hosting did not
/// exist), 403 when it has only a `view` grant and wants to manage.
pub(crate) fn decide_hosting_access(
    principal: &Principal,
    hosting: &HostingId,
    owner: Option<&OwnerId>,
    access: Access,
) -> Result<(), ApiError> {
    match (principal.scope().level_on(hosting, owner), access) {
        // Scope all, or any grant, may read.
        (Some(_), Access::Read) => Ok(()),
        // Scope all, or a manage grant, may manage.
        (Some(GrantLevel::Manage), Access::Manage) => Ok(()),
        // A view grant knows the hosting exists, so telling it "forbidden" leaks nothing.
        (Some(GrantLevel::View), Access::Manage) => {
            tracing::debug!(key = %principal.key_id(), %hosting, "refused: view grant on a manage action");
            Err(ApiError::Forbidden(
                "this API key may only view this hosting".to_owned(),
            ))
        }
        // Out of scope: exactly the answer for a hosting that does not exist.
        (None, _) => {
            tracing::debug!(key = %principal.key_id(), %hosting, "refused: hosting out of scope (answered 404)");
            Err(ApiError::OutOfScope)
        }
    }
}

/// Checks `cap`, finds the hosting `selector` names, and checks that the
/// principal may `access` it. An id outside a grants scope is refused before
/// any node is asked.
pub async fn require_hosting_access(
    principal: &Principal,
    cluster: &Cluster,
    selector: &HostingSelector,
    cap: Capability,
    access: Access,
) -> Result<Located, ApiError> {
    require(principal, cap)?;
    let reach = principal.scope();
    // Grants decide by id before any node is asked; an owner's scope needs
    // to know whose the hosting is first.
    let decided_by_id = match selector {
        HostingSelector::Id(id) if reach.decides_by_id() => {
            decide_hosting_access(principal, id, None, access)?;
            Some(id)
        }
        _ => None,
    };
    // A hosting outside the key's reach takes as long to refuse as a name
    // that exists nowhere (see `Cluster::locate_visible`).
    let visible = |id: &HostingId, owner: Option<&OwnerId>| reach.level_on(id, owner).is_some();
    let located = match cluster.locate_visible(selector, &visible).await {
        Ok(located) => located,
        // A tenant learns nothing from the nodes about what it does not
        // reach: a name (or, for an owner's scope, an id) that does not
        // resolve to one of its hostings is the same 404, whether the nodes
        // said "no such hosting" or failed to answer.
        Err(err) if !reach.is_all() && decided_by_id.is_none() => {
            tracing::debug!(key = %principal.key_id(), error = %err, "refused: lookup failed for a tenant (answered 404)");
            return Err(ApiError::OutOfScope);
        }
        Err(err) => return Err(err),
    };
    let summary = &located.hosting.summary;
    if decided_by_id != Some(&summary.id) {
        decide_hosting_access(principal, &summary.id, summary.owner.as_ref(), access)?;
    }
    Ok(located)
}

/// What a key asks to mint: every right the new key would hold, with the
/// limits it inherits already filled in (see [`inherit_limits`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MintTerms {
    /// Capabilities.
    pub caps: CapSet,
    /// Scope, with grants resolved to canonical ids.
    pub scope: KeyScope,
    /// The owner each granted hosting had when its grant was resolved.
    pub grant_owners: std::collections::BTreeMap<HostingId, Option<OwnerId>>,
    /// Expiry.
    pub expires_at: Option<OffsetDateTime>,
    /// Allowed client addresses (normalised CIDRs; empty: anywhere).
    pub ip_allowlist: Vec<String>,
    /// Requests per minute (0: unlimited).
    pub rate_limit_per_min: u32,
}

/// Fills in what a child leaves out: no allowlist means the nearest one of
/// the minter's chain, no rate limit means the minter's tightest one. So a
/// child never silently works from more places, or more often, than its
/// parent.
pub(crate) fn inherit_limits(principal: &Principal, terms: &mut MintTerms) {
    if terms.ip_allowlist.is_empty() {
        terms.ip_allowlist = principal.nearest_allowlist().to_vec();
    }
    if terms.rate_limit_per_min == 0 {
        terms.rate_limit_per_min = principal.effective_rate_limit();
    }
}

/// Whether every network of `inner` lies inside some network of `outer`.
fn allowlist_within(inner: &[String], outer: &[String]) -> Result<(), String> {
    let outer: Vec<ipnet::IpNet> = outer
        .iter()
        .filter_map(|entry| parse_allowlist_entry(entry).ok())
        .collect();
    if inner.is_empty() {
        return Err("anywhere".to_owned());
    }
    for entry in inner {
        let net = parse_allowlist_entry(entry).map_err(|_| entry.clone())?;
        if !outer.iter().any(|held| held.contains(&net)) {
            return Err(entry.clone());
        }
    }
    Ok(())
}

/// No escalation: a key may mint only what it holds itself.
///
/// - the new capabilities must be a subset of the principal's effective ones;
/// - a grants-scoped principal cannot mint a scope-all key, and can grant a
///   hosting only at a level no higher than its own grant on it;
/// - a principal that expires cannot mint a key that outlives it;
/// - the new allowlist must lie inside every allowlist of the principal's
///   chain, and its rate limit must be no looser than the chain's tightest;
/// - a chain holds at most [`MAX_CHAIN_DEPTH`] keys.
///
/// Grants must already be resolved to ids the principal can see (see
/// `api::keys`); a grant outside its scope is refused like an unknown hosting.
pub(crate) fn check_mint(principal: &Principal, terms: &MintTerms) -> Result<(), ApiError> {
    let excess = terms.caps.difference(principal.caps);
    if !excess.is_empty() {
        let names: Vec<&str> = excess.iter().map(Capability::as_str).collect();
        return Err(ApiError::Forbidden(format!(
            "cannot grant capabilities this API key does not hold: {}",
            names.join(", ")
        )));
    }
    let reach = principal.scope();
    match &terms.scope {
        _ if reach.is_all() => {}
        KeyScope::All => {
            return Err(ApiError::Forbidden(
                "a key limited to grants or to an owner cannot mint a key with scope `all`"
                    .to_owned(),
            ));
        }
        KeyScope::Owner { owner, level } => {
            // Only below a key scoped to that same customer and to nothing
            // narrower: a grants-scoped key would otherwise widen to every
            // hosting of their owner.
            if reach.grants().is_some() || reach.owner() != Some(owner) {
                return Err(ApiError::Forbidden(
                    "a key can mint an owner's scope only with a key scoped to that same owner"
                        .to_owned(),
                ));
            }
            if let Some(own_level) = reach.owner_level()
                && own_level < *level
            {
                return Err(ApiError::Forbidden(format!(
                    "cannot grant `{level}` on the hostings of `{owner}`: this API key only holds `{own_level}`"
                )));
            }
        }
        KeyScope::Grants(asked) => {
            for (hosting, level) in asked {
                let owner = terms.grant_owners.get(hosting).and_then(Option::as_ref);
                match reach.level_on(hosting, owner) {
                    // Out of reach: the same answer as for a hosting that does not exist.
                    None => {
                        return Err(ApiError::Validation(format!(
                            "scope: unknown hosting `{hosting}`"
                        )));
                    }
                    Some(own_level) if own_level < *level => {
                        return Err(ApiError::Forbidden(format!(
                            "cannot grant `{level}` on hosting `{hosting}`: this API key only holds `{own_level}`"
                        )));
                    }
                    Some(_) => {}
                }
            }
        }
    }
    if let Some(own_expiry) = principal.expires_at
        && terms.expires_at.is_none_or(|asked| asked > own_expiry)
    {
        return Err(ApiError::Forbidden(format!(
            "this API key expires at {}; a key it mints must expire no later",
            own_expiry
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_else(|_| own_expiry.to_string())
        )));
    }
    for link in principal
        .chain
        .iter()
        .filter(|l| !l.ip_allowlist().is_empty())
    {
        if let Err(outside) = allowlist_within(&terms.ip_allowlist, link.ip_allowlist()) {
            return Err(ApiError::Forbidden(format!(
                "ip_allowlist: cannot allow `{outside}`: it lies outside the allowlist of this API key's chain ({})",
                link.ip_allowlist().join(", ")
            )));
        }
    }
    let own_limit = principal.effective_rate_limit();
    if own_limit > 0 && (terms.rate_limit_per_min == 0 || terms.rate_limit_per_min > own_limit) {
        return Err(ApiError::Forbidden(format!(
            "rate_limit_per_min: this API key is limited to {own_limit} requests a minute; a key it mints must be limited to no more"
        )));
    }
    if principal.chain.len() >= MAX_CHAIN_DEPTH {
        return Err(ApiError::Forbidden(format!(
            "a minting chain holds at most {MAX_CHAIN_DEPTH} keys; this API key cannot mint further"
        )));
    }
    Ok(())
}

/// Whether the principal may see and revoke the key record `key`:
/// the keys it minted, directly or further down its chain
/// (`minted_by_principal`), and, for a scope-all key, any key whose
/// capabilities lie within its own. A key holding less than another can
/// never list or revoke it, and no key ever sees or revokes a key above it
/// in its own minting chain: a child holding all its parent holds must not
/// turn on the parent (revoking it would end every sibling too).
pub(crate) fn may_manage_key(
    principal: &Principal,
    key: &ApiKeyRecord,
    minted_by_principal: bool,
) -> bool {
    let above_principal = principal
        .chain
        .iter()
        .skip(1)
        .any(|link| link.key.id == key.id);
    !above_principal
        && (minted_by_principal
            || (principal.scope().is_all() && key.caps.difference(principal.caps).is_empty()))
}

/// A key that holds every right there is: every capability, scope all.
/// The last active one cannot be revoked over the API, so that no key
/// can lock the operator out.
pub(crate) fn is_full_admin(key: &ApiKeyRecord) -> bool {
    key.caps == CapSet::all() && key.scope.is_all()
}

/// Whether the principal may read `job`: its starter always; another key
/// needs scope all and the capability of the action that started the job
/// (or `hosting_view`, for a job on a hosting). Anything else is 404.
pub(crate) fn may_read_job(principal: &Principal, job: &Job) -> bool {
    if job.started_by.as_ref() == Some(principal.key_id()) {
        return true;
    }
    if !principal.scope().is_all() {
        return false;
    }
    let started_with = ROUTES
        .iter()
        .find(|route| route.action == job.kind)
        .and_then(|route| route.rule.cap);
    let on_a_hosting = job.kind.starts_with("hosting.");
    started_with.is_some_and(|cap| principal.caps.contains(cap))
        || (on_a_hosting && principal.caps.contains(Capability::HostingView))
}

pub(crate) use hyperion_wire::endpoints::HostingRule;

/// Checks what the route alone decides: its capability, then its scope.
/// Runs before any body byte is read and before any hosting is looked up.
pub(crate) fn check_route(principal: &Principal, endpoint: Endpoint) -> Result<(), ApiError> {
    let rule = endpoint.spec().rule;
    if let Some(cap) = rule.cap {
        require(principal, cap)?;
    }
    if rule.cluster_scope {
        require_cluster_scope(principal)?;
    }
    Ok(())
}

/// Who a suspension by this principal is recorded as.
pub(crate) fn suspender(principal: &Principal) -> SuspendedBy {
    if principal.scope().is_all() {
        SuspendedBy::Operator
    } else {
        SuspendedBy::Tenant
    }
}

/// Whether the principal may resume a hosting suspended by `by`: a scope-all
/// key always, a tenant only what a tenant suspended (an unknown origin
/// counts as the operator's).
pub(crate) fn may_resume(principal: &Principal, by: Option<SuspendedBy>) -> Result<(), ApiError> {
    if principal.scope().is_all() || by == Some(SuspendedBy::Tenant) {
        Ok(())
    } else {
        tracing::debug!(key = %principal.key_id(), "refused: resuming an operator's suspension");
        Err(ApiError::Forbidden(
            "this hosting was suspended by the operator; only a key with scope `all` can resume it"
                .to_owned(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> HostingId {
        s.parse().unwrap()
    }

    fn principal(caps: CapSet, scope: KeyScope) -> Principal {
        let mut record = crate::keys::NewKey::new("test", "owner".parse().unwrap(), caps)
            .mint()
            .record;
        record.id = KeyId::parse("key_test").unwrap();
        record.scope = scope;
        Principal::of_key(Arc::new(record))
    }

    #[test]
    fn hosting_access_table() {
        let grants = KeyScope::Grants(
            [
                (id("viewed"), GrantLevel::View),
                (id("managed"), GrantLevel::Manage),
            ]
            .into(),
        );
        let tenant = principal(CapSet::all(), grants);
        let admin = principal(CapSet::all(), KeyScope::All);
        // (principal, hosting, access, expected code or None for allowed)
        let cases: [(&Principal, &str, Access, Option<&str>); 10] = [
            (&admin, "any", Access::Read, None),
            (&admin, "any", Access::Manage, None),
            (&tenant, "viewed", Access::Read, None),
            (&tenant, "viewed", Access::Manage, Some("forbidden")),
            (&tenant, "managed", Access::Read, None),
            (&tenant, "managed", Access::Manage, None),
            (&tenant, "other", Access::Read, Some("not_found")),
            (&tenant, "other", Access::Manage, Some("not_found")),
            (&tenant, "Viewed", Access::Read, Some("not_found")),
            (&tenant, "managed2", Access::Manage, Some("not_found")),
        ];
        for (who, hosting, access, expected) in cases {
            let got = decide_hosting_access(who, &id(hosting), None, access).err();
            assert_eq!(
                got.as_ref().map(|err| err.code().as_str()),
                expected,
                "{hosting} {access:?}"
            );
        }
    }

    #[test]
    fn out_of_scope_is_indistinguishable_from_missing() {
        let tenant = principal(CapSet::all(), KeyScope::Grants(Default::default()));
        let hidden = decide_hosting_access(&tenant, &id("exists"), None, Access::Read).unwrap_err();
        let missing = ApiError::hosting_not_found();
        assert_eq!(
            (hidden.status(), hidden.code(), hidden.to_string()),
            (missing.status(), missing.code(), missing.to_string())
        );
    }

    /// The code `check_mint` answers, `None` when it allows the mint.
    fn mint_answer(who: &Principal, terms: &MintTerms) -> Option<&'static str> {
        check_mint(who, terms).err().map(|err| err.code().as_str())
    }

    /// (minter, caps, scope, expiry, expected code or `None` for allowed)
    type MintCase<'a> = (
        &'a Principal,
        CapSet,
        KeyScope,
        Option<OffsetDateTime>,
        Option<&'static str>,
    );

    #[test]
    fn mint_escalation_table() {
        let view_only: CapSet = [Capability::HostingView].into_iter().collect();
        let grants = |pairs: &[(&str, GrantLevel)]| {
            KeyScope::Grants(pairs.iter().map(|(h, l)| (id(h), *l)).collect())
        };
        let tenant = principal(
            view_only,
            grants(&[("v", GrantLevel::View), ("m", GrantLevel::Manage)]),
        );
        let admin = principal(CapSet::all(), KeyScope::All);
        let soon = crate::model::now() + time::Duration::hours(1);
        let mut expiring = admin.clone();
        expiring.expires_at = Some(soon);
        let later = soon + time::Duration::hours(1);
        let cases: Vec<MintCase> = vec![
            (&admin, CapSet::all(), KeyScope::All, None, None),
            (
                &tenant,
                view_only,
                grants(&[("v", GrantLevel::View)]),
                None,
                None,
            ),
            (
                &tenant,
                view_only,
                grants(&[("m", GrantLevel::View)]),
                None,
                None,
            ),
            (
                &tenant,
                view_only,
                grants(&[("m", GrantLevel::Manage)]),
                None,
                None,
            ),
            (&tenant, CapSet::empty(), grants(&[]), None, None),
            (
                &tenant,
                CapSet::all(),
                grants(&[("v", GrantLevel::View)]),
                None,
                Some("forbidden"),
            ),
            (&tenant, view_only, KeyScope::All, None, Some("forbidden")),
            (
                &tenant,
                view_only,
                grants(&[("v", GrantLevel::Manage)]),
                None,
                Some("forbidden"),
            ),
            (
                &tenant,
                view_only,
                grants(&[("x", GrantLevel::View)]),
                None,
                Some("validation"),
            ),
            (
                &expiring,
                CapSet::all(),
                KeyScope::All,
                None,
                Some("forbidden"),
            ),
            (
                &expiring,
                CapSet::all(),
                KeyScope::All,
                Some(later),
                Some("forbidden"),
            ),
            (&expiring, CapSet::all(), KeyScope::All, Some(soon), None),
        ];
        for (n, (who, caps, scope, expiry, expected)) in cases.into_iter().enumerate() {
            let terms = MintTerms {
                caps,
                scope,
                expires_at: expiry,
                ip_allowlist: Vec::new(),
                rate_limit_per_min: 0,
                grant_owners: Default::default(),
            };
            assert_eq!(mint_answer(who, &terms), expected, "case {n}");
        }
    }

    #[test]
    fn capability_and_cluster_scope() {
        let viewer = principal(
            [Capability::HostingView].into_iter().collect(),
            KeyScope::All,
        );
        assert!(require(&viewer, Capability::HostingView).is_ok());
        assert_eq!(
            require(&viewer, Capability::HostingDelete)
                .unwrap_err()
                .code()
                .as_str(),
            "forbidden"
        );
        assert!(require_cluster_scope(&viewer).is_ok());
        let tenant = principal(CapSet::all(), KeyScope::Grants(Default::default()));
        assert_eq!(
            require_cluster_scope(&tenant).unwrap_err().code().as_str(),
            "forbidden"
        );
    }

    fn link(key: &str, allowlist: &[&str], rate: u32) -> ChainLimit {
        let mut record = crate::keys::NewKey::new("link", "owner".parse().unwrap(), CapSet::all())
            .mint()
            .record;
        record.id = KeyId::parse(key).unwrap();
        record.ip_allowlist = allowlist.iter().map(|s| s.to_string()).collect();
        record.rate_limit_per_min = rate;
        ChainLimit::of(&Arc::new(record))
    }

    #[test]
    fn a_family_is_what_the_first_key_minted_and_everything_below() {
        let mut key = principal(CapSet::all(), KeyScope::All);
        // Minted from Rust: its own family.
        key.chain = vec![link("key_test", &[], 0)];
        assert_eq!(key.family().as_str(), "key_test");
        // Minted by the first key: its own family, not the operator's.
        key.chain = vec![link("key_test", &[], 0), link("key_root", &[], 0)];
        assert_eq!(key.family().as_str(), "key_test");
        // Minted further down (a delegate's scope-all children too): the
        // family of the key the first key minted.
        key.chain = vec![
            link("key_test", &[], 0),
            link("key_delegate", &[], 0),
            link("key_root", &[], 0),
        ];
        assert_eq!(key.family().as_str(), "key_delegate");
    }

    #[test]
    fn mint_limits_table() {
        let mut limited = principal(CapSet::all(), KeyScope::All);
        limited.chain = vec![
            link("key_self", &["127.0.0.1/32"], 5),
            link("key_parent", &["127.0.0.0/8"], 60),
        ];
        let mut parent_only = principal(CapSet::all(), KeyScope::All);
        parent_only.chain = vec![
            link("key_self", &[], 0),
            link("key_parent", &["10.0.0.0/8"], 0),
        ];
        let free = principal(CapSet::all(), KeyScope::All);
        let mut deep = principal(CapSet::all(), KeyScope::All);
        deep.chain = (0..MAX_CHAIN_DEPTH)
            .map(|n| link(&format!("key_k{n}"), &[], 0))
            .collect();
        // (minter, allowlist asked, rate asked, expected code or None)
        let cases: Vec<(&Principal, &[&str], u32, Option<&str>)> = vec![
            (&limited, &["127.0.0.1/32"], 5, None),
            (&limited, &["127.0.0.1/32"], 1, None),
            (&limited, &["127.0.0.1/32"], 6, Some("forbidden")),
            (&limited, &["127.0.0.1/32"], 0, Some("forbidden")),
            (&limited, &[], 5, Some("forbidden")),
            (&limited, &["127.0.0.2/32"], 5, Some("forbidden")),
            (&limited, &["127.0.0.0/24"], 5, Some("forbidden")),
            (&limited, &["10.0.0.1/32"], 5, Some("forbidden")),
            (&parent_only, &["10.1.0.0/16"], 0, None),
            (&parent_only, &["11.0.0.1/32"], 0, Some("forbidden")),
            (&parent_only, &[], 0, Some("forbidden")),
            (&free, &[], 0, None),
            (&free, &["192.0.2.0/24"], 1000, None),
            (&deep, &[], 0, Some("forbidden")),
        ];
        for (n, (who, allowlist, rate, expected)) in cases.into_iter().enumerate() {
            let terms = MintTerms {
                caps: CapSet::empty(),
                scope: KeyScope::All,
                expires_at: None,
                ip_allowlist: allowlist.iter().map(|s| s.to_string()).collect(),
                rate_limit_per_min: rate,
                grant_owners: Default::default(),
            };
            assert_eq!(mint_answer(who, &terms), expected, "case {n}");
        }
    }

    #[test]
    fn inherited_limits_are_the_minters() {
        let mut limited = principal(CapSet::all(), KeyScope::All);
        limited.chain = vec![
            link("key_self", &[], 30),
            link("key_parent", &["127.0.0.1/32"], 5),
        ];
        let mut terms = MintTerms {
            caps: CapSet::empty(),
            scope: KeyScope::All,
            expires_at: None,
            ip_allowlist: Vec::new(),
            rate_limit_per_min: 0,
            grant_owners: Default::default(),
        };
        inherit_limits(&limited, &mut terms);
        assert_eq!(terms.ip_allowlist, ["127.0.0.1/32"]);
        assert_eq!(terms.rate_limit_per_min, 5);
        assert!(check_mint(&limited, &terms).is_ok());
        // What is given is kept, and then judged.
        let mut asked = terms.clone();
        asked.rate_limit_per_min = 50;
        inherit_limits(&limited, &mut asked);
        assert_eq!(asked.rate_limit_per_min, 50);
        assert!(check_mint(&limited, &asked).is_err());
    }

    fn record(caps: CapSet, scope: KeyScope) -> ApiKeyRecord {
        let mut new = crate::keys::NewKey::new("k", "owner".parse().unwrap(), caps);
        new.scope = scope;
        new.mint().record
    }

    #[test]
    fn key_management_table() {
        let only_keys: CapSet = [Capability::ApiKeysManage].into_iter().collect();
        let key_manager = principal(only_keys, KeyScope::All);
        let admin = principal(CapSet::all(), KeyScope::All);
        let tenant = principal(CapSet::all(), KeyScope::Grants(Default::default()));
        let full = record(CapSet::all(), KeyScope::All);
        let small = record(only_keys, KeyScope::All);
        let empty = record(CapSet::empty(), KeyScope::Grants(Default::default()));
        // (principal, key, minted by the principal, may manage)
        let cases = [
            (&admin, &full, false, true),
            (&admin, &empty, false, true),
            (&key_manager, &full, false, false),
            (&key_manager, &small, false, true),
            (&key_manager, &empty, false, true),
            (&key_manager, &full, true, true),
            (&tenant, &empty, false, false),
            (&tenant, &empty, true, true),
            (&tenant, &full, true, true),
        ];
        for (n, (who, key, minted, expected)) in cases.into_iter().enumerate() {
            assert_eq!(may_manage_key(who, key, minted), expected, "case {n}");
        }
        assert!(is_full_admin(&full));
        assert!(!is_full_admin(&small));
        assert!(!is_full_admin(&record(
            CapSet::all(),
            KeyScope::Grants(Default::default())
        )));
    }

    #[test]
    fn job_reading_table() {
        let job = |kind: &str, starter: &str| Job {
            id: crate::jobs::JobId::parse("job_x").unwrap(),
            kind: kind.to_owned(),
            target: "t".to_owned(),
            state: crate::jobs::JobState::Queued,
            progress: 0,
            step: None,
            error: None,
            result: None,
            actor: "apikey:x".to_owned(),
            started_by: KeyId::parse(starter),
            plan: None,
            attempt: 1,
            created_at: crate::model::now(),
            updated_at: crate::model::now(),
            finished_at: None,
        };
        let caps = |list: &[Capability]| list.iter().copied().collect::<CapSet>();
        let nothing = principal(CapSet::empty(), KeyScope::All);
        let viewer = principal(caps(&[Capability::HostingView]), KeyScope::All);
        let certs = principal(caps(&[Capability::CertManage]), KeyScope::All);
        let tenant = principal(CapSet::all(), KeyScope::Grants(Default::default()));
        // (principal, kind, starter, may read)
        let cases = [
            (&nothing, "hosting.delete", "key_test", true),
            (&nothing, "hosting.delete", "key_other", false),
            (&viewer, "hosting.delete", "key_other", true),
            (&viewer, "certs.renew_all", "key_other", false),
            (&certs, "certs.renew_all", "key_other", true),
            (&certs, "hosting.backup", "key_other", false),
            (&tenant, "hosting.delete", "key_other", false),
            (&tenant, "hosting.delete", "key_test", true),
        ];
        for (n, (who, kind, starter, expected)) in cases.into_iter().enumerate() {
            assert_eq!(may_read_job(who, &job(kind, starter)), expected, "case {n}");
        }
    }

    #[test]
    fn resume_and_scope_rules_table() {
        let admin = principal(CapSet::all(), KeyScope::All);
        let tenant = principal(CapSet::all(), KeyScope::Grants(Default::default()));
        let cases = [
            (&admin, Some(SuspendedBy::Operator), None),
            (&admin, Some(SuspendedBy::Tenant), None),
            (&admin, None, None),
            (&tenant, Some(SuspendedBy::Tenant), None),
            (&tenant, Some(SuspendedBy::Operator), Some("forbidden")),
            (&tenant, None, Some("forbidden")),
        ];
        for (n, (who, by, expected)) in cases.into_iter().enumerate() {
            let got = may_resume(who, by).err();
            assert_eq!(
                got.as_ref().map(|err| err.code().as_str()),
                expected,
                "case {n}"
            );
        }
        assert_eq!(suspender(&admin), SuspendedBy::Operator);
        assert_eq!(suspender(&tenant), SuspendedBy::Tenant);
        // Operator settings need scope all; tenant settings a manage grant.
        for (endpoint, tenant_allowed) in [
            (Endpoint::PatchExpiry, false),
            (Endpoint::PatchLimits, false),
            (Endpoint::PatchQuota, false),
            (Endpoint::PatchPhp, true),
            (Endpoint::PatchVhost, true),
            (Endpoint::ResumeHosting, true),
            (Endpoint::ListNodes, false),
            (Endpoint::ListAudit, false),
            (Endpoint::RenewAllCertificates, false),
        ] {
            assert_eq!(
                check_route(&tenant, endpoint).is_ok(),
                tenant_allowed,
                "{endpoint:?}"
            );
            assert!(check_route(&admin, endpoint).is_ok(), "{endpoint:?}");
        }
        // Every route that needs a capability refuses a key without any.
        let powerless = principal(CapSet::empty(), KeyScope::All);
        for route in ROUTES {
            let rule = route.rule;
            assert_eq!(
                check_route(&powerless, route.endpoint).is_err(),
                rule.cap.is_some(),
                "{:?}",
                route.endpoint
            );
        }
    }
}
