//! Where hostings live: id and domain → node, learned from lists, lookups
//! and creates, corrected on a miss and on a delete. A known hosting costs
//! one node call instead of a round over every node.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use crate::model::{Domain, Hosting, HostingDetail, HostingId, HostingSelector, NodeId, OwnerId};

/// Past this many hostings the locator starts over (it is only a cache).
const MAX_ENTRIES: usize = 2_000_000;

#[derive(Default)]
struct Maps {
    /// Hosting → its node, every name it answers to, and whose it was.
    by_id: HashMap<HostingId, (NodeId, Vec<Domain>, Option<OwnerId>)>,
    by_domain: HashMap<Domain, HostingId>,
}

/// The cache of hosting locations.
#[derive(Default)]
pub struct Locator {
    maps: RwLock<Maps>,
}

impl Locator {
    /// The id of the hosting `selector` names, as far as the locator knows.
    pub fn id_of(&self, selector: &HostingSelector) -> Option<HostingId> {
        match selector {
            HostingSelector::Id(id) => Some(id.clone()),
            HostingSelector::Domain(domain) => self
                .maps
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .by_domain
                .get(domain)
                .cloned(),
        }
    }

    /// The node believed to hold the hosting `selector` names.
    pub fn node_of(&self, selector: &HostingSelector) -> Option<NodeId> {
        let maps = self.maps.read().unwrap_or_else(PoisonError::into_inner);
        let id = match selector {
            HostingSelector::Id(id) => id,
            HostingSelector::Domain(domain) => maps.by_domain.get(domain)?,
        };
        maps.by_id.get(id).map(|(node, _, _)| node.clone())
    }

    /// The id, node and owner of the hosting `selector` names, as last seen.
    pub fn known(
        &self,
        selector: &HostingSelector,
    ) -> Option<(HostingId, NodeId, Option<OwnerId>)> {
        let maps = self.maps.read().unwrap_or_else(PoisonError::into_inner);
        let id = match selector {
            HostingSelector::Id(id) => id,
            HostingSelector::Domain(domain) => maps.by_domain.get(domain)?,
        };
        maps.by_id
            .get(id)
            .map(|(node, _, owner)| (id.clone(), node.clone(), owner.clone()))
    }

    /// Learns where listed hostings live, under one lock. A hosting already
    /// known on the same node is left as it is (with any aliases a lookup
    /// taught), so listing the same page again costs no allocation.
    pub fn learn_page(&self, hostings: &[Hosting]) {
        let known = |maps: &Maps, hosting: &Hosting| {
            maps.by_id.get(&hosting.id).is_some_and(|(node, _, owner)| {
                Some(node) == hosting.node_id.as_ref() && *owner == hosting.owner
            })
        };
        {
            let maps = self.maps.read().unwrap_or_else(PoisonError::into_inner);
            if hostings.iter().all(|hosting| known(&maps, hosting)) {
                return;
            }
        }
        let mut maps = self.maps.write().unwrap_or_else(PoisonError::into_inner);
        for hosting in hostings {
            if let (false, Some(node)) = (known(&maps, hosting), &hosting.node_id) {
                maps.remember(
                    &hosting.id,
                    node,
                    vec![hosting.domain.clone()],
                    hosting.owner.clone(),
                );
            }
        }
    }

    /// Learns where a hosting lives, with all of its names.
    pub fn learn_detail(&self, hosting: &HostingDetail, node: &NodeId) {
        let mut names = vec![hosting.summary.domain.clone()];
        names.extend(hosting.aliases.iter().cloned());
        let mut maps = self.maps.write().unwrap_or_else(PoisonError::into_inner);
        maps.remember(
            &hosting.summary.id,
            node,
            names,
            hosting.summary.owner.clone(),
        );
    }

    /// Forgets a hosting (deleted, or not where it was believed to be).
    pub fn forget(&self, id: &HostingId) {
        let mut maps = self.maps.write().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, names, _)) = maps.by_id.remove(id) {
            for name in names {
                if maps.by_domain.get(&name) == Some(id) {
                    maps.by_domain.remove(&name);
                }
            }
        }
    }

    /// Forgets what `selector` pointed to.
    pub fn forget_selector(&self, selector: &HostingSelector) {
        let id = match selector {
            HostingSelector::Id(id) => Some(id.clone()),
            HostingSelector::Domain(domain) => {
                let mut maps = self.maps.write().unwrap_or_else(PoisonError::into_inner);
                maps.by_domain.remove(domain)
            }
        };
        if let Some(id) = id {
            self.forget(&id);
        }
    }
}

impl Maps {
    /// Records that `id`, answering to `names`, lives on `node`; starts over
    /// first when full.
    fn remember(
        &mut self,
        id: &HostingId,
        node: &NodeId,
        names: Vec<Domain>,
        owner: Option<OwnerId>,
    ) {
        if self.by_id.len() >= MAX_ENTRIES && !self.by_id.contains_key(id) {
            *self = Maps::default();
        }
        for name in &names {
            self.by_domain.insert(name.clone(), id.clone());
        }
        self.by_id.insert(id.clone(), (node.clone(), names, owner));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SimClusterSpec;

    #[test]
    fn learns_forgets_and_follows_aliases() {
        let spec = SimClusterSpec::default();
        let node: NodeId = "node-2".parse().unwrap();
        let hosting = spec.hosting(4, &node);
        let locator = Locator::default();
        let by_alias = HostingSelector::Domain(hosting.aliases[0].clone());
        let by_id = HostingSelector::Id(hosting.summary.id.clone());
        assert_eq!(locator.node_of(&by_id), None);
        locator.learn_detail(&hosting, &node);
        assert_eq!(locator.node_of(&by_id), Some(node.clone()));
        assert_eq!(locator.node_of(&by_alias), Some(node.clone()));
        locator.forget_selector(&by_alias);
        assert_eq!(locator.node_of(&by_id), None);
        assert_eq!(
            locator.node_of(&HostingSelector::Domain(hosting.summary.domain.clone())),
            None
        );
        locator.learn_page(std::slice::from_ref(&hosting.summary));
        assert_eq!(locator.node_of(&by_id), Some(node.clone()));
        // Listing it again keeps what a lookup taught: the alias.
        locator.learn_detail(&hosting, &node);
        locator.learn_page(std::slice::from_ref(&hosting.summary));
        assert_eq!(locator.node_of(&by_alias), Some(node));
    }
}
