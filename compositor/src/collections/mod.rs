//! Every buffer collection of the compositor, in plain Rust (no Wayland
//! types), so it is testable and fuzzable on its own. The dispatch modules
//! map protocol objects to [`SlotId`]s and turn the [`Resolution`]s of
//! [`Collections::resolve`] into events.
//!
//! What lives where:
//! - `collection.rs`: one collection's life (negotiating → allocated →
//!   closed) and its slots;
//! - `slot.rs`: one participant slot, the only place its state is kept;
//! - `handles.rs`: exported handles and their expiry;
//! - `budget.rs`: what one client identity may hold, and the module's fd
//!   budget;
//! - `ledger.rs`: the quota ledger (bytes and fds per identity);
//! - `resolve.rs`: negotiate → confirm → allocate → verify, one path;
//! - `renegotiate.rs`: re-solving an allocated collection in generations,
//!   and the rate bound;
//! - `stall.rs`: warnings about collections that wait too long.
//! - `views.rs`: the table's settings and read-only views.
//!
//! A collection resolves once every slot is committed, released, or
//! (dispensable and) failed; a non-dispensable failure resolves it at once
//! as `participant_failed`. An allocated collection stays in the table
//! until its last participant and its last buffer reference are gone.

mod budget;
mod collection;
mod handles;
mod ledger;
mod outcome;
mod renegotiate;
mod resolve;
mod slot;
mod stall;
mod views;

use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use accord_engine::groups::{Branch, Group, Selection};
use accord_engine::placement::Placing;
use accord_engine::Constraints;
use accord_protocol::limits::{MAX_GROUPS, MAX_GROUP_CHILDREN, MAX_PARTICIPANTS, MAX_SLOT_RECORDS};

use crate::backend::{CollectionAllocator, Placed};

use crate::log_limit::LogLimiter;
pub(crate) use budget::within;
pub use budget::{
    Budgets, Usage, DEFAULT_BUFFER_FDS_PER_CLIENT, DEFAULT_COLLECTIONS_PER_CLIENT,
    DEFAULT_MAX_BUFFER_FDS, DEFAULT_PENDING_HANDLES_PER_CLIENT, DEFAULT_TOKENS_PER_CLIENT,
};
use collection::{Collection, GroupRecord, Phase};
pub use handles::is_well_formed_handle;
use handles::Handles;
use ledger::Ledger;
use outcome::{log_outcome, ReleaseNotice};
pub use outcome::{Allocation, Failed, FailureReason, Outcome, Resolution};
pub use renegotiate::{
    same_buffers, DEFAULT_ANSWER_WINDOW, DEFAULT_MIN_GENERATION_INTERVAL, MAX_LIVE_GENERATIONS,
};
pub use resolve::{Confirmation, ScanoutConfirmation, ScanoutProbe};
pub use slot::SlotId;
use slot::{Slot, SlotState};
use stall::StallQueue;
pub use stall::{Stalled, DEFAULT_STALL_WARNING};

/// Expired handles failed per [`Collections::expire_handles`] call: about
/// 0.5 ms of expiry and resolve work (`accord-bench handles`), well under
/// the 10 ms an event-loop turn may spend on handles.
pub const MAX_EXPIRED_PER_TURN: usize = 1024;

/// Stalled collections checked per [`Collections::warn_stalled`] call
/// (about 15 µs each: the names of up to 64 blocking slots).
pub const MAX_STALL_CHECKS_PER_TURN: usize = 128;

/// Pending handles the module holds at most, every client together
/// (settable): at ~600 bytes each (`accord-bench handles`) about 10 MiB,
/// however often a client reconnects to export more.
pub const DEFAULT_MAX_PENDING_HANDLES: usize = 16_384;

/// A non-dispensable participant left an allocated collection: who is
/// told (the participants still holding its buffers), and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lost {
    /// The slots still holding the collection, to notify.
    pub recipients: Vec<SlotId>,
    /// The participant that left.
    pub name: String,
    /// Why, for people.
    pub message: String,
}

/// What [`Collections::attach`] gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attached {
    /// A new slot for the late participant.
    Slot(SlotId),
    /// The collection failed or closed: no slot.
    Closed,
    /// Refused by a limit, with the failure to report.
    Refused(Failed),
}

/// Client misuse of the state machine (becomes a protocol error).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Misuse {
    /// The collection already has the maximum number of slots.
    TooManyParticipants,
}

/// Client misuse of token groups (becomes a protocol error).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupMisuse {
    /// The collection already has the maximum number of slots.
    TooManyParticipants,
    /// The collection already has the maximum number of token groups.
    TooManyGroups,
    /// The group already has the maximum number of children.
    TooManyChildren,
}

/// One token group: a collection and the group's number in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GroupId {
    /// The collection's id.
    pub collection: u64,
    /// The group's number (creation order within the collection).
    pub group: u32,
}

/// What identifies a client charged for memory and pending handles: the
/// module's [`ClientIdentity`](crate::ClientIdentity); any printable key in
/// tests.
pub trait Owner:
    Clone + Eq + Hash + std::fmt::Debug + std::fmt::Display + Send + Sync + 'static
{
}

impl<O> Owner for O where
    O: Clone + Eq + Hash + std::fmt::Debug + std::fmt::Display + Send + Sync + 'static
{
}

/// Every live collection and pending handle. `O` identifies the client
/// charged for a collection's memory and for a pending handle.
#[derive(Debug)]
pub struct Collections<O> {
    table: HashMap<u64, Collection<O>>,
    handles: Handles<O>,
    /// Pending handles the whole table may hold (every client together).
    max_pending_handles: usize,
    ledger: Ledger<O>,
    /// What each identity may hold.
    budgets: Budgets,
    /// Buffer fds of every client together.
    max_buffer_fds: u64,
    /// Collections in the table per creator (for its collection budget).
    collections_per_owner: HashMap<O, usize>,
    /// Collections changed since the last `resolve`: only these can have
    /// become ready, so a request costs O(changed), not O(negotiating).
    dirty: BTreeSet<u64>,
    /// Collections whose current buffers lost their last holder, reported
    /// by each [`Allocation`]'s drop (which may run anywhere a holder goes).
    released: Arc<Mutex<Vec<(u64, u32)>>>,
    next_collection: u64,
    stall_warning: Duration,
    /// Negotiating collections in creation order, for the stall warning.
    stalls: StallQueue,
    /// Stall warnings are rate-limited: one client creating many
    /// collections cannot flood the log.
    log_limit: LogLimiter,
    /// Departures after allocation not yet told to the other holders.
    lost: Vec<Lost>,
    /// Weak participants whose buffers lost their last strong holder, not
    /// yet told to let go.
    weak_released: Vec<SlotId>,
    /// Shortest time between two generations of one collection.
    min_generation_interval: Duration,
    /// Re-solves held back by the interval or a hold, by when they are
    /// due.
    deferred: BTreeSet<(Instant, u64)>,
    /// How long the compositor's own change waits for the clients' answer
    /// ([`recommit_held`](Self::recommit_held)).
    answer_window: Duration,
    /// Closed collections that had a compositor participant, for the
    /// module to forget their surfaces ([`take_closed_attached`](Self::take_closed_attached)).
    closed_attached: Vec<u64>,
}

impl<O> Default for Collections<O> {
    fn default() -> Self {
        Collections {
            table: HashMap::new(),
            handles: Handles::default(),
            max_pending_handles: DEFAULT_MAX_PENDING_HANDLES,
            ledger: Ledger::default(),
            budgets: Budgets::default(),
            max_buffer_fds: DEFAULT_MAX_BUFFER_FDS,
            collections_per_owner: HashMap::new(),
            dirty: BTreeSet::new(),
            released: Arc::default(),
            next_collection: 1,
            stall_warning: DEFAULT_STALL_WARNING,
            stalls: StallQueue::default(),
            log_limit: LogLimiter::default(),
            lost: Vec::new(),
            weak_released: Vec::new(),
            min_generation_interval: DEFAULT_MIN_GENERATION_INTERVAL,
            deferred: BTreeSet::new(),
            answer_window: DEFAULT_ANSWER_WINDOW,
            closed_attached: Vec::new(),
        }
    }
}

impl<O: Owner> Collections<O> {
    /// An empty table with the default quota.
    pub fn new() -> Self {
        Self::default()
    }

    /// Start a collection with one token slot held by `holder` (`pid N`:
    /// the default participant name says who); `owner` is charged for its
    /// memory and counts it toward its collection budget. Over that budget
    /// the collection is created failed (`quota_exceeded`): its token gets
    /// the failure like any other.
    pub fn create(&mut self, holder: String, owner: O) -> SlotId {
        let id = self.next_collection;
        self.next_collection += 1;
        let span = tracing::info_span!("collection", id, owner = ?owner);
        let created = Instant::now();
        let count = self.collections_per_owner.entry(owner.clone()).or_default();
        let over_budget = within(
            "collection budget",
            "collection",
            &format!("its creator ({owner})"),
            *count as u64,
            1,
            self.budgets.collections as u64,
        )
        .err();
        *count += 1;
        let mut coll = Collection::new(owner, span, created);
        self.stalls.push(created, id);
        let index = coll.push_slot(None, holder, false, None);
        coll.slots[0]
            .span
            .in_scope(|| tracing::debug!("created (root token)"));
        self.table.insert(id, coll);
        let slot = SlotId {
            collection: id,
            index,
        };
        if let Some(f) = over_budget {
            self.fail_for(slot, f.reason, &f.message);
        }
        slot
    }

    /// A new token slot for a late participant of `slot`'s collection
    /// (`attach_token`), held by `holder`: an ordinary slot while the
    /// collection negotiates, checked against the allocated buffers when
    /// it commits after allocation. `None` if the collection failed or
    /// closed.
    ///
    /// The 64-participant limit counts the slots present now; a collection
    /// records [`MAX_SLOT_RECORDS`] slots over its life, and a late join
    /// beyond that is refused with `quota_exceeded`.
    pub fn attach(&mut self, slot: SlotId, holder: String) -> Result<Attached, Misuse> {
        let Some(coll) = self.table.get_mut(&slot.collection) else {
            return Ok(Attached::Closed);
        };
        if !coll.accepts_participants() {
            return Ok(Attached::Closed);
        }
        if coll.present_slots() >= MAX_PARTICIPANTS {
            return Err(Misuse::TooManyParticipants);
        }
        if coll.slots.len() >= MAX_SLOT_RECORDS {
            return Ok(Attached::Refused(Failed::new(
                FailureReason::QuotaExceeded,
                format!(
                    "attach_token: the collection has had {MAX_SLOT_RECORDS} participants over \
                     its life, its limit; create a new collection"
                ),
            )));
        }
        let index = coll.push_slot(None, holder, false, None);
        coll.slots[index as usize]
            .span
            .in_scope(|| tracing::debug!(from = slot.index, "attached late"));
        self.dirty.insert(slot.collection);
        Ok(Attached::Slot(SlotId {
            collection: slot.collection,
            index,
        }))
    }

    /// A new token slot in the same collection, inheriting name and
    /// dispensability. `None` if the collection failed or closed, or, once
    /// allocated, if `slot` is not a late participant's token.
    pub fn duplicate(&mut self, slot: SlotId) -> Result<Option<SlotId>, Misuse> {
        let Some(coll) = self.table.get_mut(&slot.collection) else {
            return Ok(None);
        };
        let late_token = matches!(coll.phase, Phase::Allocated { .. })
            && coll
                .slots
                .get(slot.index as usize)
                .is_some_and(|s| matches!(s.state, SlotState::Token));
        if !coll.is_open() && !late_token {
            return Ok(None);
        }
        let Some((name, holder, dispensable, branch)) = coll
            .slots
            .get(slot.index as usize)
            .map(|s| (s.name.clone(), s.holder.clone(), s.dispensable, s.branch))
        else {
            return Ok(None);
        };
        if coll.slots.len() >= MAX_PARTICIPANTS {
            return Err(Misuse::TooManyParticipants);
        }
        let index = coll.push_slot(name, holder, dispensable, branch);
        coll.slots[index as usize]
            .span
            .in_scope(|| tracing::debug!(from = slot.index, "duplicated"));
        self.dirty.insert(slot.collection);
        Ok(Some(SlotId {
            collection: slot.collection,
            index,
        }))
    }

    /// Rename a slot (failure messages use the name).
    pub fn set_name(&mut self, slot: SlotId, name: String) {
        if let Some(s) = self.slot_mut(slot) {
            s.span.record("name", tracing::field::display(&name));
            s.name = Some(name);
        }
    }

    /// Turn token `slot` into a token group (`create_group`). `Ok(None)`
    /// when the collection no longer negotiates: a late token's slot is
    /// released, and the caller fails the group's children.
    pub fn create_group(&mut self, slot: SlotId) -> Result<Option<GroupId>, GroupMisuse> {
        let Some(coll) = self.table.get_mut(&slot.collection) else {
            return Ok(None);
        };
        if !coll.is_open() {
            if let Some(s) = coll.slots.get_mut(slot.index as usize) {
                if matches!(s.state, SlotState::Token) {
                    s.state = SlotState::Left;
                    self.dirty.insert(slot.collection);
                }
            }
            return Ok(None);
        }
        if coll.groups.len() >= MAX_GROUPS {
            return Err(GroupMisuse::TooManyGroups);
        }
        let index = coll.groups.len();
        let Some(s) = coll.slots.get_mut(slot.index as usize) else {
            return Ok(None);
        };
        s.span
            .in_scope(|| tracing::debug!(group = index, "made a token group"));
        s.state = SlotState::Group {
            index: index as u32,
            complete: false,
        };
        let node = Group {
            name: s.name(slot.index as usize),
            parent: s.branch,
            children: 0,
            failed_children: Default::default(),
            present: true,
        };
        coll.groups.push(GroupRecord {
            slot: slot.index,
            node,
            child_failures: Default::default(),
        });
        self.dirty.insert(slot.collection);
        Ok(Some(GroupId {
            collection: slot.collection,
            group: index as u32,
        }))
    }

    /// A new child of `group` (`create_child`): a token slot with the
    /// group's name and dispensability, in the group's next child.
    /// `Ok(None)` when the collection failed or closed.
    pub fn create_child(&mut self, group: GroupId) -> Result<Option<SlotId>, GroupMisuse> {
        let Some(coll) = self.table.get_mut(&group.collection) else {
            return Ok(None);
        };
        if !coll.is_open() {
            return Ok(None);
        }
        let Some(record) = coll.groups.get(group.group as usize) else {
            return Ok(None);
        };
        if record.node.children >= MAX_GROUP_CHILDREN {
            return Err(GroupMisuse::TooManyChildren);
        }
        if coll.present_slots() >= MAX_PARTICIPANTS {
            return Err(GroupMisuse::TooManyParticipants);
        }
        let child = record.node.children;
        let Some((name, holder, dispensable)) = coll
            .slots
            .get(record.slot as usize)
            .map(|s| (s.name.clone(), s.holder.clone(), s.dispensable))
        else {
            return Ok(None);
        };
        let branch = Branch {
            group: group.group as usize,
            child,
        };
        let index = coll.push_slot(name, holder, dispensable, Some(branch));
        coll.groups[group.group as usize].node.children += 1;
        coll.slots[index as usize]
            .span
            .in_scope(|| tracing::debug!(group = group.group, child, "group child"));
        self.dirty.insert(group.collection);
        Ok(Some(SlotId {
            collection: group.collection,
            index,
        }))
    }

    /// `all_children_present`: the group no longer holds up allocation.
    pub fn all_children_present(&mut self, group: GroupId) {
        let Some(coll) = self.table.get_mut(&group.collection) else {
            return;
        };
        let Some(slot) = coll.groups.get(group.group as usize).map(|g| g.slot) else {
            return;
        };
        if let Some(Slot {
            state: SlotState::Group { complete, .. },
            ..
        }) = coll.slots.get_mut(slot as usize)
        {
            *complete = true;
            self.dirty.insert(group.collection);
        }
    }

    /// A group object destroyed (or its client gone) before
    /// `all_children_present`: the group fails like its slot's participant.
    pub fn abandon_group(&mut self, group: GroupId) {
        let slot = self
            .table
            .get(&group.collection)
            .and_then(|c| c.groups.get(group.group as usize))
            .map(|g| SlotId {
                collection: group.collection,
                index: g.slot,
            });
        if let Some(slot) = slot {
            self.fail(
                slot,
                "its token group was destroyed before all_children_present",
            );
        }
    }

    /// A weak participant: it does not keep the buffers alive, and is told
    /// to let go (see [`take_weak_released`](Self::take_weak_released))
    /// when the last strong holder has.
    pub fn set_weak(&mut self, slot: SlotId) {
        if let Some(s) = self.slot_mut(slot) {
            s.span.in_scope(|| tracing::debug!("weak"));
            s.weak = true;
        }
    }

    /// Weak participants still holding a collection whose buffers lost
    /// their last strong holder: tell them `close_weak_asap`. Taking them
    /// empties the list.
    pub fn take_weak_released(&mut self) -> Vec<SlotId> {
        std::mem::take(&mut self.weak_released)
    }

    /// The slot is the compositor's own participant for an attached
    /// surface (`attach_surface`): it does not keep an allocated
    /// collection open once the clients' participants and buffers are
    /// gone.
    pub fn set_compositor(&mut self, slot: SlotId) {
        if let Some(s) = self.slot_mut(slot) {
            s.compositor = true;
        }
    }

    /// Allocation goes on without this slot if it fails.
    pub fn set_dispensable(&mut self, slot: SlotId) {
        if let Some(s) = self.slot_mut(slot) {
            s.span.in_scope(|| tracing::debug!("dispensable"));
            s.dispensable = true;
        }
    }

    /// Move a token slot into a fresh single-use handle, charged to
    /// `owner` until it is redeemed or expires. For a collection that is no
    /// longer negotiating the handle is simply never redeemable.
    ///
    /// Fails with `quota_exceeded` when the table already holds
    /// [`max_pending_handles`](Self::set_max_pending_handles) pending
    /// handles (all clients together): the caller fails the slot with it.
    pub fn export(&mut self, slot: SlotId, owner: O, now: Instant) -> Result<String, Failed> {
        let no_randomness = |e: std::io::Error| {
            Failed::new(
                FailureReason::OutOfMemory,
                format!("no handle: getrandom failed ({e})"),
            )
        };
        let Some(coll) = self.table.get_mut(&slot.collection) else {
            return handles::unredeemable().map_err(no_randomness);
        };
        if !coll.accepts_participants() || coll.slots.get(slot.index as usize).is_none() {
            return handles::unredeemable().map_err(no_randomness);
        }
        if self.handles.len() >= self.max_pending_handles {
            return Err(Failed::new(
                FailureReason::QuotaExceeded,
                format!(
                    "no handle: the compositor already holds {} pending handles, its limit; \
                     redeem or let expire some first",
                    self.handles.len()
                ),
            ));
        }
        within(
            "pending handle budget",
            "handle",
            &format!("its exporter ({owner})"),
            self.handles.of(&owner) as u64,
            1,
            self.budgets.pending_handles as u64,
        )
        .map_err(|f| Failed::new(f.reason, format!("no handle: {}", f.message)))?;
        let key = self
            .handles
            .insert(slot, owner, now)
            .map_err(no_randomness)?;
        let s = &mut coll.slots[slot.index as usize];
        s.span.in_scope(|| tracing::debug!("exported"));
        s.state = SlotState::Exported;
        // Export, import, export again... must not grow it forever: a slot
        // has at most one pending handle.
        if coll.handles.len() >= 2 * MAX_PARTICIPANTS {
            let handles = &self.handles;
            coll.handles.retain(|k| handles.is_pending(k));
        }
        coll.handles.push(key.clone());
        self.dirty.insert(slot.collection);
        Ok(key)
    }

    /// Redeem a handle: its slot, now a token again held by `holder`.
    /// `None` for an unknown or used handle; an expired one also fails its
    /// slot.
    pub fn import(&mut self, handle: &str, holder: String, now: Instant) -> Option<SlotId> {
        let (slot, fresh) = self.handles.redeem(handle, now)?;
        let joinable = self
            .table
            .get(&slot.collection)
            .is_some_and(Collection::accepts_participants);
        if !fresh || !joinable {
            self.fail(slot, "its exported handle expired");
            return None;
        }
        let s = self.slot_mut(slot)?;
        s.span
            .in_scope(|| tracing::debug!(holder = %holder, "imported"));
        s.holder = holder;
        s.state = SlotState::Token;
        Some(slot)
    }

    /// Fail the slots whose handle has not been redeemed in time: at most
    /// [`MAX_EXPIRED_PER_TURN`] per call, oldest first, so that a burst of
    /// handles falling due together (a client that exported thousands and
    /// left) costs many short turns instead of one long one;
    /// [`has_due`](Self::has_due) says whether more are waiting.
    pub fn expire_handles(&mut self, now: Instant) {
        for slot in self.handles.take_expired(now, MAX_EXPIRED_PER_TURN) {
            self.fail(slot, "its exported handle expired before import");
        }
        self.wake_deferred(now);
    }

    /// Whether a handle expiry or a stall warning is due and was left for
    /// a later turn by the per-turn bounds: call again soon.
    pub fn has_due(&self, now: Instant) -> bool {
        self.handles.is_due(now)
            || self.stalls.is_due(now, self.stall_warning)
            || self.next_deferred().is_some_and(|at| at <= now)
    }

    /// When the earliest re-solve held back by the rate bound is due (call
    /// [`expire_handles`](Self::expire_handles) then, and resolve).
    pub fn next_renegotiation(&self) -> Option<Instant> {
        self.next_deferred()
    }

    /// A token became a collection object: the slot now waits for its commit.
    pub fn bind(&mut self, slot: SlotId) {
        if let Some(s) = self.slot_mut(slot) {
            s.span.in_scope(|| tracing::debug!("bound"));
            s.state = SlotState::Bound;
        }
    }

    /// Commit a participant's constraints (the name and dispensability are
    /// the slot's).
    pub fn commit(&mut self, slot: SlotId, mut constraints: Constraints) {
        if let Some(s) = self.slot_mut(slot) {
            constraints.name = s.name(slot.index as usize);
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
    /// After allocation: the participant left.
    pub fn release(&mut self, slot: SlotId) {
        let allocated = self
            .table
            .get(&slot.collection)
            .is_some_and(|c| matches!(c.phase, Phase::Allocated { .. }));
        if let Some(s) = self.slot_mut(slot) {
            s.span.in_scope(|| tracing::debug!("released"));
            s.state = if allocated {
                SlotState::Left
            } else {
                SlotState::Released
            };
        }
    }

    /// A participant left or failed. Before allocation a dispensable one is
    /// dropped and any other fails the whole collection, naming it. After
    /// allocation it just leaves: nobody's memory is revoked.
    pub fn fail(&mut self, slot: SlotId, why: &str) {
        self.fail_for(slot, FailureReason::ParticipantFailed, why);
    }

    /// [`fail`](Self::fail) with the reason the collection fails with when
    /// the slot is not dispensable (`quota_exceeded` for a limit it hit).
    pub fn fail_for(&mut self, slot: SlotId, reason: FailureReason, why: &str) {
        let Some(coll) = self.table.get_mut(&slot.collection) else {
            return;
        };
        self.dirty.insert(slot.collection);
        let Some(s) = coll.slots.get_mut(slot.index as usize) else {
            return;
        };
        match &mut coll.phase {
            Phase::Allocated { .. } => {
                s.span.in_scope(|| tracing::debug!("left: {why}"));
                let was_holding = matches!(s.state, SlotState::Holding { .. });
                s.state = SlotState::Left;
                // Failure domains after allocation: nobody's memory is
                // revoked; the other holders learn that a participant they
                // may depend on is gone (a dispensable one goes quietly).
                if was_holding && !s.dispensable {
                    let name = s.name(slot.index as usize);
                    let recipients = coll
                        .slots
                        .iter()
                        .enumerate()
                        .filter(|(_, o)| matches!(o.state, SlotState::Holding { .. }))
                        .map(|(index, _)| SlotId {
                            collection: slot.collection,
                            index: index as u32,
                        })
                        .collect::<Vec<_>>();
                    if !recipients.is_empty() {
                        self.lost.push(Lost {
                            recipients,
                            message: format!(
                                "participant '{name}' left after allocation: {why}; the buffers \
                                 stay valid for every holder"
                            ),
                            name,
                        });
                    }
                }
            }
            Phase::Negotiating {
                failure: Some(_), ..
            } => {}
            Phase::Negotiating { failure, .. } => {
                s.span
                    .in_scope(|| tracing::debug!(dispensable = s.dispensable, "failed: {why}"));
                let name = s.name(slot.index as usize);
                let group = match s.state {
                    SlotState::Group { index, .. } => Some(index as usize),
                    _ => None,
                };
                if s.dispensable {
                    s.state = SlotState::Dropped;
                    // A dropped group takes its whole subtree with it.
                    if let Some(g) = group.and_then(|g| coll.groups.get_mut(g)) {
                        g.node.present = false;
                    }
                } else if let Some(b) = s.branch {
                    // Inside a group child: the child is the failure
                    // domain, no longer a candidate; the collection goes on.
                    s.state = SlotState::Dropped;
                    if let Some(g) = coll.groups.get_mut(b.group) {
                        g.node.failed_children.insert(b.child);
                        g.child_failures
                            .entry(b.child)
                            .or_insert_with(|| format!("participant '{name}' failed: {why}"));
                    }
                } else {
                    *failure = Some(Failed::new(
                        reason,
                        format!("participant '{name}' failed: {why}"),
                    ));
                }
            }
        }
    }

    /// Resolve every collection that is ready: negotiate, confirm with
    /// `confirm`, allocate with `allocator` and verify (see `resolve.rs`),
    /// or report the failure. A failed collection closes; an allocated one
    /// stays until its participants and buffers are gone. One allocator is
    /// a set of one placement ([`resolve_on`](Self::resolve_on)).
    pub fn resolve(
        &mut self,
        allocator: &mut dyn CollectionAllocator,
        confirm: &mut dyn ScanoutConfirmation,
    ) -> Vec<Resolution> {
        let placing = Placing::single(allocator.source());
        self.resolve_on(&mut [allocator], &placing, confirm)
    }

    /// [`resolve_on`](Self::resolve_on) the placements of `placements`
    /// (what the module's flush does; for embedders and tests that use the
    /// table without Wayland).
    pub fn resolve_placed(
        &mut self,
        placements: &mut crate::backend::Placements,
        confirm: &mut dyn ScanoutConfirmation,
    ) -> Vec<Resolution> {
        let (mut allocators, placing) = placements.parts();
        self.resolve_on(&mut allocators, placing, confirm)
    }

    /// [`resolve`](Self::resolve) on a set of placements: `allocators[i]`
    /// makes the memory of `placing.sources[i]`. The engine ranks the
    /// placements that suit every participant of the confirmed decision
    /// (`accord_engine::placements`); the first allocates, and on failure
    /// the next one is tried.
    pub fn resolve_on(
        &mut self,
        allocators: &mut [&mut dyn CollectionAllocator],
        placing: &Placing,
        confirm: &mut dyn ScanoutConfirmation,
    ) -> Vec<Resolution> {
        self.close_released();
        let mut out = Vec::new();
        for id in std::mem::take(&mut self.dirty) {
            let Some(coll) = self.table.get(&id) else {
                continue; // closed already
            };
            if matches!(coll.phase, Phase::Allocated { .. }) {
                out.extend(self.resolve_late(id));
                out.extend(self.renegotiate(id, allocators, placing, confirm));
            }
            let Some(coll) = self.table.get(&id) else {
                continue;
            };
            if !coll.is_ready() {
                if coll.is_finished() {
                    self.close(id);
                }
                continue; // a later change marks it again
            }
            let _entered = coll.span.clone().entered();
            let chosen = match &coll.phase {
                Phase::Negotiating {
                    failure: Some(f), ..
                } => Err(f.clone()),
                _ => choose(id, coll, confirm, placing),
            };
            let (selection, outcome) = match chosen {
                Err(f) => (None, Outcome::Failed(f)),
                Ok((_, (Confirmation::Defer, _))) => {
                    self.dirty.insert(id); // ready, but the caller defers it
                    continue;
                }
                Ok((selection, (Confirmation::Allocate(decision), order))) => {
                    let confirmed = resolve::Confirmed {
                        decision,
                        probe: confirm.take_probe(),
                    };
                    (
                        Some(selection),
                        self.allocate(id, confirmed, allocators, placing, &order, 1),
                    )
                }
            };
            log_outcome(&outcome);
            out.extend(self.settle(id, outcome, selection.as_ref()));
        }
        out
    }

    /// Departures after allocation to tell the other holders (see
    /// [`Lost`]), oldest first; taking them empties the list.
    pub fn take_lost(&mut self) -> Vec<Lost> {
        std::mem::take(&mut self.lost)
    }

    /// Report (once per collection) the collections that have waited longer
    /// than the stall threshold, at most [`MAX_STALL_CHECKS_PER_TURN`] per
    /// call, oldest first; see `stall.rs`.
    pub fn warn_stalled(&mut self, now: Instant) -> Vec<Stalled> {
        let threshold = self.stall_warning;
        let due = self.stalls.due(now, threshold, MAX_STALL_CHECKS_PER_TURN);
        due.into_iter()
            .filter_map(|id| {
                let coll = self.table.get_mut(&id)?;
                stall::check(id, coll, now, threshold, &mut self.log_limit)
            })
            .collect()
    }

    /// Collections the last [`warn_stalled`](Self::warn_stalled) looked at:
    /// only those whose deadline had passed.
    pub fn stall_visits(&self) -> usize {
        self.stalls.last_visits
    }

    /// Late participants of allocated collection `id` that committed:
    /// each gets the current buffers if its constraints hold for them
    /// (`accord_engine::check_late_join`), or fails alone. When no holder
    /// is left the collection is closing: late slots still waiting fail.
    fn resolve_late(&mut self, id: u64) -> Vec<Resolution> {
        let Some(coll) = self.table.get_mut(&id) else {
            return Vec::new();
        };
        let Phase::Allocated { current, .. } = &coll.phase else {
            return Vec::new();
        };
        let current = current.upgrade();
        let finished = coll.is_finished();
        let mut out = Vec::new();
        for (index, s) in coll.slots.iter_mut().enumerate() {
            let slot = SlotId {
                collection: id,
                index: index as u32,
            };
            let outcome = match (&s.state, &current) {
                (SlotState::Committed(c), Some(a)) => {
                    let layout = allocated_layout(a);
                    match accord_engine::check_late_join(&a.decision, &layout, c) {
                        Ok(()) => Outcome::Allocated(a.clone()),
                        Err(f) => Outcome::Failed(Failed::new(f.reason, f.message)),
                    }
                }
                (SlotState::Token | SlotState::Bound | SlotState::Committed(_), _)
                    if finished || current.is_none() =>
                {
                    Outcome::Failed(Failed::new(
                        FailureReason::ParticipantFailed,
                        "the collection's buffers were all released before this late \
                         participant committed",
                    ))
                }
                _ => continue,
            };
            s.span.in_scope(|| match &outcome {
                Outcome::Allocated(_) => tracing::debug!("joined late"),
                Outcome::Failed(f) => tracing::debug!("late join failed: {f}"),
                _ => {}
            });
            let state = std::mem::replace(&mut s.state, SlotState::Left);
            if let (Outcome::Allocated(_), SlotState::Committed(c)) = (&outcome, state) {
                s.state = SlotState::Holding {
                    accepted: c,
                    proposed: None,
                };
            }
            out.push(Resolution {
                slots: vec![slot],
                outcome,
            });
        }
        out
    }

    /// Allocate generation `generation` of collection `id` (1 at first,
    /// n + 1 when a re-solve changes the decision), charged to its creator,
    /// on the placements in `order` (indices into `allocators`): the first
    /// that allocates and passes the checks wins. A budget or size refusal
    /// is not the placement's fault and ends the search; every other
    /// failure tries the next placement, and the final failure lists each
    /// attempt.
    fn allocate(
        &mut self,
        id: u64,
        confirmed: resolve::Confirmed,
        allocators: &mut [&mut dyn CollectionAllocator],
        placing: &Placing,
        order: &[usize],
        generation: u32,
    ) -> Outcome {
        let resolve::Confirmed {
            decision,
            mut probe,
        } = confirmed;
        let Some(coll) = self.table.get(&id) else {
            return Outcome::Failed(Failed::new(FailureReason::InvalidConstraint, "closed"));
        };
        let mut tried: Vec<String> = Vec::new();
        let mut last = None;
        for &i in order {
            let (Some(allocator), Some(source)) = (allocators.get_mut(i), placing.sources.get(i))
            else {
                continue;
            };
            let placed = Placed::of(source);
            // The display's test buffer is buffer 0 when it came from this
            // placement (`resolve.rs`, step 3).
            let mut with_probe = resolve::WithProbe {
                probe: probe
                    .take_if(|p| p.placement == allocator.name())
                    .map(|p| p.buffer),
                inner: &mut **allocator,
            };
            match resolve::allocate(
                &coll.owner,
                &decision,
                &mut with_probe,
                &self.ledger,
                &self.budgets,
                self.max_buffer_fds,
                &placed.name,
            ) {
                Ok((buffers, charge)) => {
                    if !tried.is_empty() {
                        tracing::info!(placement = %placed.name, "allocated after: {}", tried.join("; "));
                    }
                    return Outcome::Allocated(Arc::new(Allocation {
                        decision,
                        memory: with_probe.memory_kind(),
                        placement: placed,
                        buffers,
                        generation,
                        dmabufs: Default::default(),
                        _release: Box::new((
                            charge,
                            ReleaseNotice {
                                collection: id,
                                generation,
                                released: self.released.clone(),
                            },
                        )),
                    }));
                }
                Err(f) => {
                    let fatal = matches!(
                        f.reason,
                        FailureReason::QuotaExceeded | FailureReason::TooLarge
                    );
                    tried.push(format!("{}: {}", placed.name, f.message));
                    last = Some(f);
                    if fatal {
                        break;
                    }
                }
            }
        }
        Outcome::Failed(match last {
            Some(f) if tried.len() == 1 => f,
            Some(f) => Failed::new(
                f.reason,
                format!("every placement failed: {}", tried.join("; ")),
            ),
            None => Failed::new(FailureReason::Unsupported, "no placement to allocate on"),
        })
    }

    /// Move a resolved collection to its next phase and name who hears:
    /// on allocation, the participants of the chosen combination get the
    /// buffers and those of the other group children `not_selected`.
    fn settle(
        &mut self,
        id: u64,
        outcome: Outcome,
        selection: Option<&Selection>,
    ) -> Vec<Resolution> {
        let Some(coll) = self.table.get_mut(&id) else {
            return vec![Resolution {
                slots: Vec::new(),
                outcome,
            }];
        };
        let live = coll.live_slots(id);
        let handles = std::mem::take(&mut coll.handles);
        for key in &handles {
            self.handles.drop_key(key);
        }
        let mut out = Vec::new();
        match &outcome {
            Outcome::Allocated(a) => {
                let chosen = selection.map(|s| s.chosen.as_slice()).unwrap_or(&[]);
                let (slots, others): (Vec<SlotId>, Vec<SlotId>) =
                    live.into_iter().partition(|slot| {
                        selection
                            .is_none_or(|sel| sel.includes(coll.slots[slot.index as usize].branch))
                    });
                for slot in others {
                    let branch = coll.slots[slot.index as usize].branch;
                    let message = coll.not_selected_message(branch, chosen);
                    out.push(Resolution {
                        slots: vec![slot],
                        outcome: Outcome::Failed(Failed::new(FailureReason::NotSelected, message)),
                    });
                    coll.slots[slot.index as usize].state = SlotState::Left;
                }
                for slot in &slots {
                    let s = &mut coll.slots[slot.index as usize];
                    // Only a committed slot is in the chosen combination;
                    // its constraints count in later re-solves.
                    if let SlotState::Committed(c) =
                        std::mem::replace(&mut s.state, SlotState::Left)
                    {
                        s.state = SlotState::Holding {
                            accepted: c,
                            proposed: None,
                        };
                    }
                }
                for s in &mut coll.slots {
                    if !matches!(s.state, SlotState::Holding { .. }) {
                        s.state = SlotState::Left;
                    }
                }
                coll.phase = Phase::Allocated {
                    generation: a.generation,
                    alive: BTreeSet::from([a.generation]),
                    current: Arc::downgrade(a),
                    since: Instant::now(),
                    pending: false,
                    hold: None,
                };
                out.insert(0, Resolution { slots, outcome });
            }
            _ => {
                self.close(id);
                out.push(Resolution {
                    slots: live,
                    outcome,
                });
            }
        }
        out
    }

    /// Mark the generations that lost their last holder; a collection
    /// with none left may close, and its weak holders are told to let go.
    /// A drained generation may also let a waiting re-solve run.
    fn close_released(&mut self) {
        let released =
            std::mem::take(&mut *self.released.lock().unwrap_or_else(|e| e.into_inner()));
        for (id, generation) in released {
            if let Some(Collection {
                phase: Phase::Allocated { alive, .. },
                slots,
                span,
                ..
            }) = self.table.get_mut(&id)
            {
                alive.remove(&generation);
                span.in_scope(|| tracing::debug!(generation, "generation drained"));
                self.dirty.insert(id);
                if !alive.is_empty() {
                    continue;
                }
                for (index, s) in slots.iter().enumerate() {
                    if s.weak && matches!(s.state, SlotState::Holding { .. }) {
                        self.weak_released.push(SlotId {
                            collection: id,
                            index: index as u32,
                        });
                    }
                }
            }
        }
    }

    /// Collections closed since the last call that had a compositor
    /// participant ([`set_compositor`](Self::set_compositor)); taking them
    /// empties the list.
    pub fn take_closed_attached(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.closed_attached)
    }

    fn close(&mut self, id: u64) {
        if let Some(coll) = self.table.remove(&id) {
            coll.span.in_scope(|| tracing::debug!("closed"));
            if coll.slots.iter().any(|s| s.compositor) {
                self.closed_attached.push(id);
            }
            if let Some(n) = self.collections_per_owner.get_mut(&coll.owner) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.collections_per_owner.remove(&coll.owner);
                }
            }
            for key in &coll.handles {
                self.handles.drop_key(key);
            }
        }
    }

    fn slot(&self, slot: SlotId) -> Option<&Slot> {
        self.table
            .get(&slot.collection)?
            .slots
            .get(slot.index as usize)
    }

    /// Every state change goes through here (or `fail`), so it marks the
    /// collection for the next `resolve`.
    fn slot_mut(&mut self, slot: SlotId) -> Option<&mut Slot> {
        self.dirty.insert(slot.collection);
        self.table
            .get_mut(&slot.collection)?
            .slots
            .get_mut(slot.index as usize)
    }
}

/// Pick the combination of token group children to allocate (one
/// combination, the empty one, without groups) and its confirmed decision:
/// the engine's order (`accord_engine::groups`), each combination
/// negotiated and confirmed. A combination in which a participant inside a
/// group child asks for scanout, but the confirmed buffers would not be
/// scanned out, is refused while another remains (the XML's rule). The
/// placements' capabilities take part as one more participant
/// (`accord_engine::placement`), so the decision is one of them can make,
/// and the confirmed decision's placements are ranked
/// (`accord_engine::placements`); a combination no placement suits fails
/// like any other.
fn choose<O>(
    id: u64,
    coll: &Collection<O>,
    confirm: &mut dyn ScanoutConfirmation,
    placing: &Placing,
) -> Result<(Selection, (Confirmation, Vec<usize>)), Failed> {
    let committed: Vec<(&Constraints, Option<Branch>)> = coll
        .slots
        .iter()
        .filter_map(|s| match &s.state {
            SlotState::Committed(c) => Some((&**c, s.branch)),
            _ => None,
        })
        .collect();
    let branches: Vec<Option<Branch>> = committed.iter().map(|(_, b)| *b).collect();
    let groups: Vec<Group> = coll.groups.iter().map(|g| g.node.clone()).collect();
    let as_failure = |f: Failed| accord_engine::Failure {
        reason: f.reason,
        message: f.message,
        participants: Vec::new(),
    };
    accord_engine::groups::first_combination(&groups, &branches, |attempt| {
        let parts: Vec<Constraints> = attempt
            .active
            .iter()
            .map(|&i| committed[i].0.clone())
            .collect();
        let with_placement = if parts.is_empty() {
            parts.clone()
        } else {
            placing.with_participant(&parts)?
        };
        let negotiated = resolve::negotiate(with_placement).map_err(as_failure)?;
        let confirmation = confirm.confirm(id, &negotiated);
        if let Confirmation::Allocate(d) = &confirmation {
            let wants_plane: Vec<&str> = attempt
                .active
                .iter()
                .map(|&i| committed[i])
                .filter(|(c, b)| b.is_some() && c.usage.contains(accord_engine::Usage::SCANOUT))
                .map(|(c, _)| c.name.as_str())
                .collect();
            if !d.scanout && !wants_plane.is_empty() && !attempt.last {
                return Err(as_failure(Failed::new(
                    FailureReason::InvalidConstraint,
                    format!(
                        "the alternative of {} asks for scanout, but the buffers would not be \
                         scanned out (no scanout candidate, or the display refused each)",
                        wants_plane
                            .iter()
                            .map(|n| format!("'{n}'"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )));
            }
            // Where the confirmed decision's memory can come from.
            let order = placing
                .rank(&parts, d)
                .map_err(|f| as_failure(resolve::engine_failure(f)))?;
            return Ok((confirmation, order));
        }
        Ok((confirmation, Vec::new()))
    })
    .map_err(|f| Failed::new(f.reason, f.message))
}

/// The real layout of an allocation's buffers (the first buffer's: every
/// buffer of a collection has the same layout, `verify_layout` checked).
fn allocated_layout(a: &Allocation) -> accord_engine::AllocatedLayout {
    let first = a.buffers.first();
    accord_engine::AllocatedLayout {
        planes: first
            .map(|b| {
                b.planes
                    .iter()
                    .map(|p| accord_engine::PlaneLayout {
                        offset: p.offset,
                        stride: p.stride,
                    })
                    .collect()
            })
            .unwrap_or_default(),
        size_bytes: first.map_or(0, |b| b.size_bytes),
    }
}

#[cfg(test)]
mod tests;
