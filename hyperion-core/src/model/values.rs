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
