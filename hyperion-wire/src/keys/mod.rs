//! API keys as a client sees them: ids, scopes, grants, what to ask for
//! when minting one, and what the API shows of one.

#[doc(hidden)]
pub mod allowlist;
mod request;
mod scope;
mod view;

#[doc(hidden)]
pub use request::{MAX_GRANTS, MAX_LABEL_CHARS, ValidKeyRequest, check_label};
pub use request::{MintRequest, RequestedGrant};
pub use scope::ScopeRequest;
#[doc(hidden)]
pub use scope::parse_scope;
pub use scope::{Grant, GrantLevel, KeyScope};
pub use view::{KeyId, KeyView};
