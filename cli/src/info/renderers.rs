//! The reference compositor's renderers, live: each is brought up the way
//! `accord-compositor` brings it up (`accord_examples::refcomp::gles`), and
//! asked what it imports. Pixman: smithay's `PixmanRenderer` (the CPU).
//! GLES: a `GlesRenderer` on EGL's software device (llvmpipe), or on a
//! card's GBM device with `--gles-device` (what `accord-compositor --drm`
//! uses). For each: the dma-buf (format, modifier) pairs as the renderer
//! reports them (the compositor participant's fallback set; the implicit
//! modifier is `INVALID`), the pairs EGL imports only as external textures
//! (`GL_TEXTURE_EXTERNAL_OES`, typically YUV), and the memory formats it
//! uploads (`wl_shm`).

use std::path::Path;

use accord_engine::FormatModifier;
use accord_examples::refcomp::{gl_renderer_name, gles};
use accord_smithay::kms::renderer_import_formats;
use smithay::backend::drm::{DrmDeviceFd, DrmNode};
use smithay::backend::renderer::{gles::GlesRenderer, pixman::PixmanRenderer, ImportMem};
use smithay::utils::DeviceFd;

/// Which renderers to list.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Gles,
    Pixman,
}

/// One renderer's listing, or why it could not be brought up.
pub struct RendererReport {
    /// `pixman` or `gles`.
    pub name: &'static str,
    /// Where it runs: `the CPU`, `EGL on Mesa's software device: llvmpipe
    /// (...)`, `EGL on /dev/dri/card0's GBM device: ...`.
    pub device: String,
    pub formats: Result<RendererFormats, String>,
}

pub struct RendererFormats {
    /// The dma-buf pairs it imports, in the renderer's order.
    pub dmabuf: Vec<FormatModifier>,
    /// Those of `dmabuf` EGL imports only as external textures.
    pub external_only: Vec<(u32, u64)>,
    /// The formats of memory (`wl_shm`) buffers it draws, as DRM fourccs.
    pub shm: Vec<u32>,
}

impl RendererFormats {
    pub fn is_external_only(&self, format: u32, modifier: u64) -> bool {
        self.external_only.contains(&(format, modifier))
    }
}

/// The renderers `which` names (both when empty), Pixman first.
pub fn probe(which: &[Which], gles_device: Option<&Path>) -> Vec<RendererReport> {
    let all = which.is_empty();
    let mut out = Vec::new();
    if all || which.contains(&Which::Pixman) {
        out.push(pixman());
    }
    if all || which.contains(&Which::Gles) {
        out.push(gles_report(gles_device));
    }
    out
}

fn pixman() -> RendererReport {
    let formats = PixmanRenderer::new()
        .map_err(|e| format!("cannot create a Pixman renderer: {e}"))
        .map(|renderer| RendererFormats {
            dmabuf: renderer_import_formats(&renderer),
            external_only: Vec::new(),
            shm: renderer.mem_formats().map(|f| f as u32).collect(),
        });
    RendererReport {
        name: "pixman",
        device: "the CPU".into(),
        formats,
    }
}

fn gles_report(device: Option<&Path>) -> RendererReport {
    let (place, renderer) = match device {
        None => (
            "EGL on Mesa's software device".to_owned(),
            gles::software_renderer().map_err(|e| e.to_string()),
        ),
        Some(path) => (
            format!("EGL on {}'s GBM device", path.display()),
            card(path).and_then(|fd| gles::card_renderer(fd).map_err(|e| e.to_string())),
        ),
    };
    match renderer {
        Ok(mut renderer) => RendererReport {
            name: "gles",
            device: format!("{place}: {}", gl_renderer_name(&mut renderer)),
            formats: Ok(gles_formats(&renderer)),
        },
        Err(e) => RendererReport {
            name: "gles",
            device: place,
            formats: Err(e),
        },
    }
}

/// The card open read-write, as `accord-compositor --drm` opens it.
fn card(path: &Path) -> Result<DrmDeviceFd, String> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let fd = DrmDeviceFd::new(DeviceFd::from(std::os::fd::OwnedFd::from(file)));
    // A KMS node, not a render node: GBM scanout and the compositor's own
    // open are on the card.
    DrmNode::from_file(&fd).map_err(|e| format!("{} is not a DRM node: {e}", path.display()))?;
    Ok(fd)
}

fn gles_formats(renderer: &GlesRenderer) -> RendererFormats {
    let dmabuf = renderer_import_formats(renderer);
    // EGL's own split: every pair it imports (`dmabuf_texture_formats`,
    // which is what `dmabuf_formats()` returns), and those it can also bind
    // as an ordinary 2D texture (`dmabuf_render_formats`). The difference
    // is external-only.
    let display = renderer.egl_context().display();
    let render = display.dmabuf_render_formats();
    let external_only = display
        .dmabuf_texture_formats()
        .iter()
        .filter(|f| !render.contains(f))
        .map(|f| (f.code as u32, u64::from(f.modifier)))
        .collect();
    RendererFormats {
        dmabuf,
        external_only,
        shm: renderer.mem_formats().map(|f| f as u32).collect(),
    }
}
