//! `hyperion backups ...`: a hosting's backups, and restoring one.

use hyperion_client::Client;
use hyperion_client::wire::model::RestoreRequest;

use super::{job_started, parse};
use crate::Failure;
use crate::args::{Output, Wait};
use crate::output::{instant, show};

/// `backups ...`
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Backups {
    /// Lists a hosting's backups.
    List {
        /// Id or domain.
        hosting: String,
    },
    /// Takes a backup (a job).
    Create {
        /// Id or domain.
        hosting: String,
        #[command(flatten)]
        wait: Wait,
    },
    /// Restores a backup (a job).
    Restore {
        /// Id or domain.
        hosting: String,
        /// The backup's id.
        backup: String,
        /// What to restore: files_and_db (default), db_only or files_only.
        #[arg(long)]
        mode: Option<String>,
        #[command(flatten)]
        wait: Wait,
    },
}

pub(crate) async fn run(client: &Client, output: Output, command: Backups) -> Result<(), Failure> {
    match command {
        Backups::List { hosting } => {
            let list = client.backups(&hosting).await?;
            let rows = list
                .items
                .iter()
                .map(|backup| {
                    vec![
                        backup.id.to_string(),
                        instant(backup.created_at),
                        backup.size_bytes.to_string(),
                        backup.includes_database.to_string(),
                    ]
                })
                .collect();
            show(
                output,
                &list,
                &["id", "created_at", "bytes", "database"],
                rows,
            )
        }
        Backups::Create { hosting, wait } => {
            let started = client.start_backup(&hosting).await?;
            job_started(client, output, started, &wait).await
        }
        Backups::Restore {
            hosting,
            backup,
            mode,
            wait,
        } => {
            let request = RestoreRequest {
                backup_id: hyperion_client::wire::model::BackupId::try_from(backup.clone())
                    .map_err(|_| Failure::Usage(format!("`{backup}` is not a backup id")))?,
                mode: mode
                    .map(|mode| parse(&mode, "restore mode"))
                    .transpose()?
                    .unwrap_or_default(),
            };
            let started = client.start_restore(&hosting, &request).await?;
            job_started(client, output, started, &wait).await
        }
    }
}
