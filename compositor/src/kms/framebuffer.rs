//! KMS framebuffers over dma-bufs: PRIME import of each plane's fd, then
//! `AddFB2`, with an explicit modifier only where the device takes
//! modifiers. One piece of code for the `TEST_ONLY` confirmation and for a
//! compositor's direct scanout of client buffers.

use std::os::fd::BorrowedFd;

use accord_engine::{MOD_INVALID, MOD_LINEAR};
use smithay::reexports::drm::buffer::{self, DrmFourcc, DrmModifier, PlanarBuffer};
use smithay::reexports::drm::control::{framebuffer, Device as ControlDevice, FbCmd2Flags};

use super::Rejected;

/// One plane of a dma-buf buffer.
#[derive(Clone, Copy, Debug)]
pub struct DmabufPlane<'a> {
    pub fd: BorrowedFd<'a>,
    pub offset: u64,
    pub stride: u32,
}

/// The framebuffer description AddFB2 takes.
struct Fb {
    size: (u32, u32),
    format: DrmFourcc,
    modifier: Option<DrmModifier>,
    handles: [Option<buffer::Handle>; 4],
    pitches: [u32; 4],
    offsets: [u32; 4],
}

impl PlanarBuffer for Fb {
    fn size(&self) -> (u32, u32) {
        self.size
    }
    fn format(&self) -> DrmFourcc {
        self.format
    }
    fn modifier(&self) -> Option<DrmModifier> {
        self.modifier
    }
    fn pitches(&self) -> [u32; 4] {
        self.pitches
    }
    fn handles(&self) -> [Option<buffer::Handle>; 4] {
        self.handles
    }
    fn offsets(&self) -> [u32; 4] {
        self.offsets
    }
}

/// Adds a framebuffer of `size` and `format` (a fourcc) over `planes`.
///
/// `modifier` is [`MOD_INVALID`] for an implicit layout. On a device without
/// `ADDFB2_MODIFIERS` (`supports_modifiers == false`), LINEAR is passed as
/// implicit (a dumb or linear buffer's own layout) and any other explicit
/// modifier is refused. A plane the device cannot import (another device's
/// memory: ENODEV) fails at stage "import"; on any error the GEM handles
/// made so far are closed. On success the caller owns the framebuffer
/// (`destroy_framebuffer`) and the GEM handles (`close_buffer`, each once).
/// Keeping a handle open while the framebuffer is shown keeps the kernel's
/// link from the buffer to the client's dma-buf, so exporting the shown
/// buffer again yields that same dma-buf.
pub fn add_dmabuf_framebuffer(
    device: &impl ControlDevice,
    supports_modifiers: bool,
    size: (u32, u32),
    format: u32,
    modifier: u64,
    planes: &[DmabufPlane<'_>],
) -> Result<DmabufFramebuffer, Rejected> {
    let rejected = |stage, message: String| Rejected { stage, message };
    let format = DrmFourcc::try_from(format)
        .map_err(|_| rejected("addfb2", format!("unknown fourcc {format:#x}")))?;
    if planes.is_empty() || planes.len() > 4 {
        return Err(rejected("addfb2", format!("{} planes", planes.len())));
    }
    let mut fb = Fb {
        size,
        format,
        modifier: None,
        handles: [None; 4],
        pitches: [0; 4],
        offsets: [0; 4],
    };
    let mut flags = FbCmd2Flags::empty();
    if modifier != MOD_INVALID {
        if supports_modifiers {
            fb.modifier = Some(DrmModifier::from(modifier));
            flags |= FbCmd2Flags::MODIFIERS;
        } else if modifier != MOD_LINEAR {
            return Err(rejected(
                "addfb2",
                format!("modifier {modifier:#x} on a device without ADDFB2_MODIFIERS"),
            ));
        }
    }
    let mut imported: Vec<buffer::Handle> = Vec::with_capacity(planes.len());
    let result = (|| {
        for (i, plane) in planes.iter().enumerate() {
            let handle = device
                .prime_fd_to_buffer(plane.fd)
                .map_err(|e| rejected("import", e.to_string()))?;
            // Planes sharing one dma-buf import to the same handle: close it once.
            if !imported.contains(&handle) {
                imported.push(handle);
            }
            fb.handles[i] = Some(handle);
            fb.pitches[i] = plane.stride;
            fb.offsets[i] = u32::try_from(plane.offset).map_err(|_| {
                rejected(
                    "addfb2",
                    format!("plane {i} offset {} beyond u32", plane.offset),
                )
            })?;
        }
        device
            .add_planar_framebuffer(&fb, flags)
            .map_err(|e| rejected("addfb2", e.to_string()))
    })();
    match result {
        Ok(fb) => Ok(DmabufFramebuffer {
            fb,
            handles: imported,
        }),
        Err(err) => {
            for handle in imported {
                let _ = device.close_buffer(handle);
            }
            Err(err)
        }
    }
}

/// A framebuffer made by [`add_dmabuf_framebuffer`] and its GEM handles
/// (distinct; close each once after removing the framebuffer).
#[derive(Debug)]
pub struct DmabufFramebuffer {
    pub fb: framebuffer::Handle,
    pub handles: Vec<buffer::Handle>,
}
