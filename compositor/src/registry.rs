//! The collection and slot state machine, in plain Rust (no Wayland types)
//! so it is testable and fuzzable on its own. The Wayland glue in
//! `handlers.rs` maps protocol objects to [`SlotId`]s and turns the
//! [`Resolution`]s returned by [`Registry::resolve`] into events.
//!
//! A collection resolves once every slot is committed, released, or
//! (dispensable and) failed; a non-dispensable failure resolves it at once
//! as `participant_failed`.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use accord_engine::{Constraints, Decision};
use accord_protocol::limits::{
    DEFAULT_CLIENT_QUOTA, HANDLE_EXPIRY, HANDLE_LEN, HANDLE_RANDOM_BYTES, MAX_BUFFER_BYTES,
    MAX_COLLECTION_BYTES, MAX_PARTICIPANTS,
};

use crate::backend::{verify_layout, AllocError, AllocatedBuffer, Allocator, MemoryKind};

/// How long a collection may wait for its participants before one warning
/// names the slots it waits for (sysmem's 5 s).
pub const DEFAULT_STALL_WARNING: Duration = Duration::from_secs(5);

/// One participant slot: a collection and the slot's index in it.
///
/// ```
/// # use accord_engine::{Constraints, FormatModifier, MOD_LINEAR};
/// # use accord_smithay::backend::memfd::MemfdAllocator;
/// # use accord_smithay::registry::{Outcome, Reason, Registry};
/// # let pair = FormatModifier { format: u32::from_le_bytes(*b"XR24"), modifier: MOD_LINEAR, scanout: false };
/// # let wants = Constraints { formats: vec![pair], min_size: (64, 32), ..Default::default() };
/// # let mut registry = Registry::<u32>::new();
/// let slot = registry.create("decoder".into(), 1);
/// let twin = registry.duplicate(slot).expect("room").expect("negotiating");
/// assert_eq!(slot.collection, twin.collection);
/// assert_ne!(slot.index, twin.index);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SlotId {
    /// The collection's id (unique in this registry).
    pub collection: u64,
    /// The slot's position in the collection.
    pub index: u32,
}

/// Why a collection (or an import) failed; the protocol's `failure_reason`.
///
/// ```
/// # use accord_engine::{Constraints, FormatModifier, MOD_LINEAR};
/// # use accord_smithay::backend::memfd::MemfdAllocator;
/// # use accord_smithay::registry::{Outcome, Reason, Registry};
/// # let pair = FormatModifier { format: u32::from_le_bytes(*b"XR24"), modifier: MOD_LINEAR, scanout: false };
/// # let wants = Constraints { formats: vec![pair], min_size: (64, 32), ..Default::default() };
/// # let mut registry = Registry::<u32>::new();
/// assert_eq!(Reason::QuotaExceeded as u32, 11); // the wire value
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The participants share no format/modifier pair.
    NoCommonFormat = 0,
    /// The size constraints contradict each other.
    SizeConflict = 1,
    /// The stride constraints contradict each other.
    StrideConflict = 2,
    /// The buffer-count constraints contradict each other.
    CountConflict = 3,
    /// Over the per-buffer or per-collection byte limit, or a `max_bytes`.
    TooLarge = 4,
    /// The combined constraints cannot be allocated.
    InvalidConstraint = 5,
    /// A non-dispensable participant left, failed or let its handle expire.
    ParticipantFailed = 6,
    /// The allocator ran out of memory.
    OutOfMemory = 7,
    /// The allocator cannot make the negotiated buffers.
    Unsupported = 8,
    /// The allocating device disappeared.
    DeviceLost = 9,
    /// An import of an unknown, used or expired handle.
    UnknownHandle = 10,
    /// The creator's memory quota would be exceeded.
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
///
/// ```
/// # use accord_engine::{Constraints, FormatModifier, MOD_LINEAR};
/// # use accord_smithay::backend::memfd::MemfdAllocator;
/// # use accord_smithay::registry::{Outcome, Reason, Registry};
/// # let pair = FormatModifier { format: u32::from_le_bytes(*b"XR24"), modifier: MOD_LINEAR, scanout: false };
/// # let wants = Constraints { formats: vec![pair], min_size: (64, 32), ..Default::default() };
/// # let mut registry = Registry::<u32>::new();
/// let slot = registry.create("camera".into(), 1);
/// registry.bind(slot);
/// registry.fail(slot, "disconnected");
/// match &registry.resolve(&mut MemfdAllocator::new())[0].outcome {
///     Outcome::Failed(f) => {
///         assert_eq!(f.reason, Reason::ParticipantFailed);
///         assert!(f.message.contains("camera"));
///     }
///     Outcome::Allocated(_) => unreachable!(),
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failed {
    /// The protocol's reason code.
    pub reason: Reason,
    /// For people: names the participants involved.
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
///
/// ```
/// # use accord_engine::{Constraints, FormatModifier, MOD_LINEAR};
/// # use accord_smithay::backend::memfd::MemfdAllocator;
/// # use accord_smithay::registry::{Outcome, Reason, Registry};
/// # let pair = FormatModifier { format: u32::from_le_bytes(*b"XR24"), modifier: MOD_LINEAR, scanout: false };
/// # let wants = Constraints { formats: vec![pair], min_size: (64, 32), ..Default::default() };
/// # let mut registry = Registry::<u32>::new();
/// let slot = registry.create("player".into(), 1);
/// registry.bind(slot);
/// registry.commit(slot, wants);
/// let Outcome::Allocated(a) = &registry.resolve(&mut MemfdAllocator::new())[0].outcome else {
///     unreachable!()
/// };
/// assert_eq!((a.decision.width, a.decision.height), (64, 32));
/// assert_eq!(a.buffers.len(), a.decision.buffer_count as usize);
/// ```
#[derive(Debug)]
pub struct Allocation {
    /// The engine's decision the buffers follow.
    pub decision: Decision,
    /// What the fds are.
    pub memory: MemoryKind,
    /// The buffers, verified against `decision`.
    pub buffers: Vec<AllocatedBuffer>,
    /// The quota charge, returned when the last holder drops the buffers.
    pub(crate) _charge: Option<Box<dyn std::fmt::Debug + Send + Sync>>,
}

/// What a resolved collection tells its participants.
///
/// ```
/// # use accord_engine::{Constraints, FormatModifier, MOD_LINEAR};
/// # use accord_smithay::backend::memfd::MemfdAllocator;
/// # use accord_smithay::registry::{Outcome, Reason, Registry};
/// # let pair = FormatModifier { format: u32::from_le_bytes(*b"XR24"), modifier: MOD_LINEAR, scanout: false };
/// # let wants = Constraints { formats: vec![pair], min_size: (64, 32), ..Default::default() };
/// # let mut registry = Registry::<u32>::new();
/// let slot = registry.create("player".into(), 1);
/// registry.bind(slot);
/// registry.commit(slot, wants);
/// for r in registry.resolve(&mut MemfdAllocator::new()) {
///     match r.outcome {
///         Outcome::Allocated(a) => println!("{} buffers", a.buffers.len()),
///         Outcome::Failed(f) => println!("failed: {}", f.message),
///     }
/// }
/// ```
#[derive(Clone, Debug)]
pub enum Outcome {
    /// Buffers for everyone.
    Allocated(Arc<Allocation>),
    /// Nothing allocated; why.
    Failed(Failed),
}

/// A resolved collection: every live slot and what to tell it.
///
/// ```
/// # use accord_engine::{Constraints, FormatModifier, MOD_LINEAR};
/// # use accord_smithay::backend::memfd::MemfdAllocator;
/// # use accord_smithay::registry::{Outcome, Reason, Registry};
/// # let pair = FormatModifier { format: u32::from_le_bytes(*b"XR24"), modifier: MOD_LINEAR, scanout: false };
/// # let wants = Constraints { formats: vec![pair], min_size: (64, 32), ..Default::default() };
/// # let mut registry = Registry::<u32>::new();
/// let slot = registry.create("player".into(), 1);
/// let other = registry.duplicate(slot).expect("room").expect("negotiating");
/// registry.release(other);
/// registry.bind(slot);
/// registry.commit(slot, wants);
/// let resolved = registry.resolve(&mut MemfdAllocator::new());
/// assert_eq!(resolved[0].slots, vec![slot], "released slots hear nothing");
/// ```
#[derive(Debug)]
pub struct Resolution {
    /// The live slots of the collection.
    pub slots: Vec<SlotId>,
    /// What each of them is told.
    pub outcome: Outcome,
}

/// A collection taken out of the registry by
/// [`Registry::take_ready`]: negotiated, not yet allocated.
#[derive(Debug)]
pub struct Ready<O> {
    id: u64,
    coll: Collection<O>,
    slots: Vec<SlotId>,
    negotiated: Result<Decision, Failed>,
}

impl<O> Ready<O> {
    /// The collection's id ([`SlotId::collection`]).
    pub fn collection(&self) -> u64 {
        self.id
    }

    /// The negotiated decision; `None` when the collection failed.
    pub fn decision(&self) -> Option<&Decision> {
        self.negotiated.as_ref().ok()
    }

    /// The live slots that will hear the outcome.
    pub fn slots(&self) -> &[SlotId] {
        &self.slots
    }
}

/// Client misuse of the state machine (becomes a protocol error).
///
/// ```
/// # use accord_engine::{Constraints, FormatModifier, MOD_LINEAR};
/// # use accord_smithay::backend::memfd::MemfdAllocator;
/// # use accord_smithay::registry::{Outcome, Reason, Registry};
/// # let pair = FormatModifier { format: u32::from_le_bytes(*b"XR24"), modifier: MOD_LINEAR, scanout: false };
/// # let wants = Constraints { formats: vec![pair], min_size: (64, 32), ..Default::default() };
/// # let mut registry = Registry::<u32>::new();
/// use accord_smithay::registry::Misuse;
/// let slot = registry.create("a".into(), 1);
/// let mut last = Ok(None);
/// for _ in 0..accord_smithay::limits::MAX_PARTICIPANTS {
///     last = registry.duplicate(slot);
/// }
/// assert_eq!(last, Err(Misuse::TooManyParticipants));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Misuse {
    /// The collection already has the maximum number of slots.
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
    /// `participant` span (child of the collection's), named by `set_name`.
    span: tracing::Span,
}

#[derive(Debug)]
struct Collection<O> {
    /// The client charged for the memory (the creator).
    owner: O,
    slots: Vec<Slot>,
    /// Set by a non-dispensable failure; resolves the collection.
    failure: Option<Failed>,
    created: Instant,
    /// The stall warning was given (once per collection).
    warned: bool,
    /// Keys of the handles exported from this collection (some may be
    /// redeemed or expired already), so resolving it drops them without
    /// scanning every pending handle.
    handles: Vec<String>,
    span: tracing::Span,
}

impl<O> Collection<O> {
    fn new_slot(&self, index: usize, name: String, dispensable: bool) -> Slot {
        let span = tracing::debug_span!(parent: &self.span, "participant", index, name = %name);
        Slot {
            name,
            dispensable,
            state: SlotState::Token,
            span,
        }
    }
}

/// A collection that has waited longer than the stall threshold, and the
/// slots it waits for (neither committed nor released).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stalled {
    pub collection: u64,
    pub waited: Duration,
    /// `'name' (slot i, what it has not done)` for every blocking slot.
    pub blocking: Vec<String>,
}

#[derive(Debug)]
struct Handle<O> {
    slot: SlotId,
    created: Instant,
    owner: O,
}

/// Every negotiating collection and pending handle. `O` identifies the
/// client that exported a handle (for per-client accounting).
///
/// ```
/// # use accord_engine::{Constraints, FormatModifier, MOD_LINEAR};
/// # use accord_smithay::backend::memfd::MemfdAllocator;
/// # use accord_smithay::registry::{Outcome, Reason, Registry};
/// # let pair = FormatModifier { format: u32::from_le_bytes(*b"XR24"), modifier: MOD_LINEAR, scanout: false };
/// # let wants = Constraints { formats: vec![pair], min_size: (64, 32), ..Default::default() };
/// # let mut registry = Registry::<u32>::new();
/// // Two participants of one client (id 1): a decoder and a player.
/// let decoder = registry.create("decoder".into(), 1);
/// let player = registry.duplicate(decoder).expect("room").expect("negotiating");
/// registry.set_name(player, "player".into());
/// for slot in [decoder, player] {
///     registry.bind(slot);
///     registry.commit(slot, wants.clone());
/// }
/// let resolved = registry.resolve(&mut MemfdAllocator::new());
/// assert_eq!(resolved.len(), 1);
/// assert!(matches!(resolved[0].outcome, Outcome::Allocated(_)));
/// assert!(registry.charged(&1) > 0);
/// ```
#[derive(Debug)]
pub struct Registry<O> {
    collections: HashMap<u64, Collection<O>>,
    ledger: Ledger<O>,
    quota: u64,
    handles: HashMap<String, Handle<O>>,
    /// Handle keys in export order, oldest first: expiry pops the front
    /// instead of scanning every handle. Keys already redeemed or dropped
    /// are skipped when they reach the front.
    handle_queue: VecDeque<(Instant, String)>,
    handles_per_owner: HashMap<O, usize>,
    /// Collections changed since the last `take_ready`: only these can have
    /// become ready, so a request costs O(changed), not O(negotiating).
    dirty: BTreeSet<u64>,
    next_collection: u64,
    handle_expiry: Duration,
    stall_warning: Duration,
}

impl<O: Clone + Eq + Hash + std::fmt::Debug + Send + Sync + 'static> Default for Registry<O> {
    fn default() -> Self {
        Registry {
            collections: HashMap::new(),
            handles: HashMap::new(),
            handle_queue: VecDeque::new(),
            handles_per_owner: HashMap::new(),
            dirty: BTreeSet::new(),
            next_collection: 1,
            ledger: Ledger(Arc::new(Mutex::new(HashMap::new()))),
            quota: DEFAULT_CLIENT_QUOTA,
            handle_expiry: HANDLE_EXPIRY,
            stall_warning: DEFAULT_STALL_WARNING,
        }
    }
}

impl<O: Clone + Eq + Hash + std::fmt::Debug + Send + Sync + 'static> Registry<O> {
    /// An empty registry with the default quota.
    ///
    /// ```
    ///
    /// let registry = accord_smithay::registry::Registry::<u32>::new();
    /// assert_eq!(registry.total_charged(), 0);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes each client may hold in allocated buffers at once.
    ///
    /// ```
    /// # use accord_engine::{Constraints, FormatModifier, MOD_LINEAR};
    /// # use accord_smithay::backend::memfd::MemfdAllocator;
    /// # use accord_smithay::registry::{Outcome, Reason, Registry};
    /// # let pair = FormatModifier { format: u32::from_le_bytes(*b"XR24"), modifier: MOD_LINEAR, scanout: false };
    /// # let wants = Constraints { formats: vec![pair], min_size: (64, 32), ..Default::default() };
    /// # let mut registry = Registry::<u32>::new();
    /// registry.set_quota(1024); // too small for 64x32 XRGB8888
    /// let slot = registry.create("player".into(), 1);
    /// registry.bind(slot);
    /// registry.commit(slot, wants);
    /// let Outcome::Failed(f) = &registry.resolve(&mut MemfdAllocator::new())[0].outcome else {
    ///     unreachable!()
    /// };
    /// assert_eq!(f.reason, Reason::QuotaExceeded);
    /// ```
    pub fn set_quota(&mut self, bytes: u64) {
        self.quota = bytes;
    }

    /// How long an exported handle stays redeemable (default
    /// [`HANDLE_EXPIRY`], 60 s; tests shorten it).
    pub fn set_handle_expiry(&mut self, expiry: Duration) {
        self.handle_expiry = expiry;
    }

    /// The current handle expiry.
    pub fn handle_expiry(&self) -> Duration {
        self.handle_expiry
    }

    /// How long a collection may wait before [`Registry::warn_stalled`]
    /// reports it (default [`DEFAULT_STALL_WARNING`], 5 s).
    pub fn set_stall_warning(&mut self, after: Duration) {
        self.stall_warning = after;
    }

    /// The current stall threshold.
    pub fn stall_warning(&self) -> Duration {
        self.stall_warning
    }

    /// Collections still negotiating (diagnostics, leak checks).
    pub fn negotiating(&self) -> usize {
        self.collections.len()
    }

    /// Bytes currently charged to `owner`.
    ///
    /// ```
    /// # use accord_engine::{Constraints, FormatModifier, MOD_LINEAR};
    /// # use accord_smithay::backend::memfd::MemfdAllocator;
    /// # use accord_smithay::registry::{Outcome, Reason, Registry};
    /// # let pair = FormatModifier { format: u32::from_le_bytes(*b"XR24"), modifier: MOD_LINEAR, scanout: false };
    /// # let wants = Constraints { formats: vec![pair], min_size: (64, 32), ..Default::default() };
    /// # let mut registry = Registry::<u32>::new();
    /// assert_eq!(registry.charged(&7), 0);
    /// ```
    pub fn charged(&self, owner: &O) -> u64 {
        self.ledger.get(owner)
    }

    /// Bytes charged to all clients: the memory of every live allocation.
    ///
    /// ```
    /// # use accord_engine::{Constraints, FormatModifier, MOD_LINEAR};
    /// # use accord_smithay::backend::memfd::MemfdAllocator;
    /// # use accord_smithay::registry::{Outcome, Reason, Registry};
    /// # let pair = FormatModifier { format: u32::from_le_bytes(*b"XR24"), modifier: MOD_LINEAR, scanout: false };
    /// # let wants = Constraints { formats: vec![pair], min_size: (64, 32), ..Default::default() };
    /// # let mut registry = Registry::<u32>::new();
    /// let slot = registry.create("player".into(), 1);
    /// registry.bind(slot);
    /// registry.commit(slot, wants);
    /// let resolved = registry.resolve(&mut MemfdAllocator::new());
    /// assert!(registry.total_charged() > 0);
    /// drop(resolved); // the last holder of the buffers
    /// assert_eq!(registry.total_charged(), 0);
    /// ```
    pub fn total_charged(&self) -> u64 {
        let map = self.ledger.0.lock().unwrap_or_else(|e| e.into_inner());
        map.values().fold(0, |a, b| a.saturating_add(*b))
    }

    /// Start a collection with one token slot; `owner` is charged for its
    /// memory.
    ///
    /// ```
    /// # use accord_engine::{Constraints, FormatModifier, MOD_LINEAR};
    /// # use accord_smithay::backend::memfd::MemfdAllocator;
    /// # use accord_smithay::registry::{Outcome, Reason, Registry};
    /// # let pair = FormatModifier { format: u32::from_le_bytes(*b"XR24"), modifier: MOD_LINEAR, scanout: false };
    /// # let wants = Constraints { formats: vec![pair], min_size: (64, 32), ..Default::default() };
    /// # let mut registry = Registry::<u32>::new();
    /// let root = registry.create("producer".into(), 1);
    /// assert!(registry.is_negotiating(root));
    /// ```
    pub fn create(&mut self, name: String, owner: O) -> SlotId {
        let id = self.next_collection;
        self.next_collection += 1;
        let span = tracing::info_span!("collection", id, owner = ?owner);
        let mut coll = Collection {
            slots: Vec::new(),
            failure: None,
            owner,
            created: Instant::now(),
            warned: false,
            handles: Vec::new(),
            span,
        };
        let root = coll.new_slot(0, name, false);
        root.span
            .in_scope(|| tracing::debug!("created (root token)"));
        coll.slots.push(root);
        self.collections.insert(id, coll);
        SlotId {
            collection: id,
            index: 0,
        }
    }

    /// Whether the slot's collection is still negotiating (not resolved).
    ///
    /// ```
    /// # use accord_engine::{Constraints, FormatModifier, MOD_LINEAR};
    /// # use accord_smithay::backend::memfd::MemfdAllocator;
    /// # use accord_smithay::registry::{Outcome, Reason, Registry};
    /// # let pair = FormatModifier { format: u32::from_le_bytes(*b"XR24"), modifier: MOD_LINEAR, scanout: false };
    /// # let wants = Constraints { formats: vec![pair], min_size: (64, 32), ..Default::default() };
    /// # let mut registry = Registry::<u32>::new();
    /// let slot = registry.create("player".into(), 1);
    /// registry.bind(slot);
    /// registry.commit(slot, wants);
    /// let _ = registry.resolve(&mut MemfdAllocator::new());
    /// assert!(!registry.is_negotiating(slot));
    /// ```
    pub fn is_negotiating(&self, slot: SlotId) -> bool {
        self.collections
            .get(&slot.collection)
            .is_some_and(|c| c.failure.is_none())
    }

    /// The slot's participant name.
    ///
    /// ```
    /// # use accord_engine::{Constraints, FormatModifier, MOD_LINEAR};
    /// # use accord_smithay::backend::memfd::MemfdAllocator;
    /// # use accord_smithay::registry::{Outcome, Reason, Registry};
    /// # let pair = FormatModifier { format: u32::from_le_bytes(*b"XR24"), modifier: MOD_LINEAR, scanout: false };
    /// # let wants = Constraints { formats: vec![pair], min_size: (64, 32), ..Default::default() };
    /// # let mut registry = Registry::<u32>::new();
    /// let slot = registry.create("decoder".into(), 1);
    /// assert_eq!(registry.name(slot), Some("decoder"));
    /// ```
    pub fn name(&self, slot: SlotId) -> Option<&str> {
        self.slot(slot).map(|s| s.name.as_str())
    }

    /// A new token slot in the same collection, inheriting name and
    /// dispensability. `None` if the collection is already resolved.
    ///
    /// ```
    /// # use accord_engine::{Constraints, FormatModifier, MOD_LINEAR};
    /// # use accord_smithay::backend::memfd::MemfdAllocator;
    /// # use accord_smithay::registry::{Outcome, Reason, Registry};
    /// # let pair = FormatModifier { format: u32::from_le_bytes(*b"XR24"), modifier: MOD_LINEAR, scanout: false };
    /// # let wants = Constraints { formats: vec![pair], min_size: (64, 32), ..Default::default() };
    /// # let mut registry = Registry::<u32>::new();
    /// let slot = registry.create("decoder".into(), 1);
    /// let twin = registry.duplicate(slot).expect("room").expect("negotiating");
    /// assert_eq!(registry.name(twin), Some("decoder"));
    /// ```
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
        let new = coll.new_slot(coll.slots.len(), name, dispensable);
        new.span
            .in_scope(|| tracing::debug!(from = slot.index, "duplicated"));
        coll.slots.push(new);
        Ok(Some(SlotId {
            collection: slot.collection,
            index: (coll.slots.len() - 1) as u32,
        }))
    }

    /// Rename a slot (failure messages use the name).
    ///
    /// ```
    /// # use accord_engine::{Constraints, FormatModifier, MOD_LINEAR};
    /// # use accord_smithay::backend::memfd::MemfdAllocator;
    /// # use accord_smithay::registry::{Outcome, Reason, Registry};
    /// # let pair = FormatModifier { format: u32::from_le_bytes(*b"XR24"), modifier: MOD_LINEAR, scanout: false };
    /// # let wants = Constraints { formats: vec![pair], min_size: (64, 32), ..Default::default() };
    /// # let mut registry = Registry::<u32>::new();
    /// let slot = registry.create(String::new(), 1);
    /// registry.set_name(slot, "camera".into());
    /// assert_eq!(registry.name(slot), Some("camera"));
    /// ```
    pub fn set_name(&mut self, slot: SlotId, name: String) {
        if let Some(s) = self.slot_mut(slot) {
            s.span.record("name", tracing::field::display(&name));
            s.name = name;
        }
    }

    /// Allocation goes on without this slot if it fails.
    ///
    /// ```
    /// # use accord_engine::{Constraints, FormatModifier, MOD_LINEAR};
    /// # use accord_smithay::backend::memfd::MemfdAllocator;
    /// # use accord_smithay::registry::{Outcome, Reason, Registry};
    /// # let pair = FormatModifier { format: u32::from_le_bytes(*b"XR24"), modifier: MOD_LINEAR, scanout: false };
    /// # let wants = Constraints { formats: vec![pair], min_size: (64, 32), ..Default::default() };
    /// # let mut registry = Registry::<u32>::new();
    /// let main = registry.create("player".into(), 1);
    /// let extra = registry.duplicate(main).expect("room").expect("negotiating");
    /// registry.set_dispensable(extra);
    /// registry.fail(extra, "disconnected"); // dropped, not fatal
    /// registry.bind(main);
    /// registry.commit(main, wants);
    /// let resolved = registry.resolve(&mut MemfdAllocator::new());
    /// assert!(matches!(resolved[0].outcome, Outcome::Allocated(_)));
    /// ```
    pub fn set_dispensable(&mut self, slot: SlotId) {
        if let Some(s) = self.slot_mut(slot) {
            s.span.in_scope(|| tracing::debug!("dispensable"));
            s.dispensable = true;
        }
    }

    /// Exported handles `owner` has pending.
    ///
    /// ```
    /// # use accord_engine::{Constraints, FormatModifier, MOD_LINEAR};
    /// # use accord_smithay::backend::memfd::MemfdAllocator;
    /// # use accord_smithay::registry::{Outcome, Reason, Registry};
    /// # let pair = FormatModifier { format: u32::from_le_bytes(*b"XR24"), modifier: MOD_LINEAR, scanout: false };
    /// # let wants = Constraints { formats: vec![pair], min_size: (64, 32), ..Default::default() };
    /// # let mut registry = Registry::<u32>::new();
    /// let slot = registry.create("producer".into(), 1);
    /// let twin = registry.duplicate(slot).expect("room").expect("negotiating");
    /// let handle = registry.export(twin, 1, std::time::Instant::now())?;
    /// assert_eq!(registry.handles_of(&1), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn handles_of(&self, owner: &O) -> usize {
        self.handles_per_owner.get(owner).copied().unwrap_or(0)
    }

    /// Move a token slot into a fresh single-use handle.
    ///
    /// ```
    /// # use accord_engine::{Constraints, FormatModifier, MOD_LINEAR};
    /// # use accord_smithay::backend::memfd::MemfdAllocator;
    /// # use accord_smithay::registry::{Outcome, Reason, Registry};
    /// # let pair = FormatModifier { format: u32::from_le_bytes(*b"XR24"), modifier: MOD_LINEAR, scanout: false };
    /// # let wants = Constraints { formats: vec![pair], min_size: (64, 32), ..Default::default() };
    /// # let mut registry = Registry::<u32>::new();
    /// use std::time::Instant;
    /// let slot = registry.create("producer".into(), 1);
    /// let twin = registry.duplicate(slot).expect("room").expect("negotiating");
    /// let handle = registry.export(twin, 1, Instant::now())?;
    /// assert!(accord_smithay::registry::is_well_formed_handle(&handle));
    /// assert!(registry.import(&handle, Instant::now()).is_some());
    /// assert!(registry.import(&handle, Instant::now()).is_none(), "single use");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn export(&mut self, slot: SlotId, owner: O, now: Instant) -> std::io::Result<String> {
        let handle = random_handle()?;
        if let Some(s) = self.slot_mut(slot) {
            s.span.in_scope(|| tracing::debug!("exported"));
            s.state = SlotState::Exported;
            let live = &self.handles;
            if let Some(coll) = self.collections.get_mut(&slot.collection) {
                // Export, import, export again... must not grow it forever:
                // a slot has at most one pending handle.
                if coll.handles.len() >= 2 * MAX_PARTICIPANTS {
                    coll.handles.retain(|k| live.contains_key(k));
                }
                coll.handles.push(handle.clone());
            }
            *self.handles_per_owner.entry(owner.clone()).or_default() += 1;
            // Redeemed keys wait in the queue until they reach the front;
            // compact it when they outnumber the pending ones.
            if self.handle_queue.len() >= 2 * self.handles.len() + 64 {
                self.handle_queue.retain(|(_, k)| live.contains_key(k));
            }
            self.handle_queue.push_back((now, handle.clone()));
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
    ///
    /// ```
    /// # use accord_engine::{Constraints, FormatModifier, MOD_LINEAR};
    /// # use accord_smithay::backend::memfd::MemfdAllocator;
    /// # use accord_smithay::registry::{Outcome, Reason, Registry};
    /// # let pair = FormatModifier { format: u32::from_le_bytes(*b"XR24"), modifier: MOD_LINEAR, scanout: false };
    /// # let wants = Constraints { formats: vec![pair], min_size: (64, 32), ..Default::default() };
    /// # let mut registry = Registry::<u32>::new();
    /// let unknown = "0".repeat(64);
    /// assert!(registry.import(&unknown, std::time::Instant::now()).is_none());
    /// ```
    pub fn import(&mut self, handle: &str, now: Instant) -> Option<SlotId> {
        let h = self.handles.remove(handle)?;
        self.forget_handle_owner(&h.owner);
        if now.saturating_duration_since(h.created) >= self.handle_expiry
            || !self.is_negotiating(h.slot)
        {
            self.fail(h.slot, "its exported handle expired");
            return None;
        }
        let s = self.slot_mut(h.slot)?;
        s.span.in_scope(|| tracing::debug!("imported"));
        s.state = SlotState::Token;
        Some(h.slot)
    }

    /// Fail every slot whose handle has not been redeemed in time.
    ///
    /// ```
    /// # use accord_engine::{Constraints, FormatModifier, MOD_LINEAR};
    /// # use accord_smithay::backend::memfd::MemfdAllocator;
    /// # use accord_smithay::registry::{Outcome, Reason, Registry};
    /// # let pair = FormatModifier { format: u32::from_le_bytes(*b"XR24"), modifier: MOD_LINEAR, scanout: false };
    /// # let wants = Constraints { formats: vec![pair], min_size: (64, 32), ..Default::default() };
    /// # let mut registry = Registry::<u32>::new();
    /// use std::time::Instant;
    /// let slot = registry.create("producer".into(), 1);
    /// let twin = registry.duplicate(slot).expect("room").expect("negotiating");
    /// let handle = registry.export(twin, 1, Instant::now())?;
    /// registry.expire_handles(Instant::now() + accord_smithay::limits::HANDLE_EXPIRY * 2);
    /// assert_eq!(registry.handles_of(&1), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn expire_handles(&mut self, now: Instant) {
        while let Some((created, _)) = self.handle_queue.front() {
            if now.saturating_duration_since(*created) < self.handle_expiry {
                break;
            }
            let Some((_, key)) = self.handle_queue.pop_front() else {
                break;
            };
            if let Some(h) = self.handles.remove(&key) {
                self.forget_handle_owner(&h.owner);
                self.fail(h.slot, "its exported handle expired before import");
            }
        }
        if self.handles.is_empty() {
            self.handle_queue.clear(); // only redeemed keys were left
        }
    }

    /// A token became a collection object: the slot now waits for its commit.
    ///
    /// ```
    /// # use accord_engine::{Constraints, FormatModifier, MOD_LINEAR};
    /// # use accord_smithay::backend::memfd::MemfdAllocator;
    /// # use accord_smithay::registry::{Outcome, Reason, Registry};
    /// # let pair = FormatModifier { format: u32::from_le_bytes(*b"XR24"), modifier: MOD_LINEAR, scanout: false };
    /// # let wants = Constraints { formats: vec![pair], min_size: (64, 32), ..Default::default() };
    /// # let mut registry = Registry::<u32>::new();
    /// let slot = registry.create("player".into(), 1);
    /// registry.bind(slot);
    /// assert!(registry.resolve(&mut MemfdAllocator::new()).is_empty(), "not committed yet");
    /// ```
    pub fn bind(&mut self, slot: SlotId) {
        if let Some(s) = self.slot_mut(slot) {
            s.span.in_scope(|| tracing::debug!("bound"));
            s.state = SlotState::Bound;
        }
    }

    /// Commit a participant's constraints (the name and dispensability are
    /// the slot's).
    ///
    /// ```
    /// # use accord_engine::{Constraints, FormatModifier, MOD_LINEAR};
    /// # use accord_smithay::backend::memfd::MemfdAllocator;
    /// # use accord_smithay::registry::{Outcome, Reason, Registry};
    /// # let pair = FormatModifier { format: u32::from_le_bytes(*b"XR24"), modifier: MOD_LINEAR, scanout: false };
    /// # let wants = Constraints { formats: vec![pair], min_size: (64, 32), ..Default::default() };
    /// # let mut registry = Registry::<u32>::new();
    /// let slot = registry.create("player".into(), 1);
    /// registry.bind(slot);
    /// registry.commit(slot, wants);
    /// assert_eq!(registry.resolve(&mut MemfdAllocator::new()).len(), 1);
    /// ```
    pub fn commit(&mut self, slot: SlotId, mut constraints: Constraints) {
        if let Some(s) = self.slot_mut(slot) {
            constraints.name = s.name.clone();
            constraints.dispensable = s.dispensable;
            s.span.in_scope(|| {
                tracing::debug!(
                    usage = constraints.usage.0,
                    formats = constraints.formats.len(),
                    "committed"
                )
            });
            s.state = SlotState::Committed(Box::new(constraints));
        }
    }

    /// A token destroyed before bind: the slot no longer blocks allocation.
    ///
    /// ```
    /// # use accord_engine::{Constraints, FormatModifier, MOD_LINEAR};
    /// # use accord_smithay::backend::memfd::MemfdAllocator;
    /// # use accord_smithay::registry::{Outcome, Reason, Registry};
    /// # let pair = FormatModifier { format: u32::from_le_bytes(*b"XR24"), modifier: MOD_LINEAR, scanout: false };
    /// # let wants = Constraints { formats: vec![pair], min_size: (64, 32), ..Default::default() };
    /// # let mut registry = Registry::<u32>::new();
    /// let slot = registry.create("player".into(), 1);
    /// let unused = registry.duplicate(slot).expect("room").expect("negotiating");
    /// registry.release(unused);
    /// registry.bind(slot);
    /// registry.commit(slot, wants);
    /// assert_eq!(registry.resolve(&mut MemfdAllocator::new()).len(), 1);
    /// ```
    pub fn release(&mut self, slot: SlotId) {
        if let Some(s) = self.slot_mut(slot) {
            s.span.in_scope(|| tracing::debug!("released"));
            s.state = SlotState::Released;
        }
    }

    /// A participant left or failed before allocation. Dispensable: dropped.
    /// Otherwise the whole collection fails naming it.
    ///
    /// ```
    /// # use accord_engine::{Constraints, FormatModifier, MOD_LINEAR};
    /// # use accord_smithay::backend::memfd::MemfdAllocator;
    /// # use accord_smithay::registry::{Outcome, Reason, Registry};
    /// # let pair = FormatModifier { format: u32::from_le_bytes(*b"XR24"), modifier: MOD_LINEAR, scanout: false };
    /// # let wants = Constraints { formats: vec![pair], min_size: (64, 32), ..Default::default() };
    /// # let mut registry = Registry::<u32>::new();
    /// let slot = registry.create("decoder".into(), 1);
    /// registry.fail(slot, "disconnected");
    /// let resolved = registry.resolve(&mut MemfdAllocator::new());
    /// assert!(matches!(&resolved[0].outcome, Outcome::Failed(f) if f.reason == Reason::ParticipantFailed));
    /// ```
    pub fn fail(&mut self, slot: SlotId, why: &str) {
        let Some(coll) = self.collections.get_mut(&slot.collection) else {
            return;
        };
        self.dirty.insert(slot.collection);
        if coll.failure.is_some() {
            return;
        }
        let Some(s) = coll.slots.get_mut(slot.index as usize) else {
            return;
        };
        s.span
            .in_scope(|| tracing::debug!(dispensable = s.dispensable, "failed: {why}"));
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
    ///
    /// ```
    /// # use accord_engine::{Constraints, FormatModifier, MOD_LINEAR};
    /// # use accord_smithay::backend::memfd::MemfdAllocator;
    /// # use accord_smithay::registry::{Outcome, Reason, Registry};
    /// # let pair = FormatModifier { format: u32::from_le_bytes(*b"XR24"), modifier: MOD_LINEAR, scanout: false };
    /// # let wants = Constraints { formats: vec![pair], min_size: (64, 32), ..Default::default() };
    /// # let mut registry = Registry::<u32>::new();
    /// let slot = registry.create("player".into(), 1);
    /// registry.bind(slot);
    /// registry.commit(slot, wants);
    /// let mut memfd = MemfdAllocator::new();
    /// assert_eq!(registry.resolve(&mut memfd).len(), 1);
    /// assert!(registry.resolve(&mut memfd).is_empty(), "resolved collections leave");
    /// ```
    pub fn resolve(&mut self, allocator: &mut dyn Allocator) -> Vec<Resolution> {
        self.take_ready(|_| true)
            .into_iter()
            .map(|ready| self.finish(ready, None, allocator))
            .collect()
    }

    /// The first half of [`resolve`](Self::resolve): take every ready
    /// collection for which `take(collection id)` is true out of the
    /// registry and negotiate it, without allocating. The caller may then
    /// replace the decision (a device confirming scanout picks another of
    /// its `alternatives`) and hands it to [`finish`](Self::finish).
    ///
    /// ```
    /// # use accord_engine::{Constraints, FormatModifier, MOD_LINEAR};
    /// # use accord_smithay::backend::memfd::MemfdAllocator;
    /// # use accord_smithay::registry::{Outcome, Registry};
    /// # let pair = FormatModifier { format: u32::from_le_bytes(*b"XR24"), modifier: MOD_LINEAR, scanout: false };
    /// # let wants = Constraints { formats: vec![pair], min_size: (64, 32), ..Default::default() };
    /// # let mut registry = Registry::<u32>::new();
    /// let slot = registry.create("player".into(), 1);
    /// registry.bind(slot);
    /// registry.commit(slot, wants);
    /// for ready in registry.take_ready(|_| true) {
    ///     let decision = ready.decision().cloned(); // confirm it here
    ///     let resolved = registry.finish(ready, decision, &mut MemfdAllocator::new());
    ///     assert!(matches!(resolved.outcome, Outcome::Allocated(_)));
    /// }
    /// ```
    pub fn take_ready(&mut self, take: impl Fn(u64) -> bool) -> Vec<Ready<O>> {
        let mut out = Vec::new();
        for id in std::mem::take(&mut self.dirty) {
            let Some(c) = self.collections.get(&id) else {
                continue; // resolved already
            };
            if !(c.failure.is_some() || c.slots.iter().all(Slot::settled)) {
                continue; // a later change marks it again
            }
            if !take(id) {
                self.dirty.insert(id); // ready, but the caller defers it
                continue;
            }
            let Some(coll) = self.collections.remove(&id) else {
                continue;
            };
            self.drop_handles_of(&coll);
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
            let negotiated = match coll.failure.clone() {
                Some(f) => Err(f),
                None => {
                    let _entered = coll.span.enter();
                    negotiate(&coll)
                }
            };
            out.push(Ready {
                id,
                coll,
                slots,
                negotiated,
            });
        }
        out
    }

    /// The second half of [`resolve`](Self::resolve): allocate `ready` by
    /// `decision` (`None`: the negotiated one), check limits and the quota,
    /// verify the layout, and say what every live slot is told.
    pub fn finish(
        &mut self,
        ready: Ready<O>,
        decision: Option<Decision>,
        allocator: &mut dyn Allocator,
    ) -> Resolution {
        let Ready {
            coll,
            slots,
            negotiated,
            ..
        } = ready;
        let _entered = coll.span.enter();
        let outcome = match negotiated {
            Err(f) => Outcome::Failed(f),
            Ok(negotiated) => {
                let decision = decision.unwrap_or(negotiated);
                match allocate(&coll, decision, allocator, &self.ledger, self.quota) {
                    Ok(a) => Outcome::Allocated(Arc::new(a)),
                    Err(f) => Outcome::Failed(f),
                }
            }
        };
        match &outcome {
            Outcome::Allocated(a) => tracing::info!(
                format = a.decision.format,
                modifier = a.decision.modifier,
                width = a.decision.width,
                height = a.decision.height,
                buffers = a.buffers.len(),
                scanout = a.decision.scanout,
                "allocated"
            ),
            Outcome::Failed(f) => {
                tracing::info!(reason = ?f.reason, "failed: {}", f.message)
            }
        }
        Resolution { slots, outcome }
    }

    /// Report (once per collection) every collection that has waited longer
    /// than the stall threshold, naming the slots that are neither committed
    /// nor released, the way sysmem reports blocking participants. Each is
    /// logged as a `tracing` warning and returned.
    pub fn warn_stalled(&mut self, now: Instant) -> Vec<Stalled> {
        let mut out = Vec::new();
        for (id, coll) in self.collections.iter_mut() {
            let waited = now.saturating_duration_since(coll.created);
            if coll.warned || coll.failure.is_some() || waited < self.stall_warning {
                continue;
            }
            coll.warned = true;
            let blocking: Vec<String> = coll
                .slots
                .iter()
                .enumerate()
                .filter_map(|(i, s)| {
                    let what = match s.state {
                        SlotState::Token => "token not bound",
                        SlotState::Exported => "exported handle not redeemed",
                        SlotState::Bound => "bound, constraints not committed",
                        _ => return None,
                    };
                    Some(format!("'{}' (slot {i}, {what})", s.name))
                })
                .collect();
            let _entered = coll.span.enter();
            tracing::warn!(
                "collection {id} has waited {:.1} s for participants that are neither \
                 committed nor released: {}",
                waited.as_secs_f64(),
                blocking.join(", ")
            );
            out.push(Stalled {
                collection: *id,
                waited,
                blocking,
            });
        }
        out
    }

    fn slot(&self, slot: SlotId) -> Option<&Slot> {
        self.collections
            .get(&slot.collection)?
            .slots
            .get(slot.index as usize)
    }

    /// Every state change goes through here (or `fail`), so it marks the
    /// collection for the next `take_ready`.
    fn slot_mut(&mut self, slot: SlotId) -> Option<&mut Slot> {
        self.dirty.insert(slot.collection);
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

    fn drop_handles_of(&mut self, coll: &Collection<O>) {
        for key in &coll.handles {
            if let Some(h) = self.handles.remove(key) {
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

fn negotiate<O>(coll: &Collection<O>) -> Result<Decision, Failed> {
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
    accord_engine::solve(&parts).map_err(engine_failure)
}

fn allocate<O: Clone + Eq + Hash + std::fmt::Debug + Send + Sync + 'static>(
    coll: &Collection<O>,
    decision: Decision,
    allocator: &mut dyn Allocator,
    ledger: &Ledger<O>,
    quota: u64,
) -> Result<Allocation, Failed> {
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
///
/// ```
///
/// use accord_smithay::registry::is_well_formed_handle;
/// assert!(is_well_formed_handle(&"ab".repeat(32)));
/// assert!(!is_well_formed_handle("AB"));
/// ```
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Export, import, export again on one slot: the bookkeeping of
    /// redeemed keys stays bounded (compacted), nothing grows per cycle.
    #[test]
    fn export_import_cycles_keep_bookkeeping_bounded() {
        let mut r = Registry::<u32>::new();
        let now = Instant::now();
        let root = r.create("a".into(), 1);
        let slot = r.duplicate(root).unwrap().unwrap();
        for _ in 0..10_000 {
            let h = r.export(slot, 1, now).unwrap();
            assert_eq!(r.import(&h, now), Some(slot));
        }
        assert!(r.handle_queue.len() <= 64 + 1, "{}", r.handle_queue.len());
        let coll = &r.collections[&root.collection];
        assert!(
            coll.handles.len() <= 2 * MAX_PARTICIPANTS,
            "{}",
            coll.handles.len()
        );
        assert!(r.handles.is_empty());
    }
}
