//! The names of creates in flight, held in this process's memory.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;

use crate::reservations::NameReservations;
use crate::store::StoreError;

/// Names held in this process's memory: the default.
#[derive(Default)]
pub struct MemoryNameReservations {
    held: Mutex<HashMap<String, String>>,
}

#[async_trait]
impl NameReservations for MemoryNameReservations {
    async fn reserve(&self, holder: &str, names: &[String]) -> Result<Option<usize>, StoreError> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(busy) = names.iter().position(|name| held.contains_key(name)) {
            return Ok(Some(busy));
        }
        for name in names {
            held.insert(name.clone(), holder.to_owned());
        }
        Ok(None)
    }

    async fn release(&self, holder: &str, names: &[String]) -> Result<(), StoreError> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        for name in names {
            if held.get(name).is_some_and(|h| h == holder) {
                held.remove(name);
            }
        }
        Ok(())
    }
}
