//! The cluster: every enrolled node, asked concurrently and never one after
//! another, each call bounded by a deadline.

mod locator;
mod placement;

pub use placement::{FewestHostings, PlacementStrategy};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use futures::stream::{FuturesUnordered, StreamExt};

use crate::error::ApiError;
use crate::model::{
    Hosting, HostingDetail, HostingId, HostingSelector, NodeId, NodeInfo, NodeStatus, OwnerId,
};
use crate::node::{ListQuery, Node, NodeError};
use locator::Locator;

/// How long a node may take to answer one call unless configured otherwise.
pub(crate) const DEFAULT_NODE_DEADLINE: Duration = Duration::from_secs(10);

/// A hosting and the node that holds it.
#[derive(Clone)]
pub struct Located {
    /// The node that answered for it.
    pub node: Arc<dyn Node>,
    /// What the node said about it.
    pub hosting: Arc<HostingDetail>,
}

/// One page of the cluster-wide hosting list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterPage {
    /// At most `limit` hostings, in id order.
    pub items: Vec<Hosting>,
    /// Where the next page starts, if there is one.
    pub next_cursor: Option<HostingId>,
    /// How many hostings match, over every node that answered.
    pub total: u64,
    /// Nodes that failed or timed out; their hostings are missing from the page.
    pub unavailable: Vec<(NodeId, NodeError)>,
}

/// The set of nodes.
#[derive(Clone)]
pub struct Cluster {
    nodes: Vec<Arc<dyn Node>>,
    by_id: Arc<HashMap<NodeId, usize>>,
    deadline: Duration,
    max_in_flight: usize,
    locator: Arc<Locator>,
}

/// How many node calls one request makes at once unless configured otherwise.
pub(crate) const DEFAULT_MAX_IN_FLIGHT: usize = 64;

impl Cluster {
    /// A cluster of `nodes`, each call bounded by a deadline of 10 seconds
    /// (see [`Cluster::with_deadline`]).
    pub fn new(nodes: Vec<Arc<dyn Node>>) -> Self {
        let by_id = nodes
            .iter()
            .enumerate()
            .map(|(index, node)| (node.id().clone(), index))
            .collect();
        Cluster {
            nodes,
            by_id: Arc::new(by_id),
            deadline: DEFAULT_NODE_DEADLINE,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            locator: Arc::default(),
        }
    }

    /// Sets how many node calls one request makes at once (at least 1).
    #[must_use]
    pub fn with_max_in_flight(mut self, max_in_flight: usize) -> Self {
        self.max_in_flight = max_in_flight.max(1);
        self
    }

    /// Where the cluster believes hostings live.
    pub fn locator(&self) -> &Locator {
        &self.locator
    }

    /// Sets the deadline of every node call.
    #[must_use]
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Every node, in enrolment order.
    pub fn nodes(&self) -> &[Arc<dyn Node>] {
        &self.nodes
    }

    /// The node with id `id`.
    pub fn node(&self, id: &NodeId) -> Option<&Arc<dyn Node>> {
        self.by_id.get(id).map(|index| &self.nodes[*index])
    }

    /// Runs one call to `node` under the deadline.
    pub async fn call<T>(
        &self,
        node: &dyn Node,
        call: impl Future<Output = Result<T, NodeError>>,
    ) -> Result<T, NodeError> {
        // A node that answers at once (from memory) needs no timer: the
        // deadline is armed only when the call has to wait.
        let mut call = std::pin::pin!(call);
        if let Some(answer) = futures::FutureExt::now_or_never(call.as_mut()) {
            return answer;
        }
        match tokio::time::timeout(self.deadline, call).await {
            Ok(result) => result,
            Err(_) => Err(NodeError::Timeout {
                node: node.id().clone(),
            }),
        }
    }

    /// Finds the hosting `selector` names. A hosting whose node is known
    /// costs one call to that node; otherwise every node is asked at once
    /// (at most `max_in_flight` calls in flight) and the first that holds it
    /// answers. When no node holds it but some node failed, that failure is
    /// the answer (a down node is not a 404).
    pub async fn locate(&self, selector: &HostingSelector) -> Result<Located, ApiError> {
        self.locate_visible(selector, &|_, _| true).await
    }

    /// [`Cluster::locate`] for a caller who may see only some hostings (by
    /// id and owner): only a hosting `visible` admits is answered as soon as
    /// it is found.
    /// One it does not admit is answered once every node has answered (or
    /// run out of time), as a name that exists nowhere is, so that how long
    /// the answer takes never tells that the name exists elsewhere.
    pub async fn locate_visible(
        &self,
        selector: &HostingSelector,
        visible: &(dyn Fn(&HostingId, Option<&OwnerId>) -> bool + Sync),
    ) -> Result<Located, ApiError> {
        // Only a hosting the caller may see is asked for where it is known
        // to be: any other name takes the round of every node, as a name
        // that exists nowhere does.
        // (Whose a hosting is, as last seen: an owner's scope goes to the
        // node only for what was its owner's; the node's answer decides.)
        let known = self
            .locator
            .known(selector)
            .filter(|(id, _, owner)| visible(id, owner.as_ref()))
            .and_then(|(_, node, _)| self.node(&node));
        if let Some(node) = known {
            match self.call(node.as_ref(), node.find_hosting(selector)).await {
                Ok(Some(hosting))
                    if visible(&hosting.summary.id, hosting.summary.owner.as_ref()) =>
                {
                    return Ok(Located {
                        node: Arc::clone(node),
                        hosting,
                    });
                }
                // Not the caller's (any more): answered after the round below.
                Ok(Some(hosting)) => self.locator.learn_detail(&hosting, node.id()),
                // Moved or gone: forget it and ask everyone.
                Ok(None) | Err(NodeError::NotFound) => self.locator.forget_selector(selector),
                Err(err) => return Err(err.into()),
            }
        }
        // Boxed: the round of every node is a large future, and a warm
        // lookup's caller should not carry its size.
        Box::pin(self.ask_every_node(selector, visible)).await
    }

    /// The cold half of [`Cluster::locate_visible`]: every node is asked at
    /// once.
    async fn ask_every_node(
        &self,
        selector: &HostingSelector,
        visible: &(dyn Fn(&HostingId, Option<&OwnerId>) -> bool + Sync),
    ) -> Result<Located, ApiError> {
        let mut calls = Vec::with_capacity(self.nodes.len());
        for node in &self.nodes {
            calls.push(async move {
                let found = self.call(node.as_ref(), node.find_hosting(selector)).await;
                (node, found)
            });
        }
        let mut asks = Bounded::new(calls, self.max_in_flight);
        let mut failure = None;
        let mut hidden = None;
        while let Some((node, found)) = asks.next().await {
            match found {
                Ok(Some(hosting)) => {
                    self.locator.learn_detail(&hosting, node.id());
                    let located = Located {
                        node: Arc::clone(node),
                        hosting,
                    };
                    let summary = &located.hosting.summary;
                    if visible(&summary.id, summary.owner.as_ref()) {
                        return Ok(located);
                    }
                    hidden.get_or_insert(located);
                }
                Ok(None) | Err(NodeError::NotFound) => {}
                Err(err) => {
                    tracing::warn!(node = %node.id(), error = %err, "hosting lookup failed on a node");
                    failure.get_or_insert(err);
                }
            }
        }
        match (hidden, failure) {
            (Some(located), _) => Ok(located),
            (None, failure) => {
                Err(failure.map_or_else(ApiError::hosting_not_found, ApiError::from))
            }
        }
    }

    /// The revisions of the nodes a page over `node` (or all of them)
    /// asks, when every one of them vouches for one (see [`Node::revision`]).
    pub fn revisions(&self, node: Option<&NodeId>) -> Option<Vec<u64>> {
        match node {
            Some(id) => Some(vec![self.node(id)?.revision()?]),
            None => self.nodes.iter().map(|node| node.revision()).collect(),
        }
    }

    /// One page of hostings: the query is pushed down to every node (or only
    /// to `node`), the nodes' pages are merged by id and cut to `limit`.
    ///
    /// Nodes that fail or time out are listed in `unavailable` and the page is
    /// built from the others; only when no asked node answers is it an error.
    pub async fn list(
        &self,
        node: Option<&NodeId>,
        query: &ListQuery,
    ) -> Result<ClusterPage, ApiError> {
        let asked: Vec<&Arc<dyn Node>> = match node {
            Some(id) => vec![
                self.node(id)
                    .ok_or_else(|| ApiError::Validation(format!("unknown node `{id}`")))?,
            ],
            None => self.nodes.iter().collect(),
        };
        let mut calls = Vec::with_capacity(asked.len());
        for node in &asked {
            calls.push(async move {
                (
                    node.id().clone(),
                    self.call(node.as_ref(), node.list_hostings(query)).await,
                )
            });
        }
        let pages = Bounded::new(calls, self.max_in_flight).all().await;
        let mut sorted_pages = Vec::with_capacity(pages.len());
        let mut total = 0;
        let mut unavailable = Vec::new();
        for (node, page) in pages {
            match page {
                Ok(page) => {
                    total += page.total;
                    let mut items: Vec<Hosting> = page
                        .items
                        .into_iter()
                        .filter(|h| query.after.as_ref().is_none_or(|after| h.id > *after))
                        .take(query.limit + 1)
                        .collect();
                    // A node owes us id order; one that breaks it costs a sort, not a wrong page.
                    if !items.windows(2).all(|w| w[0].id < w[1].id) {
                        items.sort_unstable_by(|a, b| a.id.cmp(&b.id));
                    }
                    sorted_pages.push(items);
                }
                Err(err) => {
                    tracing::warn!(%node, error = %err, "a node failed to list its hostings");
                    unavailable.push((node, err));
                }
            }
        }
        if !asked.is_empty() && unavailable.len() == asked.len() {
            return Err(worst_failure(unavailable));
        }
        let limit = query.limit.max(1);
        let mut items = merge_by_id(sorted_pages, limit + 1);
        self.locator.learn_page(&items);
        let next_cursor = (items.len() > limit).then(|| items[limit - 1].id.clone());
        items.truncate(limit);
        Ok(ClusterPage {
            items,
            next_cursor,
            total,
            unavailable,
        })
    }

    /// Every node's description; a node that fails or times out is listed as
    /// unavailable rather than failing the whole answer.
    pub async fn infos(&self) -> Vec<NodeInfo> {
        let mut calls = Vec::with_capacity(self.nodes.len());
        for node in &self.nodes {
            calls.push(async move {
                match self.call(node.as_ref(), node.info()).await {
                    Ok(info) => info,
                    Err(err) => {
                        tracing::warn!(node = %node.id(), error = %err, "node info failed");
                        NodeInfo {
                            id: node.id().clone(),
                            hostname: String::new(),
                            status: NodeStatus::Unavailable,
                            hostings: 0,
                            draining: false,
                        }
                    }
                }
            });
        }
        Bounded::new(calls, self.max_in_flight).all().await
    }
}

/// The error for a set of failed nodes: a timeout if every one timed out
/// (504), a node failure otherwise (502).
pub(crate) fn worst_failure(failures: Vec<(NodeId, NodeError)>) -> ApiError {
    let names: Vec<String> = failures.iter().map(|(node, _)| node.to_string()).collect();
    if failures
        .iter()
        .all(|(_, err)| matches!(err, NodeError::Timeout { .. }))
    {
        ApiError::UpstreamTimeout(format!(
            "nodes did not answer in time: {}",
            names.join(", ")
        ))
    } else {
        ApiError::Upstream(format!("nodes are unavailable: {}", names.join(", ")))
    }
}

/// Runs calls with at most `limit` of them in flight.
struct Bounded<F: Future> {
    waiting: std::vec::IntoIter<(usize, F)>,
    running: FuturesUnordered<Indexed<F>>,
}

/// A call tagged with its position, so that `all` can answer in call order.
struct Indexed<F> {
    index: usize,
    call: std::pin::Pin<Box<F>>,
}

impl<F: Future> Future for Indexed<F> {
    type Output = (usize, F::Output);

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let index = self.index;
        self.call.as_mut().poll(cx).map(|out| (index, out))
    }
}

impl<F: Future> Bounded<F> {
    fn new(calls: Vec<F>, limit: usize) -> Self {
        let mut waiting: std::vec::IntoIter<(usize, F)> = calls
            .into_iter()
            .enumerate()
            .collect::<Vec<_>>()
            .into_iter();
        let running = waiting
            .by_ref()
            .take(limit.max(1))
            .map(|(index, call)| Indexed {
                index,
                call: Box::pin(call),
            })
            .collect();
        Bounded { waiting, running }
    }

    /// The next result to complete, with its call's position; `None` when
    /// every call has answered. Each answer lets a waiting call start.
    async fn next_indexed(&mut self) -> Option<(usize, F::Output)> {
        let answered = self.running.next().await?;
        if let Some((index, call)) = self.waiting.next() {
            self.running.push(Indexed {
                index,
                call: Box::pin(call),
            });
        }
        Some(answered)
    }

    /// The next result to complete; `None` when every call has answered.
    async fn next(&mut self) -> Option<F::Output> {
        self.next_indexed().await.map(|(_, out)| out)
    }

    /// Every result, in call order.
    async fn all(mut self) -> Vec<F::Output> {
        let mut results = Vec::new();
        while let Some(indexed) = self.next_indexed().await {
            results.push(indexed);
        }
        results.sort_by_key(|(index, _)| *index);
        results.into_iter().map(|(_, out)| out).collect()
    }
}

/// K-way merge of pages each sorted by id: the first `take` hostings in id
/// order, in O(take × log(pages)), whatever the pages' lengths.
pub(crate) fn merge_by_id(pages: Vec<Vec<Hosting>>, take: usize) -> Vec<Hosting> {
    let mut pages: Vec<std::vec::IntoIter<Hosting>> =
        pages.into_iter().map(Vec::into_iter).collect();
    let mut heads: BinaryHeap<Reverse<(HostingId, usize)>> = BinaryHeap::new();
    let mut held: Vec<Option<Hosting>> = Vec::with_capacity(pages.len());
    for (index, page) in pages.iter_mut().enumerate() {
        let head = page.next();
        if let Some(hosting) = &head {
            heads.push(Reverse((hosting.id.clone(), index)));
        }
        held.push(head);
    }
    let mut merged = Vec::with_capacity(take);
    while merged.len() < take {
        let Some(Reverse((_, index))) = heads.pop() else {
            break;
        };
        if let Some(hosting) = held[index].take() {
            merged.push(hosting);
        }
        if let Some(next) = pages[index].next() {
            heads.push(Reverse((next.id.clone(), index)));
            held[index] = Some(next);
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SimClusterSpec;

    #[test]
    fn merging_equals_sorting_everything() {
        let spec = SimClusterSpec {
            hostings: 40,
            ..Default::default()
        };
        let node: NodeId = "node-1".parse().unwrap();
        let all: Vec<Hosting> = (0..40).map(|i| spec.hosting(i, &node).summary).collect();
        let pages: Vec<Vec<Hosting>> = (0..4)
            .map(|k| {
                let mut page: Vec<Hosting> = all.iter().skip(k).step_by(4).cloned().collect();
                page.sort_by(|a, b| a.id.cmp(&b.id));
                page
            })
            .collect();
        let mut expected = all.clone();
        expected.sort_by(|a, b| a.id.cmp(&b.id));
        for take in [0, 1, 7, 40, 100] {
            let merged = merge_by_id(pages.clone(), take);
            assert_eq!(merged, expected[..take.min(40)].to_vec(), "take {take}");
        }
        assert!(merge_by_id(Vec::new(), 5).is_empty());
    }
}
