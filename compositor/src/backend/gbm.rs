//! GBM on a DRM device: the device's own allocator, which picks tiling and
//! stride itself. On the KMS device it makes scanout buffers. The dma-buf is
//! exported through the card with `DRM_CLOEXEC | DRM_RDWR` before anything
//! else exports it, because `gbm_bo_get_fd` exports read-only (a client's
//! writable mmap would fail).

use smithay::reexports::drm::control::Device as ControlDevice;
use smithay::reexports::drm::{CLOEXEC, RDWR};
use smithay::reexports::gbm;

use accord_engine::{Decision, Usage, MOD_INVALID, MOD_LINEAR};

use super::linear::{allocate_each, dmabuf_size, injected_enomem};
use super::{AllocError, AllocatedBuffer, AllocatedPlane, CollectionAllocator, MemoryKind};
use crate::device::Card;

/// GBM (`gbm_bo_create_with_modifiers2`, else `gbm_bo_create`) on a card
/// node: the scanout-capable backend when the GPU driver has a GBM backend.
///
/// ```no_run
/// use accord_smithay::backend::{CollectionAllocator, GbmBackend};
/// let gbm = GbmBackend::open("/dev/dri/card0")?;
/// println!("{}", gbm.name());
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct GbmBackend {
    device: gbm::Device<Card>,
    /// Same open file description as the GBM device: GEM handles match.
    card: Card,
    /// Fault injection: the PRIME export of this buffer fails.
    fail_export_at: Option<u32>,
}

impl std::fmt::Debug for GbmBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GbmBackend")
            .field("card", &self.card)
            .field("backend", &self.device.backend_name())
            .finish()
    }
}

impl GbmBackend {
    /// A GBM device on an opened card node.
    ///
    /// ```no_run
    /// use accord_smithay::{backend::GbmBackend, device::Card};
    /// let gbm = GbmBackend::new(Card::open("/dev/dri/card0")?)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(card: Card) -> std::io::Result<GbmBackend> {
        let device = gbm::Device::new(card.try_clone()?)?;
        Ok(GbmBackend {
            device,
            card,
            fail_export_at: None,
        })
    }

    /// Fault injection (the real-kernel tier's cleanup checks): from now on
    /// the PRIME export of buffer `index` (0-based) of every allocation
    /// fails with ENOMEM, as the kernel reports it, after its GBM buffer
    /// object exists; the buffers before it are real. `None` turns it off.
    ///
    /// ```no_run
    /// let mut gbm = accord_smithay::backend::GbmBackend::open("/dev/dri/card0")?;
    /// gbm.fail_export_at(Some(2));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn fail_export_at(&mut self, index: Option<u32>) {
        self.fail_export_at = index;
    }

    /// Open `path` (a card node) and create the GBM device on it.
    ///
    /// ```no_run
    /// let gbm = accord_smithay::backend::GbmBackend::open("/dev/dri/card0")?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn open(path: impl AsRef<std::path::Path>) -> std::io::Result<GbmBackend> {
        GbmBackend::new(Card::open(path)?)
    }

    fn flags(d: &Decision) -> gbm::BufferObjectFlags {
        let mut flags = gbm::BufferObjectFlags::empty();
        if d.usage.intersects(Usage::SCANOUT) {
            flags |= gbm::BufferObjectFlags::SCANOUT;
        }
        if d.usage.intersects(Usage::CURSOR) {
            flags |= gbm::BufferObjectFlags::CURSOR;
        }
        if d.usage.intersects(Usage::RENDER | Usage::SAMPLE) {
            flags |= gbm::BufferObjectFlags::RENDERING;
        }
        if d.usage.intersects(Usage::PROTECTED) {
            flags |= gbm::BufferObjectFlags::PROTECTED;
        }
        // An implicit layout (INVALID) is the driver's choice, and may be
        // tiled: with CPU usage the engine kept it as CPU-addressable, so
        // ask for linear (accord_engine's CPU rule, `solve.rs`).
        let cpu = d.usage.intersects(Usage::CPU_READ | Usage::CPU_WRITE);
        if d.modifier == MOD_LINEAR || (d.modifier == MOD_INVALID && cpu) {
            flags |= gbm::BufferObjectFlags::LINEAR;
        }
        flags
    }

    fn allocate_one(&self, d: &Decision, index: u32) -> Result<AllocatedBuffer, AllocError> {
        if d.raw {
            return Err(AllocError::Unsupported(
                "GBM makes images; raw buffers (no format) come from dumb buffers, a DMA-BUF \
                 heap, udmabuf or memfd"
                    .into(),
            ));
        }
        let format = gbm::Format::try_from(d.format)
            .map_err(|_| AllocError::Unsupported(format!("unknown fourcc {:#x}", d.format)))?;
        let flags = Self::flags(d);
        let bo = if d.modifier == MOD_INVALID || d.modifier == MOD_LINEAR {
            self.device
                .create_buffer_object::<()>(d.width, d.height, format, flags)
        } else {
            self.device.create_buffer_object_with_modifiers2::<()>(
                d.width,
                d.height,
                format,
                std::iter::once(gbm::Modifier::from(d.modifier)),
                flags,
            )
        }
        .map_err(|e| self.error("gbm_bo_create", e))?;
        let mut planes = Vec::new();
        for p in 0..bo.plane_count() as i32 {
            // SAFETY: on a DRM device GBM's handle union holds the GEM handle.
            let raw = unsafe { bo.handle_for_plane(p).u32_ };
            let handle = smithay::reexports::drm::control::from_u32(raw)
                .ok_or_else(|| AllocError::DeviceLost("GBM returned GEM handle 0".into()))?;
            let fd = if self.fail_export_at == Some(index) {
                Err(injected_enomem())
            } else {
                self.card.buffer_to_prime_fd(handle, CLOEXEC | RDWR)
            }
            .map_err(|e| self.error("PRIME export", e))?;
            planes.push(AllocatedPlane {
                fd,
                offset: u64::from(bo.offset(p)),
                stride: bo.stride_for_plane(p),
            });
        }
        let size_bytes = dmabuf_size(&planes[0].fd)?;
        // gbm_bo_create without modifiers reports INVALID; with the LINEAR
        // flag the layout is linear nonetheless.
        let mut modifier = u64::from(bo.modifier());
        if modifier == MOD_INVALID && d.modifier == MOD_LINEAR {
            modifier = MOD_LINEAR;
        }
        Ok(AllocatedBuffer {
            planes,
            size_bytes,
            modifier,
        })
        // `bo` drops here; the exported dma-bufs keep the memory alive.
    }

    fn error(&self, what: &str, e: std::io::Error) -> AllocError {
        let msg = format!("{what} on {}: {e}", self.card.path().display());
        if e.raw_os_error() == Some(rustix::io::Errno::NOMEM.raw_os_error()) {
            AllocError::OutOfMemory(msg)
        } else {
            AllocError::Unsupported(msg)
        }
    }
}

impl CollectionAllocator for GbmBackend {
    fn name(&self) -> String {
        match self.fail_export_at {
            None => format!("gbm:{}", self.card.path().display()),
            Some(i) => format!(
                "gbm:{} (export of buffer {i} fails, injected)",
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
            ..Source::of_kind(SourceKind::Gbm, None, super::device_ids(self.card.path()))
        }
    }

    fn allocate(&mut self, decision: &Decision) -> Result<Vec<AllocatedBuffer>, AllocError> {
        allocate_each(decision, false, |i| self.allocate_one(decision, i))
    }
}
