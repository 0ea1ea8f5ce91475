//! Provisioning and operations: what a client asks for (request bodies,
//! validated here) and what a node receives and answers.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::bounds::{
    MAX_EMAIL_LEN, MAX_SYSTEM_USER, MAX_WP_ADMIN_USER, PASSWORD_CHARS, WP_TITLE_CHARS,
};
use super::values::{SecretString, validate_http_url};
use super::{
    Domain, Hosting, HostingDetail, HostingId, HostingKind, HostingState, InvalidValue, Labels,
    Limits, NodeId, OwnerId, PhpVersion, PlanName, Quota, VhostOptions, wire_enum,
};

/// Most aliases one hosting may have.
pub const MAX_ALIASES: usize = 50;

/// `POST /hostings`, as sent.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CreateHostingRequest {
    /// Primary domain.
    pub domain: Domain,
    /// PHP version (PHP hostings only; default 8.3).
    #[serde(
        default,
        deserialize_with = "crate::model::non_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub php_version: Option<PhpVersion>,
    /// What it serves (default `php`).
    #[serde(
        default,
        deserialize_with = "crate::model::non_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub kind: Option<HostingKind>,
    /// Further domains.
    #[serde(default)]
    pub aliases: Vec<Domain>,
    /// Create a database.
    #[serde(default)]
    pub database: bool,
    /// System user (default derived from the id).
    #[serde(
        default,
        deserialize_with = "crate::model::non_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub system_user: Option<String>,
    /// Upstream of a reverse proxy (required for, and only for, `reverse_proxy`).
    #[serde(
        default,
        deserialize_with = "crate::model::non_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub proxy_upstream_url: Option<String>,
    /// Place it on this node instead of letting placement choose.
    #[serde(
        default,
        deserialize_with = "crate::model::non_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub node: Option<NodeId>,
    /// The panel's customer it belongs to (a key scoped to an owner may
    /// create hostings for its own owner only, and its own is the default).
    #[serde(
        default,
        deserialize_with = "crate::model::non_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub owner: Option<OwnerId>,
    /// The plan it is sold on.
    #[serde(
        default,
        deserialize_with = "crate::model::non_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub plan: Option<PlanName>,
    /// Labels to tag it with.
    #[serde(default, skip_serializing_if = "Labels::is_empty")]
    pub labels: Labels,
}

impl CreateHostingRequest {
    /// A PHP hosting for `domain` with every default: PHP 8.3, no alias,
    /// no database, a system user derived from its id, placed by the API.
    pub fn new(domain: Domain) -> Self {
        CreateHostingRequest {
            domain,
            php_version: None,
            kind: None,
            aliases: Vec::new(),
            database: false,
            system_user: None,
            proxy_upstream_url: None,
            node: None,
            owner: None,
            plan: None,
            labels: Labels::new(),
        }
    }
}

/// What a node is asked to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewHosting {
    /// The id the core chose.
    pub id: HostingId,
    /// Primary domain.
    pub domain: Domain,
    /// What it serves.
    pub kind: HostingKind,
    /// PHP version, for PHP hostings.
    pub php_version: Option<PhpVersion>,
    /// Further domains.
    pub aliases: Vec<Domain>,
    /// Create a database.
    pub database: bool,
    /// System user.
    pub system_user: String,
    /// Upstream of a reverse proxy.
    pub proxy_upstream_url: Option<String>,
    /// The panel's customer it belongs to, if any.
    pub owner: Option<OwnerId>,
    /// Its plan, if any.
    pub plan: Option<PlanName>,
    /// Its labels.
    pub labels: Labels,
}

impl NewHosting {
    /// The detail of this hosting once a node has created it on `node`,
    /// with its files under `root_dir`: active, default limits, vhost and
    /// quota, no expiry, no suspension. A node's `create` answers it (or
    /// what its server reports, if that differs).
    pub fn created_on(&self, node: &NodeId, root_dir: impl Into<String>) -> HostingDetail {
        HostingDetail {
            summary: Hosting {
                id: self.id.clone(),
                domain: self.domain.clone(),
                state: HostingState::Active,
                php_version: self.php_version,
                node_id: Some(node.clone()),
                created_at: super::now(),
                owner: self.owner.clone(),
                plan: self.plan.clone(),
                labels: self.labels.clone(),
            },
            kind: self.kind,
            aliases: self.aliases.clone(),
            system_user: self.system_user.clone(),
            root_dir: root_dir.into(),
            limits: Limits::default(),
            vhost: VhostOptions::default(),
            quota: Quota::default(),
            database: self.database,
            proxy_upstream_url: self.proxy_upstream_url.clone(),
            expires_at: None,
            suspended_by: None,
        }
    }
}

/// System accounts no hosting may run as, whoever asks: the usual accounts
/// of a Linux server and its services (and every `systemd-*` one).
pub(crate) const RESERVED_SYSTEM_USERS: &[&str] = &[
    "root",
    "daemon",
    "bin",
    "sys",
    "sync",
    "games",
    "man",
    "lp",
    "mail",
    "news",
    "uucp",
    "proxy",
    "www-data",
    "backup",
    "list",
    "irc",
    "gnats",
    "nobody",
    "_apt",
    "messagebus",
    "sshd",
    "ntp",
    "postfix",
    "dovecot",
    "bind",
    "named",
    "mysql",
    "postgres",
    "redis",
    "memcache",
    "nginx",
    "apache",
    "httpd",
    "ftp",
    "git",
    "admin",
    "administrator",
    "operator",
    "halt",
    "shutdown",
    "adm",
    "wheel",
    "staff",
    "sudo",
    "docker",
    "polkitd",
    "avahi",
    "dnsmasq",
    "uuidd",
    "tss",
    "tcpdump",
    "hyperion",
];

/// Whether `name` is a reserved system account.
pub(crate) fn is_reserved_system_user(name: &str) -> bool {
    RESERVED_SYSTEM_USERS.contains(&name) || name.starts_with("systemd-")
}

fn is_system_user(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'_'))
        && name.len() <= MAX_SYSTEM_USER
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

impl CreateHostingRequest {
    /// Checks the fields against each other and builds what the node gets.
    pub fn validate(self, id: HostingId) -> Result<(NewHosting, Option<NodeId>), InvalidValue> {
        let kind = self.kind.unwrap_or(HostingKind::Php);
        let php_version = match (kind, self.php_version) {
            (HostingKind::Php, version) => Some(version.unwrap_or(PhpVersion::V8_3)),
            (_, None) => None,
            (_, Some(_)) => {
                return Err(InvalidValue(format!(
                    "php_version applies only to kind php, not {kind}"
                )));
            }
        };
        match (kind, &self.proxy_upstream_url) {
            (HostingKind::ReverseProxy, None) => {
                return Err(InvalidValue(
                    "proxy_upstream_url is required for kind reverse_proxy".to_owned(),
                ));
            }
            (HostingKind::ReverseProxy, Some(url)) => validate_http_url("proxy_upstream_url", url)?,
            (_, Some(_)) => {
                return Err(InvalidValue(
                    "proxy_upstream_url applies only to kind reverse_proxy".to_owned(),
                ));
            }
            (_, None) => {}
        }
        if self.aliases.len() > MAX_ALIASES {
            return Err(InvalidValue(format!(
                "aliases holds more than {MAX_ALIASES} names"
            )));
        }
        for (n, alias) in self.aliases.iter().enumerate() {
            if *alias == self.domain || self.aliases[..n].contains(alias) {
                return Err(InvalidValue(format!("aliases: `{alias}` is given twice")));
            }
        }
        let system_user = match self.system_user {
            Some(user) if is_reserved_system_user(&user) => {
                return Err(InvalidValue(format!(
                    "system_user: `{user}` is a reserved system account"
                )));
            }
            Some(user) if is_system_user(&user) => user,
            Some(_) => {
                return Err(InvalidValue(
                    "system_user must start with a-z or '_' and hold up to 32 of a-z, 0-9, '_' or '-'"
                        .to_owned(),
                ));
            }
            None => format!(
                "u{}",
                id.as_str()
                    .trim_start_matches('h')
                    .to_ascii_lowercase()
                    .replace('-', "_")
            ),
        };
        Ok((
            NewHosting {
                id,
                domain: self.domain,
                kind,
                php_version,
                aliases: self.aliases,
                database: self.database,
                system_user: system_user.chars().take(32).collect(),
                proxy_upstream_url: self.proxy_upstream_url,
                owner: self.owner,
                plan: self.plan,
                labels: self.labels,
            },
            self.node,
        ))
    }

    /// Every name the new hosting will answer to.
    pub fn names(&self) -> impl Iterator<Item = &Domain> {
        std::iter::once(&self.domain).chain(&self.aliases)
    }
}

/// The id of a backup, unique within its hosting.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BackupId(String);

impl TryFrom<String> for BackupId {
    type Error = InvalidValue;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if ok {
            Ok(BackupId(s))
        } else {
            Err(InvalidValue(format!("invalid backup id `{s}`")))
        }
    }
}

impl From<BackupId> for String {
    fn from(id: BackupId) -> Self {
        id.0
    }
}

impl BackupId {
    /// The id text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BackupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One backup of a hosting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backup {
    /// Its id on the node: what `POST /hostings/{id}/restore` names.
    pub id: BackupId,
    /// When it was taken.
    #[serde(with = "crate::model::timestamp")]
    pub created_at: OffsetDateTime,
    /// Its size.
    pub size_bytes: u64,
    /// Whether it holds the database too.
    pub includes_database: bool,
}

/// What a restore puts back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum RestoreMode {
    /// Files and database.
    #[default]
    FilesAndDb,
    /// Only the database.
    DbOnly,
    /// Only the files.
    FilesOnly,
}
wire_enum!(RestoreMode, "restore mode", {
    FilesAndDb => "files_and_db",
    DbOnly => "db_only",
    FilesOnly => "files_only",
});

/// `POST /hostings/{id}/restore`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RestoreRequest {
    /// Which backup.
    pub backup_id: BackupId,
    /// What to restore (default files and database).
    #[serde(default)]
    pub mode: RestoreMode,
}

/// A certificate a node issued.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    /// Who issued it.
    pub issuer: String,
    /// When it stops being valid.
    #[serde(with = "crate::model::timestamp")]
    pub expires_at: OffsetDateTime,
    /// Whether it came from a staging (untrusted) CA.
    pub staging: bool,
}

/// What one node reports after renewing its certificates.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenewReport {
    /// Certificates renewed.
    pub renewed: u64,
    /// Certificates that were not due.
    pub skipped: u64,
}

/// `POST /hostings/{id}/wp/install`, as sent.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WpInstallRequest {
    /// The site URL.
    pub site_url: String,
    /// The site title.
    pub title: String,
    /// The admin user name.
    pub admin_user: String,
    /// The admin e-mail.
    pub admin_email: String,
    /// The admin password (write-only).
    #[serde(serialize_with = "crate::model::values::expose_secret")]
    pub admin_password: SecretString,
    /// Locale, e.g. `en_US` (default).
    #[serde(
        default,
        deserialize_with = "crate::model::non_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub locale: Option<String>,
}

/// A WordPress install, as a node receives it. `Debug` redacts the password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WpInstall {
    /// The site URL.
    pub site_url: String,
    /// The site title.
    pub title: String,
    /// The admin user name.
    pub admin_user: String,
    /// The admin e-mail.
    pub admin_email: String,
    /// The admin password.
    pub admin_password: SecretString,
    /// The WordPress locale, such as `en_US` (default) or `de`.
    pub locale: String,
}

impl WpInstallRequest {
    /// Checks every field; the error names the field at fault.
    pub fn validate(self) -> Result<WpInstall, InvalidValue> {
        validate_http_url("site_url", &self.site_url)?;
        let title = self.title.trim().to_owned();
        if !WP_TITLE_CHARS.contains_chars(&title) || title.chars().any(char::is_control) {
            return Err(InvalidValue(format!(
                "title must be {} to {} printable characters",
                WP_TITLE_CHARS.min, WP_TITLE_CHARS.max
            )));
        }
        let user_ok = !self.admin_user.is_empty()
            && self.admin_user.len() <= MAX_WP_ADMIN_USER
            && self
                .admin_user
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'));
        if !user_ok {
            return Err(InvalidValue(format!(
                "admin_user must be 1 to {MAX_WP_ADMIN_USER} of A-Z, a-z, 0-9, '.', '_', '-' or '@'"
            )));
        }
        let email_ok = self.admin_email.len() <= MAX_EMAIL_LEN
            && self
                .admin_email
                .split_once('@')
                .is_some_and(|(local, host)| {
                    !local.is_empty()
                        && !local.contains(char::is_whitespace)
                        && host.parse::<Domain>().is_ok()
                });
        if !email_ok {
            return Err(InvalidValue(
                "admin_email is not an e-mail address".to_owned(),
            ));
        }
        if !PASSWORD_CHARS.contains_chars(self.admin_password.expose()) {
            return Err(InvalidValue(format!(
                "admin_password must be {} to {} characters",
                PASSWORD_CHARS.min, PASSWORD_CHARS.max
            )));
        }
        let locale = self.locale.unwrap_or_else(|| "en_US".to_owned());
        let locale_ok = matches!(locale.len(), 2 | 5)
            && locale[..2].bytes().all(|b| b.is_ascii_lowercase())
            && (locale.len() == 2
                || (locale.as_bytes()[2] == b'_'
                    && locale[3..].bytes().all(|b| b.is_ascii_uppercase())));
        if !locale_ok {
            return Err(InvalidValue(
                "locale must look like `en` or `en_US`".to_owned(),
            ));
        }
        Ok(WpInstall {
            site_url: self.site_url,
            title,
            admin_user: self.admin_user,
            admin_email: self.admin_email,
            admin_password: self.admin_password,
            locale,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(json: &str) -> Result<NewHosting, String> {
        let request: CreateHostingRequest =
            serde_json::from_str(json).map_err(|e| e.to_string())?;
        request
            .validate("habc".parse().unwrap())
            .map(|(new, _)| new)
            .map_err(|e| e.0)
    }

    #[test]
    fn create_defaults_and_cross_field_rules() {
        let new = create(r#"{"domain": "New.Example.com"}"#).unwrap();
        assert_eq!(new.domain.as_str(), "new.example.com");
        assert_eq!(new.kind, HostingKind::Php);
        assert_eq!(new.php_version, Some(PhpVersion::V8_3));
        assert_eq!(new.system_user, "uabc");
        let proxy = create(r#"{"domain": "p.example.com", "kind": "reverse_proxy", "proxy_upstream_url": "http://10.0.0.5:8080"}"#).unwrap();
        assert_eq!(proxy.php_version, None);
        for (json, needle) in [
            (
                r#"{"domain": "p.example.com", "kind": "reverse_proxy"}"#,
                "proxy_upstream_url",
            ),
            (
                r#"{"domain": "p.example.com", "proxy_upstream_url": "http://x.example"}"#,
                "proxy_upstream_url",
            ),
            (
                r#"{"domain": "p.example.com", "kind": "static", "php_version": "8.2"}"#,
                "php_version",
            ),
            (
                r#"{"domain": "p.example.com", "aliases": ["p.example.com"]}"#,
                "aliases",
            ),
            (
                r#"{"domain": "p.example.com", "system_user": "Root"}"#,
                "system_user",
            ),
            (
                r#"{"domain": "p.example.com", "system_user": "root"}"#,
                "reserved",
            ),
            (
                r#"{"domain": "p.example.com", "system_user": "www-data"}"#,
                "reserved",
            ),
            (
                r#"{"domain": "p.example.com", "system_user": "systemd-network"}"#,
                "reserved",
            ),
            (
                r#"{"domain": "p.example.com", "kind": "reverse_proxy", "proxy_upstream_url": "ftp://x"}"#,
                "proxy_upstream_url",
            ),
        ] {
            let err = create(json).unwrap_err();
            assert!(err.contains(needle), "{json}: {err}");
        }
    }

    #[test]
    fn wordpress_fields_are_checked_and_the_password_hidden() {
        let good = r#"{"site_url": "https://blog.example.com", "title": "Blog", "admin_user": "admin", "admin_email": "a@example.com", "admin_password": "correct horse"}"#;
        let install = serde_json::from_str::<WpInstallRequest>(good)
            .unwrap()
            .validate()
            .unwrap();
        assert_eq!(install.locale, "en_US");
        assert!(!format!("{install:?}").contains("correct horse"));
        for (field, value) in [
            ("site_url", "\"blog\""),
            ("title", "\"\""),
            ("admin_user", "\"a b\""),
            ("admin_email", "\"nobody\""),
            ("admin_password", "\"short\""),
            ("locale", "\"english\""),
        ] {
            let mut body: serde_json::Value = serde_json::from_str(good).unwrap();
            body[field] = serde_json::from_str(value).unwrap();
            let err = serde_json::from_value::<WpInstallRequest>(body)
                .unwrap()
                .validate()
                .unwrap_err();
            assert!(err.0.contains(field), "{field}: {err}");
        }
    }
}
