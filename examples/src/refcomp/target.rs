//! Where the compositor's output goes: one trait per rendering target, so the
//! headless image and a DRM/KMS scanout share the same compositor state.
//! [`OutputTarget`] is what the compositor asks of any target;
//! [`DrawTarget`] draws into it with one renderer (Pixman or GLES).

use smithay::{
    backend::{
        allocator::Fourcc,
        renderer::{damage::OutputDamageTracker, element::RenderElementStates, RendererSuper},
    },
    output::{Mode, PhysicalProperties},
    reexports::wayland_server::protocol::wl_surface::WlSurface,
    utils::{Buffer as BufferCoords, Rectangle, Size},
    wayland::dmabuf::{DmabufFeedback, DmabufFeedbackBuilder},
};

use accord_engine::{Decision, FormatModifier};
use accord_smithay::backend::{memfd::MemfdBackend, CollectionAllocator, Placements};
use smithay::backend::allocator::{Format, Modifier};

use super::{
    presentation::FrameFeedback, renderer::FrameRenderer, Error, OutputElement, Screenshot,
};

/// Smithay's formats as the engine's pairs.
pub fn format_pairs<'a>(
    formats: impl IntoIterator<Item = &'a Format>,
    scanout: bool,
) -> Vec<FormatModifier> {
    formats
        .into_iter()
        .map(|f| FormatModifier {
            format: f.code as u32,
            modifier: u64::from(f.modifier),
            scanout,
        })
        .collect()
}

/// The engine's pairs as smithay's formats (unknown fourccs left out).
pub fn smithay_formats(pairs: &[FormatModifier]) -> Vec<Format> {
    pairs
        .iter()
        .filter_map(|p| {
            Some(Format {
                code: Fourcc::try_from(p.format).ok()?,
                modifier: Modifier::from(p.modifier),
            })
        })
        .collect()
}

/// How one frame tick reached the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameOutcome {
    /// A client buffer went to the primary plane as it is: no composition.
    /// `opaque_substitute`: the buffer has an alpha channel and KMS shows it
    /// through a framebuffer of its opaque twin (ARGB8888 memory as
    /// XRGB8888), as the plane reports after the commit.
    Direct { opaque_substitute: bool },
    /// The renderer composed the scene into an output buffer (what it read
    /// of client buffers is counted as it draws: `render.rs`'s `Counted`).
    Composited,
    /// Nothing changed since the last frame; nothing was drawn or presented.
    Unchanged,
    /// The previous frame is still waiting for its page flip; this tick is
    /// skipped (no frame callbacks, so clients do not outrun the display).
    Busy,
}

/// What a frame tick did, and when its feedback is due.
pub struct Rendered {
    pub outcome: FrameOutcome,
    /// The feedback of the surfaces the frame shows, to be sent
    /// `presented` now: the headless output's repaint is its presentation,
    /// and a KMS frame with nothing new leaves the screen as it is. `None`
    /// when a page flip delivers it (KMS) or nothing was rendered (`Busy`).
    pub present_now: Option<FrameFeedback>,
    /// The frame's top element covers the whole output and is scaled (a
    /// viewport, or a buffer of another size): a plane would have to scale
    /// it to scan it out. Only a KMS target tells (for its counters).
    pub scaled_fullscreen: bool,
}

/// Takes the presentation feedback of the surfaces a frame shows, from the
/// frame's render element states.
pub type CollectFn<'a> = dyn FnMut(&RenderElementStates) -> FrameFeedback + 'a;

/// Renders the scene into a framebuffer; receives the framebuffer's age
/// (0: unknown contents, n: contents of n frames ago).
pub type DrawFn<'a, R> =
    dyn FnMut(&mut R, &mut <R as RendererSuper>::Framebuffer<'_>, usize) -> Result<(), Error> + 'a;

/// A rendering target for the one output of the reference compositor:
/// what the compositor asks of it whatever the renderer.
pub trait OutputTarget {
    /// The `wl_output` name, e.g. `HEADLESS-1` or the connector name.
    fn output_name(&self) -> String;

    /// The output's current mode (size in pixels, refresh in mHz).
    fn mode(&self) -> Mode;

    /// The `wl_output` make/model.
    fn physical_properties(&self) -> PhysicalProperties;

    /// Frames are paced by the display's flips, which the target reports
    /// ([`RefState::display_ready`](super::RefState::display_ready)),
    /// rather than by a timer; a frame reaches the screen at its flip, which
    /// reports its own time and sequence (KMS). Otherwise a frame is
    /// presented when it is rendered, on the output's clock (headless).
    /// One answer for both: a display that flips is what paces and what
    /// presents.
    fn paced_by_display(&self) -> bool {
        false
    }

    /// The placements of Accord buffer collections: memfd alone by
    /// default (headless: shared memory Pixman reads); a KMS target offers
    /// every backend of the machine, so scanout buffers are made by its
    /// card and others where their participants need them.
    fn collection_placements(&self) -> Result<Placements, Error> {
        Ok(Placements::from(
            Box::new(MemfdBackend::new()) as Box<dyn CollectionAllocator>
        ))
    }

    /// The KMS device (`dev_t`) whose planes scan surfaces out, named by
    /// the Accord compositor participant for scanout. Headless has none.
    fn scanout_device(&self) -> Option<u64> {
        None
    }

    /// The device (`dev_t`) a GPU renderer drawing into this target runs
    /// on: on KMS the card (EGL on its GBM device, `gles.rs`). Headless
    /// has none: GLES there is Mesa's software EGL device, which imports
    /// no dma-buf.
    fn gpu_device(&self) -> Option<u64> {
        None
    }

    /// The (format, modifier) pairs a fullscreen surface can scan out on
    /// this target (the Accord compositor participant's `scanout` pairs).
    /// Headless scans nothing out.
    fn scanout_pairs(&self) -> Vec<FormatModifier> {
        Vec::new()
    }

    /// Confirms a collection's scanout decision on this target's display
    /// before it is allocated (Accord's `confirm_scanout` hook): the
    /// decision to allocate. Headless has no display to ask.
    fn confirm_scanout(&mut self, decision: &Decision) -> Decision {
        decision.clone()
    }

    /// The buffer the last [`confirm_scanout`](Self::confirm_scanout)
    /// tested, for the module to use as the collection's buffer 0 (Accord's
    /// `take_scanout_probe` hook). Headless tests none.
    fn take_scanout_probe(&mut self) -> Option<accord_smithay::collections::ScanoutProbe> {
        None
    }

    /// Whether a client dma-buf with the implicit modifier is read as LINEAR
    /// (see `dmabuf_params.rs`). Headless has no device to define the
    /// implicit layout, so no.
    fn implicit_modifier_is_linear(&self) -> bool {
        false
    }

    /// The feedback a surface gets when it first asks for one
    /// (`get_surface_feedback`). `None`: the default feedback, as headless
    /// has no planes for a surface to move to.
    fn initial_surface_feedback(&self) -> Option<DmabufFeedback> {
        None
    }

    /// The feedback `surface` should have after the last frame (sent when
    /// it changes). `None`: leave it as it is.
    fn surface_feedback(&self, _surface: &WlSurface) -> Option<&DmabufFeedback> {
        None
    }
}

/// A target drawn into with the renderer `R`.
pub trait DrawTarget<R: FrameRenderer>: OutputTarget {
    /// Default feedback for `zwp_linux_dmabuf_v1`. Headless has no device, so
    /// the main device is 0 and the only tranche is the renderer's formats; a
    /// KMS target overrides this with its device and a scanout tranche.
    fn dmabuf_feedback(&self, renderer: &R) -> std::io::Result<DmabufFeedback> {
        DmabufFeedbackBuilder::new(0, renderer.dmabuf_formats()).build()
    }

    /// Shows `elements` (topmost first) over `background`, and takes the
    /// feedback of what it shows with `collect`. The default composes them
    /// with `tracker` through [`DrawTarget::render_frame`] and presents at
    /// once; a KMS target may instead put a client buffer on a plane
    /// directly, and presents at the page flip.
    fn render_scene(
        &mut self,
        renderer: &mut R,
        elements: &[OutputElement<R>],
        background: [f32; 4],
        tracker: &mut OutputDamageTracker,
        collect: &mut CollectFn<'_>,
    ) -> Result<Rendered, Error> {
        let mut outcome = FrameOutcome::Unchanged;
        let mut feedback = None;
        self.render_frame(renderer, &mut |renderer, framebuffer, age| {
            let result = tracker.render_output(renderer, framebuffer, age, elements, background)?;
            if result.damage.is_some() {
                outcome = FrameOutcome::Composited;
            }
            feedback = Some(collect(&result.states));
            Ok(())
        })?;
        Ok(Rendered {
            outcome,
            present_now: feedback,
            scaled_fullscreen: false,
        })
    }

    /// Binds the next framebuffer, calls `draw` on it and presents it.
    fn render_frame(&mut self, renderer: &mut R, draw: &mut DrawFn<'_, R>) -> Result<(), Error>;

    /// Reads back the last presented frame.
    fn read_pixels(&mut self, renderer: &mut R) -> Result<Screenshot, Error>;
}

/// Copies `size` pixels of `framebuffer` out as RGBA8 (DRM `ABGR8888` is
/// R, G, B, A in memory on little-endian machines).
pub fn read_framebuffer<R: FrameRenderer>(
    renderer: &mut R,
    framebuffer: &R::Framebuffer<'_>,
    size: Size<i32, BufferCoords>,
) -> Result<Screenshot, Error> {
    let (w, h) = (size.w.max(0) as usize, size.h.max(0) as usize);
    let mapping =
        renderer.copy_framebuffer(framebuffer, Rectangle::from_size(size), Fourcc::Abgr8888)?;
    let bytes = renderer.map_texture(&mapping)?;
    let stride = bytes.len().checked_div(h).unwrap_or(0);
    if stride < w * 4 {
        return Err(format!("read-back stride {stride} is below {} bytes per row", w * 4).into());
    }
    let mut rgba = Vec::with_capacity(w * h * 4);
    for row in bytes.chunks_exact(stride).take(h) {
        rgba.extend_from_slice(&row[..w * 4]);
    }
    Ok(Screenshot {
        width: w as u32,
        height: h as u32,
        rgba,
    })
}
