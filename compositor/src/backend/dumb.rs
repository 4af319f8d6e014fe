//! Dumb buffers + PRIME export on a DRM card node. Dumb buffers are linear
//! and CPU-mappable; on a KMS device they scan out. `CREATE_DUMB` is refused
//! on render nodes (EPERM), so this backend takes a card node.

use smithay::reexports::drm::buffer::{Buffer, DrmFourcc};
use smithay::reexports::drm::control::Device as ControlDevice;
use smithay::reexports::drm::{CLOEXEC, RDWR};

use accord_engine::{Decision, MOD_LINEAR};

use super::linear::{dmabuf_size, linear_geometry};
use super::{verify_layout, AllocError, AllocatedBuffer, AllocatedPlane, Allocator, MemoryKind};
use crate::kms::Card;

/// Allocates dumb buffers on one card node and exports them as dma-bufs.
#[derive(Debug)]
pub struct DumbAllocator {
    card: Card,
}

impl DumbAllocator {
    /// Use an opened card node (e.g. `/dev/dri/card0`).
    pub fn new(card: Card) -> DumbAllocator {
        DumbAllocator { card }
    }

    /// Open `path` (a card node, not `renderD*`).
    pub fn open(path: impl AsRef<std::path::Path>) -> std::io::Result<DumbAllocator> {
        Ok(DumbAllocator::new(Card::open(path)?))
    }

    pub fn card(&self) -> &Card {
        &self.card
    }

    fn allocate_one(&self, d: &Decision) -> Result<AllocatedBuffer, AllocError> {
        let g = linear_geometry(d)?;
        // Dumb buffers are sized in pixels; the wider "width" yields the
        // stride the decision needs, the extra rows the size it needs.
        let width = g.stride / g.cpp;
        let dumb = self
            .card
            .create_dumb_buffer((width, g.rows), DrmFourcc::Xrgb8888, g.cpp * 8)
            .map_err(|e| io_error(&self.card, "CREATE_DUMB", e))?;
        let exported = self.card.buffer_to_prime_fd(dumb.handle(), CLOEXEC | RDWR);
        let pitch = dumb.pitch();
        // The dma-buf keeps the memory alive; the GEM handle is not needed.
        let _ = self.card.destroy_dumb_buffer(dumb);
        let fd = exported.map_err(|e| io_error(&self.card, "PRIME export", e))?;
        let size_bytes = dmabuf_size(&fd)?;
        Ok(AllocatedBuffer {
            planes: vec![AllocatedPlane {
                fd,
                offset: 0,
                stride: pitch,
            }],
            size_bytes,
            modifier: MOD_LINEAR,
        })
    }
}

fn io_error(card: &Card, what: &str, e: std::io::Error) -> AllocError {
    let msg = format!("{what} on {}: {e}", card.path().display());
    match e.raw_os_error() {
        Some(libc_enomem) if libc_enomem == rustix::io::Errno::NOMEM.raw_os_error() => {
            AllocError::OutOfMemory(msg)
        }
        Some(eperm) if eperm == rustix::io::Errno::PERM.raw_os_error() => AllocError::Unsupported(
            format!("{msg} (dumb buffers need a card node, not a render node)"),
        ),
        _ => AllocError::DeviceLost(msg),
    }
}

impl Allocator for DumbAllocator {
    fn name(&self) -> String {
        format!("dumb:{}", self.card.path().display())
    }

    fn memory_kind(&self) -> MemoryKind {
        MemoryKind::DmaBuf
    }

    fn allocate(&mut self, decision: &Decision) -> Result<Vec<AllocatedBuffer>, AllocError> {
        let mut out = Vec::with_capacity(decision.buffer_count as usize);
        for _ in 0..decision.buffer_count {
            // On error, `out` drops and closes every fd made so far.
            out.push(self.allocate_one(decision)?);
        }
        verify_layout(decision, &out, false)?;
        Ok(out)
    }
}
