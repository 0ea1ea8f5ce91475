//! The bodies the API answers, as types: the server renders them and a
//! client reads them back with the same types, so the two cannot disagree
//! on a field. (Hostings, jobs, keys and audit events are their own types:
//! [`crate::model::HostingDetail`], [`crate::Job`], [`crate::KeyView`],
//! [`crate::AuditPage`].)

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::capability::CapSet;
use crate::jobs::JobId;
use crate::keys::{KeyId, KeyScope, KeyView};
use crate::model::{
    Backup, Hosting, HostingId, HostingState, Labels, NodeId, NodeInfo, OwnerId, PhpVersion,
    PlanName,
};

/// `GET /hostings`: one page of hostings, in id order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostingPage {
    /// The hostings of this page.
    pub items: Vec<Hosting>,
    /// Where the next page starts (`?cursor=`); `None` on the last page.
    pub next_cursor: Option<HostingId>,
    /// How many hostings match the filters, on every node that answered.
    pub total: u64,
    /// Whether some node did not answer, so hostings may be missing.
    pub partial: bool,
    /// The nodes whose hostings are missing from this answer (always empty
    /// for a grants-scoped key, which never learns node names).
    pub unavailable_nodes: Vec<NodeId>,
}

/// `POST /hostings/{id}/suspend` and `/resume`: the state reached.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateChange {
    /// The hosting's id.
    pub id: HostingId,
    /// Its state now.
    pub state: HostingState,
}

/// `202 Accepted` of a request that started a job; poll `GET /jobs/{job_id}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobAccepted {
    /// The job to poll.
    pub job_id: JobId,
    /// Always `accepted`.
    pub status: String,
}

/// `GET /me`: the key used, and what it may do now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    /// Which key it is.
    pub key: KeySummary,
    /// Its effective capabilities (its own, clamped by its owner and every
    /// key above it).
    pub caps: CapSet,
    /// The hostings it reaches.
    pub scope: KeyScope,
    /// When it stops working, if ever (the earliest expiry of its chain).
    #[serde(with = "crate::model::timestamp::option")]
    pub expires_at: Option<OffsetDateTime>,
}

/// Who a key is, as `GET /me` names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySummary {
    /// Its public id.
    pub id: KeyId,
    /// The first characters of the raw key.
    pub prefix: String,
    /// The name people know it by.
    pub label: String,
    /// Whose key it is.
    pub owner: OwnerId,
}

/// `GET /keys`: one page of the keys the caller may manage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyPage {
    /// The keys of this page, never a raw key or a hash.
    pub items: Vec<KeyView>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<KeyId>,
    /// How many keys the caller may manage.
    pub total: u64,
}

/// `201` of `POST /keys`: the new key, raw, this once. Its `Debug` shows
/// the key's prefix only.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewKeyAnswer {
    /// The raw key: hand it over once; it is shown nowhere else, ever.
    pub key: String,
    /// The key as `GET /keys/{id}` shows it.
    #[serde(flatten)]
    pub view: KeyView,
}

impl fmt::Debug for NewKeyAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewKeyAnswer")
            .field("key", &format_args!("{}...", self.view.prefix))
            .field("view", &self.view)
            .finish()
    }
}

/// `GET /nodes`: every node and how it is doing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeList {
    /// Every node.
    pub items: Vec<NodeInfo>,
}

/// `GET /hostings/{id}/backups`: newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupList {
    /// The hosting's backups.
    pub items: Vec<Backup>,
}

/// `PATCH /hostings/{id}/php`: the version now set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhpValue {
    /// The PHP version (`None` for a hosting that runs no PHP).
    pub php_version: Option<PhpVersion>,
}

/// `PATCH /hostings/{id}/owner`: the owner now set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerValue {
    /// The panel's customer the hosting belongs to, if any.
    pub owner: Option<OwnerId>,
}

/// `PATCH /hostings/{id}/plan`: the plan now set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanValue {
    /// The plan it is sold on, if any.
    pub plan: Option<PlanName>,
}

/// `PATCH /hostings/{id}/labels`: every label now set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelsValue {
    /// The labels.
    pub labels: Labels,
}

/// `PATCH /hostings/{id}/expiry`: the expiry now set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpiryValue {
    /// When the hosting expires, if ever (RFC 3339).
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}
