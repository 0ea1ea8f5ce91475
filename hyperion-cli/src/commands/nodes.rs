//! `hyperion nodes ...`: the cluster's nodes.

use hyperion_client::Client;

use super::wire_name;
use crate::Failure;
use crate::args::Output;
use crate::output::show;

/// `nodes ...`
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Nodes {
    /// Every node.
    List,
}

/// Runs `nodes ...`.
pub(crate) async fn run(client: &Client, output: Output, command: Nodes) -> Result<(), Failure> {
    match command {
        Nodes::List => {
            let nodes = client.nodes().await?;
            let rows = nodes
                .items
                .iter()
                .map(|node| {
                    vec![
                        node.id.to_string(),
                        node.hostname.clone(),
                        wire_name(node.status),
                        node.hostings.to_string(),
                        node.draining.to_string(),
                    ]
                })
                .collect();
            show(
                output,
                &nodes,
                &["id", "hostname", "status", "hostings", "draining"],
                rows,
            )
        }
    }
}
