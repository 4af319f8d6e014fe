//! One frame: compose the space into the target, then tell clients what was
//! shown (presentation feedback) and to draw the next (frame callbacks).
//!
//! Every element is wrapped in [`Counted`], which adds what its `draw` reads
//! of the client's buffer to `bytes_composited`: an element that is never
//! drawn (scanned out directly, or undamaged) reads nothing. A renderer that
//! uploads CPU buffers into textures (GLES) adds each upload to
//! `bytes_copied`: a `wl_shm` commit's whole buffer when the element shows
//! a new commit (smithay uploads at most that), a foreign buffer's pixels
//! once per commit (`foreign.rs`).

use std::{collections::HashMap, sync::Arc, time::Instant};

use smithay::{
    backend::drm::{DrmEventMetadata, DrmEventTime},
    backend::{
        allocator::{Buffer as _, Fourcc},
        renderer::{
            element::{
                render_elements, surface::WaylandSurfaceRenderElement, AsRenderElements, Element,
                Id, Kind, RenderElement, UnderlyingStorage,
            },
            utils::{CommitCounter, DamageSet, OpaqueRegions},
        },
    },
    desktop::{Space, Window},
    output::Output,
    reexports::{
        pixman::FormatCode,
        wayland_protocols::wp::presentation_time::server::wp_presentation_feedback::Kind as Flags,
    },
    utils::{Buffer as BufferCoords, Logical, Physical, Point, Rectangle, Scale, Transform},
    wayland::{
        dmabuf::{get_dmabuf, SurfaceDmabufFeedbackState},
        shm::{shm_format_to_fourcc, with_buffer_contents},
    },
};
use tracing::{info, warn};

use accord_engine::ColorSpace;
use smithay::reexports::wayland_server::protocol::wl_buffer::WlBuffer;

use super::{
    foreign::{self, ForeignBuffers, ForeignCache, ForeignElement},
    presentation::{self, FrameFeedback},
    renderer::FrameRenderer,
    state::RefState,
    target::{FrameOutcome, Rendered},
    yuv::{self, Conversion, YuvCache, YuvElement, YuvPlanes},
    Counters, Error, Screenshot,
};

render_elements! {
    /// What an output frame is made of.
    pub OutputElement<R> where R: FrameRenderer;
    Surface=Counted<WaylandSurfaceRenderElement<R>>,
    Foreign=Counted<ForeignElement<R>>,
    Yuv=Counted<YuvElement<R>>,
}

/// The colour space a client buffer's collection negotiated
/// (`BufferCollectionState::color_space_of`), for YUV composition.
pub type ColorSpaceOf<'a> = dyn Fn(&WlBuffer) -> Option<ColorSpace> + 'a;

/// A render element whose `draw` adds the bytes it reads from the client's
/// buffer to `bytes_composited`. Everything else is the inner element's,
/// `underlying_storage` included, so direct scanout still sees the buffer.
pub struct Counted<E> {
    inner: E,
    /// Bytes per pixel of the client buffer (4 when it cannot be told).
    bytes_per_pixel: u64,
    counters: Arc<Counters>,
}

impl<E> Counted<E> {
    pub fn new(inner: E, bytes_per_pixel: u64, counters: Arc<Counters>) -> Self {
        Self {
            inner,
            bytes_per_pixel,
            counters,
        }
    }
}

/// Bytes of the source read to draw `damage` (rectangles relative to `dst`)
/// from `src`: the damaged destination pixels inside `dst`, scaled by the
/// source-to-destination area ratio, times `bytes_per_pixel`.
pub fn bytes_read(
    src: Rectangle<f64, BufferCoords>,
    dst: Rectangle<i32, Physical>,
    damage: &[Rectangle<i32, Physical>],
    bytes_per_pixel: u64,
) -> u64 {
    let bounds = Rectangle::<i32, Physical>::from_size(dst.size);
    let dst_px: u64 = damage
        .iter()
        .filter_map(|d| d.intersection(bounds))
        .map(|r| u64::from(r.size.w.max(0) as u32) * u64::from(r.size.h.max(0) as u32))
        .sum();
    let dst_area = f64::from(dst.size.w.max(0)) * f64::from(dst.size.h.max(0));
    if dst_area == 0.0 {
        return 0;
    }
    let src_area = src.size.w.max(0.0) * src.size.h.max(0.0);
    let src_px = (dst_px as f64 * src_area / dst_area).round() as u64;
    src_px * bytes_per_pixel
}

/// Bytes per pixel of a 32-, 24- or 16-bit format Pixman knows; 4 otherwise.
fn format_bytes(fourcc: Fourcc) -> u64 {
    FormatCode::try_from(fourcc)
        .map(|code| u64::from(FormatCode::bpp(code) / 8).max(1))
        .unwrap_or(4)
}

/// Bytes per pixel of the client buffer behind `element`.
/// Bytes per pixel of the client buffer behind `element`, and the size in
/// bytes of its buffer if it is a `wl_shm` one.
fn element_buffer<R: FrameRenderer>(
    element: &WaylandSurfaceRenderElement<R>,
    renderer: &mut R,
) -> (u64, Option<u64>) {
    let Some(UnderlyingStorage::Wayland(buffer)) = element.underlying_storage(renderer) else {
        return (4, None);
    };
    if let Ok(dmabuf) = get_dmabuf(buffer) {
        return (format_bytes(dmabuf.format().code), None);
    }
    with_buffer_contents(buffer, |_, _, data| {
        let bpp = shm_format_to_fourcc(data.format).map_or(4, format_bytes);
        let bytes = u64::from(data.stride.max(0) as u32) * u64::from(data.height.max(0) as u32);
        (bpp, Some(bytes))
    })
    .unwrap_or((4, None))
}

/// `Element`'s methods, each delegated to the field `inner`: for the
/// wrappers that change only how an element is counted (`Counted`) or drawn
/// (`YuvElement`).
macro_rules! delegate_element_to_inner {
    () => {
        fn id(&self) -> &Id {
            self.inner.id()
        }
        fn current_commit(&self) -> CommitCounter {
            self.inner.current_commit()
        }
        fn location(&self, scale: Scale<f64>) -> Point<i32, Physical> {
            self.inner.location(scale)
        }
        fn src(&self) -> Rectangle<f64, BufferCoords> {
            self.inner.src()
        }
        fn transform(&self) -> Transform {
            self.inner.transform()
        }
        fn geometry(&self, scale: Scale<f64>) -> Rectangle<i32, Physical> {
            self.inner.geometry(scale)
        }
        fn damage_since(
            &self,
            scale: Scale<f64>,
            commit: Option<CommitCounter>,
        ) -> DamageSet<i32, Physical> {
            self.inner.damage_since(scale, commit)
        }
        fn opaque_regions(&self, scale: Scale<f64>) -> OpaqueRegions<i32, Physical> {
            self.inner.opaque_regions(scale)
        }
        fn alpha(&self) -> f32 {
            self.inner.alpha()
        }
        fn kind(&self) -> Kind {
            self.inner.kind()
        }
    };
}
pub(crate) use delegate_element_to_inner;

impl<E: Element> Element for Counted<E> {
    delegate_element_to_inner!();
}

impl<R: FrameRenderer, E: RenderElement<R>> RenderElement<R> for Counted<E> {
    fn draw(
        &self,
        frame: &mut R::Frame<'_, '_>,
        src: Rectangle<f64, BufferCoords>,
        dst: Rectangle<i32, Physical>,
        damage: &[Rectangle<i32, Physical>],
        opaque_regions: &[Rectangle<i32, Physical>],
    ) -> Result<(), R::Error> {
        self.inner.draw(frame, src, dst, damage, opaque_regions)?;
        self.counters
            .add_bytes_composited(bytes_read(src, dst, damage, self.bytes_per_pixel));
        Ok(())
    }

    fn underlying_storage(&self, renderer: &mut R) -> Option<UnderlyingStorage<'_>> {
        self.inner.underlying_storage(renderer)
    }
}

/// The output's background, RGBA8. Tests compare read-back pixels to it.
pub const BACKGROUND: [u8; 4] = [0x33, 0x33, 0x4c, 0xff];

/// What the scene keeps from frame to frame for a renderer: prepared
/// foreign buffers, and the commit each `wl_shm` element showed last (a new
/// one is an upload under GLES).
pub struct SceneCache<R: FrameRenderer> {
    foreign: ForeignCache<Option<R::TextureId>>,
    shm_commits: HashMap<Id, CommitCounter>,
    /// YUV buffers' planes, per buffer (`yuv.rs`).
    yuv: YuvCache<Option<YuvPlanes<R::TextureId>>>,
    /// The last YUV line logged (how YUV is converted, or why not), so it
    /// is not repeated every frame.
    yuv_logged: Option<String>,
}

impl<R: FrameRenderer> Default for SceneCache<R> {
    fn default() -> Self {
        Self {
            foreign: ForeignCache::default(),
            shm_commits: HashMap::new(),
            yuv: YuvCache::default(),
            yuv_logged: None,
        }
    }
}

/// Whether `window` shows on the output covering `area` of the space: its
/// box overlaps it, or (a surface smithay cannot size, a foreign buffer's,
/// has an empty box) its place is in it.
pub(crate) fn on_output(
    space: &Space<Window>,
    window: &Window,
    area: Rectangle<i32, Logical>,
) -> bool {
    let Some(location) = space.element_location(window) else {
        return false;
    };
    let bbox = window.bbox();
    let shown = Rectangle::new(location - window.geometry().loc + bbox.loc, bbox.size);
    shown.overlaps(area) || area.contains(location)
}

/// The elements of the windows on the output that covers `area` of the
/// space, topmost first, in that output's coordinates (scale 1: `area`'s
/// origin is the output's (0, 0)). Each window's foreign
/// buffer (if its toplevel surface shows one) is drawn under its subsurfaces
/// and popups.
pub(crate) fn scene_elements<R: FrameRenderer>(
    space: &Space<Window>,
    area: Rectangle<i32, Logical>,
    foreign: Option<&Arc<dyn ForeignBuffers>>,
    counters: &Arc<Counters>,
    color_space_of: &ColorSpaceOf<'_>,
    renderer: &mut R,
    cache: &mut SceneCache<R>,
) -> Vec<OutputElement<R>> {
    let mut elements = Vec::new();
    let mut live = Vec::new();
    for window in space.elements().rev() {
        let Some(location) = space.element_location(window) else {
            continue;
        };
        // Only the windows on this output, placed relative to it.
        if !on_output(space, window, area) {
            continue;
        }
        let location = (location - window.geometry().loc - area.loc).to_physical(1);
        let surfaces = AsRenderElements::<R>::render_elements::<WaylandSurfaceRenderElement<R>>(
            window,
            renderer,
            location,
            1.0.into(),
            1.0,
        );
        for element in surfaces {
            let (bpp, shm_bytes) = element_buffer(&element, renderer);
            if let (true, Some(bytes)) = (R::uploads_shm(), shm_bytes) {
                let commit = element.current_commit();
                if cache.shm_commits.insert(element.id().clone(), commit) != Some(commit) {
                    counters.add_bytes_copied(bytes);
                }
            }
            live.push(element.id().clone());
            let element = surface_element(element, bpp, counters, color_space_of, renderer, cache);
            elements.push(element);
        }
        let toplevel = window.toplevel().map(|t| t.wl_surface());
        if let (Some(hook), Some(surface)) = (foreign, toplevel) {
            // Foreign buffers are drawn only in 32-bit formats (foreign.rs).
            if let Some(e) = foreign::element(
                renderer,
                &mut cache.foreign,
                hook,
                counters,
                surface,
                location,
            ) {
                live.push(e.id().clone());
                elements.push(Counted::new(e, 4, counters.clone()).into());
            }
        }
    }
    cache.foreign.retain(&live);
    cache.shm_commits.retain(|id, _| live.contains(id));
    cache.yuv.prune();
    elements
}

/// Bytes read per pixel of a 4:2:0 8-bit buffer, rounded up (1.5: a luma
/// byte per pixel, a CbCr pair per four).
const YUV_BYTES_PER_PIXEL: u64 = 2;

/// A surface's element, counted: a [`YuvElement`] when its buffer is a
/// YUV dma-buf the renderer converts itself, converted in its collection's
/// colour space; else smithay's element as it is (a failed preparation is
/// logged once, naming the error).
fn surface_element<R: FrameRenderer>(
    element: WaylandSurfaceRenderElement<R>,
    bpp: u64,
    counters: &Arc<Counters>,
    color_space_of: &ColorSpaceOf<'_>,
    renderer: &mut R,
    cache: &mut SceneCache<R>,
) -> OutputElement<R> {
    let plain = |element| Counted::new(element, bpp, counters.clone()).into();
    let Some(UnderlyingStorage::Wayland(buffer)) = element.underlying_storage(renderer) else {
        return plain(element);
    };
    let Ok(dmabuf) = get_dmabuf(buffer) else {
        return plain(element);
    };
    if !yuv::converts(dmabuf.format().code) {
        return plain(element);
    }
    let (buffer, dmabuf) = (buffer.clone(), dmabuf.clone());
    let prepared = cache
        .yuv
        .get_or_prepare(&dmabuf, || renderer.prepare_yuv(&dmabuf));
    let planes = match prepared {
        Ok(Some(planes)) => planes,
        Ok(None) => return plain(element),
        Err(err) => {
            let message = err.to_string();
            if cache.yuv_logged.as_ref() != Some(&message) {
                warn!(
                    format = ?dmabuf.format().code,
                    %message,
                    "cannot import the planes of a YUV buffer: EGL converts it with the driver's own matrix"
                );
                cache.yuv_logged = Some(message);
            }
            return plain(element);
        }
    };
    let conversion = Conversion::for_color_space(color_space_of(&buffer));
    if cache.yuv_logged.as_deref() != Some(conversion.name) {
        info!(
            conversion = conversion.name,
            "YUV buffer composited with the compositor's conversion"
        );
        cache.yuv_logged = Some(conversion.name.to_string());
    }
    let yuv = YuvElement::new(element, planes, conversion);
    Counted::new(yuv, YUV_BYTES_PER_PIXEL, counters.clone()).into()
}

impl RefState {
    /// One frame of the output, when one may be due (`repaint.rs`):
    /// repaints if something changed (a headless tick with nothing asked
    /// for draws nothing; on KMS every tick is on demand and goes through
    /// smithay's DrmCompositor, which finds nothing to draw when nothing
    /// changed and only then lets go of the framebuffers of elements that
    /// left the scene), sends the presentation feedback and frame callbacks
    /// of what the repaint showed (on KMS the page flip sends them:
    /// `drm.rs`), and handles the screenshot and frame-limit options. How
    /// the frame went.
    pub fn tick(&mut self) -> FrameOutcome {
        // Before anything returns early: the gauge follows disconnects and
        // expiries even while the display is busy.
        self.counters
            .set_charged_bytes(self.buffer_collection_state.total_charged_bytes());
        // `repaint.requested` is the one record of "something changed",
        // for the repaint and for the frame timer alike.
        let due = self.repaint.requested || self.screen.target().paced_by_display();
        let outcome = if due {
            self.repaint()
        } else {
            FrameOutcome::Unchanged
        };
        if outcome == FrameOutcome::Busy {
            // The display has not taken the last frame yet.
            return outcome;
        }
        let frames = self.counters.frame_rendered();
        self.space.refresh();
        self.popups.cleanup();

        if let Some(shot) = &self.config.screenshot {
            if shot.after_frames == frames {
                let (path, exit) = (shot.path.clone(), shot.exit_after);
                match self.read_output().and_then(|s| s.write_png(&path)) {
                    Ok(()) => println!("accord-compositor: wrote screenshot {}", path.display()),
                    Err(err) => warn!(%err, path = %path.display(), "screenshot failed"),
                }
                if exit {
                    self.loop_signal.stop();
                }
            }
        }
        if self
            .config
            .frames_limit
            .is_some_and(|limit| frames >= limit)
        {
            info!(frames, "frame limit reached");
            self.loop_signal.stop();
        }
        outcome
    }

    /// Renders the scene on every head; `Busy` when a display has not
    /// taken its last frame (the repaint stays due, and the heads that
    /// drew find nothing new next time). Presents at once what a target
    /// presents at once.
    fn repaint(&mut self) -> FrameOutcome {
        self.repaints += 1;
        let mut outcome = FrameOutcome::Unchanged;
        let mut busy = false;
        for head in 0..self.screen.heads() {
            match self.repaint_head(head) {
                FrameOutcome::Busy => busy = true,
                FrameOutcome::Unchanged => {}
                // A composed frame decides what follows (repaint.rs).
                drawn => {
                    if outcome != FrameOutcome::Composited {
                        outcome = drawn;
                    }
                }
            }
        }
        self.update_surface_feedback();
        if busy {
            return FrameOutcome::Busy;
        }
        self.repaint.requested = false;
        outcome
    }

    /// Renders head `head`'s output and counts how it reached the screen.
    fn repaint_head(&mut self, head: usize) -> FrameOutcome {
        let Some(output) = self.outputs.get(head).cloned() else {
            return FrameOutcome::Unchanged;
        };
        let rendered = match self.render_frame(head, &output) {
            Ok(rendered) => {
                self.last_render_error = None;
                rendered
            }
            Err(err) => {
                // Once per distinct error, not 60 times a second.
                let message = err.to_string();
                if self.last_render_error.as_ref() != Some(&message) {
                    warn!(%message, head, "rendering failed");
                    self.last_render_error = Some(message);
                }
                // Clients must not stall on a broken output: their frame
                // callbacks go out; their feedback waits for a frame.
                presentation::send_frame_callbacks(&self.space, &output, presentation::now(), None);
                self.destroyed_outside_dispatch = true;
                return FrameOutcome::Unchanged;
            }
        };
        if rendered.outcome == FrameOutcome::Busy {
            return FrameOutcome::Busy;
        }
        tracing::debug!(
            head,
            outcome = ?rendered.outcome,
            commits = self.counters.snapshot().surface_commits,
            "frame"
        );
        self.counters.frame_presented(head, rendered.outcome);
        if rendered.scaled_fullscreen {
            match rendered.outcome {
                FrameOutcome::Direct { .. } => self.counters.scaled_frame(true),
                FrameOutcome::Composited => self.counters.scaled_frame(false),
                FrameOutcome::Unchanged | FrameOutcome::Busy => {}
            }
        }
        if let Some(feedback) = rendered.present_now {
            let repaint = feedback.repaint();
            let (refresh, paced) = self
                .screen
                .head(head)
                .map(|t| (t.mode().refresh, t.paced_by_display()))
                .unwrap_or((self.config.refresh_mhz, false));
            if !paced {
                // The headless output's clock: the frame grid's slot.
                self.output_sequence = self.repaint.slot(Instant::now());
            }
            feedback.presented(
                presentation::now(),
                presentation::refresh(refresh),
                self.output_sequence,
                Flags::empty(),
            );
            presentation::send_frame_callbacks(
                &self.space,
                &output,
                presentation::now(),
                Some(repaint),
            );
            self.destroyed_outside_dispatch = true;
        }
        rendered.outcome
    }

    /// A page flip completed: `feedback` (the flipped frame's) is sent
    /// `presented` with the flip's time and sequence, and the frame
    /// callbacks go out.
    pub fn flip_completed(
        &mut self,
        head: usize,
        feedback: Option<FrameFeedback>,
        metadata: Option<&DrmEventMetadata>,
    ) {
        let (time, flags) = match metadata.map(|m| m.time) {
            Some(DrmEventTime::Monotonic(time)) => {
                (time, Flags::Vsync | Flags::HwClock | Flags::HwCompletion)
            }
            // A realtime or missing timestamp: the monotonic clock now,
            // without the hardware-clock flag.
            Some(DrmEventTime::Realtime(_)) | None => {
                (presentation::now(), Flags::Vsync | Flags::HwCompletion)
            }
        };
        // The kernel's vblank count, when it counts: a CRTC without vblank
        // interrupts (virtio-gpu) reports the same sequence for every flip;
        // then the frame timer's slot, so the sequence still grows with time.
        let kernel = metadata.map(|m| u64::from(m.sequence));
        self.output_sequence = match kernel {
            Some(seq) if seq > self.output_sequence => seq,
            _ => self
                .repaint
                .slot(Instant::now())
                .max(self.output_sequence.saturating_add(1)),
        };
        let repaint = feedback.as_ref().map(FrameFeedback::repaint);
        let Some(output) = self.outputs.get(head).cloned() else {
            return;
        };
        if let Some(feedback) = feedback {
            let refresh = self.screen.head(head).map(|t| t.mode().refresh);
            feedback.presented(
                time,
                presentation::refresh(refresh.unwrap_or(self.config.refresh_mhz)),
                self.output_sequence,
                flags,
            );
        }
        presentation::send_frame_callbacks(&self.space, &output, presentation::now(), repaint);
        self.destroyed_outside_dispatch = true;
    }

    /// Reads the output back (a screenshot): a CPU copy of the pixels the
    /// output shows, counted in `bytes_copied`. On KMS with direct scanout
    /// this reads the client's buffer itself.
    pub fn read_output(&mut self) -> Result<Screenshot, Error> {
        let shot = self.screen.read_pixels()?;
        self.counters.add_bytes_copied(shot.rgba.len() as u64);
        Ok(shot)
    }

    fn render_frame(&mut self, head: usize, output: &Output) -> Result<Rendered, Error> {
        let background = BACKGROUND.map(|c| f32::from(c) / 255.0);
        let (space, counters) = (&self.space, &self.counters);
        let area = space
            .output_geometry(output)
            .ok_or("the output is not mapped in the space")?;
        let repaint = self.repaints;
        let collections = &self.buffer_collection_state;
        self.screen.render(
            head,
            area,
            space,
            self.foreign.as_ref(),
            counters,
            &|buffer| collections.color_space_of(buffer),
            background,
            &mut |states| FrameFeedback::collect(space, output, states, counters, repaint),
        )
    }

    /// Sends each surface that asked for dmabuf feedback the one the
    /// target picks after this frame (smithay sends it only on a change):
    /// on KMS, the scanout tranche once its buffer is or could be on the
    /// primary plane.
    fn update_surface_feedback(&self) {
        for window in self.space.elements() {
            // The head it is fullscreen on; windows are on the first.
            let head = window
                .toplevel()
                .and_then(|t| self.scanout_output(t.wl_surface()))
                .unwrap_or(0);
            let Some(target) = self.screen.head(head) else {
                continue;
            };
            window.with_surfaces(|surface, states| {
                if let (Some(state), Some(feedback)) = (
                    SurfaceDmabufFeedbackState::from_states(states),
                    target.surface_feedback(surface),
                ) {
                    state.set_feedback(feedback);
                }
            });
        }
    }
}
