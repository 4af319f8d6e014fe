//! The collection and slot state machine, in plain Rust (no Wayland types)
//! so it is testable and fuzzable on its own. The Wayland glue in
//! `handlers.rs` maps protocol objects to [`SlotId`]s and turns the
//! [`Resolution`]s returned by [`Registry::resolve`] into events.
//!
//! A collection resolves once every slot is committed, released, or
//! (dispensable and) failed; a non-dispensable failure resolves it at once
//! as `participant_failed`.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use accord_engine::{Constraints, Decision};
use accord_protocol::limits::{
    DEFAULT_CLIENT_QUOTA, HANDLE_EXPIRY, HANDLE_LEN, HANDLE_RANDOM_BYTES, MAX_BUFFER_BYTES,
    MAX_COLLECTION_BYTES, MAX_PARTICIPANTS,
};

use crate::backend::{verify_layout, AllocError, AllocatedBuffer, Allocator, MemoryKind};

/// One participant slot: a collection and the slot's index in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SlotId {
    pub collection: u64,
    pub index: u32,
}

/// Why a collection (or an import) failed; the protocol's `failure_reason`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    NoCommonFormat = 0,
    SizeConflict = 1,
    StrideConflict = 2,
    CountConflict = 3,
    TooLarge = 4,
    InvalidConstraint = 5,
    ParticipantFailed = 6,
    OutOfMemory = 7,
    Unsupported = 8,
    DeviceLost = 9,
    UnknownHandle = 10,
    QuotaExceeded = 11,
}

impl From<accord_engine::FailureReason> for Reason {
    fn from(r: accord_engine::FailureReason) -> Self {
        use accord_engine::FailureReason as F;
        match r {
            F::NoCommonFormat => Reason::NoCommonFormat,
            F::SizeConflict => Reason::SizeConflict,
            F::StrideConflict => Reason::StrideConflict,
            F::CountConflict => Reason::CountConflict,
            F::TooLarge => Reason::TooLarge,
            F::InvalidConstraint => Reason::InvalidConstraint,
        }
    }
}

/// A failure outcome: a reason code and a message naming participants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failed {
    pub reason: Reason,
    pub message: String,
}

impl Failed {
    fn new(reason: Reason, message: impl Into<String>) -> Self {
        Failed {
            reason,
            message: message.into(),
        }
    }
}

impl From<AllocError> for Failed {
    fn from(e: AllocError) -> Self {
        let reason = match &e {
            AllocError::Unsupported(_) => Reason::Unsupported,
            AllocError::OutOfMemory(_) => Reason::OutOfMemory,
            AllocError::DeviceLost(_) => Reason::DeviceLost,
            AllocError::LayoutMismatch(_) => Reason::Unsupported,
        };
        Failed::new(reason, format!("allocation failed: {e}"))
    }
}

/// The allocated buffers of one collection, shared by every participant's
/// collection object and every `wl_buffer` made from it. The fds close when
/// the last holder drops it.
#[derive(Debug)]
pub struct Allocation {
    pub decision: Decision,
    pub memory: MemoryKind,
    pub buffers: Vec<AllocatedBuffer>,
    /// The quota charge, returned when the last holder drops the buffers.
    pub(crate) _charge: Option<Box<dyn std::fmt::Debug + Send + Sync>>,
}

/// What a resolved collection tells its participants.
#[derive(Clone, Debug)]
pub enum Outcome {
    Allocated(Arc<Allocation>),
    Failed(Failed),
}

/// A resolved collection: every live slot and what to tell it.
#[derive(Debug)]
pub struct Resolution {
    pub slots: Vec<SlotId>,
    pub outcome: Outcome,
}

/// Client misuse of the state machine (becomes a protocol error).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Misuse {
    TooManyParticipants,
}

#[derive(Debug)]
enum SlotState {
    /// An unbound token holds it.
    Token,
    /// Waiting in a handle for `import`.
    Exported,
    /// Bound, constraints not yet committed.
    Bound,
    Committed(Box<Constraints>),
    /// Destroyed before bind: allocation does not wait for it.
    Released,
    /// A dispensable participant that failed or left.
    Dropped,
}

#[derive(Debug)]
struct Slot {
    name: String,
    dispensable: bool,
    state: SlotState,
}

#[derive(Debug)]
struct Collection<O> {
    /// The client charged for the memory (the creator).
    owner: O,
    slots: Vec<Slot>,
    /// Set by a non-dispensable failure; resolves the collection.
    failure: Option<Failed>,
}

#[derive(Debug)]
struct Handle<O> {
    slot: SlotId,
    created: Instant,
    owner: O,
}

/// Every negotiating collection and pending handle. `O` identifies the
/// client that exported a handle (for per-client accounting).
#[derive(Debug)]
pub struct Registry<O> {
    collections: HashMap<u64, Collection<O>>,
    ledger: Ledger<O>,
    quota: u64,
    handles: HashMap<String, Handle<O>>,
    handles_per_owner: HashMap<O, usize>,
    next_collection: u64,
}

impl<O: Clone + Eq + Hash + std::fmt::Debug + Send + Sync + 'static> Default for Registry<O> {
    fn default() -> Self {
        Registry {
            collections: HashMap::new(),
            handles: HashMap::new(),
            handles_per_owner: HashMap::new(),
            next_collection: 1,
            ledger: Ledger(Arc::new(Mutex::new(HashMap::new()))),
            quota: DEFAULT_CLIENT_QUOTA,
        }
    }
}

impl<O: Clone + Eq + Hash + std::fmt::Debug + Send + Sync + 'static> Registry<O> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Start a collection with one token slot.
    /// Bytes each client may hold in allocated buffers at once.
    pub fn set_quota(&mut self, bytes: u64) {
        self.quota = bytes;
    }

    /// Bytes currently charged to `owner`.
    pub fn charged(&self, owner: &O) -> u64 {
        self.ledger.get(owner)
    }

    /// Bytes charged to all clients: the memory of every live allocation.
    pub fn total_charged(&self) -> u64 {
        let map = self.ledger.0.lock().unwrap_or_else(|e| e.into_inner());
        map.values().fold(0, |a, b| a.saturating_add(*b))
    }

    /// Start a collection with one token slot; `owner` is charged for its
    /// memory.
    pub fn create(&mut self, name: String, owner: O) -> SlotId {
        let id = self.next_collection;
        self.next_collection += 1;
        self.collections.insert(
            id,
            Collection {
                slots: vec![Slot {
                    name,
                    dispensable: false,
                    state: SlotState::Token,
                }],
                failure: None,
                owner,
            },
        );
        SlotId {
            collection: id,
            index: 0,
        }
    }

    /// Whether the slot's collection is still negotiating (not resolved).
    pub fn is_negotiating(&self, slot: SlotId) -> bool {
        self.collections
            .get(&slot.collection)
            .is_some_and(|c| c.failure.is_none())
    }

    /// The slot's participant name.
    pub fn name(&self, slot: SlotId) -> Option<&str> {
        self.slot(slot).map(|s| s.name.as_str())
    }

    /// A new token slot in the same collection, inheriting name and
    /// dispensability. `None` if the collection is already resolved.
    pub fn duplicate(&mut self, slot: SlotId) -> Result<Option<SlotId>, Misuse> {
        let Some((name, dispensable)) = self.slot(slot).map(|s| (s.name.clone(), s.dispensable))
        else {
            return Ok(None);
        };
        let Some(coll) = self.collections.get_mut(&slot.collection) else {
            return Ok(None);
        };
        if coll.failure.is_some() {
            return Ok(None);
        }
        if coll.slots.len() >= MAX_PARTICIPANTS {
            return Err(Misuse::TooManyParticipants);
        }
        coll.slots.push(Slot {
            name,
            dispensable,
            state: SlotState::Token,
        });
        Ok(Some(SlotId {
            collection: slot.collection,
            index: (coll.slots.len() - 1) as u32,
        }))
    }

    pub fn set_name(&mut self, slot: SlotId, name: String) {
        if let Some(s) = self.slot_mut(slot) {
            s.name = name;
        }
    }

    pub fn set_dispensable(&mut self, slot: SlotId) {
        if let Some(s) = self.slot_mut(slot) {
            s.dispensable = true;
        }
    }

    /// Exported handles `owner` has pending.
    pub fn handles_of(&self, owner: &O) -> usize {
        self.handles_per_owner.get(owner).copied().unwrap_or(0)
    }

    /// Move a token slot into a fresh single-use handle.
    pub fn export(&mut self, slot: SlotId, owner: O, now: Instant) -> std::io::Result<String> {
        let handle = random_handle()?;
        if let Some(s) = self.slot_mut(slot) {
            s.state = SlotState::Exported;
            *self.handles_per_owner.entry(owner.clone()).or_default() += 1;
            self.handles.insert(
                handle.clone(),
                Handle {
                    slot,
                    created: now,
                    owner,
                },
            );
        }
        // For a resolved collection the handle is simply never redeemable.
        Ok(handle)
    }

    /// Redeem a handle: its slot becomes a token again. `None` for an
    /// unknown, used or expired handle, or a resolved collection.
    pub fn import(&mut self, handle: &str, now: Instant) -> Option<SlotId> {
        let h = self.handles.remove(handle)?;
        self.forget_handle_owner(&h.owner);
        if now.duration_since(h.created) >= HANDLE_EXPIRY || !self.is_negotiating(h.slot) {
            self.fail(h.slot, "its exported handle expired");
            return None;
        }
        let s = self.slot_mut(h.slot)?;
        s.state = SlotState::Token;
        Some(h.slot)
    }

    /// Fail every slot whose handle has not been redeemed in time.
    pub fn expire_handles(&mut self, now: Instant) {
        let expired: Vec<String> = self
            .handles
            .iter()
            .filter(|(_, h)| now.duration_since(h.created) >= HANDLE_EXPIRY)
            .map(|(k, _)| k.clone())
            .collect();
        for key in expired {
            if let Some(h) = self.handles.remove(&key) {
                self.forget_handle_owner(&h.owner);
                self.fail(h.slot, "its exported handle expired before import");
            }
        }
    }

    pub fn bind(&mut self, slot: SlotId) {
        if let Some(s) = self.slot_mut(slot) {
            s.state = SlotState::Bound;
        }
    }

    /// Commit a participant's constraints (the name and dispensability are
    /// the slot's).
    pub fn commit(&mut self, slot: SlotId, mut constraints: Constraints) {
        if let Some(s) = self.slot_mut(slot) {
            constraints.name = s.name.clone();
            constraints.dispensable = s.dispensable;
            s.state = SlotState::Committed(Box::new(constraints));
        }
    }

    /// A token destroyed before bind: the slot no longer blocks allocation.
    pub fn release(&mut self, slot: SlotId) {
        if let Some(s) = self.slot_mut(slot) {
            s.state = SlotState::Released;
        }
    }

    /// A participant left or failed before allocation. Dispensable: dropped.
    /// Otherwise the whole collection fails naming it.
    pub fn fail(&mut self, slot: SlotId, why: &str) {
        let Some(coll) = self.collections.get_mut(&slot.collection) else {
            return;
        };
        if coll.failure.is_some() {
            return;
        }
        let Some(s) = coll.slots.get_mut(slot.index as usize) else {
            return;
        };
        if s.dispensable {
            s.state = SlotState::Dropped;
        } else {
            coll.failure = Some(Failed::new(
                Reason::ParticipantFailed,
                format!("participant '{}' failed: {why}", s.name),
            ));
        }
    }

    /// Resolve every collection that is ready: negotiate, check limits,
    /// allocate and verify the layout, or report the failure. Resolved
    /// collections leave the registry (their handles die with them).
    pub fn resolve(&mut self, allocator: &mut dyn Allocator) -> Vec<Resolution> {
        let ready: Vec<u64> = self
            .collections
            .iter()
            .filter(|(_, c)| c.failure.is_some() || c.slots.iter().all(Slot::settled))
            .map(|(id, _)| *id)
            .collect();
        let mut out = Vec::new();
        for id in ready {
            let Some(coll) = self.collections.remove(&id) else {
                continue;
            };
            self.drop_handles_of(id);
            let slots = coll
                .slots
                .iter()
                .enumerate()
                .filter(|(_, s)| s.live())
                .map(|(i, _)| SlotId {
                    collection: id,
                    index: i as u32,
                })
                .collect();
            let outcome = match coll.failure {
                Some(f) => Outcome::Failed(f),
                None => match negotiate_and_allocate(&coll, allocator, &self.ledger, self.quota) {
                    Ok(a) => Outcome::Allocated(Arc::new(a)),
                    Err(f) => Outcome::Failed(f),
                },
            };
            out.push(Resolution { slots, outcome });
        }
        out
    }

    fn slot(&self, slot: SlotId) -> Option<&Slot> {
        self.collections
            .get(&slot.collection)?
            .slots
            .get(slot.index as usize)
    }

    fn slot_mut(&mut self, slot: SlotId) -> Option<&mut Slot> {
        self.collections
            .get_mut(&slot.collection)?
            .slots
            .get_mut(slot.index as usize)
    }

    fn forget_handle_owner(&mut self, owner: &O) {
        if let Some(n) = self.handles_per_owner.get_mut(owner) {
            *n -= 1;
            if *n == 0 {
                self.handles_per_owner.remove(owner);
            }
        }
    }

    fn drop_handles_of(&mut self, collection: u64) {
        let dead: Vec<String> = self
            .handles
            .iter()
            .filter(|(_, h)| h.slot.collection == collection)
            .map(|(k, _)| k.clone())
            .collect();
        for key in dead {
            if let Some(h) = self.handles.remove(&key) {
                self.forget_handle_owner(&h.owner);
            }
        }
    }
}

impl Slot {
    /// Allocation no longer waits for this slot.
    fn settled(&self) -> bool {
        matches!(
            self.state,
            SlotState::Committed(_) | SlotState::Released | SlotState::Dropped
        )
    }

    /// A protocol object may still hold this slot and wants the outcome.
    fn live(&self) -> bool {
        matches!(
            self.state,
            SlotState::Token | SlotState::Bound | SlotState::Committed(_)
        )
    }
}

fn negotiate_and_allocate<O: Clone + Eq + Hash + std::fmt::Debug + Send + Sync + 'static>(
    coll: &Collection<O>,
    allocator: &mut dyn Allocator,
    ledger: &Ledger<O>,
    quota: u64,
) -> Result<Allocation, Failed> {
    let parts: Vec<Constraints> = coll
        .slots
        .iter()
        .filter_map(|s| match &s.state {
            SlotState::Committed(c) => Some((**c).clone()),
            _ => None,
        })
        .collect();
    if parts.is_empty() {
        return Err(Failed::new(
            Reason::InvalidConstraint,
            "every participant left before committing",
        ));
    }
    let decision = accord_engine::solve(&parts).map_err(engine_failure)?;
    if let Some(l) = &decision.layout {
        check_size_limits(&decision, Some(l.size_bytes))?;
        // Known before allocating: refuse without touching memory.
        let total = l
            .size_bytes
            .saturating_mul(u64::from(decision.buffer_count));
        ledger.check(&coll.owner, total, quota)?;
    }
    let buffers = allocator.allocate(&decision)?;
    // Vendor layouts are only known now: check the real sizes too.
    let largest = buffers.iter().map(|b| b.size_bytes).max();
    check_size_limits(&decision, largest)?;
    verify_layout(&decision, &buffers, false)?;
    let total = buffers
        .iter()
        .map(|b| b.size_bytes)
        .fold(0u64, u64::saturating_add);
    let charge = ledger.charge(&coll.owner, total, quota)?;
    Ok(Allocation {
        decision,
        memory: allocator.memory_kind(),
        buffers,
        _charge: Some(Box::new(charge)),
    })
}

/// The engine's failure, its message guaranteed to name every participant
/// in conflict.
fn engine_failure(f: accord_engine::Failure) -> Failed {
    let missing: Vec<String> = f
        .participants
        .iter()
        .filter(|n| !f.message.contains(n.as_str()))
        .map(|n| format!("'{n}'"))
        .collect();
    let message = if missing.is_empty() {
        f.message
    } else {
        format!(
            "{} (participants in conflict: {})",
            f.message,
            missing.join(", ")
        )
    };
    Failed {
        reason: f.reason.into(),
        message,
    }
}

fn check_size_limits(decision: &Decision, buffer_bytes: Option<u64>) -> Result<(), Failed> {
    let Some(bytes) = buffer_bytes else {
        return Ok(());
    };
    if bytes > MAX_BUFFER_BYTES {
        return Err(Failed::new(
            Reason::TooLarge,
            format!("one buffer needs {bytes} bytes, the limit is {MAX_BUFFER_BYTES}"),
        ));
    }
    let total = bytes.checked_mul(u64::from(decision.buffer_count));
    match total {
        Some(t) if t <= MAX_COLLECTION_BYTES => Ok(()),
        _ => Err(Failed::new(
            Reason::TooLarge,
            format!(
                "{} buffers of {bytes} bytes exceed the collection limit of {MAX_COLLECTION_BYTES} bytes",
                decision.buffer_count
            ),
        )),
    }
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
pub fn is_well_formed_handle(s: &str) -> bool {
    s.len() == HANDLE_LEN && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Bytes charged per client. Shared with every [`Allocation`]'s charge so
/// the bytes come back when the last holder drops the buffers.
#[derive(Debug)]
struct Ledger<O>(Arc<Mutex<HashMap<O, u64>>>);

impl<O: Clone + Eq + Hash + std::fmt::Debug + Send + Sync + 'static> Ledger<O> {
    fn get(&self, owner: &O) -> u64 {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(owner).copied().unwrap_or(0)
    }

    fn check(&self, owner: &O, bytes: u64, quota: u64) -> Result<(), Failed> {
        let used = self.get(owner);
        match used.checked_add(bytes) {
            Some(t) if t <= quota => Ok(()),
            _ => Err(Failed::new(
                Reason::QuotaExceeded,
                format!(
                    "the collection needs {bytes} bytes; its creator already holds {used} of its \
                     {quota}-byte quota"
                ),
            )),
        }
    }

    fn charge(&self, owner: &O, bytes: u64, quota: u64) -> Result<Charge<O>, Failed> {
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

/// Bytes charged to one client for one allocation; refunded on drop.
#[derive(Debug)]
struct Charge<O: Clone + Eq + Hash> {
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
