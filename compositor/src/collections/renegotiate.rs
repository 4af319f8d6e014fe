//! Renegotiation: an allocated collection is re-solved when a participant
//! re-commits (`recommit`, trigger 2) or the compositor's own participant
//! for a surface changes (fullscreen, another output, a plane lost:
//! trigger 1, [`Collections::recommit`] called by the module for it).
//!
//! The algorithm:
//! 1. **Propose.** A change is stored beside the slot's accepted
//!    constraints (`SlotState::Holding::proposed`; a newer one replaces
//!    it) and marks the collection `pending`. Nothing is solved yet.
//! 2. **Rate bound.** A pending collection re-solves only when its current
//!    generation is at least [`min_generation_interval`] old and fewer than
//!    [`MAX_LIVE_GENERATIONS`] generations are alive. Otherwise it waits:
//!    for the interval in a deadline queue (`deferred`, popped by
//!    [`Collections::expire_handles`]), or for a generation to drain (the
//!    release notice marks it dirty). Changes that come meanwhile coalesce
//!    into the one pending re-solve (the last one wins), so 1000 re-commits
//!    a second cost at most one re-solve and one generation per interval.
//! 3. **Hold.** A change of the compositor's own participant
//!    ([`Collections::recommit_held`]) comes with a configure that asks
//!    the client for a new size or state; the client's answer (its own
//!    re-commit) usually changes the decision again. Solving at once would
//!    allocate a generation for the compositor's change and another one
//!    for the answer moments later. So the held change waits until
//!    another participant re-commits (the answer: both are solved
//!    together), the embedder releases it ([`Collections::release_hold`]:
//!    the client applied the configure without re-committing), or the
//!    answer window ([`DEFAULT_ANSWER_WINDOW`]) passes. One toggle, one
//!    generation.
//! 4. **Solve.** Every holding participant's constraints (its proposal, or
//!    its accepted ones) are negotiated with the allocator's placement
//!    participant, without groups: the group children chosen at
//!    allocation are final, and late participants that joined hold like
//!    any other. The display confirms the decision as at allocation.
//! 5. **Compare.** When the decision gives the same buffers as the current
//!    generation's ([`same_buffers`]), nothing is allocated: the proposers
//!    hear `Kept`. Otherwise generation n + 1 is allocated and charged
//!    (the old one is still charged, so both count against the budgets)
//!    and every holder receives it. On any failure every holder hears
//!    `RenegotiationFailed`, the proposals are dropped, and generation n
//!    stays current: nothing is torn down.
//!
//! Old generations are not revoked: each [`Allocation`] lives while a
//! collection object or a `wl_buffer` holds it, and its drop refunds its
//! own charge and removes it from `alive`.
//!
//! [`min_generation_interval`]: Collections::min_generation_interval

use std::sync::Arc;
use std::time::{Duration, Instant};

use accord_engine::placement::Placing;
use accord_engine::{Constraints, Decision};

use super::collection::{Hold, Phase};
use super::outcome::{log_outcome, Failed, Outcome, Resolution};
use super::resolve::{self, Confirmation, ScanoutConfirmation};
use super::slot::{SlotId, SlotState};
use super::{Collections, Owner};
use crate::backend::CollectionAllocator;

/// Default shortest time between two generations of one collection: at
/// most 10 generations a second, however fast the changes come.
pub const DEFAULT_MIN_GENERATION_INTERVAL: Duration = Duration::from_millis(100);

/// Default time a change of the compositor's participant waits for the
/// clients' answer to its configure ([`Collections::recommit_held`]).
pub const DEFAULT_ANSWER_WINDOW: Duration = Duration::from_millis(500);

/// Generations of one collection alive at once (the current one and two
/// draining); a re-solve that would allocate another waits for a drain.
pub const MAX_LIVE_GENERATIONS: usize = 3;

/// Whether two decisions give the same buffers: format, modifier, size,
/// count, layout and placement, colour space and coherency. Usage and the
/// scanout flag alone do not change the memory (a buffer composited when
/// windowed is the same buffer when fullscreen).
pub fn same_buffers(a: &Decision, b: &Decision) -> bool {
    (
        a.format,
        a.modifier,
        a.width,
        a.height,
        a.buffer_count,
        &a.layout,
        a.contiguous,
        &a.devices,
        a.color_space,
        a.coherency_domain,
    ) == (
        b.format,
        b.modifier,
        b.width,
        b.height,
        b.buffer_count,
        &b.layout,
        b.contiguous,
        &b.devices,
        b.color_space,
        b.coherency_domain,
    )
}

impl<O: Owner> Collections<O> {
    /// New constraints for a participant holding an allocated collection's
    /// buffers (`recommit`, or the compositor's participant re-derived):
    /// they are re-solved with the others' by the next
    /// [`resolve`](Self::resolve) the rate bound allows. `false` when the
    /// slot holds no buffers (not allocated yet, left, or failed).
    pub fn recommit(&mut self, slot: SlotId, mut constraints: Constraints) -> bool {
        let Some(coll) = self.table.get_mut(&slot.collection) else {
            return false;
        };
        let Phase::Allocated { pending, hold, .. } = &mut coll.phase else {
            return false;
        };
        let Some(s) = coll.slots.get_mut(slot.index as usize) else {
            return false;
        };
        constraints.name = s.name(slot.index as usize);
        constraints.dispensable = s.dispensable;
        let SlotState::Holding { proposed, .. } = &mut s.state else {
            return false;
        };
        s.span.in_scope(|| tracing::debug!("re-committed"));
        *proposed = Some(Box::new(constraints));
        *pending = true;
        // Another participant's re-commit is the answer a held change
        // waited for: both are solved together.
        if hold.is_some_and(|h| h.slot != slot.index) {
            *hold = None;
        }
        self.dirty.insert(slot.collection);
        true
    }

    /// A change of the compositor's own participant that a configure
    /// announces to the client: as [`recommit`](Self::recommit), but the
    /// re-solve waits for the client's answer (another participant's
    /// re-commit), [`release_hold`](Self::release_hold), or the answer
    /// window, whichever comes first (module comment, step 3). A second
    /// held change before then keeps the first one's deadline, so toggles
    /// cannot hold a collection for ever.
    pub fn recommit_held(&mut self, slot: SlotId, constraints: Constraints) -> bool {
        if !self.recommit(slot, constraints) {
            return false;
        }
        let until = Instant::now()
            .checked_add(self.answer_window)
            .unwrap_or_else(Instant::now);
        if let Some(Phase::Allocated { hold, .. }) =
            self.table.get_mut(&slot.collection).map(|c| &mut c.phase)
        {
            let h = hold.get_or_insert(Hold {
                until,
                slot: slot.index,
            });
            h.slot = slot.index;
            self.deferred.insert((h.until, slot.collection));
        }
        true
    }

    /// The client answered the configure without re-committing (it
    /// applied it with the constraints it had): a held change of the
    /// slot's collection is solved now. `false` when nothing was held.
    pub fn release_hold(&mut self, slot: SlotId) -> bool {
        let Some(Phase::Allocated { hold, .. }) =
            self.table.get_mut(&slot.collection).map(|c| &mut c.phase)
        else {
            return false;
        };
        if hold.take().is_none() {
            return false;
        }
        self.dirty.insert(slot.collection);
        true
    }

    /// Whether the slot's collection has a change waiting for the clients'
    /// answer.
    pub fn renegotiation_held(&self, slot: SlotId) -> bool {
        matches!(
            self.table.get(&slot.collection).map(|c| &c.phase),
            Some(Phase::Allocated { hold: Some(_), .. })
        )
    }

    /// How long a held change waits for the clients' answer (default
    /// [`DEFAULT_ANSWER_WINDOW`]). Applies to changes held from now on.
    pub fn set_answer_window(&mut self, window: Duration) {
        self.answer_window = window;
    }

    /// How long a held change waits for the clients' answer.
    pub fn answer_window(&self) -> Duration {
        self.answer_window
    }

    /// The shortest time between two generations of one collection
    /// (default [`DEFAULT_MIN_GENERATION_INTERVAL`]).
    pub fn set_min_generation_interval(&mut self, interval: Duration) {
        self.min_generation_interval = interval;
        // Waiting re-solves are due by the new rule: look at them again.
        for (_, id) in std::mem::take(&mut self.deferred) {
            self.dirty.insert(id);
        }
    }

    /// The shortest time between two generations of one collection.
    pub fn min_generation_interval(&self) -> Duration {
        self.min_generation_interval
    }

    /// Generations of the slot's collection that some holder still has
    /// (the current one included); 0 once it closed or before allocation.
    pub fn alive_generations(&self, slot: SlotId) -> usize {
        match self.table.get(&slot.collection).map(|c| &c.phase) {
            Some(Phase::Allocated { alive, .. }) => alive.len(),
            _ => 0,
        }
    }

    /// Whether the slot's collection has a re-solve waiting (rate bound or
    /// live generation cap).
    pub fn renegotiation_pending(&self, slot: SlotId) -> bool {
        matches!(
            self.table.get(&slot.collection).map(|c| &c.phase),
            Some(Phase::Allocated { pending: true, .. })
        )
    }

    /// Collections with a re-solve waiting (diagnostics and tests; walks
    /// the table).
    pub fn pending_renegotiations(&self) -> usize {
        self.table
            .values()
            .filter(|c| matches!(c.phase, Phase::Allocated { pending: true, .. }))
            .count()
    }

    /// Re-solves whose interval has passed: marked for the next resolve.
    pub(super) fn wake_deferred(&mut self, now: Instant) {
        while let Some(&(at, id)) = self.deferred.first() {
            if at > now {
                break;
            }
            self.deferred.pop_first();
            self.dirty.insert(id);
        }
    }

    /// When the earliest waiting re-solve is due.
    pub(super) fn next_deferred(&self) -> Option<Instant> {
        self.deferred.first().map(|&(at, _)| at)
    }

    /// Re-solve collection `id` if it has a pending change the rate bound
    /// lets through (see the module comment).
    pub(super) fn renegotiate(
        &mut self,
        id: u64,
        allocators: &mut [&mut dyn CollectionAllocator],
        placing: &Placing,
        confirm: &mut dyn ScanoutConfirmation,
    ) -> Vec<Resolution> {
        let now = Instant::now();
        let interval = self.min_generation_interval;
        let Some(coll) = self.table.get_mut(&id) else {
            return Vec::new();
        };
        let Phase::Allocated {
            generation,
            alive,
            current,
            since,
            pending,
            hold,
        } = &mut coll.phase
        else {
            return Vec::new();
        };
        if !*pending {
            return Vec::new();
        }
        if let Some(h) = *hold {
            if now < h.until {
                self.deferred.insert((h.until, id));
                return Vec::new();
            }
            *hold = None; // the answer window passed
        }
        let generation = *generation;
        let Some(current) = current.upgrade() else {
            // Nobody holds the current buffers: nothing to move on from.
            *pending = false;
            drop_proposals(&mut coll.slots);
            return Vec::new();
        };
        let due = since.checked_add(interval).unwrap_or(now);
        if now < due {
            self.deferred.insert((due, id));
            return Vec::new();
        }
        if alive.len() >= MAX_LIVE_GENERATIONS {
            return Vec::new(); // a drain marks it dirty again
        }
        *pending = false;
        let _entered = coll.span.clone().entered();
        let mut holders = Vec::new();
        let mut proposers = Vec::new();
        let mut parts: Vec<Constraints> = Vec::new();
        for (index, s) in coll.slots.iter().enumerate() {
            if let SlotState::Holding { accepted, proposed } = &s.state {
                let slot = SlotId {
                    collection: id,
                    index: index as u32,
                };
                holders.push(slot);
                if proposed.is_some() {
                    proposers.push(slot);
                }
                parts.push((**proposed.as_ref().unwrap_or(accepted)).clone());
            }
        }
        // As a first solve (`choose`): the placements' participant joins,
        // and the confirmed decision's placements are ranked.
        let solved = (|| -> Result<(Confirmation, Vec<usize>), Failed> {
            let with_placement = placing
                .with_participant(&parts)
                .map_err(resolve::engine_failure)?;
            let negotiated = resolve::negotiate(with_placement)?;
            let confirmation = confirm.confirm(id, &negotiated);
            let order = match &confirmation {
                Confirmation::Allocate(d) => {
                    placing.rank(&parts, d).map_err(resolve::engine_failure)?
                }
                Confirmation::Defer => Vec::new(),
            };
            Ok((confirmation, order))
        })();
        let outcome = match solved {
            Ok((Confirmation::Defer, _)) => {
                if let Some(Phase::Allocated { pending, .. }) =
                    self.table.get_mut(&id).map(|c| &mut c.phase)
                {
                    *pending = true;
                }
                self.dirty.insert(id); // offered again next time
                return Vec::new();
            }
            Ok((Confirmation::Allocate(d), _)) if same_buffers(&d, &current.decision) => {
                Outcome::Kept { generation }
            }
            Ok((Confirmation::Allocate(d), order)) => {
                let next = generation.saturating_add(1);
                let confirmed = resolve::Confirmed {
                    decision: d,
                    probe: confirm.take_probe(),
                };
                match self.allocate(id, confirmed, allocators, placing, &order, next) {
                    Outcome::Failed(failed) => Outcome::RenegotiationFailed { failed, generation },
                    other => other,
                }
            }
            Err(failed) => Outcome::RenegotiationFailed { failed, generation },
        };
        drop(current);
        log_outcome(&outcome);
        let Some(coll) = self.table.get_mut(&id) else {
            return Vec::new();
        };
        let recipients = match &outcome {
            Outcome::Allocated(a) => {
                accept_proposals(&mut coll.slots);
                if let Phase::Allocated {
                    generation,
                    alive,
                    current,
                    since,
                    ..
                } = &mut coll.phase
                {
                    *generation = a.generation;
                    alive.insert(a.generation);
                    *current = Arc::downgrade(a);
                    *since = now;
                }
                holders
            }
            Outcome::Kept { .. } => {
                accept_proposals(&mut coll.slots);
                proposers
            }
            _ => {
                drop_proposals(&mut coll.slots);
                holders
            }
        };
        vec![Resolution {
            slots: recipients,
            outcome,
        }]
    }
}

/// A re-solve succeeded: each proposal becomes its slot's constraints.
fn accept_proposals(slots: &mut [super::slot::Slot]) {
    for s in slots {
        if let SlotState::Holding { accepted, proposed } = &mut s.state {
            if let Some(p) = proposed.take() {
                *accepted = p;
            }
        }
    }
}

/// A re-solve failed: each participant's constraints are again those the
/// current generation was negotiated with.
fn drop_proposals(slots: &mut [super::slot::Slot]) {
    for s in slots {
        if let SlotState::Holding { proposed, .. } = &mut s.state {
            *proposed = None;
        }
    }
}
