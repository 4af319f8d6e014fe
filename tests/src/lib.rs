//! The test kit shared by the integration tests (`tests/tests/`), the
//! real-kernel tier (`tests/vm/`), the reference compositor's tests, the
//! benchmarks and the wire fuzz harness. One module a concern:
//!
//! - [`server`]: the in-process test compositor (a minimal Smithay
//!   compositor: `wl_compositor`, linux-dmabuf dispatch and the Accord
//!   global, memfd backend by default) on a real socket in a temporary
//!   runtime directory, run on its own thread; [`TestServer::builder`]
//!   configures it; [`server::compositor`] is the compositor itself,
//!   without thread or socket;
//! - [`waiting`]: `eventually(timeout, what, predicate)`, the one
//!   poll-until-deadline loop;
//! - [`census`]: the fd census of the test process;
//! - [`faults`]: the fault-injecting allocator fixture;
//! - [`labelled_dmabuf`]: memfd buffers labelled dma-buf, for the module's
//!   dma-buf path on hosts without dma-buf devices;
//! - [`raw`]: a client speaking the raw protocol;
//! - [`abrupt`]: abrupt disconnects (killable connections, messages cut in
//!   the middle).
//!
//! The full reference compositor lives in `examples/`; this one is kept
//! small on purpose.

pub mod abrupt;
pub mod census;
pub mod faults;
pub mod frames;
pub mod labelled_dmabuf;
pub mod raw;
pub mod server;
pub mod waiting;

use accord_engine::MOD_LINEAR;

pub use census::{assert_fds_return_to, fd_census, fds_on, FdCensus, FdKind};
pub use server::{DmabufSeen, Observed, RuntimeDir, TestServer, TestServerBuilder};

/// `DRM_FORMAT_XRGB8888`.
pub const XRGB8888: u32 = u32::from_le_bytes(*b"XR24");
/// `DRM_FORMAT_ARGB8888`.
pub const ARGB8888: u32 = u32::from_le_bytes(*b"AR24");

/// Size of the test compositor's offscreen output.
pub const OUTPUT_SIZE: (i32, i32) = (128, 64);

/// Exactly `w`x`h` XRGB8888 LINEAR, `count` buffers camped (memfd memory
/// is sparse, so even gigabytes cost nothing in tests).
pub fn xrgb_exact(w: u32, h: u32, count: u32) -> accord_client::Constraints {
    accord_client::Constraints::new()
        .format(XRGB8888, MOD_LINEAR)
        .min_size(w, h)
        .max_size(w, h)
        .buffers(count)
}
