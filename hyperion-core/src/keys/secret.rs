use std::fmt;

use sha2::{Digest, Sha256};

use crate::random;

/// What every raw key starts with.
pub(crate) const KEY_PREFIX: &str = "hyp_";

/// Base62 characters after the prefix: 43 × log2(62) ≈ 256.03 bits.
const SECRET_CHARS: usize = 43;

/// Length of a raw key, prefix included.
#[cfg(test)]
const RAW_KEY_LEN: usize = KEY_PREFIX.len() + SECRET_CHARS;

/// How many characters of the raw key make its display prefix (`hyp_` + 8).
const DISPLAY_PREFIX_LEN: usize = KEY_PREFIX.len() + 8;

/// A freshly minted raw key. It exists only until it has been handed to its
/// user once; its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct RawApiKey(String);

impl RawApiKey {
    pub(crate) fn generate() -> Self {
        RawApiKey(format!("{KEY_PREFIX}{}", random::base62(SECRET_CHARS)))
    }

    /// The raw key. Call this only to hand it to its user, once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What is stored instead of the key.
    pub fn hash(&self) -> KeyHash {
        KeyHash::of(&self.0)
    }

    /// The short prefix shown in listings (`hyp_` + 8 characters).
    pub fn display_prefix(&self) -> String {
        self.0[..DISPLAY_PREFIX_LEN].to_owned()
    }
}

impl fmt::Debug for RawApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RawApiKey(<redacted>)")
    }
}

/// The SHA-256 of a raw key: all that is ever stored. Its `Debug` shows
/// nothing either, so it cannot reach a log by accident.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyHash([u8; 32]);

impl KeyHash {
    fn of(raw: &str) -> Self {
        KeyHash(Sha256::digest(raw.as_bytes()).into())
    }

    /// The digest bytes, for stores that persist them.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Rebuilds a hash read back from storage.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        KeyHash(bytes)
    }
}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyHash(<redacted>)")
    }
}

/// The token of an `Authorization: Bearer ...` header, checked for shape but
/// not yet looked up. Its `Debug` prints nothing of it.
pub(crate) struct BearerToken<'a>(&'a str);

impl<'a> BearerToken<'a> {
    /// Parses an `Authorization` header value. `None` when it is not
    /// `Bearer hyp_<43 base62>` (scheme case-insensitive).
    pub(crate) fn parse(header: &'a [u8]) -> Option<Self> {
        let header = std::str::from_utf8(header).ok()?;
        let (scheme, token) = header.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let token = token.trim_matches(' ');
        let secret = token.strip_prefix(KEY_PREFIX)?;
        (secret.len() == SECRET_CHARS && random::is_base62(secret)).then_some(BearerToken(token))
    }

    /// What the store is searched by.
    pub(crate) fn hash(&self) -> KeyHash {
        KeyHash::of(self.0)
    }

    /// The display prefix of the presented key, for audit of refusals.
    pub(crate) fn display_prefix(&self) -> String {
        self.0[..DISPLAY_PREFIX_LEN].to_owned()
    }
}

impl fmt::Debug for BearerToken<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerToken(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_keys_have_the_documented_shape() {
        let key = RawApiKey::generate();
        assert_eq!(key.expose().len(), RAW_KEY_LEN);
        assert!(key.expose().starts_with("hyp_"));
        assert!(key.expose().starts_with(&key.display_prefix()));
        assert_eq!(key.display_prefix().len(), 12);
        assert_ne!(key, RawApiKey::generate());
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let key = RawApiKey::generate();
        let header = format!("Bearer {}", key.expose());
        let token = BearerToken::parse(header.as_bytes()).unwrap();
        for printed in [
            format!("{key:?}"),
            format!("{:?}", key.hash()),
            format!("{token:?}"),
        ] {
            assert!(!printed.contains(&key.expose()[4..]), "{printed}");
            assert!(printed.contains("redacted"));
        }
    }

    #[test]
    fn bearer_parsing_accepts_only_the_key_shape() {
        let key = RawApiKey::generate();
        let raw = key.expose();
        for good in [
            format!("Bearer {raw}"),
            format!("bearer {raw}"),
            format!("BEARER  {raw} "),
        ] {
            let token = BearerToken::parse(good.as_bytes()).expect(&good);
            assert_eq!(token.hash(), key.hash());
        }
        for bad in [
            String::new(),
            "Bearer".to_owned(),
            "Bearer ".to_owned(),
            raw.to_owned(),
            format!("Basic {raw}"),
            format!("Bearer {}", &raw[..raw.len() - 1]),
            format!("Bearer {raw}x"),
            format!("Bearer key_{}", &raw[4..]),
            format!("Bearer {}!", &raw[..raw.len() - 1]),
            format!("Bearer {raw} {raw}"),
        ] {
            assert!(BearerToken::parse(bad.as_bytes()).is_none(), "{bad:?}");
        }
        assert!(BearerToken::parse(b"Bearer hyp_\xff\xfe").is_none());
    }
}

#[cfg(test)]
mod hostile_input {
    use super::BearerToken;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn authorization_headers_never_panic(raw in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = BearerToken::parse(&raw);
            let text = format!("Bearer hyp_{}", String::from_utf8_lossy(&raw));
            let _ = BearerToken::parse(text.as_bytes());
        }
    }
}
