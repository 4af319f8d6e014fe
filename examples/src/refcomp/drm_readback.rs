//! Reads what a KMS plane shows: the plane's `FB_ID` → `GETFB2` → PRIME
//! export of its buffer → mmap. This reads the very memory the display
//! scans out, whichever buffer that is (a swapchain buffer or a client's).
//! `GETFB2` hands out buffer handles only to the DRM master or root.

use std::os::fd::{AsFd, OwnedFd};

use smithay::reexports::drm::{
    buffer::DrmFourcc,
    control::{
        framebuffer::{self, PlanarInfo},
        plane, Device as ControlDevice,
    },
    CLOEXEC, RDWR,
};

use super::{Error, Screenshot};

/// The framebuffer a plane scans out now, with its memory as a dma-buf.
#[derive(Debug)]
pub struct ScannedOut {
    pub framebuffer: u32,
    pub format: DrmFourcc,
    pub width: u32,
    pub height: u32,
    pub pitch: u32,
    pub offset: u32,
    /// The buffer's dma-buf. A client's dma-buf keeps its identity through
    /// import and export: `fstat(..).st_ino` equals the client's fd's.
    pub dmabuf: OwnedFd,
}

/// Looks up the framebuffer `plane` shows and exports its first buffer.
pub fn scanned_out(card: &impl ControlDevice, plane: plane::Handle) -> Result<ScannedOut, Error> {
    let (fb, planar) = plane_framebuffer(card, plane)?;
    let exported = match planar.buffers()[0] {
        Some(handle) => card.buffer_to_prime_fd(handle, CLOEXEC | RDWR),
        None => {
            close_handles(card, &planar);
            return Err(
                "GETFB2 returned no buffer handle (it needs DRM master or CAP_SYS_ADMIN): run as root"
                    .into(),
            );
        }
    };
    close_handles(card, &planar);
    let (width, height) = planar.size();
    Ok(ScannedOut {
        framebuffer: u32::from(fb),
        format: planar.pixel_format(),
        width,
        height,
        pitch: planar.pitches()[0],
        offset: planar.offsets()[0],
        dmabuf: exported.map_err(|e| format!("PRIME export of the scanned-out buffer: {e}"))?,
    })
}

/// The pixel format of the framebuffer `plane` shows: what KMS was told,
/// whichever buffer is behind it.
pub fn framebuffer_format(
    card: &impl ControlDevice,
    plane: plane::Handle,
) -> Result<DrmFourcc, Error> {
    let (_, planar) = plane_framebuffer(card, plane)?;
    close_handles(card, &planar);
    Ok(planar.pixel_format())
}

fn plane_framebuffer(
    card: &impl ControlDevice,
    plane: plane::Handle,
) -> Result<(framebuffer::Handle, PlanarInfo), Error> {
    let info = card.get_plane(plane)?;
    let fb = info
        .framebuffer()
        .ok_or_else(|| format!("plane {plane:?} shows no framebuffer"))?;
    let planar = card
        .get_planar_framebuffer(fb)
        .map_err(|e| format!("GETFB2 on framebuffer {fb:?}: {e:?}"))?;
    Ok((fb, planar))
}

/// GETFB2 made new handles (for DRM master or root); close each once
/// (planes may share one).
fn close_handles(card: &impl ControlDevice, planar: &PlanarInfo) {
    let mut unique: Vec<_> = planar.buffers().iter().flatten().copied().collect();
    unique.sort_unstable_by_key(|h| u32::from(*h));
    unique.dedup();
    for h in unique {
        let _ = card.close_buffer(h);
    }
}

impl ScannedOut {
    /// The pixels as RGBA8 (32-bit XRGB/ARGB framebuffers only).
    pub fn read_rgba(&self) -> Result<Screenshot, Error> {
        if !matches!(self.format, DrmFourcc::Xrgb8888 | DrmFourcc::Argb8888) {
            return Err(format!("cannot read a {:?} framebuffer back", self.format).into());
        }
        let row = u64::from(self.width) * 4;
        let len = u64::from(self.offset) + u64::from(self.pitch) * u64::from(self.height);
        if u64::from(self.pitch) < row || self.height == 0 {
            return Err(format!("framebuffer pitch {} below {row}", self.pitch).into());
        }
        let size = rustix::fs::fstat(&self.dmabuf)?.st_size as u64;
        let map_len = if size >= len { size } else { len };
        let len = usize::try_from(map_len)?;
        // SAFETY: a fresh shared read-only mapping of a dma-buf we own,
        // unmapped below; nothing else aliases it in this process as a slice.
        let ptr = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                len,
                rustix::mm::ProtFlags::READ,
                rustix::mm::MapFlags::SHARED,
                self.dmabuf.as_fd(),
                0,
            )?
        };
        // SAFETY: `ptr` maps `len` readable bytes until the munmap below.
        let bytes = unsafe { std::slice::from_raw_parts(ptr as *const u8, len) };
        let mut rgba = Vec::with_capacity((row * u64::from(self.height)) as usize);
        for y in 0..self.height as usize {
            let start = self.offset as usize + y * self.pitch as usize;
            for px in bytes[start..start + row as usize].chunks_exact(4) {
                // XRGB8888 is B, G, R, X in memory.
                rgba.extend_from_slice(&[px[2], px[1], px[0], 0xff]);
            }
        }
        // SAFETY: unmapping exactly what was mapped; `bytes` is not used after.
        unsafe { rustix::mm::munmap(ptr, len)? };
        Ok(Screenshot {
            width: self.width,
            height: self.height,
            rgba,
        })
    }
}
