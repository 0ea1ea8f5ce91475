//! `POST /hostings`: create a hosting, synchronously (201 with its detail).

use std::sync::Arc;

use http::StatusCode;

use super::hostings::hosting_response;
use super::{AuditTarget, RequestContext};
use crate::authz::Principal;
use crate::error::ApiError;
use crate::http::ApiResponse;
use crate::keys::GrantLevel;
use crate::model::{
    CreateHostingRequest, Domain, HostingId, HostingSelector, NewHosting, NodeId, NodeStatus,
    OwnerId,
};
use crate::node::ListQuery;
use crate::random;
use crate::reservations::NameReservations;
use crate::upstream::check_tenant_upstream;

/// One name a create in flight holds.
#[derive(Clone, PartialEq, Eq, Hash)]
enum Reserved {
    Domain(Domain),
    SystemUser(String),
}

impl Reserved {
    /// How the name is held in [`NameReservations`].
    fn key(&self) -> String {
        match self {
            Reserved::Domain(domain) => format!("domain:{domain}"),
            Reserved::SystemUser(user) => format!("system_user:{user}"),
        }
    }
}

impl std::fmt::Display for Reserved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reserved::Domain(domain) => write!(f, "`{domain}`"),
            Reserved::SystemUser(user) => write!(f, "system user `{user}`"),
        }
    }
}

/// The names one create holds. Given back by [`Reservation::release`];
/// if the create is dropped midway (the client hung up), given back in the
/// background.
struct Reservation {
    store: Arc<dyn NameReservations>,
    holder: String,
    names: Vec<String>,
    released: bool,
}

impl Reservation {
    /// Holds `names` for one create, or refuses with the name held by another.
    async fn hold(
        store: &Arc<dyn NameReservations>,
        names: Vec<Reserved>,
    ) -> Result<Reservation, ApiError> {
        let holder = random::hex(16);
        let keys: Vec<String> = names.iter().map(Reserved::key).collect();
        if let Some(busy) = store.reserve(&holder, &keys).await? {
            return Err(ApiError::Conflict(format!(
                "a hosting for {} is being created right now",
                names[busy]
            )));
        }
        Ok(Reservation {
            store: Arc::clone(store),
            holder,
            names: keys,
            released: false,
        })
    }

    async fn release(mut self) {
        self.released = true;
        if let Err(err) = self.store.release(&self.holder, &self.names).await {
            tracing::warn!(error = %err, "could not give back the names of a create; they lapse");
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (store, holder, names) = (
            Arc::clone(&self.store),
            std::mem::take(&mut self.holder),
            std::mem::take(&mut self.names),
        );
        runtime.spawn(async move {
            if let Err(err) = store.release(&holder, &names).await {
                tracing::warn!(error = %err, "could not give back the names of a create; they lapse");
            }
        });
    }
}

/// A fresh canonical id: `h` + 16 lowercase hex digits of OS randomness.
fn new_hosting_id() -> HostingId {
    let hex = random::hex(8);
    format!("h{hex}").parse().expect("hex ids are valid")
}

/// The answer for a name that cannot be had: taken anywhere in the cluster,
/// or (for a grants-scoped key) under a hosting it does not manage. One
/// wording for both, so a refusal tells no more than trying the name would.
fn name_taken(name: &Domain) -> ApiError {
    ApiError::Conflict(format!(
        "`{name}` is already served by a hosting in this cluster"
    ))
}

/// The parent domains of `name` that a hosting could hold (`a.b.example.com`
/// → `b.example.com`, `example.com`): every proper suffix of two labels or more.
fn parent_domains(name: &Domain) -> Vec<Domain> {
    let text = name.as_str();
    text.match_indices('.')
        .map(|(at, _)| &text[at + 1..])
        .filter(|parent| parent.contains('.'))
        .filter_map(|parent| parent.parse().ok())
        .collect()
}

/// Pages read at most when looking for hostings below a name.
const MAX_PAGES_BELOW: usize = 50;

/// Whether a hosting the principal does not manage is served under `name`
/// (its domain ends in `.name`): a tenant may not take `example.com` over
/// another customer's `shop.example.com`, since every later name under it
/// would then be refused to everyone else. A cluster too large to read in
/// [`MAX_PAGES_BELOW`] pages, or a node that does not answer, refuses.
async fn holds_others_below(ctx: &RequestContext<'_>, name: &Domain) -> Result<bool, ApiError> {
    let suffix = format!(".{name}");
    let mut after = None;
    for _ in 0..MAX_PAGES_BELOW {
        let page = ctx
            .services
            .cluster
            .list(
                None,
                &ListQuery {
                    after,
                    limit: 200,
                    domain_contains: Some(suffix.clone()),
                    ..ListQuery::default()
                },
            )
            .await?;
        if let Some((_, err)) = page.unavailable.into_iter().next() {
            return Err(err.into());
        }
        let others = page.items.iter().any(|hosting| {
            hosting.domain.as_str().ends_with(&suffix)
                && ctx
                    .principal
                    .scope()
                    .level_on(&hosting.id, hosting.owner.as_ref())
                    != Some(GrantLevel::Manage)
        });
        if others {
            return Ok(true);
        }
        match page.next_cursor {
            Some(cursor) => after = Some(cursor),
            None => return Ok(false),
        }
    }
    Ok(true)
}

/// Whose a new hosting is: whoever a scope-all key names; a grants-scoped
/// key's hosting is no customer's; a key scoped to an owner creates for
/// its own owner, and naming another is refused like a hosting that is not
/// there is (403 would say that owner exists).
fn owner_of_new(
    principal: &Principal,
    asked: Option<OwnerId>,
) -> Result<Option<OwnerId>, ApiError> {
    match principal.scope().owner() {
        _ if principal.scope().is_all() => Ok(asked),
        Some(_) if principal.scope().owner_level() == Some(GrantLevel::View) => {
            Err(ApiError::Forbidden(
                "this API key may only view its customer's hostings, not create one".to_owned(),
            ))
        }
        Some(own) => match asked {
            None => Ok(Some(own.clone())),
            Some(asked) if asked == *own => Ok(Some(asked)),
            Some(_) => Err(ApiError::Validation(
                "owner: a key scoped to an owner creates hostings for that owner only".to_owned(),
            )),
        },
        None if asked.is_some() => Err(ApiError::Validation(
            "owner can only be chosen by a key with scope `all`".to_owned(),
        )),
        None => Ok(None),
    }
}

/// `POST /hostings`.
pub(crate) async fn create(
    ctx: &RequestContext<'_>,
    target: &mut AuditTarget,
) -> Result<ApiResponse, ApiError> {
    let principal = &ctx.principal;
    let tenant = !principal.scope().is_all();
    let request: CreateHostingRequest = ctx.json_body()?;
    if tenant && request.system_user.is_some() {
        return Err(ApiError::Validation(
            "system_user can only be chosen by a key with scope `all`; it is derived otherwise"
                .to_owned(),
        ));
    }
    if tenant && request.node.is_some() {
        return Err(ApiError::Validation(
            "node can only be chosen by a key with scope `all`".to_owned(),
        ));
    }
    if tenant && (request.plan.is_some() || !request.labels.is_empty()) {
        return Err(ApiError::Validation(
            "plan and labels can only be chosen by a key with scope `all`".to_owned(),
        ));
    }
    let mut request = request;
    request.owner = owner_of_new(principal, request.owner)?;
    let names: Vec<Domain> = request.names().cloned().collect();
    let (new, explicit_node) = request.validate(new_hosting_id())?;
    let mut reserved: Vec<Reserved> = names.iter().cloned().map(Reserved::Domain).collect();
    reserved.push(Reserved::SystemUser(new.system_user.clone()));
    let reservation = Reservation::hold(&ctx.services.reservations, reserved).await?;
    let created = create_held(ctx, target, new, explicit_node, names).await;
    reservation.release().await;
    created
}

/// The rest of `POST /hostings`, while its names are held.
async fn create_held(
    ctx: &RequestContext<'_>,
    target: &mut AuditTarget,
    new: NewHosting,
    explicit_node: Option<NodeId>,
    names: Vec<Domain>,
) -> Result<ApiResponse, ApiError> {
    let principal = &ctx.principal;
    let tenant = !principal.scope().is_all();
    if let (true, Some(url)) = (tenant, &new.proxy_upstream_url) {
        check_tenant_upstream(url, &ctx.services.config.tenant_upstream_allowed).await?;
    }
    let cluster = &ctx.services.cluster;

    // A name served anywhere in the cluster, as a domain or an alias, would
    // collide; a tenant may not take a name under a hosting it does not manage.
    let lookups = names.iter().map(|name| async move {
        match cluster.locate(&HostingSelector::Domain(name.clone())).await {
            Ok(_) => return Err(name_taken(name)),
            Err(ApiError::NotFound(_)) => {}
            Err(err) => return Err(err),
        }
        if tenant {
            if holds_others_below(ctx, name).await? {
                return Err(name_taken(name));
            }
            for parent in parent_domains(name) {
                match cluster.locate(&HostingSelector::Domain(parent)).await {
                    Ok(located)
                        if principal.scope().level_on(
                            &located.hosting.summary.id,
                            located.hosting.summary.owner.as_ref(),
                        ) != Some(GrantLevel::Manage) =>
                    {
                        return Err(name_taken(name));
                    }
                    Ok(_) | Err(ApiError::NotFound(_)) => {}
                    Err(err) => return Err(err),
                }
            }
        }
        Ok(())
    });
    futures::future::try_join_all(lookups).await?;

    // System users are unique across the cluster.
    let user = new.system_user.as_str();
    let taken = cluster.nodes().iter().map(|node| async move {
        cluster
            .call(node.as_ref(), node.system_user_taken(user))
            .await
            .map_err(ApiError::from)
    });
    if futures::future::try_join_all(taken).await?.contains(&true) {
        return Err(ApiError::Conflict(format!(
            "system user `{user}` is already used by a hosting in this cluster"
        )));
    }

    let node = match &explicit_node {
        Some(id) => {
            let node = cluster
                .node(id)
                .ok_or_else(|| ApiError::Validation(format!("node: unknown node `{id}`")))?;
            let info = cluster.call(node.as_ref(), node.info()).await?;
            if info.draining {
                return Err(ApiError::Conflict(format!(
                    "node `{id}` is draining and takes no new hostings"
                )));
            }
            node
        }
        None => {
            let candidates: Vec<_> = cluster
                .infos()
                .await
                .into_iter()
                .filter(|info| info.status == NodeStatus::Online && !info.draining)
                .collect();
            let chosen = ctx
                .services
                .placement
                .place(&new, &candidates)
                .ok_or_else(|| {
                    ApiError::Conflict("no node accepts new hostings right now".to_owned())
                })?;
            cluster.node(&chosen).ok_or_else(|| {
                ApiError::internal(format!("placement chose unknown node {chosen}"))
            })?
        }
    };

    target.set(new.id.as_str());
    let detail = cluster.call(node.as_ref(), node.create(&new)).await?;
    cluster.locator().learn_detail(&detail, node.id());
    if tenant {
        // A tenant's new hosting is its own to manage, and so of every
        // grants-scoped key above it: a chain is clamped to what all its
        // keys hold, so a grant to the key alone would not reach it.
        for link in &principal.chain {
            ctx.services
                .keys
                .add_grant(link.key_id(), &detail.summary.id, GrantLevel::Manage)
                .await?;
        }
    }
    let mut response = hosting_response(principal, StatusCode::CREATED, &detail)?;
    response.set_header(
        http::header::LOCATION,
        &ctx.link(&format!("/hostings/{}", detail.summary.id)),
    );
    Ok(response)
}
