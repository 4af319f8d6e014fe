//! `wl_buffer`s made by `get_wl_buffer`, with no second import.
//!
//! - dma-buf memory: the `wl_buffer` carries a smithay [`Dmabuf`](smithay::backend::allocator::dmabuf::Dmabuf) as its user
//!   data, exactly like one imported through linux-dmabuf, so every Smithay
//!   renderer (Pixman mmaps it, GLES imports it through EGL) and the DRM
//!   compositor's direct scanout take it unchanged. Your state must
//!   therefore also `delegate_dmabuf!`, and its `BufferHandler` call
//!   [`BufferCollectionState::wl_buffer_destroyed`](crate::BufferCollectionState::wl_buffer_destroyed):
//!   the module holds the allocation for each such `wl_buffer` until then.
//!   All `wl_buffer`s of one buffer share one `Dmabuf` (one set of fds).
//! - memfd memory: a memfd is not a dma-buf. Smithay's Pixman import of a
//!   `Dmabuf` brackets access with `DMA_BUF_IOCTL_SYNC`, which fails with
//!   `ENOTTY` on a memfd, and smithay's shm user data cannot be built
//!   outside smithay. So the `wl_buffer` carries [`MemfdBuffer`]; read it
//!   with [`with_memfd_buffer`], or upload it with [`import_memfd_buffer`]
//!   (zero-copy on the client side; one upload in the compositor). Only
//!   4-byte-per-pixel formats are uploaded by the latter.

use std::os::fd::AsFd;
use std::sync::Arc;

use smithay::backend::allocator::Fourcc;
use smithay::backend::renderer::ImportMem;
use wayland_server::protocol::wl_buffer::WlBuffer;
use wayland_server::Resource;

use crate::collections::Allocation;

/// User data of a `wl_buffer` over memfd memory: one buffer of an allocation.
///
/// ```no_run
/// # use wayland_server::Resource;
/// # fn demo(buffer: &wayland_server::protocol::wl_buffer::WlBuffer) {
/// if buffer.data::<accord_smithay::MemfdBuffer>().is_some() {
///     // an Accord memfd buffer: read it with `with_memfd_buffer`
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct MemfdBuffer {
    pub(crate) allocation: Arc<Allocation>,
    /// `usize::MAX` for a `wl_buffer` that stands for nothing (see
    /// `dispatch/collection.rs`).
    pub(crate) index: usize,
}

/// Layout of a memfd-backed `wl_buffer`, for the embedder's renderer.
///
/// ```no_run
/// # fn demo(buffer: &wayland_server::protocol::wl_buffer::WlBuffer) {
/// let info = accord_smithay::with_memfd_buffer(buffer, |_, info| info);
/// if let Some(info) = info {
///     assert!(info.stride >= info.width * 4);
/// }
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemfdBufferInfo {
    /// DRM fourcc.
    pub format: u32,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Offset of plane 0 in the mapping.
    pub offset: u64,
    /// Bytes per row.
    pub stride: u32,
}

/// Map a `wl_buffer` from `get_wl_buffer` over memfd memory read-only and
/// call `f` with its bytes and layout. `None` if the buffer is not one of
/// ours or the mapping failed.
///
/// ```no_run
/// # fn demo(buffer: &wayland_server::protocol::wl_buffer::WlBuffer) {
/// let first_pixel = accord_smithay::with_memfd_buffer(buffer, |bytes, info| {
///     bytes[info.offset as usize..][..4].to_vec()
/// });
/// # }
/// ```
pub fn with_memfd_buffer<T>(
    buffer: &WlBuffer,
    f: impl FnOnce(&[u8], MemfdBufferInfo) -> T,
) -> Option<T> {
    let data = buffer.data::<MemfdBuffer>()?;
    let a = &data.allocation;
    let b = a.buffers.get(data.index)?;
    let plane = b.planes.first()?;
    let len = usize::try_from(b.size_bytes).ok().filter(|l| *l > 0)?;
    // SAFETY: a fresh shared read-only mapping of a sealed memfd (it cannot
    // shrink under us), unmapped before returning.
    let ptr = unsafe {
        rustix::mm::mmap(
            std::ptr::null_mut(),
            len,
            rustix::mm::ProtFlags::READ,
            rustix::mm::MapFlags::SHARED,
            plane.fd.as_fd(),
            0,
        )
    }
    .ok()?;
    // SAFETY: `ptr` maps `len` readable bytes until munmap below.
    let bytes = unsafe { std::slice::from_raw_parts(ptr as *const u8, len) };
    let info = MemfdBufferInfo {
        format: a.decision.format,
        width: a.decision.width,
        height: a.decision.height,
        offset: plane.offset,
        stride: plane.stride,
    };
    let out = f(bytes, info);
    // SAFETY: unmapping exactly what was mapped; `bytes` is no longer used.
    let _ = unsafe { rustix::mm::munmap(ptr, len) };
    Some(out)
}

/// Upload a memfd-backed `wl_buffer` into a texture of any renderer with
/// `ImportMem` (Pixman, GLES): rows are packed (the stride dropped) and
/// imported. This is the one compositor-side copy memfd memory needs; the
/// buffer can be released right after. `None` if `buffer` is not a memfd
/// collection buffer, its format is unknown, or it cannot be mapped.
///
/// ```no_run
/// # fn demo(renderer: &mut smithay::backend::renderer::pixman::PixmanRenderer,
/// #         buffer: &wayland_server::protocol::wl_buffer::WlBuffer) {
/// if let Some(Ok(texture)) = accord_smithay::import_memfd_buffer(renderer, buffer) {
///     // draw `texture` like any other
/// }
/// buffer.release();
/// # }
/// ```
pub fn import_memfd_buffer<R: ImportMem>(
    renderer: &mut R,
    buffer: &WlBuffer,
) -> Option<Result<R::TextureId, R::Error>> {
    let (packed, info) = with_memfd_buffer(buffer, |bytes, info| {
        let w = usize::try_from(info.width).ok()?;
        let h = usize::try_from(info.height).ok()?;
        let stride = usize::try_from(info.stride).ok()?;
        let offset = usize::try_from(info.offset).ok()?;
        let row = w.checked_mul(4)?;
        let mut packed = Vec::with_capacity(row.checked_mul(h)?);
        for y in 0..h {
            let start = offset.checked_add(y.checked_mul(stride)?)?;
            packed.extend_from_slice(bytes.get(start..start.checked_add(row)?)?);
        }
        Some((packed, info))
    })??;
    let format = Fourcc::try_from(info.format).ok()?;
    let size = (
        i32::try_from(info.width).ok()?,
        i32::try_from(info.height).ok()?,
    );
    Some(renderer.import_memory(&packed, format, size.into(), false))
}
