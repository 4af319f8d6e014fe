//! Allocation backends. Every backend sits behind [`CollectionAllocator`]; the module
//! never knows which one it talks to. Each backend's actual layout is checked
//! against the engine's [`Decision`] with [`verify_layout`] before any fd is
//! handed out.

mod detect;
mod dma_heap;
mod dumb;
mod gbm;
mod linear;
mod placements;
mod udmabuf;
mod verify;

use std::os::fd::OwnedFd;

use accord_engine::placement::Capability;
use accord_engine::placements::{Source, SourceKind};
use accord_engine::Decision;

pub use detect::{
    allocators_for_devices, card_for_device, card_nodes, detect, device_ids, drm_nodes,
    BackendKind, Detected,
};
pub use dma_heap::DmaHeapBackend;
pub use dumb::DumbBackend;
pub use gbm::GbmBackend;
pub use placements::{Placed, Placements};
pub use udmabuf::UdmabufBackend;
pub use verify::verify_layout;

pub mod memfd;

/// What kind of memory a backend hands out (sent to clients so that memfd
/// is never mistaken for a dma-buf).
pub use accord_vocabulary::MemoryKind;

/// One plane of an allocated buffer.
///
/// ```
/// # use accord_engine::{solve, Constraints, FormatModifier, MOD_LINEAR};
/// # use accord_smithay::backend::{memfd::MemfdBackend, CollectionAllocator};
/// let xrgb8888 = u32::from_le_bytes(*b"XR24");
/// let pair = FormatModifier { format: xrgb8888, modifier: MOD_LINEAR, scanout: false };
/// let wants = Constraints { formats: vec![pair], min_size: (64, 32), ..Default::default() };
/// let decision = solve(&[wants]).expect("solvable");
/// let buffers = MemfdBackend::new().allocate(&decision).expect("memfd");
/// let plane = &buffers[0].planes[0];
/// assert!(plane.stride >= 64 * 4);
/// ```
#[derive(Debug)]
pub struct AllocatedPlane {
    /// The plane's memory (a dma-buf or a memfd); map it at offset 0.
    pub fd: OwnedFd,
    /// Plane start in bytes.
    pub offset: u64,
    /// Bytes per row.
    pub stride: u32,
}

/// One allocated buffer.
///
/// ```
/// # use accord_engine::{solve, Constraints, FormatModifier, MOD_LINEAR};
/// # use accord_smithay::backend::{memfd::MemfdBackend, CollectionAllocator};
/// let xrgb8888 = u32::from_le_bytes(*b"XR24");
/// let pair = FormatModifier { format: xrgb8888, modifier: MOD_LINEAR, scanout: false };
/// let wants = Constraints { formats: vec![pair], min_size: (64, 32), ..Default::default() };
/// let decision = solve(&[wants]).expect("solvable");
/// let buffers = MemfdBackend::new().allocate(&decision).expect("memfd");
/// assert_eq!(buffers.len(), decision.buffer_count as usize);
/// assert!(buffers[0].size_bytes >= 64 * 32 * 4);
/// ```
#[derive(Debug)]
pub struct AllocatedBuffer {
    /// Planes, from 0.
    pub planes: Vec<AllocatedPlane>,
    /// Bytes of the underlying memory object.
    pub size_bytes: u64,
    /// The modifier the device actually used.
    pub modifier: u64,
}

/// Why an allocation failed. Runtime conditions, reported as `failed` events.
///
/// ```
/// use accord_smithay::backend::AllocError;
/// let e = AllocError::OutOfMemory("dma-heap: ENOMEM".into());
/// assert_eq!(e.to_string(), "out of memory: dma-heap: ENOMEM");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllocError {
    /// The backend cannot make this format/modifier/usage.
    Unsupported(String),
    /// Out of memory (ENOMEM, heap exhausted).
    OutOfMemory(String),
    /// The device disappeared or failed.
    DeviceLost(String),
    /// The backend's layout does not satisfy the decision.
    LayoutMismatch(String),
}

impl std::fmt::Display for AllocError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AllocError::Unsupported(m) => write!(f, "unsupported: {m}"),
            AllocError::OutOfMemory(m) => write!(f, "out of memory: {m}"),
            AllocError::DeviceLost(m) => write!(f, "device lost: {m}"),
            AllocError::LayoutMismatch(m) => write!(f, "layout mismatch: {m}"),
        }
    }
}

impl std::error::Error for AllocError {}

impl AllocError {
    /// The same kind of error with its message rewritten by `f`.
    pub(crate) fn map_message(self, f: impl FnOnce(String) -> String) -> AllocError {
        match self {
            AllocError::Unsupported(m) => AllocError::Unsupported(f(m)),
            AllocError::OutOfMemory(m) => AllocError::OutOfMemory(f(m)),
            AllocError::DeviceLost(m) => AllocError::DeviceLost(f(m)),
            AllocError::LayoutMismatch(m) => AllocError::LayoutMismatch(f(m)),
        }
    }
}

/// An allocation backend.
///
/// ```
/// use accord_engine::Decision;
/// use accord_smithay::backend::{AllocError, AllocatedBuffer, CollectionAllocator, MemoryKind};
///
/// /// A backend that refuses everything (say, a device being reset).
/// struct Refusing;
/// impl CollectionAllocator for Refusing {
///     fn name(&self) -> String {
///         "refusing".into()
///     }
///     fn memory_kind(&self) -> MemoryKind {
///         MemoryKind::DmaBuf
///     }
///     fn allocate(&mut self, _: &Decision) -> Result<Vec<AllocatedBuffer>, AllocError> {
///         Err(AllocError::DeviceLost("device is resetting".into()))
///     }
/// }
/// let _boxed: Box<dyn CollectionAllocator> = Box::new(Refusing);
/// ```
pub trait CollectionAllocator {
    /// Short name for logs and `accord info` ("memfd", "dumb:/dev/dri/card0", ...).
    ///
    /// ```
    /// use accord_smithay::backend::{memfd::MemfdBackend, CollectionAllocator};
    /// assert_eq!(MemfdBackend::new().name(), "memfd");
    /// ```
    fn name(&self) -> String;
    /// What the fds are.
    ///
    /// ```
    /// use accord_smithay::backend::{memfd::MemfdBackend, CollectionAllocator, MemoryKind};
    /// assert_eq!(MemfdBackend::new().memory_kind(), MemoryKind::Memfd);
    /// ```
    fn memory_kind(&self) -> MemoryKind;
    /// What it can lay out; takes part in the negotiation as a participant
    /// (`accord_engine::placement`), so the decision is one this backend
    /// can make. The default, `Any`, adds nothing (the device decides).
    ///
    /// ```
    /// use accord_engine::placement::Capability;
    /// use accord_smithay::backend::{memfd::MemfdBackend, CollectionAllocator};
    /// assert_eq!(MemfdBackend::new().capability(), Capability::Linear);
    /// ```
    fn capability(&self) -> Capability {
        Capability::Any
    }
    /// The placement as the engine ranks it (`accord_engine::placements`):
    /// its kind, the device that makes the memory, whether it is mappable,
    /// contiguous, protected. The default is an embedder's allocator of no
    /// known kind: a dma-buf of system memory every device can import (or
    /// memfd when [`memory_kind`](Self::memory_kind) says so), named
    /// [`name`](Self::name), with [`capability`](Self::capability).
    ///
    /// ```
    /// use accord_engine::placements::SourceKind;
    /// use accord_smithay::backend::{memfd::MemfdBackend, CollectionAllocator};
    /// let s = MemfdBackend::new().source();
    /// assert_eq!((s.kind, s.dmabuf, s.name.as_str()), (SourceKind::Memfd, false, "memfd"));
    /// ```
    fn source(&self) -> Source {
        let kind = match self.memory_kind() {
            MemoryKind::Memfd => SourceKind::Memfd,
            MemoryKind::DmaBuf => SourceKind::Other,
        };
        Source {
            name: self.name(),
            capability: self.capability(),
            ..Source::of_kind(kind, None, Vec::new())
        }
    }
    /// Allocate `decision.buffer_count` buffers for the decision. On error,
    /// everything allocated so far is released (the fds are dropped).
    ///
    /// ```
    /// # use accord_engine::{solve, Constraints, FormatModifier, MOD_LINEAR};
    /// # use accord_smithay::backend::{memfd::MemfdBackend, CollectionAllocator};
    /// let xrgb8888 = u32::from_le_bytes(*b"XR24");
    /// let pair = FormatModifier { format: xrgb8888, modifier: MOD_LINEAR, scanout: false };
    /// let wants = Constraints { formats: vec![pair], min_size: (64, 32), ..Default::default() };
    /// let decision = solve(&[wants]).expect("solvable");
    /// let buffers = MemfdBackend::new().allocate(&decision).expect("memfd");
    /// assert_eq!(buffers.len(), decision.buffer_count as usize);
    /// ```
    fn allocate(&mut self, decision: &Decision) -> Result<Vec<AllocatedBuffer>, AllocError>;
}
