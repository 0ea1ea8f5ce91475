//! The command line: global flags, then a noun and a verb.

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::commands::{Audit, Backups, Certs, Hostings, Jobs, Keys, Nodes, Wordpress};

/// `hyperion`: manage hostings through the Hyperion API.
///
/// The key comes from `--key -` (read from stdin), `HYPERION_KEY`, or the
/// file `hyperion login` writes (mode 0600); it is never printed.
///
/// Exit codes: 0 ok; 1 anything else (a job that failed, an answer that is
/// not the API's); 2 usage; 3 not found; 4 refused (401, 403); 5 conflict
/// or invalid (400, 409, 413); 6 upstream, timeout or unreachable (408, 429,
/// 5xx, a job still running); 130 interrupted (Ctrl-C). Errors name the
/// request id.
#[derive(Debug, Parser)]
#[command(
    name = "hyperion",
    version,
    about = "Manage hostings through the Hyperion API",
    long_about
)]
pub(crate) struct Cli {
    /// Where the API is served (without `/api/v1`); also `HYPERION_URL`.
    #[arg(long, global = true, env = "HYPERION_URL")]
    pub(crate) url: Option<String>,
    /// `-` to read the API key from stdin (else `HYPERION_KEY`, else the
    /// login file).
    #[arg(long, global = true, value_name = "-")]
    pub(crate) key: Option<String>,
    /// How answers are printed.
    #[arg(long, global = true, value_enum, default_value_t = Output::Table)]
    pub(crate) output: Output,
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// How answers are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Output {
    /// Columns that fit the terminal.
    Table,
    /// Exactly the API's JSON (one document per line with `--all`).
    Json,
}

/// Nouns.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Saves the URL and the key (read from stdin) for later commands.
    Login,
    /// The key in use and what it may do.
    Me,
    /// Hostings.
    #[command(subcommand)]
    Hostings(Hostings),
    /// Backups of a hosting.
    #[command(subcommand)]
    Backups(Backups),
    /// Certificates.
    #[command(subcommand)]
    Certs(Certs),
    /// WordPress.
    #[command(subcommand)]
    Wordpress(Wordpress),
    /// Jobs.
    #[command(subcommand)]
    Jobs(Jobs),
    /// API keys.
    #[command(subcommand)]
    Keys(Keys),
    /// The audit log.
    #[command(subcommand)]
    Audit(Audit),
    /// Nodes.
    #[command(subcommand)]
    Nodes(Nodes),
    /// Prints the OpenAPI document.
    Openapi,
    /// Prints shell completions.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// Waiting for a job a command started.
#[derive(Debug, Args)]
pub(crate) struct Wait {
    /// Wait for the job to end, showing its progress.
    #[arg(long)]
    pub(crate) wait: bool,
    /// How long to wait at most, in seconds.
    #[arg(long, default_value_t = 3600)]
    pub(crate) wait_timeout: u64,
}
