//! The table's settings (quota, handle expiry, stall threshold) and its
//! read-only views (counts, charges, names, generations), apart from the
//! transitions in `mod.rs`.

use super::Owner;
use std::time::Duration;

use super::collection::{Collection, Phase};
use super::{Budgets, Collections, SlotId, Usage};

impl<O: Owner> Collections<O> {
    /// Bytes each client may hold in allocated buffers at once (the byte
    /// budget of [`set_budgets`](Self::set_budgets)).
    pub fn set_quota(&mut self, bytes: u64) {
        self.budgets.bytes = bytes;
    }

    /// What each client identity may hold (see `budget.rs`).
    pub fn set_budgets(&mut self, budgets: Budgets) {
        self.budgets = budgets;
    }

    /// The current per-identity budgets.
    pub fn budgets(&self) -> Budgets {
        self.budgets
    }

    /// Buffer fds the module may hold for every client together (default
    /// [`DEFAULT_MAX_BUFFER_FDS`](super::DEFAULT_MAX_BUFFER_FDS)).
    pub fn set_max_buffer_fds(&mut self, fds: u64) {
        self.max_buffer_fds = fds;
    }

    /// The module-wide buffer fd budget.
    pub fn max_buffer_fds(&self) -> u64 {
        self.max_buffer_fds
    }

    /// Collections `owner` created that are not closed yet.
    pub fn collections_of(&self, owner: &O) -> usize {
        self.collections_per_owner.get(owner).copied().unwrap_or(0)
    }

    /// How long an exported handle stays redeemable (default
    /// [`HANDLE_EXPIRY`](accord_protocol::limits::HANDLE_EXPIRY), 60 s).
    pub fn set_handle_expiry(&mut self, expiry: Duration) {
        self.handles.expiry = expiry;
    }

    /// Pending handles the table holds at most, every client together
    /// (default [`DEFAULT_MAX_PENDING_HANDLES`](super::DEFAULT_MAX_PENDING_HANDLES));
    /// an export beyond it fails its slot with `quota_exceeded`.
    pub fn set_max_pending_handles(&mut self, n: usize) {
        self.max_pending_handles = n;
    }

    /// The current handle expiry.
    pub fn handle_expiry(&self) -> Duration {
        self.handles.expiry
    }

    /// How long a collection may wait before [`Collections::warn_stalled`]
    /// reports it (default [`DEFAULT_STALL_WARNING`](super::DEFAULT_STALL_WARNING), 5 s).
    pub fn set_stall_warning(&mut self, after: Duration) {
        self.stall_warning = after;
    }

    /// The current stall threshold.
    pub fn stall_warning(&self) -> Duration {
        self.stall_warning
    }

    /// Collections still negotiating (diagnostics, leak checks).
    pub fn negotiating(&self) -> usize {
        self.table
            .values()
            .filter(|c| matches!(c.phase, Phase::Negotiating { .. }))
            .count()
    }

    /// Collections not yet closed: negotiating, or allocated with a
    /// participant or a buffer reference left.
    pub fn live(&mut self) -> usize {
        self.close_released();
        self.table.len()
    }

    /// Bytes currently charged to `owner`.
    pub fn charged(&self, owner: &O) -> u64 {
        self.ledger.get(owner).bytes
    }

    /// Bytes and buffer fds currently charged to `owner`.
    pub fn usage_of(&self, owner: &O) -> Usage {
        self.ledger.get(owner)
    }

    /// Bytes charged to all clients: the memory of every live allocation.
    pub fn total_charged(&self) -> u64 {
        self.ledger.total().bytes
    }

    /// Bytes and buffer fds of every live allocation, all clients together.
    pub fn total_usage(&self) -> Usage {
        self.ledger.total()
    }

    /// What `owner` holds on each backend (by backend name): the real
    /// sizes the backends allocated. Backends it holds nothing on are
    /// absent.
    pub fn usage_by_backend(&self, owner: &O) -> Vec<(String, Usage)> {
        self.ledger.by_backend(owner)
    }

    /// What every client holds on each backend together.
    pub fn backend_usage(&self) -> Vec<(String, Usage)> {
        self.ledger.backend_totals()
    }

    /// The ledger for people: one line per backend with its total, then
    /// one indented line per client on it.
    ///
    /// ```
    /// let table = accord_smithay::collections::Collections::<u32>::new();
    /// assert_eq!(table.ledger_dump(), "no buffer memory charged\n");
    /// ```
    pub fn ledger_dump(&self) -> String {
        let per_owner = self.ledger.all_by_backend();
        let mut out = String::new();
        for (backend, u) in self.ledger.backend_totals() {
            out.push_str(&format!("{backend}: {} bytes, {} fds\n", u.bytes, u.fds));
            for (owner, _, u) in per_owner.iter().filter(|(_, b, _)| *b == backend) {
                out.push_str(&format!("  {owner}: {} bytes, {} fds\n", u.bytes, u.fds));
            }
        }
        if out.is_empty() {
            out.push_str("no buffer memory charged\n");
        }
        out
    }

    /// Exported handles `owner` has pending.
    pub fn handles_of(&self, owner: &O) -> usize {
        self.handles.of(owner)
    }

    /// Whether the slot's collection is still negotiating and not failed.
    pub fn is_negotiating(&self, slot: SlotId) -> bool {
        self.table
            .get(&slot.collection)
            .is_some_and(Collection::is_open)
    }

    /// The generation of buffers the slot's collection hands out now;
    /// `None` while it negotiates or once it closed.
    pub fn generation(&self, slot: SlotId) -> Option<u32> {
        match self.table.get(&slot.collection)?.phase {
            Phase::Allocated { generation, .. } => Some(generation),
            Phase::Negotiating { .. } => None,
        }
    }

    /// The slot's participant name: set by `set_name`, or a default one
    /// unique within its collection.
    pub fn name(&self, slot: SlotId) -> Option<String> {
        self.slot(slot).map(|s| s.name(slot.index as usize))
    }

    /// Whether [`resolve`](Self::resolve) has anything to look at: a
    /// collection changed since the last one, or buffers lost their last
    /// holder. Lets the caller skip setting up a resolve on every request.
    pub fn has_work(&self) -> bool {
        !self.dirty.is_empty()
            || !self.lost.is_empty()
            || !self.weak_released.is_empty()
            || !self
                .released
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_empty()
    }

    /// Pending handles in total (bookkeeping checks).
    pub fn pending_handles(&self) -> usize {
        self.handles.len()
    }
}
