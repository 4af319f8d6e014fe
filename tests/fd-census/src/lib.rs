//! A census of one process's open file descriptors by kind, read from
//! `/proc/<pid>/fd`: the link targets tell sockets (`socket:[…]`), dma-bufs
//! (`anon_inode:dmabuf`, or `/dmabuf:…` on newer kernels), memfds
//! (`/memfd:…`), DRM device nodes (`/dev/dri/…`) and everything else apart.
//!
//! Tests take one census of the compositor process before a workload and
//! wait, after it, for the compositor to be back at it kind by kind
//! ([`wait_for`]); a leaked dma-buf shows as `dmabuf 3 → 4`, with the
//! targets listed. One source for the integration tests (`tests/`), the
//! reference compositor's tests (`examples/tests/`), the scanout run
//! (`examples/src/scanout_run.rs`) and the real-kernel tier (`tests/vm/`).

use std::{fmt, path::Path, time::Duration};

/// What an fd refers to, told by its `/proc/<pid>/fd` link target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FdKind {
    Socket,
    DmaBuf,
    Memfd,
    Drm,
    Other,
}

impl FdKind {
    /// The kind of an fd whose link reads `target`.
    pub fn of(target: &str) -> Self {
        if target.starts_with("socket:[") {
            Self::Socket
        } else if target == "anon_inode:dmabuf" || target.starts_with("/dmabuf:") {
            Self::DmaBuf
        } else if target.starts_with("/memfd:") {
            Self::Memfd
        } else if target.starts_with("/dev/dri/") {
            Self::Drm
        } else {
            Self::Other
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Socket => "socket",
            Self::DmaBuf => "dmabuf",
            Self::Memfd => "memfd",
            Self::Drm => "drm",
            Self::Other => "other",
        }
    }
}

/// One process's open fds at one moment, counted by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FdCensus {
    pub sockets: usize,
    pub dmabufs: usize,
    pub memfds: usize,
    pub drm: usize,
    pub other: usize,
    /// Every fd's link target, sorted (for messages).
    pub targets: Vec<String>,
}

impl FdCensus {
    /// The census of process `pid` (`/proc/<pid>/fd`). Fds closed while the
    /// directory is read are left out.
    pub fn of(pid: u32) -> Result<Self, String> {
        Self::of_dir(&Path::new("/proc").join(pid.to_string()).join("fd"))
    }

    /// The census of this process (compositor threads and in-process
    /// clients together).
    pub fn of_self() -> Result<Self, String> {
        Self::of_dir(Path::new("/proc/self/fd"))
    }

    fn of_dir(dir: &Path) -> Result<Self, String> {
        let entries =
            std::fs::read_dir(dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
        let targets = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| std::fs::read_link(e.path()).ok())
            .map(|p| p.display().to_string())
            // The directory's own fd, when listing this process, is one
            // `other` in every census alike.
            .collect();
        Ok(Self::from_targets(targets))
    }

    /// The census of these link targets.
    pub fn from_targets(mut targets: Vec<String>) -> Self {
        targets.sort();
        let mut census = Self::default();
        for target in &targets {
            *census.count_mut(FdKind::of(target)) += 1;
        }
        census.targets = targets;
        census
    }

    fn count_mut(&mut self, kind: FdKind) -> &mut usize {
        match kind {
            FdKind::Socket => &mut self.sockets,
            FdKind::DmaBuf => &mut self.dmabufs,
            FdKind::Memfd => &mut self.memfds,
            FdKind::Drm => &mut self.drm,
            FdKind::Other => &mut self.other,
        }
    }

    /// The count of one kind.
    pub fn count(&self, kind: FdKind) -> usize {
        match kind {
            FdKind::Socket => self.sockets,
            FdKind::DmaBuf => self.dmabufs,
            FdKind::Memfd => self.memfds,
            FdKind::Drm => self.drm,
            FdKind::Other => self.other,
        }
    }

    /// All fds.
    pub fn total(&self) -> usize {
        self.sockets + self.dmabufs + self.memfds + self.drm + self.other
    }

    /// Whether every kind has the same count as in `other`.
    pub fn same_counts(&self, other: &Self) -> bool {
        KINDS.iter().all(|&k| self.count(k) == other.count(k))
    }

    /// The kinds whose count differs, as `dmabuf 3 → 4, memfd 1 → 0`.
    pub fn diff(&self, after: &Self) -> String {
        KINDS
            .iter()
            .filter(|&&k| self.count(k) != after.count(k))
            .map(|&k| format!("{} {} → {}", k.name(), self.count(k), after.count(k)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

const KINDS: [FdKind; 5] = [
    FdKind::Socket,
    FdKind::DmaBuf,
    FdKind::Memfd,
    FdKind::Drm,
    FdKind::Other,
];

impl fmt::Display for FdCensus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sockets={} dmabufs={} memfds={} drm={} other={}",
            self.sockets, self.dmabufs, self.memfds, self.drm, self.other
        )
    }
}

/// Waits (up to `timeout`) for the census that `take` returns to have
/// `baseline`'s count of every kind: a compositor frees a client's objects
/// shortly after it notices the disconnect. Returns the matching census, or
/// an error naming the kinds that differ and the fds open at the end.
pub fn wait_for(
    baseline: &FdCensus,
    timeout: Duration,
    mut take: impl FnMut() -> Result<FdCensus, String>,
) -> Result<FdCensus, String> {
    let mut last = None;
    accord_waiting::within(timeout, || {
        let now = take()?;
        if now.same_counts(baseline) {
            return Ok(now);
        }
        let diff = baseline.diff(&now);
        last = Some(now);
        Err(diff)
    })
    .map_err(|e| match last {
        Some(now) => format!(
            "fd census not back at its baseline ({e}; before: {baseline}; after: {now}); \
             open now: {:?}",
            now.targets
        ),
        None => e,
    })
}

/// [`wait_for`] on process `pid` for up to 5 s; panics with the difference
/// (`what` names the workload).
pub fn assert_back_to(pid: u32, baseline: &FdCensus, what: &str) -> FdCensus {
    wait_for(baseline, Duration::from_secs(5), || FdCensus::of(pid))
        .unwrap_or_else(|e| panic!("{what}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_from_link_targets() {
        for (target, kind) in [
            ("socket:[12345]", FdKind::Socket),
            ("anon_inode:dmabuf", FdKind::DmaBuf),
            ("/dmabuf:", FdKind::DmaBuf),
            ("/memfd:accord-buffer (deleted)", FdKind::Memfd),
            ("/dev/dri/card0", FdKind::Drm),
            ("/dev/dri/renderD128", FdKind::Drm),
            ("anon_inode:[eventfd]", FdKind::Other),
            ("/dev/null", FdKind::Other),
            ("pipe:[7]", FdKind::Other),
        ] {
            assert_eq!(FdKind::of(target), kind, "{target}");
        }
    }

    #[test]
    fn census_counts_and_diff() {
        let before = FdCensus::from_targets(vec!["socket:[1]".into(), "/dev/null".into()]);
        let after = FdCensus::from_targets(vec![
            "socket:[1]".into(),
            "/dev/null".into(),
            "/memfd:x (deleted)".into(),
        ]);
        assert_eq!((after.sockets, after.memfds, after.other), (1, 1, 1));
        assert!(!before.same_counts(&after));
        assert_eq!(before.diff(&after), "memfd 0 → 1");
        let err = wait_for(&before, Duration::ZERO, || Ok(after.clone())).unwrap_err();
        assert!(err.contains("memfd 0 → 1"), "{err}");
    }

    /// The census sees an fd this process opens and leaks (kept open), by
    /// kind, and waiting for the baseline then fails.
    #[test]
    fn a_leaked_socket_fails_the_census() {
        let pid = std::process::id();
        let before = FdCensus::of(pid).expect("census");
        let leak = std::os::unix::net::UnixDatagram::unbound().expect("socket");
        let after = FdCensus::of(pid).expect("census");
        assert_eq!(after.sockets, before.sockets + 1, "{before} → {after}");
        let err = wait_for(&before, Duration::from_millis(50), || FdCensus::of(pid)).unwrap_err();
        assert!(err.contains("socket"), "{err}");
        drop(leak);
        assert_back_to(pid, &before, "after closing the socket");
    }
}
