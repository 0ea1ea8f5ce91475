//! The `Node` trait: one enrolled server that runs hostings. Integrators
//! implement it over whatever agent their servers run; [`crate::sim`] has a
//! simulated one.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;

use crate::jobs::JobProgress;
use crate::model::{
    Backup, BackupId, Certificate, ConfigChange, Hosting, HostingDetail, HostingId,
    HostingSelector, HostingState, LabelSelector, NewHosting, NodeId, NodeInfo, OwnerId, PlanName,
    RenewReport, RestoreMode, SuspendedBy, WpInstall,
};

/// What a node call can fail with; each maps to one API error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// The node does not hold that hosting.
    #[error("not found")]
    NotFound,
    /// The operation collides with the hosting's state.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The node refused a value.
    #[error("invalid: {0}")]
    Validation(String),
    /// The node could not be reached or failed.
    #[error("node {node} unavailable: {reason}")]
    Unavailable {
        /// Which node.
        node: NodeId,
        /// Why, in the node's words (the audit log keeps them; tenants
        /// never see them).
        reason: String,
    },
    /// The node did not answer within the deadline.
    #[error("node {node} timed out")]
    Timeout {
        /// Which node.
        node: NodeId,
    },
    /// The node does not implement this operation.
    #[error("not supported by this node: {0}")]
    Unsupported(String),
    /// Anything else the node reported.
    #[error("{0}")]
    Other(String),
}

/// A page request pushed down to one node: the node filters, orders by id
/// and cuts the page itself, so no one ever pulls every hosting.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListQuery {
    /// Only hostings with an id greater than this (keyset cursor).
    pub after: Option<HostingId>,
    /// Page size; the node returns up to `limit + 1` items so the caller can
    /// tell whether another page exists.
    pub limit: usize,
    /// Only hostings in this state.
    pub state: Option<HostingState>,
    /// Only hostings whose domain contains this (lowercase) text.
    pub domain_contains: Option<String>,
    /// Only these hostings (a tenant key's grants); `None` means no restriction.
    pub only: Option<Arc<BTreeSet<HostingId>>>,
    /// Only hostings of this owner (a key scoped to an owner); `None`
    /// means no restriction. Applies on top of [`ListQuery::owner`].
    pub only_owner: Option<OwnerId>,
    /// Only hostings of this owner (a filter the client asked for).
    pub owner: Option<OwnerId>,
    /// Only hostings on this plan.
    pub plan: Option<PlanName>,
    /// Only hostings carrying every one of these labels.
    pub labels: Vec<LabelSelector>,
}

impl ListQuery {
    /// The one owner every matching hosting has, when the filters and
    /// the scope name one (`Some(None)`: they name two, so none matches).
    /// A node that keeps its hostings indexed by owner walks that index.
    pub fn owner_wanted(&self) -> Option<Option<&OwnerId>> {
        match (&self.only_owner, &self.owner) {
            (Some(scope), Some(asked)) => Some((scope == asked).then_some(scope)),
            (Some(one), None) | (None, Some(one)) => Some(Some(one)),
            (None, None) => None,
        }
    }

    /// Whether `hosting` passes the filters (not the cursor).
    pub fn matches(&self, hosting: &Hosting) -> bool {
        self.owner_wanted()
            .is_none_or(|owner| owner.is_some() && hosting.owner.as_ref() == owner)
            && self
                .plan
                .as_ref()
                .is_none_or(|plan| hosting.plan.as_ref() == Some(plan))
            && hosting.labels.match_all(&self.labels)
            && self.state.is_none_or(|state| hosting.state == state)
            && self
                .domain_contains
                .as_deref()
                .is_none_or(|q| hosting.domain.as_str().contains(q))
            && self
                .only
                .as_ref()
                .is_none_or(|only| only.contains(&hosting.id))
    }

    /// Whether `hosting` comes after the cursor.
    pub fn is_after_cursor(&self, hosting: &Hosting) -> bool {
        self.after.as_ref().is_none_or(|after| hosting.id > *after)
    }

    /// The whole answer to this query over `hostings`, given in any order:
    /// the matching ones after the cursor, in id order, at most `limit + 1`
    /// of them, and how many match in all. A node over any store answers a
    /// page correctly with this one call; one that keeps its hostings
    /// indexed by id can use [`ListQuery::page_in_id_order`] instead.
    pub fn page<'a>(&self, hostings: impl IntoIterator<Item = &'a Hosting>) -> NodePage {
        let mut matching: Vec<&Hosting> = hostings
            .into_iter()
            .filter(|hosting| self.matches(hosting))
            .collect();
        let total = matching.len() as u64;
        matching.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        let from = matching.partition_point(|hosting| !self.is_after_cursor(hosting));
        self.page_in_id_order(matching[from..].iter().copied(), total)
    }

    /// The answer for a node that can walk its hostings in id order from
    /// the cursor on (`from_cursor`: ids greater than [`ListQuery::after`],
    /// ascending, not yet filtered) and counts the matches itself (`total`,
    /// ignoring the cursor): the filters are applied here, and the walk
    /// stops after `limit + 1` matches.
    pub fn page_in_id_order<'a>(
        &self,
        from_cursor: impl IntoIterator<Item = &'a Hosting>,
        total: u64,
    ) -> NodePage {
        let items = from_cursor
            .into_iter()
            .filter(|hosting| self.matches(hosting))
            .take(self.limit.saturating_add(1))
            .cloned()
            .collect();
        NodePage { items, total }
    }
}

/// One node's answer to a [`ListQuery`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodePage {
    /// At most `limit + 1` hostings after the cursor, in id order.
    pub items: Vec<Hosting>,
    /// How many hostings on this node match the filters (ignoring the cursor).
    pub total: u64,
}

/// Options of a delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeleteOptions {
    /// Keep the system user.
    pub keep_user: bool,
    /// Keep the database.
    pub keep_database: bool,
}

/// One enrolled server. Every method is called with canonical ids: the core
/// resolves domains before it asks a node to change anything.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait Node: Send + Sync {
    /// Its id (constant).
    fn id(&self) -> &NodeId;
    /// A number that changes whenever anything [`Node::list_hostings`] or
    /// [`Node::find_hosting`] would answer changes (a hosting created,
    /// changed or removed, through the API or not), and stays the same
    /// otherwise; `None` when the node cannot vouch for one now (it keeps
    /// no such number, or has not heard from its server lately). While every
    /// node asked for a page vouches for an unchanged number, the API answers
    /// that page from the bytes it rendered last, without asking the nodes
    /// again. Called on every list request: it must not wait. Default: `None`.
    fn revision(&self) -> Option<u64> {
        None
    }
    /// Its current description.
    async fn info(&self) -> Result<NodeInfo, NodeError>;
    /// A page of its hostings, see [`ListQuery`].
    async fn list_hostings(&self, query: &ListQuery) -> Result<NodePage, NodeError>;
    /// The hosting with this id or domain (primary or alias), if it holds it.
    /// Shared: a node that keeps its hostings in memory can hand out the
    /// same `Arc` until the hosting changes, which spares a copy per read
    /// and lets the API reuse the bytes it rendered from it (it compares
    /// what it gets with what it rendered, so a fresh `Arc` is correct too).
    async fn find_hosting(
        &self,
        selector: &HostingSelector,
    ) -> Result<Option<Arc<HostingDetail>>, NodeError>;
    /// Suspends an active hosting and records `by` as its
    /// [`HostingDetail::suspended_by`]; returns the new state. Called on a
    /// suspended hosting only to raise a tenant's suspension to the
    /// operator's, which the node must then record.
    async fn suspend(&self, id: &HostingId, by: SuspendedBy) -> Result<HostingState, NodeError>;
    /// Resumes a suspended hosting; returns the new state.
    async fn resume(&self, id: &HostingId) -> Result<HostingState, NodeError>;
    /// Removes a hosting (slow: runs inside a job).
    async fn delete(&self, id: &HostingId, options: DeleteOptions) -> Result<(), NodeError>;

    // Provisioning and operations. Each has a default that answers
    // `Unsupported`, so a node can grow into them; the API answers 502 then.

    /// Creates a hosting with the id the core chose; answers its detail.
    async fn create(&self, hosting: &NewHosting) -> Result<HostingDetail, NodeError> {
        let _ = hosting;
        Err(NodeError::Unsupported("create".to_owned()))
    }

    /// Whether a hosting on this node already runs as the system user
    /// `user`: the core keeps system users unique across the cluster. The
    /// default answers `false`; such a node's own `create` must still refuse
    /// a user it already has.
    async fn system_user_taken(&self, user: &str) -> Result<bool, NodeError> {
        let _ = user;
        Ok(false)
    }

    /// Applies one configuration change (the complete new value); answers the new detail.
    async fn update_config(
        &self,
        id: &HostingId,
        change: &ConfigChange,
    ) -> Result<HostingDetail, NodeError> {
        let _ = (id, change);
        Err(NodeError::Unsupported("configuration changes".to_owned()))
    }

    /// The hosting's backups, newest first.
    async fn list_backups(&self, id: &HostingId) -> Result<Vec<Backup>, NodeError> {
        let _ = id;
        Err(NodeError::Unsupported("backups".to_owned()))
    }

    /// Takes a backup (slow: runs inside a job).
    async fn backup(&self, id: &HostingId, progress: &JobProgress) -> Result<Backup, NodeError> {
        let _ = (id, progress);
        Err(NodeError::Unsupported("backups".to_owned()))
    }

    /// Restores a backup (slow: runs inside a job).
    async fn restore(
        &self,
        id: &HostingId,
        backup: &BackupId,
        mode: RestoreMode,
        progress: &JobProgress,
    ) -> Result<(), NodeError> {
        let _ = (id, backup, mode, progress);
        Err(NodeError::Unsupported("restores".to_owned()))
    }

    /// Issues (or re-issues) the hosting's certificate (slow: runs inside a job).
    async fn issue_certificate(
        &self,
        id: &HostingId,
        staging: bool,
        progress: &JobProgress,
    ) -> Result<Certificate, NodeError> {
        let _ = (id, staging, progress);
        Err(NodeError::Unsupported("certificates".to_owned()))
    }

    /// Installs WordPress (slow: runs inside a job). The password is in
    /// `install.admin_password`; never log it.
    async fn install_wordpress(
        &self,
        id: &HostingId,
        install: &WpInstall,
        progress: &JobProgress,
    ) -> Result<(), NodeError> {
        let _ = (id, install, progress);
        Err(NodeError::Unsupported("WordPress installs".to_owned()))
    }

    /// Renews every certificate due on this node (slow: runs inside a job).
    async fn renew_certificates(&self, progress: &JobProgress) -> Result<RenewReport, NodeError> {
        let _ = progress;
        Err(NodeError::Unsupported("certificate renewal".to_owned()))
    }
}
