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
use crate::keys::{GrantLevel, KeyId, KeyScope};
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
            Err(ApiError::hosting_not_found())
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
        assert_eq!(hidden, ApiError::hosting_not_found());
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
