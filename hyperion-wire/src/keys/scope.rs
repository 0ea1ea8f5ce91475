use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::{HostingId, InvalidValue, wire_enum};

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
/// On the wire: `"all"`, or `{"grants":[{"hosting":"<id>","level":"view|manage"}]}`.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum KeyScope {
    /// Every hosting of the cluster (each action still needs its capability).
    #[default]
    All,
    /// Only these hostings, each at its level.
    Grants(BTreeMap<HostingId, GrantLevel>),
}

impl KeyScope {
    /// The level this scope gives on `hosting`: `Manage` for scope all, the
    /// grant's level otherwise, `None` when the hosting is out of scope.
    pub fn level_on(&self, hosting: &HostingId) -> Option<GrantLevel> {
        match self {
            KeyScope::All => Some(GrantLevel::Manage),
            KeyScope::Grants(grants) => grants.get(hosting).copied(),
        }
    }

    /// Grants `hosting` at `level` (keeping a higher level already held).
    /// Scope all already reaches every hosting and is left as it is.
    pub fn add_grant(&mut self, hosting: HostingId, level: GrantLevel) {
        if let KeyScope::Grants(grants) = self {
            let held = grants.entry(hosting).or_insert(level);
            *held = (*held).max(level);
        }
    }

    /// What both scopes allow: how a minting chain clamps a key, since a
    /// key never reaches further than every key above it.
    pub fn intersect(&self, other: &KeyScope) -> KeyScope {
        match (self, other) {
            (KeyScope::All, scope) | (scope, KeyScope::All) => scope.clone(),
            (KeyScope::Grants(mine), KeyScope::Grants(theirs)) => KeyScope::Grants(
                mine.iter()
                    .filter_map(|(hosting, level)| {
                        let other = theirs.get(hosting)?;
                        Some((hosting.clone(), (*level).min(*other)))
                    })
                    .collect(),
            ),
        }
    }

    /// Whether everything this scope reaches, `outer` reaches at least as far.
    pub fn is_within(&self, outer: &KeyScope) -> bool {
        match (self, outer) {
            (_, KeyScope::All) => true,
            (KeyScope::All, KeyScope::Grants(_)) => false,
            (KeyScope::Grants(inner), KeyScope::Grants(outer)) => inner
                .iter()
                .all(|(hosting, level)| outer.get(hosting).is_some_and(|held| held >= level)),
        }
    }

    /// Whether this is the cluster-wide scope.
    pub fn is_all(&self) -> bool {
        matches!(self, KeyScope::All)
    }

    /// The grants as a list, in id order (empty for scope all).
    pub fn grants(&self) -> Vec<Grant> {
        match self {
            KeyScope::All => Vec::new(),
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
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantsWire<G> {
    grants: Vec<G>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ScopeWire<G> {
    Named(String),
    Grants(GrantsWire<G>),
}

/// Reads the wire form of a scope, with grants of any shape `G` (ids for
/// stored scopes, selectors for requests that still need resolving).
pub fn parse_scope<G: serde::de::DeserializeOwned>(
    value: serde_json::Value,
) -> Result<Option<Vec<G>>, InvalidValue> {
    match serde_json::from_value::<ScopeWire<G>>(value) {
        Ok(ScopeWire::Named(name)) if name == "all" => Ok(None),
        Ok(ScopeWire::Grants(wire)) => Ok(Some(wire.grants)),
        _ => Err(InvalidValue(
            r#"invalid scope: expected "all" or {"grants":[{"hosting":"<id or domain>","level":"view|manage"}]}"#
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
        }
    }
}

impl<'de> Deserialize<'de> for KeyScope {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        match parse_scope::<Grant>(value).map_err(serde::de::Error::custom)? {
            None => Ok(KeyScope::All),
            Some(grants) => Ok(KeyScope::Grants(
                grants.into_iter().map(|g| (g.hosting, g.level)).collect(),
            )),
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
        assert_eq!(scope.level_on(&id("h1")), Some(GrantLevel::View));
        assert_eq!(scope.level_on(&id("h2")), Some(GrantLevel::Manage));
        assert_eq!(scope.level_on(&id("h3")), None);
        assert_eq!(KeyScope::All.level_on(&id("h3")), Some(GrantLevel::Manage));
        assert!(GrantLevel::View < GrantLevel::Manage);
    }

    #[test]
    fn intersection_and_containment() {
        let a =
            KeyScope::Grants([(id("h1"), GrantLevel::Manage), (id("h2"), GrantLevel::View)].into());
        let b =
            KeyScope::Grants([(id("h1"), GrantLevel::View), (id("h3"), GrantLevel::Manage)].into());
        let both = KeyScope::Grants([(id("h1"), GrantLevel::View)].into());
        assert_eq!(a.intersect(&b), both);
        assert_eq!(b.intersect(&a), both);
        assert_eq!(a.intersect(&KeyScope::All), a);
        assert_eq!(KeyScope::All.intersect(&b), b);
        assert!(both.is_within(&a) && both.is_within(&b) && both.is_within(&KeyScope::All));
        assert!(!a.is_within(&b));
        assert!(!KeyScope::All.is_within(&a));
        assert!(KeyScope::All.is_within(&KeyScope::All));
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
        for bad in [
            r#""some""#,
            r#"{"grants":[{"hosting":"h1","level":"own"}]}"#,
            "3",
            r#"{"grant":[]}"#,
        ] {
            assert!(serde_json::from_str::<KeyScope>(bad).is_err(), "{bad}");
        }
    }
}
