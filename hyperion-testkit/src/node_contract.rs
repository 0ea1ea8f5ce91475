//! The `Node` contract suite: what the API relies on from every [`Node`],
//! checked against yours.
//!
//! You give a factory that builds a fresh node under test holding exactly
//! the hostings of a [`NodeSeed`]; one line makes one test per check:
//!
//! ```ignore
//! async fn my_node(seed: hyperion_testkit::node_contract::NodeSeed) -> std::sync::Arc<dyn hyperion_core::Node> {
//!     let node = MyNode::new(seed.node);
//!     for hosting in seed.hostings {
//!         node.insert(hosting); // however your test double or sandbox is filled
//!     }
//!     std::sync::Arc::new(node)
//! }
//! hyperion_testkit::node_contract_suite!(my_node);
//! ```
//!
//! The checks: lists in id order, with the cursor, `limit + 1` items and a
//! total that ignores the cursor; every filter (state, domain text, owner,
//! plan, labels, a tenant's grants, a key's owner) alone and together; every
//! field of a hosting kept as held (a difference names the field); find by id, by domain and by alias;
//! suspend and resume answering the state they reach and doing nothing when
//! already there, with the suspender recorded; delete; `NotFound` for an
//! unknown hosting on every call that names one (the API answers 404 for
//! it, and 502 for `Unavailable`); and provisioning calls that either work
//! or answer `Unsupported` (the API answers 502 for them then).

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use hyperion_core::model::ConfigChange;
use hyperion_core::model::{
    Domain, Hosting, HostingDetail, HostingId, HostingKind, HostingSelector, HostingState, Labels,
    NewHosting, NodeId, OwnerId, PhpVersion, SuspendedBy,
};
use hyperion_core::sim::SimClusterSpec;
use hyperion_core::{DeleteOptions, JobProgress, ListQuery, Node, NodeError};

/// What a fresh node under test must hold: its id and its hostings.
#[derive(Clone, Debug)]
pub struct NodeSeed {
    /// The id the node must answer from [`Node::id`] and put in every
    /// hosting's `node_id`.
    pub node: NodeId,
    /// The hostings it holds at the start: ids, domains, aliases, states
    /// (some suspended, by the operator), PHP versions, kinds, limits,
    /// vhost options, quotas, owners, plans and labels vary, so a node that
    /// loses or mixes up any of them fails.
    pub hostings: Vec<HostingDetail>,
}

/// How many hostings a seed holds: enough for several pages.
pub const SEED_HOSTINGS: usize = 23;

impl NodeSeed {
    /// The seed every check starts from.
    pub fn standard() -> Self {
        let spec = SimClusterSpec {
            seed: 42,
            nodes: 1,
            hostings: SEED_HOSTINGS,
            ..SimClusterSpec::default()
        };
        let node: NodeId = "node-under-test".parse().expect("a valid node id");
        let hostings = (0..SEED_HOSTINGS)
            .map(|index| varied(spec.hosting(index, &node), index))
            .collect();
        NodeSeed { node, hostings }
    }

    fn summaries(&self) -> Vec<Hosting> {
        let mut all: Vec<Hosting> = self.hostings.iter().map(|h| h.summary.clone()).collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all
    }
}

/// `hosting` (number `index` of the seed) made unlike its neighbours in
/// everything a node keeps: kind, limits, vhost, quota, owner, plan, labels.
fn varied(mut hosting: HostingDetail, index: usize) -> HostingDetail {
    match index % 3 {
        1 => {
            hosting.kind = HostingKind::Static;
            hosting.summary.php_version = None;
        }
        2 => {
            hosting.kind = HostingKind::ReverseProxy;
            hosting.summary.php_version = None;
            hosting.proxy_upstream_url = Some(format!("http://10.0.0.{index}:8080"));
        }
        _ => {}
    }
    hosting.limits.cpu_percent = 50 + index as u32 * 10;
    hosting.limits.memory_mb = 256 + index as u32 * 64;
    hosting.vhost.force_https = index.is_multiple_of(2);
    hosting.vhost.maintenance = index % 5 == 4;
    hosting.quota.disk_soft_mb = Some(1000 + index as u64);
    hosting.quota.disk_hard_mb = (!index.is_multiple_of(4)).then_some(2000 + index as u64);
    // Owners and plans in runs that no id order follows; one hosting of
    // nobody, on no plan, without labels.
    let owner = ["cust-a", "cust-b", "cust-c"][(index * 7) % 3];
    hosting.summary.owner = (index != 5).then(|| owner.parse().expect("a valid owner"));
    hosting.summary.plan = (index != 5).then(|| {
        ["basic", "pro"][(index * 5) % 2]
            .parse()
            .expect("a valid plan")
    });
    if index == 5 {
        hosting.summary.labels = Labels::new();
    }
    hosting
}

/// The first field (in the API's JSON) in which `got` differs from
/// `held`, so that a failing check names what the node lost or changed.
fn differing_field<T: serde::Serialize>(got: &T, held: &T) -> Option<String> {
    let got = serde_json::to_value(got).expect("hostings serialize");
    let held = serde_json::to_value(held).expect("hostings serialize");
    let (Some(got), Some(held)) = (got.as_object(), held.as_object()) else {
        return (got != held).then(|| "the whole value".to_owned());
    };
    held.iter()
        .find(|(field, value)| got.get(*field) != Some(*value))
        .map(|(field, value)| {
            format!(
                "`{field}`: held {value}, answered {}",
                got.get(field)
                    .map_or("nothing".to_owned(), ToString::to_string)
            )
        })
        .or_else(|| {
            got.keys()
                .find(|field| !held.contains_key(*field))
                .map(|field| format!("`{field}`: not held, answered"))
        })
}

/// Fails, naming the field, unless `got` is `held`.
fn assert_same<T: serde::Serialize>(got: &T, held: &T, what: &str) {
    if let Some(field) = differing_field(got, held) {
        panic!("{what}: it differs from the hosting held in {field}");
    }
}

/// Builds a node under test from a seed.
pub type NodeFactory = fn(NodeSeed) -> Pin<Box<dyn Future<Output = Arc<dyn Node>> + Send>>;

/// A fresh node from `factory`, with its seed.
async fn fresh(factory: NodeFactory) -> (Arc<dyn Node>, NodeSeed) {
    let seed = NodeSeed::standard();
    let node = factory(seed.clone()).await;
    assert_eq!(
        node.id(),
        &seed.node,
        "Node::id must answer the seed's node id"
    );
    (node, seed)
}

fn query(limit: usize) -> ListQuery {
    ListQuery {
        limit,
        ..ListQuery::default()
    }
}

/// Walks every page of `query` (its `limit` as page size) and checks the
/// paging rules on each; answers every item and the totals seen.
async fn walk(node: &dyn Node, mut query: ListQuery) -> (Vec<Hosting>, Vec<u64>) {
    let mut seen: Vec<Hosting> = Vec::new();
    let mut totals = Vec::new();
    for _ in 0..1000 {
        let page = node
            .list_hostings(&query)
            .await
            .expect("list_hostings answers");
        totals.push(page.total);
        assert!(
            page.items.len() <= query.limit + 1,
            "a page holds at most limit + 1 items ({} for limit {})",
            page.items.len(),
            query.limit
        );
        for pair in page.items.windows(2) {
            assert!(
                pair[0].id < pair[1].id,
                "items come in strictly ascending id order: {} then {}",
                pair[0].id,
                pair[1].id
            );
        }
        if let (Some(after), Some(first)) = (&query.after, page.items.first()) {
            assert!(
                first.id > *after,
                "items come after the cursor {after}, not {}",
                first.id
            );
        }
        let more = page.items.len() > query.limit;
        seen.extend(page.items.into_iter().take(query.limit));
        if !more {
            return (seen, totals);
        }
        query.after = seen.last().map(|h| h.id.clone());
    }
    panic!("listing never ended");
}

fn owner(name: &str) -> OwnerId {
    name.parse().expect("a valid owner id")
}

fn ids(hostings: &[Hosting]) -> Vec<HostingId> {
    hostings.iter().map(|h| h.id.clone()).collect()
}

/// Pages of 5 cover every hosting once, in id order, with `limit + 1`
/// telling that another page exists, and the same total on every page.
pub async fn lists_every_hosting_once_in_id_order(factory: NodeFactory) {
    let (node, seed) = fresh(factory).await;
    let (seen, totals) = walk(node.as_ref(), query(5)).await;
    assert_eq!(
        ids(&seen),
        ids(&seed.summaries()),
        "pages cover every hosting once"
    );
    assert!(
        totals.iter().all(|t| *t == SEED_HOSTINGS as u64),
        "the total counts every match, whatever the cursor: {totals:?}"
    );
    for (listed, seeded) in seen.iter().zip(seed.summaries()) {
        assert_same(listed, &seeded, &format!("listed hosting {}", seeded.id));
    }
}

/// A page of exactly the remaining items has no extra item, and a cursor
/// past the last id gives an empty page with the full total.
pub async fn page_edges_are_exact(factory: NodeFactory) {
    let (node, seed) = fresh(factory).await;
    let all = seed.summaries();
    let exact = node
        .list_hostings(&query(SEED_HOSTINGS))
        .await
        .expect("list_hostings answers");
    assert_eq!(exact.items.len(), SEED_HOSTINGS, "no extra item at the end");
    let one_less = node
        .list_hostings(&query(SEED_HOSTINGS - 1))
        .await
        .expect("list_hostings answers");
    assert_eq!(
        one_less.items.len(),
        SEED_HOSTINGS,
        "limit + 1 items when more remain"
    );
    let past = ListQuery {
        after: all.last().map(|h| h.id.clone()),
        ..query(10)
    };
    let empty = node
        .list_hostings(&past)
        .await
        .expect("list_hostings answers");
    assert!(empty.items.is_empty(), "nothing after the last id");
    assert_eq!(
        empty.total, SEED_HOSTINGS as u64,
        "the total ignores the cursor"
    );
    let none = node
        .list_hostings(&query(0))
        .await
        .expect("list_hostings answers");
    assert!(none.items.len() <= 1, "limit 0 answers at most one item");
}

/// Each filter alone and all together keep exactly the matching hostings,
/// and the total counts exactly them.
pub async fn filters_keep_exactly_the_matches(factory: NodeFactory) {
    let (node, seed) = fresh(factory).await;
    let all = seed.summaries();
    let granted: BTreeSet<HostingId> = all.iter().step_by(3).map(|h| h.id.clone()).collect();
    let cases: Vec<(&str, ListQuery)> = vec![
        (
            "state suspended",
            ListQuery {
                state: Some(HostingState::Suspended),
                ..query(4)
            },
        ),
        (
            "state active",
            ListQuery {
                state: Some(HostingState::Active),
                ..query(4)
            },
        ),
        (
            "domain contains `site-001`",
            ListQuery {
                domain_contains: Some("site-001".to_owned()),
                ..query(4)
            },
        ),
        (
            "domain contains nothing held",
            ListQuery {
                domain_contains: Some("no-such-name".to_owned()),
                ..query(4)
            },
        ),
        (
            "a tenant's grants",
            ListQuery {
                only: Some(Arc::new(granted.clone())),
                ..query(4)
            },
        ),
        (
            "no grants at all",
            ListQuery {
                only: Some(Arc::new(BTreeSet::new())),
                ..query(4)
            },
        ),
        (
            "grants, state and domain together",
            ListQuery {
                only: Some(Arc::new(granted.clone())),
                state: Some(HostingState::Active),
                domain_contains: Some("site-00".to_owned()),
                ..query(2)
            },
        ),
        (
            "owner cust-a",
            ListQuery {
                owner: Some(owner("cust-a")),
                ..query(3)
            },
        ),
        (
            "an owner holding nothing",
            ListQuery {
                owner: Some(owner("cust-none")),
                ..query(3)
            },
        ),
        (
            "a key scoped to owner cust-b",
            ListQuery {
                only_owner: Some(owner("cust-b")),
                ..query(3)
            },
        ),
        (
            "a key scoped to cust-b asking for cust-a's",
            ListQuery {
                only_owner: Some(owner("cust-b")),
                owner: Some(owner("cust-a")),
                ..query(3)
            },
        ),
        (
            "plan pro",
            ListQuery {
                plan: Some("pro".parse().expect("a valid plan")),
                ..query(3)
            },
        ),
        (
            "label region=eu",
            ListQuery {
                labels: vec!["region=eu".parse().expect("a valid label filter")],
                ..query(3)
            },
        ),
        (
            "labels region=eu and tier=gold",
            ListQuery {
                labels: vec![
                    "region=eu".parse().expect("a valid label filter"),
                    "tier=gold".parse().expect("a valid label filter"),
                ],
                ..query(3)
            },
        ),
        (
            "owner, plan, label, state and grants together",
            ListQuery {
                owner: Some(owner("cust-c")),
                plan: Some("basic".parse().expect("a valid plan")),
                labels: vec!["region=eu".parse().expect("a valid label filter")],
                state: Some(HostingState::Active),
                only: Some(Arc::new(granted)),
                ..query(1)
            },
        ),
    ];
    for (what, filter) in cases {
        let expected: Vec<HostingId> = all
            .iter()
            .filter(|h| filter.matches(h))
            .map(|h| h.id.clone())
            .collect();
        let (seen, totals) = walk(node.as_ref(), filter).await;
        assert_eq!(ids(&seen), expected, "{what}: exactly the matches");
        assert!(
            totals.iter().all(|t| *t == expected.len() as u64),
            "{what}: the total counts the matches ({} expected, {totals:?} answered)",
            expected.len()
        );
    }
}

/// Find answers the hosting by id, by primary domain and by alias, and
/// `None` (not an error) for what the node does not hold.
pub async fn finds_by_id_domain_and_alias(factory: NodeFactory) {
    let (node, seed) = fresh(factory).await;
    for held in seed.hostings.iter().take(5) {
        let id = &held.summary.id;
        let by_id = node
            .find_hosting(&HostingSelector::Id(id.clone()))
            .await
            .expect("find_hosting answers");
        let by_id = by_id.unwrap_or_else(|| panic!("hosting {id} is found by id"));
        assert_same(&*by_id, held, &format!("hosting {id} found by id"));
        let by_domain = node
            .find_hosting(&HostingSelector::Domain(held.summary.domain.clone()))
            .await
            .expect("find_hosting answers");
        assert_eq!(
            by_domain.map(|h| h.summary.id.clone()),
            Some(id.clone()),
            "found by domain"
        );
        for alias in &held.aliases {
            let by_alias = node
                .find_hosting(&HostingSelector::Domain(alias.clone()))
                .await
                .expect("find_hosting answers");
            assert_eq!(
                by_alias.map(|h| h.summary.id.clone()),
                Some(id.clone()),
                "found by alias {alias}"
            );
        }
        // Selectors reach a node normalised: a domain in any case parses
        // to the same lowercase name.
        let shouted: Domain = held
            .summary
            .domain
            .as_str()
            .to_uppercase()
            .parse()
            .expect("a valid domain");
        let by_shout = node
            .find_hosting(&HostingSelector::Domain(shouted))
            .await
            .expect("find_hosting answers");
        assert_eq!(
            by_shout.map(|h| h.summary.id.clone()),
            Some(id.clone()),
            "found by domain in capitals"
        );
    }
    let missing = node
        .find_hosting(&HostingSelector::Id(unknown_id()))
        .await
        .expect("find_hosting answers");
    assert!(missing.is_none(), "an unknown id is None, not an error");
    let missing = node
        .find_hosting(&HostingSelector::Domain(
            "not-held.example.test".parse().expect("a valid domain"),
        ))
        .await
        .expect("find_hosting answers");
    assert!(missing.is_none(), "an unknown domain is None, not an error");
}

fn unknown_id() -> HostingId {
    "hffffffffffffffff".parse().expect("a valid hosting id")
}

/// Suspend and resume answer the state reached, do nothing when already
/// there, show in lists and details, and the suspender is recorded.
pub async fn suspend_and_resume_are_idempotent(factory: NodeFactory) {
    let (node, seed) = fresh(factory).await;
    let active = seed
        .hostings
        .iter()
        .find(|h| h.summary.state == HostingState::Active)
        .expect("the seed holds an active hosting");
    let id = &active.summary.id;
    for _ in 0..2 {
        let state = node
            .suspend(id, SuspendedBy::Tenant)
            .await
            .expect("suspend answers");
        assert_eq!(state, HostingState::Suspended);
    }
    let detail = find(node.as_ref(), id).await;
    assert_eq!(detail.summary.state, HostingState::Suspended);
    assert_eq!(
        detail.suspended_by,
        Some(SuspendedBy::Tenant),
        "the suspender is recorded"
    );
    // The operator's word on a tenant's suspension replaces it.
    node.suspend(id, SuspendedBy::Operator)
        .await
        .expect("suspend answers");
    assert_eq!(
        find(node.as_ref(), id).await.suspended_by,
        Some(SuspendedBy::Operator),
        "an operator's suspension replaces a tenant's"
    );
    let suspended = ListQuery {
        state: Some(HostingState::Suspended),
        ..query(100)
    };
    let page = node.list_hostings(&suspended).await.expect("list answers");
    assert!(
        page.items.iter().any(|h| h.id == *id),
        "a suspended hosting is listed as suspended"
    );
    for _ in 0..2 {
        let state = node.resume(id).await.expect("resume answers");
        assert_eq!(state, HostingState::Active);
    }
    let detail = find(node.as_ref(), id).await;
    assert_eq!(detail.summary.state, HostingState::Active);
    assert_eq!(
        detail.suspended_by, None,
        "an active hosting has no suspender"
    );
}

async fn find(node: &dyn Node, id: &HostingId) -> HostingDetail {
    node.find_hosting(&HostingSelector::Id(id.clone()))
        .await
        .expect("find_hosting answers")
        .map(Arc::unwrap_or_clone)
        .expect("the hosting is held")
}

/// Delete removes the hosting from finds and lists; it is then unknown.
pub async fn delete_removes_the_hosting(factory: NodeFactory) {
    let (node, seed) = fresh(factory).await;
    let gone = &seed.hostings[0];
    let id = &gone.summary.id;
    node.delete(id, DeleteOptions::default())
        .await
        .expect("delete answers");
    let found = node
        .find_hosting(&HostingSelector::Id(id.clone()))
        .await
        .expect("find_hosting answers");
    assert!(found.is_none(), "a deleted hosting is not found by id");
    let found = node
        .find_hosting(&HostingSelector::Domain(gone.summary.domain.clone()))
        .await
        .expect("find_hosting answers");
    assert!(found.is_none(), "a deleted hosting is not found by domain");
    let (seen, totals) = walk(node.as_ref(), query(50)).await;
    assert!(!ids(&seen).contains(id), "a deleted hosting is not listed");
    assert_eq!(totals, [SEED_HOSTINGS as u64 - 1], "and not counted");
    let again = node.delete(id, DeleteOptions::default()).await;
    assert_eq!(
        again,
        Err(NodeError::NotFound),
        "deleting it again is NotFound"
    );
}

/// A node that reports a revision ([`Node::revision`]) moves it with every
/// change and only then: the API answers pages from what it rendered while
/// the revisions stand still, so a change that did not move it would never
/// be seen. A node that reports none passes as it is.
pub async fn revision_moves_with_every_change(factory: NodeFactory) {
    let (node, seed) = fresh(factory).await;
    let Some(start) = node.revision() else {
        return;
    };
    let id = &seed
        .hostings
        .iter()
        .find(|h| h.summary.state == HostingState::Active)
        .expect("the seed holds an active hosting")
        .summary
        .id;
    walk(node.as_ref(), query(10)).await;
    find(node.as_ref(), id).await;
    assert_eq!(
        node.revision(),
        Some(start),
        "reads leave the revision alone"
    );
    node.suspend(id, SuspendedBy::Tenant)
        .await
        .expect("suspend answers");
    let suspended = node.revision();
    assert!(
        suspended.is_some() && suspended != Some(start),
        "a suspend moves the revision"
    );
    node.resume(id).await.expect("resume answers");
    let resumed = node.revision();
    assert!(
        resumed.is_some() && resumed != suspended && resumed != Some(start),
        "a resume moves it again, never back"
    );
    node.delete(id, DeleteOptions::default())
        .await
        .expect("delete answers");
    let deleted = node.revision();
    assert!(
        deleted.is_some() && deleted != resumed,
        "a delete moves the revision"
    );
}

/// Every call naming a hosting the node does not hold answers `NotFound`
/// (the API's 404), never another error and never a panic.
pub async fn unknown_hostings_are_not_found(factory: NodeFactory) {
    let (node, _) = fresh(factory).await;
    let id = unknown_id();
    let progress = JobProgress::new(|_, _| {});
    assert_eq!(
        node.suspend(&id, SuspendedBy::Operator).await,
        Err(NodeError::NotFound),
        "suspend"
    );
    assert_eq!(node.resume(&id).await, Err(NodeError::NotFound), "resume");
    assert_eq!(
        node.delete(&id, DeleteOptions::default()).await,
        Err(NodeError::NotFound),
        "delete"
    );
    for (call, answer) in [
        ("list_backups", node.list_backups(&id).await.map(|_| ())),
        ("backup", node.backup(&id, &progress).await.map(|_| ())),
        (
            "issue_certificate",
            node.issue_certificate(&id, true, &progress)
                .await
                .map(|_| ()),
        ),
    ] {
        assert!(
            matches!(answer, Err(NodeError::NotFound | NodeError::Unsupported(_))),
            "{call} of an unknown hosting is NotFound (or Unsupported): {answer:?}"
        );
    }
}

/// A node's description names the node.
pub async fn info_describes_the_node(factory: NodeFactory) {
    let (node, seed) = fresh(factory).await;
    let info = node.info().await.expect("info answers");
    assert_eq!(info.id, seed.node, "info names the node");
}

/// Provisioning either works (create answers the hosting as asked, which
/// is then found and listed; a second create of its domain is a
/// `Conflict`) or answers `Unsupported`: never another error.
pub async fn provisioning_works_or_is_unsupported(factory: NodeFactory) {
    let (node, seed) = fresh(factory).await;
    let new = NewHosting {
        id: "h0123456789abcdef".parse().expect("a valid hosting id"),
        domain: "fresh.example.test".parse().expect("a valid domain"),
        kind: HostingKind::Php,
        php_version: Some(PhpVersion::ALL[0]),
        aliases: vec!["www.fresh.example.test".parse().expect("a valid domain")],
        database: false,
        system_user: "freshuser".to_owned(),
        proxy_upstream_url: None,
        owner: Some("cust-fresh".parse().expect("a valid owner")),
        plan: Some("fresh-plan".parse().expect("a valid plan")),
        labels: serde_json::from_value(serde_json::json!({"tier": "gold"})).expect("valid labels"),
    };
    match node.create(&new).await {
        Err(NodeError::Unsupported(_)) => {}
        Err(other) => panic!("create answers the hosting or Unsupported, not {other:?}"),
        Ok(created) => {
            assert_eq!(created.summary.id, new.id, "the id the core chose");
            assert_eq!(created.summary.domain, new.domain);
            assert_eq!(created.summary.node_id, Some(seed.node.clone()));
            assert_eq!(created.summary.state, HostingState::Active);
            assert_eq!(created.aliases, new.aliases);
            assert_eq!(created.system_user, new.system_user);
            assert_eq!(created.summary.owner, new.owner, "the owner asked for");
            assert_eq!(created.summary.plan, new.plan, "the plan asked for");
            assert_eq!(created.summary.labels, new.labels, "the labels asked for");
            assert_eq!(
                find(node.as_ref(), &new.id).await,
                created,
                "found as created"
            );
            let by_alias = node
                .find_hosting(&HostingSelector::Domain(new.aliases[0].clone()))
                .await
                .expect("find_hosting answers");
            assert_eq!(by_alias.map(|h| h.summary.id.clone()), Some(new.id.clone()));
            let (seen, _) = walk(node.as_ref(), query(50)).await;
            assert!(ids(&seen).contains(&new.id), "listed after create");
            let again = NewHosting {
                id: "h0123456789abcdee".parse().expect("a valid hosting id"),
                system_user: "otheruser".to_owned(),
                ..new.clone()
            };
            assert!(
                matches!(node.create(&again).await, Err(NodeError::Conflict(_))),
                "creating a held domain again is a Conflict"
            );
        }
    }
    let held = &seed.hostings[1].summary.id;
    let progress = JobProgress::new(|_, _| {});
    for (call, answer) in [
        ("list_backups", node.list_backups(held).await.map(|_| ())),
        ("backup", node.backup(held, &progress).await.map(|_| ())),
        (
            "issue_certificate",
            node.issue_certificate(held, true, &progress)
                .await
                .map(|_| ()),
        ),
        (
            "renew_certificates",
            node.renew_certificates(&progress).await.map(|_| ()),
        ),
    ] {
        assert!(
            matches!(answer, Ok(()) | Err(NodeError::Unsupported(_))),
            "{call} works or answers Unsupported: {answer:?}"
        );
    }
}

/// A change of owner, plan or labels either works (the answer and every
/// later find and list show it: a hosting moved to another customer leaves
/// the old one's list at once) or answers `Unsupported` (the API answers 502).
pub async fn ownership_changes_work_or_are_unsupported(factory: NodeFactory) {
    let (node, seed) = fresh(factory).await;
    let moved = seed
        .hostings
        .iter()
        .find(|h| h.summary.owner == Some(owner("cust-a")))
        .expect("the seed gives cust-a a hosting");
    let id = &moved.summary.id;
    let to_b = ConfigChange::Owner(Some(owner("cust-b")));
    let mut expected = moved.clone();
    expected.summary.owner = Some(owner("cust-b"));
    match node.update_config(id, &to_b).await {
        Err(NodeError::Unsupported(_)) => return,
        Err(other) => panic!("a change of owner answers the hosting or Unsupported, not {other:?}"),
        Ok(updated) => assert_same(&updated, &expected, "the answer to a change of owner"),
    }
    let of = |name: &str| ListQuery {
        owner: Some(owner(name)),
        ..query(50)
    };
    let (of_a, _) = walk(node.as_ref(), of("cust-a")).await;
    assert!(
        !ids(&of_a).contains(id),
        "a moved hosting leaves its old owner's list"
    );
    let (of_b, _) = walk(node.as_ref(), of("cust-b")).await;
    assert!(
        ids(&of_b).contains(id),
        "a moved hosting is in its new owner's list"
    );
    let plan = Some("gold".parse().expect("a valid plan"));
    let labels: Labels =
        serde_json::from_value(serde_json::json!({"tier": "silver"})).expect("valid labels");
    for change in [
        ConfigChange::Plan(plan.clone()),
        ConfigChange::Labels(labels.clone()),
        ConfigChange::Owner(None),
    ] {
        match &change {
            ConfigChange::Plan(plan) => expected.summary.plan = plan.clone(),
            ConfigChange::Labels(labels) => expected.summary.labels = labels.clone(),
            _ => expected.summary.owner = None,
        }
        let updated = node
            .update_config(id, &change)
            .await
            .unwrap_or_else(|err| panic!("{change:?}: {err:?}"));
        assert_same(&updated, &expected, &format!("the answer to {change:?}"));
        let found = find(node.as_ref(), id).await;
        assert_same(&found, &expected, &format!("found after {change:?}"));
    }
    let (of_b, _) = walk(node.as_ref(), of("cust-b")).await;
    assert!(
        !ids(&of_b).contains(id),
        "a hosting of nobody is in no owner's list"
    );
    // A list by owner shows each hosting as it is now, not as it was.
    let (of_c, _) = walk(node.as_ref(), of("cust-c")).await;
    let changed = &of_c.first().expect("the seed gives cust-c hostings").id;
    node.suspend(changed, SuspendedBy::Tenant)
        .await
        .expect("suspend answers");
    let (of_c, _) = walk(node.as_ref(), of("cust-c")).await;
    for listed in &of_c {
        let held = find(node.as_ref(), &listed.id).await.summary;
        assert_same(
            listed,
            &held,
            &format!("hosting {} listed by owner", listed.id),
        );
    }
}

/// Every check, by name (see [`node_contract_suite!`](crate::node_contract_suite)).
#[doc(hidden)]
#[macro_export]
macro_rules! __every_node_check {
    ($factory:path) => {
        $crate::__node_checks! { $factory;
            lists_every_hosting_once_in_id_order,
            page_edges_are_exact,
            filters_keep_exactly_the_matches,
            finds_by_id_domain_and_alias,
            suspend_and_resume_are_idempotent,
            delete_removes_the_hosting,
            revision_moves_with_every_change,
            unknown_hostings_are_not_found,
            info_describes_the_node,
            provisioning_works_or_is_unsupported,
            ownership_changes_work_or_are_unsupported,
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __node_checks {
    ($factory:path; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                $crate::node_contract::$check(|seed| ::std::boxed::Box::pin($factory(seed))).await;
            }
        )*
    };
}

/// Checks a [`Node`] implementation against the contract the API relies
/// on: `node_contract_suite!(factory)` makes one `#[tokio::test]` per check,
/// where `factory` is an `async fn(NodeSeed) -> Arc<dyn Node>` building a
/// fresh node that holds exactly the seed's hostings.
#[macro_export]
macro_rules! node_contract_suite {
    ($factory:path) => {
        $crate::__every_node_check!($factory);
    };
}
