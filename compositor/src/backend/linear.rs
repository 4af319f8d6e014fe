//! Shared by the dma-buf backends: the linear geometry a decision asks for,
//! the planes of a buffer that follows the engine's layout, and the size of
//! an exported dma-buf. Format facts come from the engine's format table.

use std::os::fd::{AsFd, OwnedFd};

use accord_engine::{formats, Decision, Layout, MOD_INVALID, MOD_LINEAR};

use super::{verify_layout, AllocError, AllocatedBuffer, AllocatedPlane};

/// How a backend lays out a linear buffer.
pub(crate) enum Geometry {
    /// One plane of whole pixels: the backend may widen the stride and add
    /// rows, within the decision's limits.
    Packed {
        stride: u32,
        rows: u32,
        size_bytes: u64,
    },
    /// Several planes, subsampling or pixel blocks: the engine's layout,
    /// followed exactly.
    Exact { stride0: u32, size_bytes: u64 },
}

pub(crate) fn geometry(d: &Decision) -> Result<Geometry, AllocError> {
    // Raw bytes: the engine's one plane of stride 0 (no rows), exactly.
    if let (true, Some(l)) = (d.raw, &d.layout) {
        return Ok(Geometry::Exact {
            stride0: 0,
            size_bytes: l.size_bytes,
        });
    }
    if d.modifier != MOD_LINEAR && d.modifier != MOD_INVALID {
        return Err(AllocError::Unsupported(format!(
            "modifier {}: this backend makes linear buffers only",
            formats::modifier_name(d.modifier)
        )));
    }
    let info = formats::info(d.format).ok_or_else(|| {
        AllocError::Unsupported(format!(
            "format {}: no linear layout known",
            formats::name(d.format)
        ))
    })?;
    let too_big = || AllocError::Unsupported(format!("{}x{} overflows", d.width, d.height));
    let packed = match info.planes {
        [p] if p.block_width == 1 && p.hsub == 1 && p.vsub == 1 => Some(p.block_bytes),
        _ => None,
    };
    let Some(cpp) = packed else {
        let layout = d.layout.as_ref().ok_or_else(|| {
            AllocError::Unsupported(format!(
                "{} without the engine's layout",
                formats::name(d.format)
            ))
        })?;
        let stride0 = layout
            .planes
            .first()
            .map(|p| p.stride)
            .ok_or_else(too_big)?;
        return Ok(Geometry::Exact {
            stride0,
            size_bytes: layout.size_bytes,
        });
    };
    let mut stride = u64::from(d.width)
        .checked_mul(u64::from(cpp))
        .ok_or_else(too_big)?
        .max(u64::from(d.min_stride));
    if let Some(layout) = &d.layout {
        stride = stride.max(layout.planes.first().map_or(0, |p| u64::from(p.stride)));
    }
    let align = lcm(d.stride_alignment.max(1), u64::from(cpp));
    stride = stride
        .div_ceil(align)
        .checked_mul(align)
        .ok_or_else(too_big)?;
    let stride = u32::try_from(stride).map_err(|_| too_big())?;
    let mut size = u64::from(stride)
        .checked_mul(u64::from(d.height))
        .ok_or_else(too_big)?;
    if let Some(layout) = &d.layout {
        size = size.max(layout.size_bytes);
    }
    let rows = u32::try_from(size.div_ceil(u64::from(stride))).map_err(|_| too_big())?;
    Ok(Geometry::Packed {
        stride,
        rows,
        size_bytes: size,
    })
}

/// The planes of one dma-buf laid out per `geometry`: one plane at offset 0
/// for packed formats, the engine's planes (each with its own fd on the same
/// dma-buf) otherwise.
pub(crate) fn planes(
    fd: OwnedFd,
    geometry: &Geometry,
    stride: u32,
    layout: Option<&Layout>,
) -> Result<Vec<AllocatedPlane>, AllocError> {
    match (geometry, layout) {
        (Geometry::Exact { .. }, Some(layout)) => {
            let Some((p0, rest)) = layout.planes.split_first() else {
                return Err(AllocError::LayoutMismatch(
                    "the layout has no planes".into(),
                ));
            };
            let mut out = Vec::with_capacity(layout.planes.len());
            for p in rest {
                let fd = fd
                    .try_clone()
                    .map_err(|e| AllocError::OutOfMemory(format!("dup of the dma-buf fd: {e}")))?;
                out.push(AllocatedPlane {
                    fd,
                    offset: p.offset,
                    stride: p.stride,
                });
            }
            out.insert(
                0,
                AllocatedPlane {
                    fd,
                    offset: p0.offset,
                    stride: p0.stride,
                },
            );
            Ok(out)
        }
        _ => Ok(vec![AllocatedPlane {
            fd,
            offset: 0,
            stride,
        }]),
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

fn lcm(a: u64, b: u64) -> u64 {
    a / gcd(a, b) * b
}

/// A dma-buf's size: dma-bufs answer `lseek(SEEK_END)` with it.
pub(crate) fn dmabuf_size(fd: impl AsFd) -> Result<u64, AllocError> {
    rustix::fs::seek(fd, rustix::fs::SeekFrom::End(0))
        .map_err(|e| AllocError::DeviceLost(format!("lseek on the dma-buf: {e}")))
}

/// Page-rounded byte length and plane-0 stride for backends that hand out
/// bytes (heaps, udmabuf).
pub(crate) fn byte_backend_request(g: &Geometry) -> Result<(u64, u32), AllocError> {
    let (size, stride) = match g {
        Geometry::Packed {
            stride, size_bytes, ..
        } => (*size_bytes, *stride),
        Geometry::Exact {
            stride0,
            size_bytes,
        } => (*size_bytes, *stride0),
    };
    let page = rustix::param::page_size() as u64;
    let len = size
        .div_ceil(page)
        .checked_mul(page)
        .ok_or_else(|| AllocError::Unsupported(format!("{size} bytes overflow")))?;
    Ok((len, stride))
}

/// One linear buffer on the dma-buf `fd`, laid out per `g`.
pub(crate) fn linear_buffer(
    fd: OwnedFd,
    g: &Geometry,
    stride: u32,
    d: &Decision,
) -> Result<AllocatedBuffer, AllocError> {
    let size_bytes = dmabuf_size(&fd)?;
    Ok(AllocatedBuffer {
        planes: planes(fd, g, stride, d.layout.as_ref())?,
        size_bytes,
        modifier: MOD_LINEAR,
    })
}

/// `d.buffer_count` buffers from `one` (called with each buffer's index),
/// verified against `d` before they are returned. On error, the buffers made
/// so far drop and close their fds, and the error names the buffer it
/// happened at ("buffer 2 of 4: ...").
pub(crate) fn allocate_each(
    d: &Decision,
    exact: bool,
    mut one: impl FnMut(u32) -> Result<AllocatedBuffer, AllocError>,
) -> Result<Vec<AllocatedBuffer>, AllocError> {
    let mut out = Vec::with_capacity(d.buffer_count as usize);
    for i in 0..d.buffer_count {
        let buffer = one(i)
            .map_err(|e| e.map_message(|m| format!("buffer {i} of {}: {m}", d.buffer_count)))?;
        out.push(buffer);
    }
    verify_layout(d, &out, exact)?;
    Ok(out)
}

/// The buffers of a backend that hands out bytes (heaps, udmabuf): each one
/// is a dma-buf of the page-rounded length from `dmabuf` (called with the
/// buffer's index and the length), laid out per the decision's linear
/// geometry; the engine's layout, when given, is exact.
pub(crate) fn allocate_bytes(
    d: &Decision,
    mut dmabuf: impl FnMut(u32, u64) -> Result<OwnedFd, AllocError>,
) -> Result<Vec<AllocatedBuffer>, AllocError> {
    let g = geometry(d)?;
    let (len, stride) = byte_backend_request(&g)?;
    allocate_each(d, d.layout.is_some(), |i| {
        linear_buffer(dmabuf(i, len)?, &g, stride, d)
    })
}

/// The error a backend's injected fault reports: ENOMEM, as the kernel
/// reports an allocation it cannot back.
pub(crate) fn injected_enomem() -> std::io::Error {
    std::io::Error::from_raw_os_error(rustix::io::Errno::NOMEM.raw_os_error())
}

/// A failed allocation syscall: out of memory for ENOMEM/ENOSPC, else the
/// device failed.
pub(crate) fn errno_error(what: &str, e: rustix::io::Errno) -> AllocError {
    let msg = format!("{what}: {e}");
    if e == rustix::io::Errno::NOMEM || e == rustix::io::Errno::NOSPC {
        AllocError::OutOfMemory(msg)
    } else {
        AllocError::DeviceLost(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use accord_engine::{solve, Constraints, FormatModifier, Usage};

    fn decision(buffers: u32) -> Decision {
        let c = Constraints {
            name: "t".into(),
            usage: Usage::CPU_WRITE,
            formats: vec![FormatModifier {
                format: formats::parse_name("XRGB8888").expect("known"),
                modifier: MOD_LINEAR,
                scanout: false,
            }],
            min_size: (100, 50),
            stride_alignment: 256,
            buffers: accord_engine::BufferCounts {
                min: buffers,
                ..Default::default()
            },
            ..Default::default()
        };
        solve(&[c]).expect("solvable")
    }

    fn memfd(len: u64) -> Result<OwnedFd, AllocError> {
        let fd = rustix::fs::memfd_create("accord-test", rustix::fs::MemfdFlags::CLOEXEC)
            .map_err(|e| errno_error("memfd_create", e))?;
        rustix::fs::ftruncate(&fd, len).map_err(|e| errno_error("ftruncate", e))?;
        Ok(fd)
    }

    /// The byte backends' shared path (heaps, udmabuf) with a memfd standing
    /// in for the device: page-rounded lengths, the engine's exact layout.
    #[test]
    fn byte_backends_get_page_rounded_buffers_in_the_engines_layout() {
        let d = decision(2);
        let mut lens = Vec::new();
        let bufs = allocate_bytes(&d, |_, len| {
            lens.push(len);
            memfd(len)
        })
        .expect("allocates");
        let layout = d.layout.clone().expect("linear layout");
        let page = rustix::param::page_size() as u64;
        assert_eq!(bufs.len(), 2);
        assert_eq!(lens, vec![layout.size_bytes.div_ceil(page) * page; 2]);
        for b in &bufs {
            assert_eq!(b.planes[0].stride, 512, "400 bytes rounded up to 256");
            assert_eq!(b.planes[0].offset, 0);
            assert_eq!(b.size_bytes, lens[0]);
        }
    }

    /// Raw bytes (no format) on the byte backends' path: one plane at
    /// offset 0 with stride 0, the length page-rounded.
    #[test]
    fn byte_backends_make_raw_bytes() {
        let c = Constraints {
            name: "decoder".into(),
            min_size_bytes: 10_000,
            buffers: accord_engine::BufferCounts {
                camping: 2,
                ..Default::default()
            },
            ..Default::default()
        };
        let d = solve(&[c]).expect("a raw collection");
        assert!(d.raw);
        let mut lens = Vec::new();
        let bufs = allocate_bytes(&d, |_, len| {
            lens.push(len);
            memfd(len)
        })
        .expect("allocates");
        let page = rustix::param::page_size() as u64;
        assert_eq!(lens, vec![10_000u64.div_ceil(page) * page; 2]);
        for b in &bufs {
            assert_eq!(b.planes.len(), 1);
            assert_eq!((b.planes[0].offset, b.planes[0].stride), (0, 0));
            assert!(b.size_bytes >= 10_000);
        }
    }

    /// A device error on buffer 2 fails the whole allocation as that error.
    #[test]
    fn byte_backend_error_on_a_later_buffer_fails_the_allocation() {
        let d = decision(3);
        let mut n = 0;
        let err = allocate_bytes(&d, |_, len| {
            n += 1;
            if n == 2 {
                Err(AllocError::OutOfMemory("buffer 2".into()))
            } else {
                memfd(len)
            }
        })
        .expect_err("fails");
        assert_eq!(
            err,
            AllocError::OutOfMemory("buffer 1 of 3: buffer 2".into()),
            "the error names the buffer (0-based) it happened at"
        );
        assert_eq!(n, 2, "stops at the failing buffer");
    }
}
