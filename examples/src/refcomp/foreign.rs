//! Client buffers Smithay's renderer does not know, drawn zero-copy.
//!
//! Smithay renders `wl_shm` and linux-dmabuf buffers; any other `wl_buffer`
//! (Accord's memfd-backed buffers, whose memory is not a dma-buf and whose
//! user data is not smithay's shm data) has no dimensions for smithay, which
//! then drops it from the surface without drawing or releasing it. A
//! [`ForeignBuffers`] implementation claims such buffers: the compositor keeps
//! them per surface, releases them when replaced, and draws them: Pixman by
//! wrapping their mapped bytes in an image (no copy), GLES from a texture
//! uploaded once per commit (a copy, counted in `bytes_copied`; see
//! `renderer.rs`).
//!
//! A `wp_viewport` applies to them as to smithay's buffers: smithay checks
//! the source rectangle only for buffers it imported, so [`on_commit`]
//! checks it here against the foreign buffer's size (a protocol error if it
//! extends outside), and [`element`] draws the source rectangle scaled to
//! the destination size, after the buffer scale and transform (as smithay's
//! `SurfaceView` does for its own buffers).

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
};

use smithay::{
    backend::{
        allocator::Fourcc,
        renderer::{
            element::{Element, Id, RenderElement},
            pixman::PixmanError,
            utils::CommitCounter,
            Renderer,
        },
    },
    reexports::{
        pixman::{FormatCode, Image},
        wayland_server::{
            protocol::wl_buffer::WlBuffer, protocol::wl_surface::WlSurface, Resource,
        },
    },
    utils::{Buffer as BufferCoords, Physical, Point, Rectangle, Scale, Size, Transform},
    wayland::{
        compositor::{with_states, BufferAssignment, SurfaceAttributes, SurfaceData},
        viewporter::{ensure_viewport_valid, ViewportCachedState},
    },
};
use tracing::warn;

use super::{renderer::FrameRenderer, Counters};

/// Largest width or height drawn (Pixman takes `int` sizes).
pub const MAX_SIDE: u32 = 16384;

/// Where the pixels of a foreign buffer are, in the bytes handed to
/// [`ForeignBuffers::with_pixels`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForeignLayout {
    /// DRM fourcc; 32-bit formats Pixman knows (XRGB8888, ARGB8888, ...).
    pub fourcc: u32,
    pub width: u32,
    pub height: u32,
    pub offset: usize,
    pub stride: usize,
}

/// Claims `wl_buffer`s that Smithay cannot import and lends their pixels.
pub trait ForeignBuffers {
    /// Whether `buffer` is one of yours.
    fn claims(&self, buffer: &WlBuffer) -> bool;

    /// Calls `f` with the buffer's bytes (a mapping, not a copy) and layout;
    /// returns false if the buffer is not yours or cannot be mapped.
    fn with_pixels(&self, buffer: &WlBuffer, f: &mut dyn FnMut(&[u8], ForeignLayout)) -> bool;
}

/// The foreign buffer a surface shows; kept in the surface's data map.
#[derive(Default)]
pub(crate) struct ForeignSurface(Mutex<Option<Attached>>);

#[derive(Clone)]
struct Attached {
    buffer: WlBuffer,
    size: Size<i32, BufferCoords>,
    /// The part of the buffer shown (the viewport's source, else all).
    src: Rectangle<f64, BufferCoords>,
    /// The size it is shown at (the viewport's destination, else the
    /// surface's size after the buffer scale).
    dst: Size<i32, Physical>,
    transform: Transform,
    id: Id,
    commit: CommitCounter,
    /// Whether this commit was composited yet (counted once as shown).
    shown: Arc<AtomicBool>,
}

/// Handles a commit before smithay's buffer handler: a claimed buffer is
/// taken out of smithay's view (as if detached, so smithay releases its own
/// previous buffer) and kept here; the previous foreign buffer is released
/// when another one replaces it.
pub(crate) fn on_commit(hook: &dyn ForeignBuffers, surface: &WlSurface) {
    with_states(surface, |states| {
        let slot = states
            .data_map
            .get_or_insert_threadsafe(ForeignSurface::default);
        let mut attached = slot.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut guard = states.cached_state.get::<SurfaceAttributes>();
        let attrs = guard.current();
        match &attrs.buffer {
            Some(BufferAssignment::NewBuffer(buffer)) if hook.claims(buffer) => {
                let buffer = buffer.clone();
                attrs.buffer = Some(BufferAssignment::Removed);
                let mut size = None;
                hook.with_pixels(&buffer, &mut |_, layout| {
                    let side = 1..=MAX_SIDE;
                    if side.contains(&layout.width) && side.contains(&layout.height) {
                        size = Some(Size::from((layout.width as i32, layout.height as i32)));
                    }
                });
                let previous = attached.take();
                let (id, mut commit) = match &previous {
                    Some(p) => (p.id.clone(), p.commit),
                    None => (Id::new(), CommitCounter::default()),
                };
                if let Some(p) = previous.filter(|p| p.buffer != buffer) {
                    p.buffer.release();
                }
                commit.increment();
                match size {
                    Some(size) => {
                        *attached = Some(Attached {
                            buffer,
                            size,
                            src: Rectangle::from_size(size.to_f64()),
                            dst: (size.w, size.h).into(),
                            transform: Transform::Normal,
                            id,
                            commit,
                            shown: Arc::default(),
                        })
                    }
                    None => {
                        warn!(buffer = ?buffer.id(), "foreign buffer unmappable or too big; not shown");
                        buffer.release();
                    }
                }
            }
            Some(_) => {
                // A smithay buffer or a detach replaces the foreign buffer.
                if let Some(p) = attached.take() {
                    p.buffer.release();
                }
            }
            // Same buffer, new damage: its memory may have changed.
            None => {
                if let Some(a) = attached.as_mut() {
                    a.commit.increment();
                    a.shown = Arc::default();
                }
            }
        }
        let (scale, transform) = (attrs.buffer_scale.max(1), attrs.buffer_transform.into());
        drop(guard);
        // The viewport is double-buffered state of this same commit.
        if let Some(a) = attached.as_mut() {
            let surface_size = a.size.to_logical(scale, transform);
            a.transform = transform;
            (a.src, a.dst) = if ensure_viewport_valid(states, surface_size) {
                let mut viewport = states.cached_state.get::<ViewportCachedState>();
                view(a.size, scale, transform, viewport.current())
            } else {
                // A protocol error was posted: the client is going away.
                view(a.size, scale, transform, &ViewportCachedState::default())
            };
        }
    });
}

/// The source rectangle (buffer coordinates) and destination size of a
/// buffer of `size` shown at `scale` and `transform` under `viewport`
/// (checked to lie inside the surface): the source is the viewport's, else
/// the whole surface; the destination is the viewport's, else the source's
/// size, else the surface's. The output has scale 1.
fn view(
    size: Size<i32, BufferCoords>,
    scale: i32,
    transform: Transform,
    viewport: &ViewportCachedState,
) -> (Rectangle<f64, BufferCoords>, Size<i32, Physical>) {
    let surface_size = size.to_logical(scale, transform);
    let src = viewport
        .src
        .unwrap_or_else(|| Rectangle::from_size(surface_size.to_f64()));
    let dst = viewport.size().unwrap_or(surface_size);
    let src = src.to_buffer(f64::from(scale), transform, &surface_size.to_f64());
    (src, (dst.w, dst.h).into())
}

/// The render element id of the foreign buffer a surface shows, if any.
pub(crate) fn element_id(states: &SurfaceData) -> Option<Id> {
    let slot = states.data_map.get::<ForeignSurface>()?;
    let guard = slot.0.lock().unwrap_or_else(|e| e.into_inner());
    guard.as_ref().map(|a| a.id.clone())
}

/// Prepared foreign buffers by element, so GLES uploads a commit once
/// however many frames draw it.
pub struct ForeignCache<F> {
    entries: HashMap<Id, (CommitCounter, F)>,
}

impl<F> Default for ForeignCache<F> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
        }
    }
}

impl<F> ForeignCache<F> {
    /// Forgets the elements not in `live` (surfaces gone or replaced).
    pub fn retain(&mut self, live: &[Id]) {
        self.entries.retain(|id, _| live.contains(id));
    }
}

/// The element drawing `surface`'s foreign buffer at `location`, if any,
/// its commit prepared by `renderer` (once per commit, through `cache`).
pub(crate) fn element<R: FrameRenderer>(
    renderer: &mut R,
    cache: &mut ForeignCache<Option<R::TextureId>>,
    hook: &Arc<dyn ForeignBuffers>,
    counters: &Arc<Counters>,
    surface: &WlSurface,
    location: Point<i32, Physical>,
) -> Option<ForeignElement<R>> {
    let attached = with_states(surface, |states| {
        let slot = states.data_map.get::<ForeignSurface>()?;
        let guard = slot.0.lock().unwrap_or_else(|e| e.into_inner());
        guard.clone()
    })?;
    let prepared = match cache.entries.get(&attached.id) {
        Some((commit, prepared)) if *commit == attached.commit => prepared.clone(),
        _ => {
            let mut result = None;
            hook.with_pixels(&attached.buffer, &mut |bytes, layout| {
                result = Some(renderer.prepare_foreign(bytes, layout));
            });
            match result? {
                Ok((prepared, copied)) => {
                    counters.add_bytes_copied(copied);
                    cache
                        .entries
                        .insert(attached.id.clone(), (attached.commit, prepared.clone()));
                    prepared
                }
                Err(err) => {
                    warn!(%err, buffer = ?attached.buffer.id(), "foreign buffer not drawn");
                    return None;
                }
            }
        }
    };
    Some(ForeignElement {
        hook: hook.clone(),
        counters: counters.clone(),
        attached,
        location,
        prepared,
    })
}

/// Draws one foreign buffer at its surface's place, cropped and scaled as
/// its viewport says.
pub struct ForeignElement<R: Renderer> {
    hook: Arc<dyn ForeignBuffers>,
    counters: Arc<Counters>,
    attached: Attached,
    location: Point<i32, Physical>,
    /// The commit's texture, where the renderer uploads (`renderer.rs`).
    prepared: Option<R::TextureId>,
}

impl<R: Renderer> Element for ForeignElement<R> {
    fn id(&self) -> &Id {
        &self.attached.id
    }

    fn current_commit(&self) -> CommitCounter {
        self.attached.commit
    }

    fn src(&self) -> Rectangle<f64, BufferCoords> {
        self.attached.src
    }

    fn geometry(&self, _scale: Scale<f64>) -> Rectangle<i32, Physical> {
        Rectangle::new(self.location, self.attached.dst)
    }
}

impl<R: FrameRenderer> RenderElement<R> for ForeignElement<R> {
    fn draw(
        &self,
        frame: &mut R::Frame<'_, '_>,
        src: Rectangle<f64, BufferCoords>,
        dst: Rectangle<i32, Physical>,
        damage: &[Rectangle<i32, Physical>],
        opaque_regions: &[Rectangle<i32, Physical>],
    ) -> Result<(), R::Error> {
        let (hook, buffer) = (&self.hook, &self.attached.buffer);
        R::draw_foreign(
            frame,
            self.prepared.as_ref(),
            &mut |f| hook.with_pixels(buffer, f),
            src,
            dst,
            damage,
            opaque_regions,
            self.attached.transform,
        )?;
        if !self.attached.shown.swap(true, Ordering::Relaxed) {
            self.counters.foreign_frame_shown();
        }
        Ok(())
    }
}

/// The formats the GLES path uploads foreign buffers in (32-bit RGB that
/// smithay's GLES `import_memory` takes), as DRM fourccs.
pub const UPLOADED_FORMATS: [u32; 4] = [
    u32::from_le_bytes(*b"XR24"),
    u32::from_le_bytes(*b"AR24"),
    u32::from_le_bytes(*b"XB24"),
    u32::from_le_bytes(*b"AB24"),
];

/// Whether foreign buffers of DRM format `fourcc` can be drawn.
pub fn drawable(fourcc: u32) -> bool {
    format_32(fourcc).is_ok()
}

/// The Pixman format of a 32-bit-per-pixel DRM format.
fn format_32(fourcc: u32) -> Result<FormatCode, PixmanError> {
    let fourcc = Fourcc::try_from(fourcc).map_err(|_| PixmanError::ImportFailed)?;
    let format =
        FormatCode::try_from(fourcc).map_err(|_| PixmanError::UnsupportedPixelFormat(fourcc))?;
    if FormatCode::bpp(format) != 32 {
        return Err(PixmanError::UnsupportedPixelFormat(fourcc));
    }
    Ok(format)
}

/// A Pixman image over `bytes`, after checking the client's layout against
/// them: a bad layout is an error, never an out-of-bounds read.
pub(crate) fn wrap(
    bytes: &[u8],
    layout: ForeignLayout,
) -> Result<Image<'static, 'static>, PixmanError> {
    let format = format_32(layout.fourcc)?;
    let (w, h) = (layout.width as usize, layout.height as usize);
    let row = w.checked_mul(4).ok_or(PixmanError::ImportFailed)?;
    let needed = layout
        .stride
        .checked_mul(h.saturating_sub(1))
        .and_then(|n| n.checked_add(row))
        .and_then(|n| n.checked_add(layout.offset));
    let fits = needed.is_some_and(|n| n <= bytes.len());
    let start = bytes.as_ptr().wrapping_add(layout.offset);
    if !(1..=MAX_SIDE).contains(&layout.width)
        || !(1..=MAX_SIDE).contains(&layout.height)
        || layout.stride < row
        || layout.stride & 3 != 0
        || !fits
        || start.align_offset(4) != 0
    {
        return Err(PixmanError::IncompleteBuffer {
            expected: needed.unwrap_or(usize::MAX),
            actual: bytes.len(),
        });
    }
    // SAFETY: the checks above keep every row inside `bytes`; the image is
    // only read (a composite source) and dropped before `bytes` is unmapped.
    unsafe { Image::from_raw_mut(format, w, h, start as *mut u32, layout.stride, false) }
        .map_err(|_| PixmanError::ImportFailed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const XR24: u32 = u32::from_le_bytes(*b"XR24");

    fn layout(width: u32, height: u32, offset: usize, stride: usize) -> ForeignLayout {
        ForeignLayout {
            fourcc: XR24,
            width,
            height,
            offset,
            stride,
        }
    }

    #[test]
    fn wrap_accepts_an_exact_fit() {
        let bytes = vec![0u32; 4 + 8 * 2]; // u32 storage: 4-byte aligned
        let bytes: &[u8] = bytemuck_cast(&bytes);
        // offset 16, 2 rows of stride 32, the last row 8 px wide: 16 + 32 + 32 = 80
        assert!(wrap(bytes, layout(8, 2, 16, 32)).is_ok());
    }

    #[test]
    fn wrap_rejects_bad_layouts() {
        let storage = vec![0u32; 64];
        let bytes: &[u8] = bytemuck_cast(&storage); // 256 bytes
        for (what, l) in [
            ("zero width", layout(0, 1, 0, 4)),
            (
                "too wide",
                layout(MAX_SIDE + 1, 1, 0, 4 * (MAX_SIDE as usize + 1)),
            ),
            ("stride below a row", layout(8, 2, 0, 28)),
            ("unaligned stride", layout(8, 2, 0, 34)),
            ("unaligned offset", layout(8, 2, 2, 32)),
            ("past the end", layout(8, 8, 32, 32)),
            ("offset overflow", layout(1, 1, usize::MAX - 2, 4)),
            ("stride overflow", layout(1, 3, 0, usize::MAX / 2)),
        ] {
            assert!(wrap(bytes, l).is_err(), "{what} accepted");
        }
        let nv12 = ForeignLayout {
            fourcc: u32::from_le_bytes(*b"NV12"),
            ..layout(8, 2, 0, 32)
        };
        assert!(wrap(bytes, nv12).is_err(), "a 2-plane format accepted");
    }

    fn bytemuck_cast(words: &[u32]) -> &[u8] {
        // SAFETY: u32 has no padding; the length is scaled to bytes.
        unsafe { std::slice::from_raw_parts(words.as_ptr().cast(), words.len() * 4) }
    }
}
