//! API keys: what a key is, how it is minted, how it is stored.
//!
//! A raw key is `hyp_` followed by 43 base62 characters (≥ 256 bits from the
//! OS random generator). It is shown once, when minted; only its SHA-256 is
//! kept. A short display prefix lets people tell their keys apart.

mod allowlist;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod cache;
mod record;
mod request;
mod scope;
mod secret;
mod store;

pub(crate) use allowlist::{
    MAX_ALLOWLIST_ENTRIES, allowlist_permits, normalize_allowlist, parse_allowlist_entry,
};
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) use cache::KeyRecordCache;
pub use request::MintRequest;
pub use request::RequestedGrant;
pub(crate) use request::{MAX_GRANTS, MAX_LABEL_CHARS, check_label};

pub use record::{ApiKeyRecord, KeyId, KeyView, MintedKey, NewKey};
pub use scope::{Grant, GrantLevel, KeyScope};
pub(crate) use secret::BearerToken;
pub use secret::{KeyHash, RawApiKey};
pub use store::{KeyChangeLock, KeyStore};

#[cfg(feature = "mock")]
pub use store::MockKeyStore;
