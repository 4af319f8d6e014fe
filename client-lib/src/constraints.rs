//! The constraints builder: one participant's needs, sent at commit.

use crate::Usage;
use accord_protocol::vocabulary::{
    codec, CoherencyDomains, ColorSpace, FormatLimits, FormatModifier,
};

/// One participant's constraints. Unset fields are neutral (no limits;
/// alignments of 1) except the formats: a participant lists the pairs it
/// accepts, and one that lists none takes part only in a collection of
/// raw bytes, where nobody lists one ([`min_size_bytes`](Self::min_size_bytes)).
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
    /// The stream's size now, apart from what the participant can handle
    /// (protocol version 2, `set_required_size`); (0, 0) = none.
    pub required_min_size: (u32, u32),
    /// The largest size the stream may reach without a new allocation
    /// (version 2); (0, 0) = none.
    pub required_max_size: (u32, u32),
    /// Largest width × height in pixels (version 2, `set_max_area`);
    /// 0 = no limit.
    pub max_area: u64,
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
    /// Least bytes a buffer holds (protocol version 2,
    /// `set_min_size_bytes`); 0 = none. With no formats: raw buffers.
    pub min_size_bytes: u64,
    /// (camping, dedicated_slack, shared_slack, min, max); max 0 = no limit.
    pub buffer_counts: (u32, u32, u32, u32, u32),
    /// Physically contiguous memory.
    pub contiguous: bool,
    /// `dev_t`s that must reach the memory.
    pub devices: Vec<u64>,
    /// Tighter limits for single formats (protocol version 2,
    /// `add_format_limits`); at most 64, one per format.
    pub format_limits: Vec<FormatLimits>,
    /// Colour spaces it handles, best first (protocol version 2,
    /// `set_color_spaces`); empty = any.
    pub color_spaces: Vec<ColorSpace>,
    /// Coherency domains it supports (protocol version 2,
    /// `set_coherency_domains`); all by default.
    pub coherency_domains: CoherencyDomains,
    /// Placements it accepts (protocol version 2, `add_permitted_heap`):
    /// kinds (`dma-heap`, `udmabuf`, `gbm`, `dumb`, `memfd`) or heaps
    /// (`dma-heap:system`); empty = any.
    pub permitted_heaps: Vec<String>,
}

impl Default for Constraints {
    fn default() -> Self {
        Constraints {
            usage: Usage::empty(),
            formats: Vec::new(),
            min_size: (1, 1),
            max_size: (0, 0),
            required_min_size: (0, 0),
            required_max_size: (0, 0),
            max_area: 0,
            size_alignment: (1, 1),
            min_stride: 0,
            max_stride: 0,
            stride_alignment: 1,
            offset_alignment: 1,
            base_alignment: 1,
            max_bytes: 0,
            min_size_bytes: 0,
            buffer_counts: (0, 0, 0, 0, 0),
            contiguous: false,
            devices: Vec::new(),
            format_limits: Vec::new(),
            color_spaces: Vec::new(),
            coherency_domains: CoherencyDomains::ALL,
            permitted_heaps: Vec::new(),
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

    /// What the stream needs, apart from what the participant can handle
    /// ([`min_size`](Self::min_size) / [`max_size`](Self::max_size)): its
    /// size now and the largest it may reach without a new allocation
    /// (sysmem's `required_min_size` / `required_max_size`; 0 = none).
    /// The buffers are allocated at least this large. Protocol version 2:
    /// on a version-1 compositor [`Collection::commit`] fails the
    /// collection locally with `Unsupported`.
    ///
    /// [`Collection::commit`]: crate::Collection::commit
    ///
    /// ```
    /// // An H.264 decoder: capable of 16x16..4096x4096, decoding 1080p now.
    /// let c = accord_client::Constraints::new()
    ///     .min_size(16, 16)
    ///     .max_size(4096, 4096)
    ///     .required_size(1920, 1088, 0, 0);
    /// assert_eq!(c.required_min_size, (1920, 1088));
    /// ```
    pub fn required_size(
        mut self,
        min_width: u32,
        min_height: u32,
        max_width: u32,
        max_height: u32,
    ) -> Self {
        self.required_min_size = (min_width, min_height);
        self.required_max_size = (max_width, max_height);
        self
    }

    /// Largest width × height in pixels (a codec level's maximum frame
    /// size; sysmem's `max_width_times_height`; 0 = no limit). Protocol
    /// version 2, as [`required_size`](Self::required_size).
    ///
    /// ```
    /// // H.264 level 4.1: 8192 macroblocks of 16x16.
    /// let c = accord_client::Constraints::new().max_area(8192 * 256);
    /// assert_eq!(c.max_area, 2_097_152);
    /// ```
    pub fn max_area(mut self, pixels: u64) -> Self {
        self.max_area = pixels;
        self
    }

    /// Tighter limits for one format, on top of the others (protocol
    /// version 2, as [`required_size`](Self::required_size)): they apply
    /// only when the negotiated format is `limits.format`, and can only
    /// tighten (sysmem's per-format `ImageFormatConstraints`).
    ///
    /// ```
    /// use accord_client::{Constraints, FormatLimits, DRM_FORMAT_NV12, DRM_FORMAT_XRGB8888, MOD_LINEAR};
    /// // A plane: NV12 up to 1920 wide, XRGB8888 up to 4096.
    /// let c = Constraints::new()
    ///     .scanout_format(DRM_FORMAT_NV12, MOD_LINEAR)
    ///     .scanout_format(DRM_FORMAT_XRGB8888, MOD_LINEAR)
    ///     .max_size(4096, 4096)
    ///     .format_limits(FormatLimits { max_size: (1920, 0), ..FormatLimits::new(DRM_FORMAT_NV12) });
    /// assert_eq!(c.format_limits.len(), 1);
    /// ```
    pub fn format_limits(mut self, limits: FormatLimits) -> Self {
        self.format_limits.push(limits);
        self
    }

    /// A colour space it handles, after those added before (best first;
    /// protocol version 2, as [`required_size`](Self::required_size)). The
    /// chosen one is [`Allocation::color_space`](crate::Allocation); none in
    /// common fails the collection with `NoCommonFormat`.
    ///
    /// ```
    /// use accord_client::{ColorSpace, Constraints, DRM_FORMAT_NV12, MOD_LINEAR};
    /// let c = Constraints::new()
    ///     .format(DRM_FORMAT_NV12, MOD_LINEAR)
    ///     .color_space(ColorSpace::BT709)
    ///     .color_space(ColorSpace::BT601);
    /// assert_eq!(c.color_spaces, [ColorSpace::BT709, ColorSpace::BT601]);
    /// ```
    pub fn color_space(mut self, cs: ColorSpace) -> Self {
        self.color_spaces.push(cs);
        self
    }

    /// The coherency domains it supports (sysmem's `*_domain_supported`;
    /// all when not called; protocol version 2, as
    /// [`required_size`](Self::required_size)). The decided one is
    /// [`Allocation::coherency_domain`](crate::Allocation); CPU usage with
    /// only the inaccessible domain left fails the collection.
    ///
    /// ```
    /// use accord_client::{CoherencyDomains, Constraints};
    /// let c = Constraints::new().coherency_domains(CoherencyDomains::RAM);
    /// assert_eq!(c.coherency_domains, CoherencyDomains::RAM);
    /// ```
    pub fn coherency_domains(mut self, domains: CoherencyDomains) -> Self {
        self.coherency_domains = domains;
        self
    }

    /// The first field set that only protocol version 2 carries, if any.
    pub(crate) fn version_2_field(&self) -> Option<&'static str> {
        if self.required_min_size != (0, 0) || self.required_max_size != (0, 0) {
            Some("required_size")
        } else if self.max_area != 0 {
            Some("max_area")
        } else if !self.format_limits.is_empty() {
            Some("format_limits")
        } else if !self.color_spaces.is_empty() {
            Some("color_spaces")
        } else if self.coherency_domains != CoherencyDomains::ALL {
            Some("coherency_domains")
        } else if self.min_size_bytes != 0 {
            Some("min_size_bytes")
        } else if !self.permitted_heaps.is_empty() {
            Some("permitted_heaps")
        } else {
            None
        }
    }

    /// Each buffer holds at least `bytes` (sysmem's `min_size_bytes`;
    /// protocol version 2, as [`required_size`](Self::required_size)). With
    /// formats it raises an image buffer's size; with none, when no
    /// participant lists a format, the collection is **raw**: bytes with no
    /// image format (a decoder's bitstream queue), sized by the largest
    /// minimum rounded up to every base alignment,
    /// and [`Allocation::raw_size`](crate::Allocation) says so. The size
    /// alignment is the base one of [`alignment`](Self::alignment).
    ///
    /// ```
    /// use accord_client::{Constraints, Usage};
    /// // A bitstream queue of 4 buffers of at least 1 MiB, page-aligned.
    /// let c = Constraints::new()
    ///     .usage(Usage::CpuWrite)
    ///     .min_size_bytes(1 << 20)
    ///     .alignment(1, 4096)
    ///     .buffers(4);
    /// assert!(c.formats.is_empty());
    /// assert_eq!(c.min_size_bytes, 1 << 20);
    /// ```
    pub fn min_size_bytes(mut self, bytes: u64) -> Self {
        self.min_size_bytes = bytes;
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

    /// A placement this participant accepts (protocol version 2): a kind
    /// or `dma-heap:NAME`. With any, the memory comes only from a listed
    /// placement; protected usage needs a protected one whatever the list.
    ///
    /// ```
    /// let c = accord_client::Constraints::new().permitted_heap("dma-heap:system");
    /// assert_eq!(c.permitted_heaps, vec!["dma-heap:system".to_string()]);
    /// ```
    pub fn permitted_heap(mut self, heap: &str) -> Self {
        self.permitted_heaps.push(heap.to_string());
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
