//! YUV collection buffers composited by GLES in the colour space their
//! collection negotiated.
//!
//! Why not EGL's own YUV import: smithay 0.7 imports an NV12 dma-buf as one
//! EGL image (an external texture where EGL says so) and passes no
//! `EGL_YUV_COLOR_SPACE_HINT_EXT` / `EGL_SAMPLE_RANGE_HINT_EXT` attribute
//! (`EGLDisplay::create_image_from_dmabuf` builds the attribute list
//! itself), so the driver picks the matrix, whatever the buffer holds.
//! Measured on Mesa 22.3's `kms_swrast` (llvmpipe on virtio-gpu): that
//! image imports, and sampling it through smithay's external texture
//! reads black, so there smithay's path shows no NV12 at all.
//!
//! What this module does instead, for two-plane 4:2:0 formats (NV12):
//! - each plane becomes its own single-plane dma-buf over the same memory
//!   (dup'd fds, the plane's offset and stride): the Y plane as `R8` at
//!   the buffer's size, the CbCr plane as `GR88` at half size (byte 0 is
//!   Cb, read as red; byte 1 Cr, read as green). Both are imported through
//!   smithay like any dma-buf: no copy.
//! - a texture shader of the compositor's ([`SHADER`], smithay's custom
//!   texture shader) samples both and converts with the matrix and range
//!   of the negotiated colour space ([`Conversion`]): BT.601, BT.709 or
//!   BT.2020, limited or full range. BT.2100 (PQ, HLG) uses the BT.2020
//!   matrix, limited range, with no transfer function or tone mapping
//!   (the output is SDR). Without a negotiated colour space (no
//!   participant listed one), BT.601 limited, the common default.
//!
//! Smithay still imports the whole buffer for its surface element (which
//! gives geometry, damage and the buffer for direct scanout); the planes
//! are imported once per buffer beside it (cached per `Dmabuf`, dropped
//! with it), and the element's drawing is this module's.
//!
//! So the compositor, not the driver, controls the conversion; it is the
//! same on every GLES driver that imports `R8` and `GR88` dma-bufs. A
//! renderer without the planes' formats (or Pixman, which imports no YUV)
//! leaves the buffer to smithay's own path.

use std::collections::HashMap;

use accord_engine::ColorSpace;
use smithay::{
    backend::{
        allocator::{
            dmabuf::{Dmabuf, DmabufFlags, WeakDmabuf},
            Buffer as _, Fourcc,
        },
        renderer::{
            element::{
                surface::WaylandSurfaceRenderElement, Element, Id, Kind, RenderElement,
                UnderlyingStorage,
            },
            utils::{CommitCounter, DamageSet, OpaqueRegions},
            ImportAll, Renderer,
        },
    },
    utils::{Buffer as BufferCoords, Physical, Point, Rectangle, Scale, Transform},
};

use super::renderer::FrameRenderer;

/// A YCbCr-to-RGB conversion on normalised texture values:
/// `rgb = matrix * (yuv - offset)`, `matrix` column-major (GLSL's `mat3`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Conversion {
    pub matrix: [f32; 9],
    pub offset: [f32; 3],
    /// What it is, for logs.
    pub name: &'static str,
}

impl Conversion {
    /// The conversion for a buffer of colour space `cs` (`None`: nobody
    /// listed one).
    pub fn for_color_space(cs: Option<ColorSpace>) -> Self {
        // (Kr, Kb) of each matrix; range: limited or full.
        let (name, (kr, kb), full) = match cs {
            Some(ColorSpace::BT601_FULL) => ("bt601_full", BT601, true),
            Some(ColorSpace::BT709) => ("bt709", BT709, false),
            Some(ColorSpace::BT709_FULL) => ("bt709_full", BT709, true),
            Some(ColorSpace::BT2020) => ("bt2020", BT2020, false),
            Some(ColorSpace::BT2020_FULL) => ("bt2020_full", BT2020, true),
            Some(ColorSpace::BT2100_PQ) => ("bt2100_pq as bt2020 (no PQ)", BT2020, false),
            Some(ColorSpace::BT2100_HLG) => ("bt2100_hlg as bt2020 (no HLG)", BT2020, false),
            Some(ColorSpace::BT601) => ("bt601", BT601, false),
            _ => ("bt601 (default)", BT601, false),
        };
        let kg = 1.0 - kr - kb;
        // Scale of the normalised values to Y' in [0, 1] and Cb, Cr in
        // [-0.5, 0.5]: limited range spans 219 (luma) and 224 (chroma)
        // of 255 codes from 16; full range all 255.
        let (sy, sc, y0) = if full {
            (1.0, 1.0, 0.0)
        } else {
            (255.0 / 219.0, 255.0 / 224.0, 16.0 / 255.0)
        };
        let c0 = 128.0 / 255.0;
        // R = Y' + 2(1-Kr) Cr; B = Y' + 2(1-Kb) Cb;
        // G = Y' - 2Kb(1-Kb)/Kg Cb - 2Kr(1-Kr)/Kg Cr.
        let (r_cr, b_cb) = (2.0 * (1.0 - kr), 2.0 * (1.0 - kb));
        let (g_cb, g_cr) = (-2.0 * kb * (1.0 - kb) / kg, -2.0 * kr * (1.0 - kr) / kg);
        let matrix = [
            // column Y
            sy,
            sy,
            sy, // column Cb
            0.0,
            g_cb * sc,
            b_cb * sc, // column Cr
            r_cr * sc,
            g_cr * sc,
            0.0,
        ];
        Conversion {
            matrix: matrix.map(|v: f64| v as f32),
            offset: [y0 as f32, c0 as f32, c0 as f32],
            name,
        }
    }

    /// 8-bit YCbCr to 8-bit RGB, as the shader computes it (clamped,
    /// rounded): the reference for tests.
    pub fn rgb(&self, y: u8, cb: u8, cr: u8) -> [u8; 3] {
        let v = [y, cb, cr].map(|c| f32::from(c) / 255.0);
        let d = [0, 1, 2].map(|i| v[i] - self.offset[i]);
        let m = &self.matrix;
        [0, 1, 2].map(|row| {
            let x = m[row] * d[0] + m[3 + row] * d[1] + m[6 + row] * d[2];
            (x.clamp(0.0, 1.0) * 255.0).round() as u8
        })
    }
}

const BT601: (f64, f64) = (0.299, 0.114);
const BT709: (f64, f64) = (0.2126, 0.0722);
const BT2020: (f64, f64) = (0.2627, 0.0593);

/// The fragment shader (smithay's custom texture shader contract: `tex`,
/// `alpha`, `v_coords`, the `//_DEFINES_` line; `EXTERNAL` for an external
/// Y texture). `UV_EXTERNAL` is this module's: the CbCr texture is
/// external too (added to the source before smithay compiles it).
pub const SHADER: &str = r#"#version 100

//_DEFINES_

#if defined(EXTERNAL) || defined(UV_EXTERNAL)
#extension GL_OES_EGL_image_external : require
#endif

precision highp float;
#if defined(EXTERNAL)
uniform samplerExternalOES tex;
#else
uniform sampler2D tex;
#endif
#if defined(UV_EXTERNAL)
uniform samplerExternalOES tex_uv;
#else
uniform sampler2D tex_uv;
#endif

uniform float alpha;
uniform mat3 yuv_matrix;
uniform vec3 yuv_offset;
varying vec2 v_coords;

#if defined(DEBUG_FLAGS)
uniform float tint;
#endif

void main() {
    vec3 yuv = vec3(texture2D(tex, v_coords).r, texture2D(tex_uv, v_coords).rg);
    vec3 rgb = clamp(yuv_matrix * (yuv - yuv_offset), 0.0, 1.0);
    vec4 color = vec4(rgb, 1.0) * alpha;
#if defined(DEBUG_FLAGS)
    if (tint == 1.0)
        color = vec4(0.0, 0.2, 0.0, 0.2) + color * 0.8;
#endif
    gl_FragColor = color;
}
"#;

/// The shader's source with the CbCr sampler external or not.
pub fn shader_source(uv_external: bool) -> String {
    if uv_external {
        SHADER.replacen("//_DEFINES_", "#define UV_EXTERNAL\n//_DEFINES_", 1)
    } else {
        SHADER.to_string()
    }
}

/// Formats this module converts: two-plane 4:2:0 with 8-bit samples.
pub fn converts(format: Fourcc) -> bool {
    format == Fourcc::Nv12
}

/// The two single-plane dma-bufs over an NV12 buffer's planes: Y as `R8`
/// (full size), CbCr as `GR88` (half size, rounded up), with the buffer's
/// modifier. `None` for another format or a failed fd dup.
pub fn plane_dmabufs(nv12: &Dmabuf) -> Option<(Dmabuf, Dmabuf)> {
    if !converts(nv12.format().code) || nv12.num_planes() != 2 {
        return None;
    }
    let size = nv12.size();
    let modifier = nv12.format().modifier;
    let half = ((size.w + 1) / 2, (size.h + 1) / 2);
    let planes: Vec<_> = nv12
        .handles()
        .zip(nv12.offsets())
        .zip(nv12.strides())
        .collect();
    let one = |i: usize, (w, h): (i32, i32), format| {
        let ((fd, offset), stride) = planes[i];
        let mut b = Dmabuf::builder((w, h), format, modifier, DmabufFlags::empty());
        b.add_plane(fd.try_clone_to_owned().ok()?, 0, offset, stride);
        b.build()
    };
    Some((
        one(0, (size.w, size.h), Fourcc::R8)?,
        one(1, half, Fourcc::Gr88)?,
    ))
}

/// Prepared planes per YUV buffer, dropped once the buffer is gone.
pub struct YuvCache<P> {
    entries: HashMap<WeakDmabuf, P>,
}

impl<P> Default for YuvCache<P> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
        }
    }
}

impl<P: Clone> YuvCache<P> {
    /// `dmabuf`'s prepared planes, preparing them on first use.
    pub fn get_or_prepare<E>(
        &mut self,
        dmabuf: &Dmabuf,
        prepare: impl FnOnce() -> Result<P, E>,
    ) -> Result<P, E> {
        if let Some(p) = self.entries.get(&dmabuf.weak()) {
            return Ok(p.clone());
        }
        let p = prepare()?;
        self.entries.insert(dmabuf.weak(), p.clone());
        Ok(p)
    }

    /// Forgets the planes of buffers that are gone.
    pub fn prune(&mut self) {
        self.entries.retain(|weak, _| !weak.is_gone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference values: the 75% colour bars of ITU-R BT.801 (BT.601
    /// limited) and their BT.709 counterparts, computed by hand from the
    /// standards' equations.
    #[test]
    fn known_values() {
        let bt601 = Conversion::for_color_space(Some(ColorSpace::BT601));
        let bt709 = Conversion::for_color_space(Some(ColorSpace::BT709));
        let full709 = Conversion::for_color_space(Some(ColorSpace::BT709_FULL));
        // Black and white at the limited range's ends.
        assert_eq!(bt601.rgb(16, 128, 128), [0, 0, 0]);
        assert_eq!(bt601.rgb(235, 128, 128), [255, 255, 255]);
        assert_eq!(bt709.rgb(235, 128, 128), [255, 255, 255]);
        assert_eq!(full709.rgb(255, 128, 128), [255, 255, 255]);
        assert_eq!(full709.rgb(16, 128, 128), [16, 16, 16]);
        // BT.601 limited red: Y 81, Cb 90, Cr 240 is (255, 0, 0) within 1.
        let red = bt601.rgb(81, 90, 240);
        assert!(red[0] >= 254 && red[1] <= 1 && red[2] <= 1, "{red:?}");
        // BT.709 limited red: Y 63, Cb 102, Cr 240.
        let red = bt709.rgb(63, 102, 240);
        assert!(red[0] >= 254 && red[1] <= 1 && red[2] <= 1, "{red:?}");
        // The same code read with the other matrix is visibly another colour.
        let a = bt601.rgb(63, 102, 240);
        let b = bt709.rgb(63, 102, 240);
        assert!(
            a.iter().zip(b).any(|(x, y)| x.abs_diff(y) > 20),
            "{a:?} vs {b:?}"
        );
    }

    #[test]
    fn defaults_and_shader_variants() {
        assert_eq!(
            Conversion::for_color_space(None).matrix,
            Conversion::for_color_space(Some(ColorSpace::BT601)).matrix
        );
        assert!(shader_source(true).contains("#define UV_EXTERNAL\n//_DEFINES_"));
        assert!(!shader_source(false).contains("#define UV_EXTERNAL"));
    }
}

/// A surface showing a YUV buffer the renderer converts itself: smithay's
/// element for everything but drawing (geometry, damage, the client's
/// buffer for direct scanout), which converts the prepared planes.
pub struct YuvElement<R: Renderer> {
    inner: WaylandSurfaceRenderElement<R>,
    planes: YuvPlanes<R::TextureId>,
    conversion: Conversion,
}

/// A YUV buffer's planes as textures of a renderer: luma, and chroma
/// (CbCr) on an external texture or not.
#[derive(Clone)]
pub struct YuvPlanes<T> {
    pub y: T,
    pub uv: T,
    pub uv_external: bool,
}

impl<R: Renderer> YuvElement<R> {
    pub fn new(
        inner: WaylandSurfaceRenderElement<R>,
        planes: YuvPlanes<R::TextureId>,
        conversion: Conversion,
    ) -> Self {
        Self {
            inner,
            planes,
            conversion,
        }
    }
}

impl<R: Renderer + ImportAll> Element for YuvElement<R> {
    super::render::delegate_element_to_inner!();
}

impl<R: FrameRenderer> RenderElement<R> for YuvElement<R> {
    fn draw(
        &self,
        frame: &mut R::Frame<'_, '_>,
        src: Rectangle<f64, BufferCoords>,
        dst: Rectangle<i32, Physical>,
        damage: &[Rectangle<i32, Physical>],
        opaque_regions: &[Rectangle<i32, Physical>],
    ) -> Result<(), R::Error> {
        R::draw_yuv(
            frame,
            &self.planes,
            &self.conversion,
            src,
            dst,
            damage,
            opaque_regions,
            self.inner.transform(),
        )
    }

    fn underlying_storage(&self, renderer: &mut R) -> Option<UnderlyingStorage<'_>> {
        self.inner.underlying_storage(renderer)
    }
}
