//! The quota ledger: bytes held per owner. A [`Charge`] travels with each
//! [`Allocation`](super::Allocation) and refunds its bytes when the last
//! holder drops the buffers, however long after negotiation that is.

use std::collections::HashMap;
use std::hash::Hash;

use super::Owner;
use std::sync::{Arc, Mutex};

use super::outcome::{Failed, FailureReason};

/// Bytes charged per owner.
#[derive(Debug)]
pub(crate) struct Ledger<O>(Arc<Mutex<HashMap<O, u64>>>);

impl<O> Default for Ledger<O> {
    fn default() -> Self {
        Ledger(Arc::new(Mutex::new(HashMap::new())))
    }
}

impl<O: Owner> Ledger<O> {
    pub(crate) fn get(&self, owner: &O) -> u64 {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(owner).copied().unwrap_or(0)
    }

    /// Bytes charged to all owners.
    pub(crate) fn total(&self) -> u64 {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.values().fold(0, |a, b| a.saturating_add(*b))
    }

    /// Whether `owner` may take `bytes` more under `quota`.
    pub(crate) fn check(&self, owner: &O, bytes: u64, quota: u64) -> Result<(), Failed> {
        let used = self.get(owner);
        match used.checked_add(bytes) {
            Some(t) if t <= quota => Ok(()),
            _ => Err(Failed::new(
                FailureReason::QuotaExceeded,
                format!(
                    "the collection needs {bytes} bytes; its creator ({owner}) already holds \
                     {used} of its {quota}-byte quota"
                ),
            )),
        }
    }

    /// Charge `bytes` to `owner`, refunded when the returned charge drops.
    pub(crate) fn charge(&self, owner: &O, bytes: u64, quota: u64) -> Result<Charge<O>, Failed> {
        self.check(owner, bytes, quota)?;
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *map.entry(owner.clone()).or_default() += bytes;
        Ok(Charge {
            ledger: self.0.clone(),
            owner: owner.clone(),
            bytes,
        })
    }
}

/// Bytes charged to one owner for one allocation; refunded on drop.
#[derive(Debug)]
pub(crate) struct Charge<O: Clone + Eq + Hash> {
    ledger: Arc<Mutex<HashMap<O, u64>>>,
    owner: O,
    bytes: u64,
}

impl<O: Clone + Eq + Hash> Drop for Charge<O> {
    fn drop(&mut self) {
        let mut map = self.ledger.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.owner) {
            *n = n.saturating_sub(self.bytes);
            if *n == 0 {
                map.remove(&self.owner);
            }
        }
    }
}
