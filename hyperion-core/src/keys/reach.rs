//! What a key reaches once every key of its minting chain is counted: a
//! key never reaches further than any key above it. A chain can mix grants
//! and an owner's scope (a tenant's key minted below a customer's), which
//! no single [`KeyScope`] can say, so a reach keeps both parts.

// Reachable outside the crate only through the benchmarks' internals.
#![cfg_attr(not(feature = "bench-internals"), allow(unreachable_pub))]

use std::collections::BTreeMap;

use crate::keys::{GrantLevel, KeyScope};
use crate::model::{HostingId, OwnerId};

/// The hostings a principal reaches, and at what level.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reach {
    /// The grants every grants-scoped key of the chain agrees on, at the
    /// lowest level; `None` when no key of the chain is grants-scoped.
    grants: Option<BTreeMap<HostingId, GrantLevel>>,
    /// The customer every owner-scoped key of the chain names, at the
    /// lowest level; `None` when none is owner-scoped.
    owner: Option<(OwnerId, GrantLevel)>,
}

impl Reach {
    /// What `scope` alone reaches.
    pub fn of(scope: &KeyScope) -> Self {
        Reach::default().and(scope)
    }

    /// What this and `scope` both reach.
    #[must_use]
    pub fn and(mut self, scope: &KeyScope) -> Self {
        match scope {
            KeyScope::All => {}
            KeyScope::Grants(theirs) => {
                self.grants = Some(match self.grants {
                    None => theirs.clone(),
                    Some(mine) => mine
                        .into_iter()
                        .filter_map(|(hosting, level)| {
                            let other = theirs.get(&hosting)?;
                            Some((hosting, level.min(*other)))
                        })
                        .collect(),
                });
            }
            KeyScope::Owner { owner, level } => match &self.owner {
                None => self.owner = Some((owner.clone(), *level)),
                Some((mine, held)) if mine == owner => {
                    self.owner = Some((owner.clone(), (*held).min(*level)));
                }
                // Two customers: no hosting is both's.
                Some(_) => self.grants = Some(BTreeMap::new()),
            },
        }
        self
    }

    /// Whether this is the whole cluster.
    pub fn is_all(&self) -> bool {
        self.grants.is_none() && self.owner.is_none()
    }

    /// The level reached on `hosting`, owned by `owner`; `None` when it is
    /// out of reach.
    pub fn level_on(&self, hosting: &HostingId, owner: Option<&OwnerId>) -> Option<GrantLevel> {
        let by_grants = match &self.grants {
            None => GrantLevel::Manage,
            Some(grants) => *grants.get(hosting)?,
        };
        let by_owner = match &self.owner {
            None => GrantLevel::Manage,
            Some((scoped, level)) => {
                if owner != Some(scoped) {
                    return None;
                }
                *level
            }
        };
        Some(by_grants.min(by_owner))
    }

    /// Whether a hosting's id alone decides whether it is reached (no part
    /// of the reach depends on whose the hosting is).
    pub fn decides_by_id(&self) -> bool {
        self.owner.is_none()
    }

    /// The grants a list is restricted to, if any part of the chain grants.
    pub fn grants(&self) -> Option<&BTreeMap<HostingId, GrantLevel>> {
        self.grants.as_ref()
    }

    /// The customer whose hostings alone are reached, if any.
    pub fn owner(&self) -> Option<&OwnerId> {
        self.owner.as_ref().map(|(owner, _)| owner)
    }

    /// The level reached on every hosting of [`Reach::owner`].
    pub fn owner_level(&self) -> Option<GrantLevel> {
        self.owner.as_ref().map(|(_, level)| *level)
    }

    /// As one scope, for `GET /me`: exact unless the chain mixes grants and
    /// an owner's scope, which is shown as its grants (each of which also
    /// needs the owner).
    pub fn as_scope(&self) -> KeyScope {
        match (&self.grants, &self.owner) {
            (None, None) => KeyScope::All,
            (Some(grants), _) => KeyScope::Grants(grants.clone()),
            (None, Some((owner, level))) => KeyScope::Owner {
                owner: owner.clone(),
                level: *level,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> HostingId {
        s.parse().unwrap()
    }

    fn owner(s: &str) -> OwnerId {
        s.parse().unwrap()
    }

    #[test]
    fn a_chain_reaches_what_every_key_of_it_reaches() {
        use GrantLevel::{Manage, View};
        let grants = KeyScope::Grants([(id("h1"), Manage), (id("h2"), View)].into());
        let customer = KeyScope::Owner {
            owner: owner("cust-1"),
            level: Manage,
        };
        let viewer = KeyScope::Owner {
            owner: owner("cust-1"),
            level: View,
        };
        let other = KeyScope::Owner {
            owner: owner("cust-2"),
            level: Manage,
        };
        assert!(Reach::of(&KeyScope::All).is_all());
        let mine = Some(&owner("cust-1"));
        let theirs = Some(&owner("cust-2"));
        // Grants below a customer's key: the grant, and only while the
        // hosting is that customer's.
        let mixed = Reach::of(&grants).and(&customer);
        assert_eq!(mixed.level_on(&id("h1"), mine), Some(Manage));
        assert_eq!(mixed.level_on(&id("h1"), theirs), None);
        assert_eq!(mixed.level_on(&id("h1"), None), None);
        assert_eq!(mixed.level_on(&id("h2"), mine), Some(View));
        assert_eq!(mixed.level_on(&id("h3"), mine), None);
        assert!(!mixed.decides_by_id());
        // The lower level of two keys of one customer.
        let lowered = Reach::of(&customer).and(&viewer);
        assert_eq!(lowered.level_on(&id("h9"), mine), Some(View));
        // Two customers: nothing.
        let none = Reach::of(&customer).and(&other);
        assert_eq!(none.level_on(&id("h1"), mine), None);
        assert_eq!(none.level_on(&id("h1"), theirs), None);
        assert!(!none.is_all());
    }
}
