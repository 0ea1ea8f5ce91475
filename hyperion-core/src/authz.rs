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

use time::OffsetDateTime;

use crate::capability::{CapSet, Capability};
use crate::cluster::{Cluster, Located};
use crate::error::ApiError;
use crate::jobs::Job;
use crate::keys::{ApiKeyRecord, GrantLevel, KeyId, KeyScope};
use crate::model::{HostingId, HostingSelector, OwnerId};

/// Who is making a request: an authenticated key, with its capabilities
/// already clamped by its owner's current ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The key's id.
    pub key_id: KeyId,
    /// The key's label.
    pub label: String,
    /// The key's display prefix.
    pub prefix: String,
    /// The key's owner.
    pub owner: OwnerId,
    /// Effective capabilities: the key's ∩ the owner's current ones.
    pub caps: CapSet,
    /// Which hostings it reaches.
    pub scope: KeyScope,
    /// When the key expires.
    pub expires_at: Option<OffsetDateTime>,
    /// Client addresses the key may be used from (empty: anywhere).
    pub ip_allowlist: Vec<String>,
    /// Requests per minute (0: unlimited).
    pub rate_limit_per_min: u32,
}

impl Principal {
    /// The audit actor: `apikey:<label>`.
    pub fn actor(&self) -> String {
        format!("apikey:{}", self.label)
    }
}

/// What a request wants to do with a hosting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Read it.
    Read,
    /// Change it.
    Manage,
}

/// Refuses unless the principal holds `cap`.
pub fn require(principal: &Principal, cap: Capability) -> Result<(), ApiError> {
    if principal.caps.contains(cap) {
        Ok(())
    } else {
        tracing::debug!(key = %principal.key_id, %cap, "refused: capability missing");
        Err(ApiError::Forbidden(format!(
            "this API key lacks the `{cap}` capability"
        )))
    }
}

/// Refuses unless the principal's scope is the whole cluster.
pub fn require_cluster_scope(principal: &Principal) -> Result<(), ApiError> {
    if principal.scope.is_all() {
        Ok(())
    } else {
        tracing::debug!(key = %principal.key_id, "refused: cluster-wide action with a grants-scoped key");
        Err(ApiError::Forbidden(
            "this action is cluster-wide and needs a key with scope `all`".to_owned(),
        ))
    }
}

/// The scope decision for one known hosting: `Ok` when the principal's scope
/// allows `access`, 404 when it has no grant (as if the hosting did not
/// exist), 403 when it has only a `view` grant and wants to manage.
pub fn decide_hosting_access(
    principal: &Principal,
    hosting: &HostingId,
    access: Access,
) -> Result<(), ApiError> {
    match (principal.scope.level_on(hosting), access) {
        // Scope all, or any grant, may read.
        (Some(_), Access::Read) => Ok(()),
        // Scope all, or a manage grant, may manage.
        (Some(GrantLevel::Manage), Access::Manage) => Ok(()),
        // A view grant knows the hosting exists, so telling it "forbidden" leaks nothing.
        (Some(GrantLevel::View), Access::Manage) => {
            tracing::debug!(key = %principal.key_id, %hosting, "refused: view grant on a manage action");
            Err(ApiError::Forbidden(
                "this API key may only view this hosting".to_owned(),
            ))
        }
        // Out of scope: exactly the answer for a hosting that does not exist.
        (None, _) => {
            tracing::debug!(key = %principal.key_id, %hosting, "refused: hosting out of scope (answered 404)");
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
    if let HostingSelector::Id(id) = selector {
        decide_hosting_access(principal, id, access)?;
    }
    let located = cluster.locate(selector).await?;
    decide_hosting_access(principal, &located.hosting.summary.id, access)?;
    Ok(located)
}

/// [`require_hosting_access`] for a change: resolves id or domain to the
/// hosting and its node, then demands `cap` and a manage right on it.
pub async fn resolve_manage(
    principal: &Principal,
    cluster: &Cluster,
    selector: &HostingSelector,
    cap: Capability,
) -> Result<Located, ApiError> {
    require_hosting_access(principal, cluster, selector, cap, Access::Manage).await
}

/// No escalation: a key may mint only what it holds itself.
///
/// - the new capabilities must be a subset of the principal's effective ones;
/// - a grants-scoped principal cannot mint a scope-all key, and can grant a
///   hosting only at a level no higher than its own grant on it;
/// - a principal that expires cannot mint a key that outlives it.
///
/// Grants must already be resolved to ids the principal can see (see
/// `api::keys`); a grant outside its scope is refused like an unknown hosting.
pub fn check_mint(
    principal: &Principal,
    caps: CapSet,
    scope: &KeyScope,
    expires_at: Option<OffsetDateTime>,
) -> Result<(), ApiError> {
    let excess = caps.difference(principal.caps);
    if !excess.is_empty() {
        let names: Vec<&str> = excess.iter().map(Capability::as_str).collect();
        return Err(ApiError::Forbidden(format!(
            "cannot grant capabilities this API key does not hold: {}",
            names.join(", ")
        )));
    }
    if let (KeyScope::Grants(own), asked) = (&principal.scope, scope) {
        let KeyScope::Grants(asked) = asked else {
            return Err(ApiError::Forbidden(
                "a key limited to grants cannot mint a key with scope `all`".to_owned(),
            ));
        };
        for (hosting, level) in asked {
            match own.get(hosting) {
                // Out of scope: the same answer as for a hosting that does not exist.
                None => {
                    return Err(ApiError::Validation(format!(
                        "scope: unknown hosting `{hosting}`"
                    )));
                }
                Some(own_level) if own_level < level => {
                    return Err(ApiError::Forbidden(format!(
                        "cannot grant `{level}` on hosting `{hosting}`: this API key only holds `{own_level}`"
                    )));
                }
                Some(_) => {}
            }
        }
    }
    if let Some(own_expiry) = principal.expires_at {
        if expires_at.is_none_or(|asked| asked > own_expiry) {
            return Err(ApiError::Forbidden(format!(
                "this API key expires at {}; a key it mints must expire no later",
                own_expiry
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_else(|_| own_expiry.to_string())
            )));
        }
    }
    Ok(())
}

/// Whether the principal may see (read, revoke) the key record `key`:
/// scope-all keys see every key, any other key only the keys it minted.
pub fn may_see_key(principal: &Principal, key: &ApiKeyRecord) -> bool {
    principal.scope.is_all() || key.created_by.as_ref() == Some(&principal.key_id)
}

/// Whether the principal may read `job`: scope-all keys read every job, any
/// other key only the jobs it started.
pub fn may_read_job(principal: &Principal, job: &Job) -> bool {
    principal.scope.is_all() || job.started_by.as_ref() == Some(&principal.key_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> HostingId {
        s.parse().unwrap()
    }

    fn principal(caps: CapSet, scope: KeyScope) -> Principal {
        Principal {
            key_id: KeyId::parse("key_test").unwrap(),
            label: "test".into(),
            prefix: "hyp_test".into(),
            owner: "owner".parse().unwrap(),
            caps,
            scope,
            expires_at: None,
            ip_allowlist: Vec::new(),
            rate_limit_per_min: 0,
        }
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
            let got = decide_hosting_access(who, &id(hosting), access).err();
            assert_eq!(
                got.as_ref().map(ApiError::code),
                expected,
                "{hosting} {access:?}"
            );
        }
    }

    #[test]
    fn out_of_scope_is_indistinguishable_from_missing() {
        let tenant = principal(CapSet::all(), KeyScope::Grants(Default::default()));
        let hidden = decide_hosting_access(&tenant, &id("exists"), Access::Read).unwrap_err();
        let missing = ApiError::hosting_not_found();
        assert_eq!(
            (hidden.status(), hidden.code(), hidden.to_string()),
            (missing.status(), missing.code(), missing.to_string())
        );
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
            let got = check_mint(who, caps, &scope, expiry).err();
            assert_eq!(
                got.as_ref().map(ApiError::code),
                expected,
                "case {n}: {got:?}"
            );
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
                .code(),
            "forbidden"
        );
        assert!(require_cluster_scope(&viewer).is_ok());
        let tenant = principal(CapSet::all(), KeyScope::Grants(Default::default()));
        assert_eq!(
            require_cluster_scope(&tenant).unwrap_err().code(),
            "forbidden"
        );
    }
}
