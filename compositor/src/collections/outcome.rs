//! What a resolved collection tells its participants: buffers
//! ([`Allocation`]) or why not ([`Failed`]).

use std::sync::{Arc, Mutex};

use accord_engine::Decision;
pub use accord_vocabulary::FailureReason;
use smithay::backend::allocator::dmabuf::WeakDmabuf;

use crate::backend::{AllocError, AllocatedBuffer, MemoryKind, Placed};

use super::slot::SlotId;

/// A failure outcome: a reason code and a message naming participants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failed {
    /// The protocol's reason code.
    pub reason: FailureReason,
    /// For people: names the participants involved.
    pub message: String,
}

impl Failed {
    pub(crate) fn new(reason: FailureReason, message: impl Into<String>) -> Self {
        Failed {
            reason,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.reason.as_str(), self.message)
    }
}

impl From<AllocError> for Failed {
    fn from(e: AllocError) -> Self {
        let reason = match &e {
            AllocError::Unsupported(_) => FailureReason::Unsupported,
            AllocError::OutOfMemory(_) => FailureReason::OutOfMemory,
            AllocError::DeviceLost(_) => FailureReason::DeviceLost,
            AllocError::LayoutMismatch(_) => FailureReason::Unsupported,
        };
        Failed::new(reason, format!("allocation failed: {e}"))
    }
}

/// The allocated buffers of one collection generation, shared by every
/// participant's collection object and every `wl_buffer` made from it (a
/// memfd `wl_buffer` through its user data, a dma-buf one through the
/// module's per-`wl_buffer` holds). The fds close, the quota is refunded
/// and the collection learns that its buffers are gone when the last
/// holder drops it.
#[derive(Debug)]
pub struct Allocation {
    /// The engine's decision the buffers follow.
    pub decision: Decision,
    /// What the fds are.
    pub memory: MemoryKind,
    /// Which backend and device made the memory.
    pub placement: Placed,
    /// The buffers, verified against `decision`.
    pub buffers: Vec<AllocatedBuffer>,
    /// Which generation of its collection these buffers are (1 = the first).
    pub generation: u32,
    /// Per buffer index, the `Dmabuf` its dma-buf `wl_buffer`s share while
    /// any holder lives (`dmabuf_buffers.rs`): one fd set per buffer, not
    /// one per `get_wl_buffer`.
    pub(crate) dmabufs: Mutex<Vec<Option<WeakDmabuf>>>,
    /// Refunds the quota and tells the collection on drop.
    pub(crate) _release: Box<dyn std::fmt::Debug + Send + Sync>,
}

/// What a resolved collection tells its participants.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// Buffers for everyone: the first generation, a late participant's
    /// (the current one), or a renegotiation's new generation.
    Allocated(Arc<Allocation>),
    /// Nothing allocated; why.
    Failed(Failed),
    /// A re-solve chose the current generation's decision again: nothing
    /// was allocated (`generation_kept`).
    Kept {
        /// The generation that stays current.
        generation: u32,
    },
    /// A re-solve failed; the current generation stays
    /// (`renegotiation_failed`), nothing is torn down.
    RenegotiationFailed {
        /// Why.
        failed: Failed,
        /// The generation that stays current.
        generation: u32,
    },
}

/// A resolved collection: every live slot and what to tell it.
#[derive(Debug)]
pub struct Resolution {
    /// The slots that wait for the outcome.
    pub slots: Vec<SlotId>,
    /// What each of them is told.
    pub outcome: Outcome,
}

pub(crate) fn log_outcome(outcome: &Outcome) {
    match outcome {
        Outcome::Allocated(a) => tracing::info!(
            format = a.decision.format,
            modifier = a.decision.modifier,
            width = a.decision.width,
            height = a.decision.height,
            buffers = a.buffers.len(),
            scanout = a.decision.scanout,
            placement = %a.placement.name,
            "allocated"
        ),
        Outcome::Failed(f) => tracing::info!(reason = ?f.reason, "failed: {}", f.message),
        Outcome::Kept { generation } => tracing::debug!(generation, "re-solve kept generation"),
        Outcome::RenegotiationFailed { failed, generation } => tracing::info!(
            reason = ?failed.reason,
            generation,
            "renegotiation failed: {}",
            failed.message
        ),
    }
}

/// Tells the table, when an [`Allocation`] drops, that its collection's
/// buffers have no holder left.
#[derive(Debug)]
pub(crate) struct ReleaseNotice {
    pub(crate) collection: u64,
    pub(crate) generation: u32,
    pub(crate) released: Arc<Mutex<Vec<(u64, u32)>>>,
}

impl Drop for ReleaseNotice {
    fn drop(&mut self) {
        self.released
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((self.collection, self.generation));
    }
}
