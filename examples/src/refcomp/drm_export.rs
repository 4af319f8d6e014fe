//! Framebuffers for the DRM compositor: the swapchain's dumb buffers, and
//! client dma-bufs imported with PRIME, so a client buffer can go on a plane
//! as it is (direct scanout).
//!
//! Smithay's dumb exporter refuses every `wl_buffer`; its GBM exporter
//! imports through Mesa and refuses implicit-modifier client buffers, the
//! only kind a device without `ADDFB2_MODIFIERS` really has. PRIME import +
//! `AddFB2` needs no Mesa and takes both LINEAR and implicit buffers.

use std::os::fd::AsFd;

use smithay::{
    backend::{
        allocator::{dumb::DumbBuffer, format::get_opaque, Buffer as _, Fourcc, Modifier},
        drm::{
            dumb::{framebuffer_from_dumb_buffer, DumbFramebuffer},
            exporter::{ExportBuffer, ExportFramebuffer},
            DrmDeviceFd, Framebuffer,
        },
    },
    reexports::drm::{
        buffer::{Handle as GemHandle, PlanarBuffer},
        control::{framebuffer, Device as _, FbCmd2Flags},
    },
    wayland::dmabuf::get_dmabuf,
};
use tracing::{debug, warn};

/// Exports swapchain dumb buffers and client dma-bufs as KMS framebuffers.
#[derive(Debug, Clone)]
pub struct PrimeExporter {
    /// `DRM_CAP_ADDFB2_MODIFIERS`: without it only implicit layouts exist,
    /// and LINEAR is passed as implicit.
    modifiers: bool,
}

impl PrimeExporter {
    pub fn new(supports_modifiers: bool) -> Self {
        Self {
            modifiers: supports_modifiers,
        }
    }
}

/// A framebuffer on either kind of buffer; removed from KMS on drop.
#[derive(Debug)]
pub enum SceneFramebuffer {
    Swapchain(DumbFramebuffer),
    Client(ClientFramebuffer),
}

impl AsRef<framebuffer::Handle> for SceneFramebuffer {
    fn as_ref(&self) -> &framebuffer::Handle {
        match self {
            SceneFramebuffer::Swapchain(fb) => fb.as_ref(),
            SceneFramebuffer::Client(fb) => &fb.fb,
        }
    }
}

impl Framebuffer for SceneFramebuffer {
    fn format(&self) -> smithay::backend::allocator::Format {
        match self {
            SceneFramebuffer::Swapchain(fb) => fb.format(),
            SceneFramebuffer::Client(fb) => fb.format,
        }
    }
}

/// A KMS framebuffer over a client's dma-buf.
#[derive(Debug)]
pub struct ClientFramebuffer {
    fb: framebuffer::Handle,
    format: smithay::backend::allocator::Format,
    drm: DrmDeviceFd,
}

impl Drop for ClientFramebuffer {
    fn drop(&mut self) {
        if let Err(err) = self.drm.destroy_framebuffer(self.fb) {
            warn!(fb = ?self.fb, %err, "cannot remove a client framebuffer");
        }
    }
}

/// Why a framebuffer could not be made.
#[derive(Debug)]
pub struct ExportError(String);

impl std::fmt::Display for ExportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ExportError {}

/// The `AddFB2` description of an imported dma-buf.
struct Planar {
    size: (u32, u32),
    format: Fourcc,
    modifier: Option<Modifier>,
    handles: [Option<GemHandle>; 4],
    pitches: [u32; 4],
    offsets: [u32; 4],
}

impl PlanarBuffer for Planar {
    fn size(&self) -> (u32, u32) {
        self.size
    }
    fn format(&self) -> Fourcc {
        self.format
    }
    fn modifier(&self) -> Option<Modifier> {
        self.modifier
    }
    fn pitches(&self) -> [u32; 4] {
        self.pitches
    }
    fn handles(&self) -> [Option<GemHandle>; 4] {
        self.handles
    }
    fn offsets(&self) -> [u32; 4] {
        self.offsets
    }
}

impl PrimeExporter {
    /// `Ok(None)`: this buffer cannot be scanned out here (not a dma-buf,
    /// another device's memory, a layout the device cannot be told); the
    /// compositor then composes it instead.
    fn client_framebuffer(
        &self,
        drm: &DrmDeviceFd,
        buffer: &smithay::reexports::wayland_server::protocol::wl_buffer::WlBuffer,
        use_opaque: bool,
    ) -> Result<Option<ClientFramebuffer>, ExportError> {
        let Ok(dmabuf) = get_dmabuf(buffer) else {
            return Ok(None);
        };
        let format = dmabuf.format();
        let modifier = match format.modifier {
            Modifier::Invalid => None,
            m if self.modifiers => Some(m),
            // Without modifier support the layout must be the device's implicit
            // one; only LINEAR is known to be that for dumb-style buffers.
            Modifier::Linear => None,
            other => {
                debug!(?other, "device takes no modifiers; composing instead");
                return Ok(None);
            }
        };
        let (w, h) = (dmabuf.width(), dmabuf.height());
        let mut planar = Planar {
            size: (w, h),
            format: if use_opaque {
                get_opaque(format.code).unwrap_or(format.code)
            } else {
                format.code
            },
            modifier,
            handles: [None; 4],
            pitches: [0; 4],
            offsets: [0; 4],
        };
        let mut imported = Vec::with_capacity(4);
        let mut result = Ok(());
        for (i, ((fd, offset), stride)) in dmabuf
            .handles()
            .zip(dmabuf.offsets())
            .zip(dmabuf.strides())
            .enumerate()
            .take(4)
        {
            match drm.prime_fd_to_buffer(fd.as_fd()) {
                Ok(handle) => {
                    imported.push(handle);
                    planar.handles[i] = Some(handle);
                    planar.pitches[i] = stride;
                    planar.offsets[i] = offset;
                }
                Err(err) => {
                    // E.g. ENODEV: a dma-buf of another device (vgem) does not
                    // import into this one.
                    result = Err(err);
                    break;
                }
            }
        }
        let flags = if modifier.is_some() {
            FbCmd2Flags::MODIFIERS
        } else {
            FbCmd2Flags::empty()
        };
        let added = result.and_then(|()| drm.add_planar_framebuffer(&planar, flags));
        // The framebuffer holds its own references to the GEM objects; the
        // handles are not needed past AddFB2. (PRIME import of one dma-buf
        // returns the same handle each time, so close each one once.)
        imported.sort_unstable_by_key(|h| u32::from(*h));
        imported.dedup();
        for handle in imported {
            let _ = drm.close_buffer(handle);
        }
        match added {
            Ok(fb) => Ok(Some(ClientFramebuffer {
                fb,
                // What KMS was told: an fb added without modifiers has an
                // implicit one, which is how planes without IN_FORMATS list
                // their formats.
                format: smithay::backend::allocator::Format {
                    code: planar.format,
                    modifier: modifier.unwrap_or(Modifier::Invalid),
                },
                drm: drm.clone(),
            })),
            Err(err) => {
                debug!(%err, "client dma-buf is not a framebuffer here; composing instead");
                Ok(None)
            }
        }
    }
}

impl ExportFramebuffer<DumbBuffer> for PrimeExporter {
    type Framebuffer = SceneFramebuffer;
    type Error = ExportError;

    fn add_framebuffer(
        &self,
        drm: &DrmDeviceFd,
        buffer: ExportBuffer<'_, DumbBuffer>,
        use_opaque: bool,
    ) -> Result<Option<SceneFramebuffer>, ExportError> {
        match buffer {
            ExportBuffer::Allocator(dumb) => framebuffer_from_dumb_buffer(drm, dumb, use_opaque)
                .map(|fb| Some(SceneFramebuffer::Swapchain(fb)))
                .map_err(|e| ExportError(format!("swapchain framebuffer: {e}"))),
            ExportBuffer::Wayland(buffer) => Ok(self
                .client_framebuffer(drm, buffer, use_opaque)?
                .map(SceneFramebuffer::Client)),
        }
    }

    fn can_add_framebuffer(&self, buffer: &ExportBuffer<'_, DumbBuffer>) -> bool {
        match buffer {
            ExportBuffer::Allocator(_) => true,
            ExportBuffer::Wayland(buffer) => get_dmabuf(buffer).is_ok(),
        }
    }
}
