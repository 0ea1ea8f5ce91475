//! API keys: what a key is, how it is minted, how it is stored.
//!
//! A raw key is `hyp_` followed by 43 base62 characters (≥ 256 bits from the
//! OS random generator). It is shown once, when minted; only its SHA-256 is
//! kept. A short display prefix lets people tell their keys apart. How a key
//! looks on the wire (its id, view, scope and mint request) is
//! [`hyperion_wire::keys`].

#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod cache;
pub(crate) mod reach;
mod record;
mod secret;
mod store;

#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) use cache::KeyRecordCache;
pub(crate) use hyperion_wire::keys::ScopeRequest;
pub(crate) use hyperion_wire::keys::allowlist::{
    MAX_ALLOWLIST_ENTRIES, allowlist_permits, normalize_allowlist, parse_allowlist_entry,
};
pub use hyperion_wire::keys::{
    Grant, GrantLevel, KeyId, KeyScope, KeyView, MintRequest, RequestedGrant,
};
pub(crate) use hyperion_wire::keys::{MAX_GRANTS, MAX_LABEL_CHARS, check_label};

pub(crate) use reach::Reach;
pub use record::{ApiKeyRecord, MintedKey, NewKey};
pub(crate) use secret::BearerToken;
pub use secret::{KeyHash, RawApiKey};
pub use store::{KeyChangeLock, KeyStore};

#[cfg(feature = "mock")]
pub use store::MockKeyStore;
