use time::OffsetDateTime;

use super::KeyScope;
use super::secret::{KeyHash, RawApiKey};
use crate::CapSet;
use crate::model::{OwnerId, now};
use hyperion_wire::keys::{KeyId, KeyView};

/// A stored key: everything but the key itself, which only exists as its hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// Public id.
    pub id: KeyId,
    /// Display prefix (`hyp_` + 8 characters).
    pub prefix: String,
    /// SHA-256 of the raw key.
    pub hash: KeyHash,
    /// A name people recognise it by; the audit actor is `apikey:<label>`.
    pub label: String,
    /// Whose key it is; the owner's current capabilities clamp it.
    pub owner: OwnerId,
    /// Capabilities granted at mint time (before the owner clamp).
    pub caps: CapSet,
    /// Which hostings it reaches.
    pub scope: KeyScope,
    /// When it was minted.
    pub created_at: OffsetDateTime,
    /// From this instant on it is refused.
    pub expires_at: Option<OffsetDateTime>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<OffsetDateTime>,
    /// The key that minted it over the API, if one did.
    pub created_by: Option<KeyId>,
    /// Client addresses (CIDRs) it may be used from; empty means anywhere.
    pub ip_allowlist: Vec<String>,
    /// Requests per minute; 0 means unlimited.
    pub rate_limit_per_min: u32,
}

impl ApiKeyRecord {
    /// Whether the key may be used at `at`: not revoked and not expired.
    pub fn is_active_at(&self, at: OffsetDateTime) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|expiry| at < expiry)
    }

    /// The public view of the record (no hash, no key).
    pub fn view(&self) -> KeyView {
        KeyView {
            id: self.id.clone(),
            prefix: self.prefix.clone(),
            label: self.label.clone(),
            owner: self.owner.clone(),
            caps: self.caps,
            scope: self.scope.clone(),
            created_at: self.created_at,
            expires_at: self.expires_at,
            revoked_at: self.revoked_at,
            created_by: self.created_by.clone(),
            ip_allowlist: self.ip_allowlist.clone(),
            rate_limit_per_min: self.rate_limit_per_min,
        }
    }
}

/// What to mint: everything about a key except its secret.
#[derive(Clone, Debug)]
pub struct NewKey {
    /// The name people will know it by: unique among the owner's active
    /// keys, 1 to 100 characters, no control character.
    pub label: String,
    /// Whose key it is (one of your [`crate::OwnerDirectory`]'s owners).
    pub owner: OwnerId,
    /// What it may do (its owner's current capabilities clamp it too).
    pub caps: CapSet,
    /// The hostings it reaches: [`KeyScope::All`] or grants.
    pub scope: KeyScope,
    /// When it stops working (in the future), if ever.
    pub expires_at: Option<OffsetDateTime>,
    /// The key minting it, if minted over the API.
    pub created_by: Option<KeyId>,
    /// Allowed client addresses.
    pub ip_allowlist: Vec<String>,
    /// Requests per minute (0 = unlimited).
    pub rate_limit_per_min: u32,
}

impl NewKey {
    /// A cluster-wide key with `caps`, no expiry and no limits.
    pub fn new(label: impl Into<String>, owner: OwnerId, caps: CapSet) -> Self {
        NewKey {
            label: label.into(),
            owner,
            caps,
            scope: KeyScope::All,
            expires_at: None,
            created_by: None,
            ip_allowlist: Vec::new(),
            rate_limit_per_min: 0,
        }
    }

    /// Generates the secret and the record to store.
    pub fn mint(self) -> MintedKey {
        let secret = RawApiKey::generate();
        let record = ApiKeyRecord {
            id: KeyId::generate(),
            prefix: secret.display_prefix(),
            hash: secret.hash(),
            label: self.label,
            owner: self.owner,
            caps: self.caps,
            scope: self.scope,
            created_at: now(),
            expires_at: self.expires_at,
            revoked_at: None,
            created_by: self.created_by,
            ip_allowlist: self.ip_allowlist,
            rate_limit_per_min: self.rate_limit_per_min,
        };
        MintedKey { secret, record }
    }
}

/// A key just minted: the raw secret (hand it out once) and its record.
#[derive(Debug)]
pub struct MintedKey {
    /// The raw key; its `Debug` is redacted.
    pub secret: RawApiKey,
    /// What is stored.
    pub record: ApiKeyRecord,
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;

    #[test]
    fn activity_follows_revocation_and_expiry() {
        let mut record = NewKey::new("t", "o1".parse().unwrap(), CapSet::all())
            .mint()
            .record;
        let t = now();
        assert!(record.is_active_at(t));
        record.expires_at = Some(t + Duration::seconds(1));
        assert!(record.is_active_at(t));
        assert!(!record.is_active_at(t + Duration::seconds(1)));
        record.expires_at = None;
        record.revoked_at = Some(t);
        assert!(!record.is_active_at(t));
    }

    #[test]
    fn minted_record_holds_only_the_hash() {
        let minted = NewKey::new("t", "o1".parse().unwrap(), CapSet::all()).mint();
        assert_eq!(minted.record.hash, minted.secret.hash());
        let printed = format!("{minted:?}");
        assert!(!printed.contains(&minted.secret.expose()[12..]));
        let view = serde_json::to_string(&minted.record.view()).unwrap();
        assert!(!view.contains(&minted.secret.expose()[12..]));
        assert!(!view.contains("hash"));
        assert!(KeyId::parse(minted.record.id.as_str()).is_some());
        assert!(KeyId::parse("key_../x").is_none());
    }
}
