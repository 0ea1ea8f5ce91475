//! Owners and what each may do, in this process's memory.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use async_trait::async_trait;

use crate::CapSet;
use crate::model::OwnerId;
use crate::owner::OwnerDirectory;
use crate::store::StoreError;

/// Owners and their capabilities in memory; change them at run time to see
/// every key of an owner shrink or die at once.
#[derive(Debug, Default)]
pub struct MemoryOwnerDirectory {
    owners: RwLock<HashMap<OwnerId, CapSet>>,
}

impl MemoryOwnerDirectory {
    /// An empty directory.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an owner or replaces its capabilities.
    pub fn set(&self, owner: OwnerId, caps: CapSet) {
        self.owners
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(owner, caps);
    }

    /// Removes an owner: its keys stop working.
    pub fn remove(&self, owner: &OwnerId) {
        self.owners
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(owner);
    }
}

#[async_trait]
impl OwnerDirectory for MemoryOwnerDirectory {
    async fn current_caps(&self, owner: &OwnerId) -> Result<Option<CapSet>, StoreError> {
        Ok(self
            .owners
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(owner)
            .copied())
    }
}
