//! Bringing up GLES: EGL on Mesa's software device headless (llvmpipe, no
//! display device: `EGL_EXT_platform_device` with
//! `EGL_MESA_device_software`), and on the card's GBM device on KMS, as
//! anvil does.

use accord_engine::formats;
use accord_smithay::kms::{gles_external_only, renderer_import_formats};
use smithay::backend::{
    allocator::{gbm::GbmDevice, Fourcc},
    drm::DrmDeviceFd,
    egl::{EGLContext, EGLDevice, EGLDisplay},
    renderer::gles::GlesRenderer,
};

use tracing::info;

use super::Error;

/// A GLES renderer on EGL's software device (llvmpipe). It renders
/// offscreen and imports no dma-buf: Mesa's software device has no
/// `EGL_EXT_image_dma_buf_import` (measured with Mesa 22.3), so client
/// buffers reach it as uploads.
pub fn software_renderer() -> Result<GlesRenderer, Error> {
    let device = EGLDevice::enumerate()
        .map_err(|e| format!("EGL: cannot list devices: {e}"))?
        .find(EGLDevice::is_software)
        .ok_or(
            "EGL: no software device (EGL_MESA_device_software; is Mesa's libegl-mesa0 installed?)",
        )?;
    // SAFETY: the device outlives nothing here; smithay keeps what it needs.
    let display = unsafe { EGLDisplay::new(device) }
        .map_err(|e| format!("EGL: cannot open the software device's display: {e}"))?;
    let context =
        EGLContext::new(&display).map_err(|e| format!("EGL: cannot create a context: {e}"))?;
    // SAFETY: the context is current only on this thread, which owns it.
    unsafe { GlesRenderer::new(context) }
        .map_err(|e| format!("GLES: cannot create the renderer: {e}").into())
}

/// A GLES renderer on the GBM device of the KMS card open as `fd` (on
/// virtio-gpu without virgl, Mesa's `kms_swrast`: llvmpipe rendering into
/// dumb buffers), as anvil's udev backend does.
///
/// Its import pairs are the compositor participant's (`Screen::renderer_formats`);
/// they are logged here with the ones EGL imports only as external textures
/// (`gles_external_only`), and whether the NV12 planes' formats (`R8`,
/// `GR88`) are there, which the compositor's own YUV conversion needs
/// (`yuv.rs`).
pub fn card_renderer(fd: DrmDeviceFd) -> Result<GlesRenderer, Error> {
    let gbm = GbmDevice::new(fd).map_err(|e| format!("GBM on the card: {e}"))?;
    // SAFETY: the GBM device is moved into the display, which keeps it.
    let display = unsafe { EGLDisplay::new(gbm) }
        .map_err(|e| format!("EGL on the card's GBM device: {e}"))?;
    let context =
        EGLContext::new(&display).map_err(|e| format!("EGL: cannot create a context: {e}"))?;
    // SAFETY: the context is current only on this thread, which owns it.
    let renderer = unsafe { GlesRenderer::new(context) }
        .map_err(|e| format!("GLES: cannot create the renderer: {e}"))?;
    let pairs = renderer_import_formats(&renderer);
    let has = |code: Fourcc| pairs.iter().any(|p| p.format == code as u32);
    let names = |list: &[accord_engine::FormatModifier]| {
        list.iter()
            .map(|p| format!("{}/{:#x}", formats::name(p.format), p.modifier))
            .collect::<Vec<_>>()
            .join(" ")
    };
    info!(
        pairs = pairs.len(),
        nv12 = has(Fourcc::Nv12),
        nv12_planes = has(Fourcc::R8) && has(Fourcc::Gr88),
        external_only = %names(&gles_external_only(&renderer)),
        imports = %names(&pairs),
        "GLES dma-buf import formats on the card"
    );
    Ok(renderer)
}
