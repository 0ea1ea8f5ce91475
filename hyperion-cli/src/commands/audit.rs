//! `hyperion audit ...`: read the audit log.

use hyperion_client::{AuditFilter, Client};

use super::{more_hint, print_pages, wire_name};
use crate::Failure;
use crate::args::Output;
use crate::output::{instant, show};

/// `audit ...`
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Audit {
    /// The audit log, newest first (one page, or `--all`).
    List {
        /// Every page (from `--cursor` on).
        #[arg(long)]
        all: bool,
        /// Only this actor.
        #[arg(long)]
        actor: Option<String>,
        /// Only this key id.
        #[arg(long)]
        key_id: Option<String>,
        /// Only this action.
        #[arg(long)]
        action: Option<String>,
        /// Only this target.
        #[arg(long)]
        target: Option<String>,
        /// Only this outcome (ok, failed, denied).
        #[arg(long)]
        outcome: Option<String>,
        /// Page size.
        #[arg(long)]
        limit: Option<u32>,
        /// Where the page starts.
        #[arg(long)]
        cursor: Option<String>,
    },
}

/// Runs `audit ...`.
pub(crate) async fn run(client: &Client, output: Output, command: Audit) -> Result<(), Failure> {
    match command {
        Audit::List {
            all,
            actor,
            key_id,
            action,
            target,
            outcome,
            limit,
            cursor,
        } => {
            let filter = AuditFilter {
                actor,
                key_id,
                action,
                target,
                outcome,
                limit,
                cursor,
            };
            let columns = &[
                "id", "at", "actor", "action", "target", "outcome", "status", "count",
            ];
            let row = |event: &hyperion_client::wire::AuditEvent| {
                vec![
                    event.id.to_string(),
                    instant(event.at),
                    event.actor.clone(),
                    event.action.clone(),
                    event.target.clone(),
                    wire_name(event.outcome),
                    event.status.map(|s| s.to_string()).unwrap_or_default(),
                    event.count.to_string(),
                ]
            };
            if all {
                let rows_of =
                    |page: &hyperion_client::wire::AuditPage| page.items.iter().map(row).collect();
                return print_pages(output, client.audit_pages(filter), columns, rows_of).await;
            }
            let page = client.audit_page(&filter).await?;
            show(output, &page, columns, page.items.iter().map(row).collect())?;
            more_hint(output, page.next_cursor.as_deref());
            Ok(())
        }
    }
}
