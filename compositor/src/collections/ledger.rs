//! The quota ledger: bytes and buffer fds held per owner, per backend
//! (per owner and in total), and their sum. A [`Charge`] travels with each
//! [`Allocation`](super::Allocation) and refunds its usage when the last
//! holder drops the buffers, however long after negotiation that is.
//!
//! The bytes are what the backend really allocated (its buffers' sizes,
//! not the size asked for): DMA-BUF heaps bypass memory cgroups, so this
//! ledger is where that memory is accounted.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use super::budget::{within, Budgets, Usage};
use super::outcome::Failed;
use super::Owner;

#[derive(Debug)]
struct Book<O> {
    per_owner: HashMap<O, Usage>,
    /// Per owner, per backend name; entries at zero are removed.
    per_owner_backend: HashMap<(O, String), Usage>,
    /// Per backend name, every owner together.
    per_backend: HashMap<String, Usage>,
    total: Usage,
}

/// Usage per owner and in total.
#[derive(Debug)]
pub(crate) struct Ledger<O>(Arc<Mutex<Book<O>>>);

impl<O> Default for Ledger<O> {
    fn default() -> Self {
        Ledger(Arc::new(Mutex::new(Book {
            per_owner: HashMap::new(),
            per_owner_backend: HashMap::new(),
            per_backend: HashMap::new(),
            total: Usage::default(),
        })))
    }
}

impl<O: Owner> Ledger<O> {
    pub(crate) fn get(&self, owner: &O) -> Usage {
        let book = self.0.lock().unwrap_or_else(|e| e.into_inner());
        book.per_owner.get(owner).copied().unwrap_or_default()
    }

    /// `owner`'s usage per backend, by backend name.
    pub(crate) fn by_backend(&self, owner: &O) -> Vec<(String, Usage)> {
        let book = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<(String, Usage)> = book
            .per_owner_backend
            .iter()
            .filter(|((o, _), _)| o == owner)
            .map(|((_, b), u)| (b.clone(), *u))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Every owner's usage per backend: (owner, backend, usage), sorted by
    /// backend then owner's printed form.
    pub(crate) fn all_by_backend(&self) -> Vec<(O, String, Usage)> {
        let book = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<(O, String, Usage)> = book
            .per_owner_backend
            .iter()
            .map(|((o, b), u)| (o.clone(), b.clone(), *u))
            .collect();
        v.sort_by(|a, b| (&a.1, a.0.to_string()).cmp(&(&b.1, b.0.to_string())));
        v
    }

    /// Usage per backend, every owner together, by backend name.
    pub(crate) fn backend_totals(&self) -> Vec<(String, Usage)> {
        let book = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<(String, Usage)> = book
            .per_backend
            .iter()
            .map(|(b, u)| (b.clone(), *u))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
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

    /// Charge `need` on `backend` to `owner`, refunded when the returned
    /// charge drops.
    pub(crate) fn charge(
        &self,
        owner: &O,
        backend: &str,
        need: Usage,
        budgets: &Budgets,
        max_fds: u64,
    ) -> Result<Charge<O>, Failed> {
        self.check(owner, need, budgets, max_fds)?;
        let mut book = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let entry = book.per_owner.entry(owner.clone()).or_default();
        *entry = entry.plus(need);
        let entry = book
            .per_owner_backend
            .entry((owner.clone(), backend.to_string()))
            .or_default();
        *entry = entry.plus(need);
        let entry = book.per_backend.entry(backend.to_string()).or_default();
        *entry = entry.plus(need);
        book.total = book.total.plus(need);
        Ok(Charge {
            ledger: self.0.clone(),
            owner: owner.clone(),
            backend: backend.to_string(),
            usage: need,
        })
    }
}

/// What one owner was charged for one allocation; refunded on drop.
#[derive(Debug)]
pub(crate) struct Charge<O: Clone + Eq + Hash> {
    ledger: Arc<Mutex<Book<O>>>,
    owner: O,
    backend: String,
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
        let key = (self.owner.clone(), std::mem::take(&mut self.backend));
        if let Some(u) = book.per_owner_backend.get_mut(&key) {
            *u = u.minus(self.usage);
            if *u == Usage::default() {
                book.per_owner_backend.remove(&key);
            }
        }
        if let Some(u) = book.per_backend.get_mut(&key.1) {
            *u = u.minus(self.usage);
            if *u == Usage::default() {
                book.per_backend.remove(&key.1);
            }
        }
    }
}
