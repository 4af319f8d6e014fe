//! KMS device probing: which (format, modifier) pairs each plane of a CRTC
//! scans out, and the atomic `TEST_ONLY` confirmation that a real buffer of a
//! negotiated layout is accepted on the target plane before the outcome is
//! sent. Everything here talks to a real DRM device through
//! `smithay::reexports::drm`; the tests run it in the QEMU tier
//! (`tests/vm/run`).
//!
//! ```no_run
//! use accord_smithay::kms::{compositor_formats, probe_planes, Card, PlaneKind, ScanoutTarget};
//! # fn demo(renderer: &[accord_engine::FormatModifier]) -> std::io::Result<()> {
//! let card = Card::open("/dev/dri/card0")?;
//! card.enable_atomic()?;
//! let target = ScanoutTarget::first_connected(&card)?;
//! let planes = probe_planes(&card, target.crtc)?;
//! if let Some(primary) = planes.iter().find(|p| p.kind == PlaneKind::Primary) {
//!     // what BufferCollectionHandler::scanout_formats returns for a fullscreen surface
//!     let pairs = compositor_formats(primary, renderer);
//! }
//! # Ok(()) }
//! ```

mod fallback;
mod framebuffer;
mod in_formats;
mod planes;
mod renderer;
mod target;
mod test_only;

pub use crate::device::Card;
pub use fallback::{confirm_scanout, Attempt, ScanoutChoice};
pub use framebuffer::{add_dmabuf_framebuffer, DmabufFramebuffer, DmabufPlane};
pub use in_formats::parse_in_formats;
pub use planes::{compositor_formats, opaque_substitutes, probe_planes, PlaneKind, ScanoutPlane};
pub use renderer::{gles_external_only, pixman_import_formats, renderer_import_formats};
pub use target::ScanoutTarget;
pub use test_only::{test_only, Rejected};
