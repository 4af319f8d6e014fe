//! Allocated buffers: they own their fds and know their layout.

use crate::{CoherencyDomains, ColorSpace};
use std::os::fd::{AsFd, OwnedFd};

/// What the plane fds are.
///
/// ```
/// assert_ne!(accord_client::MemoryKind::DmaBuf, accord_client::MemoryKind::Memfd);
/// ```
pub use accord_protocol::vocabulary::MemoryKind;

/// The negotiated outcome: settings and every buffer.
///
/// ```no_run
/// # let allocation: accord_client::Allocation = unimplemented!();
/// println!("{:#x} {:#x} {}x{}", allocation.format, allocation.modifier, allocation.width, allocation.height);
/// ```
#[derive(Debug)]
pub struct Allocation {
    /// DRM fourcc.
    pub format: u32,
    /// DRM modifier.
    pub modifier: u64,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Whether the fds are dma-bufs or memfds.
    pub memory: MemoryKind,
    /// Every buffer, by index.
    pub buffers: Vec<Buffer>,
    /// The colour space chosen when some participant listed colour spaces
    /// ([`Constraints::color_spaces`](crate::Constraints::color_spaces),
    /// protocol version 2); `None` when nobody stated one.
    pub color_space: Option<ColorSpace>,
    /// The decided coherency domain (protocol version 2; CPU on a
    /// version-1 compositor, which has no other).
    pub coherency_domain: CoherencyDomains,
    /// `Some(bytes per buffer)` when the collection is raw (no image
    /// format: `format` is 0, the size 0x0, each buffer one plane of
    /// stride 0; see [`Constraints::min_size_bytes`](crate::Constraints::min_size_bytes)).
    /// A buffer's memory may be larger (page-rounded).
    pub raw_size: Option<u64>,
    /// Which generation of the collection these buffers are: 1 for the
    /// first allocation, n + 1 after each renegotiation that changed the
    /// decision (protocol version 2; always 1 on a version-1 compositor).
    /// Name it in [`Collection::generation_wl_buffer`](crate::Collection::generation_wl_buffer)
    /// and [`Collection::release_generation`](crate::Collection::release_generation).
    pub generation: u32,
    /// Which backend and device made the memory (the `placement` event,
    /// protocol version 2); `None` from a version-1 compositor.
    pub placement: Option<Placement>,
}

/// Which backend and device made a collection's memory.
///
/// ```no_run
/// # let a: accord_client::Allocation = unimplemented!();
/// if let Some(p) = &a.placement {
///     println!("{} ({}), device {:?}", p.backend, p.name, p.device);
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// `gbm`, `dumb`, `dma-heap`, `udmabuf`, `memfd` or `other`.
    pub backend: String,
    /// For people: `dumb:/dev/dri/card0`, `dma-heap:/dev/dma_heap/system`.
    pub name: String,
    /// The `dev_t` of the DRM device that made the memory (its card node);
    /// `None` for system memory (heaps, udmabuf, memfd).
    pub device: Option<u64>,
}

/// One plane: its memory (owned fd), offset and stride.
///
/// ```no_run
/// # let plane: &accord_client::Plane = unimplemented!();
/// println!("offset {} stride {}", plane.offset, plane.stride);
/// ```
#[derive(Debug)]
pub struct Plane {
    /// The plane's memory; map it at offset 0 and add `offset`.
    pub fd: OwnedFd,
    /// Plane start in bytes.
    pub offset: u64,
    /// Bytes per row.
    pub stride: u32,
}

/// One allocated buffer.
///
/// ```no_run
/// # let buffer: &accord_client::Buffer = unimplemented!();
/// let (dev, inode) = buffer.inode()?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Buffer {
    /// Buffer number, from 0; the index `Collection::wl_buffer` takes.
    pub index: u32,
    /// DRM fourcc.
    pub format: u32,
    /// DRM modifier.
    pub modifier: u64,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Bytes of the memory object.
    pub size: u64,
    /// Whether the fds are dma-bufs or memfds.
    pub memory: MemoryKind,
    /// Planes, from 0.
    pub planes: Vec<Plane>,
    /// The decided coherency domain (protocol version 2; CPU on a
    /// version-1 compositor). [`map`](Self::map) refuses an inaccessible
    /// buffer.
    pub coherency_domain: CoherencyDomains,
}

impl Buffer {
    /// The memory object's identity `(st_dev, st_ino)` of plane 0: equal in
    /// every participant that received the same buffer.
    ///
    /// ```no_run
    /// # let a: &accord_client::Buffer = unimplemented!();
    /// # let b: &accord_client::Buffer = unimplemented!();
    /// assert_eq!(a.inode()?, b.inode()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn inode(&self) -> std::io::Result<(u64, u64)> {
        let plane = self.planes.first().ok_or_else(no_planes)?;
        let st = rustix::fs::fstat(&plane.fd)?;
        Ok((st.st_dev as u64, st.st_ino as u64))
    }

    /// Map the whole memory object read/write (plane 0's fd). For dma-bufs
    /// the mapping brackets access with `DMA_BUF_IOCTL_SYNC` (start on map,
    /// end on drop). Pages are mapped lazily, one page fault per first touch;
    /// to touch most of the buffer, [`map_populated`](Buffer::map_populated)
    /// is cheaper.
    ///
    /// ```no_run
    /// # let buffer: &accord_client::Buffer = unimplemented!();
    /// let mut bytes = buffer.map()?;
    /// let stride = buffer.planes[0].stride as usize;
    /// bytes[stride..stride + 4].copy_from_slice(&[0, 0, 0xff, 0xff]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn map(&self) -> std::io::Result<Mapping<'_>> {
        // The domain decides whether the CPU may touch the memory at all;
        // cpu and ram both go through the dma-buf sync ioctls below.
        if self.coherency_domain == CoherencyDomains::INACCESSIBLE {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                "the buffer is in the inaccessible coherency domain (protected memory): the CPU \
                 cannot map it",
            ));
        }
        let plane = self.planes.first().ok_or_else(no_planes)?;
        let len = usize::try_from(self.size)
            .ok()
            .filter(|l| *l > 0)
            .ok_or_else(|| std::io::Error::other("buffer size is zero or too large"))?;
        // SAFETY: a fresh shared mapping of `len` bytes of an fd we own.
        let ptr = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                len,
                rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
                rustix::mm::MapFlags::SHARED,
                plane.fd.as_fd(),
                0,
            )
        }?;
        let map = Mapping {
            ptr: ptr.cast(),
            len,
            memory: self.memory,
            sync: (self.memory == MemoryKind::DmaBuf).then(|| plane.fd.as_fd()),
        };
        if let Some(fd) = map.sync {
            dma_buf_sync(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW)?;
        }
        Ok(map)
    }

    /// [`map`](Buffer::map), then fill in the page tables of the whole
    /// buffer at once ([`Mapping::populate`]): one system call instead of a
    /// page fault per page touched. Use it when you are about to touch most
    /// of the buffer; with a memfd buffer it also allocates every page not
    /// yet allocated (the whole buffer's memory, charged to you anyway).
    ///
    /// ```no_run
    /// # let buffer: &accord_client::Buffer = unimplemented!();
    /// use accord_client::Populate;
    /// let mut pixels = buffer.map_populated(Populate::Write)?;
    /// pixels.fill(0x80);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn map_populated(&self, how: Populate) -> std::io::Result<Mapping<'_>> {
        let map = self.map()?;
        map.populate(how)?;
        Ok(map)
    }
}

/// How [`Mapping::populate`] prefaults pages: for the accesses about to
/// follow.
///
/// ```
/// assert_ne!(accord_client::Populate::Read, accord_client::Populate::Write);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Populate {
    /// You will mostly read (a consumer of pages another process wrote):
    /// maps the pages already written, without marking them dirty or
    /// allocating the others (see [`Mapping::populate`]).
    Read,
    /// You will write (a producer filling a fresh buffer):
    /// `MADV_POPULATE_WRITE`, which allocates missing pages writable so the
    /// writes do not fault again.
    Write,
}

fn no_planes() -> std::io::Error {
    std::io::Error::other("buffer has no planes")
}

const DMA_BUF_SYNC_RW: u64 = 3;
const DMA_BUF_SYNC_START: u64 = 0;
const DMA_BUF_SYNC_END: u64 = 1 << 2;

/// `DMA_BUF_IOCTL_SYNC`: `_IOW('b', 0, struct dma_buf_sync { __u64 flags; })`.
fn dma_buf_sync(fd: std::os::fd::BorrowedFd<'_>, flags: u64) -> std::io::Result<()> {
    const OPCODE: rustix::ioctl::Opcode = rustix::ioctl::opcode::write::<u64>(b'b', 0);
    // SAFETY: the kernel reads one u64 of flags.
    unsafe { rustix::ioctl::ioctl(fd, rustix::ioctl::Setter::<OPCODE, u64>::new(flags)) }?;
    Ok(())
}

/// A read/write mapping of a buffer; unmapped (and, for dma-bufs, synced
/// back) on drop. Dereferences to the buffer's bytes.
///
/// ```no_run
/// # let buffer: &accord_client::Buffer = unimplemented!();
/// let mut map = buffer.map()?;
/// map.fill(0);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Mapping<'a> {
    ptr: *mut u8,
    len: usize,
    memory: MemoryKind,
    sync: Option<std::os::fd::BorrowedFd<'a>>,
}

/// Linux's default `fault_around_bytes`: a read fault on a shared mapping
/// of shared memory maps every page already in memory in the aligned
/// 64 KiB window around the faulting address, under one page-table lock.
const FAULT_AROUND: usize = 64 * 1024;

impl std::ops::Deref for Mapping<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: `ptr` maps `len` bytes for the mapping's lifetime.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl std::ops::DerefMut for Mapping<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as above, mapped writable and uniquely borrowed.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl Mapping<'_> {
    /// Fill in the page tables of the whole mapping now (Linux ≥ 5.14
    /// `MADV_POPULATE_READ`/`_WRITE`), so that touching it later does not
    /// fault page by page: for a 1920×1080 ARGB8888 memfd buffer, 2025
    /// faults become one call. Best effort where the kernel cannot
    /// (older kernels, mappings of device memory): `Ok` and the pages fault
    /// in on touch as usual. Errors are real failures to provide the memory
    /// (`ENOMEM`, `EFAULT` past the end of the object).
    ///
    /// [`Populate::Read`] of a memfd buffer prefaults one page per aligned
    /// 64 KiB window (127 calls for that buffer): the kernel's fault-around
    /// (Linux's default `fault_around_bytes`) maps the window's other pages
    /// already in memory with it. That gives the same page tables as one
    /// `MADV_POPULATE_READ` over the whole range for well under half the
    /// CPU time (0.35 ms instead of 0.88 ms for three such buffers another
    /// process wrote): the whole-range call walks and marks every page
    /// accessed one by one, which moves each page another process already
    /// touched to the active LRU list. A page nobody wrote yet is not
    /// allocated (except the one per window) and faults in on first touch,
    /// as with [`Buffer::map`]; so does any page fault-around skipped.
    ///
    /// ```no_run
    /// # let buffer: &accord_client::Buffer = unimplemented!();
    /// let map = buffer.map()?;
    /// // ... later, once the producer says the frame is written:
    /// map.populate(accord_client::Populate::Read)?;
    /// let first = map[0];
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn populate(&self, how: Populate) -> std::io::Result<()> {
        let advice = match how {
            Populate::Read => rustix::mm::Advice::LinuxPopulateRead,
            Populate::Write => rustix::mm::Advice::LinuxPopulateWrite,
        };
        if how == Populate::Read && self.memory == MemoryKind::Memfd {
            return self.populate_read_windows();
        }
        self.advise(0, self.len, advice).map(|_| ())
    }

    /// One `MADV_POPULATE_READ` of one page per fault-around window. Not
    /// for dma-bufs: their fault handlers need not map more than the
    /// faulting page.
    fn populate_read_windows(&self) -> std::io::Result<()> {
        let page = rustix::param::page_size();
        for (offset, len) in window_probes(self.ptr as usize, self.len, page) {
            if !self.advise(offset, len, rustix::mm::Advice::LinuxPopulateRead)? {
                break; // the kernel cannot: pages fault in on touch
            }
        }
        Ok(())
    }

    /// `madvise(advice)` on `len` bytes from `offset` (within the mapping).
    /// `Ok(false)` where the kernel cannot prefault (`EINVAL`: a kernel
    /// before 5.14, or device memory, `VM_PFNMAP`/`VM_IO`).
    fn advise(
        &self,
        offset: usize,
        len: usize,
        advice: rustix::mm::Advice,
    ) -> std::io::Result<bool> {
        debug_assert!(offset + len <= self.len);
        // SAFETY: prefaulting changes no contents; the range is in our
        // mapping (`offset + len <= self.len`).
        match unsafe { rustix::mm::madvise(self.ptr.add(offset).cast(), len, advice) } {
            Ok(()) => Ok(true),
            Err(rustix::io::Errno::INVAL) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

/// `(offset, len)` of one page in each aligned fault-around window that
/// the mapping at address `start`, `len` bytes long, overlaps: the first
/// page of the mapping, then the first page of every following window.
fn window_probes(start: usize, len: usize, page: usize) -> impl Iterator<Item = (usize, usize)> {
    let window = FAULT_AROUND.max(page);
    let end = start + len;
    std::iter::successors(Some(start), move |at| Some((at & !(window - 1)) + window))
        .take_while(move |at| *at < end)
        .map(move |at| (at - start, page.min(end - at)))
}

impl Drop for Mapping<'_> {
    fn drop(&mut self) {
        if let Some(fd) = self.sync {
            let _ = dma_buf_sync(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW);
        }
        // SAFETY: unmapping exactly what `map` mapped.
        let _ = unsafe { rustix::mm::munmap(self.ptr.cast(), self.len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every aligned window the mapping overlaps gets exactly one probe,
    /// inside the mapping, whatever the alignment of its start and end.
    #[test]
    fn one_probe_per_fault_around_window() {
        let page = 4096;
        for start in [0, page, 5 * page, FAULT_AROUND - page, 3 * FAULT_AROUND] {
            for len in [page, 2 * page, FAULT_AROUND, 2025 * page, 2025 * page - 100] {
                let probes: Vec<_> = window_probes(start, len, page).collect();
                let first = start / FAULT_AROUND;
                let last = (start + len - 1) / FAULT_AROUND;
                assert_eq!(probes.len(), last - first + 1, "start {start} len {len}");
                for (i, (off, l)) in probes.iter().enumerate() {
                    assert_eq!((start + off) / FAULT_AROUND, first + i);
                    assert!(
                        *l > 0 && off + l <= len,
                        "start {start} len {len}: {off}+{l}"
                    );
                }
            }
        }
    }
}
