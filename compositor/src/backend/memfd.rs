//! The last-resort backend: one sealed memfd per buffer, laid out exactly as
//! the engine computed. Shared memory, not a dma-buf: reported as
//! [`MemoryKind::Memfd`] so nobody issues `DMA_BUF_IOCTL_SYNC` on it or
//! tries a device import.

use std::os::fd::OwnedFd;

use accord_engine::{Decision, MOD_INVALID, MOD_LINEAR};
use rustix::fs::{MemfdFlags, SealFlags};

use super::{
    verify_layout, AllocError, AllocatedBuffer, AllocatedPlane, CollectionAllocator, MemoryKind,
};

/// Allocates sealed memfds (`F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL`), so
/// no participant can truncate the memory under another one's mapping.
///
/// ```
/// # use accord_engine::{solve, Constraints, FormatModifier, MOD_LINEAR};
/// # use accord_smithay::backend::{memfd::MemfdBackend, CollectionAllocator};
/// let xrgb8888 = u32::from_le_bytes(*b"XR24");
/// let pair = FormatModifier { format: xrgb8888, modifier: MOD_LINEAR, scanout: false };
/// let wants = Constraints { formats: vec![pair], min_size: (64, 32), ..Default::default() };
/// let decision = solve(&[wants]).expect("solvable");
/// let buffers = MemfdBackend::new().allocate(&decision).expect("memfd");
/// accord_smithay::backend::verify_layout(&decision, &buffers, true).expect("engine layout");
/// ```
#[derive(Debug, Default)]
pub struct MemfdBackend;

impl MemfdBackend {
    /// The allocator (it holds no state).
    ///
    /// ```
    /// let allocator: Box<dyn accord_smithay::backend::CollectionAllocator> =
    ///     Box::new(accord_smithay::backend::memfd::MemfdBackend::new());
    /// ```
    pub fn new() -> Self {
        MemfdBackend
    }
}

impl CollectionAllocator for MemfdBackend {
    fn name(&self) -> String {
        "memfd".into()
    }

    fn capability(&self) -> accord_engine::placement::Capability {
        accord_engine::placement::Capability::Linear
    }

    fn memory_kind(&self) -> MemoryKind {
        MemoryKind::Memfd
    }

    fn allocate(&mut self, decision: &Decision) -> Result<Vec<AllocatedBuffer>, AllocError> {
        if decision.modifier != MOD_LINEAR && decision.modifier != MOD_INVALID {
            return Err(AllocError::Unsupported(format!(
                "memfd holds only LINEAR layouts, not modifier {:#x}",
                decision.modifier
            )));
        }
        let layout = decision.layout.as_ref().ok_or_else(|| {
            AllocError::Unsupported("the decision carries no linear layout".into())
        })?;
        let mut buffers = Vec::with_capacity(decision.buffer_count as usize);
        for i in 0..decision.buffer_count {
            let fd = sealed_memfd(i, layout.size_bytes)?;
            let planes = layout
                .planes
                .iter()
                .map(|p| {
                    Ok(AllocatedPlane {
                        fd: fd.try_clone().map_err(io_err)?,
                        offset: p.offset,
                        stride: p.stride,
                    })
                })
                .collect::<Result<Vec<_>, AllocError>>()?;
            buffers.push(AllocatedBuffer {
                planes,
                size_bytes: layout.size_bytes,
                modifier: MOD_LINEAR,
            });
        }
        // This backend promises the engine's own layout: check it exactly.
        verify_layout(decision, &buffers, true)?;
        Ok(buffers)
    }
}

fn sealed_memfd(index: u32, size: u64) -> Result<OwnedFd, AllocError> {
    let name = format!("accord-memfd-buffer-{index}");
    let fd = rustix::fs::memfd_create(name, MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING)
        .map_err(io_err)?;
    rustix::fs::ftruncate(&fd, size).map_err(io_err)?;
    rustix::fs::fcntl_add_seals(&fd, SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL)
        .map_err(io_err)?;
    Ok(fd)
}

fn io_err(e: impl Into<std::io::Error>) -> AllocError {
    let e: std::io::Error = e.into();
    match e.raw_os_error() {
        Some(code) if code == rustix::io::Errno::NOMEM.raw_os_error() => {
            AllocError::OutOfMemory(format!("memfd: {e}"))
        }
        _ => AllocError::Unsupported(format!("memfd: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use accord_engine::{Layout, PlaneLayout, Usage};

    fn decision(count: u32) -> Decision {
        Decision {
            format: 0x3432_5258,
            modifier: MOD_LINEAR,
            width: 64,
            height: 32,
            buffer_count: count,
            usage: Usage::CPU_WRITE,
            stride_alignment: 256,
            offset_alignment: 1,
            base_alignment: 1,
            min_stride: 0,
            max_stride: 0,
            max_bytes: 0,
            min_size_bytes: 0,
            raw: false,
            contiguous: false,
            devices: vec![],
            scanout: false,
            layout: Some(Layout {
                planes: vec![PlaneLayout {
                    offset: 0,
                    stride: 256,
                }],
                size_bytes: 256 * 32,
            }),
            color_space: None,
            coherency_domain: accord_engine::CoherencyDomains::CPU,
            alternatives: vec![],
        }
    }

    #[test]
    fn allocates_sealed_buffers_of_the_decided_size() {
        let bufs = MemfdBackend.allocate(&decision(3)).expect("allocate");
        assert_eq!(bufs.len(), 3);
        for b in &bufs {
            let fd = &b.planes[0].fd;
            assert_eq!(rustix::fs::fstat(fd).unwrap().st_size, 256 * 32);
            let seals = rustix::fs::fcntl_get_seals(fd).unwrap();
            assert!(seals.contains(SealFlags::SHRINK | SealFlags::GROW));
            assert!(
                rustix::fs::ftruncate(fd, 1).is_err(),
                "shrink must be sealed"
            );
        }
    }

    #[test]
    fn refuses_vendor_modifiers() {
        let mut d = decision(1);
        d.modifier = 0x0100_0000_0000_0001;
        d.layout = None;
        assert!(matches!(
            MemfdBackend.allocate(&d),
            Err(AllocError::Unsupported(_))
        ));
    }
}
