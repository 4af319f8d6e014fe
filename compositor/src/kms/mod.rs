//! KMS device probing: which (format, modifier) pairs each plane of a CRTC
//! scans out, and the atomic `TEST_ONLY` confirmation that a real buffer of a
//! negotiated layout is accepted on the target plane before the outcome is
//! sent. Everything here talks to a real DRM device through
//! `smithay::reexports::drm`; the tests run it in the QEMU tier
//! (`tests/vm/run`).

mod card;
mod fallback;
mod in_formats;
mod planes;
mod target;
mod test_only;

pub use card::Card;
pub use fallback::{confirm_scanout, Attempt, ScanoutChoice};
pub use in_formats::parse_in_formats;
pub use planes::{compositor_formats, probe_planes, PlaneInfo, PlaneKind};
pub use target::ScanoutTarget;
pub use test_only::{test_only, Rejected};
