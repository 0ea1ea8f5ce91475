//! The simulated node passes the Node contract suite it stands in for.

use std::sync::Arc;

use hyperion_core::Node;
use hyperion_core::sim::SimNode;
use hyperion_testkit::node_contract::NodeSeed;

async fn sim_node(seed: NodeSeed) -> Arc<dyn Node> {
    let node = SimNode::new(seed.node, std::time::Duration::ZERO);
    for hosting in seed.hostings {
        node.insert(hosting);
    }
    Arc::new(node)
}

hyperion_testkit::node_contract_suite!(sim_node);
