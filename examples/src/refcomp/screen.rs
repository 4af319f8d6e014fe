//! The renderer and the target it draws into, as one object: the compositor
//! state holds a `Box<dyn Screen>`, so it is not generic over the renderer,
//! and each renderer's code is compiled once per target that supports it.

use std::sync::Arc;

use accord_engine::{FormatModifier, MOD_LINEAR};
use smithay::{
    backend::{allocator::dmabuf::Dmabuf, renderer::damage::OutputDamageTracker},
    desktop::{Space, Window},
    utils::Transform,
    wayland::dmabuf::DmabufFeedback,
};

use super::{
    foreign::{self, ForeignBuffers},
    render::{scene_elements, ColorSpaceOf, SceneCache},
    renderer::{FrameRenderer, RendererKind},
    target::{CollectFn, DrawTarget, OutputTarget, Rendered},
    Counters, Error, Screenshot,
};

/// What the compositor state asks of its renderer and target.
pub trait Screen {
    fn target(&self) -> &dyn OutputTarget;

    fn target_mut(&mut self) -> &mut dyn OutputTarget;

    /// Default feedback for `zwp_linux_dmabuf_v1` (the target's, with this
    /// renderer's formats).
    fn dmabuf_feedback(&self) -> std::io::Result<DmabufFeedback>;

    /// What the compositor participant of `attach_surface` offers to
    /// composite: the pairs this renderer imports that the target's
    /// collection buffers can be drawn from.
    fn renderer_formats(&self) -> Vec<FormatModifier>;

    /// The device (`dev_t`) the renderer imports client buffers on, which
    /// the compositor participant names (`renderer_device`): GLES on KMS,
    /// the card; Pixman, a CPU renderer, none; GLES headless (software
    /// EGL, uploads only), none.
    fn renderer_device(&self) -> Option<u64>;

    /// Imports `dmabuf` now, so that a buffer the renderer cannot read fails
    /// at creation rather than at the first frame.
    fn import_dmabuf(&mut self, dmabuf: &Dmabuf) -> Result<(), String>;

    /// Composes the windows of `space` (and their foreign buffers) into the
    /// target over `background`, taking the feedback of what it shows with
    /// `collect`; YUV buffers are converted in the colour space
    /// `color_space_of` gives.
    fn render(
        &mut self,
        space: &Space<Window>,
        foreign: Option<&Arc<dyn ForeignBuffers>>,
        counters: &Arc<Counters>,
        color_space_of: &ColorSpaceOf<'_>,
        background: [f32; 4],
        collect: &mut CollectFn<'_>,
    ) -> Result<Rendered, Error>;

    /// Reads back the last presented frame.
    fn read_pixels(&mut self) -> Result<Screenshot, Error>;
}

/// A renderer `R` drawing into a target `T`.
pub struct RendererScreen<R: FrameRenderer, T> {
    pub renderer: R,
    pub target: T,
    damage_tracker: OutputDamageTracker,
    cache: SceneCache<R>,
}

impl<R: FrameRenderer, T: DrawTarget<R>> RendererScreen<R, T> {
    /// Draws with `renderer` into `target` (at its mode, scale 1, no
    /// transform: the output as the compositor state sets it up).
    pub fn new(renderer: R, target: T) -> Self {
        let size = target.mode().size;
        Self {
            renderer,
            target,
            damage_tracker: OutputDamageTracker::new(size, 1.0, Transform::Normal),
            cache: SceneCache::default(),
        }
    }
}

impl<R: FrameRenderer, T: DrawTarget<R> + 'static> Screen for RendererScreen<R, T> {
    fn target(&self) -> &dyn OutputTarget {
        &self.target
    }

    fn target_mut(&mut self) -> &mut dyn OutputTarget {
        &mut self.target
    }

    fn dmabuf_feedback(&self) -> std::io::Result<DmabufFeedback> {
        self.target.dmabuf_feedback(&self.renderer)
    }

    /// Pixman: its import pairs (LINEAR only) in the 32-bit formats both
    /// drawing paths take (the dma-buf path and the foreign path of memfd
    /// buffers). GLES: its dma-buf import pairs, then the 32-bit formats the
    /// foreign path uploads, LINEAR (memfd buffers are LINEAR).
    fn renderer_formats(&self) -> Vec<FormatModifier> {
        let imported = super::drm::implicit_as_linear(
            accord_smithay::kms::renderer_import_formats(&self.renderer),
            self.target.implicit_modifier_is_linear(),
        );
        match R::KIND {
            RendererKind::Pixman => imported
                .into_iter()
                .filter(|f| foreign::drawable(f.format))
                .collect(),
            RendererKind::Gles => {
                let mut pairs = imported;
                for format in foreign::UPLOADED_FORMATS {
                    let pair = FormatModifier {
                        format,
                        modifier: MOD_LINEAR,
                        scanout: false,
                    };
                    if !pairs.contains(&pair) {
                        pairs.push(pair);
                    }
                }
                pairs
            }
        }
    }

    fn renderer_device(&self) -> Option<u64> {
        match R::KIND {
            RendererKind::Pixman => None,
            RendererKind::Gles => self.target.gpu_device(),
        }
    }

    fn import_dmabuf(&mut self, dmabuf: &Dmabuf) -> Result<(), String> {
        self.renderer
            .import_dmabuf(dmabuf, None)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn render(
        &mut self,
        space: &Space<Window>,
        foreign: Option<&Arc<dyn ForeignBuffers>>,
        counters: &Arc<Counters>,
        color_space_of: &ColorSpaceOf<'_>,
        background: [f32; 4],
        collect: &mut CollectFn<'_>,
    ) -> Result<Rendered, Error> {
        let elements = scene_elements(
            space,
            foreign,
            counters,
            color_space_of,
            &mut self.renderer,
            &mut self.cache,
        );
        self.target.render_scene(
            &mut self.renderer,
            &elements,
            background,
            &mut self.damage_tracker,
            collect,
        )
    }

    fn read_pixels(&mut self) -> Result<Screenshot, Error> {
        self.target.read_pixels(&mut self.renderer)
    }
}
