//! Allocated buffers: they own their fds and know their layout.

use std::os::fd::{AsFd, OwnedFd};

/// What the plane fds are.
///
/// ```
/// assert_ne!(accord_client::MemoryKind::DmaBuf, accord_client::MemoryKind::Memfd);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryKind {
    /// dma-buf: CPU access is bracketed with `DMA_BUF_IOCTL_SYNC`.
    DmaBuf,
    /// Sealed memfd shared memory: not a dma-buf.
    Memfd,
}

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
    pub width: u32,
    pub height: u32,
    pub memory: MemoryKind,
    pub buffers: Vec<Buffer>,
}

/// One plane: its memory (owned fd), offset and stride.
///
/// ```no_run
/// # let plane: &accord_client::Plane = unimplemented!();
/// println!("offset {} stride {}", plane.offset, plane.stride);
/// ```
#[derive(Debug)]
pub struct Plane {
    pub fd: OwnedFd,
    pub offset: u64,
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
    pub index: u32,
    pub format: u32,
    pub modifier: u64,
    pub width: u32,
    pub height: u32,
    /// Bytes of the memory object.
    pub size: u64,
    pub memory: MemoryKind,
    pub planes: Vec<Plane>,
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
    /// end on drop).
    ///
    /// ```no_run
    /// # let buffer: &accord_client::Buffer = unimplemented!();
    /// let mut bytes = buffer.map()?;
    /// let stride = buffer.planes[0].stride as usize;
    /// bytes[stride..stride + 4].copy_from_slice(&[0, 0, 0xff, 0xff]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn map(&self) -> std::io::Result<Mapping<'_>> {
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
            sync: (self.memory == MemoryKind::DmaBuf).then(|| plane.fd.as_fd()),
        };
        if let Some(fd) = map.sync {
            dma_buf_sync(fd, DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW)?;
        }
        Ok(map)
    }
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
    sync: Option<std::os::fd::BorrowedFd<'a>>,
}

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

impl Drop for Mapping<'_> {
    fn drop(&mut self) {
        if let Some(fd) = self.sync {
            let _ = dma_buf_sync(fd, DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW);
        }
        // SAFETY: unmapping exactly what `map` mapped.
        let _ = unsafe { rustix::mm::munmap(self.ptr.cast(), self.len) };
    }
}
