use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::{HostingId, InvalidValue, OwnerId, wire_enum};

/// How much a grant allows on one hosting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GrantLevel {
    /// Read it.
    View,
    /// Read and change it.
    Manage,
}
wire_enum!(GrantLevel, "grant level", {
    View => "view",
    Manage => "manage",
});

/// One hosting granted to a key, at a level.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// The hosting, by canonical id.
    pub hosting: HostingId,
    /// What the key may do with it.
    pub level: GrantLevel,
}

/// Which hostings a key reaches.
///
/// On the wire: `"all"`, `{"grants":[{"hosting":"<id>","level":"view|manage"}]}`,
/// or `{"owner":"<owner id>","level":"view|manage"}`.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum KeyScope {
    /// Every hosting of the cluster (each action still needs its capability).
    #[default]
    All,
    /// Only these hostings, each at its level.
    Grants(BTreeMap<HostingId, GrantLevel>),
    /// Every hosting of one of the panel's customers, at one level: those
    /// it gets later too, and none the moment it stops being the owner's.
    Owner {
        /// The customer.
        owner: OwnerId,
        /// What the key may do with each of the customer's hostings.
        level: GrantLevel,
    },
}

impl KeyScope {
    /// The level this scope gives on the hosting `hosting`, whose owner is
    /// `owner`: `Manage` for scope all, the grant's level for grants, the
    /// scope's level on its owner's hostings; `None` when out of scope.
    pub fn level_on(&self, hosting: &HostingId, owner: Option<&OwnerId>) -> Option<GrantLevel> {
        match self {
            KeyScope::All => Some(GrantLevel::Manage),
            KeyScope::Grants(grants) => grants.get(hosting).copied(),
            KeyScope::Owner {
                owner: scoped,
                level,
            } => (owner == Some(scoped)).then_some(*level),
        }
    }

    /// Grants `hosting` at `level` (keeping a higher level already held).
    /// Scope all and an owner's scope reach it already (a hosting created
    /// with an owner-scoped key is its owner's) and are left as they are.
    pub fn add_grant(&mut self, hosting: HostingId, level: GrantLevel) {
        if let KeyScope::Grants(grants) = self {
            let held = grants.entry(hosting).or_insert(level);
            *held = (*held).max(level);
        }
    }

    /// Whether this is the cluster-wide scope.
    pub fn is_all(&self) -> bool {
        matches!(self, KeyScope::All)
    }

    /// The grants as a list, in id order (empty for scope all and an
    /// owner's scope).
    pub fn grants(&self) -> Vec<Grant> {
        match self {
            KeyScope::All | KeyScope::Owner { .. } => Vec::new(),
            KeyScope::Grants(grants) => grants
                .iter()
                .map(|(hosting, level)| Grant {
                    hosting: hosting.clone(),
                    level: *level,
                })
                .collect(),
        }
    }
}

impl fmt::Debug for KeyScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyScope::All => f.write_str("All"),
            KeyScope::Grants(grants) => f.debug_map().entries(grants.iter()).finish(),
            KeyScope::Owner { owner, level } => write!(f, "Owner({owner}, {level})"),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantsWire<G> {
    grants: Vec<G>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OwnerWire {
    owner: OwnerId,
    level: GrantLevel,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ScopeWire<G> {
    Named(String),
    Grants(GrantsWire<G>),
    Owner(OwnerWire),
}

/// A scope as read from the wire, its grants of any shape `G` (ids for
/// stored scopes, selectors for requests that still need resolving).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScopeRequest<G> {
    /// `"all"`.
    All,
    /// `{"grants": [...]}`.
    Grants(Vec<G>),
    /// `{"owner": ..., "level": ...}`.
    Owner {
        /// The customer.
        owner: OwnerId,
        /// The level on each of its hostings.
        level: GrantLevel,
    },
}

/// Reads the wire form of a scope.
pub fn parse_scope<G: serde::de::DeserializeOwned>(
    value: serde_json::Value,
) -> Result<ScopeRequest<G>, InvalidValue> {
    match serde_json::from_value::<ScopeWire<G>>(value) {
        Ok(ScopeWire::Named(name)) if name == "all" => Ok(ScopeRequest::All),
        Ok(ScopeWire::Grants(wire)) => Ok(ScopeRequest::Grants(wire.grants)),
        Ok(ScopeWire::Owner(wire)) => Ok(ScopeRequest::Owner {
            owner: wire.owner,
            level: wire.level,
        }),
        _ => Err(InvalidValue(
            r#"invalid scope: expected "all", {"grants":[{"hosting":"<id or domain>","level":"view|manage"}]} or {"owner":"<owner id>","level":"view|manage"}"#
                .to_owned(),
        )),
    }
}

impl Serialize for KeyScope {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            KeyScope::All => serializer.serialize_str("all"),
            KeyScope::Grants(_) => GrantsWire {
                grants: self.grants(),
            }
            .serialize(serializer),
            KeyScope::Owner { owner, level } => OwnerWire {
                owner: owner.clone(),
                level: *level,
            }
            .serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for KeyScope {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        match parse_scope::<Grant>(value).map_err(serde::de::Error::custom)? {
            ScopeRequest::All => Ok(KeyScope::All),
            ScopeRequest::Grants(grants) => Ok(KeyScope::Grants(
                grants.into_iter().map(|g| (g.hosting, g.level)).collect(),
            )),
            ScopeRequest::Owner { owner, level } => Ok(KeyScope::Owner { owner, level }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> HostingId {
        s.parse().unwrap()
    }

    #[test]
    fn levels_per_scope() {
        let scope =
            KeyScope::Grants([(id("h1"), GrantLevel::View), (id("h2"), GrantLevel::Manage)].into());
        assert_eq!(scope.level_on(&id("h1"), None), Some(GrantLevel::View));
        assert_eq!(scope.level_on(&id("h2"), None), Some(GrantLevel::Manage));
        assert_eq!(scope.level_on(&id("h3"), None), None);
        assert_eq!(
            KeyScope::All.level_on(&id("h3"), None),
            Some(GrantLevel::Manage)
        );
        let customer: OwnerId = "cust-1".parse().unwrap();
        let other: OwnerId = "cust-2".parse().unwrap();
        let owner = KeyScope::Owner {
            owner: customer.clone(),
            level: GrantLevel::View,
        };
        assert_eq!(
            owner.level_on(&id("h1"), Some(&customer)),
            Some(GrantLevel::View)
        );
        assert_eq!(owner.level_on(&id("h1"), Some(&other)), None);
        assert_eq!(owner.level_on(&id("h1"), None), None);
        assert!(GrantLevel::View < GrantLevel::Manage);
    }

    #[test]
    fn wire_form_round_trips() {
        let scope = KeyScope::Grants([(id("h1"), GrantLevel::View)].into());
        let json = serde_json::to_string(&scope).unwrap();
        assert_eq!(json, r#"{"grants":[{"hosting":"h1","level":"view"}]}"#);
        assert_eq!(serde_json::from_str::<KeyScope>(&json).unwrap(), scope);
        assert_eq!(serde_json::to_string(&KeyScope::All).unwrap(), r#""all""#);
        assert_eq!(
            serde_json::from_str::<KeyScope>(r#""all""#).unwrap(),
            KeyScope::All
        );
        let owner = r#"{"owner":"cust-42","level":"manage"}"#;
        let scope = serde_json::from_str::<KeyScope>(owner).unwrap();
        assert_eq!(serde_json::to_string(&scope).unwrap(), owner);
        for bad in [
            r#""some""#,
            r#"{"grants":[{"hosting":"h1","level":"own"}]}"#,
            "3",
            r#"{"grant":[]}"#,
            r#"{"owner":"cust-42"}"#,
            r#"{"owner":"a b","level":"view"}"#,
            r#"{"owner":"cust-42","level":"view","grants":[]}"#,
        ] {
            assert!(serde_json::from_str::<KeyScope>(bad).is_err(), "{bad}");
        }
    }
}
