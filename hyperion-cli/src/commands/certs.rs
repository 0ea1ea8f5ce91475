//! `hyperion certs ...`: issue a hosting's certificate, renew every due one.

use hyperion_client::Client;

use super::job_started;
use crate::Failure;
use crate::args::{Output, Wait};

/// `certs ...`
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Certs {
    /// Issues a hosting's certificate (a job).
    Issue {
        /// Id or domain.
        hosting: String,
        /// From the CA's test environment.
        #[arg(long)]
        staging: bool,
        #[command(flatten)]
        wait: Wait,
    },
    /// Renews every due certificate on every node (a job).
    RenewAll {
        #[command(flatten)]
        wait: Wait,
    },
}

/// Runs `certs ...`.
pub(crate) async fn run(client: &Client, output: Output, command: Certs) -> Result<(), Failure> {
    match command {
        Certs::Issue {
            hosting,
            staging,
            wait,
        } => {
            let started = client.issue_certificate(&hosting, staging).await?;
            job_started(client, output, started, &wait).await
        }
        Certs::RenewAll { wait } => {
            let started = client.renew_all_certificates().await?;
            job_started(client, output, started, &wait).await
        }
    }
}
