//! Placement: which node a new hosting goes to when the client does not say.

use crate::model::{NewHosting, NodeId, NodeInfo};

/// Chooses a node for a new hosting.
pub trait PlacementStrategy: Send + Sync {
    /// Picks one of `candidates` (online nodes that are not draining), or
    /// `None` when none will do.
    fn place(&self, hosting: &NewHosting, candidates: &[NodeInfo]) -> Option<NodeId>;
}

/// The default: the node with the fewest hostings; ties go to the node
/// enrolled first.
#[derive(Debug, Default, Clone, Copy)]
pub struct FewestHostings;

impl PlacementStrategy for FewestHostings {
    fn place(&self, _hosting: &NewHosting, candidates: &[NodeInfo]) -> Option<NodeId> {
        candidates
            .iter()
            .enumerate()
            .min_by_key(|(order, node)| (node.hostings, *order))
            .map(|(_, node)| node.id.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::NodeStatus;

    fn node(id: &str, hostings: u64) -> NodeInfo {
        NodeInfo {
            id: id.parse().unwrap(),
            hostname: String::new(),
            status: NodeStatus::Online,
            hostings,
            draining: false,
        }
    }

    #[test]
    fn fewest_hostings_wins_and_ties_go_to_the_first() {
        let new = crate::sim::SimClusterSpec::default();
        let hosting: NewHosting = NewHosting {
            id: new.hosting_id(0),
            domain: "a.example".parse().unwrap(),
            kind: crate::model::HostingKind::Static,
            php_version: None,
            aliases: Vec::new(),
            database: false,
            system_user: "a".into(),
            proxy_upstream_url: None,
            owner: None,
            plan: None,
            labels: Default::default(),
        };
        let pick =
            |nodes: &[NodeInfo]| FewestHostings.place(&hosting, nodes).map(|n| n.to_string());
        assert_eq!(
            pick(&[node("a", 3), node("b", 1), node("c", 2)]).as_deref(),
            Some("b")
        );
        assert_eq!(pick(&[node("a", 1), node("b", 1)]).as_deref(), Some("a"));
        assert_eq!(pick(&[]), None);
    }
}
