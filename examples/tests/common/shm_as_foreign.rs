//! A `ForeignBuffers` fixture that claims ordinary `wl_shm` buffers, so
//! that smithay's own path never sees them: any pixel of theirs on the
//! output was drawn by the foreign path (the one Accord's memfd buffers
//! take on the headless compositor).

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc,
};

use accord_examples::refcomp::{ForeignBuffers, ForeignLayout};
use smithay::{
    reexports::wayland_server::protocol::{wl_buffer::WlBuffer, wl_shm},
    wayland::shm::with_buffer_contents,
};

/// Claims every shm buffer; counts the draws it served.
pub struct ShmAsForeign {
    pub draws: Arc<AtomicUsize>,
}

impl ForeignBuffers for ShmAsForeign {
    fn claims(&self, buffer: &WlBuffer) -> bool {
        with_buffer_contents(buffer, |_, _, _| ()).is_ok()
    }

    fn with_pixels(&self, buffer: &WlBuffer, f: &mut dyn FnMut(&[u8], ForeignLayout)) -> bool {
        with_buffer_contents(buffer, |ptr, len, data| {
            let fourcc = match data.format {
                wl_shm::Format::Xrgb8888 => u32::from_le_bytes(*b"XR24"),
                wl_shm::Format::Argb8888 => u32::from_le_bytes(*b"AR24"),
                _ => return false,
            };
            // SAFETY: smithay lends the pool mapping for this call.
            let bytes = unsafe { std::slice::from_raw_parts(ptr, len) };
            let layout = ForeignLayout {
                fourcc,
                width: data.width as u32,
                height: data.height as u32,
                offset: data.offset as usize,
                stride: data.stride as usize,
            };
            self.draws.fetch_add(1, Ordering::Relaxed);
            f(bytes, layout);
            true
        })
        .unwrap_or(false)
    }
}
