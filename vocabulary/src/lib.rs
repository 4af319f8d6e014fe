//! Accord's vocabulary, defined once: what the protocol's enums mean
//! (failure reasons, usage bits, memory kinds), the limits every side
//! checks, and the codecs of the wire's packed arguments.
//!
//! No Wayland types live here, so the pure engine (`accord-engine`), the
//! protocol bindings (`accord-protocol`, which re-exports this crate), the
//! compositor module and the client library all share one definition. The
//! protocol crate's tests check every name and value here against the XML.

pub mod codec;
mod coherency;
mod color_space;
mod format_limits;
pub mod limits;
mod memory;
mod reason;
mod usage;

pub use coherency::CoherencyDomains;
pub use color_space::ColorSpace;
pub use drm_fourcc;
pub use format_limits::FormatLimits;
pub use memory::MemoryKind;
pub use reason::FailureReason;
pub use usage::Usage;

/// One (format, modifier) pair a participant accepts, in its preference order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FormatModifier {
    /// DRM fourcc code.
    pub format: u32,
    /// DRM modifier; [`MOD_INVALID`] means "implicit / driver-chosen".
    pub modifier: u64,
    /// This participant can scan this pair out (KMS plane `IN_FORMATS`).
    pub scanout: bool,
}

/// `DRM_FORMAT_MOD_LINEAR`. A literal because `drm-fourcc`'s modifier
/// values are not `const`; the test below holds it to `drm-fourcc`.
pub const MOD_LINEAR: u64 = 0;
/// `DRM_FORMAT_MOD_INVALID`: implicit, driver-chosen layout (a literal for
/// the same reason).
pub const MOD_INVALID: u64 = 0x00ff_ffff_ffff_ffff;

/// `DRM_FORMAT_INVALID` (0): no image format. A raw collection's
/// `settings` carry it (its buffers are bytes: a decoder's bitstream
/// queue, sysmem's collection without `image_format_constraints`), so no
/// participant may list it as a pair's format.
pub const FORMAT_RAW: u32 = 0;

/// A DRM fourcc code from `drm-fourcc` (the one list of format codes), for
/// `const` contexts.
pub const fn fourcc(f: drm_fourcc::DrmFourcc) -> u32 {
    f as u32
}

#[cfg(test)]
mod tests {
    use drm_fourcc::{DrmFourcc, DrmModifier};

    #[test]
    fn modifiers_match_drm_fourcc() {
        assert_eq!(super::MOD_LINEAR, u64::from(DrmModifier::Linear));
        assert_eq!(super::MOD_INVALID, u64::from(DrmModifier::Invalid));
    }

    #[test]
    fn fourcc_is_the_little_endian_code() {
        assert_eq!(super::fourcc(DrmFourcc::Xrgb8888).to_le_bytes(), *b"XR24");
    }
}
