//! Shared by the dma-buf backends: the linear geometry a decision asks for,
//! and the size of an exported dma-buf.

use std::os::fd::AsFd;

use accord_engine::{Decision, MOD_INVALID, MOD_LINEAR};

use super::AllocError;

/// Bytes per pixel of the single-plane RGB formats the dma-buf backends
/// lay out themselves. Multi-planar formats come from GBM.
pub(crate) fn bytes_per_pixel(format: u32) -> Option<u32> {
    let code = format.to_le_bytes();
    Some(match &code {
        b"C8  " | b"R8  " => 1,
        b"RG16" | b"BG16" | b"GR88" | b"R16 " => 2,
        b"RG24" | b"BG24" => 3,
        b"XR24" | b"AR24" | b"XB24" | b"AB24" | b"RX24" | b"RA24" | b"BX24" | b"BA24" | b"XR30"
        | b"AR30" | b"XB30" | b"AB30" => 4,
        b"XR4H" | b"AR4H" | b"XB4H" | b"AB4H" => 8,
        _ => return None,
    })
}

/// Row pitch and row count for a linear single-plane buffer satisfying the
/// decision: the engine's layout when present, the minimum stride, and the
/// stride alignment (rounded to whole pixels, since dumb buffers are sized in
/// pixels).
pub(crate) struct LinearGeometry {
    pub cpp: u32,
    pub stride: u32,
    pub rows: u32,
    pub size_bytes: u64,
}

pub(crate) fn linear_geometry(d: &Decision) -> Result<LinearGeometry, AllocError> {
    if d.modifier != MOD_LINEAR && d.modifier != MOD_INVALID {
        return Err(AllocError::Unsupported(format!(
            "modifier {:#x}: this backend makes linear buffers only",
            d.modifier
        )));
    }
    let cpp = bytes_per_pixel(d.format).ok_or_else(|| {
        AllocError::Unsupported(format!(
            "format {:?}: not a single-plane RGB format",
            String::from_utf8_lossy(&d.format.to_le_bytes())
        ))
    })?;
    let too_big = || AllocError::Unsupported(format!("{}x{} overflows", d.width, d.height));
    let mut stride = u64::from(d.width)
        .checked_mul(u64::from(cpp))
        .ok_or_else(too_big)?
        .max(u64::from(d.min_stride));
    if let Some(layout) = &d.layout {
        if layout.planes.len() != 1 {
            return Err(AllocError::Unsupported(format!(
                "{} planes in the layout",
                layout.planes.len()
            )));
        }
        stride = stride.max(u64::from(layout.planes[0].stride));
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
    Ok(LinearGeometry {
        cpp,
        stride,
        rows,
        size_bytes: size,
    })
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
