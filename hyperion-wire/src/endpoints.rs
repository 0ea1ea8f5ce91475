//! Every endpoint of `/api/v1`, each declared once, as data: its method and
//! path, the action it is audited (and its job kind) as, what it demands of
//! a key, its body and its bound, and what the OpenAPI document says of it.
//! The route table, authorization at the door, idempotent replays, job
//! kinds and the document all read this one table ([`ROUTES`]); the
//! dispatcher maps each [`Endpoint`] to its function.

use http::Method;

use crate::Capability;

/// What a route does; the server's dispatcher maps each to its function
/// (exhaustively: a new endpoint without one does not compile), and the
/// typed client builds its calls from the same value. In the order of
/// [`ROUTES`] (a test keeps them in step).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// The contract.
    OpenApi,
    /// The contract as a page.
    Docs,
    /// The presented key.
    Me,
    /// A page of hostings.
    ListHostings,
    /// A new hosting.
    CreateHosting,
    /// One hosting.
    GetHosting,
    /// Delete a hosting, in a job.
    DeleteHosting,
    /// Suspend a hosting.
    SuspendHosting,
    /// Resume a hosting.
    ResumeHosting,
    /// Change resource limits.
    PatchLimits,
    /// Change the PHP version.
    PatchPhp,
    /// Change web-server options.
    PatchVhost,
    /// Set or clear the expiry.
    PatchExpiry,
    /// Change quotas.
    PatchQuota,
    /// Move a hosting to another of the panel's customers.
    PatchOwner,
    /// Change the plan.
    PatchPlan,
    /// Set or remove labels.
    PatchLabels,
    /// Back up, in a job.
    StartBackup,
    /// A hosting's backups.
    ListBackups,
    /// Restore a backup, in a job.
    StartRestore,
    /// Issue a certificate, in a job.
    IssueCertificate,
    /// Install WordPress, in a job.
    InstallWordPress,
    /// Renew every due certificate, in a job.
    RenewAllCertificates,
    /// The nodes.
    ListNodes,
    /// One job.
    GetJob,
    /// Mint a key.
    MintKey,
    /// A page of keys.
    ListKeys,
    /// One key.
    GetKey,
    /// Revoke a key.
    RevokeKey,
    /// The audit log.
    ListAudit,
}

impl Endpoint {
    /// Its declaration.
    pub fn spec(self) -> &'static RouteSpec {
        &ROUTES[self as usize]
    }

    /// Whether it answers 202 and does its work in a job, whose `kind` is
    /// its [`Endpoint::action`].
    pub fn starts_job(self) -> bool {
        self.spec().starts_job
    }

    /// The action name the audit log records (`hosting.suspend`, `key.mint`,
    /// ...); for an endpoint that starts a job, the job's `kind` too.
    pub fn action(self) -> &'static str {
        self.spec().action
    }
}

/// What a request wants to do with a hosting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Read it.
    Read,
    /// Change it.
    Manage,
}

/// Whether a route's rights depend on its hosting (`{id}` names one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[doc(hidden)]
pub enum HostingRule {
    /// No hosting involved.
    None,
    /// Needs any grant (read) or a manage grant (change) on the hosting.
    Access(Access),
}

/// What a route demands of a key before anything else happens: the
/// capability, whether it is cluster-wide (scope all), and what it needs on
/// its hosting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[doc(hidden)]
pub struct RouteRule {
    /// The capability, when the route needs one (`/me` and jobs do not:
    /// a job's starter always reads it).
    pub cap: Option<Capability>,
    /// Whether only a key with scope all may call it.
    pub cluster_scope: bool,
    /// What it needs on its hosting.
    pub hosting: HostingRule,
}

/// A request body a route reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[doc(hidden)]
pub struct BodySpec {
    /// The schema it follows (a component of the document).
    pub schema: &'static str,
    /// Whether it must be there.
    pub required: bool,
    /// The most bytes the route can legitimately need.
    pub limit: usize,
}

/// A parameter, or a group of them, an operation takes (see the document).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[doc(hidden)]
pub enum Param {
    /// `{id}`: a hosting id or domain.
    Hosting,
    /// `{id}`: a job id.
    Job,
    /// `{id}`: a key id.
    Key,
    /// `limit` and `cursor`, the cursor matching this pattern.
    Page(&'static str),
    /// The filters of a hosting list.
    HostingFilters,
    /// The filters of the audit log.
    AuditFilters,
    /// A `true`/`false` query flag, and what it does.
    Flag(&'static str, &'static str),
}

/// What the OpenAPI document says of an operation beyond the rest of its
/// declaration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[doc(hidden)]
pub struct OperationDoc {
    /// Its `operationId`.
    pub id: &'static str,
    /// Its tag.
    pub tag: &'static str,
    /// One line on what it does.
    pub summary: &'static str,
    /// Its success: status, schema (a component, empty for none) and what
    /// the answer is.
    pub success: (u16, &'static str, &'static str),
    /// Error statuses beyond those every authenticated operation has (and
    /// those of every body).
    pub errors: &'static [u16],
    /// Its parameters, in order (the `Idempotency-Key` header follows them
    /// on an idempotent route).
    pub params: &'static [Param],
    /// Whether the success answer carries `Location`.
    pub location: bool,
}

/// One endpoint: everything said of it, once.
#[derive(Clone, Debug)]
pub struct RouteSpec {
    /// The HTTP method.
    pub method: Method,
    /// The pattern below the base path, e.g. `/hostings/{id}` (`{name}` is
    /// one path segment).
    pub pattern: &'static str,
    /// What it does.
    pub endpoint: Endpoint,
    /// The action its audit events (and its job, if it starts one) record.
    pub action: &'static str,
    /// Whether it answers 202 and does its work in a job.
    pub starts_job: bool,
    /// Whether an `Idempotency-Key` makes retries safe (creating and
    /// job-starting POSTs).
    pub idempotent: bool,
    /// Whether it is served without a key (the contract and its page).
    pub public: bool,
    /// What it demands of a key.
    #[doc(hidden)]
    pub rule: RouteRule,
    /// The body it reads, if any.
    #[doc(hidden)]
    pub body: Option<BodySpec>,
    /// What the document says of it.
    #[doc(hidden)]
    pub doc: OperationDoc,
}

impl RouteSpec {
    /// Whether the endpoint reads a request body.
    pub fn takes_body(&self) -> bool {
        self.body.is_some()
    }

    /// The most body bytes it can legitimately need (0 when it takes none):
    /// a longer body is 413 before its first byte is read, whatever larger
    /// `ApiConfig::body_limit` the server allows.
    pub fn body_limit(&self) -> usize {
        self.body.map_or(0, |body| body.limit)
    }

    /// A body of `schema`, bounded by `limit`.
    const fn reads(mut self, schema: &'static str, required: bool, limit: usize) -> Self {
        self.body = Some(BodySpec {
            schema,
            required,
            limit,
        });
        self
    }

    /// Honours `Idempotency-Key`.
    const fn idempotent(mut self) -> Self {
        self.idempotent = true;
        self
    }

    /// Answers 202 and works in a job (with `Location`).
    const fn job(mut self) -> Self {
        self.starts_job = true;
        self.doc.success = (202, "Accepted", "The job was started; poll `Location`");
        self.doc.location = true;
        self
    }

    /// Its success: the status, the schema of the answer (a component)
    /// and what the answer is.
    const fn answers(mut self, status: u16, schema: &'static str, what: &'static str) -> Self {
        self.doc.success = (status, schema, what);
        self
    }

    /// Error statuses beyond those of every authenticated operation and
    /// every body.
    const fn fails_with(mut self, errors: &'static [u16]) -> Self {
        self.doc.errors = errors;
        self
    }

    /// Its parameters, in order (`Idempotency-Key` follows them where
    /// taken).
    const fn takes(mut self, params: &'static [Param]) -> Self {
        self.doc.params = params;
        self
    }

    /// Its success answer carries `Location`.
    const fn locates(mut self) -> Self {
        self.doc.location = true;
        self
    }

    /// Served without a key.
    const fn public(mut self) -> Self {
        self.public = true;
        self
    }
}

/// An endpoint, with nothing but what every declaration states.
#[allow(clippy::too_many_arguments)]
const fn endpoint(
    endpoint: Endpoint,
    method: Method,
    pattern: &'static str,
    action: &'static str,
    rule: RouteRule,
    doc: OperationDoc,
) -> RouteSpec {
    RouteSpec {
        method,
        pattern,
        endpoint,
        action,
        starts_job: false,
        idempotent: false,
        public: false,
        rule,
        body: None,
        doc,
    }
}

/// The document's words for an operation: its id, tag and summary (see
/// the builders of [`RouteSpec`] for the rest).
const fn doc(id: &'static str, tag: &'static str, summary: &'static str) -> OperationDoc {
    OperationDoc {
        id,
        tag,
        summary,
        success: (200, "", ""),
        errors: &[],
        params: &[],
        location: false,
    }
}

/// No capability, no scope, no hosting: any key (or none, when public).
const ANY_KEY: RouteRule = rule(None, false, HostingRule::None);

const fn rule(cap: Option<Capability>, cluster_scope: bool, hosting: HostingRule) -> RouteRule {
    RouteRule {
        cap,
        cluster_scope,
        hosting,
    }
}

/// `cap`, on no hosting in particular.
const fn needs(cap: Capability) -> RouteRule {
    rule(Some(cap), false, HostingRule::None)
}

/// `cap` and scope all: cluster-wide.
const fn cluster(cap: Capability) -> RouteRule {
    rule(Some(cap), true, HostingRule::None)
}

/// `cap` and any grant on the hosting.
const fn read(cap: Capability) -> RouteRule {
    rule(Some(cap), false, HostingRule::Access(Access::Read))
}

/// `cap` and a manage grant on the hosting.
const fn manage(cap: Capability) -> RouteRule {
    rule(Some(cap), false, HostingRule::Access(Access::Manage))
}

/// `cap` and scope all on the hosting: an operator's setting.
const fn operator(cap: Capability) -> RouteRule {
    rule(Some(cap), true, HostingRule::Access(Access::Manage))
}

/// A setting's body: a few named values.
const SETTING_BODY: usize = 4 * 1024;
/// A form of options: a vhost's, an operation's (URLs, names, an email).
const FORM_BODY: usize = 16 * 1024;
/// A new hosting: its names (up to 50 aliases) and its settings.
const CREATE_BODY: usize = 64 * 1024;
/// A new key: up to 1,000 grants by id or domain, and an allowlist.
const KEY_BODY: usize = 512 * 1024;

const HOSTING: &[Param] = &[Param::Hosting];
/// The errors of a read of one hosting.
const READ_ERRORS: &[u16] = &[400, 404, 502, 504];
/// The errors of a change of one hosting.
const CHANGE_ERRORS: &[u16] = &[400, 404, 409, 502, 504];

/// Every endpoint of the API, in the order of [`Endpoint`].
#[doc(hidden)]
pub const ROUTES: &[RouteSpec] = {
    use Capability as C;
    use Endpoint as E;
    use Method as M;
    &[
        endpoint(
            E::OpenApi,
            M::GET,
            "/openapi.json",
            "openapi.read",
            ANY_KEY,
            doc(
                "getOpenApi",
                "meta",
                "This OpenAPI document",
            ),
        )
        .answers(200, "", "The document")
        .public(),
        endpoint(
            E::Docs,
            M::GET,
            "/docs",
            "docs.read",
            ANY_KEY,
            doc(
                "getDocs",
                "meta",
                "This contract as a readable page",
            ),
        )
        .answers(200, "", "An HTML page")
        .public(),
        endpoint(
            E::Me,
            M::GET,
            "/me",
            "me.read",
            ANY_KEY,
            doc(
                "getMe",
                "keys",
                "The presented key, its effective capabilities, scope and expiry",
            ),
        )
        .answers(200, "Me", "The key"),
        endpoint(
            E::ListHostings,
            M::GET,
            "/hostings",
            "hostings.list",
            needs(C::HostingView),
            doc(
                "listHostings",
                "hostings",
                "The hostings the key may read, by id",
            ),
        )
        .answers(200, "HostingPage", "One page")
        .fails_with(&[400, 502, 504])
        .takes(&[Param::Page("[A-Za-z0-9_-]{1,64}"), Param::HostingFilters]),
        endpoint(
            E::CreateHosting,
            M::POST,
            "/hostings",
            "hosting.create",
            needs(C::HostingCreate),
            doc(
                "createHosting",
                "hostings",
                "Create a hosting (granted to a tenant key that creates it)",
            ),
        )
        .answers(201, "HostingDetail", "The new hosting")
        .fails_with(&[400, 409, 413, 502, 504])
        .reads("CreateHosting", true, CREATE_BODY)
        .idempotent()
        .locates(),
        endpoint(
            E::GetHosting,
            M::GET,
            "/hostings/{id}",
            "hosting.read",
            read(C::HostingView),
            doc(
                "getHosting",
                "hostings",
                "One hosting",
            ),
        )
        .answers(200, "HostingDetail", "The hosting")
        .fails_with(READ_ERRORS)
        .takes(HOSTING),
        endpoint(
            E::DeleteHosting,
            M::DELETE,
            "/hostings/{id}",
            "hosting.delete",
            manage(C::HostingDelete),
            doc(
                "deleteHosting",
                "hostings",
                "Delete, in a job",
            ),
        )
        .fails_with(CHANGE_ERRORS)
        .takes(&[
                    Param::Hosting,
                    Param::Flag("keep_user", "Keep the system user"),
                    Param::Flag("keep_database", "Keep the database"),
                ])
        .job(),
        endpoint(
            E::SuspendHosting,
            M::POST,
            "/hostings/{id}/suspend",
            "hosting.suspend",
            manage(C::HostingSuspend),
            doc(
                "suspendHosting",
                "hostings",
                "Suspend (a no-op when suspended)",
            ),
        )
        .answers(200, "StateChange", "The new state")
        .fails_with(CHANGE_ERRORS)
        .takes(HOSTING),
        endpoint(
            E::ResumeHosting,
            M::POST,
            "/hostings/{id}/resume",
            "hosting.resume",
            manage(C::HostingSuspend),
            doc(
                "resumeHosting",
                "hostings",
                "Resume (a no-op when active)",
            ),
        )
        .answers(200, "StateChange", "The new state")
        .fails_with(CHANGE_ERRORS)
        .takes(HOSTING),
        // Expiry, limits and quota are the operator's settings, not the tenant's.
        endpoint(
            E::PatchLimits,
            M::PATCH,
            "/hostings/{id}/limits",
            "hosting.limits",
            operator(C::HostingEditConfig),
            doc(
                "patchLimits",
                "hostings",
                "Change resource limits",
            ),
        )
        .answers(200, "Limits", "The new limits")
        .fails_with(CHANGE_ERRORS)
        .takes(HOSTING)
        .reads("LimitsPatch", true, SETTING_BODY),
        endpoint(
            E::PatchPhp,
            M::PATCH,
            "/hostings/{id}/php",
            "hosting.php",
            manage(C::HostingEditConfig),
            doc(
                "patchPhp",
                "hostings",
                "Change the PHP version",
            ),
        )
        .answers(200, "PhpValue", "The new version")
        .fails_with(CHANGE_ERRORS)
        .takes(HOSTING)
        .reads("PhpPatch", true, SETTING_BODY),
        endpoint(
            E::PatchVhost,
            M::PATCH,
            "/hostings/{id}/vhost",
            "hosting.vhost",
            manage(C::HostingEditConfig),
            doc(
                "patchVhost",
                "hostings",
                "Change web-server options (the basic-auth password is write-only)",
            ),
        )
        .answers(200, "VhostOptions", "The new options")
        .fails_with(CHANGE_ERRORS)
        .takes(HOSTING)
        .reads("VhostPatch", true, FORM_BODY),
        endpoint(
            E::PatchExpiry,
            M::PATCH,
            "/hostings/{id}/expiry",
            "hosting.expiry",
            operator(C::HostingEditConfig),
            doc(
                "patchExpiry",
                "hostings",
                "Set or clear (null) the expiry",
            ),
        )
        .answers(200, "ExpiryValue", "The new expiry")
        .fails_with(CHANGE_ERRORS)
        .takes(HOSTING)
        .reads("ExpiryPatch", true, SETTING_BODY),
        endpoint(
            E::PatchQuota,
            M::PATCH,
            "/hostings/{id}/quota",
            "hosting.quota",
            operator(C::HostingEditConfig),
            doc(
                "patchQuota",
                "hostings",
                "Change quotas",
            ),
        )
        .answers(200, "Quota", "The new quota")
        .fails_with(CHANGE_ERRORS)
        .takes(HOSTING)
        .reads("QuotaPatch", true, SETTING_BODY),
        endpoint(
            E::PatchOwner,
            M::PATCH,
            "/hostings/{id}/owner",
            "hosting.owner",
            operator(C::HostingEditConfig),
            doc(
                "patchOwner",
                "hostings",
                "Move the hosting to another of the panel's customers, or to none (null); audited with the old and the new owner",
            ),
        )
        .answers(200, "OwnerValue", "The new owner")
        .fails_with(CHANGE_ERRORS)
        .takes(HOSTING)
        .reads("OwnerPatch", true, SETTING_BODY),
        endpoint(
            E::PatchPlan,
            M::PATCH,
            "/hostings/{id}/plan",
            "hosting.plan",
            operator(C::HostingEditConfig),
            doc("patchPlan", "hostings", "Set or clear (null) the plan"),
        )
        .answers(200, "PlanValue", "The new plan")
        .fails_with(CHANGE_ERRORS)
        .takes(HOSTING)
        .reads("PlanPatch", true, SETTING_BODY),
        endpoint(
            E::PatchLabels,
            M::PATCH,
            "/hostings/{id}/labels",
            "hosting.labels",
            operator(C::HostingEditConfig),
            doc(
                "patchLabels",
                "hostings",
                "Set labels (a value) or remove them (null); labels not named stay",
            ),
        )
        .answers(200, "LabelsValue", "Every label now set")
        .fails_with(CHANGE_ERRORS)
        .takes(HOSTING)
        .reads("LabelsPatch", true, SETTING_BODY),
        endpoint(
            E::StartBackup,
            M::POST,
            "/hostings/{id}/backup",
            "hosting.backup",
            manage(C::BackupRun),
            doc(
                "startBackup",
                "hostings",
                "Back up, in a job (its result holds the backup id)",
            ),
        )
        .fails_with(CHANGE_ERRORS)
        .takes(HOSTING)
        .reads("NoOptions", false, FORM_BODY)
        .idempotent()
        .job(),
        endpoint(
            E::ListBackups,
            M::GET,
            "/hostings/{id}/backups",
            "hosting.backups",
            read(C::BackupRun),
            doc(
                "listBackups",
                "hostings",
                "The hosting's backups, newest first",
            ),
        )
        .answers(200, "BackupList", "The backups")
        .fails_with(READ_ERRORS)
        .takes(HOSTING),
        endpoint(
            E::StartRestore,
            M::POST,
            "/hostings/{id}/restore",
            "hosting.restore",
            manage(C::BackupRestore),
            doc(
                "startRestore",
                "hostings",
                "Restore a backup, in a job",
            ),
        )
        .fails_with(CHANGE_ERRORS)
        .takes(HOSTING)
        .reads("RestoreRequest", true, FORM_BODY)
        .idempotent()
        .job(),
        endpoint(
            E::IssueCertificate,
            M::POST,
            "/hostings/{id}/cert",
            "hosting.cert",
            manage(C::CertManage),
            doc(
                "issueCertificate",
                "hostings",
                "Issue the certificate, in a job",
            ),
        )
        .fails_with(CHANGE_ERRORS)
        .takes(HOSTING)
        .reads("CertificateRequest", false, FORM_BODY)
        .idempotent()
        .job(),
        endpoint(
            E::InstallWordPress,
            M::POST,
            "/hostings/{id}/wp/install",
            "hosting.wp_install",
            manage(C::WpManage),
            doc(
                "installWordPress",
                "hostings",
                "Install WordPress, in a job (the password never reappears)",
            ),
        )
        .fails_with(CHANGE_ERRORS)
        .takes(HOSTING)
        .reads("WpInstallRequest", true, FORM_BODY)
        .idempotent()
        .job(),
        endpoint(
            E::RenewAllCertificates,
            M::POST,
            "/certs/renew-all",
            "certs.renew_all",
            cluster(C::CertManage),
            doc(
                "renewAllCertificates",
                "certificates",
                "Renew every due certificate on every node, in one job",
            ),
        )
        .fails_with(&[400, 409])
        .reads("NoOptions", false, FORM_BODY)
        .idempotent()
        .job(),
        endpoint(
            E::ListNodes,
            M::GET,
            "/nodes",
            "nodes.list",
            cluster(C::NodesView),
            doc(
                "listNodes",
                "nodes",
                "The nodes of the cluster",
            ),
        )
        .answers(200, "NodeList", "The nodes"),
        endpoint(
            E::GetJob,
            M::GET,
            "/jobs/{id}",
            "job.read",
            ANY_KEY,
            doc(
                "getJob",
                "jobs",
                "A job (scope-all keys read every job, others the jobs they started)",
            ),
        )
        .answers(200, "Job", "The job")
        .fails_with(&[400, 404])
        .takes(&[Param::Job]),
        endpoint(
            E::MintKey,
            M::POST,
            "/keys",
            "key.mint",
            needs(C::ApiKeysManage),
            doc(
                "mintKey",
                "keys",
                "Mint a key: never more than the caller holds; the raw key is in this answer only",
            ),
        )
        .answers(201, "MintedKey", "The new key")
        .fails_with(&[400, 409, 502, 504])
        .reads("MintRequest", true, KEY_BODY)
        .locates(),
        endpoint(
            E::ListKeys,
            M::GET,
            "/keys",
            "keys.list",
            needs(C::ApiKeysManage),
            doc(
                "listKeys",
                "keys",
                "Keys (scope-all keys see all, others the keys they minted)",
            ),
        )
        .answers(200, "KeyPage", "One page")
        .fails_with(&[400])
        .takes(&[Param::Page("key_[A-Za-z0-9]{1,64}")]),
        endpoint(
            E::GetKey,
            M::GET,
            "/keys/{id}",
            "key.read",
            needs(C::ApiKeysManage),
            doc(
                "getKey",
                "keys",
                "One key (never the raw key, never its hash)",
            ),
        )
        .answers(200, "Key", "The key")
        .fails_with(&[400, 404])
        .takes(&[Param::Key]),
        endpoint(
            E::RevokeKey,
            M::DELETE,
            "/keys/{id}",
            "key.revoke",
            needs(C::ApiKeysManage),
            doc(
                "revokeKey",
                "keys",
                "Revoke a key and every key it minted: their next requests are 401 (409 for the last full admin key)",
            ),
        )
        .answers(200, "Key", "The revoked key")
        .fails_with(&[400, 404, 409])
        .takes(&[Param::Key]),
        endpoint(
            E::ListAudit,
            M::GET,
            "/audit",
            "audit.list",
            cluster(C::AuditView),
            doc(
                "listAudit",
                "audit",
                "The audit log, newest first",
            ),
        )
        .answers(200, "AuditPage", "One page")
        .fails_with(&[400, 404])
        .takes(&[Param::Page("[0-9]{1,19}"), Param::AuditFilters]),
    ]
};

/// One endpoint as the kit declares it, read-only: what a client, a
/// conformance matrix or a document needs to know of it, without restating
/// it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct EndpointInfo {
    /// The HTTP method (`GET`, `POST`, ...).
    pub method: &'static str,
    /// The path below `/api/v1`, `{id}` standing for one segment.
    pub path: &'static str,
    /// Its `operationId` in the OpenAPI document.
    pub operation_id: &'static str,
    /// The action its audit events (and its job) record.
    pub action: &'static str,
    /// The capability it needs, if any.
    pub capability: Option<Capability>,
    /// Whether it needs scope `all`.
    pub cluster_scope: bool,
    /// What it needs on the hosting its `{id}` names, if it names one.
    pub hosting: Option<Access>,
    /// The status of its success.
    pub success_status: u16,
    /// Whether it answers 202 and works in a job.
    pub starts_job: bool,
    /// Whether it honours `Idempotency-Key`.
    pub idempotent: bool,
    /// Whether it is served without a key.
    pub public: bool,
    /// The schema of the body it reads (a component of the document), if any.
    pub body_schema: Option<&'static str>,
    /// The most body bytes it accepts (0 when it takes no body).
    pub body_limit: usize,
}

/// Every endpoint of `/api/v1`, in the order the kit declares them.
pub fn endpoints() -> impl Iterator<Item = EndpointInfo> {
    ROUTES.iter().map(|route| EndpointInfo {
        method: route.method.as_str(),
        path: route.pattern,
        operation_id: route.doc.id,
        action: route.action,
        capability: route.rule.cap,
        cluster_scope: route.rule.cluster_scope,
        hosting: match route.rule.hosting {
            HostingRule::Access(access) => Some(access),
            HostingRule::None => None,
        },
        success_status: route.doc.success.0,
        starts_job: route.starts_job,
        idempotent: route.idempotent,
        public: route.public,
        body_schema: route.body.map(|body| body.schema),
        body_limit: route.body_limit(),
    })
}

/// Every job kind: the actions of the endpoints that start jobs.
#[doc(hidden)]
pub fn job_kinds() -> Vec<&'static str> {
    ROUTES
        .iter()
        .filter(|route| route.starts_job)
        .map(|route| route.action)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_endpoint_is_declared_at_its_place() {
        for (at, route) in ROUTES.iter().enumerate() {
            assert_eq!(route.endpoint as usize, at, "{:?}", route.endpoint);
        }
    }

    #[test]
    fn operation_ids_and_actions_are_each_used_once() {
        let mut ids: Vec<&str> = ROUTES.iter().map(|route| route.doc.id).collect();
        let mut actions: Vec<&str> = ROUTES.iter().map(|route| route.action).collect();
        for list in [&mut ids, &mut actions] {
            list.sort_unstable();
            let before = list.len();
            list.dedup();
            assert_eq!(list.len(), before);
        }
    }
}
