//! DMA-BUF heaps (`/dev/dma_heap/<name>`, `DMA_HEAP_IOCTL_ALLOC`): device-
//! independent dma-buf memory. The heap hands out bytes, so the layout is the
//! engine's own linear layout, followed exactly.

use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use accord_engine::{Decision, MOD_LINEAR};

use super::linear::{dmabuf_size, linear_geometry};
use super::{verify_layout, AllocError, AllocatedBuffer, AllocatedPlane, Allocator, MemoryKind};

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
        use rustix::fs::{Mode, OFlags};
        let path = path.as_ref().to_path_buf();
        let heap = rustix::fs::open(&path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        Ok(DmaHeapAllocator { heap, path })
    }

    fn allocate_one(
        &self,
        d: &Decision,
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
            let msg = format!(
                "DMA_HEAP_IOCTL_ALLOC on {} ({len} bytes): {e}",
                self.path.display()
            );
            if e == rustix::io::Errno::NOMEM {
                AllocError::OutOfMemory(msg)
            } else {
                AllocError::DeviceLost(msg)
            }
        })?;
        // SAFETY: on success the kernel installed a new fd we now own.
        let fd = unsafe { OwnedFd::from_raw_fd(data.fd as i32) };
        let size_bytes = dmabuf_size(&fd)?;
        let offset = d.layout.as_ref().map_or(0, |l| l.planes[0].offset);
        Ok(AllocatedBuffer {
            planes: vec![AllocatedPlane { fd, offset, stride }],
            size_bytes,
            modifier: MOD_LINEAR,
        })
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
        let (len, stride) = exact_linear(decision)?;
        let mut out = Vec::with_capacity(decision.buffer_count as usize);
        for _ in 0..decision.buffer_count {
            out.push(self.allocate_one(decision, len, stride)?);
        }
        verify_layout(decision, &out, decision.layout.is_some())?;
        Ok(out)
    }
}

/// Byte length (page-rounded) and stride for a backend that follows the
/// engine's layout exactly (heaps, udmabuf).
pub(crate) fn exact_linear(d: &Decision) -> Result<(u64, u32), AllocError> {
    let g = linear_geometry(d)?;
    let (stride, size) = match &d.layout {
        Some(l) => (l.planes[0].stride, l.size_bytes.max(g.size_bytes)),
        None => (g.stride, g.size_bytes),
    };
    let page = rustix::param::page_size() as u64;
    let len = size
        .div_ceil(page)
        .checked_mul(page)
        .ok_or_else(|| AllocError::Unsupported(format!("{size} bytes overflow")))?;
    Ok((len, stride))
}
