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
//! `Allocated` with more than one generation alive (`renegotiate.rs`); a group of alternative
//! tokens (`create_group`) is a slot in state `Group` plus a
//! [`GroupRecord`], and its children's slots carry the branch they sit in:
//! negotiation tries the combinations of children in the engine's order
//! (`accord_engine::groups`), and the choice is final.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Weak;
use std::time::Instant;

use accord_engine::groups::{Branch, Group};

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
        /// The generations some holder still has (the current one
        /// included): each leaves when its [`Allocation`] drops.
        alive: BTreeSet<u32>,
        /// The current generation's buffers, for late participants and
        /// re-solves (weak: the collection does not keep its buffers
        /// alive).
        current: Weak<Allocation>,
        /// When the current generation was allocated: the rate bound
        /// counts from it (`renegotiate.rs`).
        since: Instant,
        /// A re-solve waits: a proposal came, and the rate bound or the
        /// live generation cap holds it back.
        pending: bool,
        /// The compositor's own change waits for the clients' answer
        /// (`renegotiate.rs`, step 2 "Hold").
        hold: Option<Hold>,
    },
}

/// A change of the compositor's participant waiting for the clients'
/// answer to the configure that announced it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hold {
    /// When the re-solve goes ahead without the answer.
    pub(crate) until: Instant,
    /// The slot whose change is held: a re-commit from any other slot is
    /// the answer.
    pub(crate) slot: u32,
}

/// One token group of a collection.
#[derive(Debug)]
pub(crate) struct GroupRecord {
    /// The slot the group took over.
    pub(crate) slot: u32,
    /// What the engine needs (children, failed children, parent).
    pub(crate) node: Group,
    /// Why each failed child failed, for its participants' `not_selected`.
    pub(crate) child_failures: BTreeMap<usize, String>,
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
    /// Token groups, in creation order (the engine's group numbers).
    pub(crate) groups: Vec<GroupRecord>,
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
            groups: Vec::new(),
            span,
        }
    }

    pub(crate) fn push_slot(
        &mut self,
        name: Option<String>,
        holder: String,
        dispensable: bool,
        branch: Option<Branch>,
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
            compositor: false,
            branch,
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
                failure.is_some()
                    || self
                        .slots
                        .iter()
                        .all(|s| s.settled() || !self.may_take_part(s.branch))
            }
            Phase::Allocated { .. } => false,
        }
    }

    /// Whether a slot at `branch` can still be in the chosen combination:
    /// no group on its path was dropped and no child on it failed. One that
    /// cannot does not hold up allocation.
    pub(crate) fn may_take_part(&self, mut branch: Option<Branch>) -> bool {
        while let Some(b) = branch {
            let Some(g) = self.groups.get(b.group) else {
                return false;
            };
            if !g.node.present || g.node.failed_children.contains(&b.child) {
                return false;
            }
            branch = g.node.parent;
        }
        true
    }

    /// Why the participant at `branch` is not in the combination
    /// `chosen`: the first group on its path that chose another child, was
    /// dropped, or whose child failed.
    pub(crate) fn not_selected_message(
        &self,
        branch: Option<Branch>,
        chosen: &[Option<usize>],
    ) -> String {
        let mut at = branch;
        while let Some(b) = at {
            let Some(g) = self.groups.get(b.group) else {
                break;
            };
            let name = &g.node.name;
            if !g.node.present {
                return format!("its token group '{name}' was dropped");
            }
            if let Some(why) = g.child_failures.get(&b.child) {
                return format!("child {} of token group '{name}' is out: {why}", b.child);
            }
            match chosen.get(b.group).copied().flatten() {
                Some(c) if c != b.child => {
                    return format!(
                        "token group '{name}' selected child {c}; this participant is in child {}",
                        b.child
                    )
                }
                _ => at = g.node.parent,
            }
        }
        "its token group alternative was not selected".into()
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
            Phase::Allocated { ref alive, .. } => {
                alive.is_empty()
                    && self
                        .slots
                        .iter()
                        .all(|s| s.compositor || !matches!(s.state, SlotState::Holding { .. }))
            }
            Phase::Negotiating { .. } => false,
        }
    }
}
