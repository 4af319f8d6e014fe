//! The one path from committed constraints to buffers:
//!
//! 1. **negotiate**: the engine solves the committed constraints;
//! 2. **confirm**: the caller's [`ScanoutConfirmation`] keeps the decision,
//!    replaces it with another of its alternatives (a display that refuses
//!    the first candidate), or defers the collection (no device at hand);
//! 3. **allocate**: when the confirmation allocated a buffer to test on
//!    the display ([`ScanoutProbe`]) with the placement that is chosen,
//!    that buffer becomes buffer 0 and only the rest are allocated (one
//!    allocation fewer on the path from a fullscreen toggle to its first
//!    frame: under TCG a 1280×720 dumb buffer takes ~190 ms); the budgets (bytes, buffer fds) are checked before any memory is touched when
//!    the layout is known (the engine already applied the size limits to
//!    it; they are checked again here in case the confirmation replaced the
//!    decision), then the allocator runs;
//! 4. **verify**: vendor layouts are known only now, so the engine's size
//!    check ([`accord_engine::layout::check_size`]) runs again on the real
//!    sizes and the layout is verified against the decision before anyone
//!    sees an fd.
//!
//! [`Collections::resolve`](super::Collections::resolve) is its only
//! caller, for the compositor and for tests alike.

use super::Owner;

use accord_engine::{Constraints, Decision};

use crate::backend::{verify_layout, AllocError, AllocatedBuffer, CollectionAllocator, MemoryKind};

use super::budget::{Budgets, Usage};
use super::ledger::{Charge, Ledger};
use super::outcome::{Failed, FailureReason};

/// What the display says about a negotiated decision before allocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Confirmation {
    /// Allocate this decision (the negotiated one or another alternative).
    Allocate(Decision),
    /// Not now: the collection stays ready and is offered again next time.
    Defer,
}

/// A buffer the display's confirmation allocated and tested (a `TEST_ONLY`
/// commit), handed to the allocation instead of being thrown away: it
/// becomes buffer 0 of the collection when the chosen placement is the one
/// named here and its layout is the decision's.
#[derive(Debug)]
pub struct ScanoutProbe {
    /// The name of the allocator that made it ([`CollectionAllocator::name`]).
    pub placement: String,
    /// The buffer, as that allocator returned it.
    pub buffer: AllocatedBuffer,
}

/// Confirms (or replaces, or defers) each negotiated decision before
/// anything is allocated; the module's implementation asks the embedder's
/// [`BufferCollectionHandler::confirm_scanout`](crate::BufferCollectionHandler::confirm_scanout).
pub trait ScanoutConfirmation {
    /// Called once per successfully negotiated collection.
    fn confirm(&mut self, collection: u64, decision: &Decision) -> Confirmation;

    /// The buffer the last [`confirm`](Self::confirm) tested, if it kept
    /// one for the allocation ([`ScanoutProbe`]); `None` by default.
    fn take_probe(&mut self) -> Option<ScanoutProbe> {
        None
    }
}

/// Allocate every negotiated decision as it is (no display to confirm).
impl ScanoutConfirmation for () {
    fn confirm(&mut self, _: u64, decision: &Decision) -> Confirmation {
        Confirmation::Allocate(decision.clone())
    }
}

impl<F: FnMut(u64, &Decision) -> Confirmation> ScanoutConfirmation for F {
    fn confirm(&mut self, collection: u64, decision: &Decision) -> Confirmation {
        self(collection, decision)
    }
}

/// A confirmed decision and the buffer its confirmation tested.
pub(crate) struct Confirmed {
    pub(crate) decision: Decision,
    pub(crate) probe: Option<ScanoutProbe>,
}

/// An allocator that hands out a confirmation's probe buffer as buffer 0
/// and allocates only the rest (module comment, step 3). A probe whose
/// layout is not the decision's is dropped and every buffer allocated.
pub(crate) struct WithProbe<'a> {
    pub(crate) inner: &'a mut dyn CollectionAllocator,
    pub(crate) probe: Option<AllocatedBuffer>,
}

impl CollectionAllocator for WithProbe<'_> {
    fn name(&self) -> String {
        self.inner.name()
    }

    fn memory_kind(&self) -> MemoryKind {
        self.inner.memory_kind()
    }

    fn capability(&self) -> accord_engine::placement::Capability {
        self.inner.capability()
    }

    fn source(&self) -> accord_engine::placements::Source {
        self.inner.source()
    }

    fn allocate(&mut self, decision: &Decision) -> Result<Vec<AllocatedBuffer>, AllocError> {
        let one = Decision {
            buffer_count: 1,
            ..decision.clone()
        };
        let probe = self.probe.take().filter(|p| {
            decision.buffer_count >= 1
                && verify_layout(&one, std::slice::from_ref(p), false).is_ok()
        });
        let Some(probe) = probe else {
            return self.inner.allocate(decision);
        };
        let mut buffers = Vec::with_capacity(decision.buffer_count as usize);
        buffers.push(probe);
        if decision.buffer_count > 1 {
            let rest = Decision {
                buffer_count: decision.buffer_count - 1,
                ..decision.clone()
            };
            buffers.extend(self.inner.allocate(&rest)?);
        }
        tracing::debug!(
            placement = %self.inner.name(),
            "the scanout confirmation's buffer is buffer 0"
        );
        Ok(buffers)
    }
}

/// Step 1: solve the committed constraints.
pub(crate) fn negotiate(parts: Vec<Constraints>) -> Result<Decision, Failed> {
    if parts.is_empty() {
        return Err(Failed::new(
            FailureReason::InvalidConstraint,
            "every participant left before committing",
        ));
    }
    accord_engine::solve(&parts).map_err(engine_failure)
}

/// Steps 3 and 4: the buffers and the charge for them (bytes and fds,
/// see `budget.rs`).
pub(crate) fn allocate<O: Owner>(
    owner: &O,
    decision: &Decision,
    allocator: &mut dyn CollectionAllocator,
    ledger: &Ledger<O>,
    budgets: &Budgets,
    max_fds: u64,
    backend: &str,
) -> Result<(Vec<AllocatedBuffer>, Charge<O>), Failed> {
    let fds_per_fd = fd_copies(allocator.memory_kind());
    let count = u64::from(decision.buffer_count);
    // Known before allocating: refuse without touching memory or fds. A
    // vendor layout's planes are known only after: count one fd a buffer.
    let (bytes, planes) = match &decision.layout {
        Some(l) => {
            check_size_limits(decision, Some(l.size_bytes))?;
            (l.size_bytes.saturating_mul(count), l.planes.len().max(1))
        }
        None => (0, 1),
    };
    let need = Usage {
        bytes,
        fds: count.saturating_mul(planes as u64 * fds_per_fd),
    };
    ledger.check(owner, need, budgets, max_fds)?;
    let buffers = allocator.allocate(decision)?;
    // Vendor layouts are only known now: check the real sizes too.
    let largest = buffers.iter().map(|b| b.size_bytes).max();
    check_size_limits(decision, largest)?;
    verify_layout(decision, &buffers, false)?;
    let real = Usage {
        bytes: buffers
            .iter()
            .map(|b| b.size_bytes)
            .fold(0u64, u64::saturating_add),
        fds: buffers
            .iter()
            .map(|b| b.planes.len() as u64 * fds_per_fd)
            .fold(0u64, u64::saturating_add),
    };
    // What the backend really allocated (its sizes, not the request's),
    // booked under the backend too.
    let charge = ledger.charge(owner, backend, real, budgets, max_fds)?;
    Ok((buffers, charge))
}

/// Sets of fds the compositor may hold per allocated fd: the allocator's,
/// and for a dma-buf the one shared copy its `wl_buffer`s are built on
/// (memfd `wl_buffer`s use the allocation's own).
fn fd_copies(memory: MemoryKind) -> u64 {
    match memory {
        MemoryKind::DmaBuf => 2,
        MemoryKind::Memfd => 1,
    }
}

/// The engine's failure, its message guaranteed to name every participant
/// in conflict.
pub(crate) fn engine_failure(f: accord_engine::Failure) -> Failed {
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
        reason: f.reason,
        message,
    }
}

/// The protocol's byte limits on `buffer_bytes` (the largest buffer), through
/// the engine's [`accord_engine::layout::check_size`]: the same function
/// the engine's layout check (and so `accord solve`) uses. A participant's
/// `max_bytes` is left to [`verify_layout`].
fn check_size_limits(decision: &Decision, buffer_bytes: Option<u64>) -> Result<(), Failed> {
    let Some(bytes) = buffer_bytes else {
        return Ok(());
    };
    accord_engine::layout::check_size(u128::from(bytes), 0, decision.buffer_count)
        .map_err(|e| Failed::new(FailureReason::TooLarge, e.to_string()))
}
