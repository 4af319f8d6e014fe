//! The renderers the reference compositor composes with: Pixman (the CPU,
//! LINEAR RGB only) and GLES (EGL: Mesa's llvmpipe on a software device
//! headless, the card's GBM device on KMS). The rest of the compositor is
//! written once against [`FrameRenderer`]; what differs between the two is
//! here: how a foreign buffer's bytes (Accord's memfd buffers) are drawn,
//! and whether drawing a CPU buffer copies it (a GLES texture upload does;
//! Pixman reads the memory where it is).

use smithay::{
    backend::allocator::{dmabuf::Dmabuf, Buffer as _, Fourcc},
    backend::renderer::{
        gles::{
            ffi, GlesError, GlesFrame, GlesRenderer, GlesTexProgram, GlesTexture, Uniform,
            UniformName, UniformType, UniformValue,
        },
        pixman::{PixmanError, PixmanFrame, PixmanRenderer, PixmanTexture},
        ExportMem, Frame, ImportAll, ImportDma, ImportMem, Renderer, RendererSuper, Texture,
    },
    utils::{Buffer as BufferCoords, Physical, Rectangle, Transform},
};

use super::foreign::{wrap, ForeignLayout};
use super::yuv::{self, Conversion, YuvPlanes};

/// Which renderer composes (`--renderer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RendererKind {
    Pixman,
    Gles,
}

impl RendererKind {
    pub fn name(self) -> &'static str {
        match self {
            RendererKind::Pixman => "pixman",
            RendererKind::Gles => "gles",
        }
    }
}

impl std::str::FromStr for RendererKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "pixman" => Ok(RendererKind::Pixman),
            "gles" => Ok(RendererKind::Gles),
            other => Err(format!(
                "unknown renderer {other:?}: expected gles or pixman"
            )),
        }
    }
}

/// Lends a foreign buffer's bytes and layout to the closure it is given;
/// false if the buffer cannot be mapped (`ForeignBuffers::with_pixels`).
pub type LendPixels<'a> = dyn FnMut(&mut dyn FnMut(&[u8], ForeignLayout)) -> bool + 'a;

/// A renderer the reference compositor can compose with.
pub trait FrameRenderer:
    RendererSuper<TextureId: Texture + Clone + Send + 'static, Error: Send + Sync + 'static>
    + Renderer
    + ImportAll
    + ImportMem
    + ImportDma
    + ExportMem
    + Sized
    + 'static
{
    const KIND: RendererKind;

    /// Makes `layout`'s pixels of `bytes` (checked against them first)
    /// ready to draw, once per commit: nothing for Pixman, which wraps the
    /// mapping when it draws; a texture for GLES. The bytes it copied.
    fn prepare_foreign(
        &mut self,
        bytes: &[u8],
        layout: ForeignLayout,
    ) -> Result<(Option<Self::TextureId>, u64), Self::Error>;

    /// Draws a prepared foreign buffer; `pixels` lends its bytes again
    /// (Pixman reads them here, GLES already has its texture).
    #[allow(clippy::too_many_arguments)] // a RenderElement::draw plus the buffer
    fn draw_foreign(
        frame: &mut Self::Frame<'_, '_>,
        prepared: Option<&Self::TextureId>,
        pixels: &mut LendPixels<'_>,
        src: Rectangle<f64, BufferCoords>,
        dst: Rectangle<i32, Physical>,
        damage: &[Rectangle<i32, Physical>],
        opaque_regions: &[Rectangle<i32, Physical>],
        transform: Transform,
    ) -> Result<(), Self::Error>;

    /// Whether drawing a `wl_shm` buffer copies it (a texture upload).
    fn uploads_shm() -> bool;

    /// Prepares a YUV dma-buf this renderer converts itself (`yuv.rs`):
    /// its planes as textures; `Ok(None)` leaves it to smithay's import.
    fn prepare_yuv(
        &mut self,
        dmabuf: &Dmabuf,
    ) -> Result<Option<YuvPlanes<Self::TextureId>>, Self::Error>;

    /// Draws prepared YUV planes converted with `conversion`.
    #[allow(clippy::too_many_arguments)] // a RenderElement::draw plus the planes
    fn draw_yuv(
        frame: &mut Self::Frame<'_, '_>,
        planes: &YuvPlanes<Self::TextureId>,
        conversion: &Conversion,
        src: Rectangle<f64, BufferCoords>,
        dst: Rectangle<i32, Physical>,
        damage: &[Rectangle<i32, Physical>],
        opaque_regions: &[Rectangle<i32, Physical>],
        transform: Transform,
    ) -> Result<(), Self::Error>;
}

impl FrameRenderer for PixmanRenderer {
    const KIND: RendererKind = RendererKind::Pixman;

    fn prepare_foreign(
        &mut self,
        bytes: &[u8],
        layout: ForeignLayout,
    ) -> Result<(Option<PixmanTexture>, u64), PixmanError> {
        wrap(bytes, layout).map(|_| (None, 0))
    }

    fn draw_foreign(
        frame: &mut PixmanFrame<'_, '_>,
        _prepared: Option<&PixmanTexture>,
        pixels: &mut LendPixels<'_>,
        src: Rectangle<f64, BufferCoords>,
        dst: Rectangle<i32, Physical>,
        damage: &[Rectangle<i32, Physical>],
        opaque_regions: &[Rectangle<i32, Physical>],
        transform: Transform,
    ) -> Result<(), PixmanError> {
        let mut result = Err(PixmanError::ImportFailed);
        pixels(&mut |bytes, layout| {
            result = wrap(bytes, layout).and_then(|image| {
                // The texture borrows `bytes`: it is used and dropped inside
                // this call (Pixman composites synchronously). No copy.
                let texture = PixmanTexture::from(image);
                frame.render_texture_from_to(
                    &texture,
                    src,
                    dst,
                    damage,
                    opaque_regions,
                    transform,
                    1.0,
                )
            });
        });
        result
    }

    fn uploads_shm() -> bool {
        false
    }

    /// Pixman imports no YUV.
    fn prepare_yuv(
        &mut self,
        _dmabuf: &Dmabuf,
    ) -> Result<Option<YuvPlanes<PixmanTexture>>, PixmanError> {
        Ok(None)
    }

    fn draw_yuv(
        _frame: &mut PixmanFrame<'_, '_>,
        _planes: &YuvPlanes<PixmanTexture>,
        _conversion: &Conversion,
        _src: Rectangle<f64, BufferCoords>,
        _dst: Rectangle<i32, Physical>,
        _damage: &[Rectangle<i32, Physical>],
        _opaque_regions: &[Rectangle<i32, Physical>],
        _transform: Transform,
    ) -> Result<(), PixmanError> {
        Err(PixmanError::ImportFailed)
    }
}

impl FrameRenderer for GlesRenderer {
    const KIND: RendererKind = RendererKind::Gles;

    /// Uploads the pixels into a texture: a CPU copy, counted by the caller.
    fn prepare_foreign(
        &mut self,
        bytes: &[u8],
        layout: ForeignLayout,
    ) -> Result<(Option<GlesTexture>, u64), GlesError> {
        // The same bounds checks as Pixman's wrapping; the image is not used.
        wrap(bytes, layout).map_err(|_| GlesError::UnexpectedSize)?;
        let fourcc = Fourcc::try_from(layout.fourcc).map_err(|_| GlesError::UnexpectedSize)?;
        let row = layout.width as usize * 4;
        // Tightly packed rows for the upload: the client's stride may pad.
        let mut packed = Vec::with_capacity(row * layout.height as usize);
        for y in 0..layout.height as usize {
            let start = layout.offset + y * layout.stride;
            packed.extend_from_slice(&bytes[start..start + row]);
        }
        let size = (layout.width as i32, layout.height as i32).into();
        let texture = self.import_memory(&packed, fourcc, size, false)?;
        Ok((Some(texture), packed.len() as u64))
    }

    fn draw_foreign(
        frame: &mut GlesFrame<'_, '_>,
        prepared: Option<&GlesTexture>,
        _pixels: &mut LendPixels<'_>,
        src: Rectangle<f64, BufferCoords>,
        dst: Rectangle<i32, Physical>,
        damage: &[Rectangle<i32, Physical>],
        opaque_regions: &[Rectangle<i32, Physical>],
        transform: Transform,
    ) -> Result<(), GlesError> {
        let texture = prepared.ok_or(GlesError::UnexpectedSize)?;
        frame.render_texture_from_to(
            texture,
            src,
            dst,
            damage,
            opaque_regions,
            transform,
            1.0,
            None,
            &[],
        )
    }

    fn uploads_shm() -> bool {
        true
    }

    /// NV12: its planes imported as `R8` and `GR88` dma-bufs (no copy),
    /// and the conversion shader compiled (`yuv.rs`).
    fn prepare_yuv(
        &mut self,
        dmabuf: &Dmabuf,
    ) -> Result<Option<YuvPlanes<GlesTexture>>, GlesError> {
        if !yuv::converts(dmabuf.format().code) {
            return Ok(None);
        }
        let (y, uv) = yuv::plane_dmabufs(dmabuf).ok_or(GlesError::UnexpectedSize)?;
        // smithay's rule for an external texture (`import_dmabuf`).
        let uv_external = !self
            .egl_context()
            .dmabuf_render_formats()
            .contains(&uv.format());
        let y = self.import_dmabuf(&y, None)?;
        let uv = self.import_dmabuf(&uv, None)?;
        yuv_program(self, uv_external)?;
        Ok(Some(YuvPlanes { y, uv, uv_external }))
    }

    fn draw_yuv(
        frame: &mut GlesFrame<'_, '_>,
        planes: &YuvPlanes<GlesTexture>,
        conversion: &Conversion,
        src: Rectangle<f64, BufferCoords>,
        dst: Rectangle<i32, Physical>,
        damage: &[Rectangle<i32, Physical>],
        opaque_regions: &[Rectangle<i32, Physical>],
        transform: Transform,
    ) -> Result<(), GlesError> {
        let target = if planes.uv_external {
            ffi::TEXTURE_EXTERNAL_OES
        } else {
            ffi::TEXTURE_2D
        };
        // The CbCr plane on unit 1 (smithay binds `tex` on unit 0 and
        // leaves unit 1 alone); unbound again after the draw.
        let uv = planes.uv.tex_id();
        frame.with_context(|gl| unsafe {
            gl.ActiveTexture(ffi::TEXTURE1);
            gl.BindTexture(target, uv);
            gl.TexParameteri(target, ffi::TEXTURE_MIN_FILTER, ffi::LINEAR as i32);
            gl.TexParameteri(target, ffi::TEXTURE_MAG_FILTER, ffi::LINEAR as i32);
            gl.ActiveTexture(ffi::TEXTURE0);
        })?;
        let program = frame
            .egl_context()
            .user_data()
            .get::<YuvPrograms>()
            .and_then(|p| p.0.borrow()[usize::from(planes.uv_external)].clone())
            .ok_or(GlesError::ShaderCompileError)?;
        let [o0, o1, o2] = conversion.offset;
        let result = frame.render_texture_from_to(
            &planes.y,
            src,
            dst,
            damage,
            opaque_regions,
            transform,
            1.0,
            Some(&program),
            &[
                Uniform::new("tex_uv", UniformValue::_1i(1)),
                Uniform::new(
                    "yuv_matrix",
                    UniformValue::Matrix3x3 {
                        matrices: vec![conversion.matrix],
                        transpose: false,
                    },
                ),
                Uniform::new("yuv_offset", UniformValue::_3f(o0, o1, o2)),
            ],
        );
        frame.with_context(|gl| unsafe {
            gl.ActiveTexture(ffi::TEXTURE1);
            gl.BindTexture(target, 0);
            gl.ActiveTexture(ffi::TEXTURE0);
        })?;
        result
    }
}

/// The conversion shaders, compiled once per EGL context (kept in its user
/// data): one per kind of CbCr sampler.
#[derive(Default)]
struct YuvPrograms(std::cell::RefCell<[Option<GlesTexProgram>; 2]>);

fn yuv_program(
    renderer: &mut GlesRenderer,
    uv_external: bool,
) -> Result<GlesTexProgram, GlesError> {
    let i = usize::from(uv_external);
    let cached = renderer
        .egl_context()
        .user_data()
        .get::<YuvPrograms>()
        .and_then(|p| p.0.borrow()[i].clone());
    if let Some(program) = cached {
        return Ok(program);
    }
    let program = renderer.compile_custom_texture_shader(
        yuv::shader_source(uv_external),
        &[
            UniformName::new("tex_uv", UniformType::_1i),
            UniformName::new("yuv_matrix", UniformType::Matrix3x3),
            UniformName::new("yuv_offset", UniformType::_3f),
        ],
    )?;
    let data = renderer.egl_context().user_data();
    data.insert_if_missing(YuvPrograms::default);
    if let Some(p) = data.get::<YuvPrograms>() {
        p.0.borrow_mut()[i] = Some(program.clone());
    }
    Ok(program)
}
