//! Capabilities: the closed set of things an API key may be allowed to do.
//!
//! Each capability has one stable wire name (snake_case) and one stable bit
//! position in [`CapSet`]. Both are part of the v1 contract: new capabilities
//! are only ever appended, never reordered or renamed.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One thing a key may do. The discriminant is the bit position in [`CapSet`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
#[repr(u8)]
pub enum Capability {
    /// Read hostings (list and detail).
    HostingView = 0,
    /// Create hostings.
    HostingCreate = 1,
    /// Delete hostings.
    HostingDelete = 2,
    /// Suspend and resume hostings.
    HostingSuspend = 3,
    /// Change a hosting's configuration (limits, PHP, vhost, expiry, quota).
    HostingEditConfig = 4,
    /// Run and list backups.
    BackupRun = 5,
    /// Restore a backup.
    BackupRestore = 6,
    /// Issue and renew certificates.
    CertManage = 7,
    /// Install and manage WordPress.
    WpManage = 8,
    /// Read the nodes of the cluster.
    NodesView = 9,
    /// Read the audit log.
    AuditView = 10,
    /// Mint, list and revoke API keys.
    ApiKeysManage = 11,
}

impl Capability {
    /// Every capability, in bit order.
    pub const ALL: [Capability; 12] = [
        Capability::HostingView,
        Capability::HostingCreate,
        Capability::HostingDelete,
        Capability::HostingSuspend,
        Capability::HostingEditConfig,
        Capability::BackupRun,
        Capability::BackupRestore,
        Capability::CertManage,
        Capability::WpManage,
        Capability::NodesView,
        Capability::AuditView,
        Capability::ApiKeysManage,
    ];

    /// The stable wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Capability::HostingView => "hosting_view",
            Capability::HostingCreate => "hosting_create",
            Capability::HostingDelete => "hosting_delete",
            Capability::HostingSuspend => "hosting_suspend",
            Capability::HostingEditConfig => "hosting_edit_config",
            Capability::BackupRun => "backup_run",
            Capability::BackupRestore => "backup_restore",
            Capability::CertManage => "cert_manage",
            Capability::WpManage => "wp_manage",
            Capability::NodesView => "nodes_view",
            Capability::AuditView => "audit_view",
            Capability::ApiKeysManage => "api_keys_manage",
        }
    }

    const fn bit(self) -> u32 {
        1 << (self as u8)
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A capability name that is not part of the contract.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown capability `{0}`")]
pub struct UnknownCapability(pub String);

impl FromStr for Capability {
    type Err = UnknownCapability;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Capability::ALL
            .into_iter()
            .find(|cap| cap.as_str() == s)
            .ok_or_else(|| UnknownCapability(s.to_owned()))
    }
}

impl Serialize for Capability {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Capability {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// A set of capabilities, stored as a bit set (bit = [`Capability`] discriminant).
///
/// Serialized as an array of wire names in bit order.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct CapSet(u32);

impl CapSet {
    /// No capability at all.
    pub const fn empty() -> Self {
        CapSet(0)
    }

    /// Every capability of the contract.
    pub fn all() -> Self {
        Capability::ALL.into_iter().collect()
    }

    /// The set as bits (bit = capability position), for storage.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// A set read back from storage; bits no capability uses are dropped.
    pub fn from_bits(bits: u32) -> Self {
        CapSet(bits).intersection(CapSet::all())
    }

    /// Whether `cap` is in the set.
    pub const fn contains(self, cap: Capability) -> bool {
        self.0 & cap.bit() != 0
    }

    /// Adds `cap` to the set.
    pub fn insert(&mut self, cap: Capability) {
        self.0 |= cap.bit();
    }

    /// Removes `cap` from the set.
    pub fn remove(&mut self, cap: Capability) {
        self.0 &= !cap.bit();
    }

    /// The capabilities in both sets.
    #[must_use]
    pub const fn intersection(self, other: CapSet) -> CapSet {
        CapSet(self.0 & other.0)
    }

    /// The capabilities of `self` that `other` lacks.
    #[must_use]
    pub const fn difference(self, other: CapSet) -> CapSet {
        CapSet(self.0 & !other.0)
    }

    /// Whether every capability of `self` is also in `other`.
    pub const fn is_subset(self, other: CapSet) -> bool {
        self.0 & !other.0 == 0
    }

    /// Whether the set holds nothing.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The capabilities in bit order.
    pub fn iter(self) -> impl Iterator<Item = Capability> {
        Capability::ALL
            .into_iter()
            .filter(move |cap| self.contains(*cap))
    }
}

impl FromIterator<Capability> for CapSet {
    fn from_iter<I: IntoIterator<Item = Capability>>(iter: I) -> Self {
        let mut set = CapSet::empty();
        for cap in iter {
            set.insert(cap);
        }
        set
    }
}

impl fmt::Debug for CapSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(self.iter().map(Capability::as_str))
            .finish()
    }
}

impl Serialize for CapSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for CapSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let caps = Vec::<Capability>::deserialize(deserializer)?;
        Ok(caps.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_and_bits_are_stable() {
        let names: Vec<&str> = Capability::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            names,
            [
                "hosting_view",
                "hosting_create",
                "hosting_delete",
                "hosting_suspend",
                "hosting_edit_config",
                "backup_run",
                "backup_restore",
                "cert_manage",
                "wp_manage",
                "nodes_view",
                "audit_view",
                "api_keys_manage",
            ]
        );
        for (position, cap) in Capability::ALL.iter().enumerate() {
            assert_eq!(*cap as usize, position);
            assert_eq!(cap.as_str().parse::<Capability>(), Ok(*cap));
        }
    }

    #[test]
    fn unknown_names_are_typed_errors() {
        assert_eq!(
            "root".parse::<Capability>(),
            Err(UnknownCapability("root".into()))
        );
        assert!("Hosting_View".parse::<Capability>().is_err());
    }

    #[test]
    fn set_algebra() {
        let a: CapSet = [Capability::HostingView, Capability::HostingDelete]
            .into_iter()
            .collect();
        let b: CapSet = [Capability::HostingView].into_iter().collect();
        assert!(b.is_subset(a));
        assert!(!a.is_subset(b));
        assert_eq!(a.intersection(b), b);
        assert_eq!(
            a.difference(b).iter().collect::<Vec<_>>(),
            [Capability::HostingDelete]
        );
        assert!(CapSet::empty().is_subset(b));
        assert_eq!(CapSet::all().iter().count(), Capability::ALL.len());
    }

    #[test]
    fn serializes_as_names_in_bit_order() {
        let set: CapSet = [Capability::ApiKeysManage, Capability::HostingView]
            .into_iter()
            .collect();
        let json = serde_json::to_string(&set).unwrap();
        assert_eq!(json, r#"["hosting_view","api_keys_manage"]"#);
        assert_eq!(serde_json::from_str::<CapSet>(&json).unwrap(), set);
        assert!(serde_json::from_str::<CapSet>(r#"["nope"]"#).is_err());
    }
}
