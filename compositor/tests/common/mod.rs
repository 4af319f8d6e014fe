//! What the state-machine tests share: one XRGB8888 LINEAR stream.

use accord_engine::{Constraints, FormatModifier, MOD_LINEAR};

pub const XR24: u32 = u32::from_le_bytes(*b"XR24");

/// XRGB8888 LINEAR at least `w`×`h`, camping 2 buffers.
pub fn sized(w: u32, h: u32) -> Constraints {
    Constraints {
        formats: vec![FormatModifier {
            format: XR24,
            modifier: MOD_LINEAR,
            scanout: false,
        }],
        min_size: (w, h),
        buffers: accord_engine::BufferCounts {
            camping: 2,
            ..Default::default()
        },
        ..Default::default()
    }
}
