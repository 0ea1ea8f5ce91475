//! `hyperion jobs ...`: read a job, wait for one.

use hyperion_client::Client;

use super::{show_job, wait_for};
use crate::Failure;
use crate::args::Output;

/// `jobs ...`
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Jobs {
    /// One job.
    Get {
        /// The job's id.
        job: String,
    },
    /// Waits for a job to end, showing its progress.
    Wait {
        /// The job's id.
        job: String,
        /// How long to wait at most, in seconds.
        #[arg(long, default_value_t = 3600)]
        wait_timeout: u64,
    },
}

/// Runs `jobs ...`.
pub(crate) async fn run(client: &Client, output: Output, command: Jobs) -> Result<(), Failure> {
    match command {
        Jobs::Get { job } => {
            let job = client.job(&job).await?;
            show_job(output, &job)
        }
        Jobs::Wait { job, wait_timeout } => {
            let job = wait_for(client, &job, wait_timeout).await?;
            show_job(output, &job)
        }
    }
}
