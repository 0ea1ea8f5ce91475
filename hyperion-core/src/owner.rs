//! Key owners. A key never holds more than the person or account that minted
//! it holds *now*: its effective capabilities are its own intersected with
//! the owner's current ones, read live on every request.

use async_trait::async_trait;

use crate::CapSet;
use crate::model::OwnerId;
use crate::store::StoreError;

/// The integrator's directory of key owners (their panel's users or accounts).
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait OwnerDirectory: Send + Sync {
    /// The owner's current capabilities, or `None` when the owner is gone or
    /// disabled (every key it minted then stops working).
    async fn current_caps(&self, owner: &OwnerId) -> Result<Option<CapSet>, StoreError>;
}
