//! `POST /hostings`: create a hosting, synchronously (201 with its detail).

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

use http::StatusCode;

use super::RequestContext;
use crate::authz::require;
use crate::capability::Capability;
use crate::error::ApiError;
use crate::http::ApiResponse;
use crate::keys::GrantLevel;
use crate::model::{CreateHostingRequest, Domain, HostingId, HostingSelector, NodeStatus};
use crate::random;

/// Domains of creates in flight. Two concurrent creates of one name must not
/// both pass the "exists anywhere?" check: the second is refused here.
#[derive(Default)]
pub(crate) struct DomainReservations {
    held: Mutex<HashSet<Domain>>,
}

/// Names reserved by one create; released when dropped, whatever happens.
struct Reservation<'a> {
    owner: &'a DomainReservations,
    names: Vec<Domain>,
}

impl DomainReservations {
    fn reserve<'a>(&'a self, names: &[&Domain]) -> Result<Reservation<'a>, ApiError> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(busy) = names.iter().find(|name| held.contains(**name)) {
            return Err(ApiError::Conflict(format!(
                "a hosting for `{busy}` is being created right now"
            )));
        }
        for name in names {
            held.insert((*name).clone());
        }
        Ok(Reservation {
            owner: self,
            names: names.iter().map(|name| (*name).clone()).collect(),
        })
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        let mut held = self
            .owner
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for name in &self.names {
            held.remove(name);
        }
    }
}

/// A fresh canonical id: `h` + 16 lowercase hex digits of OS randomness.
fn new_hosting_id() -> HostingId {
    let hex = random::hex(8);
    format!("h{hex}").parse().expect("hex ids are valid")
}

/// `POST /hostings`.
pub(crate) async fn create(ctx: &RequestContext<'_>) -> Result<ApiResponse, ApiError> {
    require(&ctx.principal, Capability::HostingCreate)?;
    let request: CreateHostingRequest = ctx.json_body()?;
    let names: Vec<&Domain> = request.names().collect();
    let _reservation = ctx.services.reservations.reserve(&names)?;
    let names: Vec<Domain> = names.into_iter().cloned().collect();
    let (new, explicit_node) = request.validate(new_hosting_id())?;
    let cluster = &ctx.services.cluster;

    // A name served anywhere in the cluster, as a domain or an alias, would collide.
    let lookups = names.iter().map(|name| async move {
        match cluster.locate(&HostingSelector::Domain(name.clone())).await {
            Ok(_) => Err(ApiError::Conflict(format!(
                "`{name}` is already served by a hosting in this cluster"
            ))),
            Err(ApiError::NotFound(_)) => Ok(()),
            Err(err) => Err(err),
        }
    });
    futures::future::try_join_all(lookups).await?;

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

    ctx.set_target(new.id.as_str());
    let detail = cluster.call(node.as_ref(), node.create(&new)).await?;
    cluster.locator().learn_detail(&detail, node.id());
    if !ctx.principal.scope.is_all() {
        // A tenant's new hosting is its own to manage.
        ctx.services
            .keys
            .add_grant(
                &ctx.principal.key_id,
                &detail.summary.id,
                GrantLevel::Manage,
            )
            .await?;
    }
    let mut response = ApiResponse::json(StatusCode::CREATED, &detail);
    response.set_header(
        http::header::LOCATION,
        &format!("/api/v1/hostings/{}", detail.summary.id),
    );
    Ok(response)
}
