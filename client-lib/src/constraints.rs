//! The constraints builder: one participant's needs, sent at commit.

use crate::Usage;
use accord_protocol::vocabulary::{codec, FormatModifier};

/// One participant's constraints. Unset fields are neutral (no formats =
/// accept what the others choose; no limits; alignments of 1).
///
/// ```
/// use accord_client::{Constraints, Usage, DRM_FORMAT_XRGB8888, MOD_LINEAR};
/// let c = Constraints::new()
///     .usage(Usage::CpuRead)
///     .format(DRM_FORMAT_XRGB8888, MOD_LINEAR)
///     .min_size(256, 128)
///     .stride_alignment(256)
///     .buffers(2);
/// assert_eq!(c.formats.len(), 1);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Constraints {
    /// Usage bits.
    pub usage: Usage,
    /// (format, modifier, scanout) in preference order.
    pub formats: Vec<(u32, u64, bool)>,
    /// Minimum (width, height) in pixels.
    pub min_size: (u32, u32),
    /// 0 = no limit.
    pub max_size: (u32, u32),
    /// (width, height) multiples in pixels.
    pub size_alignment: (u32, u32),
    /// Minimum stride in bytes.
    pub min_stride: u32,
    /// 0 = no limit.
    pub max_stride: u32,
    /// Stride multiple in bytes.
    pub stride_alignment: u32,
    /// Plane offset multiple in bytes.
    pub offset_alignment: u32,
    /// Buffer size multiple in bytes.
    pub base_alignment: u32,
    /// 0 = no limit.
    pub max_bytes: u64,
    /// (camping, dedicated_slack, shared_slack, min, max); max 0 = no limit.
    pub buffer_counts: (u32, u32, u32, u32, u32),
    /// Physically contiguous memory.
    pub contiguous: bool,
    /// `dev_t`s that must reach the memory.
    pub devices: Vec<u64>,
}

impl Default for Constraints {
    fn default() -> Self {
        Constraints {
            usage: Usage::empty(),
            formats: Vec::new(),
            min_size: (1, 1),
            max_size: (0, 0),
            size_alignment: (1, 1),
            min_stride: 0,
            max_stride: 0,
            stride_alignment: 1,
            offset_alignment: 1,
            base_alignment: 1,
            max_bytes: 0,
            buffer_counts: (0, 0, 0, 0, 0),
            contiguous: false,
            devices: Vec::new(),
        }
    }
}

impl Constraints {
    /// Neutral constraints.
    ///
    /// ```
    /// let c = accord_client::Constraints::new();
    /// assert!(c.formats.is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Add usage bits.
    ///
    /// ```
    /// use accord_client::{Constraints, Usage};
    /// let c = Constraints::new().usage(Usage::CpuWrite | Usage::Sample);
    /// assert!(c.usage.contains(Usage::Sample));
    /// ```
    pub fn usage(mut self, usage: Usage) -> Self {
        self.usage |= usage;
        self
    }

    /// Accept a (format, modifier) pair, after those added before.
    ///
    /// ```
    /// use accord_client::{Constraints, DRM_FORMAT_ARGB8888, MOD_LINEAR};
    /// let c = Constraints::new().format(DRM_FORMAT_ARGB8888, MOD_LINEAR);
    /// assert_eq!(c.formats, vec![(DRM_FORMAT_ARGB8888, MOD_LINEAR, false)]);
    /// ```
    pub fn format(mut self, format: u32, modifier: u64) -> Self {
        self.formats.push((format, modifier, false));
        self
    }

    /// Accept a pair this participant can also scan out.
    ///
    /// ```
    /// use accord_client::{Constraints, DRM_FORMAT_XRGB8888, MOD_LINEAR};
    /// let c = Constraints::new().scanout_format(DRM_FORMAT_XRGB8888, MOD_LINEAR);
    /// assert!(c.formats[0].2);
    /// ```
    pub fn scanout_format(mut self, format: u32, modifier: u64) -> Self {
        self.formats.push((format, modifier, true));
        self
    }

    /// Minimum size in pixels.
    ///
    /// ```
    /// let c = accord_client::Constraints::new().min_size(640, 480);
    /// assert_eq!(c.min_size, (640, 480));
    /// ```
    pub fn min_size(mut self, width: u32, height: u32) -> Self {
        self.min_size = (width, height);
        self
    }

    /// Maximum size in pixels (0 = no limit).
    ///
    /// ```
    /// let c = accord_client::Constraints::new().max_size(4096, 4096);
    /// assert_eq!(c.max_size, (4096, 4096));
    /// ```
    pub fn max_size(mut self, width: u32, height: u32) -> Self {
        self.max_size = (width, height);
        self
    }

    /// Width and height multiples.
    ///
    /// ```
    /// let c = accord_client::Constraints::new().size_alignment(16, 16);
    /// assert_eq!(c.size_alignment, (16, 16));
    /// ```
    pub fn size_alignment(mut self, width: u32, height: u32) -> Self {
        self.size_alignment = (width, height);
        self
    }

    /// Stride bounds in bytes (max 0 = no limit).
    ///
    /// ```
    /// let c = accord_client::Constraints::new().stride_range(1024, 0);
    /// assert_eq!(c.min_stride, 1024);
    /// ```
    pub fn stride_range(mut self, min: u32, max: u32) -> Self {
        self.min_stride = min;
        self.max_stride = max;
        self
    }

    /// Stride multiple in bytes.
    ///
    /// ```
    /// let c = accord_client::Constraints::new().stride_alignment(256);
    /// assert_eq!(c.stride_alignment, 256);
    /// ```
    pub fn stride_alignment(mut self, alignment: u32) -> Self {
        self.stride_alignment = alignment;
        self
    }

    /// Plane offset and buffer base alignment in bytes.
    ///
    /// ```
    /// let c = accord_client::Constraints::new().alignment(64, 4096);
    /// assert_eq!((c.offset_alignment, c.base_alignment), (64, 4096));
    /// ```
    pub fn alignment(mut self, offset: u32, base: u32) -> Self {
        self.offset_alignment = offset;
        self.base_alignment = base;
        self
    }

    /// Largest acceptable buffer in bytes (0 = no limit).
    ///
    /// ```
    /// let c = accord_client::Constraints::new().max_bytes(1 << 20);
    /// assert_eq!(c.max_bytes, 1 << 20);
    /// ```
    pub fn max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// Buffers this participant holds at once (sysmem's "camping").
    ///
    /// ```
    /// let c = accord_client::Constraints::new().buffers(3);
    /// assert_eq!(c.buffer_counts.0, 3);
    /// ```
    pub fn buffers(mut self, camping: u32) -> Self {
        self.buffer_counts.0 = camping;
        self
    }

    /// Every buffer-count field: camping, dedicated slack, shared slack,
    /// minimum and maximum (0 = no limit) total.
    ///
    /// ```
    /// let c = accord_client::Constraints::new().buffer_counts(2, 1, 0, 3, 8);
    /// assert_eq!(c.buffer_counts, (2, 1, 0, 3, 8));
    /// ```
    pub fn buffer_counts(
        mut self,
        camping: u32,
        dedicated_slack: u32,
        shared_slack: u32,
        min: u32,
        max: u32,
    ) -> Self {
        self.buffer_counts = (camping, dedicated_slack, shared_slack, min, max);
        self
    }

    /// Require physically contiguous memory.
    ///
    /// ```
    /// let c = accord_client::Constraints::new().contiguous();
    /// assert!(c.contiguous);
    /// ```
    pub fn contiguous(mut self) -> Self {
        self.contiguous = true;
        self
    }

    /// A device (`dev_t`) that must reach the memory.
    ///
    /// ```
    /// let c = accord_client::Constraints::new().device(0xe280);
    /// assert_eq!(c.devices, vec![0xe280]);
    /// ```
    pub fn device(mut self, dev: u64) -> Self {
        self.devices.push(dev);
        self
    }

    /// The `add_formats` wire table (the library splits it into requests of
    /// at most 128 entries): 16-byte (format, flags, modifier)
    /// entries in host byte order.
    ///
    /// ```
    /// use accord_client::{Constraints, DRM_FORMAT_XRGB8888, MOD_LINEAR};
    /// let t = Constraints::new().format(DRM_FORMAT_XRGB8888, MOD_LINEAR).format_table();
    /// assert_eq!(t.len(), 16);
    /// ```
    pub fn format_table(&self) -> Vec<u8> {
        codec::encode_format_table(self.formats.iter().map(|&(format, modifier, scanout)| {
            FormatModifier {
                format,
                modifier,
                scanout,
            }
        }))
    }
}
