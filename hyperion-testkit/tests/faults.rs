//! `FaultyNode` makes any node misbehave on the calls a test chooses, and
//! the API answers each fault as it answers a real one.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyperion_core::sim::SimClusterSpec;
use hyperion_core::{Cluster, HyperionApi, Node, RequestHead};
use hyperion_testkit::faults::{Fault, Faults, FaultyNode, NodeCall};
use hyperion_testkit::fixtures::{ApiWithAdmin, api_with_admin, api_with_admin_on};

/// One simulated node behind a fault wrapper, with an API over it.
async fn faulty_api() -> (ApiWithAdmin, Arc<Faults>) {
    let spec = SimClusterSpec {
        nodes: 1,
        ..SimClusterSpec::default()
    };
    let node = FaultyNode::new(spec.build_nodes().remove(0));
    let faults = node.faults();
    (
        api_with_admin(vec![Arc::new(node) as Arc<dyn Node>]).await,
        faults,
    )
}

async fn get(api: &HyperionApi, key: &str, path: &str) -> (u16, serde_json::Value) {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::AUTHORIZATION,
        format!("Bearer {key}").parse().unwrap(),
    );
    let uri: http::Uri = path.parse().unwrap();
    let head = RequestHead::new(http::Method::GET, &uri, headers, None);
    let body = futures::stream::empty::<Result<Bytes, std::io::Error>>();
    let answer = api.handle(head, body).await;
    let json = serde_json::from_slice(&answer.body).unwrap_or_default();
    (answer.status.as_u16(), json)
}

#[tokio::test]
async fn each_fault_is_answered_as_the_api_answers_a_real_one() {
    let (fixture, faults) = faulty_api().await;
    let (api, key) = (&fixture.api, fixture.admin_key.as_str());
    let detail = "/api/v1/hostings/site-0001.example.test";
    assert_eq!(get(api, key, detail).await.0, 200, "no fault yet");

    faults.set(NodeCall::FindHosting, Fault::Fail);
    let (status, body) = get(api, key, detail).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "upstream_error");
    // Only the call aimed at: lists still work.
    assert_eq!(get(api, key, "/api/v1/hostings").await.0, 200);

    faults.set(NodeCall::FindHosting, Fault::Panic);
    assert_eq!(get(api, key, detail).await.0, 500);

    faults.clear();
    assert_eq!(get(api, key, detail).await.0, 200, "healed");
    assert!(faults.calls(NodeCall::FindHosting) >= 4);
    assert_eq!(faults.injected(), 2);
}

#[tokio::test]
async fn a_hang_ends_at_the_clusters_deadline() {
    let spec = SimClusterSpec {
        nodes: 1,
        ..SimClusterSpec::default()
    };
    let node = FaultyNode::new(spec.build_nodes().remove(0));
    node.faults().set_all(Fault::Hang);
    let cluster = Cluster::new(vec![Arc::new(node) as Arc<dyn Node>])
        .with_deadline(Duration::from_millis(200));
    let fixture = api_with_admin_on(cluster).await;
    let (status, body) = get(
        &fixture.api,
        &fixture.admin_key,
        "/api/v1/hostings/site-0001.example.test",
    )
    .await;
    assert_eq!(status, 504, "{body}");
    assert_eq!(body["error"]["code"], "upstream_timeout");
}

#[tokio::test]
async fn latency_delays_the_call_and_lets_it_through() {
    let (fixture, faults) = faulty_api().await;
    faults.set(
        NodeCall::FindHosting,
        Fault::Latency(Duration::from_millis(50)),
    );
    let (status, _) = get(
        &fixture.api,
        &fixture.admin_key,
        "/api/v1/hostings/site-0001.example.test",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(faults.injected(), 0, "latency stops nothing");
}

/// What a wrapped node was asked, by method, on top of a simulated node.
struct Recording {
    sim: Arc<dyn Node>,
    asked: std::sync::Mutex<Vec<&'static str>>,
}

impl Recording {
    fn saw(&self, method: &'static str) {
        self.asked.lock().unwrap().push(method);
    }
}

use hyperion_core::model::{
    Backup, BackupId, Certificate, ConfigChange, HostingDetail, HostingId, HostingKind,
    HostingSelector, HostingState, NewHosting, NodeId, NodeInfo, PhpVersion, RenewReport,
    RestoreMode, SecretString, SuspendedBy, WpInstall,
};
use hyperion_core::{DeleteOptions, JobProgress, ListQuery, NodeError, NodePage};

#[async_trait::async_trait]
impl Node for Recording {
    fn id(&self) -> &NodeId {
        self.saw("id");
        self.sim.id()
    }
    fn revision(&self) -> Option<u64> {
        self.saw("revision");
        self.sim.revision()
    }
    async fn info(&self) -> Result<NodeInfo, NodeError> {
        self.saw("info");
        self.sim.info().await
    }
    async fn list_hostings(&self, query: &ListQuery) -> Result<NodePage, NodeError> {
        self.saw("list_hostings");
        self.sim.list_hostings(query).await
    }
    async fn find_hosting(
        &self,
        selector: &HostingSelector,
    ) -> Result<Option<Arc<HostingDetail>>, NodeError> {
        self.saw("find_hosting");
        self.sim.find_hosting(selector).await
    }
    async fn suspend(&self, id: &HostingId, by: SuspendedBy) -> Result<HostingState, NodeError> {
        self.saw("suspend");
        self.sim.suspend(id, by).await
    }
    async fn resume(&self, id: &HostingId) -> Result<HostingState, NodeError> {
        self.saw("resume");
        self.sim.resume(id).await
    }
    async fn delete(&self, id: &HostingId, options: DeleteOptions) -> Result<(), NodeError> {
        self.saw("delete");
        self.sim.delete(id, options).await
    }
    async fn create(&self, hosting: &NewHosting) -> Result<HostingDetail, NodeError> {
        self.saw("create");
        self.sim.create(hosting).await
    }
    async fn system_user_taken(&self, user: &str) -> Result<bool, NodeError> {
        self.saw("system_user_taken");
        self.sim.system_user_taken(user).await
    }
    async fn update_config(
        &self,
        id: &HostingId,
        change: &ConfigChange,
    ) -> Result<HostingDetail, NodeError> {
        self.saw("update_config");
        self.sim.update_config(id, change).await
    }
    async fn list_backups(&self, id: &HostingId) -> Result<Vec<Backup>, NodeError> {
        self.saw("list_backups");
        self.sim.list_backups(id).await
    }
    async fn backup(&self, id: &HostingId, progress: &JobProgress) -> Result<Backup, NodeError> {
        self.saw("backup");
        self.sim.backup(id, progress).await
    }
    async fn restore(
        &self,
        id: &HostingId,
        backup: &BackupId,
        mode: RestoreMode,
        progress: &JobProgress,
    ) -> Result<(), NodeError> {
        self.saw("restore");
        self.sim.restore(id, backup, mode, progress).await
    }
    async fn issue_certificate(
        &self,
        id: &HostingId,
        staging: bool,
        progress: &JobProgress,
    ) -> Result<Certificate, NodeError> {
        self.saw("issue_certificate");
        self.sim.issue_certificate(id, staging, progress).await
    }
    async fn install_wordpress(
        &self,
        id: &HostingId,
        install: &WpInstall,
        progress: &JobProgress,
    ) -> Result<(), NodeError> {
        self.saw("install_wordpress");
        self.sim.install_wordpress(id, install, progress).await
    }
    async fn renew_certificates(&self, progress: &JobProgress) -> Result<RenewReport, NodeError> {
        self.saw("renew_certificates");
        self.sim.renew_certificates(progress).await
    }
}

/// The methods of the `Node` trait, read from its own source: the list this
/// test calls must be all of them.
fn node_trait_methods() -> Vec<String> {
    let source = include_str!("../../hyperion-core/src/node.rs");
    let body = source
        .split("pub trait Node: Send + Sync {")
        .nth(1)
        .expect("the trait");
    let body = &body[..body.find("\n}\n").expect("the trait's end")];
    let mut methods: Vec<String> = body
        .lines()
        .map(str::trim)
        .filter_map(|line| {
            line.strip_prefix("async fn ")
                .or_else(|| line.strip_prefix("fn "))
        })
        .map(|rest| rest[..rest.find('(').expect("a signature")].to_owned())
        .collect();
    methods.sort();
    methods
}

/// `FaultyNode` with no fault aimed hands every `Node` method to the node it
/// wraps: one it did not forward would answer the trait's default instead
/// (`Unsupported`, `false`, `None`) and every test over it would go on
/// without a word. A method added to `Node` fails this test until the
/// wrapper forwards it and it is called here.
#[tokio::test]
async fn a_faulty_node_forwards_every_node_method() {
    let spec = SimClusterSpec {
        nodes: 1,
        ..SimClusterSpec::default()
    };
    let recording = Arc::new(Recording {
        sim: spec.build_nodes().remove(0),
        asked: std::sync::Mutex::default(),
    });
    let node = FaultyNode::new(Arc::clone(&recording) as Arc<dyn Node>);
    let id = spec.hosting_id(0);
    let progress = JobProgress::new(|_, _| {});
    let fresh: HostingId = "hforwarded".parse().unwrap();
    let _ = node.id();
    let _ = node.revision();
    let _ = node.info().await;
    let _ = node.list_hostings(&ListQuery::default()).await;
    let _ = node.find_hosting(&HostingSelector::Id(id.clone())).await;
    let _ = node.suspend(&id, SuspendedBy::Operator).await;
    let _ = node.resume(&id).await;
    let _ = node
        .create(&NewHosting {
            id: fresh.clone(),
            domain: "forwarded.example.test".parse().unwrap(),
            kind: HostingKind::Static,
            php_version: None,
            aliases: Vec::new(),
            database: false,
            system_user: "forwarded".to_owned(),
            proxy_upstream_url: None,
            owner: None,
            plan: None,
            labels: Default::default(),
        })
        .await;
    let _ = node.system_user_taken("forwarded").await;
    let _ = node
        .update_config(&id, &ConfigChange::Php(PhpVersion::ALL[0]))
        .await;
    let _ = node.list_backups(&id).await;
    let backup = node.backup(&id, &progress).await;
    let backup_id = backup.map_or_else(
        |_| BackupId::try_from("b1".to_owned()).unwrap(),
        |backup| backup.id,
    );
    let _ = node
        .restore(&id, &backup_id, RestoreMode::FilesAndDb, &progress)
        .await;
    let _ = node.issue_certificate(&id, true, &progress).await;
    let install = WpInstall {
        site_url: "https://forwarded.example.test".to_owned(),
        title: "t".to_owned(),
        admin_user: "admin".to_owned(),
        admin_email: "a@example.test".to_owned(),
        admin_password: SecretString::new("a long enough password"),
        locale: "en_US".to_owned(),
    };
    let _ = node.install_wordpress(&fresh, &install, &progress).await;
    let _ = node.renew_certificates(&progress).await;
    let _ = node.delete(&fresh, DeleteOptions::default()).await;

    let mut asked: Vec<String> = recording
        .asked
        .lock()
        .unwrap()
        .iter()
        .map(|method| (*method).to_owned())
        .collect();
    asked.sort();
    asked.dedup();
    assert_eq!(asked, node_trait_methods());
    // It vouches for the node's revision only while no fault is aimed at
    // its reads: with one, the API must ask the node and meet the fault.
    assert!(node.revision().is_some());
    node.faults().set(NodeCall::ListHostings, Fault::Fail);
    assert_eq!(node.revision(), None);
}
