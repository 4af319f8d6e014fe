//! Bringing up GLES: EGL on Mesa's software device headless (llvmpipe, no
//! display device: `EGL_EXT_platform_device` with
//! `EGL_MESA_device_software`), as anvil does with a real device.

use smithay::backend::{
    egl::{EGLContext, EGLDevice, EGLDisplay},
    renderer::gles::GlesRenderer,
};

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
