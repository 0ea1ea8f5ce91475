//! Answers about hostings as rendered JSON, kept while what they were
//! rendered from is unchanged.
//!
//! Rendering costs more than everything else a read does, and most reads
//! are of hostings that did not change since the last one.
//! - A detail is kept per hosting and view (as a scope-all key sees it, and
//!   as a grants-scoped key sees it: without the node's name). A read reuses
//!   the bytes when the node hands back the same detail: the same `Arc` (a
//!   node that keeps its hostings in memory does so until the hosting
//!   changes), or an equal value.
//! - A page, as a scope-all key sees it, is kept per query with the
//!   revisions of the nodes it asked ([`crate::Node::revision`]). A read
//!   reuses it, without asking the nodes, only when every one of them
//!   vouches for the same revision now. A partial page is never kept.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;

use crate::model::{
    HostingDetail, HostingId, HostingState, LabelSelector, NodeId, OwnerId, PlanName,
};

/// Hostings kept at most; past it the cache starts again empty (a cheap
/// bound: one render per hosting to fill it again).
const MAX_ENTRIES: usize = 4096;

/// Pages kept at most, likewise.
const MAX_PAGES: usize = 256;

/// Who reads: node names never reach a grants-scoped key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum View {
    /// A scope-all key: everything.
    Cluster,
    /// A grants-scoped key: `node_id` is null.
    Tenant,
}

/// The rendered details, by hosting id.
#[derive(Default)]
pub(crate) struct RenderedHostings {
    entries: Mutex<HashMap<HostingId, Entry>>,
}

struct Entry {
    /// What the bytes were rendered from.
    hosting: Arc<HostingDetail>,
    cluster: Option<Bytes>,
    tenant: Option<Bytes>,
}

impl Entry {
    fn view(&mut self, view: View) -> &mut Option<Bytes> {
        match view {
            View::Cluster => &mut self.cluster,
            View::Tenant => &mut self.tenant,
        }
    }
}

impl RenderedHostings {
    /// The JSON of `hosting` as `view` sees it.
    pub(crate) fn detail(&self, hosting: &Arc<HostingDetail>, view: View) -> Bytes {
        let id = &hosting.summary.id;
        {
            let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(entry) = entries.get_mut(id)
                && (Arc::ptr_eq(&entry.hosting, hosting) || *entry.hosting == **hosting)
            {
                // An equal value from a fresh `Arc`: keep the newest, so
                // that the next read of it is a pointer comparison.
                entry.hosting = Arc::clone(hosting);
                if let Some(bytes) = entry.view(view) {
                    return bytes.clone();
                }
            }
        }
        let bytes = render(hosting, view);
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(id) {
            entries.clear();
        }
        let entry = entries.entry(id.clone()).or_insert_with(|| Entry {
            hosting: Arc::clone(hosting),
            cluster: None,
            tenant: None,
        });
        if !Arc::ptr_eq(&entry.hosting, hosting) && *entry.hosting != **hosting {
            *entry = Entry {
                hosting: Arc::clone(hosting),
                cluster: None,
                tenant: None,
            };
        }
        *entry.view(view) = Some(bytes.clone());
        bytes
    }
}

/// What a page was asked for (its view is always the scope-all one).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct PageKey {
    pub(crate) node: Option<NodeId>,
    pub(crate) after: Option<HostingId>,
    pub(crate) limit: usize,
    pub(crate) state: Option<HostingState>,
    pub(crate) domain_contains: Option<String>,
    pub(crate) owner: Option<OwnerId>,
    pub(crate) plan: Option<PlanName>,
    pub(crate) labels: Vec<LabelSelector>,
}

/// Rendered pages, with the node revisions they were rendered under.
#[derive(Default)]
pub(crate) struct RenderedPages {
    entries: Mutex<HashMap<PageKey, (Vec<u64>, Bytes)>>,
}

impl RenderedPages {
    /// The page rendered for `key` while the nodes stood at `revisions`.
    pub(crate) fn get(&self, key: &PageKey, revisions: &[u64]) -> Option<Bytes> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let (rendered_under, bytes) = entries.get(key)?;
        (rendered_under.as_slice() == revisions).then(|| bytes.clone())
    }

    /// Keeps `bytes`, rendered for `key` from what the nodes answered after
    /// they were read at `revisions` (read before asking them: a change
    /// meanwhile moves a revision on, and the page is not reused).
    pub(crate) fn keep(&self, key: PageKey, revisions: Vec<u64>, bytes: Bytes) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= MAX_PAGES && !entries.contains_key(&key) {
            entries.clear();
        }
        entries.insert(key, (revisions, bytes));
    }
}

/// Renders `hosting` for `view`.
fn render(hosting: &HostingDetail, view: View) -> Bytes {
    let rendered = match view {
        View::Cluster => serde_json::to_vec(hosting),
        View::Tenant => {
            let mut hidden = hosting.clone();
            hidden.summary.node_id = None;
            serde_json::to_vec(&hidden)
        }
    };
    // A detail is plain data: rendering it cannot fail.
    Bytes::from(rendered.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::HostingState;
    use crate::sim::SimClusterSpec;

    fn hosting() -> Arc<HostingDetail> {
        Arc::new(SimClusterSpec::default().hosting(7, &"node-1".parse().unwrap()))
    }

    #[test]
    fn a_changed_hosting_is_rendered_again() {
        let cache = RenderedHostings::default();
        let first = hosting();
        let before = cache.detail(&first, View::Cluster);
        assert_eq!(before, Bytes::from(serde_json::to_vec(&*first).unwrap()));
        // The same value from a fresh allocation: the same bytes.
        assert_eq!(
            cache.detail(&Arc::new((*first).clone()), View::Cluster),
            before
        );
        let mut changed = (*first).clone();
        changed.summary.state = HostingState::Suspended;
        let after = cache.detail(&Arc::new(changed.clone()), View::Cluster);
        assert_eq!(after, Bytes::from(serde_json::to_vec(&changed).unwrap()));
        assert_ne!(after, before);
    }

    #[test]
    fn a_page_is_reused_only_under_the_revisions_it_was_rendered_under() {
        let pages = RenderedPages::default();
        let key = PageKey {
            node: None,
            after: None,
            limit: 50,
            state: None,
            domain_contains: None,
            owner: None,
            plan: None,
            labels: Vec::new(),
        };
        pages.keep(key.clone(), vec![3, 7], Bytes::from_static(b"page"));
        assert_eq!(pages.get(&key, &[3, 7]), Some(Bytes::from_static(b"page")));
        assert_eq!(pages.get(&key, &[3, 8]), None, "a node changed");
        assert_eq!(pages.get(&key, &[3]), None, "not the same nodes");
        let other = PageKey { limit: 10, ..key };
        assert_eq!(pages.get(&other, &[3, 7]), None, "another query");
    }

    #[test]
    fn a_tenant_never_gets_the_bytes_that_name_the_node() {
        let cache = RenderedHostings::default();
        let hosting = hosting();
        let cluster = cache.detail(&hosting, View::Cluster);
        let tenant = cache.detail(&hosting, View::Tenant);
        let cluster: serde_json::Value = serde_json::from_slice(&cluster).unwrap();
        let tenant: serde_json::Value = serde_json::from_slice(&tenant).unwrap();
        assert!(cluster["node_id"].is_string());
        assert!(tenant["node_id"].is_null());
        // And the other way round, from an empty cache.
        let cache = RenderedHostings::default();
        let tenant = cache.detail(&hosting, View::Tenant);
        let cluster = cache.detail(&hosting, View::Cluster);
        assert!(serde_json::from_slice::<serde_json::Value>(&tenant).unwrap()["node_id"].is_null());
        assert!(
            serde_json::from_slice::<serde_json::Value>(&cluster).unwrap()["node_id"].is_string()
        );
    }
}
