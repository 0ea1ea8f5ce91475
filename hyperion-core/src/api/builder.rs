//! Building a [`HyperionApi`]: the stores it is given (or the in-memory
//! ones), the services every endpoint reaches, and the background upkeep
//! that lives as long as the API (refusal counts, jobs to take over).

use std::sync::Arc;
use std::time::Duration;

use crate::audit::{AuditLog, AuditSink, TeeAuditSink, TracingAuditSink};
use crate::cluster::Cluster;
use crate::cluster::{FewestHostings, PlacementStrategy};
use crate::http::body::BodyBudget;
use crate::idempotency::IdempotencyStore;
use crate::jobs::{JobRunner, TokioJobRunner};
use crate::keys::KeyStore;
use crate::memory::{
    MemoryAuditSink, MemoryIdempotencyStore, MemoryKeyStore, MemoryNameReservations,
    MemoryRateLimiter,
};
use crate::model::now;
use crate::owner::OwnerDirectory;
use crate::ratelimit::RateLimitStore;
use crate::refusals::RefusalCounter;
use crate::reservations::NameReservations;
use crate::store::Stores;

use super::{ApiConfig, HyperionApi, rendered, rerun};

/// The services every endpoint reaches through its [`RequestContext`].
pub(crate) struct Services {
    pub(crate) cluster: Cluster,
    pub(crate) keys: Arc<dyn KeyStore>,
    pub(crate) owners: Arc<dyn OwnerDirectory>,
    pub(crate) jobs: Arc<dyn JobRunner>,
    pub(crate) audit: Arc<dyn AuditSink>,
    pub(crate) audit_log: Option<Arc<dyn AuditLog>>,
    pub(crate) limiter: Arc<dyn RateLimitStore>,
    pub(crate) idempotency: Arc<dyn IdempotencyStore>,
    pub(crate) placement: Arc<dyn PlacementStrategy>,
    pub(crate) reservations: Arc<dyn NameReservations>,
    /// Held while a mint or a revocation over HTTP checks and writes, so
    /// that two at once cannot both pass the last-admin check, the per-owner
    /// cap or the label check.
    pub(crate) key_changes: tokio::sync::Mutex<()>,
    /// Refusals of requests without a usable key, counted per address and minute.
    pub(crate) refusals: RefusalCounter,
    /// Bytes of request bodies being read at once.
    pub(crate) body_budget: BodyBudget,
    /// Hosting details as rendered JSON, reused while unchanged.
    pub(crate) rendered: rendered::RenderedHostings,
    /// Pages of hostings as rendered JSON, reused while no node changed.
    pub(crate) pages: rendered::RenderedPages,
    pub(crate) config: ApiConfig,
}

impl Services {
    /// Records every count of unauthenticated refusals kept so far (before
    /// the audit log is read, so that it is complete).
    pub(crate) async fn record_refusal_counts(&self) {
        for event in self.refusals.take_all() {
            self.audit.record(event).await;
        }
    }
}

/// How often the counts of ended minutes are written out.
const REFUSAL_FLUSH_EVERY: Duration = Duration::from_secs(15);

/// Writes the refusal counts of ended minutes while the API lives.
fn spawn_refusal_flusher(services: &Arc<Services>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let services = Arc::downgrade(services);
    runtime.spawn(async move {
        loop {
            tokio::time::sleep(REFUSAL_FLUSH_EVERY).await;
            let Some(services) = services.upgrade() else {
                return;
            };
            for event in services.refusals.take_finished(now()) {
                services.audit.record(event).await;
            }
        }
    });
}

/// How often the API looks for jobs whose runner stopped before they ended
/// (a replica whose lease lapsed, a previous process of this server).
const TAKE_OVER_EVERY: Duration = Duration::from_secs(2);

/// While the API lives: takes over the jobs whose runner stopped (see
/// [`crate::jobs::JobRunner::take_over`]) and runs again, here, those that
/// are safe to repeat. The first look is at once: a server restarted on
/// its data resumes what its previous process left.
fn spawn_job_keeper(services: &Arc<Services>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let services = Arc::downgrade(services);
    runtime.spawn(async move {
        loop {
            let Some(alive) = services.upgrade() else {
                return;
            };
            match alive.jobs.take_over().await {
                Ok(jobs) => {
                    for job in jobs {
                        rerun::resume(&alive, job).await;
                    }
                }
                Err(err) => tracing::warn!(error = %err, "could not look for jobs to take over"),
            }
            drop(alive);
            tokio::time::sleep(TAKE_OVER_EVERY).await;
        }
    });
}

/// Builds a [`HyperionApi`]; every store not given is the in-memory one.
pub struct HyperionApiBuilder {
    cluster: Cluster,
    owners: Arc<dyn OwnerDirectory>,
    stores: Stores,
    placement: Option<Arc<dyn PlacementStrategy>>,
    config: ApiConfig,
}

impl HyperionApiBuilder {
    /// Every store `stores` provides (a backend's, as
    /// `SqliteStores::provide` or `PostgresStores::provide` hands them
    /// over), in place of those set before.
    #[must_use]
    pub fn stores(mut self, stores: Stores) -> Self {
        self.stores = std::mem::take(&mut self.stores).overlaid_with(stores);
        self
    }

    /// Where keys are stored (default: [`MemoryKeyStore`]).
    #[must_use]
    pub fn key_store(mut self, keys: Arc<dyn KeyStore>) -> Self {
        self.stores.keys = Some(keys);
        self
    }

    /// What runs slow operations (default: [`TokioJobRunner`]).
    #[must_use]
    pub fn job_runner(mut self, jobs: Arc<dyn JobRunner>) -> Self {
        self.stores.jobs = Some(jobs);
        self
    }

    /// Where audit events go (default: a bounded [`MemoryAuditSink`], also
    /// written to `tracing`). Give an [`HyperionApiBuilder::audit_log`] too,
    /// or `GET /audit` has nothing to read.
    #[must_use]
    pub fn audit_sink(mut self, audit: Arc<dyn AuditSink>) -> Self {
        self.stores.audit = Some(audit);
        self
    }

    /// What `GET /audit` reads (default: the default sink's memory).
    #[must_use]
    pub fn audit_log(mut self, log: Arc<dyn AuditLog>) -> Self {
        self.stores.audit_log = Some(log);
        self
    }

    /// Where idempotent answers are kept (default: [`MemoryIdempotencyStore`]).
    #[must_use]
    pub fn idempotency_store(mut self, store: Arc<dyn IdempotencyStore>) -> Self {
        self.stores.idempotency = Some(store);
        self
    }

    /// How new hostings are placed (default: [`FewestHostings`]).
    #[must_use]
    pub fn placement(mut self, strategy: Arc<dyn PlacementStrategy>) -> Self {
        self.placement = Some(strategy);
        self
    }

    /// Where the keys' rate limits are kept (default: this process's
    /// memory). Replicas serving one cluster share one, or each grants a
    /// key its whole limit again.
    #[must_use]
    pub fn rate_limits(mut self, store: Arc<dyn RateLimitStore>) -> Self {
        self.stores.rate_limits = Some(store);
        self
    }

    /// Where the names of creates in flight are held (default: this
    /// process's memory). Replicas serving one cluster share one, or two
    /// creates of one domain on two replicas could both succeed.
    #[must_use]
    pub fn name_reservations(mut self, store: Arc<dyn NameReservations>) -> Self {
        self.stores.reservations = Some(store);
        self
    }

    /// Tunables (default: [`ApiConfig::default`]).
    #[must_use]
    pub fn config(mut self, config: ApiConfig) -> Self {
        self.config = config;
        self
    }

    /// The API.
    pub fn build(self) -> HyperionApi {
        let stores = self.stores;
        let (audit, audit_log): (Arc<dyn AuditSink>, Option<Arc<dyn AuditLog>>) = match stores.audit
        {
            Some(audit) => (audit, stores.audit_log),
            None => {
                let memory = Arc::new(MemoryAuditSink::default());
                let sink = Arc::new(TeeAuditSink(Arc::clone(&memory), TracingAuditSink));
                (sink, Some(stores.audit_log.unwrap_or(memory)))
            }
        };
        let services = Arc::new(Services {
            cluster: self.cluster,
            keys: stores
                .keys
                .unwrap_or_else(|| Arc::new(MemoryKeyStore::new())),
            owners: self.owners,
            jobs: stores
                .jobs
                .unwrap_or_else(|| Arc::new(TokioJobRunner::default())),
            audit,
            audit_log,
            limiter: stores
                .rate_limits
                .unwrap_or_else(|| Arc::new(MemoryRateLimiter::default())),
            idempotency: stores
                .idempotency
                .unwrap_or_else(|| Arc::new(MemoryIdempotencyStore::default())),
            placement: self.placement.unwrap_or_else(|| Arc::new(FewestHostings)),
            reservations: stores
                .reservations
                .unwrap_or_else(|| Arc::new(MemoryNameReservations::default())),
            key_changes: tokio::sync::Mutex::new(()),
            refusals: RefusalCounter::default(),
            body_budget: BodyBudget::new(self.config.body_bytes_in_flight),
            rendered: rendered::RenderedHostings::default(),
            pages: rendered::RenderedPages::default(),
            config: self.config,
        });
        spawn_refusal_flusher(&services);
        spawn_job_keeper(&services);
        HyperionApi { services }
    }
}
impl HyperionApi {
    /// Starts building an API over `cluster`, whose keys belong to the
    /// owners in `owners`: your panel's users (or resellers), and what each
    /// may do now. A key works only while its owner is there, and never does
    /// more than its owner may; there is no default, since an empty
    /// directory would make every key fail with 401.
    pub fn builder(cluster: Cluster, owners: Arc<dyn OwnerDirectory>) -> HyperionApiBuilder {
        HyperionApiBuilder {
            cluster,
            owners,
            stores: Stores::default(),
            placement: None,
            config: ApiConfig::default(),
        }
    }
}
