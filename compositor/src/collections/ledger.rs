//! The quota ledger: bytes and buffer fds held per owner, and their sum. A
//! [`Charge`] travels with each [`Allocation`](super::Allocation) and
//! refunds its usage when the last holder drops the buffers, however long
//! after negotiation that is.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use super::budget::{within, Budgets, Usage};
use super::outcome::Failed;
use super::Owner;

#[derive(Debug)]
struct Book<O> {
    per_owner: HashMap<O, Usage>,
    total: Usage,
}

/// Usage per owner and in total.
#[derive(Debug)]
pub(crate) struct Ledger<O>(Arc<Mutex<Book<O>>>);

impl<O> Default for Ledger<O> {
    fn default() -> Self {
        Ledger(Arc::new(Mutex::new(Book {
            per_owner: HashMap::new(),
            total: Usage::default(),
        })))
    }
}

impl<O: Owner> Ledger<O> {
    pub(crate) fn get(&self, owner: &O) -> Usage {
        let book = self.0.lock().unwrap_or_else(|e| e.into_inner());
        book.per_owner.get(owner).copied().unwrap_or_default()
    }

    /// Usage of all owners together.
    pub(crate) fn total(&self) -> Usage {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).total
    }

    /// Whether `owner` may take `need` more under its `budgets`, and the
    /// module under its `max_fds`.
    pub(crate) fn check(
        &self,
        owner: &O,
        need: Usage,
        budgets: &Budgets,
        max_fds: u64,
    ) -> Result<(), Failed> {
        let (used, total) = {
            let book = self.0.lock().unwrap_or_else(|e| e.into_inner());
            (
                book.per_owner.get(owner).copied().unwrap_or_default(),
                book.total,
            )
        };
        let creator = format!("its creator ({owner})");
        within(
            "byte quota",
            "bytes",
            &creator,
            used.bytes,
            need.bytes,
            budgets.bytes,
        )?;
        within(
            "buffer fd budget",
            "buffer fds",
            &creator,
            used.fds,
            need.fds,
            budgets.buffer_fds,
        )?;
        within(
            "the compositor's buffer fd budget",
            "buffer fds",
            &"the compositor (all clients together)",
            total.fds,
            need.fds,
            max_fds,
        )
    }

    /// Charge `need` to `owner`, refunded when the returned charge drops.
    pub(crate) fn charge(
        &self,
        owner: &O,
        need: Usage,
        budgets: &Budgets,
        max_fds: u64,
    ) -> Result<Charge<O>, Failed> {
        self.check(owner, need, budgets, max_fds)?;
        let mut book = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let entry = book.per_owner.entry(owner.clone()).or_default();
        *entry = entry.plus(need);
        book.total = book.total.plus(need);
        Ok(Charge {
            ledger: self.0.clone(),
            owner: owner.clone(),
            usage: need,
        })
    }
}

/// What one owner was charged for one allocation; refunded on drop.
#[derive(Debug)]
pub(crate) struct Charge<O: Clone + Eq + Hash> {
    ledger: Arc<Mutex<Book<O>>>,
    owner: O,
    usage: Usage,
}

impl<O: Clone + Eq + Hash> Drop for Charge<O> {
    fn drop(&mut self) {
        let mut book = self.ledger.lock().unwrap_or_else(|e| e.into_inner());
        book.total = book.total.minus(self.usage);
        if let Some(u) = book.per_owner.get_mut(&self.owner) {
            *u = u.minus(self.usage);
            if *u == Usage::default() {
                book.per_owner.remove(&self.owner);
            }
        }
    }
}
