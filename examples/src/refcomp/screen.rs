//! The renderer and the targets it draws into, as one object: the
//! compositor state holds a `Box<dyn Screen>`, so it is not generic over
//! the renderer, and each renderer's code is compiled once per target that
//! supports it. A screen has one head per output (one headless; one per
//! connected connector on KMS), all drawn by the one renderer, each with
//! its own damage tracker and element cache.

use std::sync::Arc;

use accord_engine::{FormatModifier, MOD_LINEAR};
use smithay::{
    backend::{allocator::dmabuf::Dmabuf, renderer::damage::OutputDamageTracker},
    desktop::{Space, Window},
    utils::{Logical, Rectangle, Transform},
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

    /// The outputs' targets: 1 headless, one per connector on KMS.
    fn heads(&self) -> usize;

    /// Head `head`'s target (head 0 is [`Screen::target`]).
    fn head(&self, head: usize) -> Option<&dyn OutputTarget>;

    fn head_mut(&mut self, head: usize) -> Option<&mut dyn OutputTarget>;

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
    #[allow(clippy::too_many_arguments)]
    fn render(
        &mut self,
        head: usize,
        area: Rectangle<i32, Logical>,
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
    /// Head 0's target.
    pub target: T,
    /// The other heads' targets (KMS: the other connectors).
    pub others: Vec<T>,
    /// Per head, in order: what damage each has drawn, and its elements'
    /// cached state.
    per_head: Vec<(OutputDamageTracker, SceneCache<R>)>,
}

impl<R: FrameRenderer, T: DrawTarget<R>> RendererScreen<R, T> {
    /// Draws with `renderer` into `target` (at its mode, scale 1, no
    /// transform: the output as the compositor state sets it up).
    pub fn new(renderer: R, target: T) -> Self {
        Self::with_heads(renderer, target, Vec::new())
    }

    /// Head 0 on `target`, heads 1.. on `others`.
    pub fn with_heads(renderer: R, target: T, others: Vec<T>) -> Self {
        let per_head = std::iter::once(&target)
            .chain(&others)
            .map(|t| {
                let size = t.mode().size;
                (
                    OutputDamageTracker::new(size, 1.0, Transform::Normal),
                    SceneCache::default(),
                )
            })
            .collect();
        Self {
            renderer,
            target,
            others,
            per_head,
        }
    }

    fn head_target(&mut self, head: usize) -> Option<&mut T> {
        match head {
            0 => Some(&mut self.target),
            n => self.others.get_mut(n - 1),
        }
    }
}

impl<R: FrameRenderer, T: DrawTarget<R> + 'static> Screen for RendererScreen<R, T> {
    fn target(&self) -> &dyn OutputTarget {
        &self.target
    }

    fn heads(&self) -> usize {
        1 + self.others.len()
    }

    fn head(&self, head: usize) -> Option<&dyn OutputTarget> {
        match head {
            0 => Some(&self.target),
            n => self.others.get(n - 1).map(|t| t as &dyn OutputTarget),
        }
    }

    fn head_mut(&mut self, head: usize) -> Option<&mut dyn OutputTarget> {
        self.head_target(head).map(|t| t as &mut dyn OutputTarget)
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
        head: usize,
        area: Rectangle<i32, Logical>,
        space: &Space<Window>,
        foreign: Option<&Arc<dyn ForeignBuffers>>,
        counters: &Arc<Counters>,
        color_space_of: &ColorSpaceOf<'_>,
        background: [f32; 4],
        collect: &mut CollectFn<'_>,
    ) -> Result<Rendered, Error> {
        let Some((tracker, cache)) = self.per_head.get_mut(head) else {
            return Err(format!("no head {head}").into());
        };
        let elements = scene_elements(
            space,
            area,
            foreign,
            counters,
            color_space_of,
            &mut self.renderer,
            cache,
        );
        let target = match head {
            0 => &mut self.target,
            n => self
                .others
                .get_mut(n - 1)
                .ok_or_else(|| format!("no head {head}"))?,
        };
        target.render_scene(&mut self.renderer, &elements, background, tracker, collect)
    }

    fn read_pixels(&mut self) -> Result<Screenshot, Error> {
        self.target.read_pixels(&mut self.renderer)
    }
}
