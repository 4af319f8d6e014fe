//! Which allocation backends this machine offers, and why the others are
//! missing. Run at start-up; `accord info` prints it.

use std::path::{Path, PathBuf};

use accord_engine::{BufferCounts, Constraints, Decision, FormatModifier, Usage, MOD_LINEAR};
use smithay::reexports::drm::control::Device as ControlDevice;

use super::{CollectionAllocator, DmaHeapBackend, DumbBackend, GbmBackend, UdmabufBackend};
use crate::device::Card;

/// The kinds of backend, in order of fit (scanout memory on the KMS device first, memfd last).
///
/// ```
/// use accord_smithay::backend::{detect, BackendKind};
/// assert!(detect().iter().any(|d| d.kind == BackendKind::Memfd));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    /// GBM on a card node.
    Gbm,
    /// Dumb buffers on a card node, exported with PRIME.
    Dumb,
    /// A DMA-BUF heap.
    DmaHeap,
    /// `/dev/udmabuf`.
    Udmabuf,
    /// Sealed memfds: always available, not dma-bufs.
    Memfd,
}

impl BackendKind {
    /// `gbm`, `dumb`, `dma-heap`, `udmabuf` or `memfd`.
    ///
    /// ```
    /// use accord_smithay::backend::BackendKind;
    /// assert_eq!(BackendKind::DmaHeap.as_str(), "dma-heap");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Gbm => "gbm",
            BackendKind::Dumb => "dumb",
            BackendKind::DmaHeap => "dma-heap",
            BackendKind::Udmabuf => "udmabuf",
            BackendKind::Memfd => "memfd",
        }
    }
}

/// One backend on one device node.
///
/// ```
/// for backend in accord_smithay::backend::detect() {
///     match &backend.status {
///         Ok(details) => println!("{}: {details}", backend.name()),
///         Err(why) => println!("{}: {why}", backend.name()),
///     }
/// }
/// ```
#[derive(Clone, Debug)]
pub struct Detected {
    /// Which backend.
    pub kind: BackendKind,
    /// Its device node (`None` for memfd).
    pub path: Option<PathBuf>,
    /// `Ok(details)` when usable; `Err("not available here: <why>")` otherwise.
    pub status: Result<String, String>,
}

impl Detected {
    /// `kind:path`, e.g. `dumb:/dev/dri/card0`, or `memfd`.
    ///
    /// ```
    /// let memfd = accord_smithay::backend::detect().into_iter().last().expect("memfd is listed");
    /// assert_eq!(memfd.name(), "memfd");
    /// ```
    pub fn name(&self) -> String {
        let kind = self.kind.as_str();
        match &self.path {
            Some(p) => format!("{kind}:{}", p.display()),
            None => kind.to_string(),
        }
    }

    /// Usable on this machine.
    ///
    /// ```
    /// let all = accord_smithay::backend::detect();
    /// assert!(all.iter().any(|d| d.available()), "memfd at least");
    /// ```
    pub fn available(&self) -> bool {
        self.status.is_ok()
    }

    /// Open this dma-buf backend. `None` for memfd (the module's own
    /// fallback, not a device backend) and for unavailable entries.
    ///
    /// ```
    /// let allocators: Vec<_> = accord_smithay::backend::detect()
    ///     .iter()
    ///     .filter_map(|d| d.open())
    ///     .filter_map(Result::ok)
    ///     .collect();
    /// ```
    pub fn open(&self) -> Option<std::io::Result<Box<dyn CollectionAllocator>>> {
        if !self.available() {
            return None;
        }
        let path = self.path.as_ref()?;
        Some(match self.kind {
            BackendKind::Gbm => {
                GbmBackend::open(path).map(|a| Box::new(a) as Box<dyn CollectionAllocator>)
            }
            BackendKind::Dumb => {
                DumbBackend::open(path).map(|a| Box::new(a) as Box<dyn CollectionAllocator>)
            }
            BackendKind::DmaHeap => {
                DmaHeapBackend::open(path).map(|a| Box::new(a) as Box<dyn CollectionAllocator>)
            }
            BackendKind::Udmabuf => {
                UdmabufBackend::open(path).map(|a| Box::new(a) as Box<dyn CollectionAllocator>)
            }
            BackendKind::Memfd => return None,
        })
    }
}

impl Detected {
    /// What this backend serves as a placement (`accord info`): its
    /// traits as the engine ranks them (`accord_engine::placements`).
    /// `None` when unavailable or when it cannot be opened now.
    ///
    /// ```
    /// let memfd = accord_smithay::backend::detect().into_iter().last().expect("memfd is listed");
    /// assert!(!memfd.placement().expect("available").dmabuf);
    /// ```
    pub fn placement(&self) -> Option<accord_engine::placements::Source> {
        if self.kind == BackendKind::Memfd {
            return self
                .available()
                .then(|| super::memfd::MemfdBackend::new().source());
        }
        Some(self.open()?.ok()?.source())
    }
}

/// `gbm:/dev/dri/card0: available (virtio_gpu, KMS)` or
/// `dma-heap:/dev/dma_heap/system: not available here: ... missing`.
impl std::fmt::Display for Detected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.status {
            Ok(detail) => write!(f, "{}: available ({detail})", self.name()),
            Err(why) => write!(f, "{}: {why}", self.name()),
        }
    }
}

fn unavailable(why: impl std::fmt::Display) -> Result<String, String> {
    Err(format!("not available here: {why}"))
}

/// DRM nodes under `/dev/dri`: card (primary) nodes, then render nodes,
/// each group sorted (`card0`, `card1`, `renderD128`, ...). Empty when
/// there is no `/dev/dri`.
///
/// ```
/// for node in accord_smithay::backend::drm_nodes() {
///     println!("{}", node.display());
/// }
/// ```
pub fn drm_nodes() -> Vec<PathBuf> {
    let mut nodes: Vec<(bool, PathBuf)> = std::fs::read_dir("/dev/dri")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?;
            let render = name.starts_with("renderD");
            (render || name.starts_with("card")).then_some((render, p))
        })
        .collect();
    nodes.sort();
    nodes.into_iter().map(|(_, p)| p).collect()
}

/// Card nodes under `/dev/dri`, sorted (`card0`, `card1`, ...).
///
/// ```
/// for card in accord_smithay::backend::card_nodes() {
///     assert!(card.starts_with("/dev/dri"));
/// }
/// ```
pub fn card_nodes() -> Vec<PathBuf> {
    drm_nodes()
        .into_iter()
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("card"))
        })
        .collect()
}

/// Every backend kind, per device where it has one, with its status.
///
/// ```
/// let available: Vec<String> = accord_smithay::backend::detect()
///     .iter()
///     .filter(|d| d.available())
///     .map(|d| d.name())
///     .collect();
/// assert!(available.contains(&"memfd".to_string()));
/// ```
pub fn detect() -> Vec<Detected> {
    let mut out = Vec::new();
    let cards = card_nodes();
    if cards.is_empty() {
        let why = unavailable("no /dev/dri/card* node");
        out.extend(card_entries(None, why.clone(), why));
    }
    for path in &cards {
        out.extend(detect_card(path));
    }
    for (kind, path) in [
        (BackendKind::DmaHeap, DmaHeapBackend::SYSTEM),
        (BackendKind::Udmabuf, UdmabufBackend::PATH),
    ] {
        let status = if !Path::new(path).exists() {
            unavailable(format!("{path} missing"))
        } else {
            let opened = match kind {
                BackendKind::DmaHeap => DmaHeapBackend::open(path).map(drop),
                _ => UdmabufBackend::open(path).map(drop),
            };
            match opened {
                Ok(()) => Ok(path.to_string()),
                Err(e) => unavailable(e),
            }
        };
        out.push(Detected {
            kind,
            path: Some(path.into()),
            status,
        });
    }
    out.push(Detected {
        kind: BackendKind::Memfd,
        path: None,
        status: Ok("sealed memfd, last resort (not a dma-buf)".into()),
    });
    out
}

fn detect_card(path: &Path) -> Vec<Detected> {
    let card = match Card::open(path) {
        Ok(c) => c,
        Err(e) => {
            let why = unavailable(e);
            return card_entries(Some(path), why.clone(), why);
        }
    };
    let driver = card.driver_name();
    let kms = card
        .resource_handles()
        .map(|r| !r.crtcs().is_empty())
        .unwrap_or(false);
    let what = if kms { "KMS" } else { "no KMS" };
    // Capabilities do not tell (render-only drivers answer no DRM caps):
    // allocate one small buffer and see.
    let Some(probe) = linear_probe() else {
        let why = unavailable("the engine cannot lay out the probe buffer");
        return card_entries(Some(path), why.clone(), why);
    };
    let gbm = match card.try_clone().and_then(GbmBackend::new) {
        Ok(mut g) => match g.allocate(&probe) {
            Ok(_) => Ok(format!("{driver}, {what}")),
            Err(e) => unavailable(format!("GBM on {driver}: {e}")),
        },
        Err(e) => unavailable(format!("gbm_create_device on {driver}: {e}")),
    };
    let dumb = match card.try_clone().map(DumbBackend::new) {
        Ok(mut a) => match a.allocate(&probe) {
            Ok(_) => Ok(format!("{driver}, {what}")),
            Err(e) => unavailable(format!("dumb buffers on {driver}: {e}")),
        },
        Err(e) => unavailable(e),
    };
    card_entries(Some(path), gbm, dumb)
}

/// The GBM and dumb entries of one card node.
fn card_entries(
    path: Option<&Path>,
    gbm: Result<String, String>,
    dumb: Result<String, String>,
) -> Vec<Detected> {
    [(BackendKind::Gbm, gbm), (BackendKind::Dumb, dumb)]
        .into_iter()
        .map(|(kind, status)| Detected {
            kind,
            path: path.map(Path::to_path_buf),
            status,
        })
        .collect()
}

/// One 64x64 linear XRGB8888 buffer: what every dma-buf backend can make.
fn linear_probe() -> Option<Decision> {
    let probe = Constraints {
        name: "backend probe".into(),
        usage: Usage::RENDER,
        formats: vec![FormatModifier {
            format: accord_vocabulary::fourcc(accord_vocabulary::drm_fourcc::DrmFourcc::Xrgb8888),
            modifier: MOD_LINEAR,
            scanout: false,
        }],
        min_size: (64, 64),
        max_size: (64, 64),
        buffers: BufferCounts {
            min: 1,
            ..Default::default()
        },
        ..Default::default()
    };
    accord_engine::solve(&[probe]).ok()
}

/// The card node of the DRM device `dev` (a `dev_t`): the node itself, or,
/// for a render node, the card node of the same device (same sysfs parent).
///
/// ```no_run
/// let st = rustix::fs::stat("/dev/dri/renderD128")?;
/// let card = accord_smithay::backend::card_for_device(st.st_rdev);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn card_for_device(dev: u64) -> Option<PathBuf> {
    let sys = |d: u64| {
        let (maj, min) = (rustix::fs::major(d), rustix::fs::minor(d));
        std::fs::canonicalize(format!("/sys/dev/char/{maj}:{min}/device")).ok()
    };
    let wanted = sys(dev);
    card_nodes().into_iter().find(|p| {
        let Ok(st) = rustix::fs::stat(p) else {
            return false;
        };
        st.st_rdev == dev || (wanted.is_some() && sys(st.st_rdev) == wanted)
    })
}

/// The `dev_t`s of the DRM device behind `node`: every card and render
/// node under `/dev/dri` with the same sysfs device (`node` itself
/// first). Device memory is identified by these in placement
/// (`accord_engine::placements::Source::device`), so a participant naming
/// the render node reaches the card's memory. Empty when `node` cannot be
/// read.
///
/// ```no_run
/// let ids = accord_smithay::backend::device_ids("/dev/dri/card0");
/// assert!(ids.contains(&rustix::fs::stat("/dev/dri/card0")?.st_rdev));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn device_ids(node: impl AsRef<Path>) -> Vec<u64> {
    let Ok(st) = rustix::fs::stat(node.as_ref()) else {
        return Vec::new();
    };
    let sys = |d: u64| {
        let (maj, min) = (rustix::fs::major(d), rustix::fs::minor(d));
        std::fs::canonicalize(format!("/sys/dev/char/{maj}:{min}/device")).ok()
    };
    let mut out = vec![st.st_rdev];
    if let Some(mine) = sys(st.st_rdev) {
        for p in drm_nodes() {
            if let Ok(other) = rustix::fs::stat(&p) {
                if !out.contains(&other.st_rdev) && sys(other.st_rdev).as_ref() == Some(&mine) {
                    out.push(other.st_rdev);
                }
            }
        }
    }
    out
}

/// dma-buf allocators placing memory on each of `devices` (`dev_t`s), in the
/// order given: GBM then dumb on each device's card node. Devices without a
/// card node or a working backend are skipped; [`confirm_scanout`](crate::kms::confirm_scanout)
/// then tries these placements in order.
///
/// ```no_run
/// let card0 = rustix::fs::stat("/dev/dri/card0")?.st_rdev;
/// let placements = accord_smithay::backend::allocators_for_devices(&[card0]);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn allocators_for_devices(devices: &[u64]) -> Vec<Box<dyn CollectionAllocator>> {
    let mut out: Vec<Box<dyn CollectionAllocator>> = Vec::new();
    for &dev in devices {
        let Some(path) = card_for_device(dev) else {
            tracing::debug!(dev, "no DRM card node for this device");
            continue;
        };
        for d in detect_card(&path) {
            match d.open() {
                Some(Ok(a)) => out.push(a),
                Some(Err(e)) => tracing::debug!("{}: {e}", d.name()),
                None => {}
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Holds on any machine: every kind is listed, and whatever is missing
    /// says so in the wording `accord info` and the VM tier rely on.
    #[test]
    fn every_kind_is_listed_and_absence_is_explained() {
        let found = detect();
        for kind in [
            BackendKind::Gbm,
            BackendKind::Dumb,
            BackendKind::DmaHeap,
            BackendKind::Udmabuf,
            BackendKind::Memfd,
        ] {
            assert!(found.iter().any(|d| d.kind == kind), "{kind:?} not listed");
        }
        for d in &found {
            if let Err(why) = &d.status {
                assert!(why.starts_with("not available here: "), "{d}");
                assert!(d.open().is_none(), "{d} opens although unavailable");
            }
        }
        assert!(found
            .iter()
            .any(|d| d.kind == BackendKind::Memfd && d.available()));
    }
}
