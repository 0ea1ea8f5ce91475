//! Names held by creates in flight. Two concurrent creates of one domain
//! must not both pass the "exists anywhere?" check, wherever they run: one
//! process holds them in memory; replicas share them in their database.

use async_trait::async_trait;

use crate::store::StoreError;

/// Where the names of creates in flight are held.
///
/// A name is an opaque string (`domain:shop.example.com`,
/// `system_user:shop`). Each create holds its names under a `holder` token
/// of its own, and gives them back with the same token; a store shared by
/// processes also lets a holding lapse after a while, so that a process
/// that died holding names does not keep them forever.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait NameReservations: Send + Sync {
    /// Holds every name of `names` for `holder`, or none of them: answers
    /// the index of a name someone else holds, if any.
    async fn reserve(&self, holder: &str, names: &[String]) -> Result<Option<usize>, StoreError>;
    /// Gives back the names `holder` holds among `names`.
    async fn release(&self, holder: &str, names: &[String]) -> Result<(), StoreError>;
}
