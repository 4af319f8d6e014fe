//! Per-format limits: one participant's tighter limits for one format.

/// One participant's limits for one format, on top of its general ones
/// (they can only tighten them): minimums take the larger, maximums the
/// smaller, alignments the least common multiple. A plane that scans NV12
/// out up to 1920 pixels wide but XRGB8888 up to 4096 has a general
/// maximum of 4096 and an NV12 entry with 1920; a camera whose
/// bytesperline rules differ between YUYV and NV12 gives each its stride
/// alignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FormatLimits {
    pub format: u32,
    pub min_size: (u32, u32),
    /// 0 = no limit.
    pub max_size: (u32, u32),
    pub size_alignment: (u32, u32),
    pub min_stride: u32,
    /// 0 = no limit.
    pub max_stride: u32,
    pub stride_alignment: u32,
}

impl FormatLimits {
    /// No limit for `format` (every field neutral).
    pub fn new(format: u32) -> FormatLimits {
        FormatLimits {
            format,
            min_size: (1, 1),
            max_size: (0, 0),
            size_alignment: (1, 1),
            min_stride: 0,
            max_stride: 0,
            stride_alignment: 1,
        }
    }
}
