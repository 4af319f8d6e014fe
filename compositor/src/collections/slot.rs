//! One participant slot: its id, name, dispensability and where it is in
//! its life. This is the only place a slot's state is kept; protocol
//! objects hold a [`SlotId`] and ask.

use accord_engine::groups::Branch;
use accord_engine::Constraints;

/// One participant slot: a collection and the slot's index in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SlotId {
    /// The collection's id (unique in its [`Collections`](super::Collections)).
    pub collection: u64,
    /// The slot's position in the collection.
    pub index: u32,
}

/// Where a slot is in its life.
#[derive(Debug)]
pub(crate) enum SlotState {
    /// An unbound token holds it.
    Token,
    /// Waiting in a handle for `import`.
    Exported,
    /// Bound, constraints not yet committed.
    Bound,
    /// Constraints committed; the collection may negotiate.
    Committed(Box<Constraints>),
    /// Destroyed before bind: allocation does not wait for it.
    Released,
    /// A dispensable participant that failed or left before allocation.
    Dropped,
    /// Received the buffers and still holds its collection object.
    /// `accepted`: the constraints the current generation was negotiated
    /// with; `proposed`: a re-commit (or a change of the compositor's
    /// participant) not yet re-solved (`renegotiate.rs`).
    Holding {
        accepted: Box<Constraints>,
        proposed: Option<Box<Constraints>>,
    },
    /// Left after allocation (its buffers stay valid for whoever holds them).
    Left,
    /// Turned into token group `index` of the collection (`create_group`);
    /// `complete` once `all_children_present` came.
    Group { index: u32, complete: bool },
}

#[derive(Debug)]
pub(crate) struct Slot {
    /// Set by `set_name` (or inherited from the slot it was duplicated
    /// from); `None` gives the default name, see [`Slot::name`].
    pub(crate) name: Option<String>,
    /// Who holds the slot now, for the default name: `pid N` of the client
    /// that created, duplicated or imported it.
    pub(crate) holder: String,
    pub(crate) dispensable: bool,
    /// Holds the buffers weakly (`set_weak`): told to let go
    /// (`close_weak_asap`) once no strong holder is left.
    pub(crate) weak: bool,
    /// The compositor's own participant for an attached surface: it holds
    /// no buffers itself (its `wl_buffer`s do), so it does not keep the
    /// collection open once every client participant has left.
    pub(crate) compositor: bool,
    /// The token group child it belongs to (inherited by duplicates and
    /// nested groups); `None` outside every group.
    pub(crate) branch: Option<Branch>,
    pub(crate) state: SlotState,
    /// `participant` span (child of the collection's), named by `set_name`.
    pub(crate) span: tracing::Span,
}

impl Slot {
    /// The participant's name in messages: its own, or `participant I of
    /// HOLDER`, unique within the collection (the slot index tells two
    /// slots of one process apart).
    pub(crate) fn name(&self, index: usize) -> String {
        match &self.name {
            Some(n) => n.clone(),
            None => format!("participant {index} of {}", self.holder),
        }
    }

    /// Allocation no longer waits for this slot.
    pub(crate) fn settled(&self) -> bool {
        matches!(
            self.state,
            SlotState::Committed(_)
                | SlotState::Released
                | SlotState::Dropped
                | SlotState::Group { complete: true, .. }
        )
    }

    /// A protocol object may still hold this slot and wants the outcome.
    pub(crate) fn live(&self) -> bool {
        matches!(
            self.state,
            SlotState::Token | SlotState::Bound | SlotState::Committed(_)
        )
    }

    /// What a slot that blocks negotiation has not done yet, if it blocks.
    pub(crate) fn blocking(&self) -> Option<&'static str> {
        match self.state {
            SlotState::Token => Some("token not bound"),
            SlotState::Exported => Some("exported handle not redeemed"),
            SlotState::Bound => Some("bound, constraints not committed"),
            SlotState::Group {
                complete: false, ..
            } => Some("token group without all_children_present"),
            _ => None,
        }
    }
}
