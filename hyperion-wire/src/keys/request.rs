use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::GrantLevel;
use super::allowlist::normalize_allowlist;
use super::scope::{ScopeRequest, parse_scope};
use crate::capability::{CapSet, Capability};
use crate::model::{HostingSelector, InvalidValue, is_shown, now};

/// Longest accepted label, in characters.
pub const MAX_LABEL_CHARS: usize = 100;
/// Most grants one key may hold.
pub const MAX_GRANTS: usize = 1000;

/// The body of `POST /api/v1/keys`, as sent: checked by the server (the
/// minted key never does more than the key minting it), written by clients.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MintRequest {
    /// The name people will know the key by (unique among the owner's
    /// active keys, without case).
    pub label: String,
    /// Capability names (`hosting_view`, ...).
    pub caps: Vec<String>,
    /// `"all"`, `{"grants":[{"hosting","level"}]}` (hosting by id or domain)
    /// or `{"owner","level"}` (every hosting of one of the panel's customers).
    pub scope: serde_json::Value,
    /// When the key stops working, RFC 3339; omitted: the minting key's
    /// own expiry, or never.
    #[serde(
        default,
        with = "crate::model::timestamp::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_at: Option<OffsetDateTime>,
    /// Client addresses (CIDRs) it may be used from; empty: the minting
    /// key's own list, or anywhere.
    #[serde(default)]
    pub ip_allowlist: Vec<String>,
    /// Requests per minute (0 = unlimited).
    #[serde(default)]
    pub rate_limit_per_min: u32,
}

/// A grant as requested: the hosting may still be a domain.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestedGrant {
    /// The hosting, by id or domain.
    #[serde(deserialize_with = "selector_from_str")]
    pub hosting: HostingSelector,
    /// The level asked for.
    pub level: GrantLevel,
}

fn selector_from_str<'de, D: serde::Deserializer<'de>>(d: D) -> Result<HostingSelector, D::Error> {
    let text = String::deserialize(d)?;
    text.parse().map_err(serde::de::Error::custom)
}

/// A mint request that passed validation; grants are not resolved yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidKeyRequest {
    /// Trimmed label.
    pub label: String,
    /// Capabilities.
    pub caps: CapSet,
    /// The scope asked for, its grants not resolved yet.
    pub scope: ScopeRequest<RequestedGrant>,
    /// Expiry, in the future.
    pub expires_at: Option<OffsetDateTime>,
    /// Normalised allowlist.
    pub ip_allowlist: Vec<String>,
    /// Requests per minute (0 = unlimited).
    pub rate_limit_per_min: u32,
}

/// A key's label, trimmed, or why it is refused: 1 to [`MAX_LABEL_CHARS`]
/// characters as sent (the contract's `maxLength` counts them before
/// trimming), no control character.
pub fn check_label(label: &str) -> Result<String, InvalidValue> {
    let trimmed = label.trim();
    if trimmed.is_empty() || label.chars().count() > MAX_LABEL_CHARS {
        return Err(InvalidValue(format!(
            "label must be 1 to {MAX_LABEL_CHARS} characters"
        )));
    }
    if !trimmed.chars().all(is_shown) {
        return Err(InvalidValue(
            "label must not hold control or invisible characters".to_owned(),
        ));
    }
    Ok(trimmed.to_owned())
}

impl MintRequest {
    /// A request for a key labelled `label`, holding `caps` over `scope`
    /// (`KeyScope::All`, grants, or a customer's hostings), with no expiry,
    /// no allowlist and no rate limit of its own (the minting key's apply).
    pub fn new(label: impl Into<String>, caps: &[Capability], scope: &super::KeyScope) -> Self {
        MintRequest {
            label: label.into(),
            caps: caps.iter().map(|cap| cap.as_str().to_owned()).collect(),
            scope: serde_json::to_value(scope).unwrap_or(serde_json::Value::Null),
            expires_at: None,
            ip_allowlist: Vec::new(),
            rate_limit_per_min: 0,
        }
    }

    /// Checks every field; the error names the field at fault.
    pub fn validate(self) -> Result<ValidKeyRequest, InvalidValue> {
        let label = check_label(&self.label)?;
        let caps = self
            .caps
            .iter()
            .map(|name| {
                name.parse::<Capability>()
                    .map_err(|err| InvalidValue(format!("caps: {err}")))
            })
            .collect::<Result<CapSet, _>>()?;
        let scope = parse_scope::<RequestedGrant>(self.scope)?;
        if matches!(&scope, ScopeRequest::Grants(grants) if grants.len() > MAX_GRANTS) {
            return Err(InvalidValue(format!(
                "scope holds more than {MAX_GRANTS} grants"
            )));
        }
        if self.expires_at.is_some_and(|at| at <= now()) {
            return Err(InvalidValue("expires_at must be in the future".to_owned()));
        }
        Ok(ValidKeyRequest {
            label,
            caps,
            scope,
            expires_at: self.expires_at,
            ip_allowlist: normalize_allowlist(&self.ip_allowlist)?,
            rate_limit_per_min: self.rate_limit_per_min,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(body: serde_json::Value) -> Result<ValidKeyRequest, String> {
        // As the server reads a body: the error names the field.
        serde_path_to_error::deserialize::<_, MintRequest>(body)
            .map_err(|e| format!("`{}`: {}", e.path(), e.inner()))?
            .validate()
            .map_err(|e| e.0)
    }

    #[test]
    fn a_request_is_built_from_typed_parts() {
        let scope = super::super::KeyScope::Owner {
            owner: "cust-42".parse().unwrap(),
            level: GrantLevel::Manage,
        };
        let request = MintRequest::new("cust-42", &[Capability::HostingView], &scope);
        let valid = request.validate().unwrap();
        assert_eq!(
            valid.caps.iter().collect::<Vec<_>>(),
            [Capability::HostingView]
        );
        assert!(matches!(
            valid.scope,
            ScopeRequest::Owner {
                level: GrantLevel::Manage,
                ..
            }
        ));
    }

    #[test]
    fn a_good_request_validates() {
        let valid = request(json!({
            "label": "  ci  ",
            "caps": ["hosting_view", "hosting_suspend"],
            "scope": {"grants": [{"hosting": "Site.Example.test", "level": "manage"}]},
            "expires_at": "2999-01-01T00:00:00Z",
            "ip_allowlist": ["10.0.0.1"],
            "rate_limit_per_min": 60
        }))
        .unwrap();
        assert_eq!(valid.label, "ci");
        assert_eq!(valid.caps.iter().count(), 2);
        let ScopeRequest::Grants(grants) = valid.scope else {
            panic!("grants asked for");
        };
        assert_eq!(
            grants[0].hosting,
            HostingSelector::Domain("site.example.test".parse().unwrap())
        );
        assert_eq!(valid.ip_allowlist, ["10.0.0.1/32"]);
    }

    #[test]
    fn every_bad_field_is_named() {
        let base = json!({"label": "x", "caps": [], "scope": "all"});
        let with = |field: &str, value: serde_json::Value| {
            let mut body = base.clone();
            body[field] = value;
            body
        };
        for (body, needle) in [
            (with("label", json!("  ")), "label"),
            (with("label", json!("a\u{7}b")), "label"),
            (
                with("label", json!(format!("\t{}", "x".repeat(100)))),
                "label",
            ),
            (with("caps", json!(["root"])), "root"),
            (with("scope", json!("everything")), "scope"),
            (
                with(
                    "scope",
                    json!({"grants": [{"hosting": "a/b", "level": "view"}]}),
                ),
                "scope",
            ),
            (
                with("expires_at", json!("2000-01-01T00:00:00Z")),
                "expires_at",
            ),
            (with("expires_at", json!("tomorrow")), "expires_at"),
            (with("ip_allowlist", json!(["nope"])), "ip_allowlist"),
            (with("rate_limit_per_min", json!(-1)), "rate_limit_per_min"),
            (with("capabilities", json!([])), "capabilities"),
        ] {
            let err = request(body.clone()).unwrap_err();
            assert!(err.contains(needle), "{body}: {err}");
        }
    }
}
