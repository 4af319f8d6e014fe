//! Plane layout for LINEAR and INVALID (laid out as linear) buffers. Vendor
//! modifiers get no layout here: the allocating device defines it and the
//! backend's result is verified afterwards.
//!
//! **The order of checks: size before stride.** [`compute`] first lays the
//! buffer out in full, in u128 arithmetic that cannot overflow (a stride is
//! below 2^65, a plane below 2^97, four planes with their offsets below
//! 2^100), without looking at any limit. Then the byte total goes through
//! [`check_size`]: a participant's `max_bytes`, the protocol's
//! [`MAX_BUFFER_BYTES`] per buffer and [`MAX_COLLECTION_BYTES`] over
//! `buffer_count` buffers, each answering [`LayoutError::TooLarge`]
//! (`too_large`). Only a layout whose size fits is checked against the
//! stride limits ([`LayoutError::StrideTooLarge`], `stride_conflict`).
//!
//! Why this order: a huge request (width 2^30, or u32::MAX) breaks both
//! limits, and the protocol documents `too_large` for it; checking the
//! stride first answered `stride_conflict`, which blames a stride limit for
//! a buffer no stride could make fit. Once the size fits, every plane's
//! stride × height does too, so every offset and stride fits the wire's
//! 64- and 32-bit fields and the stride check is left with what
//! participants asked for (`max_stride`).
//!
//! **Sources.** sysmem caps a buffer (`kMaxSizeBytesPerBuffer`, 256 MiB)
//! and a collection (`kMaxTotalSizeBytesPerCollection`, 1 GiB) in
//! `logical_buffer_collection.cc`; Accord keeps the 1 GiB and allows
//! 512 MiB a buffer (an 8K 16-bit-float buffer is about 253 MiB, at
//! sysmem's limit; 8192x16384 XRGB8888 is allowed on purpose). sysmem's size arithmetic
//! goes through `safemath` checked numerics; here it is u128, which no
//! u32/u64 input can overflow, so no size × count is ever computed in a
//! type that could wrap (`sizes_never_overflow` in the property tests
//! recomputes every decision's sizes in u128).
//!
//! **Whole samples.** The layout covers the *coded* size: the width and
//! height rounded up to the format's block ([`FormatInfo::block`](formats::FormatInfo::block): even
//! for 4:2:0 both ways, even widths for 4:2:2 and YUYV), as sysmem rounds
//! `coded_width`/`coded_height` up to `ImageFormatCodedWidthMinDivisor`
//! (`AccumulateImageFormatConstraint` in `logical_buffer_collection.cc`),
//! so every plane holds whole chroma samples. Plane 0's stride is the
//! others' reference: each plane's stride is a fixed fraction of it
//! ([`FormatInfo::stride_ratio`](formats::FormatInfo::stride_ratio): NV12's CbCr rows equal the Y rows,
//! I420's Cb and Cr rows are half), sysmem's `ImageFormatPlaneRowBytes`,
//! and plane 0's stride alignment is raised until every plane's stride is
//! a multiple of the stride alignment and of its sample size (sysmem
//! raises `bytes_per_row_divisor` to `ImageFormatSampleAlignment`). Every
//! plane's offset is a multiple of the offset alignment and of its sample
//! size. Where Accord departs: the decision keeps the negotiated size (a
//! 641x481 NV12 decision is 641x481, laid out as 642x482), because a
//! Wayland buffer's size is the image's and the padding is only memory;
//! sysmem reports the coded size and a display rect instead.
//!
//! [`check_size`] is the one place the protocol's byte limits are applied:
//! the engine calls it on the sizes it computes (so `accord solve` answers
//! as the compositor does), and the compositor calls it on the sizes a
//! backend returns for vendor layouts, which only the device knows.

use accord_vocabulary::limits::{MAX_BUFFER_BYTES, MAX_COLLECTION_BYTES};

use crate::formats;
use crate::math::round_up_wide;
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
    /// Maximum total bytes a participant asked for; 0 = no limit. The
    /// protocol's [`MAX_BUFFER_BYTES`] applies on top.
    pub max_bytes: u64,
    /// The buffer holds at least this many bytes (the largest
    /// `min_size_bytes`), before the base alignment; 0 = none.
    pub min_bytes: u64,
    /// Buffers in the collection: the protocol's [`MAX_COLLECTION_BYTES`]
    /// applies to this many buffers of the computed size.
    pub buffer_count: u32,
}

impl LayoutParams {
    /// No alignment, no participant limits, one buffer.
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
            min_bytes: 0,
            buffer_count: 1,
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
            min_bytes: d.min_size_bytes,
            buffer_count: d.buffer_count,
        }
    }
}

impl std::fmt::Display for LayoutParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lim = |v: u64| {
            if v == 0 {
                "no limit".to_string()
            } else {
                v.to_string()
            }
        };
        write!(
            f,
            "{}x{}, stride alignment {}, offset alignment {}, base alignment {}, min stride {}, max stride {}, max bytes {}{}, {} buffer{}",
            self.width,
            self.height,
            self.stride_alignment,
            self.offset_alignment,
            self.base_alignment,
            self.min_stride,
            lim(u64::from(self.max_stride)),
            lim(self.max_bytes),
            if self.min_bytes == 0 {
                String::new()
            } else {
                format!(", min bytes {}", self.min_bytes)
            },
            self.buffer_count,
            if self.buffer_count == 1 { "" } else { "s" }
        )
    }
}

/// Which byte limit a size breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SizeLimit {
    /// A participant's `max_bytes`.
    MaxBytes,
    /// The protocol's [`MAX_BUFFER_BYTES`] per buffer.
    Buffer,
    /// The protocol's [`MAX_COLLECTION_BYTES`] over `count` buffers.
    Collection { count: u32 },
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
    /// One buffer of `bytes` breaks `limit`, whose value is `max`.
    TooLarge {
        bytes: u128,
        max: u64,
        limit: SizeLimit,
    },
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
                bytes,
                max,
                limit: SizeLimit::MaxBytes,
            } => write!(f, "needs {bytes} bytes per buffer, above the maximum {max}"),
            LayoutError::TooLarge {
                bytes,
                max,
                limit: SizeLimit::Buffer,
            } => write!(
                f,
                "needs {bytes} bytes per buffer, the limit is {max} (the protocol's)"
            ),
            LayoutError::TooLarge {
                bytes,
                max,
                limit: SizeLimit::Collection { count },
            } => write!(
                f,
                "{count} buffers of {bytes} bytes need {} bytes, above the collection limit of {max} bytes",
                // Saturated: a hand-made error may carry any byte count.
                bytes.saturating_mul(u128::from(count))
            ),
        }
    }
}

/// Check `buffer_count` buffers of `bytes` each against the byte limits, in
/// this order: a participant's `max_bytes` (0 = none), the protocol's
/// [`MAX_BUFFER_BYTES`] per buffer, then [`MAX_COLLECTION_BYTES`] for the
/// collection. Every layout the engine computes goes through here before
/// its strides are checked (see the module comment); the compositor calls
/// it on the sizes a backend returned.
///
/// ```
/// use accord_engine::layout::{check_size, LayoutError, SizeLimit};
/// assert!(check_size(512 << 20, 0, 2).is_ok());
/// assert!(matches!(
///     check_size(512 << 20, 0, 3),
///     Err(LayoutError::TooLarge { limit: SizeLimit::Collection { count: 3 }, .. })
/// ));
/// assert!(matches!(
///     check_size(1 << 64, 0, 1),
///     Err(LayoutError::TooLarge { limit: SizeLimit::Buffer, .. })
/// ));
/// ```
pub fn check_size(bytes: u128, max_bytes: u64, buffer_count: u32) -> Result<(), LayoutError> {
    let too_large = |max, limit| Err(LayoutError::TooLarge { bytes, max, limit });
    if max_bytes != 0 && bytes > u128::from(max_bytes) {
        return too_large(max_bytes, SizeLimit::MaxBytes);
    }
    if bytes > u128::from(MAX_BUFFER_BYTES) {
        return too_large(MAX_BUFFER_BYTES, SizeLimit::Buffer);
    }
    // bytes <= 2^29 and count < 2^32: no overflow in u128.
    if bytes * u128::from(buffer_count) > u128::from(MAX_COLLECTION_BYTES) {
        return too_large(
            MAX_COLLECTION_BYTES,
            SizeLimit::Collection {
                count: buffer_count,
            },
        );
    }
    Ok(())
}

/// The byte limits ([`check_size`]) on the smallest buffer any layout of
/// `format` can have at this size: its samples packed, no padding, no
/// alignment. Used for vendor modifiers, whose real layout only the
/// device knows: a tiled or compressed layout holds at least these bytes
/// (compression saves bandwidth, not allocation), so a size this check
/// refuses is refused on every device. An unknown format passes.
///
/// ```
/// use accord_engine::layout::{check_minimum, LayoutParams};
/// let xr24 = accord_engine::formats::parse_name("XRGB8888").unwrap();
/// assert!(check_minimum(xr24, &LayoutParams::new(8192, 16384)).is_ok());
/// assert!(check_minimum(xr24, &LayoutParams::new(8192, 16385)).is_err());
/// ```
pub fn check_minimum(format: u32, p: &LayoutParams) -> Result<(), LayoutError> {
    let Some(info) = formats::info(format) else {
        return Ok(());
    };
    // Below 2^32 * 8 bytes a row and 2^32 rows per plane: below 2^70 in all.
    let bytes: u128 = info
        .planes
        .iter()
        .map(|plane| {
            let w = u128::from(p.width).div_ceil(u128::from(plane.hsub));
            let h = u128::from(p.height).div_ceil(u128::from(plane.vsub));
            w.div_ceil(u128::from(plane.block_width)) * u128::from(plane.block_bytes) * h
        })
        .sum();
    check_size(
        bytes.max(u128::from(p.min_bytes)),
        p.max_bytes,
        p.buffer_count,
    )
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
    // 1. The layout in full, no limits consulted (see "Whole samples" in
    //    the module comment). u128 cannot overflow: every alignment below
    //    is a u64 alignment times a factor of at most 16 (below 2^68), the
    //    coded width below 2^33, a row below 2^36 (or a u32 min stride),
    //    a stride below 2^69, a plane below 2^102, four planes with their
    //    offsets below 2^105.
    let (block_w, block_h) = info.block();
    let coded_w = round_up_128(u128::from(p.width), u128::from(block_w));
    let coded_h = round_up_128(u128::from(p.height), u128::from(block_h));
    let p0 = info.planes[0];
    let stride_alignment = u128::from(p.stride_alignment);
    // Plane 0's stride alignment: its own samples', and one that leaves
    // every other plane's stride (a fixed fraction of it) a whole multiple
    // of the stride alignment and of that plane's samples.
    let mut align0 = lcm_128(stride_alignment, u128::from(p0.sample_alignment()));
    for (i, plane) in info.planes.iter().enumerate().skip(1) {
        let (num, den) = info.stride_ratio(i);
        let need =
            u128::from(den) * lcm_128(stride_alignment, u128::from(plane.sample_alignment()));
        align0 = lcm_128(align0, need / gcd_128(u128::from(num), need));
    }
    let row0 = coded_w / u128::from(p0.block_width) * u128::from(p0.block_bytes);
    let stride0 = round_up_128(row0.max(u128::from(p.min_stride)), align0);
    let mut strides = [0u128; MAX_PLANES];
    let mut offsets = [0u128; MAX_PLANES];
    let mut end: u128 = 0;
    for (i, plane) in info.planes.iter().enumerate() {
        let (num, den) = info.stride_ratio(i);
        strides[i] = stride0 * u128::from(num) / u128::from(den);
        let offset_alignment = lcm_128(
            u128::from(p.offset_alignment),
            u128::from(plane.sample_alignment()),
        );
        offsets[i] = round_up_128(end, offset_alignment);
        end = offsets[i] + strides[i] * (coded_h / u128::from(plane.vsub));
    }
    // sysmem: a buffer is at least `min_size_bytes` whatever the image.
    let size = round_up_wide(end.max(u128::from(p.min_bytes)), p.base_alignment);
    // 2. Size before stride (see the module comment).
    check_size(size, p.max_bytes, p.buffer_count)?;
    // 3. The strides. The size fits in MAX_BUFFER_BYTES, so every offset
    //    does too; a stride could only pass u32 with a height of zero.
    let max_stride = match p.max_stride {
        0 => u64::from(u32::MAX),
        m => u64::from(m),
    };
    let mut out = FixedLayout::default();
    for i in 0..info.planes.len() {
        // Saturated: only a height of zero leaves a stride past u64 here.
        let stride = u64::try_from(strides[i]).unwrap_or(u64::MAX);
        if stride > max_stride {
            return Err(LayoutError::StrideTooLarge {
                plane: i,
                stride,
                max: max_stride,
            });
        }
        out.planes[i] = PlaneLayout {
            // offsets[i] <= size <= MAX_BUFFER_BYTES
            offset: offsets[i] as u64,
            // stride <= max_stride <= u32::MAX
            stride: stride as u32,
        };
    }
    out.count = info.planes.len();
    // size <= MAX_BUFFER_BYTES
    out.size_bytes = size as u64;
    Ok(out)
}

fn gcd_128(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Of two alignments that are each a u64 alignment times a small factor
/// (see `compute_fixed`): no overflow.
fn lcm_128(a: u128, b: u128) -> u128 {
    a / gcd_128(a, b) * b
}

fn round_up_128(v: u128, align: u128) -> u128 {
    v.div_ceil(align) * align
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
        // Coded as 642x482: whole Cb and Cr samples, chroma strides half
        // the luma stride.
        let p = LayoutParams::new(641, 481);
        let l = compute(fmt("YUV420"), &p).unwrap();
        let strides: Vec<u32> = l.planes.iter().map(|p| p.stride).collect();
        assert_eq!(strides, vec![642, 321, 321]);
        assert_eq!(l.planes[1].offset, 642 * 482);
        assert_eq!(l.planes[2].offset, 642 * 482 + 321 * 241);
        assert_eq!(l.size_bytes, 642 * 482 + 2 * 321 * 241);
        // With a stride alignment of 64 the luma stride is aligned to 128,
        // so that half of it is still a multiple of 64.
        let mut p = LayoutParams::new(641, 481);
        p.stride_alignment = 64;
        let l = compute(fmt("YUV420"), &p).unwrap();
        let strides: Vec<u32> = l.planes.iter().map(|p| p.stride).collect();
        assert_eq!(strides, vec![768, 384, 384]);
    }

    #[test]
    fn odd_nv12_has_an_even_chroma_offset_and_equal_strides() {
        // Before: Y 641 x 481 = 308321 bytes, chroma at an odd offset
        // with a stride of 642 beside the luma's 641.
        let l = compute(fmt("NV12"), &LayoutParams::new(641, 481)).unwrap();
        assert_eq!(
            l.planes,
            vec![
                PlaneLayout {
                    offset: 0,
                    stride: 642
                },
                PlaneLayout {
                    offset: 642 * 482,
                    stride: 642
                }
            ]
        );
        assert_eq!(l.size_bytes, 642 * 482 + 642 * 241);
        // P010 at an odd size: 2-byte luma, 4-byte CbCr samples.
        let mut p = LayoutParams::new(3, 3);
        p.min_stride = 7;
        let l = compute(fmt("P010"), &p).unwrap();
        assert_eq!(l.planes[0].stride, 8);
        assert_eq!(l.planes[1].stride, 8);
        assert_eq!(l.planes[1].offset, 8 * 4);
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
        // The CbCr rows follow the Y rows (sysmem's fixed relationship).
        assert_eq!(l.planes[1].stride, 512);
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
        // Huge sizes used to fit u64 and pass; the protocol's limit stops
        // them now.
        let mut p = LayoutParams::new(u32::MAX, u32::MAX);
        assert!(matches!(
            compute(fmt("R8"), &p),
            Err(LayoutError::TooLarge {
                limit: SizeLimit::Buffer,
                ..
            })
        ));
        p.stride_alignment = 0;
        assert_eq!(compute(fmt("R8"), &p), Err(LayoutError::ZeroAlignment));
        assert_eq!(
            compute(0x1234, &LayoutParams::new(1, 1)),
            Err(LayoutError::UnknownFormat(0x1234))
        );
    }

    fn limit_of(r: Result<Layout, LayoutError>) -> Option<SizeLimit> {
        match r {
            Err(LayoutError::TooLarge { limit, .. }) => Some(limit),
            _ => None,
        }
    }

    #[test]
    fn huge_sizes_are_too_large_before_any_stride_limit() {
        // Stride 2^32 (past the 32-bit field) and 4 GiB: too large first.
        let p = LayoutParams::new(1 << 30, 1);
        let e = compute(fmt("XRGB8888"), &p).unwrap_err();
        assert_eq!(
            e,
            LayoutError::TooLarge {
                bytes: 1 << 32,
                max: MAX_BUFFER_BYTES,
                limit: SizeLimit::Buffer
            }
        );
        assert_eq!(
            e.to_string(),
            "needs 4294967296 bytes per buffer, the limit is 536870912 (the protocol's)"
        );
        // A participant's max_stride broken too: still too large.
        let mut p = LayoutParams::new(1 << 30, 1);
        p.max_stride = 4096;
        assert_eq!(
            limit_of(compute(fmt("XRGB8888"), &p)),
            Some(SizeLimit::Buffer)
        );
        // u32::MAX wide, two rows, the widest stride alignment (odd, so
        // the 8-byte samples make it 8 times that): the byte count passes
        // 2^64 and is still reported exactly.
        let mut p = LayoutParams::new(u32::MAX, 2);
        p.stride_alignment = u64::MAX;
        let e = compute(fmt("ABGR16161616F"), &p).unwrap_err();
        assert_eq!(
            e,
            LayoutError::TooLarge {
                bytes: 2 * 8 * u128::from(u64::MAX),
                max: MAX_BUFFER_BYTES,
                limit: SizeLimit::Buffer
            }
        );
        // A huge height with a small stride.
        let p = LayoutParams::new(1, u32::MAX);
        assert_eq!(
            limit_of(compute(fmt("XRGB8888"), &p)),
            Some(SizeLimit::Buffer)
        );
        // NV12 at u32::MAX square: plane 1 would pass 2^64.
        let p = LayoutParams::new(u32::MAX - 1, u32::MAX);
        assert_eq!(limit_of(compute(fmt("NV12"), &p)), Some(SizeLimit::Buffer));
        // A participant's limit below the protocol's names that limit.
        let mut p = LayoutParams::new(1 << 30, 1);
        p.max_bytes = 1 << 20;
        assert_eq!(
            limit_of(compute(fmt("XRGB8888"), &p)),
            Some(SizeLimit::MaxBytes)
        );
    }

    #[test]
    fn the_collection_limit_counts_buffers() {
        // 1024x2048 XRGB8888 is 8 MiB: 128 of them are 1 GiB exactly.
        let mut p = LayoutParams::new(1024, 2048);
        p.buffer_count = 128;
        assert_eq!(compute(fmt("XRGB8888"), &p).unwrap().size_bytes, 8 << 20);
        // One row more and 128 buffers pass 1 GiB.
        let mut p = LayoutParams::new(1024, 2049);
        p.buffer_count = 128;
        let e = compute(fmt("XRGB8888"), &p).unwrap_err();
        assert_eq!(limit_of(Err(e)), Some(SizeLimit::Collection { count: 128 }));
        assert_eq!(
            e.to_string(),
            "128 buffers of 8392704 bytes need 1074266112 bytes, above the collection limit of 1073741824 bytes"
        );
        // 128 buffers of 512 MiB each (one buffer's limit met exactly).
        let mut p = LayoutParams::new(8192, 16384);
        p.buffer_count = 128;
        assert_eq!(
            limit_of(compute(fmt("XRGB8888"), &p)),
            Some(SizeLimit::Collection { count: 128 })
        );
        // Before the stride limit too.
        p.max_stride = 4096;
        assert_eq!(
            limit_of(compute(fmt("XRGB8888"), &p)),
            Some(SizeLimit::Collection { count: 128 })
        );
        p.buffer_count = 2;
        assert!(matches!(
            compute(fmt("XRGB8888"), &p),
            Err(LayoutError::StrideTooLarge { stride: 32768, .. })
        ));
    }

    #[test]
    fn a_stride_over_max_stride_with_a_fitting_size_is_a_stride_error() {
        let mut p = LayoutParams::new(4096, 16);
        p.max_stride = 8192;
        assert_eq!(
            compute(fmt("XRGB8888"), &p),
            Err(LayoutError::StrideTooLarge {
                plane: 0,
                stride: 16384,
                max: 8192
            })
        );
        p.max_stride = 16384;
        assert!(compute(fmt("XRGB8888"), &p).is_ok());
    }

    #[test]
    fn check_size_applies_the_limits_in_order() {
        assert_eq!(check_size(0, 0, 0), Ok(()));
        assert_eq!(check_size(u128::from(MAX_BUFFER_BYTES), 0, 2), Ok(()));
        assert_eq!(
            check_size(u128::from(MAX_BUFFER_BYTES) + 1, 0, 1),
            Err(LayoutError::TooLarge {
                bytes: u128::from(MAX_BUFFER_BYTES) + 1,
                max: MAX_BUFFER_BYTES,
                limit: SizeLimit::Buffer
            })
        );
        assert_eq!(
            limit_of(Err(check_size(100, 99, 1).unwrap_err())),
            Some(SizeLimit::MaxBytes)
        );
        assert_eq!(
            limit_of(Err(check_size(u128::MAX, 99, u32::MAX).unwrap_err())),
            Some(SizeLimit::MaxBytes)
        );
        assert_eq!(
            limit_of(Err(check_size(1 << 20, 0, u32::MAX).unwrap_err())),
            Some(SizeLimit::Collection { count: u32::MAX })
        );
    }
}
