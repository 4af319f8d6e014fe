//! The renderer as a participant: the (format, modifier) pairs it imports.
//! One conversion from Smithay's `FormatSet` serves every caller (the
//! reference compositor's live renderer, `accord info`, tests), so the list
//! the compositor negotiates with is the list that is printed.

use accord_engine::FormatModifier;
use smithay::backend::renderer::{gles::GlesRenderer, pixman::PixmanRenderer, ImportDma};

/// The dma-buf pairs `renderer` imports, in the renderer's order, none
/// marked `scanout` (combine them with a plane through
/// [`super::compositor_formats`]).
///
/// ```
/// use smithay::backend::renderer::pixman::PixmanRenderer;
///
/// let renderer = PixmanRenderer::new().unwrap();
/// let pairs = accord_smithay::kms::renderer_import_formats(&renderer);
/// assert!(pairs.iter().any(|p| p.format == u32::from_le_bytes(*b"XR24")));
/// ```
pub fn renderer_import_formats(renderer: &impl ImportDma) -> Vec<FormatModifier> {
    renderer
        .dmabuf_formats()
        .iter()
        .map(|f| FormatModifier {
            format: f.code as u32,
            modifier: u64::from(f.modifier),
            scanout: false,
        })
        .collect()
}

/// The pairs a GLES renderer imports only as external textures
/// (`GL_TEXTURE_EXTERNAL_OES`): those EGL flags `external_only` in
/// `eglQueryDmaBufModifiersEXT`, typically YUV formats the driver samples
/// through its own conversion. Smithay keeps them out of its render
/// formats, so they are the texture formats that are not render formats.
/// They stay in [`renderer_import_formats`]: the compositor only samples
/// what it composites, which an external texture allows. A driver that
/// reports no modifiers (Mesa's `kms_swrast`) lists only the implicit
/// modifier, for which EGL has no `external_only` flag: then this is empty.
///
/// ```no_run
/// # fn demo(renderer: &smithay::backend::renderer::gles::GlesRenderer) {
/// for p in accord_smithay::kms::gles_external_only(renderer) {
///     println!("{} external only", accord_engine::formats::name(p.format));
/// }
/// # }
/// ```
pub fn gles_external_only(renderer: &GlesRenderer) -> Vec<FormatModifier> {
    let egl = renderer.egl_context();
    let render = egl.dmabuf_render_formats();
    egl.dmabuf_texture_formats()
        .iter()
        .filter(|f| !render.contains(f))
        .map(|f| FormatModifier {
            format: f.code as u32,
            modifier: u64::from(f.modifier),
            scanout: false,
        })
        .collect()
}

/// The Pixman renderer's import pairs (all LINEAR: Pixman reads memory with
/// the CPU). Pixman needs no device, so this works on any machine.
///
/// ```
/// let pairs = accord_smithay::kms::pixman_import_formats().unwrap();
/// assert!(pairs.iter().all(|p| p.modifier == accord_engine::MOD_LINEAR));
/// ```
pub fn pixman_import_formats() -> Result<Vec<FormatModifier>, String> {
    let renderer =
        PixmanRenderer::new().map_err(|e| format!("cannot create a Pixman renderer: {e}"))?;
    Ok(renderer_import_formats(&renderer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use accord_engine::MOD_LINEAR;

    #[test]
    fn pixman_imports_linear_xrgb_and_argb() {
        let pairs = pixman_import_formats().unwrap();
        for code in [*b"XR24", *b"AR24"] {
            let format = u32::from_le_bytes(code);
            assert!(
                pairs.iter().any(|p| p.format == format),
                "{} missing",
                accord_engine::formats::name(format)
            );
        }
        assert!(pairs.iter().all(|p| p.modifier == MOD_LINEAR && !p.scanout));
    }
}
