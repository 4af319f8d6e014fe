//! DMA-BUF heaps (`/dev/dma_heap/<name>`, `DMA_HEAP_IOCTL_ALLOC`): device-
//! independent dma-buf memory. The heap hands out bytes, so the layout is the
//! engine's own linear layout, followed exactly.

use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use accord_engine::Decision;

use super::linear::{allocate_bytes, errno_error};
use super::{AllocError, AllocatedBuffer, CollectionAllocator, MemoryKind};
use crate::device::open_node;

/// `struct dma_heap_allocation_data` (include/uapi/linux/dma-heap.h).
#[repr(C)]
struct AllocationData {
    len: u64,
    fd: u32,
    fd_flags: u32,
    heap_flags: u64,
}

const DMA_HEAP_IOCTL_ALLOC: rustix::ioctl::Opcode =
    rustix::ioctl::opcode::read_write::<AllocationData>(b'H', 0);

/// DMA-BUF heaps (`/dev/dma_heap/*`): real dma-bufs in system memory, not
/// tied to a device.
///
/// ```no_run
/// use accord_smithay::backend::DmaHeapBackend;
/// let heap = DmaHeapBackend::open(DmaHeapBackend::SYSTEM)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct DmaHeapBackend {
    heap: OwnedFd,
    path: PathBuf,
    /// Fault injection: the allocation of this buffer fails.
    fail_alloc_at: Option<u32>,
}

impl DmaHeapBackend {
    /// The default system heap.
    ///
    /// ```
    /// assert!(accord_smithay::backend::DmaHeapBackend::SYSTEM.starts_with("/dev/dma_heap/"));
    /// ```
    pub const SYSTEM: &'static str = "/dev/dma_heap/system";

    /// Open a heap node (read-only is enough to allocate).
    ///
    /// ```no_run
    /// let heap = accord_smithay::backend::DmaHeapBackend::open("/dev/dma_heap/system")?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> std::io::Result<DmaHeapBackend> {
        let path = path.as_ref().to_path_buf();
        let heap = open_node(&path, rustix::fs::OFlags::RDONLY)?;
        Ok(DmaHeapBackend {
            heap,
            path,
            fail_alloc_at: None,
        })
    }

    /// Fault injection (the real-kernel tier's cleanup checks): from now on
    /// `DMA_HEAP_IOCTL_ALLOC` for buffer `index` (0-based) of every
    /// allocation fails with ENOMEM, as the kernel reports a heap it cannot
    /// back; the buffers before it are real. `None` turns it off.
    ///
    /// ```no_run
    /// let mut heap = accord_smithay::backend::DmaHeapBackend::open("/dev/dma_heap/system")?;
    /// heap.fail_alloc_at(Some(2));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn fail_alloc_at(&mut self, index: Option<u32>) {
        self.fail_alloc_at = index;
    }

    /// One dma-buf of `len` bytes (buffer `index` of the allocation).
    fn dmabuf(&self, index: u32, len: u64) -> Result<OwnedFd, AllocError> {
        let mut data = AllocationData {
            len,
            fd: 0,
            fd_flags: (rustix::fs::OFlags::RDWR | rustix::fs::OFlags::CLOEXEC).bits(),
            heap_flags: 0,
        };
        let result = if self.fail_alloc_at == Some(index) {
            Err(rustix::io::Errno::NOMEM) // injected, as the kernel reports it
        } else {
            // SAFETY: the opcode matches the kernel's struct, which outlives the call.
            unsafe {
                rustix::ioctl::ioctl(
                    &self.heap,
                    rustix::ioctl::Updater::<DMA_HEAP_IOCTL_ALLOC, AllocationData>::new(&mut data),
                )
            }
        };
        result.map_err(|e| {
            errno_error(
                &format!(
                    "DMA_HEAP_IOCTL_ALLOC on {} ({len} bytes)",
                    self.path.display()
                ),
                e,
            )
        })?;
        // SAFETY: on success the kernel installed a new fd we now own.
        Ok(unsafe { OwnedFd::from_raw_fd(data.fd as i32) })
    }
}

impl CollectionAllocator for DmaHeapBackend {
    fn name(&self) -> String {
        match self.fail_alloc_at {
            None => format!("dma-heap:{}", self.path.display()),
            Some(i) => format!(
                "dma-heap:{} (allocation of buffer {i} fails, injected)",
                self.path.display()
            ),
        }
    }

    fn capability(&self) -> accord_engine::placement::Capability {
        accord_engine::placement::Capability::Linear
    }

    fn memory_kind(&self) -> MemoryKind {
        MemoryKind::DmaBuf
    }

    /// System memory as a dma-buf (a heap's traits from its name, `heap_traits`).
    fn source(&self) -> accord_engine::placements::Source {
        use accord_engine::placements::{Source, SourceKind};
        Source {
            name: self.name(),
            ..Source::of_kind(
                SourceKind::DmaHeap,
                self.path.file_name().and_then(|n| n.to_str()),
                Vec::new(),
            )
        }
    }

    fn allocate(&mut self, decision: &Decision) -> Result<Vec<AllocatedBuffer>, AllocError> {
        allocate_bytes(decision, |i, len| self.dmabuf(i, len))
    }
}
