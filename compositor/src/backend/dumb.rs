//! Dumb buffers + PRIME export on a DRM card node. Dumb buffers are linear
//! and CPU-mappable; on a KMS device they scan out. `CREATE_DUMB` is refused
//! on render nodes (EPERM), so this backend takes a card node.

use smithay::reexports::drm::buffer::{Buffer, DrmFourcc};
use smithay::reexports::drm::control::Device as ControlDevice;
use smithay::reexports::drm::{CLOEXEC, RDWR};

use accord_engine::Decision;

use super::linear::{allocate_each, geometry, injected_enomem, linear_buffer, Geometry};
use super::{AllocError, AllocatedBuffer, CollectionAllocator, MemoryKind};
use crate::device::Card;

/// Allocates dumb buffers on one card node and exports them as dma-bufs.
///
/// ```no_run
/// use accord_smithay::backend::{CollectionAllocator, DumbBackend};
/// let dumb = DumbBackend::open("/dev/dri/card0")?;
/// assert_eq!(dumb.name(), "dumb:/dev/dri/card0");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct DumbBackend {
    card: Card,
    /// Fault injection: the PRIME export of this buffer fails.
    fail_export_at: Option<u32>,
}

impl DumbBackend {
    /// Use an opened card node (e.g. `/dev/dri/card0`).
    ///
    /// ```no_run
    /// use accord_smithay::{backend::DumbBackend, device::Card};
    /// let dumb = DumbBackend::new(Card::open("/dev/dri/card0")?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(card: Card) -> DumbBackend {
        DumbBackend {
            card,
            fail_export_at: None,
        }
    }

    /// Fault injection (the real-kernel tier's cleanup checks): from now on
    /// the PRIME export of buffer `index` (0-based) of every allocation
    /// fails with ENOMEM, as the kernel reports it, after its dumb buffer
    /// exists; the buffers before it are real. `None` turns it off.
    ///
    /// ```no_run
    /// let mut dumb = accord_smithay::backend::DumbBackend::open("/dev/dri/card0")?;
    /// dumb.fail_export_at(Some(2));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn fail_export_at(&mut self, index: Option<u32>) {
        self.fail_export_at = index;
    }

    /// Open `path` (a card node, not `renderD*`).
    ///
    /// ```no_run
    /// let dumb = accord_smithay::backend::DumbBackend::open("/dev/dri/card0")?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn open(path: impl AsRef<std::path::Path>) -> std::io::Result<DumbBackend> {
        Ok(DumbBackend::new(Card::open(path)?))
    }

    /// The card node it allocates on (for `TEST_ONLY` commits with its buffers).
    ///
    /// ```no_run
    /// let dumb = accord_smithay::backend::DumbBackend::open("/dev/dri/card0")?;
    /// println!("{}", dumb.card().driver_name());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn card(&self) -> &Card {
        &self.card
    }

    fn allocate_one(&self, d: &Decision, index: u32) -> Result<AllocatedBuffer, AllocError> {
        let g = geometry(d)?;
        // Dumb buffers are sized in pixels of a bpp; some drivers take
        // 32 bpp only (virtio-gpu). Ask for rows of `stride` bytes as 32-bit
        // "pixels" when the stride allows, else as bytes; extra rows give the
        // size the decision needs.
        let (stride, rows) = match &g {
            Geometry::Packed { stride, rows, .. } => (*stride, *rows),
            // Raw bytes (stride 0): rows of 4096 bytes hold them.
            Geometry::Exact {
                stride0: 0,
                size_bytes,
            } => {
                let rows = u32::try_from(size_bytes.div_ceil(4096))
                    .map_err(|_| AllocError::Unsupported(format!("{size_bytes} bytes")))?;
                (4096, rows.max(1))
            }
            Geometry::Exact {
                stride0,
                size_bytes,
            } => {
                let rows = u32::try_from(size_bytes.div_ceil(u64::from(*stride0).max(1)))
                    .map_err(|_| AllocError::Unsupported(format!("{size_bytes} bytes")))?;
                (*stride0, rows)
            }
        };
        let (width, bpp) = if stride % 4 == 0 {
            (stride / 4, 32)
        } else {
            (stride, 8)
        };
        let dumb = self
            .card
            .create_dumb_buffer((width, rows), DrmFourcc::Xrgb8888, bpp)
            .map_err(|e| io_error(&self.card, "CREATE_DUMB", e))?;
        let exported = if self.fail_export_at == Some(index) {
            Err(injected_enomem())
        } else {
            self.card.buffer_to_prime_fd(dumb.handle(), CLOEXEC | RDWR)
        };
        let pitch = dumb.pitch();
        // The dma-buf keeps the memory alive; the GEM handle is not needed.
        let _ = self.card.destroy_dumb_buffer(dumb);
        let fd = exported.map_err(|e| io_error(&self.card, "PRIME export", e))?;
        // (Raw bytes have no rows: any pitch holds them.)
        if matches!(g, Geometry::Exact { stride0, .. } if stride0 != 0) && pitch != stride {
            return Err(AllocError::LayoutMismatch(format!(
                "{} pads rows to {pitch} bytes; the layout needs {stride}",
                self.card.path().display()
            )));
        }
        linear_buffer(fd, &g, pitch, d)
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

impl CollectionAllocator for DumbBackend {
    fn name(&self) -> String {
        match self.fail_export_at {
            None => format!("dumb:{}", self.card.path().display()),
            Some(i) => format!(
                "dumb:{} (export of buffer {i} fails, injected)",
                self.card.path().display()
            ),
        }
    }

    fn memory_kind(&self) -> MemoryKind {
        MemoryKind::DmaBuf
    }

    /// Device memory of this card (its card and render nodes).
    fn source(&self) -> accord_engine::placements::Source {
        use accord_engine::placements::{Source, SourceKind};
        Source {
            name: self.name(),
            capability: self.capability(),
            ..Source::of_kind(SourceKind::Dumb, None, super::device_ids(self.card.path()))
        }
    }

    fn capability(&self) -> accord_engine::placement::Capability {
        accord_engine::placement::Capability::Linear
    }

    fn allocate(&mut self, decision: &Decision) -> Result<Vec<AllocatedBuffer>, AllocError> {
        allocate_each(decision, false, |i| self.allocate_one(decision, i))
    }
}
