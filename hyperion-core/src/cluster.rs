//! The cluster: every enrolled node, asked concurrently and never one after
//! another, each call bounded by a deadline.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};

use crate::error::ApiError;
use crate::model::{
    Hosting, HostingDetail, HostingId, HostingSelector, NodeId, NodeInfo, NodeStatus,
};
use crate::node::{ListQuery, Node, NodeError};

/// How long a node may take to answer one call unless configured otherwise.
pub const DEFAULT_NODE_DEADLINE: Duration = Duration::from_secs(10);

/// A hosting and the node that holds it.
#[derive(Clone)]
pub struct Located {
    /// The node that answered for it.
    pub node: Arc<dyn Node>,
    /// What the node said about it.
    pub hosting: HostingDetail,
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
    deadline: Duration,
}

impl Cluster {
    /// A cluster of `nodes`, each call bounded by [`DEFAULT_NODE_DEADLINE`].
    pub fn new(nodes: Vec<Arc<dyn Node>>) -> Self {
        Cluster {
            nodes,
            deadline: DEFAULT_NODE_DEADLINE,
        }
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
        self.nodes.iter().find(|node| node.id() == id)
    }

    /// Runs one call to `node` under the deadline.
    pub async fn call<T>(
        &self,
        node: &dyn Node,
        call: impl Future<Output = Result<T, NodeError>>,
    ) -> Result<T, NodeError> {
        match tokio::time::timeout(self.deadline, call).await {
            Ok(result) => result,
            Err(_) => Err(NodeError::Timeout {
                node: node.id().clone(),
            }),
        }
    }

    /// Finds the hosting `selector` names by asking every node at once; the
    /// first node that holds it answers. When no node holds it but some node
    /// failed, that failure is the answer (a down node is not a 404).
    pub async fn locate(&self, selector: &HostingSelector) -> Result<Located, ApiError> {
        let mut asks: FuturesUnordered<_> = self
            .nodes
            .iter()
            .map(|node| async move {
                let found = self.call(node.as_ref(), node.find_hosting(selector)).await;
                (node, found)
            })
            .collect();
        let mut failure = None;
        while let Some((node, found)) = asks.next().await {
            match found {
                Ok(Some(hosting)) => {
                    return Ok(Located {
                        node: Arc::clone(node),
                        hosting,
                    });
                }
                Ok(None) | Err(NodeError::NotFound) => {}
                Err(err) => {
                    tracing::warn!(node = %node.id(), error = %err, "hosting lookup failed on a node");
                    failure.get_or_insert(err);
                }
            }
        }
        Err(failure.map_or_else(ApiError::hosting_not_found, ApiError::from))
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
        let pages = futures::future::join_all(asked.iter().map(|node| async move {
            (
                node.id().clone(),
                self.call(node.as_ref(), node.list_hostings(query)).await,
            )
        }))
        .await;
        let mut items = Vec::new();
        let mut total = 0;
        let mut unavailable = Vec::new();
        for (node, page) in pages {
            match page {
                Ok(page) => {
                    total += page.total;
                    items.extend(
                        page.items
                            .into_iter()
                            .filter(|h| query.after.as_ref().is_none_or(|after| h.id > *after))
                            .take(query.limit + 1),
                    );
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
        items.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        let limit = query.limit.max(1);
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
        futures::future::join_all(self.nodes.iter().map(|node| async move {
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
        }))
        .await
    }
}

/// The error for a set of failed nodes: a timeout if every one timed out
/// (504), a node failure otherwise (502).
pub fn worst_failure(failures: Vec<(NodeId, NodeError)>) -> ApiError {
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
