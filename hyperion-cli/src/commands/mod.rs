//! The commands, one file per noun: each is one or two calls of the
//! client, and its output. Here: the dispatch, the connection, the few
//! commands without a noun, and what the nouns share (jobs started and
//! waited for, pages, names).

mod audit;
mod backups;
mod certs;
mod hostings;
mod jobs;
mod keys;
mod nodes;
mod wordpress;

pub(crate) use audit::Audit;
pub(crate) use backups::Backups;
pub(crate) use certs::Certs;
pub(crate) use hostings::Hostings;
pub(crate) use jobs::Jobs;
pub(crate) use keys::Keys;
pub(crate) use nodes::Nodes;
pub(crate) use wordpress::Wordpress;

use std::time::Duration;

use futures::TryStreamExt;
use hyperion_client::Client;
use hyperion_client::wire::{Job, JobAccepted};

use crate::Failure;
use crate::args::{Cli, Command, Output, Wait};
use crate::login;
use crate::output::{json_line, print_bytes, progress, progress_done, show, table};

/// Runs the command line.
pub(crate) async fn run(cli: Cli) -> Result<(), Failure> {
    let output = cli.output;
    match cli.command {
        Command::Login => return login::run(cli.url).await,
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command, "hyperion", &mut script);
            return print_bytes(&script);
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
        Command::Hostings(command) => hostings::run(&client, output, command).await,
        Command::Backups(command) => backups::run(&client, output, command).await,
        Command::Certs(command) => certs::run(&client, output, command).await,
        Command::Wordpress(command) => wordpress::run(&client, output, command).await,
        Command::Jobs(command) => jobs::run(&client, output, command).await,
        Command::Keys(command) => keys::run(&client, output, command).await,
        Command::Audit(command) => audit::run(&client, output, command).await,
        Command::Nodes(command) => nodes::run(&client, output, command).await,
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
