//! Allocation backends. Every backend sits behind [`Allocator`]; the module
//! never knows which one it talks to. Each backend's actual layout is checked
//! against the engine's [`Decision`] with [`verify_layout`] before any fd is
//! handed out.

mod detect;
mod dma_heap;
mod dumb;
mod gbm;
mod linear;
pub(crate) use linear::open_node;
mod udmabuf;
mod verify;

use std::os::fd::OwnedFd;

use accord_engine::Decision;

pub use detect::{
    allocators_for_devices, card_for_device, card_nodes, detect, BackendKind, Detected,
};
pub use dma_heap::DmaHeapAllocator;
pub use dumb::DumbAllocator;
pub use gbm::GbmAllocator;
pub use udmabuf::UdmabufAllocator;
pub use verify::verify_layout;

pub mod memfd;

/// What kind of memory a backend hands out. Sent to clients so that memfd is
/// never mistaken for a dma-buf.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryKind {
    /// A real dma-buf (DMA_BUF_IOCTL_SYNC applies).
    DmaBuf,
    /// A sealed memfd: shared memory, not a dma-buf.
    Memfd,
}

/// One plane of an allocated buffer.
#[derive(Debug)]
pub struct AllocatedPlane {
    pub fd: OwnedFd,
    pub offset: u64,
    pub stride: u32,
}

/// One allocated buffer.
#[derive(Debug)]
pub struct AllocatedBuffer {
    pub planes: Vec<AllocatedPlane>,
    /// Bytes of the underlying memory object.
    pub size_bytes: u64,
    /// The modifier the device actually used.
    pub modifier: u64,
}

/// Why an allocation failed. Runtime conditions, reported as `failed` events.
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

/// An allocation backend.
pub trait Allocator {
    /// Short name for logs and `accord info` ("memfd", "dumb:/dev/dri/card0", ...).
    fn name(&self) -> String;
    /// What the fds are.
    fn memory_kind(&self) -> MemoryKind;
    /// Allocate `decision.buffer_count` buffers for the decision. On error,
    /// everything allocated so far is released (the fds are dropped).
    fn allocate(&mut self, decision: &Decision) -> Result<Vec<AllocatedBuffer>, AllocError>;
}
