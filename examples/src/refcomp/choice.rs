//! The default renderer: GLES where EGL comes up, Pixman otherwise.
//!
//! `accord-compositor` without `--renderer` tries GLES first (headless: a
//! `GlesRenderer` on EGL's software device; on KMS: the whole KMS set-up
//! with GLES on the card's GBM device) and, if that fails, sets up again
//! with Pixman, which needs nothing but the CPU. Either way it returns the
//! renderer it runs with and why, for the log line
//! `renderer: gles (EGL on Mesa's software device: llvmpipe ...)` or
//! `renderer: pixman (GLES failed: <error>)`. Asking for a renderer with
//! `--renderer` never falls back: a GLES failure is then the error.

use smithay::backend::renderer::gles::{GlesRenderer, GlesTexture};

use super::{gles, headless_screen, Compositor, Config, DrmOptions, Error, RendererKind};

/// The renderer a compositor runs with, and why it was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    pub kind: RendererKind,
    pub why: String,
}

impl std::fmt::Display for Chosen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.kind.name(), self.why)
    }
}

impl Compositor {
    /// Sets up a compositor, headless or on `drm`, with `asked` (the
    /// renderer `--renderer` named) or, when `None`, the default: GLES
    /// where EGL comes up, Pixman otherwise. `config.renderer` is ignored.
    pub fn with_renderer(
        config: Config,
        drm: Option<&DrmOptions>,
        asked: Option<RendererKind>,
    ) -> Result<(Self, Chosen), Error> {
        let build = |kind| {
            let config = Config {
                renderer: kind,
                ..config.clone()
            };
            match drm {
                Some(options) => Compositor::drm(config, options),
                None => Compositor::headless(config),
            }
        };
        if let Some(kind) = asked {
            let why = "asked for with --renderer".to_owned();
            return Ok((build(kind)?, Chosen { kind, why }));
        }
        let gles = match drm {
            // The renderer is made here, so its name can go in the log.
            None => gles::software_renderer().and_then(|mut renderer| {
                let why = format!(
                    "EGL on Mesa's software device: {}",
                    gl_renderer_name(&mut renderer)
                );
                let screen = headless_screen::<_, GlesTexture>(renderer, &config)?;
                let config = Config {
                    renderer: RendererKind::Gles,
                    ..config.clone()
                };
                Ok((Compositor::new(config, screen)?, why))
            }),
            Some(options) => build(RendererKind::Gles).map(|c| {
                let card = options.path.display();
                (c, format!("EGL on {card}'s GBM device"))
            }),
        };
        match gles {
            Ok((compositor, why)) => {
                // What the compositor was set up with, not what was meant.
                let kind = compositor.state.config.renderer;
                Ok((compositor, Chosen { kind, why }))
            }
            Err(err) => {
                let kind = RendererKind::Pixman;
                let why = format!("GLES failed: {err}");
                Ok((build(kind)?, Chosen { kind, why }))
            }
        }
    }
}

/// `GL_RENDERER` (e.g. `llvmpipe (LLVM 15.0.6, 256 bits)`).
pub fn gl_renderer_name(renderer: &mut GlesRenderer) -> String {
    use smithay::backend::renderer::gles::ffi;
    renderer
        .with_context(|gl| {
            // SAFETY: the context is current; GetString returns a static,
            // NUL-terminated string or null.
            let name = unsafe { gl.GetString(ffi::RENDERER) };
            if name.is_null() {
                "unnamed GL renderer".to_owned()
            } else {
                unsafe { std::ffi::CStr::from_ptr(name.cast()) }
                    .to_string_lossy()
                    .into_owned()
            }
        })
        .unwrap_or_else(|e| format!("GL renderer name unavailable: {e}"))
}
