//! Faults for any node: [`FaultyNode`] wraps a [`Node`] of yours and makes
//! chosen calls fail, hang, panic or slow down, while the API runs, so a
//! test can see what your panel and its users see when a server misbehaves.
//!
//! ```
//! # async fn example(my_node: std::sync::Arc<dyn hyperion_core::Node>) {
//! use std::time::Duration;
//! use hyperion_testkit::faults::{Fault, FaultyNode, NodeCall};
//!
//! let node = FaultyNode::new(my_node);
//! let faults = node.faults(); // keep this handle; give `node` to the cluster
//! faults.set(NodeCall::Suspend, Fault::Fail);
//! faults.set(NodeCall::FindHosting, Fault::Latency(Duration::from_millis(200)));
//! // ... later, heal everything:
//! faults.clear();
//! # }
//! ```
//!
//! What the API answers for each: a failure is `502 upstream_error` (lists go on
//! without the node and say they are partial), a hang becomes `504` at the
//! cluster's deadline, a panic is `500 internal` and the server goes on.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use hyperion_core::model::{
    Backup, BackupId, Certificate, ConfigChange, HostingDetail, HostingId, HostingSelector,
    HostingState, NewHosting, NodeId, NodeInfo, RenewReport, RestoreMode, SuspendedBy, WpInstall,
};
use hyperion_core::{DeleteOptions, JobProgress, ListQuery, Node, NodeError, NodePage};

/// Each call of the [`Node`] trait, to aim a fault at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NodeCall {
    /// [`Node::info`].
    Info,
    /// [`Node::list_hostings`].
    ListHostings,
    /// [`Node::find_hosting`].
    FindHosting,
    /// [`Node::suspend`].
    Suspend,
    /// [`Node::resume`].
    Resume,
    /// [`Node::delete`].
    Delete,
    /// [`Node::create`].
    Create,
    /// [`Node::system_user_taken`].
    SystemUserTaken,
    /// [`Node::update_config`].
    UpdateConfig,
    /// [`Node::list_backups`].
    ListBackups,
    /// [`Node::backup`].
    Backup,
    /// [`Node::restore`].
    Restore,
    /// [`Node::issue_certificate`].
    IssueCertificate,
    /// [`Node::install_wordpress`].
    InstallWordPress,
    /// [`Node::renew_certificates`].
    RenewCertificates,
}

/// What happens to a call a fault is aimed at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// It fails with [`NodeError::Unavailable`] without reaching your node.
    Fail,
    /// It never answers (until the caller's deadline gives up on it).
    Hang,
    /// It panics, as a bug in a node would.
    Panic,
    /// It waits this long, then reaches your node.
    Latency(Duration),
}

/// The faults in force, shared between a [`FaultyNode`] and the test that
/// steers it; changes apply to the next call.
#[derive(Debug, Default)]
pub struct Faults {
    aimed: Mutex<FaultTable>,
    calls: Mutex<HashMap<NodeCall, u64>>,
    injected: AtomicU64,
}

#[derive(Debug, Default)]
struct FaultTable {
    every_call: Option<Fault>,
    by_call: HashMap<NodeCall, Fault>,
}

impl Faults {
    /// Aims `fault` at every `call` from now on (replacing one aimed before).
    pub fn set(&self, call: NodeCall, fault: Fault) {
        self.table().by_call.insert(call, fault);
    }

    /// Aims `fault` at every call of every kind (a call's own fault, if set,
    /// wins).
    pub fn set_all(&self, fault: Fault) {
        self.table().every_call = Some(fault);
    }

    /// Lifts the fault aimed at `call`.
    pub fn unset(&self, call: NodeCall) {
        self.table().by_call.remove(&call);
    }

    /// Lifts every fault: the node behaves again.
    pub fn clear(&self) {
        *self.table() = FaultTable::default();
    }

    /// How many `call`s reached the wrapper so far (faulty or not).
    pub fn calls(&self, call: NodeCall) -> u64 {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&call)
            .copied()
            .unwrap_or(0)
    }

    /// How many calls a fault other than latency stopped so far.
    pub fn injected(&self) -> u64 {
        self.injected.load(Ordering::Relaxed)
    }

    fn table(&self) -> std::sync::MutexGuard<'_, FaultTable> {
        self.aimed.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a fault is aimed at what a node's revision vouches for (its
    /// lists and look-ups).
    fn aimed_at_reads(&self) -> bool {
        let table = self.table();
        table.every_call.is_some()
            || [NodeCall::ListHostings, NodeCall::FindHosting]
                .iter()
                .any(|call| table.by_call.contains_key(call))
    }

    fn fault_for(&self, call: NodeCall) -> Option<Fault> {
        *self
            .calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(call)
            .or_default() += 1;
        let table = self.table();
        table.by_call.get(&call).copied().or(table.every_call)
    }
}

/// A [`Node`] that passes every call to the node it wraps, except those a
/// fault is aimed at (see [`Faults`]).
pub struct FaultyNode {
    inner: Arc<dyn Node>,
    faults: Arc<Faults>,
}

impl FaultyNode {
    /// Wraps `inner`, with no fault aimed yet.
    pub fn new(inner: Arc<dyn Node>) -> Self {
        FaultyNode {
            inner,
            faults: Arc::default(),
        }
    }

    /// The handle that steers this node's faults while it runs.
    pub fn faults(&self) -> Arc<Faults> {
        Arc::clone(&self.faults)
    }

    /// Applies the fault aimed at `call`, if any: `Ok` lets the call through.
    async fn before(&self, call: NodeCall) -> Result<(), NodeError> {
        match self.faults.fault_for(call) {
            None => Ok(()),
            Some(Fault::Latency(delay)) => {
                tokio::time::sleep(delay).await;
                Ok(())
            }
            Some(Fault::Fail) => {
                self.faults.injected.fetch_add(1, Ordering::Relaxed);
                Err(NodeError::Unavailable {
                    node: self.inner.id().clone(),
                    reason: format!("injected failure of {call:?}"),
                })
            }
            Some(Fault::Hang) => {
                self.faults.injected.fetch_add(1, Ordering::Relaxed);
                std::future::pending().await
            }
            Some(Fault::Panic) => {
                self.faults.injected.fetch_add(1, Ordering::Relaxed);
                panic!("injected panic in {call:?} of node {}", self.inner.id())
            }
        }
    }
}

#[async_trait]
impl Node for FaultyNode {
    fn id(&self) -> &NodeId {
        self.inner.id()
    }

    /// The wrapped node's, while no fault is aimed at its lists or
    /// look-ups; with one aimed, `None`, so that the API asks the node (and
    /// meets the fault) instead of answering from a page it rendered before.
    fn revision(&self) -> Option<u64> {
        if self.faults.aimed_at_reads() {
            None
        } else {
            self.inner.revision()
        }
    }

    async fn info(&self) -> Result<NodeInfo, NodeError> {
        self.before(NodeCall::Info).await?;
        self.inner.info().await
    }

    async fn list_hostings(&self, query: &ListQuery) -> Result<NodePage, NodeError> {
        self.before(NodeCall::ListHostings).await?;
        self.inner.list_hostings(query).await
    }

    async fn find_hosting(
        &self,
        selector: &HostingSelector,
    ) -> Result<Option<Arc<HostingDetail>>, NodeError> {
        self.before(NodeCall::FindHosting).await?;
        self.inner.find_hosting(selector).await
    }

    async fn suspend(&self, id: &HostingId, by: SuspendedBy) -> Result<HostingState, NodeError> {
        self.before(NodeCall::Suspend).await?;
        self.inner.suspend(id, by).await
    }

    async fn resume(&self, id: &HostingId) -> Result<HostingState, NodeError> {
        self.before(NodeCall::Resume).await?;
        self.inner.resume(id).await
    }

    async fn delete(&self, id: &HostingId, options: DeleteOptions) -> Result<(), NodeError> {
        self.before(NodeCall::Delete).await?;
        self.inner.delete(id, options).await
    }

    async fn create(&self, hosting: &NewHosting) -> Result<HostingDetail, NodeError> {
        self.before(NodeCall::Create).await?;
        self.inner.create(hosting).await
    }

    async fn system_user_taken(&self, user: &str) -> Result<bool, NodeError> {
        self.before(NodeCall::SystemUserTaken).await?;
        self.inner.system_user_taken(user).await
    }

    async fn update_config(
        &self,
        id: &HostingId,
        change: &ConfigChange,
    ) -> Result<HostingDetail, NodeError> {
        self.before(NodeCall::UpdateConfig).await?;
        self.inner.update_config(id, change).await
    }

    async fn list_backups(&self, id: &HostingId) -> Result<Vec<Backup>, NodeError> {
        self.before(NodeCall::ListBackups).await?;
        self.inner.list_backups(id).await
    }

    async fn backup(&self, id: &HostingId, progress: &JobProgress) -> Result<Backup, NodeError> {
        self.before(NodeCall::Backup).await?;
        self.inner.backup(id, progress).await
    }

    async fn restore(
        &self,
        id: &HostingId,
        backup: &BackupId,
        mode: RestoreMode,
        progress: &JobProgress,
    ) -> Result<(), NodeError> {
        self.before(NodeCall::Restore).await?;
        self.inner.restore(id, backup, mode, progress).await
    }

    async fn issue_certificate(
        &self,
        id: &HostingId,
        staging: bool,
        progress: &JobProgress,
    ) -> Result<Certificate, NodeError> {
        self.before(NodeCall::IssueCertificate).await?;
        self.inner.issue_certificate(id, staging, progress).await
    }

    async fn install_wordpress(
        &self,
        id: &HostingId,
        install: &WpInstall,
        progress: &JobProgress,
    ) -> Result<(), NodeError> {
        self.before(NodeCall::InstallWordPress).await?;
        self.inner.install_wordpress(id, install, progress).await
    }

    async fn renew_certificates(&self, progress: &JobProgress) -> Result<RenewReport, NodeError> {
        self.before(NodeCall::RenewCertificates).await?;
        self.inner.renew_certificates(progress).await
    }
}
