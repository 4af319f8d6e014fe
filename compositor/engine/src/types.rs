//! The engine's vocabulary. This is the contract between the engine, the
//! Wayland module and the backends: keep it free of Wayland types.

/// Hard cap on buffers per collection (sysmem's value).
pub use accord_vocabulary::limits::MAX_BUFFERS;
pub use accord_vocabulary::{
    CoherencyDomains, ColorSpace, FailureReason, FormatLimits, FormatModifier, Usage, FORMAT_RAW,
    MOD_INVALID, MOD_LINEAR,
};

/// Buffer-count constraints (sysmem's camping/slack model).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct BufferCounts {
    /// Buffers this participant holds at once in steady state. Summed.
    pub camping: u32,
    /// Extra buffers for this participant alone. Summed.
    pub dedicated_slack: u32,
    /// Extra buffers that may be shared with others. Max.
    pub shared_slack: u32,
    /// Minimum total. Max across participants.
    pub min: u32,
    /// Maximum total, 0 = no limit. Min across participants.
    pub max: u32,
}

/// One participant's constraints. A zero `max_*` means "no limit"; a zero
/// alignment is invalid (use 1 for "none").
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Constraints {
    /// Debug name, used in failure messages.
    pub name: String,
    pub usage: Usage,
    /// Accepted pairs, most preferred first.
    pub formats: Vec<FormatModifier>,
    /// Capability: the smallest size it can handle (it also raises the
    /// allocated size, as every minimum does).
    pub min_size: (u32, u32),
    /// Capability: the largest size it can handle; 0 = no limit.
    pub max_size: (u32, u32),
    /// Need, apart from capability (sysmem's `required_min_size`): the
    /// stream's size now; the buffers are at least this large. (0, 0) =
    /// none.
    pub required_min_size: (u32, u32),
    /// Need (sysmem's `required_max_size`): the largest size the stream
    /// may reach without a new allocation; the buffers are at least this
    /// large. (0, 0) = none.
    pub required_max_size: (u32, u32),
    /// Largest width × height in pixels of the allocated size (sysmem's
    /// `max_width_times_height`: codec levels); 0 = no limit.
    pub max_area: u64,
    pub size_alignment: (u32, u32),
    pub stride_alignment: u32,
    pub offset_alignment: u32,
    pub base_alignment: u32,
    pub min_stride: u32,
    pub max_stride: u32,
    pub max_bytes: u64,
    /// Each buffer holds at least this many bytes (sysmem's
    /// `BufferMemoryConstraints.min_size_bytes`); 0 = no minimum. In an
    /// image collection it raises the layout's size; with no participant
    /// listing a pair the collection is raw (`raw.rs`) and this is its size.
    pub min_size_bytes: u64,
    pub buffers: BufferCounts,
    /// Memory must be physically contiguous. OR.
    pub contiguous: bool,
    /// Devices (`dev_t`) that must reach the memory. Union.
    pub devices: Vec<u64>,
    /// KMS devices (`dev_t`) that scan the buffers out when the decision
    /// is a scanout one: the memory must then be on one of them (a display
    /// scans out only its own memory). Set by the compositor's participant
    /// for its display; empty for clients. Union.
    pub scanout_devices: Vec<u64>,
    /// Placements this participant accepts (sysmem's `permitted_heaps`):
    /// backend kinds (`dma-heap`, `udmabuf`, `gbm`, `dumb`, `memfd`) or
    /// heaps by name (`dma-heap:system`); empty = any. Every participant's
    /// list must admit the placement (see `placements.rs`).
    pub permitted_heaps: Vec<String>,
    /// Allocation goes on without this participant if it fails or leaves.
    pub dispensable: bool,
    /// Tighter limits for single formats (sysmem's list of
    /// `ImageFormatConstraints`, one per pixel format): when a candidate
    /// has `format`, the entry's limits apply on top of the ones above. At
    /// most one entry per format.
    pub format_limits: Vec<FormatLimits>,
    /// Colour spaces it handles, most preferred first (sysmem's
    /// `ImageFormatConstraints.color_spaces`); empty = any.
    pub color_spaces: Vec<ColorSpace>,
    /// Coherency domains it supports (sysmem's
    /// `BufferMemoryConstraints.*_domain_supported`); all by default.
    pub coherency_domains: CoherencyDomains,
}

impl Default for Constraints {
    fn default() -> Self {
        Constraints {
            name: String::new(),
            usage: Usage::empty(),
            formats: Vec::new(),
            min_size: (1, 1),
            max_size: (0, 0),
            required_min_size: (0, 0),
            required_max_size: (0, 0),
            max_area: 0,
            size_alignment: (1, 1),
            stride_alignment: 1,
            offset_alignment: 1,
            base_alignment: 1,
            min_stride: 0,
            max_stride: 0,
            max_bytes: 0,
            min_size_bytes: 0,
            buffers: BufferCounts::default(),
            contiguous: false,
            devices: Vec::new(),
            scanout_devices: Vec::new(),
            permitted_heaps: Vec::new(),
            dispensable: false,
            format_limits: Vec::new(),
            color_spaces: Vec::new(),
            coherency_domains: CoherencyDomains::ALL,
        }
    }
}

/// A failed negotiation: a reason code, a human message, and the names of the
/// participants in conflict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub reason: FailureReason,
    pub message: String,
    pub participants: Vec<String>,
}

/// One plane of a computed layout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PlaneLayout {
    pub offset: u64,
    pub stride: u32,
}

/// Layout the engine computes for LINEAR and INVALID (as linear) candidates.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Layout {
    pub planes: Vec<PlaneLayout>,
    /// Total bytes of one buffer (rounded up to the base alignment).
    pub size_bytes: u64,
}

/// A surviving (format, modifier) candidate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Candidate {
    pub format: u32,
    pub modifier: u64,
    /// Marked scanout-capable by every participant that asked for scanout.
    pub scanout: bool,
}

/// The outcome of a successful negotiation: everything a backend needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub format: u32,
    pub modifier: u64,
    pub width: u32,
    pub height: u32,
    pub buffer_count: u32,
    /// OR of every participant's usage.
    pub usage: Usage,
    /// LCM of stride alignments.
    pub stride_alignment: u64,
    /// LCM of offset alignments.
    pub offset_alignment: u64,
    /// LCM of base alignments.
    pub base_alignment: u64,
    pub min_stride: u32,
    /// 0 = no limit.
    pub max_stride: u32,
    /// 0 = no limit.
    pub max_bytes: u64,
    /// The largest `min_size_bytes`; 0 = none.
    pub min_size_bytes: u64,
    /// A raw collection (`raw.rs`): bytes with no image format. `format`
    /// is [`FORMAT_RAW`], `modifier` LINEAR, the size 0x0, and the layout
    /// one plane at offset 0 with stride 0 of `layout.size_bytes` bytes.
    pub raw: bool,
    pub contiguous: bool,
    /// Union of devices, sorted, deduplicated.
    pub devices: Vec<u64>,
    /// The chosen candidate is scanout-capable.
    pub scanout: bool,
    /// Present for LINEAR and INVALID; vendor modifiers get their layout from
    /// the allocating device.
    pub layout: Option<Layout>,
    /// The colour space every participant that listed any handles, best
    /// ranked among those the format can carry; `None` when nobody listed
    /// one.
    pub color_space: Option<ColorSpace>,
    /// The coherency domain decided (one of them; see `coherency.rs`).
    pub coherency_domain: CoherencyDomains,
    /// Every surviving candidate in ranking order; `alternatives[0]` is the
    /// chosen one. Used to fall back when a device rejects the first choice.
    pub alternatives: Vec<Candidate>,
}
