//! The command line: global flags, then a noun and a verb.

use clap::{Args, Parser, Subcommand, ValueEnum};

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

/// `hostings ...`
#[derive(Debug, Subcommand)]
pub(crate) enum Hostings {
    /// Lists hostings (one page, or `--all`).
    List {
        /// Only this state (active, suspended, ...).
        #[arg(long)]
        state: Option<String>,
        /// Only this node.
        #[arg(long)]
        node: Option<String>,
        /// Only domains holding this text.
        #[arg(long)]
        q: Option<String>,
        /// Page size.
        #[arg(long)]
        limit: Option<u32>,
        /// Where the page starts.
        #[arg(long)]
        cursor: Option<String>,
        /// Every page.
        #[arg(long)]
        all: bool,
    },
    /// One hosting, by id or domain.
    Get {
        /// Id or domain.
        hosting: String,
    },
    /// Creates a hosting.
    Create {
        /// Its primary domain.
        #[arg(long)]
        domain: String,
        /// A further domain; repeatable.
        #[arg(long = "alias")]
        aliases: Vec<String>,
        /// The PHP version.
        #[arg(long)]
        php: Option<String>,
        /// With a database.
        #[arg(long)]
        database: bool,
        /// What it serves: php (default), static or reverse_proxy.
        #[arg(long)]
        kind: Option<String>,
        /// The system user it runs as (default: derived from its id).
        #[arg(long)]
        system_user: Option<String>,
        /// The upstream of a reverse proxy.
        #[arg(long)]
        proxy_upstream: Option<String>,
        /// Place it on this node (scope all).
        #[arg(long)]
        node: Option<String>,
    },
    /// Suspends a hosting.
    Suspend {
        /// Id or domain.
        hosting: String,
    },
    /// Resumes a hosting.
    Resume {
        /// Id or domain.
        hosting: String,
    },
    /// Deletes a hosting (a job).
    Delete {
        /// Id or domain.
        hosting: String,
        /// Keep the system user.
        #[arg(long)]
        keep_user: bool,
        /// Keep the database.
        #[arg(long)]
        keep_database: bool,
        #[command(flatten)]
        wait: Wait,
    },
    /// Sets the PHP version.
    SetPhp {
        /// Id or domain.
        hosting: String,
        /// The version, e.g. 8.3.
        version: String,
    },
    /// Sets resource limits (scope all).
    SetLimits {
        /// Id or domain.
        hosting: String,
        /// CPU share, in percent.
        #[arg(long)]
        cpu_percent: Option<u32>,
        /// Memory, in MiB.
        #[arg(long)]
        memory_mb: Option<u32>,
        /// Processes.
        #[arg(long)]
        max_processes: Option<u32>,
    },
    /// Sets vhost options.
    SetVhost {
        /// Id or domain.
        hosting: String,
        /// Force HTTPS (true or false).
        #[arg(long)]
        force_https: Option<bool>,
        /// Maintenance mode (true or false).
        #[arg(long)]
        maintenance: Option<bool>,
        /// Turns basic auth on for this user; the password is read from stdin.
        #[arg(long, conflicts_with = "no_basic_auth")]
        basic_auth_user: Option<String>,
        /// Turns basic auth off.
        #[arg(long)]
        no_basic_auth: bool,
        /// Redirects every request to this URL.
        #[arg(long, conflicts_with = "no_redirect")]
        redirect_to: Option<String>,
        /// The redirect's status (301, 302, 307, 308).
        #[arg(long, default_value_t = 301, requires = "redirect_to")]
        redirect_status: u16,
        /// Turns the redirect off.
        #[arg(long)]
        no_redirect: bool,
    },
    /// Sets or clears the expiry (scope all).
    SetExpiry {
        /// Id or domain.
        hosting: String,
        /// RFC 3339 instant, or `never`.
        expires_at: String,
    },
    /// Sets disk quotas (scope all).
    SetQuota {
        /// Id or domain.
        hosting: String,
        /// Disk soft limit, in MiB.
        #[arg(long)]
        disk_soft_mb: Option<u64>,
        /// Disk hard limit, in MiB.
        #[arg(long)]
        disk_hard_mb: Option<u64>,
        /// Memory, in MiB.
        #[arg(long)]
        memory_mb: Option<u64>,
        /// Bandwidth soft limit, in GiB.
        #[arg(long)]
        bandwidth_soft_gb: Option<u64>,
        /// Bandwidth hard limit, in GiB.
        #[arg(long)]
        bandwidth_hard_gb: Option<u64>,
        /// What a breach does: notify or suspend.
        #[arg(long)]
        action_on_breach: Option<String>,
    },
}

/// `backups ...`
#[derive(Debug, Subcommand)]
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

/// `certs ...`
#[derive(Debug, Subcommand)]
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

/// `wordpress ...`
#[derive(Debug, Subcommand)]
pub(crate) enum Wordpress {
    /// Installs WordPress (a job); the admin password is read from stdin.
    Install {
        /// Id or domain.
        hosting: String,
        /// The site's URL.
        #[arg(long)]
        site_url: String,
        /// The site's title.
        #[arg(long)]
        title: String,
        /// The admin's user name.
        #[arg(long)]
        admin_user: String,
        /// The admin's e-mail address.
        #[arg(long)]
        admin_email: String,
        #[command(flatten)]
        wait: Wait,
    },
}

/// `jobs ...`
#[derive(Debug, Subcommand)]
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

/// `keys ...`
#[derive(Debug, Subcommand)]
pub(crate) enum Keys {
    /// Mints a key (printed once).
    Mint {
        /// Its label.
        #[arg(long)]
        label: String,
        /// A capability; repeatable.
        #[arg(long = "cap")]
        caps: Vec<String>,
        /// `HOSTING:view` or `HOSTING:manage`; repeatable (none: scope all).
        #[arg(long = "grant")]
        grants: Vec<String>,
        /// When it stops working (RFC 3339).
        #[arg(long)]
        expires_at: Option<String>,
        /// A client address or network it may be used from; repeatable.
        #[arg(long = "allow-ip")]
        allow_ips: Vec<String>,
        /// Requests per minute.
        #[arg(long)]
        rate_limit: Option<u32>,
    },
    /// Lists the keys the caller may manage (one page, or `--all`).
    List {
        /// Page size.
        #[arg(long)]
        limit: Option<u32>,
        /// Where the page starts.
        #[arg(long, conflicts_with = "all")]
        cursor: Option<String>,
        /// Every page.
        #[arg(long)]
        all: bool,
    },
    /// Revokes a key and every key it minted.
    Revoke {
        /// The key's id.
        #[arg(value_name = "KEY_ID")]
        key_id: String,
    },
}

/// `audit ...`
#[derive(Debug, Subcommand)]
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

/// `nodes ...`
#[derive(Debug, Subcommand)]
pub(crate) enum Nodes {
    /// Every node.
    List,
}
