//! One collection's whole life, as a state machine:
//!
//! ```text
//!   Negotiating ──(every slot settled, solved, confirmed, allocated)──► Allocated(gen 1)
//!        │                                                                  │
//!        └──(non-dispensable failure, no solution, allocation fails)──► Closed ◄──┘
//!                                    (the last participant and the last buffer are gone)
//! ```
//!
//! Later states hang off the same enum: a participant joining an allocated
//! collection (`attach_token`) is a slot added in `Allocated`, checked
//! against the current generation when it commits (`Collections::
//! resolve_late`); a new generation while the old one drains is
//! `Allocated` holding more than one generation; a group of alternative
//! tokens is a set of slots negotiated one child at a time.

use std::sync::Weak;
use std::time::Instant;

use super::outcome::Allocation;

use super::outcome::Failed;
use super::slot::{Slot, SlotId, SlotState};

/// Where a collection is in its life. A closed collection has left the
/// table, so there is no `Closed` variant to hold.
#[derive(Debug)]
pub(crate) enum Phase {
    /// Waiting for every slot to commit, release or fail.
    Negotiating {
        /// Set by a non-dispensable failure; resolves the collection.
        failure: Option<Failed>,
        created: Instant,
        /// The stall warning was given (once per collection).
        warned: bool,
    },
    /// Buffers were handed out; the collection lives while a participant
    /// or a buffer reference does.
    Allocated {
        /// The current generation (1 after the first allocation).
        generation: u32,
        /// Some holder still has the current generation's buffers.
        buffers_held: bool,
        /// The current generation's buffers, for late participants (weak:
        /// the collection does not keep its buffers alive).
        current: Weak<Allocation>,
    },
}

#[derive(Debug)]
pub(crate) struct Collection<O> {
    /// Charged for the memory (the creator).
    pub(crate) owner: O,
    pub(crate) slots: Vec<Slot>,
    pub(crate) phase: Phase,
    /// Keys of the handles exported from this collection (some may be
    /// redeemed or expired already), so resolving it drops them without
    /// scanning every pending handle.
    pub(crate) handles: Vec<String>,
    pub(crate) span: tracing::Span,
}

impl<O> Collection<O> {
    pub(crate) fn new(owner: O, span: tracing::Span, now: Instant) -> Self {
        Collection {
            owner,
            slots: Vec::new(),
            phase: Phase::Negotiating {
                failure: None,
                created: now,
                warned: false,
            },
            handles: Vec::new(),
            span,
        }
    }

    pub(crate) fn push_slot(
        &mut self,
        name: Option<String>,
        holder: String,
        dispensable: bool,
    ) -> u32 {
        let index = self.slots.len();
        let span = tracing::debug_span!(
            parent: &self.span,
            "participant",
            index,
            name = name.as_deref().unwrap_or(""),
            holder = %holder
        );
        self.slots.push(Slot {
            name,
            holder,
            dispensable,
            weak: false,
            state: SlotState::Token,
            span,
        });
        index as u32
    }

    /// Slots that take part now (not released, dropped or gone): what the
    /// limit of 64 participants counts for a late join.
    pub(crate) fn present_slots(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| {
                !matches!(
                    s.state,
                    SlotState::Left | SlotState::Released | SlotState::Dropped
                )
            })
            .count()
    }

    /// Negotiating and not failed: slots may still change the outcome.
    pub(crate) fn is_open(&self) -> bool {
        matches!(self.phase, Phase::Negotiating { failure: None, .. })
    }

    /// New slots may join: it negotiates (and has not failed), or it is
    /// allocated and late participants are checked against its buffers.
    pub(crate) fn accepts_participants(&self) -> bool {
        self.is_open() || matches!(self.phase, Phase::Allocated { .. })
    }

    /// Negotiating, and nothing more is awaited from any slot.
    pub(crate) fn is_ready(&self) -> bool {
        match &self.phase {
            Phase::Negotiating { failure, .. } => {
                failure.is_some() || self.slots.iter().all(Slot::settled)
            }
            Phase::Allocated { .. } => false,
        }
    }

    /// The live slots (by id) that wait for the outcome.
    pub(crate) fn live_slots(&self, id: u64) -> Vec<SlotId> {
        (0..self.slots.len() as u32)
            .filter(|&i| self.slots[i as usize].live())
            .map(|index| SlotId {
                collection: id,
                index,
            })
            .collect()
    }

    /// Allocated, and neither a participant nor a buffer holds it: it may
    /// close.
    pub(crate) fn is_finished(&self) -> bool {
        match self.phase {
            Phase::Allocated { buffers_held, .. } => {
                !buffers_held
                    && self
                        .slots
                        .iter()
                        .all(|s| !matches!(s.state, SlotState::Holding))
            }
            Phase::Negotiating { .. } => false,
        }
    }
}
