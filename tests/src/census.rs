//! The fd census of the test process: wraps `accord-fd-census` for tests
//! whose compositor runs on a thread of the test process, so that census
//! is the compositor's (with whatever the in-process clients hold).

use crate::server::WAIT;
pub use accord_fd_census::{FdCensus, FdKind};

/// The fd census of this process.
pub fn fd_census() -> FdCensus {
    FdCensus::of_self().expect("fd census of the test process")
}

/// Wait (up to [`WAIT`]) for the process to be back at `baseline`, kind by
/// kind (sockets, dma-bufs, memfds, DRM nodes, others): the compositor
/// frees a client's objects shortly after it notices the disconnect.
/// Panics naming the kinds that differ and listing the open fds if it
/// never gets there.
#[track_caller]
pub fn assert_fds_return_to(baseline: &FdCensus, what: &str) -> FdCensus {
    accord_fd_census::wait_for(baseline, WAIT, FdCensus::of_self)
        .unwrap_or_else(|e| panic!("fds over {what}: {e}"))
}

/// How many of this process's open fds refer to the memory object
/// `(st_dev, st_ino)` (as [`accord_client::Buffer::inode`] gives it): with
/// the compositor in-process, its copies plus the client's. Exact whatever
/// other threads of the test binary open meanwhile.
pub fn fds_on(object: (u64, u64)) -> usize {
    use std::os::unix::fs::MetadataExt;
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .filter_map(Result::ok)
        // `metadata` follows the link to the open file; an fd closed
        // meanwhile just fails.
        .filter_map(|e| std::fs::metadata(e.path()).ok())
        .filter(|m| (m.dev(), m.ino()) == object)
        .count()
}
