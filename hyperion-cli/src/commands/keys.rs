//! `hyperion keys ...`: mint, list, show and revoke API keys.

use hyperion_client::Client;
use hyperion_client::wire::{GrantLevel, MintRequest};

use super::{more_hint, print_pages};
use crate::Failure;
use crate::args::Output;
use crate::output::{json_line, print_bytes, show};

/// `keys ...`
#[derive(Debug, clap::Subcommand)]
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
        #[arg(long = "grant", conflicts_with = "owner")]
        grants: Vec<String>,
        /// Every hosting of this customer of the panel, now and later
        /// (`--level` says what the key may do with them).
        #[arg(long)]
        owner: Option<String>,
        /// With `--owner`: view or manage (default manage).
        #[arg(long, requires = "owner", default_value = "manage")]
        level: String,
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

pub(crate) async fn run(client: &Client, output: Output, command: Keys) -> Result<(), Failure> {
    match command {
        Keys::Mint {
            label,
            caps,
            grants,
            owner,
            level,
            expires_at,
            allow_ips,
            rate_limit,
        } => {
            let scope = if let Some(owner) = owner {
                let level: GrantLevel = level.parse().map_err(|_| {
                    Failure::Usage(format!("`--level {level}`: expected view or manage"))
                })?;
                serde_json::json!({"owner": owner, "level": level})
            } else if grants.is_empty() {
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
