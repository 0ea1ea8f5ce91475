//! A `Node` over the panel's own records: here a map held in memory, where
//! a real panel would ask the agent on each server. It passes the kit's
//! Node contract suite (`tests/node_contract.rs`).

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use hyperion::model::{
    HostingDetail, HostingId, HostingSelector, HostingState, NewHosting, NodeId, NodeInfo,
    NodeStatus, SuspendedBy,
};
use hyperion::{DeleteOptions, ListQuery, Node, NodeError, NodePage};

/// One server's hostings, keyed (and so ordered) by id.
pub struct MapNode {
    id: NodeId,
    hostings: Mutex<BTreeMap<HostingId, HostingDetail>>,
}

impl MapNode {
    /// A node holding `hostings`.
    pub fn new(id: NodeId, hostings: impl IntoIterator<Item = HostingDetail>) -> Self {
        let hostings = hostings
            .into_iter()
            .map(|hosting| (hosting.summary.id.clone(), hosting))
            .collect();
        MapNode {
            id,
            hostings: Mutex::new(hostings),
        }
    }

    fn hostings(&self) -> MutexGuard<'_, BTreeMap<HostingId, HostingDetail>> {
        self.hostings.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes the hosting `id`, or answers `NotFound`.
    fn change<T>(
        &self,
        id: &HostingId,
        change: impl FnOnce(&mut HostingDetail) -> T,
    ) -> Result<T, NodeError> {
        self.hostings()
            .get_mut(id)
            .map(change)
            .ok_or(NodeError::NotFound)
    }
}

#[async_trait]
impl Node for MapNode {
    fn id(&self) -> &NodeId {
        &self.id
    }

    async fn info(&self) -> Result<NodeInfo, NodeError> {
        Ok(NodeInfo {
            id: self.id.clone(),
            hostname: format!("{}.panel.internal", self.id),
            status: NodeStatus::Online,
            hostings: self.hostings().len() as u64,
            draining: false,
        })
    }

    async fn list_hostings(&self, query: &ListQuery) -> Result<NodePage, NodeError> {
        let hostings = self.hostings();
        // Kept in id order already: walk from the cursor, let the kit
        // filter and cut the page; count the matches for the total.
        let total = hostings
            .values()
            .filter(|hosting| query.matches(&hosting.summary))
            .count() as u64;
        let from = query
            .after
            .as_ref()
            .map_or(Bound::Unbounded, Bound::Excluded);
        let from_cursor = hostings
            .range((from, Bound::Unbounded))
            .map(|(_, hosting)| &hosting.summary);
        Ok(query.page_in_id_order(from_cursor, total))
    }

    async fn find_hosting(
        &self,
        selector: &HostingSelector,
    ) -> Result<Option<Arc<HostingDetail>>, NodeError> {
        let hostings = self.hostings();
        let found = match selector {
            HostingSelector::Id(id) => hostings.get(id),
            HostingSelector::Domain(domain) => {
                hostings.values().find(|hosting| hosting.answers_to(domain))
            }
        };
        Ok(found.cloned().map(Arc::new))
    }

    async fn suspend(&self, id: &HostingId, by: SuspendedBy) -> Result<HostingState, NodeError> {
        self.change(id, |hosting| {
            hosting.summary.state = HostingState::Suspended;
            // An operator's suspension is never lowered to a tenant's.
            if hosting.suspended_by != Some(SuspendedBy::Operator) {
                hosting.suspended_by = Some(by);
            }
            HostingState::Suspended
        })
    }

    async fn resume(&self, id: &HostingId) -> Result<HostingState, NodeError> {
        self.change(id, |hosting| {
            hosting.summary.state = HostingState::Active;
            hosting.suspended_by = None;
            HostingState::Active
        })
    }

    async fn delete(&self, id: &HostingId, _options: DeleteOptions) -> Result<(), NodeError> {
        self.hostings()
            .remove(id)
            .map(|_| ())
            .ok_or(NodeError::NotFound)
    }

    async fn create(&self, new: &NewHosting) -> Result<HostingDetail, NodeError> {
        let mut hostings = self.hostings();
        let names = || std::iter::once(&new.domain).chain(&new.aliases);
        if let Some(taken) = names().find(|name| hostings.values().any(|h| h.answers_to(name))) {
            return Err(NodeError::Conflict(format!(
                "{taken} is already served here"
            )));
        }
        let detail = new.created_on(&self.id, format!("/srv/{}", new.domain));
        hostings.insert(new.id.clone(), detail.clone());
        Ok(detail)
    }
}
