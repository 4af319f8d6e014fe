//! Plane layout for LINEAR and INVALID (laid out as linear) buffers. Vendor
//! modifiers get no layout here: the allocating device defines it and the
//! backend's result is verified afterwards.

use crate::formats;
use crate::math::round_up;
use crate::{Decision, Layout, PlaneLayout};

/// Everything a layout depends on besides the format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayoutParams {
    pub width: u32,
    pub height: u32,
    /// Every plane's stride is a multiple of this.
    pub stride_alignment: u64,
    /// Every plane's offset is a multiple of this.
    pub offset_alignment: u64,
    /// The total size is rounded up to this.
    pub base_alignment: u64,
    /// Minimum stride of plane 0.
    pub min_stride: u32,
    /// Maximum stride of any plane; 0 = no limit.
    pub max_stride: u32,
    /// Maximum total bytes; 0 = no limit.
    pub max_bytes: u64,
}

impl LayoutParams {
    /// No alignment and no limits.
    pub fn new(width: u32, height: u32) -> LayoutParams {
        LayoutParams {
            width,
            height,
            stride_alignment: 1,
            offset_alignment: 1,
            base_alignment: 1,
            min_stride: 0,
            max_stride: 0,
            max_bytes: 0,
        }
    }

    /// The parameters a decision was made with.
    pub fn of(d: &Decision) -> LayoutParams {
        LayoutParams {
            width: d.width,
            height: d.height,
            stride_alignment: d.stride_alignment,
            offset_alignment: d.offset_alignment,
            base_alignment: d.base_alignment,
            min_stride: d.min_stride,
            max_stride: d.max_stride,
            max_bytes: d.max_bytes,
        }
    }
}

impl std::fmt::Display for LayoutParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lim = |v: u64| {
            if v == 0 {
                "none".to_string()
            } else {
                v.to_string()
            }
        };
        write!(
            f,
            "{}x{}, stride alignment {}, offset alignment {}, base alignment {}, min stride {}, max stride {}, max bytes {}",
            self.width,
            self.height,
            self.stride_alignment,
            self.offset_alignment,
            self.base_alignment,
            self.min_stride,
            lim(u64::from(self.max_stride)),
            lim(self.max_bytes)
        )
    }
}

/// Why a layout cannot be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayoutError {
    /// The format has no plane table.
    UnknownFormat(u32),
    /// An alignment is zero.
    ZeroAlignment,
    /// A plane's stride exceeds `max_stride` (or u32).
    StrideTooLarge { plane: usize, stride: u64, max: u64 },
    /// The buffer exceeds `max_bytes` (or u64).
    TooLarge { bytes: Option<u64>, max: u64 },
}

impl std::fmt::Display for LayoutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            LayoutError::UnknownFormat(c) => {
                write!(f, "no plane table for format {}", formats::name(c))
            }
            LayoutError::ZeroAlignment => write!(f, "zero alignment"),
            LayoutError::StrideTooLarge { plane, stride, max } => {
                write!(
                    f,
                    "plane {plane} needs stride {stride}, above the maximum {max}"
                )
            }
            LayoutError::TooLarge {
                bytes: Some(b),
                max,
            } => write!(f, "needs {b} bytes per buffer, above the maximum {max}"),
            LayoutError::TooLarge { bytes: None, .. } => {
                write!(f, "size overflows 64 bits")
            }
        }
    }
}

/// At most this many planes (DRM's limit).
pub const MAX_PLANES: usize = 4;

/// A layout without allocation: the solver checks every candidate with this.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct FixedLayout {
    pub planes: [PlaneLayout; MAX_PLANES],
    pub count: usize,
    pub size_bytes: u64,
}

impl FixedLayout {
    pub(crate) fn to_layout(self) -> Layout {
        Layout {
            planes: self.planes[..self.count].to_vec(),
            size_bytes: self.size_bytes,
        }
    }
}

/// Compute the layout of one `format` buffer.
pub fn compute(format: u32, p: &LayoutParams) -> Result<Layout, LayoutError> {
    compute_fixed(format, p).map(FixedLayout::to_layout)
}

pub(crate) fn compute_fixed(format: u32, p: &LayoutParams) -> Result<FixedLayout, LayoutError> {
    let info = formats::info(format).ok_or(LayoutError::UnknownFormat(format))?;
    if p.stride_alignment == 0 || p.offset_alignment == 0 || p.base_alignment == 0 {
        return Err(LayoutError::ZeroAlignment);
    }
    let max_stride = match p.max_stride {
        0 => u64::from(u32::MAX),
        m => u64::from(m),
    };
    let max_bytes = match p.max_bytes {
        0 => u64::MAX,
        m => m,
    };
    let too_large = |bytes| LayoutError::TooLarge {
        bytes,
        max: max_bytes,
    };
    let mut out = FixedLayout::default();
    let mut end: u64 = 0;
    for (i, plane) in info.planes.iter().enumerate() {
        let w = u64::from(p.width).div_ceil(u64::from(plane.hsub));
        let h = u64::from(p.height).div_ceil(u64::from(plane.vsub));
        // At most (2^32 / 1) * 8 bytes: no overflow in u64.
        let row = w.div_ceil(u64::from(plane.block_width)) * u64::from(plane.block_bytes);
        let row = if i == 0 {
            row.max(u64::from(p.min_stride))
        } else {
            row
        };
        let stride = round_up(row, p.stride_alignment).filter(|&s| s <= max_stride);
        let Some(stride) = stride else {
            return Err(LayoutError::StrideTooLarge {
                plane: i,
                stride: round_up(row, p.stride_alignment).unwrap_or(u64::MAX),
                max: max_stride,
            });
        };
        let offset = round_up(end, p.offset_alignment).ok_or(too_large(None))?;
        end = stride
            .checked_mul(h)
            .and_then(|s| s.checked_add(offset))
            .ok_or(too_large(None))?;
        out.planes[i] = PlaneLayout {
            offset,
            // stride <= max_stride <= u32::MAX
            stride: stride as u32,
        };
    }
    out.count = info.planes.len();
    let size = round_up(end, p.base_alignment).ok_or(too_large(None))?;
    if size > max_bytes {
        return Err(too_large(Some(size)));
    }
    out.size_bytes = size;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::parse_name;

    fn fmt(n: &str) -> u32 {
        parse_name(n).unwrap()
    }

    #[test]
    fn xrgb_stride_rounds_to_alignment() {
        let mut p = LayoutParams::new(1366, 768);
        p.stride_alignment = 256;
        let l = compute(fmt("XRGB8888"), &p).unwrap();
        assert_eq!(
            l.planes,
            vec![PlaneLayout {
                offset: 0,
                stride: 5632
            }]
        );
        assert_eq!(l.size_bytes, 5632 * 768);
    }

    #[test]
    fn nv12_offsets_round_to_alignment() {
        let mut p = LayoutParams::new(1920, 1080);
        p.stride_alignment = 64;
        p.offset_alignment = 4096;
        p.base_alignment = 4096;
        let l = compute(fmt("NV12"), &p).unwrap();
        // 1920*1080 = 2073600 = 506.25 pages -> chroma at 507 pages.
        assert_eq!(
            l.planes[0],
            PlaneLayout {
                offset: 0,
                stride: 1920
            }
        );
        assert_eq!(
            l.planes[1],
            PlaneLayout {
                offset: 507 * 4096,
                stride: 1920
            }
        );
        assert_eq!(
            l.size_bytes,
            (507 * 4096 + 1920 * 540u64).div_ceil(4096) * 4096
        );
    }

    #[test]
    fn yuv420_has_three_planes_with_half_strides() {
        let p = LayoutParams::new(641, 481);
        let l = compute(fmt("YUV420"), &p).unwrap();
        let strides: Vec<u32> = l.planes.iter().map(|p| p.stride).collect();
        assert_eq!(strides, vec![641, 321, 321]);
        assert_eq!(l.planes[1].offset, 641 * 481);
        assert_eq!(l.planes[2].offset, 641 * 481 + 321 * 241);
        assert_eq!(l.size_bytes, 641 * 481 + 2 * 321 * 241);
    }

    #[test]
    fn packed_yuyv_and_p010() {
        let l = compute(fmt("YUYV"), &LayoutParams::new(641, 2)).unwrap();
        assert_eq!(l.planes[0].stride, 4 * 321);
        let l = compute(fmt("P010"), &LayoutParams::new(1920, 1080)).unwrap();
        assert_eq!(l.planes[0].stride, 3840);
        assert_eq!(l.planes[1].stride, 3840);
        assert_eq!(l.size_bytes, 3840 * 1080 + 3840 * 540);
    }

    #[test]
    fn min_stride_applies_to_plane_zero() {
        let mut p = LayoutParams::new(100, 10);
        p.min_stride = 512;
        let l = compute(fmt("NV12"), &p).unwrap();
        assert_eq!(l.planes[0].stride, 512);
        assert_eq!(l.planes[1].stride, 100);
    }

    #[test]
    fn limits_are_errors() {
        let mut p = LayoutParams::new(1920, 1080);
        p.max_stride = 4096;
        assert!(matches!(
            compute(fmt("XRGB8888"), &p),
            Err(LayoutError::StrideTooLarge { stride: 7680, .. })
        ));
        let mut p = LayoutParams::new(1920, 1080);
        p.max_bytes = 1 << 20;
        assert!(matches!(
            compute(fmt("XRGB8888"), &p),
            Err(LayoutError::TooLarge { .. })
        ));
        let mut p = LayoutParams::new(u32::MAX, u32::MAX);
        p.stride_alignment = u64::MAX;
        p.offset_alignment = u64::MAX;
        p.base_alignment = u64::MAX;
        assert!(compute(fmt("ABGR16161616F"), &p).is_err());
        let mut p = LayoutParams::new(u32::MAX, u32::MAX);
        p.max_stride = 0;
        assert!(compute(fmt("R8"), &p).is_ok());
        assert!(compute(fmt("XRGB8888"), &p).is_err());
        p.stride_alignment = 0;
        assert_eq!(compute(fmt("R8"), &p), Err(LayoutError::ZeroAlignment));
        assert_eq!(
            compute(0x1234, &LayoutParams::new(1, 1)),
            Err(LayoutError::UnknownFormat(0x1234))
        );
    }
}
