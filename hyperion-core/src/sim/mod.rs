//! A simulated node and cluster (feature `sim`): in memory, deterministic
//! for a seed, with no real server, no root and no network. For examples,
//! tests and benches.
//!
//! ## Faults, for testers
//!
//! Each [`SimNode`] can be made to misbehave while the API runs, to see
//! what a panel and its users see when a server does:
//!
//! - [`SimNode::set_fault`] with [`SimFault::Fail`]: every call fails
//!   (`502 upstream_error` for one hosting; lists go on without the node and say
//!   they are partial); [`SimFault::Hang`]: no call answers (the cluster's
//!   deadline turns it into `504`); [`SimFault::Panic`]: every call panics
//!   (a bug in a node: `500`, and the server goes on);
//!   [`SimFault::None`] heals it;
//! - [`SimNode::set_latency`]: every call takes that long (slow jobs,
//!   deadlines, progress bars);
//! - [`SimNode::set_draining`]: the node takes no new hostings.
//!
//! To make a node of your own misbehave the same ways, wrap it in
//! `hyperion_testkit::faults::FaultyNode`.

mod cluster;
mod node;

pub use cluster::SimClusterSpec;
pub use node::{SimFault, SimNode};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;
    use crate::node::{DeleteOptions, ListQuery, Node, NodeError};

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
        let id = found.summary.id.clone();
        assert_eq!(
            node.suspend(&id, SuspendedBy::Tenant).await,
            Ok(HostingState::Suspended)
        );
        assert_eq!(
            node.suspend(&id, SuspendedBy::Tenant).await,
            Ok(HostingState::Suspended)
        );
        assert_eq!(node.resume(&id).await, Ok(HostingState::Active));
        node.delete(&id, DeleteOptions::default()).await.unwrap();
        assert_eq!(node.find_hosting(&alias).await, Ok(None));
        assert_eq!(
            node.suspend(&id, SuspendedBy::Tenant).await,
            Err(NodeError::NotFound)
        );
    }
}
