//! Each command: one or two calls of the client, and its output.

use std::time::Duration;

use futures::TryStreamExt;
use hyperion_client::wire::model::{
    BasicAuthPatch, CreateHostingRequest, ExpiryPatch, HostingDetail, LimitsPatch, PhpPatch,
    QuotaPatch, Redirect, RestoreRequest, SecretString, VhostPatch, WpInstallRequest,
};
use hyperion_client::wire::{GrantLevel, Job, JobAccepted, MintRequest};
use hyperion_client::{AuditFilter, Client, HostingFilter};

use crate::Failure;
use crate::args::{
    Audit, Backups, Certs, Cli, Command, Hostings, Jobs, Keys, Nodes, Output, Wait, Wordpress,
};
use crate::login;
use crate::output::{instant, json_line, print_bytes, progress, progress_done, show, table};

/// Runs the command line.
pub(crate) async fn run(cli: Cli) -> Result<(), Failure> {
    let output = cli.output;
    match cli.command {
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command, "hyperion", &mut script);
            return print_bytes(&script);
        }
        Command::Login => {
            let url = cli
                .url
                .filter(|url| !url.is_empty())
                .ok_or_else(|| Failure::Usage("login needs --url (or HYPERION_URL)".into()))?;
            let key = login::read_secret_line("API key")?;
            // Only a key that works is saved.
            let client = Client::builder(&url).key(&key).build()?;
            let me = client.me().await?;
            let path = login::save(&url, &key)?;
            eprintln!(
                "logged in to {url} as key {} ({}); saved in {}",
                me.key.label,
                me.key.prefix,
                path.display()
            );
            return Ok(());
        }
        _ => {}
    }
    let client = connect(cli.url, cli.key)?;
    match cli.command {
        Command::Login | Command::Completions { .. } => Ok(()),
        Command::Me => {
            let me = client.me().await?;
            let caps: Vec<&str> = me.caps.iter().map(|cap| cap.as_str()).collect();
            let scope = serde_json::to_string(&me.scope).expect("scopes serialize");
            show(
                output,
                &me,
                &["key", "label", "owner", "caps", "scope"],
                vec![vec![
                    me.key.id.to_string(),
                    me.key.label.clone(),
                    me.key.owner.to_string(),
                    caps.join(","),
                    scope,
                ]],
            )
        }
        Command::Hostings(command) => hostings(&client, output, command).await,
        Command::Backups(command) => backups(&client, output, command).await,
        Command::Certs(Certs::Issue {
            hosting,
            staging,
            wait,
        }) => {
            let started = client.issue_certificate(&hosting, staging).await?;
            job_started(&client, output, started, &wait).await
        }
        Command::Certs(Certs::RenewAll { wait }) => {
            let started = client.renew_all_certificates().await?;
            job_started(&client, output, started, &wait).await
        }
        Command::Wordpress(Wordpress::Install {
            hosting,
            site_url,
            title,
            admin_user,
            admin_email,
            wait,
        }) => {
            let password = login::read_secret_line("admin password")?;
            let install = WpInstallRequest {
                site_url,
                title,
                admin_user,
                admin_email,
                admin_password: SecretString::new(password),
                locale: None,
            };
            let started = client.install_wordpress(&hosting, &install).await?;
            job_started(&client, output, started, &wait).await
        }
        Command::Jobs(Jobs::Get { job }) => {
            let job = client.job(&job).await?;
            show_job(output, &job)
        }
        Command::Jobs(Jobs::Wait { job, wait_timeout }) => {
            let job = wait_for(&client, &job, wait_timeout).await?;
            show_job(output, &job)
        }
        Command::Keys(command) => keys(&client, output, command).await,
        Command::Audit(Audit::List {
            all,
            actor,
            key_id,
            action,
            target,
            outcome,
            limit,
            cursor,
        }) => {
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
        Command::Nodes(Nodes::List) => {
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
        Command::Openapi => json_line(&client.openapi().await?),
    }
}

/// The client, from the flags, the environment or the login file.
fn connect(url: Option<String>, key: Option<String>) -> Result<Client, Failure> {
    let saved = login::load();
    // An empty variable is no setting: the login file still counts.
    let url = url.filter(|url| !url.is_empty());
    let url = url.or(saved.url).ok_or_else(|| {
        Failure::Usage("no API URL: give --url, set HYPERION_URL, or run `hyperion login`".into())
    })?;
    let key = match key.as_deref() {
        Some("-") => Some(login::read_secret_line("API key")?),
        Some(_) => {
            return Err(Failure::Usage(
                "--key takes only `-` (read the key from stdin): a key on a command line is seen by every process"
                    .into(),
            ));
        }
        None => std::env::var("HYPERION_KEY")
            .ok()
            .filter(|key| !key.is_empty())
            .or(saved.key),
    };
    let key = key.ok_or_else(|| {
        Failure::Usage(
            "no API key: pipe it to --key -, set HYPERION_KEY, or run `hyperion login`".into(),
        )
    })?;
    // A retry's wait is said on stderr: waiting is not hanging.
    let client = Client::builder(url)
        .key(key)
        .on_retry(|wait, why| {
            eprintln!(
                "hyperion: {why}; trying again in {:.1} s",
                wait.as_secs_f64()
            );
        })
        .build()?;
    Ok(client)
}

async fn hostings(client: &Client, output: Output, command: Hostings) -> Result<(), Failure> {
    match command {
        Hostings::List {
            state,
            node,
            q,
            limit,
            cursor,
            all,
        } => {
            let filter = HostingFilter {
                state,
                node,
                q,
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

async fn backups(client: &Client, output: Output, command: Backups) -> Result<(), Failure> {
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

async fn keys(client: &Client, output: Output, command: Keys) -> Result<(), Failure> {
    match command {
        Keys::Mint {
            label,
            caps,
            grants,
            expires_at,
            allow_ips,
            rate_limit,
        } => {
            let scope = if grants.is_empty() {
                serde_json::json!("all")
            } else {
                let grants = grants
                    .iter()
                    .map(|grant| {
                        let expected = || {
                            Failure::Usage(format!(
                                "`{grant}`: expected HOSTING:view or HOSTING:manage"
                            ))
                        };
                        let (hosting, level) = grant.rsplit_once(':').ok_or_else(expected)?;
                        let level: GrantLevel = level.parse().map_err(|_| expected())?;
                        Ok(serde_json::json!({"hosting": hosting, "level": level}))
                    })
                    .collect::<Result<Vec<_>, Failure>>()?;
                serde_json::json!({ "grants": grants })
            };
            let expires_at = expires_at
                .map(|at| {
                    time::OffsetDateTime::parse(&at, &time::format_description::well_known::Rfc3339)
                        .map_err(|_| Failure::Usage(format!("`{at}` is not RFC 3339")))
                })
                .transpose()?;
            let request = MintRequest {
                label,
                caps,
                scope,
                expires_at,
                ip_allowlist: allow_ips,
                rate_limit_per_min: rate_limit.unwrap_or(0),
            };
            let minted = client.mint_key(&request).await?;
            match output {
                Output::Json => json_line(&minted),
                Output::Table => {
                    // The one time the raw key is shown: alone on stdout, so
                    // that `> file` or `| secret-store` takes only the key.
                    print_bytes(format!("{}\n", minted.key).as_bytes())?;
                    eprintln!(
                        "minted key {} ({}); it is shown this once",
                        minted.view.id, minted.view.label
                    );
                    Ok(())
                }
            }
        }
        Keys::List { limit, cursor, all } => {
            let columns = &["id", "prefix", "label", "owner", "state"];
            let row = |key: &hyperion_client::wire::KeyView| {
                vec![
                    key.id.to_string(),
                    key.prefix.clone(),
                    key.label.clone(),
                    key.owner.to_string(),
                    key.revoked_at
                        .map_or_else(|| "active".into(), |_| "revoked".into()),
                ]
            };
            if all {
                let rows_of =
                    |page: &hyperion_client::wire::KeyPage| page.items.iter().map(row).collect();
                return print_pages(output, client.key_pages(limit), columns, rows_of).await;
            }
            let page = client.keys_page(limit, cursor.as_deref()).await?;
            show(output, &page, columns, page.items.iter().map(row).collect())?;
            more_hint(output, page.next_cursor.as_ref().map(|id| id.as_str()));
            Ok(())
        }
        Keys::Revoke { key_id } => {
            let revoked = client.revoke_key(&key_id).await?;
            show(
                output,
                &revoked,
                &["id", "label", "state"],
                vec![vec![
                    revoked.id.to_string(),
                    revoked.label.clone(),
                    "revoked".into(),
                ]],
            )
        }
    }
}

const HOSTING_COLUMNS: &[&str] = &["id", "domain", "state", "php", "node"];

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

fn show_job(output: Output, job: &Job) -> Result<(), Failure> {
    show(
        output,
        job,
        &[
            "id", "kind", "target", "state", "progress", "step", "result", "error",
        ],
        vec![vec![
            job.id.to_string(),
            job.kind.clone(),
            job.target.clone(),
            wire_name(job.state),
            format!("{}%", job.progress),
            job.step.clone().unwrap_or_default(),
            job.result
                .as_ref()
                .map(|result| result.to_string())
                .unwrap_or_default(),
            job.error.clone().unwrap_or_default(),
        ]],
    )
}

/// After a job-starting call: its id, or (`--wait`) the job once it ended.
async fn job_started(
    client: &Client,
    output: Output,
    started: JobAccepted,
    wait: &Wait,
) -> Result<(), Failure> {
    if !wait.wait {
        return show(
            output,
            &started,
            &["job_id", "status"],
            vec![vec![started.job_id.to_string(), started.status.clone()]],
        );
    }
    let job = wait_for(client, started.job_id.as_str(), wait.wait_timeout).await?;
    show_job(output, &job)?;
    if job.state == hyperion_client::wire::JobState::Failed {
        return Err(Failure::Other(format!(
            "job {} failed: {}",
            job.id,
            job.error.as_deref().unwrap_or("no reason given")
        )));
    }
    Ok(())
}

/// Waits for a job with its progress on stderr; Ctrl-C stops the waiting
/// only, and says how to wait again.
async fn wait_for(client: &Client, job_id: &str, timeout_secs: u64) -> Result<Job, Failure> {
    let waiting = client.wait_job(job_id, Duration::from_secs(timeout_secs), progress);
    let result = tokio::select! {
        result = waiting => result,
        _ = tokio::signal::ctrl_c() => {
            progress_done();
            return Err(Failure::Interrupted(format!(
                "stopped waiting; job {job_id} goes on: `hyperion jobs wait {job_id}` waits again"
            )));
        }
    };
    progress_done();
    Ok(result?)
}

/// `text` as a `T`, or a usage error naming `what`.
fn parse<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, Failure> {
    text.parse()
        .map_err(|_| Failure::Usage(format!("`{text}` is not a valid {what}")))
}

/// How the API names a value of one of its enumerations (`succeeded`,
/// `online`, `denied`).
fn wire_name(value: impl serde::Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Under a table, where the next page starts.
fn more_hint(output: Output, next: Option<&str>) {
    if let (Output::Table, Some(next)) = (output, next) {
        eprintln!("more: --cursor {next} (or --all)");
    }
}

/// Every page of a list (`--all`): one JSON document per page as it comes,
/// or one table of every page's rows at the end.
async fn print_pages<P: serde::Serialize>(
    output: Output,
    pages: impl futures::Stream<Item = Result<P, hyperion_client::Error>>,
    columns: &[&str],
    rows_of: impl Fn(&P) -> Vec<Vec<String>>,
) -> Result<(), Failure> {
    let mut pages = std::pin::pin!(pages);
    let mut rows = Vec::new();
    while let Some(page) = pages.try_next().await? {
        let page_rows = rows_of(&page);
        match output {
            Output::Json => json_line(&page)?,
            Output::Table => rows.extend(page_rows),
        }
    }
    match output {
        Output::Json => Ok(()),
        Output::Table => table(columns, rows),
    }
}
