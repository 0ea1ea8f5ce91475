//! The simulated cluster: a spec that builds the same nodes with the same
//! hostings (same ids, domains and states) every time.

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::macros::datetime;

use super::SimNode;
use crate::model::{
    Domain, Hosting, HostingDetail, HostingId, HostingKind, HostingState, Labels, Limits, NodeId,
    PhpVersion, Quota, SuspendedBy, VhostOptions,
};
use crate::node::Node;

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
        // Seven customers, three plans, a region on every hosting and a
        // tier on every fourth.
        let owner = format!("cust-{:02}", index % 7 + 1);
        let plan = ["basic", "pro", "business"][index % 3];
        let region = if index.is_multiple_of(2) { "eu" } else { "us" };
        let mut labels = vec![("region", region)];
        if index.is_multiple_of(4) {
            labels.push(("tier", "gold"));
        }
        let labels = labels.into_iter().map(|(key, value)| {
            (
                key.parse().expect("valid key"),
                value.parse().expect("valid value"),
            )
        });
        HostingDetail {
            summary: Hosting {
                id: self.hosting_id(index),
                domain: domain.clone(),
                state,
                php_version: Some(php),
                node_id: Some(node.clone()),
                created_at: SIM_EPOCH + time::Duration::hours(index as i64),
                owner: Some(owner.parse().expect("valid owner")),
                plan: Some(plan.parse().expect("valid plan")),
                labels: Labels::from_pairs(labels).expect("two labels"),
            },
            kind: HostingKind::Php,
            aliases: vec![format!("www.{domain}").parse().expect("valid alias")],
            system_user: format!("site{number:04}"),
            root_dir: format!("/var/www/{domain}/public"),
            limits: Limits::default(),
            vhost: VhostOptions::default(),
            quota: Quota::default(),
            database: index.is_multiple_of(2),
            proxy_upstream_url: None,
            expires_at: None,
            suspended_by: (state == HostingState::Suspended).then_some(SuspendedBy::Operator),
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

    /// Builds the nodes as the API takes them ([`crate::Cluster::new`]
    /// wants `Arc<dyn Node>`). Use [`SimClusterSpec::build`] instead to keep
    /// a handle on each [`SimNode`] (to set its faults).
    pub fn build_nodes(&self) -> Vec<Arc<dyn Node>> {
        self.build()
            .into_iter()
            .map(|node| node as Arc<dyn Node>)
            .collect()
    }
}
