//! A simulated node and cluster: in memory, deterministic for a seed, with
//! optional latency and fault injection. For examples, tests and benches: no
//! real server, no root, no network.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::macros::datetime;

use crate::model::{
    Domain, Hosting, HostingDetail, HostingId, HostingKind, HostingSelector, HostingState, Limits,
    NodeId, NodeInfo, NodeStatus, PhpVersion, VhostOptions,
};
use crate::node::{DeleteOptions, ListQuery, Node, NodeError, NodePage};

/// How a simulated node misbehaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum SimFault {
    /// It answers normally.
    None = 0,
    /// Every call fails with [`NodeError::Unavailable`].
    Fail = 1,
    /// No call ever answers.
    Hang = 2,
}

#[derive(Default)]
struct SimState {
    hostings: BTreeMap<HostingId, HostingDetail>,
    by_domain: HashMap<Domain, HostingId>,
    draining: bool,
}

impl SimState {
    fn insert(&mut self, hosting: HostingDetail) {
        let id = hosting.summary.id.clone();
        self.by_domain
            .insert(hosting.summary.domain.clone(), id.clone());
        for alias in &hosting.aliases {
            self.by_domain.insert(alias.clone(), id.clone());
        }
        self.hostings.insert(id, hosting);
    }

    fn remove(&mut self, id: &HostingId) -> Option<HostingDetail> {
        let hosting = self.hostings.remove(id)?;
        self.by_domain.remove(&hosting.summary.domain);
        for alias in &hosting.aliases {
            self.by_domain.remove(alias);
        }
        Some(hosting)
    }
}

/// One simulated server: hostings indexed by id and by domain.
pub struct SimNode {
    id: NodeId,
    latency: Duration,
    fault: AtomicU8,
    state: RwLock<SimState>,
}

impl SimNode {
    /// An empty node answering after `latency`.
    pub fn new(id: NodeId, latency: Duration) -> Self {
        SimNode {
            id,
            latency,
            fault: AtomicU8::new(SimFault::None as u8),
            state: RwLock::default(),
        }
    }

    /// Adds (or replaces) a hosting.
    pub fn insert(&self, hosting: HostingDetail) {
        self.state
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(hosting);
    }

    /// How many hostings it holds.
    pub fn len(&self) -> usize {
        self.state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .hostings
            .len()
    }

    /// Whether it holds no hosting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Makes it misbehave (or behave again).
    pub fn set_fault(&self, fault: SimFault) {
        self.fault.store(fault as u8, Ordering::Relaxed);
    }

    /// Marks it draining (it takes no new hostings).
    pub fn set_draining(&self, draining: bool) {
        self.state
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .draining = draining;
    }

    /// Waits the simulated latency, then fails or hangs as configured.
    async fn answer(&self) -> Result<(), NodeError> {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        match self.fault.load(Ordering::Relaxed) {
            f if f == SimFault::Fail as u8 => Err(NodeError::Unavailable {
                node: self.id.clone(),
                reason: "simulated failure".to_owned(),
            }),
            f if f == SimFault::Hang as u8 => std::future::pending().await,
            _ => Ok(()),
        }
    }

    fn read<T>(&self, f: impl FnOnce(&SimState) -> T) -> T {
        f(&self.state.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn write<T>(&self, f: impl FnOnce(&mut SimState) -> T) -> T {
        f(&mut self.state.write().unwrap_or_else(PoisonError::into_inner))
    }

    fn transition(
        &self,
        id: &HostingId,
        from: HostingState,
        to: HostingState,
    ) -> Result<HostingState, NodeError> {
        self.write(|state| {
            let hosting = state.hostings.get_mut(id).ok_or(NodeError::NotFound)?;
            match hosting.summary.state {
                current if current == to => Ok(to),
                current if current == from => {
                    hosting.summary.state = to;
                    Ok(to)
                }
                current => Err(NodeError::Conflict(format!(
                    "hosting is {current}, not {from}"
                ))),
            }
        })
    }
}

#[async_trait]
impl Node for SimNode {
    fn id(&self) -> &NodeId {
        &self.id
    }

    async fn info(&self) -> Result<NodeInfo, NodeError> {
        self.answer().await?;
        Ok(self.read(|state| NodeInfo {
            id: self.id.clone(),
            hostname: format!("{}.sim.invalid", self.id),
            status: NodeStatus::Online,
            hostings: state.hostings.len() as u64,
            draining: state.draining,
        }))
    }

    async fn list_hostings(&self, query: &ListQuery) -> Result<NodePage, NodeError> {
        self.answer().await?;
        Ok(self.read(|state| {
            let lower = query
                .after
                .as_ref()
                .map_or(Bound::Unbounded, Bound::Excluded);
            let items = state
                .hostings
                .range((lower, Bound::Unbounded))
                .map(|(_, h)| &h.summary)
                .filter(|h| query.matches(h))
                .take(query.limit + 1)
                .cloned()
                .collect();
            let total = state
                .hostings
                .values()
                .filter(|h| query.matches(&h.summary))
                .count() as u64;
            NodePage { items, total }
        }))
    }

    async fn find_hosting(
        &self,
        selector: &HostingSelector,
    ) -> Result<Option<HostingDetail>, NodeError> {
        self.answer().await?;
        Ok(self.read(|state| {
            let id = match selector {
                HostingSelector::Id(id) => id,
                HostingSelector::Domain(domain) => state.by_domain.get(domain)?,
            };
            state.hostings.get(id).cloned()
        }))
    }

    async fn suspend(&self, id: &HostingId) -> Result<HostingState, NodeError> {
        self.answer().await?;
        self.transition(id, HostingState::Active, HostingState::Suspended)
    }

    async fn resume(&self, id: &HostingId) -> Result<HostingState, NodeError> {
        self.answer().await?;
        self.transition(id, HostingState::Suspended, HostingState::Active)
    }

    async fn delete(&self, id: &HostingId, _options: DeleteOptions) -> Result<(), NodeError> {
        self.answer().await?;
        self.write(|state| {
            let hosting = state.hostings.get_mut(id).ok_or(NodeError::NotFound)?;
            hosting.summary.state = HostingState::Deleting;
            Ok(())
        })?;
        // The second half of the work: a real node removes files, users, databases here.
        self.answer().await?;
        self.write(|state| state.remove(id))
            .map(|_| ())
            .ok_or(NodeError::NotFound)
    }
}

/// What to simulate: same spec, same hostings with the same ids, every time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimClusterSpec {
    /// Seed of the hosting ids.
    pub seed: u64,
    /// Number of nodes, named `node-1` .. `node-K`.
    pub nodes: usize,
    /// Number of hostings, spread round-robin, domains `site-0001.example.test` ...
    pub hostings: usize,
    /// Latency of every node call.
    pub latency: Duration,
}

impl Default for SimClusterSpec {
    fn default() -> Self {
        SimClusterSpec {
            seed: 1,
            nodes: 3,
            hostings: 30,
            latency: Duration::ZERO,
        }
    }
}

const SIM_EPOCH: OffsetDateTime = datetime!(2026-01-01 00:00:00 UTC);

impl SimClusterSpec {
    /// The id of hosting number `index`: 16 hex digits derived from the seed.
    pub fn hosting_id(&self, index: usize) -> HostingId {
        let digest = Sha256::new()
            .chain_update(self.seed.to_be_bytes())
            .chain_update((index as u64).to_be_bytes())
            .finalize();
        let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        format!("h{hex}").parse().expect("hex ids are valid")
    }

    /// The full description of hosting number `index` on `node`.
    pub fn hosting(&self, index: usize, node: &NodeId) -> HostingDetail {
        let number = index + 1;
        let domain: Domain = format!("site-{number:04}.example.test")
            .parse()
            .expect("generated domains are valid");
        let state = if index % 10 == 3 {
            HostingState::Suspended
        } else {
            HostingState::Active
        };
        let php = PhpVersion::ALL[index % PhpVersion::ALL.len()];
        HostingDetail {
            summary: Hosting {
                id: self.hosting_id(index),
                domain: domain.clone(),
                state,
                php_version: Some(php),
                node_id: node.clone(),
                created_at: SIM_EPOCH + time::Duration::hours(index as i64),
            },
            kind: HostingKind::Php,
            aliases: vec![format!("www.{domain}").parse().expect("valid alias")],
            system_user: format!("site{number:04}"),
            root_dir: format!("/var/www/{domain}/public"),
            limits: Limits::default(),
            vhost: VhostOptions::default(),
            expires_at: None,
        }
    }

    /// Builds the nodes with their hostings.
    pub fn build(&self) -> Vec<Arc<SimNode>> {
        let nodes: Vec<Arc<SimNode>> = (1..=self.nodes.max(1))
            .map(|n| {
                let id = format!("node-{n}").parse().expect("valid node id");
                Arc::new(SimNode::new(id, self.latency))
            })
            .collect();
        for index in 0..self.hostings {
            let node = &nodes[index % nodes.len()];
            node.insert(self.hosting(index, node.id()));
        }
        nodes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_spec_same_hostings() {
        let spec = SimClusterSpec::default();
        let a = spec.build();
        let b = spec.build();
        assert_eq!(a.len(), 3);
        assert_eq!(a.iter().map(|n| n.len()).sum::<usize>(), 30);
        assert_eq!(spec.hosting_id(7), SimClusterSpec::default().hosting_id(7));
        assert_ne!(
            spec.hosting_id(7),
            SimClusterSpec { seed: 2, ..spec }.hosting_id(7)
        );
        assert_eq!(a[0].len(), b[0].len());
    }

    #[tokio::test]
    async fn lists_in_id_order_after_the_cursor_with_filters() {
        let node = SimClusterSpec {
            nodes: 1,
            ..Default::default()
        }
        .build()
        .remove(0);
        let all = node
            .list_hostings(&ListQuery {
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(all.total, 30);
        assert!(all.items.windows(2).all(|w| w[0].id < w[1].id));
        let after = all.items[9].id.clone();
        let page = node
            .list_hostings(&ListQuery {
                after: Some(after.clone()),
                limit: 5,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(page.items.len(), 6);
        assert_eq!(page.items[0].id, all.items[10].id);
        assert_eq!(page.total, 30);
        let suspended = node
            .list_hostings(&ListQuery {
                limit: 100,
                state: Some(HostingState::Suspended),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(suspended.total, 3);
    }

    #[tokio::test]
    async fn finds_by_alias_and_transitions_states() {
        let node = SimClusterSpec {
            nodes: 1,
            ..Default::default()
        }
        .build()
        .remove(0);
        let alias = HostingSelector::Domain("www.site-0001.example.test".parse().unwrap());
        let found = node.find_hosting(&alias).await.unwrap().unwrap();
        let id = found.summary.id;
        assert_eq!(node.suspend(&id).await, Ok(HostingState::Suspended));
        assert_eq!(node.suspend(&id).await, Ok(HostingState::Suspended));
        assert_eq!(node.resume(&id).await, Ok(HostingState::Active));
        node.delete(&id, DeleteOptions::default()).await.unwrap();
        assert_eq!(node.find_hosting(&alias).await, Ok(None));
        assert_eq!(node.suspend(&id).await, Err(NodeError::NotFound));
    }
}
