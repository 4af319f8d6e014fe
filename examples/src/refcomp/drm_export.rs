//! Framebuffers for the DRM compositor: the swapchain's dumb buffers, and
//! client dma-bufs imported with PRIME, so a client buffer can go on a plane
//! as it is (direct scanout).
//!
//! Smithay's dumb exporter refuses every `wl_buffer`; its GBM exporter
//! imports through Mesa and refuses implicit-modifier client buffers, the
//! only kind a device without `ADDFB2_MODIFIERS` really has. PRIME import +
//! `AddFB2` needs no Mesa and takes both LINEAR and implicit buffers.

use accord_smithay::kms::{add_dmabuf_framebuffer, DmabufPlane};
use smithay::{
    backend::{
        allocator::{dumb::DumbBuffer, format::get_opaque, Buffer as _, Format, Modifier},
        drm::{
            dumb::{framebuffer_from_dumb_buffer, DumbFramebuffer},
            exporter::{ExportBuffer, ExportFramebuffer},
            DrmDeviceFd, Framebuffer,
        },
    },
    reexports::drm::{
        buffer::Handle as GemHandle,
        control::{framebuffer, Device as _},
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
    fn format(&self) -> Format {
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
    /// Open while the framebuffer lives: the shown buffer stays linked to
    /// the client's dma-buf (a read-back export yields that same file).
    handles: Vec<GemHandle>,
    format: Format,
    drm: DrmDeviceFd,
}

impl Drop for ClientFramebuffer {
    fn drop(&mut self) {
        if let Err(err) = self.drm.destroy_framebuffer(self.fb) {
            warn!(fb = ?self.fb, %err, "cannot remove a client framebuffer");
        }
        for handle in self.handles.drain(..) {
            let _ = self.drm.close_buffer(handle);
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
        let code = if use_opaque {
            get_opaque(format.code).unwrap_or(format.code)
        } else {
            format.code
        };
        let planes: Vec<DmabufPlane<'_>> = dmabuf
            .handles()
            .zip(dmabuf.offsets())
            .zip(dmabuf.strides())
            .map(|((fd, offset), stride)| DmabufPlane {
                fd,
                offset: u64::from(offset),
                stride,
            })
            .collect();
        let modifier = u64::from(format.modifier);
        match add_dmabuf_framebuffer(
            drm,
            self.modifiers,
            (dmabuf.width(), dmabuf.height()),
            code as u32,
            modifier,
            &planes,
        ) {
            Ok(added) => Ok(Some(ClientFramebuffer {
                fb: added.fb,
                handles: added.handles,
                // What KMS was told: an fb added without modifiers has an
                // implicit one, which is how planes without IN_FORMATS list
                // their formats.
                format: Format {
                    code,
                    modifier: if self.modifiers {
                        format.modifier
                    } else {
                        Modifier::Invalid
                    },
                },
                drm: drm.clone(),
            })),
            // E.g. a vgem dma-buf (ENODEV at import) or a vendor modifier the
            // device cannot be told: compose it instead.
            Err(rejected) => {
                debug!(%rejected, "client dma-buf is not a framebuffer here; composing instead");
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
