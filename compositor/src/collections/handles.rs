//! Exported handles: single-use, unguessable strings (256 bits from the OS
//! CSPRNG) that carry a token slot to another client, and their expiry.
//!
//! Expiry pops the front of a queue kept in export order instead of
//! scanning every handle; keys already redeemed wait in the queue until
//! they reach the front, and the queue is compacted when they outnumber
//! the pending ones, so export/import cycles never grow it.
//!
//! Pending handles are a B-tree by key, not a hash map: a hash map doubles
//! and rehashes every key in one insert (one event-loop turn of 14–17 ms at
//! 57,344 handles, `accord-bench fdflood --attack handles`), where a B-tree
//! grows a node at a time.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::Hash;
use std::time::{Duration, Instant};

use accord_protocol::limits::{HANDLE_EXPIRY, HANDLE_LEN, HANDLE_RANDOM_BYTES};

use super::slot::SlotId;

#[derive(Debug)]
struct Pending<O> {
    slot: SlotId,
    created: Instant,
    owner: O,
}

/// Every pending handle, by key.
#[derive(Debug)]
pub(crate) struct Handles<O> {
    pending: BTreeMap<String, Pending<O>>,
    /// Keys in export order, oldest first.
    queue: VecDeque<(Instant, String)>,
    per_owner: HashMap<O, usize>,
    pub(crate) expiry: Duration,
}

impl<O> Default for Handles<O> {
    fn default() -> Self {
        Handles {
            pending: BTreeMap::new(),
            queue: VecDeque::new(),
            per_owner: HashMap::new(),
            expiry: HANDLE_EXPIRY,
        }
    }
}

impl<O: Clone + Eq + Hash> Handles<O> {
    /// A fresh handle for `slot`, charged to `owner` until redeemed,
    /// expired or dropped.
    pub(crate) fn insert(
        &mut self,
        slot: SlotId,
        owner: O,
        now: Instant,
    ) -> std::io::Result<String> {
        let key = random_handle()?;
        *self.per_owner.entry(owner.clone()).or_default() += 1;
        if self.queue.len() >= 2 * self.pending.len() + 64 {
            let live = &self.pending;
            self.queue.retain(|(_, k)| live.contains_key(k));
        }
        self.queue.push_back((now, key.clone()));
        self.pending.insert(
            key.clone(),
            Pending {
                slot,
                created: now,
                owner,
            },
        );
        Ok(key)
    }

    /// Redeem `key`: its slot, and whether it was still within its expiry.
    pub(crate) fn redeem(&mut self, key: &str, now: Instant) -> Option<(SlotId, bool)> {
        let p = self.pending.remove(key)?;
        self.forget_owner(&p.owner);
        let fresh = now.saturating_duration_since(p.created) < self.expiry;
        Some((p.slot, fresh))
    }

    /// Drop `key` if still pending (its collection was resolved).
    pub(crate) fn drop_key(&mut self, key: &str) {
        if let Some(p) = self.pending.remove(key) {
            self.forget_owner(&p.owner);
        }
    }

    /// Whether `key` is still pending.
    pub(crate) fn is_pending(&self, key: &str) -> bool {
        self.pending.contains_key(key)
    }

    /// Take handles past their expiry, oldest first, at most `max` (one
    /// event-loop turn's work; the rest wait for the next turn): their
    /// slots.
    pub(crate) fn take_expired(&mut self, now: Instant, max: usize) -> Vec<SlotId> {
        let mut out = Vec::new();
        while let Some((created, _)) = self.queue.front() {
            if out.len() >= max || now.saturating_duration_since(*created) < self.expiry {
                break;
            }
            let Some((_, key)) = self.queue.pop_front() else {
                break;
            };
            if let Some(p) = self.pending.remove(&key) {
                self.forget_owner(&p.owner);
                out.push(p.slot);
            }
        }
        if self.pending.is_empty() {
            self.queue.clear(); // only redeemed keys were left
        }
        out
    }

    /// Whether a handle's expiry has passed and it is still queued (it
    /// may have been redeemed since: then the next take only drops it).
    pub(crate) fn is_due(&self, now: Instant) -> bool {
        self.queue
            .front()
            .is_some_and(|(created, _)| now.saturating_duration_since(*created) >= self.expiry)
    }

    /// Handles `owner` has pending.
    pub(crate) fn of(&self, owner: &O) -> usize {
        self.per_owner.get(owner).copied().unwrap_or(0)
    }

    /// Entries in the expiry queue (bookkeeping checks).
    #[cfg(test)]
    pub(crate) fn queue_len(&self) -> usize {
        self.queue.len()
    }

    /// Handles pending in total.
    pub(crate) fn len(&self) -> usize {
        self.pending.len()
    }

    fn forget_owner(&mut self, owner: &O) {
        if let Some(n) = self.per_owner.get_mut(owner) {
            *n -= 1;
            if *n == 0 {
                self.per_owner.remove(owner);
            }
        }
    }
}

/// A handle for a slot whose collection no longer negotiates: as random
/// as any, but never stored, so redeeming it answers `unknown_handle`.
pub(crate) fn unredeemable() -> std::io::Result<String> {
    random_handle()
}

/// A handle: random bytes from the OS CSPRNG (`getrandom(2)`) as hex.
fn random_handle() -> std::io::Result<String> {
    let mut bytes = [0u8; HANDLE_RANDOM_BYTES];
    let mut filled = 0;
    while filled < bytes.len() {
        filled +=
            rustix::rand::getrandom(&mut bytes[filled..], rustix::rand::GetRandomFlags::empty())?;
    }
    let mut s = String::with_capacity(HANDLE_LEN);
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    Ok(s)
}

/// Whether `s` has a handle's shape (before looking it up).
///
/// ```
/// use accord_smithay::collections::is_well_formed_handle;
/// assert!(is_well_formed_handle(&"ab".repeat(32)));
/// assert!(!is_well_formed_handle("AB"));
/// ```
pub fn is_well_formed_handle(s: &str) -> bool {
    s.len() == HANDLE_LEN && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}
