//! The `wl_buffer`s of dma-buf collections, against a client calling
//! `get_wl_buffer` without end (issue 21).
//!
//! - **One `Dmabuf` per buffer.** A smithay `Dmabuf` owns its fds, so
//!   building one dups every plane fd. The [`Allocation`] caches a
//!   `WeakDmabuf` per buffer index: [`shared_dmabuf`] upgrades it while
//!   anything (a `wl_buffer`, the renderer) still holds that buffer's
//!   `Dmabuf` and hands out a clone, which shares the fds; only when none
//!   is left does it dup once and cache the new one. However many
//!   `wl_buffer`s a client makes, at most one extra fd set per buffer
//!   exists at any time.
//! - **The allocation lives as long as its `wl_buffer`s.** The `wl_buffer`'s
//!   user data must be smithay's `Dmabuf` (renderers and direct scanout look
//!   for it there), which cannot carry the `Arc<Allocation>`, and with it
//!   the client's quota charge. [`DmabufHolds`] keeps that reference beside
//!   it, per `wl_buffer`: dropped when the embedder reports the buffer
//!   destroyed (`BufferCollectionState::wl_buffer_destroyed`, from smithay's
//!   `BufferHandler::buffer_destroyed`), and otherwise found dead by an
//!   amortised sweep: each insertion checks the next [`CHECKS_PER_INSERT`]
//!   entries round robin, each maintenance turn the next
//!   [`CHECKS_PER_TURN`]. No turn walks every entry, and an embedder that
//!   forgets the call leaks no allocation for long: a turn that found dead
//!   entries asks for the next one soon.

use std::collections::HashMap;
use std::sync::Arc;

use smithay::backend::allocator::dmabuf::{Dmabuf, DmabufFlags};
use smithay::backend::allocator::{Fourcc, Modifier};
use wayland_server::backend::ObjectId;
use wayland_server::protocol::wl_buffer::WlBuffer;
use wayland_server::{Resource, Weak};

use crate::collections::Allocation;

/// Entries checked for a dead `wl_buffer` per insertion: more than one, so
/// the sweep outpaces a client creating and destroying in a loop.
pub(crate) const CHECKS_PER_INSERT: usize = 2;

/// Entries checked per maintenance turn (a liveness check is a hash lookup
/// in the display, well under a microsecond each).
pub(crate) const CHECKS_PER_TURN: usize = 256;

/// The `Dmabuf` of buffer `index` (range-checked by the caller), shared
/// with every other live holder of it, or a fresh one over dup'd fds.
/// `None` when a dup fails (fd exhaustion) or the layout does not fit.
pub(crate) fn shared_dmabuf(a: &Allocation, index: usize) -> Option<Dmabuf> {
    let mut cache = a.dmabufs.lock().unwrap_or_else(|e| e.into_inner());
    if cache.len() < a.buffers.len() {
        cache.resize(a.buffers.len(), None);
    }
    let slot = cache.get_mut(index)?;
    if let Some(alive) = slot.as_ref().and_then(|w| w.upgrade()) {
        return Some(alive);
    }
    let fresh = build_dmabuf(a, index)?;
    *slot = Some(fresh.weak());
    Some(fresh)
}

/// A `Dmabuf` over dups of buffer `index`'s plane fds.
fn build_dmabuf(a: &Allocation, index: usize) -> Option<Dmabuf> {
    let b = a.buffers.get(index)?;
    let d = &a.decision;
    let format = Fourcc::try_from(d.format).ok()?;
    let size = (i32::try_from(d.width).ok()?, i32::try_from(d.height).ok()?);
    let mut builder = Dmabuf::builder(
        size,
        format,
        Modifier::from(b.modifier),
        DmabufFlags::empty(),
    );
    for (i, p) in b.planes.iter().enumerate() {
        let fd = p.fd.try_clone().ok()?;
        builder.add_plane(fd, i as u32, u32::try_from(p.offset).ok()?, p.stride);
    }
    builder.build()
}

/// One dma-buf `wl_buffer`'s hold on its allocation.
#[derive(Debug)]
struct Hold {
    buffer: Weak<WlBuffer>,
    allocation: Arc<Allocation>,
}

/// The allocations dma-buf `wl_buffer`s hold, one entry per `wl_buffer`.
/// Entries sit in a vector (swap-removed) indexed by object id, so removal
/// is O(1) and the sweep's cursor walks them round robin.
#[derive(Debug, Default)]
pub(crate) struct DmabufHolds {
    entries: Vec<Hold>,
    index: HashMap<ObjectId, usize>,
    /// The next entry the sweep checks.
    cursor: usize,
    /// The last maintenance sweep removed dead entries: more may wait.
    backlog: bool,
}

impl DmabufHolds {
    /// Keep `allocation` alive while `buffer` lives.
    pub(crate) fn insert(&mut self, buffer: &WlBuffer, allocation: Arc<Allocation>) {
        self.sweep(CHECKS_PER_INSERT);
        let id = buffer.id();
        self.remove(&id); // never there (ids are unique per object); keeps the index exact
        self.index.insert(id, self.entries.len());
        self.entries.push(Hold {
            buffer: buffer.downgrade(),
            allocation,
        });
    }

    /// Drop `buffer`'s hold (nothing if it has none: another kind of
    /// buffer, or already swept).
    pub(crate) fn remove(&mut self, buffer: &ObjectId) {
        if let Some(i) = self.index.remove(buffer) {
            self.remove_at(i);
        }
    }

    /// The allocation behind `buffer`, if it is a dma-buf `wl_buffer` of a
    /// collection (a hash lookup).
    pub(crate) fn allocation_of(&self, buffer: &ObjectId) -> Option<&Arc<Allocation>> {
        self.index.get(buffer).map(|&i| &self.entries[i].allocation)
    }

    /// A maintenance turn: check the next [`CHECKS_PER_TURN`] entries.
    pub(crate) fn maintain(&mut self) {
        self.backlog = self.sweep(CHECKS_PER_TURN) > 0;
    }

    /// Whether the last maintenance turn found dead entries (so the next
    /// turn should come soon).
    pub(crate) fn has_backlog(&self) -> bool {
        self.backlog
    }

    /// Check up to `n` entries from the cursor, dropping those whose
    /// `wl_buffer` is gone; returns how many were dropped.
    fn sweep(&mut self, n: usize) -> usize {
        let mut dropped = 0;
        for _ in 0..n.min(self.entries.len()) {
            if self.cursor >= self.entries.len() {
                self.cursor = 0;
            }
            if self.entries[self.cursor].buffer.is_alive() {
                self.cursor += 1;
            } else {
                // The last entry moves here; it is checked next.
                let id = self.entries[self.cursor].buffer.id();
                self.index.remove(&id);
                self.remove_at(self.cursor);
                dropped += 1;
            }
        }
        dropped
    }

    /// Swap-remove entry `i` (already gone from the index) and re-index
    /// the entry that took its place.
    fn remove_at(&mut self, i: usize) {
        self.entries.swap_remove(i);
        if let Some(moved) = self.entries.get(i) {
            self.index.insert(moved.buffer.id(), i);
        }
    }
}
