//! udmabuf: a dma-buf over memfd pages (`/dev/udmabuf`, `UDMABUF_CREATE`).
//! The memfd must be sealed against shrinking so the pages stay. Like the
//! heaps, it follows the engine's linear layout exactly.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use accord_engine::Decision;
use rustix::ioctl::{opcode, Ioctl, IoctlOutput, Opcode};

use super::linear::{allocate_bytes, errno_error};
use super::{AllocError, AllocatedBuffer, CollectionAllocator, MemoryKind};
use crate::device::open_node;

/// `struct udmabuf_create` (include/uapi/linux/udmabuf.h).
#[repr(C)]
struct UdmabufCreate {
    memfd: u32,
    flags: u32,
    offset: u64,
    size: u64,
}

const UDMABUF_FLAGS_CLOEXEC: u32 = 0x01;

/// `UDMABUF_CREATE` returns the new dma-buf fd as the ioctl's result.
struct Create(UdmabufCreate);

// SAFETY: the opcode matches the struct; the result is a new fd on success.
unsafe impl Ioctl for Create {
    type Output = OwnedFd;
    const IS_MUTATING: bool = false;
    fn opcode(&self) -> Opcode {
        opcode::write::<UdmabufCreate>(b'u', 0x42)
    }
    fn as_ptr(&mut self) -> *mut std::ffi::c_void {
        (&mut self.0 as *mut UdmabufCreate).cast()
    }
    unsafe fn output_from_ptr(
        out: IoctlOutput,
        _: *mut std::ffi::c_void,
    ) -> rustix::io::Result<OwnedFd> {
        Ok(OwnedFd::from_raw_fd(out))
    }
}

/// udmabuf: a sealed memfd turned into a real dma-buf by `/dev/udmabuf`.
///
/// ```no_run
/// use accord_smithay::backend::UdmabufBackend;
/// let udmabuf = UdmabufBackend::open(UdmabufBackend::PATH)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct UdmabufBackend {
    dev: OwnedFd,
    path: PathBuf,
    /// Fault injection: `UDMABUF_CREATE` of this buffer fails.
    fail_create_at: Option<u32>,
}

impl UdmabufBackend {
    /// The device node.
    pub const PATH: &'static str = "/dev/udmabuf";

    /// Open the udmabuf device node.
    ///
    /// ```no_run
    /// let udmabuf = accord_smithay::backend::UdmabufBackend::open("/dev/udmabuf")?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> std::io::Result<UdmabufBackend> {
        let path = path.as_ref().to_path_buf();
        let dev = open_node(&path, rustix::fs::OFlags::RDWR)?;
        Ok(UdmabufBackend {
            dev,
            path,
            fail_create_at: None,
        })
    }

    /// Fault injection (the real-kernel tier's cleanup checks): from now on
    /// `UDMABUF_CREATE` for buffer `index` (0-based) of every allocation
    /// fails with ENOMEM, after that buffer's sealed memfd exists; the
    /// buffers before it are real. `None` turns it off.
    ///
    /// ```no_run
    /// let mut udmabuf = accord_smithay::backend::UdmabufBackend::open("/dev/udmabuf")?;
    /// udmabuf.fail_create_at(Some(2));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn fail_create_at(&mut self, index: Option<u32>) {
        self.fail_create_at = index;
    }

    /// One dma-buf of `len` bytes (buffer `index` of the allocation).
    fn dmabuf(&self, index: u32, len: u64) -> Result<OwnedFd, AllocError> {
        use rustix::fs::{MemfdFlags, SealFlags};
        let lost = errno_error;
        let memfd = rustix::fs::memfd_create(
            "accord-udmabuf",
            MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
        )
        .map_err(|e| lost("memfd_create", e))?;
        rustix::fs::ftruncate(&memfd, len).map_err(|e| lost("ftruncate", e))?;
        rustix::fs::fcntl_add_seals(&memfd, SealFlags::SHRINK)
            .map_err(|e| lost("F_SEAL_SHRINK", e))?;
        let req = Create(UdmabufCreate {
            memfd: memfd.as_fd().as_raw_fd() as u32,
            flags: UDMABUF_FLAGS_CLOEXEC,
            offset: 0,
            size: len,
        });
        let created = if self.fail_create_at == Some(index) {
            Err(rustix::io::Errno::NOMEM) // injected, as the kernel reports it
        } else {
            // SAFETY: see the `Ioctl` impl.
            unsafe { rustix::ioctl::ioctl(&self.dev, req) }
        };
        let fd =
            created.map_err(|e| lost(&format!("UDMABUF_CREATE on {}", self.path.display()), e))?;
        // The dma-buf holds the pages; the memfd may close.
        drop(memfd);
        Ok(fd)
    }
}

impl CollectionAllocator for UdmabufBackend {
    fn name(&self) -> String {
        match self.fail_create_at {
            None => format!("udmabuf:{}", self.path.display()),
            Some(i) => format!(
                "udmabuf:{} (UDMABUF_CREATE of buffer {i} fails, injected)",
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

    /// System memory as a dma-buf.
    fn source(&self) -> accord_engine::placements::Source {
        use accord_engine::placements::{Source, SourceKind};
        Source {
            name: self.name(),
            ..Source::of_kind(SourceKind::Udmabuf, None, Vec::new())
        }
    }

    fn allocate(&mut self, decision: &Decision) -> Result<Vec<AllocatedBuffer>, AllocError> {
        allocate_bytes(decision, |i, len| self.dmabuf(i, len))
    }
}
