//! The simulated node: hostings in memory, indexed by id, domain and state,
//! with latency and faults a test sets while it runs.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use async_trait::async_trait;

use crate::jobs::JobProgress;
use crate::model::{
    Backup, BackupId, Certificate, ConfigChange, Domain, HostingDetail, HostingId, HostingKind,
    HostingSelector, HostingState, NewHosting, NodeId, NodeInfo, NodeStatus, OwnerId, RenewReport,
    RestoreMode, SuspendedBy, WpInstall,
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
    hostings: BTreeMap<HostingId, Arc<HostingDetail>>,
    by_domain: HashMap<Domain, HostingId>,
    backups: HashMap<HostingId, Vec<Backup>>,
    certificates: HashMap<HostingId, Certificate>,
    wordpress: HashMap<HostingId, String>,
    next_backup: u64,
    draining: bool,
    /// The hostings in each state, by id: a filter by state walks its own
    /// index instead of every hosting, as a real node's database would.
    by_state: HashMap<HostingState, std::collections::BTreeSet<HostingId>>,
    /// The hostings of each owner, by id: "the hostings of customer X" walks
    /// that customer's own, as a real node's database index would.
    by_owner: HashMap<OwnerId, BTreeMap<HostingId, Arc<HostingDetail>>>,
}

impl SimState {
    fn set_state(&mut self, id: &HostingId, to: HostingState) -> Result<(), NodeError> {
        let hosting = Arc::make_mut(self.hostings.get_mut(id).ok_or(NodeError::NotFound)?);
        if to != HostingState::Suspended {
            hosting.suspended_by = None;
        }
        let from = std::mem::replace(&mut hosting.summary.state, to);
        let owner = hosting.summary.owner.clone();
        self.reindex_state(id, Some(from), Some(to));
        self.index_owner(id, owner.as_ref());
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

    /// Files hosting `id` in the owner index as it now is: out of the
    /// hostings of `was` (its owner before the change, if any), into its
    /// current owner's. Called after every change, since the index holds
    /// the hostings themselves.
    fn index_owner(&mut self, id: &HostingId, was: Option<&OwnerId>) {
        if let Some(owned) = was.and_then(|was| self.by_owner.get_mut(was)) {
            owned.remove(id);
        }
        if let Some(hosting) = self.hostings.get(id)
            && let Some(owner) = &hosting.summary.owner
        {
            self.by_owner
                .entry(owner.clone())
                .or_default()
                .insert(id.clone(), Arc::clone(hosting));
        }
    }

    fn insert(&mut self, hosting: HostingDetail) {
        let old = self.hostings.get(&hosting.summary.id).cloned();
        let old_state = old.as_ref().map(|old| old.summary.state);
        self.reindex_state(&hosting.summary.id, old_state, Some(hosting.summary.state));
        let id = hosting.summary.id.clone();
        self.by_domain
            .insert(hosting.summary.domain.clone(), id.clone());
        for alias in &hosting.aliases {
            self.by_domain.insert(alias.clone(), id.clone());
        }
        self.hostings.insert(id.clone(), Arc::new(hosting));
        let old_owner = old.as_ref().and_then(|old| old.summary.owner.as_ref());
        self.index_owner(&id, old_owner);
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
        self.index_owner(id, hosting.summary.owner.as_ref());
        self.by_domain.remove(&hosting.summary.domain);
        for alias in &hosting.aliases {
            self.by_domain.remove(alias);
        }
        Some(Arc::unwrap_or_clone(hosting))
    }
}

/// One simulated server: hostings indexed by id and by domain.
pub struct SimNode {
    id: NodeId,
    /// Latency of every call, in microseconds (settable while it runs).
    latency_us: AtomicU64,
    fault: AtomicU8,
    state: RwLock<SimState>,
    /// Bumped by every change, while the change's write lock is held.
    revision: AtomicU64,
}

impl SimNode {
    /// An empty node answering after `latency`.
    pub fn new(id: NodeId, latency: Duration) -> Self {
        SimNode {
            id,
            latency_us: AtomicU64::new(latency.as_micros().min(u64::MAX as u128) as u64),
            fault: AtomicU8::new(SimFault::None as u8),
            state: RwLock::default(),
            revision: AtomicU64::new(0),
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
        self.write(|state| {
            state
                .backups
                .insert(hosting.summary.id.clone(), vec![initial]);
            state.insert(hosting);
        });
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
        self.write(|state| state.draining = draining);
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

    /// Runs `f` on the state, then bumps the revision before the change
    /// can be read: whoever reads the new revision reads the change too.
    fn write<T>(&self, f: impl FnOnce(&mut SimState) -> T) -> T {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        let answer = f(&mut state);
        self.revision.fetch_add(1, Ordering::Release);
        drop(state);
        answer
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
            if let Some(hosting) = state.hostings.get_mut(id)
                && hosting.suspended_by != Some(SuspendedBy::Operator)
            {
                let hosting = Arc::make_mut(hosting);
                hosting.suspended_by = Some(by);
                let owner = hosting.summary.owner.clone();
                state.index_owner(id, owner.as_ref());
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

    /// Vouched for only while it answers at once and without a fault: a
    /// slow or failing simulated node stands for a remote server the API
    /// must ask every time.
    fn revision(&self) -> Option<u64> {
        let prompt = self.latency_us.load(Ordering::Relaxed) == 0
            && self.fault.load(Ordering::Relaxed) == SimFault::None as u8;
        prompt.then(|| self.revision.load(Ordering::Acquire))
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
            // Indexed paths, as a real node's database would take them: a
            // tenant's few grants are looked up one by one, a state's
            // hostings walk their index and an owner's walk theirs (which
            // holds the hostings themselves); only a name filter scans.
            // What the index does not decide is filtered.
            let by_owner = query
                .owner_wanted()
                .map(|owner| owner.and_then(|owner| state.by_owner.get(owner)));
            let by_state = query.state.map(|wanted| state.by_state.get(&wanted));
            let lookup = |id: &HostingId| state.hostings.get(id).map(|hosting| &**hosting);
            let candidates = |from: Bound<&HostingId>| -> Box<dyn Iterator<Item = &HostingDetail>> {
                let range = (from, Bound::Unbounded);
                match (&query.only, by_owner, by_state) {
                    (Some(only), _, _) => Box::new(only.range(range).filter_map(lookup)),
                    (None, Some(Some(owned)), _) => {
                        Box::new(owned.range(range).map(|(_, hosting)| &**hosting))
                    }
                    (None, Some(None), _) | (None, None, Some(None)) => {
                        Box::new(std::iter::empty())
                    }
                    (None, None, Some(Some(ids))) => Box::new(ids.range(range).filter_map(lookup)),
                    (None, None, None) => {
                        Box::new(state.hostings.range(range).map(|(_, hosting)| &**hosting))
                    }
                }
            };
            // The count: an index's own size when it is the only filter,
            // else what matches among its hostings (or all of them).
            let only_index = query.domain_contains.is_none()
                && query.plan.is_none()
                && query.labels.is_empty()
                && query.only.is_none()
                && usize::from(by_owner.is_some()) + usize::from(by_state.is_some()) <= 1;
            let total = match (only_index, by_owner, by_state) {
                (true, Some(owned), _) => owned.map_or(0, BTreeMap::len),
                (true, None, Some(ids)) => ids.map_or(0, std::collections::BTreeSet::len),
                (true, None, None) => state.hostings.len(),
                (false, ..) => candidates(Bound::Unbounded)
                    .filter(|h| query.matches(&h.summary))
                    .count(),
            } as u64;
            let candidates = candidates(lower);
            query.page_in_id_order(candidates.map(|h| &h.summary), total)
        }))
    }

    async fn find_hosting(
        &self,
        selector: &HostingSelector,
    ) -> Result<Option<Arc<HostingDetail>>, NodeError> {
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
        let detail = new.created_on(&self.id, format!("/var/www/{}/public", new.domain));
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
        self.write(|state| {
            let hosting = Arc::make_mut(state.hostings.get_mut(id).ok_or(NodeError::NotFound)?);
            let owner_before = hosting.summary.owner.clone();
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
                ConfigChange::Owner(owner) => hosting.summary.owner = owner.clone(),
                ConfigChange::Plan(plan) => hosting.summary.plan = plan.clone(),
                ConfigChange::Labels(labels) => hosting.summary.labels = labels.clone(),
                other => {
                    return Err(NodeError::Unsupported(format!("the change {other:?}")));
                }
            }
            let updated = hosting.clone();
            state.index_owner(id, owner_before.as_ref());
            Ok(updated)
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
