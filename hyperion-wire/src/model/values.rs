//! Plain values that both the hostings' settings and the operations use:
//! a write-only secret, and an absolute http(s) URL check.

use std::fmt;

use serde::{Deserialize, Deserializer};

use super::InvalidValue;

/// A write-only secret from a client (a password). Its `Debug` prints
/// nothing, and it cannot be serialized: it never reaches a response, a job
/// record, a log or an audit event.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        SecretString(secret.into())
    }

    /// The secret, for the node that must apply it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(<redacted>)")
    }
}

/// Writes a secret as it is, for the one place that must: a client's
/// request body (`#[serde(serialize_with)]` on request types, which the
/// server never renders). `SecretString` itself has no `Serialize`, so no
/// answer, job or audit event can carry one.
pub(crate) fn expose_secret<S: serde::Serializer>(
    secret: &SecretString,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(secret.expose())
}

/// [`expose_secret`] for an optional secret.
pub(crate) fn expose_optional_secret<S: serde::Serializer>(
    secret: &Option<SecretString>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match secret {
        Some(secret) => serializer.serialize_some(secret.expose()),
        None => serializer.serialize_none(),
    }
}

impl<'de> Deserialize<'de> for SecretString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(SecretString)
    }
}

/// The longest URL a client may send (a site URL, a redirect target, an upstream).
pub const MAX_URL_CHARS: usize = 2048;

/// Checks that `url` is an absolute `http` or `https` URL of at most
/// [`MAX_URL_CHARS`]; the error names `field`.
pub(crate) fn validate_http_url(field: &str, url: &str) -> Result<(), InvalidValue> {
    let bad = || InvalidValue(format!("{field} must be an absolute http or https URL"));
    if url.len() > MAX_URL_CHARS {
        return Err(InvalidValue(format!(
            "{field} is longer than {MAX_URL_CHARS} characters"
        )));
    }
    let uri: http::Uri = url.parse().map_err(|_| bad())?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(host)) if !host.is_empty() => Ok(()),
        _ => Err(bad()),
    }
}

/// Whether `c` would be invisible, or would reorder what is shown, in a log
/// or a table: a format character (zero-width spaces and joiners, the
/// byte-order mark, soft hyphen) or a bidirectional control. A name holding
/// one could pass for another name.
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00ad}'
            | '\u{034f}'
            | '\u{061c}'
            | '\u{115f}'
            | '\u{1160}'
            | '\u{17b4}'
            | '\u{17b5}'
            | '\u{180b}'..='\u{180f}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{3164}'
            | '\u{fe00}'..='\u{fe0f}'
            | '\u{feff}'
            | '\u{ffa0}'
            | '\u{fff0}'..='\u{fffb}'
            | '\u{e0000}'..='\u{e007f}'
    )
}

/// Whether `c` may stand in a name people read (a key label, an audit
/// actor): not a control character and not an invisible one.
pub fn is_shown(c: char) -> bool {
    !c.is_control() && !is_invisible(c)
}
