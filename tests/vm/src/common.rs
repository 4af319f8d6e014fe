use accord_engine::{Candidate, Decision, Layout, PlaneLayout, Usage, MOD_LINEAR};

pub const CARD0: &str = "/dev/dri/card0";
pub const CARD1: &str = "/dev/dri/card1";

pub const XR24: u32 = u32::from_le_bytes(*b"XR24");
pub const AR24: u32 = u32::from_le_bytes(*b"AR24");

/// A linear single-plane 32-bit decision, as the engine would produce it.
/// (Replaced by the engine's `solve` where a test negotiates.)
pub fn linear_decision(format: u32, width: u32, height: u32, count: u32, usage: Usage) -> Decision {
    let stride = width * 4;
    Decision {
        format,
        modifier: MOD_LINEAR,
        width,
        height,
        buffer_count: count,
        usage,
        stride_alignment: 1,
        offset_alignment: 1,
        base_alignment: 1,
        min_stride: 0,
        max_stride: 0,
        max_bytes: 0,
        contiguous: false,
        devices: Vec::new(),
        scanout: usage.contains(Usage::SCANOUT),
        layout: Some(Layout {
            planes: vec![PlaneLayout { offset: 0, stride }],
            size_bytes: u64::from(stride) * u64::from(height),
        }),
        alternatives: vec![Candidate {
            format,
            modifier: MOD_LINEAR,
            scanout: usage.contains(Usage::SCANOUT),
        }],
    }
}

/// `/proc/self/fdinfo/<fd>`'s `exp_name`, present only for dma-bufs.
pub fn exp_name(fd: &impl std::os::fd::AsRawFd) -> Option<String> {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())).ok()?;
    info.lines()
        .find_map(|l| l.strip_prefix("exp_name:"))
        .map(|v| v.trim().to_string())
}
