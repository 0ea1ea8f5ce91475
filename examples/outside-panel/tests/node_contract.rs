//! The panel's node passes the Node contract suite.

use std::sync::Arc;

use hyperion::Node;
use hyperion_testkit::node_contract::NodeSeed;
use outside_panel::node::MapNode;

async fn map_node(seed: NodeSeed) -> Arc<dyn Node> {
    Arc::new(MapNode::new(seed.node, seed.hostings))
}

hyperion_testkit::node_contract_suite!(map_node);
