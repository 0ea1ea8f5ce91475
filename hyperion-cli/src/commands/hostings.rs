//! `hyperion hostings ...`: list, show, create, change, suspend, resume and delete hostings.

use hyperion_client::wire::model::{
    BasicAuthPatch, CreateHostingRequest, ExpiryPatch, HostingDetail, LabelSelector, Labels,
    LabelsPatch, LimitsPatch, OwnerPatch, PhpPatch, PlanPatch, QuotaPatch, Redirect, SecretString,
    VhostPatch,
};
use hyperion_client::{Client, HostingFilter};

use super::{job_started, more_hint, parse, print_pages};
use crate::Failure;
use crate::args::{Output, Wait};
use crate::login;
use crate::output::{instant, show};

/// `hostings ...`
#[derive(Debug, clap::Subcommand)]
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
        /// Only hostings of this customer of the panel.
        #[arg(long)]
        owner: Option<String>,
        /// Only hostings on this plan.
        #[arg(long)]
        plan: Option<String>,
        /// Only hostings carrying this label (key=value); repeatable, every one must match.
        #[arg(short = 'l', long = "label")]
        labels: Vec<String>,
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
        /// The panel's customer it belongs to.
        #[arg(long)]
        owner: Option<String>,
        /// The plan it is sold on (scope all).
        #[arg(long)]
        plan: Option<String>,
        /// A label, key=value; repeatable (scope all).
        #[arg(short = 'l', long = "label")]
        labels: Vec<String>,
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
    /// Moves a hosting to another customer of the panel, or to `none` (scope all).
    SetOwner {
        /// Id or domain.
        hosting: String,
        /// The customer's owner id, or `none`.
        owner: String,
    },
    /// Sets the plan, or `none` (scope all).
    SetPlan {
        /// Id or domain.
        hosting: String,
        /// The plan's name, or `none`.
        plan: String,
    },
    /// Sets labels (`key=value`) and removes them (`key-`), leaving the others (scope all).
    SetLabels {
        /// Id or domain.
        hosting: String,
        /// `key=value` to set, `key-` to remove; at least one.
        #[arg(required = true)]
        changes: Vec<String>,
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

pub(crate) async fn run(client: &Client, output: Output, command: Hostings) -> Result<(), Failure> {
    match command {
        Hostings::List {
            state,
            node,
            q,
            owner,
            plan,
            labels,
            limit,
            cursor,
            all,
        } => {
            let filter = HostingFilter {
                state,
                node,
                q,
                owner,
                plan,
                labels,
                limit,
                complete_only: false,
            };
            if all {
                let rows_of = |page: &hyperion_client::wire::HostingPage| {
                    if page.partial {
                        eprintln!(
                            "hyperion: some nodes did not answer; this list may miss hostings"
                        );
                    }
                    page.items.iter().map(hosting_row).collect()
                };
                return print_pages(
                    output,
                    client.hosting_pages(filter),
                    HOSTING_COLUMNS,
                    rows_of,
                )
                .await;
            }
            let cursor = cursor
                .map(|cursor| {
                    cursor
                        .parse()
                        .map_err(|_| Failure::Usage(format!("`{cursor}` is not a cursor")))
                })
                .transpose()?;
            let page = client.hostings_page(&filter, cursor.as_ref()).await?;
            if page.partial {
                eprintln!("hyperion: some nodes did not answer; this list may miss hostings");
            }
            show(
                output,
                &page,
                HOSTING_COLUMNS,
                page.items.iter().map(hosting_row).collect(),
            )?;
            more_hint(output, page.next_cursor.as_ref().map(|id| id.as_str()));
            Ok(())
        }
        Hostings::Get { hosting } => show_hosting(output, &client.hosting(&hosting).await?),
        Hostings::Create {
            domain,
            aliases,
            php,
            database,
            kind,
            system_user,
            proxy_upstream,
            node,
            owner,
            plan,
            labels,
        } => {
            let mut request = CreateHostingRequest::new(parse(&domain, "domain")?);
            request.aliases = aliases
                .iter()
                .map(|alias| parse(alias, "alias"))
                .collect::<Result<_, _>>()?;
            request.php_version = php.map(|php| parse(&php, "PHP version")).transpose()?;
            request.database = database;
            request.kind = kind.map(|kind| parse(&kind, "kind")).transpose()?;
            request.system_user = system_user;
            request.proxy_upstream_url = proxy_upstream;
            request.node = node.map(|node| parse(&node, "node id")).transpose()?;
            request.owner = owner.map(|owner| parse(&owner, "owner id")).transpose()?;
            request.plan = plan.map(|plan| parse(&plan, "plan")).transpose()?;
            let labels = labels
                .iter()
                .map(|label| {
                    let selector: LabelSelector = parse(label, "label (key=value)")?;
                    Ok((selector.key, selector.value))
                })
                .collect::<Result<Vec<_>, Failure>>()?;
            request.labels = Labels::from_pairs(labels).map_err(|err| Failure::Usage(err.0))?;
            show_hosting(output, &client.create_hosting(&request).await?)
        }
        Hostings::Suspend { hosting } => {
            let changed = client.suspend(&hosting).await?;
            show(
                output,
                &changed,
                &["id", "state"],
                vec![vec![
                    changed.id.to_string(),
                    changed.state.as_str().to_owned(),
                ]],
            )
        }
        Hostings::Resume { hosting } => {
            let changed = client.resume(&hosting).await?;
            show(
                output,
                &changed,
                &["id", "state"],
                vec![vec![
                    changed.id.to_string(),
                    changed.state.as_str().to_owned(),
                ]],
            )
        }
        Hostings::Delete {
            hosting,
            keep_user,
            keep_database,
            wait,
        } => {
            let started = client
                .delete_hosting(&hosting, keep_user, keep_database)
                .await?;
            job_started(client, output, started, &wait).await
        }
        Hostings::SetPhp { hosting, version } => {
            let patch = PhpPatch {
                version: parse(&version, "PHP version")?,
            };
            let value = client.set_php(&hosting, &patch).await?;
            let version = value.php_version.map(|v| v.as_str().to_owned());
            show(
                output,
                &value,
                &["php_version"],
                vec![vec![version.unwrap_or_default()]],
            )
        }
        Hostings::SetLimits {
            hosting,
            cpu_percent,
            memory_mb,
            max_processes,
        } => {
            let patch = LimitsPatch {
                cpu_percent,
                memory_mb,
                max_processes,
            };
            let limits = client.set_limits(&hosting, &patch).await?;
            show(
                output,
                &limits,
                &["cpu_percent", "memory_mb", "max_processes"],
                vec![vec![
                    limits.cpu_percent.to_string(),
                    limits.memory_mb.to_string(),
                    limits.max_processes.to_string(),
                ]],
            )
        }
        Hostings::SetVhost {
            hosting,
            force_https,
            maintenance,
            basic_auth_user,
            no_basic_auth,
            redirect_to,
            redirect_status,
            no_redirect,
        } => {
            let basic_auth = match (basic_auth_user, no_basic_auth) {
                (Some(user), _) => Some(Some(BasicAuthPatch {
                    user,
                    password: Some(SecretString::new(login::read_secret_line(
                        "basic-auth password",
                    )?)),
                })),
                (None, true) => Some(None),
                (None, false) => None,
            };
            let redirect = match (redirect_to, no_redirect) {
                (Some(to), _) => Some(Some(Redirect {
                    to,
                    status: redirect_status,
                })),
                (None, true) => Some(None),
                (None, false) => None,
            };
            let patch = VhostPatch {
                force_https,
                maintenance,
                basic_auth,
                redirect,
                ..VhostPatch::default()
            };
            let vhost = client.set_vhost(&hosting, &patch).await?;
            show(
                output,
                &vhost,
                &["force_https", "maintenance"],
                vec![vec![
                    vhost.force_https.to_string(),
                    vhost.maintenance.to_string(),
                ]],
            )
        }
        Hostings::SetExpiry {
            hosting,
            expires_at,
        } => {
            let at = if expires_at == "never" {
                None
            } else {
                Some(
                    time::OffsetDateTime::parse(
                        &expires_at,
                        &time::format_description::well_known::Rfc3339,
                    )
                    .map_err(|_| {
                        Failure::Usage(format!("`{expires_at}` is neither RFC 3339 nor `never`"))
                    })?,
                )
            };
            let value = client
                .set_expiry(
                    &hosting,
                    &ExpiryPatch {
                        expires_at: Some(at),
                    },
                )
                .await?;
            let shown = value.expires_at.map(instant);
            show(
                output,
                &value,
                &["expires_at"],
                vec![vec![shown.unwrap_or_else(|| "never".into())]],
            )
        }
        Hostings::SetOwner { hosting, owner } => {
            let owner = (owner != "none")
                .then(|| parse(&owner, "owner id"))
                .transpose()?;
            let value = client
                .set_owner(&hosting, &OwnerPatch { owner: Some(owner) })
                .await?;
            let shown = value
                .owner
                .as_ref()
                .map_or("none".to_owned(), ToString::to_string);
            show(output, &value, &["owner"], vec![vec![shown]])
        }
        Hostings::SetPlan { hosting, plan } => {
            let plan = (plan != "none").then(|| parse(&plan, "plan")).transpose()?;
            let value = client
                .set_plan(&hosting, &PlanPatch { plan: Some(plan) })
                .await?;
            let shown = value
                .plan
                .as_ref()
                .map_or("none".to_owned(), ToString::to_string);
            show(output, &value, &["plan"], vec![vec![shown]])
        }
        Hostings::SetLabels { hosting, changes } => {
            let mut patch = LabelsPatch::default();
            for change in &changes {
                match change.strip_suffix('-') {
                    Some(key) if !change.contains('=') => {
                        patch.labels.insert(parse(key, "label key")?, None);
                    }
                    _ => {
                        let selector: LabelSelector =
                            parse(change, "label change (key=value or key-)")?;
                        patch.labels.insert(selector.key, Some(selector.value));
                    }
                }
            }
            let value = client.set_labels(&hosting, &patch).await?;
            let rows = value
                .labels
                .iter()
                .map(|(key, value)| vec![key.to_string(), value.to_string()])
                .collect();
            show(output, &value, &["key", "value"], rows)
        }
        Hostings::SetQuota {
            hosting,
            disk_soft_mb,
            disk_hard_mb,
            memory_mb,
            bandwidth_soft_gb,
            bandwidth_hard_gb,
            action_on_breach,
        } => {
            let patch = QuotaPatch {
                disk_soft_mb: disk_soft_mb.map(Some),
                disk_hard_mb: disk_hard_mb.map(Some),
                memory_mb: memory_mb.map(Some),
                bandwidth_soft_gb: bandwidth_soft_gb.map(Some),
                bandwidth_hard_gb: bandwidth_hard_gb.map(Some),
                action_on_breach: action_on_breach
                    .map(|action| parse(&action, "action on breach"))
                    .transpose()?,
            };
            let quota = client.set_quota(&hosting, &patch).await?;
            let shown =
                |value: Option<u64>| value.map_or_else(|| "unlimited".into(), |v| v.to_string());
            show(
                output,
                &quota,
                &["disk_soft_mb", "disk_hard_mb"],
                vec![vec![shown(quota.disk_soft_mb), shown(quota.disk_hard_mb)]],
            )
        }
    }
}

const HOSTING_COLUMNS: &[&str] = &[
    "id", "domain", "state", "php", "node", "owner", "plan", "labels",
];

fn hosting_row(hosting: &hyperion_client::wire::model::Hosting) -> Vec<String> {
    vec![
        hosting.id.to_string(),
        hosting.domain.to_string(),
        hosting.state.as_str().to_owned(),
        hosting
            .php_version
            .map(|v| v.as_str().to_owned())
            .unwrap_or_default(),
        hosting
            .node_id
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        hosting
            .owner
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        hosting
            .plan
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        hosting
            .labels
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect::<Vec<_>>()
            .join(","),
    ]
}

fn show_hosting(output: Output, detail: &HostingDetail) -> Result<(), Failure> {
    show(
        output,
        detail,
        HOSTING_COLUMNS,
        vec![hosting_row(&detail.summary)],
    )
}
