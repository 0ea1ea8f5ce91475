//! Keys as the API shows them: an id and a view, never the secret.

use std::fmt;

use serde::Serialize;
use time::OffsetDateTime;

use super::scope::KeyScope;
use crate::capability::CapSet;
use crate::model::OwnerId;
use crate::random;

/// The public identifier of a key (`key_...`), used in URLs. Not a secret.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
pub struct KeyId(String);

impl KeyId {
    /// A fresh random id.
    pub fn generate() -> Self {
        KeyId(format!("key_{}", random::base62(16)))
    }

    /// Parses a key id from a client; `None` when it cannot be one.
    pub fn parse(s: &str) -> Option<Self> {
        let rest = s.strip_prefix("key_")?;
        (!rest.is_empty() && rest.len() <= 64 && random::is_base62(rest))
            .then(|| KeyId(s.to_owned()))
    }

    /// The id text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for KeyId {
    type Err = crate::model::InvalidValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        KeyId::parse(s).ok_or_else(|| crate::model::InvalidValue(format!("invalid key id `{s}`")))
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the API shows of a key: never the raw key, never its hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct KeyView {
    /// Its public id, for `GET /keys/{id}` and `DELETE /keys/{id}`.
    pub id: KeyId,
    /// The first characters of the raw key (`hyp_` + 8), enough for a
    /// person to tell their keys apart, never enough to use one.
    pub prefix: String,
    /// The name people know it by; the audit log calls it `apikey:<label>`.
    pub label: String,
    /// Whose key it is; the owner's current capabilities clamp it.
    pub owner: OwnerId,
    /// Capabilities granted at mint time (the owner's clamp comes on top).
    pub caps: CapSet,
    /// The hostings it reaches: all, or its grants.
    pub scope: KeyScope,
    /// When it was minted.
    #[serde(with = "crate::model::timestamp")]
    pub created_at: OffsetDateTime,
    /// From this instant on it is refused, if it expires at all.
    #[serde(with = "crate::model::timestamp::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// When it was revoked, if it was.
    #[serde(with = "crate::model::timestamp::option")]
    pub revoked_at: Option<OffsetDateTime>,
    /// The key that minted it over the API; its revocation ends this one.
    pub created_by: Option<KeyId>,
    /// Client addresses (CIDRs) it may be used from; empty means anywhere.
    pub ip_allowlist: Vec<String>,
    /// Requests per minute (0 = unlimited).
    pub rate_limit_per_min: u32,
}
