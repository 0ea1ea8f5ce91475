//! The value types of the domain: hostings, how they are addressed, nodes,
//! and their configuration. Every type that comes from a client is validated
//! when it is built, so code holding one never checks it again.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;

#[doc(hidden)]
pub mod bounds;
mod ops;
mod ownership;
mod settings;
#[doc(hidden)]
pub mod timestamp;
mod values;

pub use ops::MAX_ALIASES;
pub use ops::{
    Backup, BackupId, Certificate, CreateHostingRequest, NewHosting, RenewReport, RestoreMode,
    RestoreRequest, WpInstall, WpInstallRequest,
};
pub use ownership::{
    LabelKey, LabelSelector, LabelValue, Labels, LabelsPatch, MAX_LABELS, OwnerPatch, PlanName,
    PlanPatch,
};
pub use settings::{
    BasicAuthPatch, BasicAuthView, BreachAction, CacheSettings, ConfigChange, ExpiryPatch, Limits,
    LimitsPatch, PhpPatch, Quota, QuotaPatch, Redirect, VhostChange, VhostOptions, VhostPatch,
};
pub use values::is_shown;
pub use values::{MAX_URL_CHARS, SecretString};

/// A value a client sent that is not acceptable; the message says why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);

/// Reads an optional field that may be absent but, when present, must not be
/// `null` (`Option` alone would take `null` for "absent").
pub fn non_null<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// Whether `s` is a short, URL-safe identifier: 1..=64 of `[A-Za-z0-9_-]`.
fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Implements `as_str`, `Display`, `FromStr` and serde for a validated string
/// newtype. The text is an immutable `Arc<str>`: a list page clones about a
/// thousand ids, domains and node ids out of the nodes' pages, and a clone
/// that only counts a reference spares a thousand allocations and frees.
macro_rules! validated_string {
    ($name:ident, $check:expr, $what:literal) => {
        impl $name {
            /// The validated text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = InvalidValue;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let check: fn(&str) -> Result<Cow<'_, str>, String> = $check;
                check(s)
                    .map(|valid| $name(Arc::from(valid.as_ref())))
                    .map_err(|why| InvalidValue(format!("invalid {}: {}", $what, why)))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

pub(crate) use validated_string;

/// `s` when it is a valid identifier (borrowed: the id's one allocation is
/// its `Arc`).
fn identifier(s: &str) -> Result<Cow<'_, str>, String> {
    if is_identifier(s) {
        Ok(Cow::Borrowed(s))
    } else {
        Err("expected 1 to 64 characters of A-Z, a-z, 0-9, '_' or '-'".to_owned())
    }
}

/// The canonical, stable identifier of a hosting. Never contains a `.`, which
/// is how a [`HostingSelector`] tells ids from domains.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostingId(Arc<str>);
validated_string!(HostingId, identifier, "hosting id");

/// The identifier of one enrolled node (server).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(Arc<str>);
validated_string!(NodeId, identifier, "node id");

/// Whoever minted a key: a user or account of the integrator's panel. Its
/// current capabilities clamp every key it owns (see the server's
/// `OwnerDirectory`). A hosting's owner is one too: the panel's customer.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OwnerId(Arc<str>);
validated_string!(OwnerId, identifier, "owner id");

/// Maximum length of a domain name, in characters.
pub const MAX_DOMAIN_LEN: usize = 253;

fn domain(s: &str) -> Result<Cow<'_, str>, String> {
    if !s.is_ascii() {
        return Err("non-ASCII names must be sent as punycode (xn--...)".to_owned());
    }
    let lower = s.to_ascii_lowercase();
    if lower.len() > MAX_DOMAIN_LEN {
        return Err(format!("longer than {MAX_DOMAIN_LEN} characters"));
    }
    if !lower.contains('.') {
        return Err("a domain has at least two labels".to_owned());
    }
    for label in lower.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err("every label is 1 to 63 characters".to_owned());
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(format!("label `{label}` may hold only a-z, 0-9 and '-'"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("label `{label}` starts or ends with '-'"));
        }
    }
    // No top-level domain is all digits: `10.0.0.1` is an address, not a name.
    if lower
        .rsplit('.')
        .next()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err("an IP address is not a domain".to_owned());
    }
    Ok(Cow::Owned(lower))
}

/// A domain name, validated (RFC 1123 labels, at most 253 characters, ASCII or
/// punycode) and lowercased, so that comparing two `Domain`s is case-insensitive.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Domain(Arc<str>);
validated_string!(Domain, domain, "domain");

/// How a client addresses a hosting: by id, or by domain. A value with a `.`
/// is a domain; anything else is an id.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum HostingSelector {
    /// The canonical id.
    Id(HostingId),
    /// One of the hosting's domains.
    Domain(Domain),
}

impl FromStr for HostingSelector {
    type Err = InvalidValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.contains('.') {
            s.parse().map(HostingSelector::Domain)
        } else {
            s.parse().map(HostingSelector::Id)
        }
    }
}

impl fmt::Display for HostingSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostingSelector::Id(id) => id.fmt(f),
            HostingSelector::Domain(domain) => domain.fmt(f),
        }
    }
}

/// Implements `as_str`, `Display`, `FromStr` and serde for a fieldless enum with fixed wire names.
macro_rules! wire_enum {
    ($name:ident, $what:literal, { $($variant:ident => $wire:literal),+ $(,)? }) => {
        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire name.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire),+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::model::InvalidValue;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($wire => Ok($name::$variant),)+
                    _ => Err($crate::model::InvalidValue(format!(
                        "invalid {}: `{}` (expected one of: {})",
                        $what,
                        s,
                        [$($wire),+].join(", ")
                    ))),
                }
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <String as ::serde::Deserialize>::deserialize(deserializer)?;
                text.parse().map_err(::serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use wire_enum;

/// The lifecycle state of a hosting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HostingState {
    /// Being set up.
    Provisioning,
    /// Serving its sites.
    Active,
    /// Switched off by an operator; can be resumed.
    Suspended,
    /// Provisioning or an operation failed.
    Failed,
    /// Being removed.
    Deleting,
}
wire_enum!(HostingState, "state", {
    Provisioning => "provisioning",
    Active => "active",
    Suspended => "suspended",
    Failed => "failed",
    Deleting => "deleting",
});

/// Who suspended a hosting: the operator's decision is the operator's to
/// undo, so a tenant may resume only what a tenant suspended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SuspendedBy {
    /// A key with scope `all` (or the node itself, e.g. on a quota breach).
    Operator,
    /// A grants-scoped key with a manage grant on the hosting.
    Tenant,
}
wire_enum!(SuspendedBy, "suspended_by", {
    Operator => "operator",
    Tenant => "tenant",
});

/// A PHP version a node can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PhpVersion {
    /// PHP 8.1
    V8_1,
    /// PHP 8.2
    V8_2,
    /// PHP 8.3
    V8_3,
    /// PHP 8.4
    V8_4,
}
wire_enum!(PhpVersion, "php version", {
    V8_1 => "8.1",
    V8_2 => "8.2",
    V8_3 => "8.3",
    V8_4 => "8.4",
});

/// What a hosting serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HostingKind {
    /// PHP application (PHP-FPM pool).
    Php,
    /// Static files only.
    Static,
    /// Reverse proxy to an upstream URL.
    ReverseProxy,
}
wire_enum!(HostingKind, "kind", {
    Php => "php",
    Static => "static",
    ReverseProxy => "reverse_proxy",
});

/// One hosting as it appears in lists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hosting {
    /// Canonical id.
    pub id: HostingId,
    /// Primary domain.
    pub domain: Domain,
    /// Lifecycle state.
    pub state: HostingState,
    /// PHP version, for PHP hostings.
    pub php_version: Option<PhpVersion>,
    /// The node that runs it. A node always says (`Some`); the API answers
    /// `null` to a grants-scoped key, which never learns node names, so a
    /// client may read `None`.
    pub node_id: Option<NodeId>,
    /// When it was created.
    #[serde(with = "crate::model::timestamp")]
    pub created_at: OffsetDateTime,
    /// The panel's customer it belongs to (an owner of the owner
    /// directory), if any: what a key scoped to an owner reaches.
    #[serde(default)]
    pub owner: Option<OwnerId>,
    /// The plan it is sold on, if any.
    #[serde(default)]
    pub plan: Option<PlanName>,
    /// The panel's labels on it.
    #[serde(default)]
    pub labels: Labels,
}

/// Everything about one hosting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostingDetail {
    /// The summary fields, flattened into the same JSON object.
    #[serde(flatten)]
    pub summary: Hosting,
    /// What it serves.
    pub kind: HostingKind,
    /// Further domains served by the same vhost.
    pub aliases: Vec<Domain>,
    /// The system user that owns its files and processes.
    pub system_user: String,
    /// Its document root.
    pub root_dir: String,
    /// Resource limits.
    pub limits: Limits,
    /// Web-server options.
    pub vhost: VhostOptions,
    /// Disk, memory and bandwidth quotas.
    pub quota: Quota,
    /// Whether it has a database.
    pub database: bool,
    /// The upstream of a reverse proxy.
    pub proxy_upstream_url: Option<String>,
    /// When it expires, if it does.
    #[serde(with = "crate::model::timestamp::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// Who suspended it, while it is suspended. A node that does not record
    /// it leaves `None`, which only a scope-all key may resume.
    #[serde(default)]
    pub suspended_by: Option<SuspendedBy>,
}

impl HostingDetail {
    /// Whether `domain` is this hosting's primary domain or one of its aliases.
    pub fn answers_to(&self, domain: &Domain) -> bool {
        self.summary.domain == *domain || self.aliases.contains(domain)
    }
}

/// Whether a node is taking calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NodeStatus {
    /// Answering the API.
    Online,
    /// Failing or not answering in time.
    Unavailable,
}
wire_enum!(NodeStatus, "node status", {
    Online => "online",
    Unavailable => "unavailable",
});

/// What the API shows about one node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Its id.
    pub id: NodeId,
    /// Its host name.
    pub hostname: String,
    /// Whether it answered.
    pub status: NodeStatus,
    /// How many hostings it holds.
    pub hostings: u64,
    /// A draining node takes no new hostings.
    pub draining: bool,
}

/// The current time, truncated to milliseconds (what the wire shows).
pub fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    let millis = now.millisecond();
    now.replace_millisecond(millis).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selector_tells_domains_from_ids() {
        assert_eq!(
            "h_0001".parse::<HostingSelector>(),
            Ok(HostingSelector::Id("h_0001".parse().unwrap()))
        );
        assert_eq!(
            "Site-1.Example.TEST".parse::<HostingSelector>(),
            Ok(HostingSelector::Domain(
                "site-1.example.test".parse().unwrap()
            ))
        );
        assert!("a/b".parse::<HostingSelector>().is_err());
        assert!("".parse::<HostingSelector>().is_err());
        assert!("..".parse::<HostingSelector>().is_err());
        assert!("a\0b".parse::<HostingSelector>().is_err());
    }

    #[test]
    fn domains_are_validated_and_lowercased() {
        let d: Domain = "WWW.Example.COM".parse().unwrap();
        assert_eq!(d.as_str(), "www.example.com");
        assert_eq!(d, "www.example.com".parse().unwrap());
        assert!("xn--bcher-kva.example".parse::<Domain>().is_ok());
        assert!("1.2.3.example".parse::<Domain>().is_ok());
        for bad in [
            "localhost",
            "-a.example",
            "a-.example",
            "a..example",
            "a.example.",
            "bücher.example",
            "a_b.example",
            "a b.example",
            "1.2.3.4",
            "shop.123",
        ] {
            assert!(bad.parse::<Domain>().is_err(), "{bad} should be refused");
        }
        let long_label = format!("{}.example", "a".repeat(64));
        assert!(long_label.parse::<Domain>().is_err());
        let long_name = format!("{}example", "a.".repeat(126));
        assert!(long_name.len() > MAX_DOMAIN_LEN);
        assert!(long_name.parse::<Domain>().is_err());
    }

    #[test]
    fn wire_enums_round_trip() {
        for state in HostingState::ALL {
            assert_eq!(state.as_str().parse::<HostingState>(), Ok(*state));
        }
        let err = "paused".parse::<HostingState>().unwrap_err();
        assert!(err.0.contains("expected one of"), "{err}");
        assert_eq!(
            serde_json::to_string(&PhpVersion::V8_3).unwrap(),
            r#""8.3""#
        );
    }
}
