//! A simulated node and cluster: in memory, deterministic for a seed, with
//! optional latency and fault injection. For examples, tests and benches: no
//! real server, no root, no network.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::macros::datetime;

use crate::jobs::JobProgress;
use crate::model::{
    Backup, BackupId, Certificate, ConfigChange, Domain, Hosting, HostingDetail, HostingId,
    HostingKind, HostingSelector, HostingState, Limits, NewHosting, NodeId, NodeInfo, NodeStatus,
    PhpVersion, Quota, RenewReport, RestoreMode, SuspendedBy, VhostOptions, WpInstall,
};
use crate::node::{DeleteOptions, ListQuery, Node, NodeError, NodePage};

/// How a simulated node misbehaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum SimFault {
    /// It answers normally.
    None = 0,
    /// Every call fails with [`NodeError::Unavailable`].
    Fail = 1,
    /// No call ever answers.
    Hang = 2,
    /// Every call panics (a bug in a node implementation).
    Panic = 3,
}

#[derive(Default)]
struct SimState {
    hostings: BTreeMap<HostingId, HostingDetail>,
    by_domain: HashMap<Domain, HostingId>,
    backups: HashMap<HostingId, Vec<Backup>>,
    certificates: HashMap<HostingId, Certificate>,
    wordpress: HashMap<HostingId, String>,
    next_backup: u64,
    draining: bool,
    /// The hostings in each state, by id: a filter by state walks its own
    /// index instead of every hosting, as a real node's database would.
    by_state: HashMap<HostingState, std::collections::BTreeSet<HostingId>>,
}

impl SimState {
    fn set_state(&mut self, id: &HostingId, to: HostingState) -> Result<(), NodeError> {
        let hosting = self.hostings.get_mut(id).ok_or(NodeError::NotFound)?;
        if to != HostingState::Suspended {
            hosting.suspended_by = None;
        }
        let from = std::mem::replace(&mut hosting.summary.state, to);
        self.reindex_state(id, Some(from), Some(to));
        Ok(())
    }

    /// Moves `id` in the state index from `from` to `to` (`None`: not there).
    fn reindex_state(
        &mut self,
        id: &HostingId,
        from: Option<HostingState>,
        to: Option<HostingState>,
    ) {
        if let Some(ids) = from.and_then(|from| self.by_state.get_mut(&from)) {
            ids.remove(id);
        }
        if let Some(to) = to {
            self.by_state.entry(to).or_default().insert(id.clone());
        }
    }

    fn insert(&mut self, hosting: HostingDetail) {
        let old_state = self
            .hostings
            .get(&hosting.summary.id)
            .map(|old| old.summary.state);
        self.reindex_state(&hosting.summary.id, old_state, Some(hosting.summary.state));
        let id = hosting.summary.id.clone();
        self.by_domain
            .insert(hosting.summary.domain.clone(), id.clone());
        for alias in &hosting.aliases {
            self.by_domain.insert(alias.clone(), id.clone());
        }
        self.hostings.insert(id, hosting);
    }

    /// The first of `names` this node already answers to.
    fn taken<'a>(&self, mut names: impl Iterator<Item = &'a Domain>) -> Option<&'a Domain> {
        names.find(|name| self.by_domain.contains_key(*name))
    }

    fn remove(&mut self, id: &HostingId) -> Option<HostingDetail> {
        self.backups.remove(id);
        self.certificates.remove(id);
        self.wordpress.remove(id);
        let hosting = self.hostings.remove(id)?;
        self.reindex_state(id, Some(hosting.summary.state), None);
        self.by_domain.remove(&hosting.summary.domain);
        for alias in &hosting.aliases {
            self.by_domain.remove(alias);
        }
        Some(hosting)
    }
}

/// One simulated server: hostings indexed by id and by domain.
pub struct SimNode {
    id: NodeId,
    /// Latency of every call, in microseconds (settable while it runs).
    latency_us: AtomicU64,
    fault: AtomicU8,
    state: RwLock<SimState>,
}

impl SimNode {
    /// An empty node answering after `latency`.
    pub fn new(id: NodeId, latency: Duration) -> Self {
        SimNode {
            id,
            latency_us: AtomicU64::new(latency.as_micros().min(u64::MAX as u128) as u64),
            fault: AtomicU8::new(SimFault::None as u8),
            state: RwLock::default(),
        }
    }

    /// Adds (or replaces) a hosting, with one backup named `initial`.
    pub fn insert(&self, hosting: HostingDetail) {
        let initial = Backup {
            id: BackupId::try_from("initial".to_owned()).expect("valid backup id"),
            created_at: hosting.summary.created_at + time::Duration::days(1),
            size_bytes: 1 << 20,
            includes_database: hosting.database,
        };
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        state
            .backups
            .insert(hosting.summary.id.clone(), vec![initial]);
        state.insert(hosting);
    }

    /// How many hostings it holds.
    pub fn len(&self) -> usize {
        self.state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .hostings
            .len()
    }

    /// Whether it holds no hosting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Makes every call take `latency` from now on.
    pub fn set_latency(&self, latency: Duration) {
        self.latency_us.store(
            latency.as_micros().min(u64::MAX as u128) as u64,
            Ordering::Relaxed,
        );
    }

    /// Makes it misbehave (or behave again).
    pub fn set_fault(&self, fault: SimFault) {
        self.fault.store(fault as u8, Ordering::Relaxed);
    }

    /// Marks it draining (it takes no new hostings).
    pub fn set_draining(&self, draining: bool) {
        self.state
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .draining = draining;
    }

    /// Waits the simulated latency, then fails or hangs as configured.
    async fn answer(&self) -> Result<(), NodeError> {
        let latency = self.latency_us.load(Ordering::Relaxed);
        if latency > 0 {
            tokio::time::sleep(Duration::from_micros(latency)).await;
        }
        match self.fault.load(Ordering::Relaxed) {
            f if f == SimFault::Fail as u8 => Err(NodeError::Unavailable {
                node: self.id.clone(),
                reason: "simulated failure".to_owned(),
            }),
            f if f == SimFault::Hang as u8 => std::future::pending().await,
            f if f == SimFault::Panic as u8 => panic!("simulated bug in node {}", self.id),
            _ => Ok(()),
        }
    }

    fn read<T>(&self, f: impl FnOnce(&SimState) -> T) -> T {
        f(&self.state.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn write<T>(&self, f: impl FnOnce(&mut SimState) -> T) -> T {
        f(&mut self.state.write().unwrap_or_else(PoisonError::into_inner))
    }

    /// Applies `change` to hosting `id`, answering NotFound when it is gone.
    fn with_hosting<T>(
        &self,
        id: &HostingId,
        change: impl FnOnce(&mut HostingDetail) -> Result<T, NodeError>,
    ) -> Result<T, NodeError> {
        self.write(|state| change(state.hostings.get_mut(id).ok_or(NodeError::NotFound)?))
    }

    fn transition(
        &self,
        id: &HostingId,
        from: HostingState,
        to: HostingState,
    ) -> Result<HostingState, NodeError> {
        self.write(|state| {
            let current = state
                .hostings
                .get(id)
                .ok_or(NodeError::NotFound)?
                .summary
                .state;
            match current {
                current if current == to => Ok(to),
                current if current == from => state.set_state(id, to).map(|()| to),
                current => Err(NodeError::Conflict(format!(
                    "hosting is {current}, not {from}"
                ))),
            }
        })
    }

    /// Records who suspended `id` (an operator's word replaces a tenant's).
    fn record_suspender(&self, id: &HostingId, by: SuspendedBy) {
        self.write(|state| {
            if let Some(hosting) = state.hostings.get_mut(id) {
                if hosting.suspended_by != Some(SuspendedBy::Operator) {
                    hosting.suspended_by = Some(by);
                }
            }
        });
    }

    /// Whether any hosting here runs as `user`.
    pub fn has_system_user(&self, user: &str) -> bool {
        self.read(|state| state.hostings.values().any(|h| h.system_user == user))
    }
}

#[async_trait]
impl Node for SimNode {
    fn id(&self) -> &NodeId {
        &self.id
    }

    async fn info(&self) -> Result<NodeInfo, NodeError> {
        self.answer().await?;
        Ok(self.read(|state| NodeInfo {
            id: self.id.clone(),
            hostname: format!("{}.sim.invalid", self.id),
            status: NodeStatus::Online,
            hostings: state.hostings.len() as u64,
            draining: state.draining,
        }))
    }

    async fn list_hostings(&self, query: &ListQuery) -> Result<NodePage, NodeError> {
        self.answer().await?;
        Ok(self.read(|state| {
            let lower = query
                .after
                .as_ref()
                .map_or(Bound::Unbounded, Bound::Excluded);
            let unfiltered = query.state.is_none() && query.domain_contains.is_none();
            // Indexed paths, as a real node's database would take them: a
            // tenant's few grants are looked up one by one and a state filter
            // walks its own index; only a name filter scans.
            let by_state = query.state.map(|wanted| state.by_state.get(&wanted));
            let lookup = |id: &HostingId| state.hostings.get(id);
            let candidates: Box<dyn Iterator<Item = &HostingDetail>> = match (&query.only, by_state)
            {
                (Some(only), _) => {
                    Box::new(only.range((lower, Bound::Unbounded)).filter_map(lookup))
                }
                (None, Some(Some(ids))) => {
                    Box::new(ids.range((lower, Bound::Unbounded)).filter_map(lookup))
                }
                (None, Some(None)) => Box::new(std::iter::empty()),
                // The hostings themselves, in id order: no second look-up.
                (None, None) => Box::new(
                    state
                        .hostings
                        .range((lower, Bound::Unbounded))
                        .map(|(_, hosting)| hosting),
                ),
            };
            let items: Vec<Hosting> = candidates
                .map(|h| &h.summary)
                .filter(|h| query.matches(h))
                .take(query.limit + 1)
                .cloned()
                .collect();
            let total = match (&query.only, unfiltered) {
                (None, true) => state.hostings.len(),
                (None, false) if query.domain_contains.is_none() => {
                    query.state.map_or(0, |wanted| {
                        state.by_state.get(&wanted).map_or(0, |ids| ids.len())
                    })
                }
                (Some(only), true) => only
                    .iter()
                    .filter(|id| state.hostings.contains_key(*id))
                    .count(),
                (Some(only), false) => only
                    .iter()
                    .filter_map(|id| state.hostings.get(id))
                    .filter(|h| query.matches(&h.summary))
                    .count(),
                // A filter by state or name: a real node would use an index; the
                // simulation counts.
                (None, false) => state
                    .hostings
                    .values()
                    .filter(|h| query.matches(&h.summary))
                    .count(),
            } as u64;
            NodePage { items, total }
        }))
    }

    async fn find_hosting(
        &self,
        selector: &HostingSelector,
    ) -> Result<Option<HostingDetail>, NodeError> {
        self.answer().await?;
        Ok(self.read(|state| {
            let id = match selector {
                HostingSelector::Id(id) => id,
                HostingSelector::Domain(domain) => state.by_domain.get(domain)?,
            };
            state.hostings.get(id).cloned()
        }))
    }

    async fn suspend(&self, id: &HostingId, by: SuspendedBy) -> Result<HostingState, NodeError> {
        self.answer().await?;
        let state = self.transition(id, HostingState::Active, HostingState::Suspended)?;
        self.record_suspender(id, by);
        Ok(state)
    }

    async fn system_user_taken(&self, user: &str) -> Result<bool, NodeError> {
        self.answer().await?;
        Ok(self.has_system_user(user))
    }

    async fn resume(&self, id: &HostingId) -> Result<HostingState, NodeError> {
        self.answer().await?;
        self.transition(id, HostingState::Suspended, HostingState::Active)
    }

    async fn delete(&self, id: &HostingId, _options: DeleteOptions) -> Result<(), NodeError> {
        self.answer().await?;
        self.write(|state| state.set_state(id, HostingState::Deleting))?;
        // The second half of the work: a real node removes files, users, databases here.
        self.answer().await?;
        self.write(|state| state.remove(id))
            .map(|_| ())
            .ok_or(NodeError::NotFound)
    }

    async fn create(&self, new: &NewHosting) -> Result<HostingDetail, NodeError> {
        self.answer().await?;
        if self.has_system_user(&new.system_user) {
            return Err(NodeError::Conflict(format!(
                "system user `{}` is taken on this node",
                new.system_user
            )));
        }
        let detail = HostingDetail {
            summary: Hosting {
                id: new.id.clone(),
                domain: new.domain.clone(),
                state: HostingState::Active,
                php_version: new.php_version,
                node_id: self.id.clone(),
                created_at: crate::model::now(),
            },
            kind: new.kind,
            aliases: new.aliases.clone(),
            system_user: new.system_user.clone(),
            root_dir: format!("/var/www/{}/public", new.domain),
            limits: Limits::default(),
            vhost: VhostOptions::default(),
            quota: Quota::default(),
            database: new.database,
            proxy_upstream_url: new.proxy_upstream_url.clone(),
            expires_at: None,
            suspended_by: None,
        };
        self.write(|state| {
            if state.hostings.contains_key(&new.id) {
                return Err(NodeError::Conflict(format!("hosting {} exists", new.id)));
            }
            let names = std::iter::once(&new.domain).chain(&new.aliases);
            if let Some(taken) = state.taken(names) {
                return Err(NodeError::Conflict(format!("domain {taken} exists")));
            }
            state.backups.insert(new.id.clone(), Vec::new());
            state.insert(detail.clone());
            Ok(detail)
        })
    }

    async fn update_config(
        &self,
        id: &HostingId,
        change: &ConfigChange,
    ) -> Result<HostingDetail, NodeError> {
        self.answer().await?;
        self.with_hosting(id, |hosting| {
            match change {
                ConfigChange::Limits(limits) => hosting.limits = limits.clone(),
                ConfigChange::Php(version) if hosting.kind == HostingKind::Php => {
                    hosting.summary.php_version = Some(*version);
                }
                ConfigChange::Php(_) => {
                    return Err(NodeError::Conflict(format!(
                        "a {} hosting has no PHP version",
                        hosting.kind
                    )));
                }
                // A real node would write the password into its htpasswd file here.
                ConfigChange::Vhost(vhost) => hosting.vhost = vhost.options.clone(),
                ConfigChange::Expiry(expiry) => hosting.expires_at = *expiry,
                ConfigChange::Quota(quota) => hosting.quota = quota.clone(),
            }
            Ok(hosting.clone())
        })
    }

    async fn list_backups(&self, id: &HostingId) -> Result<Vec<Backup>, NodeError> {
        self.answer().await?;
        self.read(|state| {
            let mut backups = state.backups.get(id).cloned().ok_or(NodeError::NotFound)?;
            backups.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
            Ok(backups)
        })
    }

    async fn backup(&self, id: &HostingId, progress: &JobProgress) -> Result<Backup, NodeError> {
        self.answer().await?;
        progress.step("archiving files", 40);
        self.answer().await?;
        progress.step("dumping the database", 80);
        self.write(|state| {
            let hosting = state.hostings.get(id).ok_or(NodeError::NotFound)?;
            state.next_backup += 1;
            let backup = Backup {
                id: BackupId::try_from(format!("bk-{}", state.next_backup))
                    .expect("valid backup id"),
                created_at: crate::model::now(),
                size_bytes: (2 << 20) + state.next_backup * 4096,
                includes_database: hosting.database,
            };
            state
                .backups
                .entry(id.clone())
                .or_default()
                .push(backup.clone());
            Ok(backup)
        })
    }

    async fn restore(
        &self,
        id: &HostingId,
        backup: &BackupId,
        _mode: RestoreMode,
        progress: &JobProgress,
    ) -> Result<(), NodeError> {
        self.answer().await?;
        let known = self.read(|state| {
            state
                .backups
                .get(id)
                .is_some_and(|backups| backups.iter().any(|b| b.id == *backup))
        });
        if !known {
            return Err(NodeError::Validation(format!("unknown backup {backup}")));
        }
        progress.step("restoring", 50);
        self.answer().await
    }

    async fn issue_certificate(
        &self,
        id: &HostingId,
        staging: bool,
        progress: &JobProgress,
    ) -> Result<Certificate, NodeError> {
        self.answer().await?;
        progress.step("answering the ACME challenge", 50);
        let certificate = Certificate {
            issuer: if staging { "Sim Staging CA" } else { "Sim CA" }.to_owned(),
            expires_at: crate::model::now() + time::Duration::days(90),
            staging,
        };
        self.write(|state| {
            state.hostings.get(id).ok_or(NodeError::NotFound)?;
            state.certificates.insert(id.clone(), certificate.clone());
            Ok(certificate)
        })
    }

    async fn install_wordpress(
        &self,
        id: &HostingId,
        install: &WpInstall,
        progress: &JobProgress,
    ) -> Result<(), NodeError> {
        self.answer().await?;
        progress.step("downloading WordPress", 30);
        self.answer().await?;
        progress.step("running the installer", 70);
        self.write(|state| {
            let hosting = state.hostings.get(id).ok_or(NodeError::NotFound)?;
            if hosting.kind != HostingKind::Php {
                return Err(NodeError::Conflict(
                    "WordPress needs a PHP hosting".to_owned(),
                ));
            }
            if state.wordpress.contains_key(id) {
                return Err(NodeError::Conflict(
                    "WordPress is already installed".to_owned(),
                ));
            }
            state.wordpress.insert(id.clone(), install.site_url.clone());
            Ok(())
        })
    }

    async fn renew_certificates(&self, progress: &JobProgress) -> Result<RenewReport, NodeError> {
        self.answer().await?;
        progress.step("renewing", 50);
        Ok(self.read(|state| RenewReport {
            renewed: state.certificates.len() as u64,
            skipped: (state.hostings.len() - state.certificates.len()) as u64,
        }))
    }
}

/// What to simulate: same spec, same hostings with the same ids, every time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimClusterSpec {
    /// Seed of the hosting ids.
    pub seed: u64,
    /// Number of nodes, named `node-1` .. `node-K`.
    pub nodes: usize,
    /// Number of hostings, spread round-robin, domains `site-0001.example.test` ...
    pub hostings: usize,
    /// Latency of every node call.
    pub latency: Duration,
}

impl Default for SimClusterSpec {
    fn default() -> Self {
        SimClusterSpec {
            seed: 1,
            nodes: 3,
            hostings: 30,
            latency: Duration::ZERO,
        }
    }
}

const SIM_EPOCH: OffsetDateTime = datetime!(2026-01-01 00:00:00 UTC);

impl SimClusterSpec {
    /// The id of hosting number `index`: 16 hex digits derived from the seed.
    pub fn hosting_id(&self, index: usize) -> HostingId {
        let digest = Sha256::new()
            .chain_update(self.seed.to_be_bytes())
            .chain_update((index as u64).to_be_bytes())
            .finalize();
        let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        format!("h{hex}").parse().expect("hex ids are valid")
    }

    /// The full description of hosting number `index` on `node`.
    pub fn hosting(&self, index: usize, node: &NodeId) -> HostingDetail {
        let number = index + 1;
        let domain: Domain = format!("site-{number:04}.example.test")
            .parse()
            .expect("generated domains are valid");
        let state = if index % 10 == 3 {
            HostingState::Suspended
        } else {
            HostingState::Active
        };
        let php = PhpVersion::ALL[index % PhpVersion::ALL.len()];
        HostingDetail {
            summary: Hosting {
                id: self.hosting_id(index),
                domain: domain.clone(),
                state,
                php_version: Some(php),
                node_id: node.clone(),
                created_at: SIM_EPOCH + time::Duration::hours(index as i64),
            },
            kind: HostingKind::Php,
            aliases: vec![format!("www.{domain}").parse().expect("valid alias")],
            system_user: format!("site{number:04}"),
            root_dir: format!("/var/www/{domain}/public"),
            limits: Limits::default(),
            vhost: VhostOptions::default(),
            quota: Quota::default(),
            database: index % 2 == 0,
            proxy_upstream_url: None,
            expires_at: None,
            suspended_by: (state == HostingState::Suspended).then_some(SuspendedBy::Operator),
        }
    }

    /// Builds the nodes with their hostings.
    pub fn build(&self) -> Vec<Arc<SimNode>> {
        let nodes: Vec<Arc<SimNode>> = (1..=self.nodes.max(1))
            .map(|n| {
                let id = format!("node-{n}").parse().expect("valid node id");
                Arc::new(SimNode::new(id, self.latency))
            })
            .collect();
        for index in 0..self.hostings {
            let node = &nodes[index % nodes.len()];
            node.insert(self.hosting(index, node.id()));
        }
        nodes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_spec_same_hostings() {
        let spec = SimClusterSpec::default();
        let a = spec.build();
        let b = spec.build();
        assert_eq!(a.len(), 3);
        assert_eq!(a.iter().map(|n| n.len()).sum::<usize>(), 30);
        assert_eq!(spec.hosting_id(7), SimClusterSpec::default().hosting_id(7));
        assert_ne!(
            spec.hosting_id(7),
            SimClusterSpec { seed: 2, ..spec }.hosting_id(7)
        );
        assert_eq!(a[0].len(), b[0].len());
    }

    #[tokio::test]
    async fn lists_in_id_order_after_the_cursor_with_filters() {
        let node = SimClusterSpec {
            nodes: 1,
            ..Default::default()
        }
        .build()
        .remove(0);
        let all = node
            .list_hostings(&ListQuery {
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(all.total, 30);
        assert!(all.items.windows(2).all(|w| w[0].id < w[1].id));
        let after = all.items[9].id.clone();
        let page = node
            .list_hostings(&ListQuery {
                after: Some(after.clone()),
                limit: 5,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(page.items.len(), 6);
        assert_eq!(page.items[0].id, all.items[10].id);
        assert_eq!(page.total, 30);
        let suspended = node
            .list_hostings(&ListQuery {
                limit: 100,
                state: Some(HostingState::Suspended),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(suspended.total, 3);
    }

    #[tokio::test]
    async fn finds_by_alias_and_transitions_states() {
        let node = SimClusterSpec {
            nodes: 1,
            ..Default::default()
        }
        .build()
        .remove(0);
        let alias = HostingSelector::Domain("www.site-0001.example.test".parse().unwrap());
        let found = node.find_hosting(&alias).await.unwrap().unwrap();
        let id = found.summary.id;
        assert_eq!(
            node.suspend(&id, SuspendedBy::Tenant).await,
            Ok(HostingState::Suspended)
        );
        assert_eq!(
            node.suspend(&id, SuspendedBy::Tenant).await,
            Ok(HostingState::Suspended)
        );
        assert_eq!(node.resume(&id).await, Ok(HostingState::Active));
        node.delete(&id, DeleteOptions::default()).await.unwrap();
        assert_eq!(node.find_hosting(&alias).await, Ok(None));
        assert_eq!(
            node.suspend(&id, SuspendedBy::Tenant).await,
            Err(NodeError::NotFound)
        );
    }
}
