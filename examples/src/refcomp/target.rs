//! Where the compositor's output goes: one trait per rendering target, so the
//! headless image and a DRM/KMS scanout share the same compositor state.

use smithay::{
    backend::{
        allocator::Fourcc,
        renderer::{
            pixman::{PixmanRenderer, PixmanTarget},
            ExportMem, ImportDma,
        },
    },
    output::{Mode, PhysicalProperties},
    utils::{Buffer as BufferCoords, Rectangle, Size},
    wayland::dmabuf::{DmabufFeedback, DmabufFeedbackBuilder},
};

use super::{Error, Screenshot};

/// Renders the scene into a framebuffer; receives the framebuffer's age
/// (0: unknown contents, n: contents of n frames ago).
pub type DrawFn<'a> =
    dyn FnMut(&mut PixmanRenderer, &mut PixmanTarget<'_>, usize) -> Result<(), Error> + 'a;

/// A rendering target for the one output of the reference compositor.
pub trait OutputTarget {
    /// The `wl_output` name, e.g. `HEADLESS-1` or the connector name.
    fn output_name(&self) -> String;

    /// The output's current mode (size in pixels, refresh in mHz).
    fn mode(&self) -> Mode;

    /// The `wl_output` make/model.
    fn physical_properties(&self) -> PhysicalProperties;

    /// Default feedback for `zwp_linux_dmabuf_v1`. Headless has no device, so
    /// the main device is 0 and the only tranche is the renderer's formats; a
    /// KMS target overrides this with its device and a scanout tranche.
    fn dmabuf_feedback(&self, renderer: &PixmanRenderer) -> std::io::Result<DmabufFeedback> {
        DmabufFeedbackBuilder::new(0, renderer.dmabuf_formats()).build()
    }

    /// Binds the next framebuffer, calls `draw` on it and presents it.
    fn render_frame(
        &mut self,
        renderer: &mut PixmanRenderer,
        draw: &mut DrawFn<'_>,
    ) -> Result<(), Error>;

    /// Reads back the last presented frame.
    fn read_pixels(&mut self, renderer: &mut PixmanRenderer) -> Result<Screenshot, Error>;
}

/// Copies `size` pixels of `framebuffer` out as RGBA8 (DRM `ABGR8888` is
/// R, G, B, A in memory on little-endian machines).
pub fn read_framebuffer(
    renderer: &mut PixmanRenderer,
    framebuffer: &PixmanTarget<'_>,
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
