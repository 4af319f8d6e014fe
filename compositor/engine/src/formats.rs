//! Per-format plane tables for the layouts the engine computes (LINEAR and
//! INVALID), and DRM fourcc names. Codes come from `drm-fourcc`; names are the
//! `drm_fourcc.h` names without the `DRM_FORMAT_` prefix.

use std::sync::OnceLock;

use drm_fourcc::{DrmFourcc as F, DrmModifier};

use crate::{MOD_INVALID, MOD_LINEAR};

/// One plane of a format: `block_bytes` bytes per block of `block_width`
/// pixels, on a grid subsampled by `hsub` × `vsub` relative to plane 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FormatPlane {
    pub block_bytes: u32,
    pub block_width: u32,
    pub hsub: u32,
    pub vsub: u32,
}

/// A format the engine can lay out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FormatInfo {
    pub fourcc: u32,
    pub name: &'static str,
    pub planes: &'static [FormatPlane],
}

const fn gcd32(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

const fn lcm32(a: u32, b: u32) -> u32 {
    a / gcd32(a, b) * b
}

impl FormatPlane {
    /// What one sample of this plane needs: its offset and stride are
    /// multiples of this many bytes (a 2-byte CbCr pair of NV12, the
    /// 4-byte Y0CbY1Cr macropixel of YUYV). sysmem's
    /// `ImageFormatSampleAlignment` (`image_format.cc`); 3-byte pixels
    /// need no alignment.
    pub const fn sample_alignment(&self) -> u32 {
        if self.block_bytes.is_power_of_two() {
            self.block_bytes
        } else {
            1
        }
    }
}

impl FormatInfo {
    /// The coded size's block: a width and a height that are multiples of
    /// these give every plane whole samples (4:2:0 needs an even width and
    /// height, 4:2:2 and YUYV an even width). sysmem's
    /// `ImageFormatCodedWidthMinDivisor` / `ImageFormatCodedHeightMinDivisor`
    /// (`image_format.cc`).
    pub const fn block(&self) -> (u32, u32) {
        let (mut w, mut h) = (1, 1);
        let mut i = 0;
        while i < self.planes.len() {
            let p = self.planes[i];
            w = lcm32(w, p.hsub * p.block_width);
            h = lcm32(h, p.vsub);
            i += 1;
        }
        (w, h)
    }

    /// Plane `i`'s stride as a fraction (numerator, denominator) of plane
    /// 0's: the fixed relationship sysmem keeps (`ImageFormatPlaneRowBytes`:
    /// NV12's CbCr rows as long as the Y rows, I420's Cb and Cr rows half
    /// as long), which is also what V4L2's single-plane YUV formats
    /// require of `bytesperline`.
    pub const fn stride_ratio(&self, i: usize) -> (u32, u32) {
        let p0 = self.planes[0];
        let p = self.planes[i];
        let num = p.block_bytes * p0.block_width;
        let den = p.block_width * p.hsub * p0.block_bytes;
        let g = gcd32(num, den);
        (num / g, den / g)
    }

    /// Average bits per pixel over all planes, times 4 (so 4:2:0 and packed
    /// 4:2:2 stay integers). Used by the ranking policy ("fewer bytes").
    pub fn bits_per_pixel_x4(&self) -> u32 {
        self.planes
            .iter()
            .map(|p| p.block_bytes * 8 * 4 / (p.block_width * p.hsub * p.vsub))
            .sum()
    }
}

const fn px(bytes: u32) -> FormatPlane {
    FormatPlane {
        block_bytes: bytes,
        block_width: 1,
        hsub: 1,
        vsub: 1,
    }
}

const fn sub(bytes: u32, hsub: u32, vsub: u32) -> FormatPlane {
    FormatPlane {
        block_bytes: bytes,
        block_width: 1,
        hsub,
        vsub,
    }
}

/// Packed 4:2:2 (YUYV and friends): 4 bytes per 2 pixels.
const PACKED_422: FormatPlane = FormatPlane {
    block_bytes: 4,
    block_width: 2,
    hsub: 1,
    vsub: 1,
};

const P8: &[FormatPlane] = &[px(1)];
const P16: &[FormatPlane] = &[px(2)];
const P24: &[FormatPlane] = &[px(3)];
const P32: &[FormatPlane] = &[px(4)];
const P64: &[FormatPlane] = &[px(8)];
const YUYV: &[FormatPlane] = &[PACKED_422];
const NV420: &[FormatPlane] = &[px(1), sub(2, 2, 2)];
const NV422: &[FormatPlane] = &[px(1), sub(2, 2, 1)];
const NV444: &[FormatPlane] = &[px(1), sub(2, 1, 1)];
const P420_16: &[FormatPlane] = &[px(2), sub(4, 2, 2)];
const P422_16: &[FormatPlane] = &[px(2), sub(4, 2, 1)];
const YUV420: &[FormatPlane] = &[px(1), sub(1, 2, 2), sub(1, 2, 2)];
const YUV422: &[FormatPlane] = &[px(1), sub(1, 2, 1), sub(1, 2, 1)];
const YUV444: &[FormatPlane] = &[px(1), px(1), px(1)];

macro_rules! table {
    ($($name:literal $variant:ident $planes:ident,)*) => {
        static TABLE: &[FormatInfo] = &[
            $(FormatInfo { fourcc: F::$variant as u32, name: $name, planes: $planes },)*
        ];
    };
}

table! {
    "C8" C8 P8,
    "R8" R8 P8,
    "RGB332" Rgb332 P8,
    "BGR233" Bgr233 P8,
    "R16" R16 P16,
    "RG88" Rg88 P16,
    "GR88" Gr88 P16,
    "RGB565" Rgb565 P16,
    "BGR565" Bgr565 P16,
    "XRGB1555" Xrgb1555 P16,
    "ARGB1555" Argb1555 P16,
    "XBGR1555" Xbgr1555 P16,
    "ABGR1555" Abgr1555 P16,
    "RGBX5551" Rgbx5551 P16,
    "RGBA5551" Rgba5551 P16,
    "BGRX5551" Bgrx5551 P16,
    "BGRA5551" Bgra5551 P16,
    "XRGB4444" Xrgb4444 P16,
    "ARGB4444" Argb4444 P16,
    "XBGR4444" Xbgr4444 P16,
    "ABGR4444" Abgr4444 P16,
    "RGBX4444" Rgbx4444 P16,
    "RGBA4444" Rgba4444 P16,
    "BGRX4444" Bgrx4444 P16,
    "BGRA4444" Bgra4444 P16,
    "RGB888" Rgb888 P24,
    "BGR888" Bgr888 P24,
    "XRGB8888" Xrgb8888 P32,
    "ARGB8888" Argb8888 P32,
    "XBGR8888" Xbgr8888 P32,
    "ABGR8888" Abgr8888 P32,
    "RGBX8888" Rgbx8888 P32,
    "RGBA8888" Rgba8888 P32,
    "BGRX8888" Bgrx8888 P32,
    "BGRA8888" Bgra8888 P32,
    "XRGB2101010" Xrgb2101010 P32,
    "ARGB2101010" Argb2101010 P32,
    "XBGR2101010" Xbgr2101010 P32,
    "ABGR2101010" Abgr2101010 P32,
    "RGBX1010102" Rgbx1010102 P32,
    "RGBA1010102" Rgba1010102 P32,
    "BGRX1010102" Bgrx1010102 P32,
    "BGRA1010102" Bgra1010102 P32,
    "RG1616" Rg1616 P32,
    "GR1616" Gr1616 P32,
    "XRGB16161616F" Xrgb16161616f P64,
    "ARGB16161616F" Argb16161616f P64,
    "XBGR16161616F" Xbgr16161616f P64,
    "ABGR16161616F" Abgr16161616f P64,
    "YUYV" Yuyv YUYV,
    "YVYU" Yvyu YUYV,
    "UYVY" Uyvy YUYV,
    "VYUY" Vyuy YUYV,
    "AYUV" Ayuv P32,
    "XYUV8888" Xyuv8888 P32,
    "NV12" Nv12 NV420,
    "NV21" Nv21 NV420,
    "NV16" Nv16 NV422,
    "NV61" Nv61 NV422,
    "NV24" Nv24 NV444,
    "NV42" Nv42 NV444,
    "P010" P010 P420_16,
    "P012" P012 P420_16,
    "P016" P016 P420_16,
    "P210" P210 P422_16,
    "YUV420" Yuv420 YUV420,
    "YVU420" Yvu420 YUV420,
    "YUV422" Yuv422 YUV422,
    "YVU422" Yvu422 YUV422,
    "YUV444" Yuv444 YUV444,
    "YVU444" Yvu444 YUV444,
}

/// Every format with a plane table, in table order.
pub fn all() -> &'static [FormatInfo] {
    TABLE
}

/// Table indices sorted by fourcc, built once: `info` is on the solve path.
fn by_code() -> &'static [(u32, u16)] {
    static INDEX: OnceLock<Vec<(u32, u16)>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut v: Vec<(u32, u16)> = TABLE
            .iter()
            .enumerate()
            .map(|(i, f)| (f.fourcc, i as u16))
            .collect();
        v.sort_unstable();
        v
    })
}

/// The plane table of `fourcc`, if the engine knows it.
/// Is `fourcc` a YCbCr format of the table (packed 4:2:2, AYUV/XYUV,
/// semi-planar NV and P0xx/P2xx, planar YUV/YVU)?
pub fn is_yuv(fourcc: u32) -> bool {
    info(fourcc).is_some_and(|i| {
        let n = i.name;
        ["YUYV", "YVYU", "UYVY", "VYUY", "AYUV", "XYUV"]
            .iter()
            .any(|p| n.starts_with(p))
            || ["NV", "P0", "P2", "YUV", "YVU"]
                .iter()
                .any(|p| n.starts_with(p))
    })
}

pub fn info(fourcc: u32) -> Option<&'static FormatInfo> {
    let idx = by_code();
    idx.binary_search_by_key(&fourcc, |&(c, _)| c)
        .ok()
        .map(|i| &TABLE[usize::from(idx[i].1)])
}

/// A printable name: the `drm_fourcc.h` name for known formats, else the
/// four characters of the code (`"NV15"`), else hex.
pub fn name(fourcc: u32) -> String {
    if let Some(i) = info(fourcc) {
        return i.name.to_string();
    }
    let bytes = fourcc.to_le_bytes();
    if bytes.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        return String::from_utf8_lossy(&bytes).trim_end().to_string();
    }
    format!("{fourcc:#010x}")
}

/// Parse a `drm_fourcc.h` name (case-insensitive, optional `DRM_FORMAT_`
/// prefix) of a format in the table.
pub fn parse_name(s: &str) -> Option<u32> {
    let s = s.trim();
    let s = s
        .get(..11)
        .filter(|p| p.eq_ignore_ascii_case("DRM_FORMAT_"))
        .map_or(s, |_| &s[11..]);
    TABLE
        .iter()
        .find(|f| f.name.eq_ignore_ascii_case(s))
        .map(|f| f.fourcc)
}

/// `LINEAR`, `INVALID`, or the hex value with the vendor's name where
/// `drm-fourcc` knows it, for traces and messages.
pub fn modifier_name(modifier: u64) -> String {
    match modifier {
        MOD_LINEAR => "LINEAR".into(),
        MOD_INVALID => "INVALID".into(),
        m => match DrmModifier::from(m) {
            DrmModifier::Unrecognized(_) => format!("{m:#018x}"),
            known => format!("{m:#018x} ({})", format!("{known:?}").to_uppercase()),
        },
    }
}

/// Parse `LINEAR`, `INVALID` or a hex value (`0x` prefix optional).
pub fn parse_modifier(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("LINEAR") {
        return Some(MOD_LINEAR);
    }
    if s.eq_ignore_ascii_case("INVALID") {
        return Some(MOD_INVALID);
    }
    let hex = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    if hex.is_empty() || hex.len() > 16 {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_unique_and_consistent() {
        for f in TABLE {
            assert_eq!(info(f.fourcc), Some(f), "{}", f.name);
            assert_eq!(parse_name(f.name), Some(f.fourcc));
            assert_eq!(name(f.fourcc), f.name);
            assert!(!f.planes.is_empty() && f.planes.len() <= 4);
        }
        assert_eq!(by_code().len(), TABLE.len());
        assert!(
            by_code().windows(2).all(|w| w[0].0 < w[1].0),
            "duplicate fourcc"
        );
    }

    #[test]
    fn required_formats_are_present() {
        for n in [
            "ARGB8888",
            "XRGB8888",
            "ABGR8888",
            "XBGR8888",
            "RGB565",
            "XRGB2101010",
            "ARGB2101010",
            "ABGR16161616F",
            "NV12",
            "NV21",
            "NV16",
            "P010",
            "YUV420",
            "YVU420",
            "YUYV",
        ] {
            assert!(parse_name(n).is_some(), "{n}");
        }
        assert_eq!(parse_name("drm_format_nv12"), Some(F::Nv12 as u32));
        assert_eq!(parse_name("NV13"), None);
    }

    #[test]
    fn bits_per_pixel() {
        let bpp = |n| info(parse_name(n).unwrap()).unwrap().bits_per_pixel_x4() / 4;
        assert_eq!(bpp("XRGB8888"), 32);
        assert_eq!(bpp("NV12"), 12);
        assert_eq!(bpp("YUV420"), 12);
        assert_eq!(bpp("YUYV"), 16);
        assert_eq!(bpp("P010"), 24);
        assert_eq!(bpp("ABGR16161616F"), 64);
    }

    #[test]
    fn names_fall_back() {
        assert_eq!(name(F::Nv15 as u32), "NV15");
        assert_eq!(name(0), "0x00000000");
        assert_eq!(modifier_name(0), "LINEAR");
        assert_eq!(modifier_name(MOD_INVALID), "INVALID");
        assert_eq!(
            modifier_name(0x0100000000000002),
            "0x0100000000000002 (I915_Y_TILED)"
        );
        assert_eq!(
            parse_modifier("0x0100000000000002"),
            Some(0x0100000000000002)
        );
        assert_eq!(parse_modifier("linear"), Some(0));
        assert_eq!(parse_modifier("0x"), None);
        assert_eq!(parse_modifier("0x10000000000000000"), None);
    }
}
