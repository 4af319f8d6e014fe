//! DMA-BUF heaps (`/dev/dma_heap/<name>`, `DMA_HEAP_IOCTL_ALLOC`): device-
//! independent dma-buf memory. The heap hands out bytes, so the layout is the
//! engine's own linear layout, followed exactly.

use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use accord_engine::Decision;

use super::linear::{
    allocate_each, byte_backend_request, errno_error, geometry, linear_buffer, open_node, Geometry,
};
use super::{AllocError, AllocatedBuffer, Allocator, MemoryKind};

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

#[derive(Debug)]
pub struct DmaHeapAllocator {
    heap: OwnedFd,
    path: PathBuf,
}

impl DmaHeapAllocator {
    /// The default system heap.
    pub const SYSTEM: &'static str = "/dev/dma_heap/system";

    pub fn open(path: impl AsRef<Path>) -> std::io::Result<DmaHeapAllocator> {
        let path = path.as_ref().to_path_buf();
        let heap = open_node(&path, rustix::fs::OFlags::RDONLY)?;
        Ok(DmaHeapAllocator { heap, path })
    }

    fn allocate_one(
        &self,
        d: &Decision,
        g: &Geometry,
        len: u64,
        stride: u32,
    ) -> Result<AllocatedBuffer, AllocError> {
        let mut data = AllocationData {
            len,
            fd: 0,
            fd_flags: (rustix::fs::OFlags::RDWR | rustix::fs::OFlags::CLOEXEC).bits(),
            heap_flags: 0,
        };
        // SAFETY: the opcode matches the kernel's struct, which outlives the call.
        unsafe {
            rustix::ioctl::ioctl(
                &self.heap,
                rustix::ioctl::Updater::<DMA_HEAP_IOCTL_ALLOC, AllocationData>::new(&mut data),
            )
        }
        .map_err(|e| {
            errno_error(
                &format!(
                    "DMA_HEAP_IOCTL_ALLOC on {} ({len} bytes)",
                    self.path.display()
                ),
                e,
            )
        })?;
        // SAFETY: on success the kernel installed a new fd we now own.
        let fd = unsafe { OwnedFd::from_raw_fd(data.fd as i32) };
        linear_buffer(fd, g, stride, d)
    }
}

impl Allocator for DmaHeapAllocator {
    fn name(&self) -> String {
        format!("dma-heap:{}", self.path.display())
    }

    fn memory_kind(&self) -> MemoryKind {
        MemoryKind::DmaBuf
    }

    fn allocate(&mut self, decision: &Decision) -> Result<Vec<AllocatedBuffer>, AllocError> {
        let g = geometry(decision)?;
        let (len, stride) = byte_backend_request(&g)?;
        allocate_each(decision, decision.layout.is_some(), || {
            self.allocate_one(decision, &g, len, stride)
        })
    }
}
