//! Checks a backend's actual layout against the negotiated decision before
//! any fd leaves the compositor. Backends pick strides themselves (dumb
//! buffers, GBM), so this checks constraints, not equality, except where the
//! engine computed the layout and the backend claims to follow it.

use accord_engine::{Decision, MOD_INVALID};

use super::{AllocError, AllocatedBuffer};

/// Verify every buffer against `decision`. `exact`: the backend promised the
/// engine's own layout (memfd), so offsets and strides must match it.
///
/// ```
/// # use accord_engine::{solve, Constraints, FormatModifier, MOD_LINEAR};
/// # use accord_smithay::backend::{memfd::MemfdBackend, CollectionAllocator};
/// let xrgb8888 = u32::from_le_bytes(*b"XR24");
/// let pair = FormatModifier { format: xrgb8888, modifier: MOD_LINEAR, scanout: false };
/// let wants = Constraints { formats: vec![pair], min_size: (64, 32), ..Default::default() };
/// let decision = solve(&[wants]).expect("solvable");
/// let mut buffers = MemfdBackend::new().allocate(&decision).expect("memfd");
/// use accord_smithay::backend::verify_layout;
/// assert!(verify_layout(&decision, &buffers, true).is_ok());
/// buffers[0].planes[0].stride -= 4; // a backend that ignored the stride
/// assert!(verify_layout(&decision, &buffers, true).is_err());
/// ```
pub fn verify_layout(
    decision: &Decision,
    buffers: &[AllocatedBuffer],
    exact: bool,
) -> Result<(), AllocError> {
    if buffers.len() != decision.buffer_count as usize {
        return Err(mismatch(format!(
            "backend returned {} buffers, decision wants {}",
            buffers.len(),
            decision.buffer_count
        )));
    }
    for (i, buf) in buffers.iter().enumerate() {
        verify_buffer(decision, buf, exact).map_err(|m| mismatch(format!("buffer {i}: {m}")))?;
    }
    Ok(())
}

fn verify_buffer(d: &Decision, buf: &AllocatedBuffer, exact: bool) -> Result<(), String> {
    if d.modifier != MOD_INVALID && buf.modifier != d.modifier {
        return Err(format!(
            "modifier {:#x}, decision {:#x}",
            buf.modifier, d.modifier
        ));
    }
    if buf.planes.is_empty() {
        return Err("no planes".into());
    }
    if let Some(layout) = &d.layout {
        if buf.planes.len() != layout.planes.len() {
            return Err(format!(
                "{} planes, layout has {}",
                buf.planes.len(),
                layout.planes.len()
            ));
        }
        if buf.size_bytes < layout.size_bytes {
            return Err(format!(
                "{} bytes, layout needs {}",
                buf.size_bytes, layout.size_bytes
            ));
        }
        for (p, (got, want)) in buf.planes.iter().zip(&layout.planes).enumerate() {
            if exact && (got.offset != want.offset || got.stride != want.stride) {
                return Err(format!(
                    "plane {p}: offset {} stride {}, layout says offset {} stride {}",
                    got.offset, got.stride, want.offset, want.stride
                ));
            }
            if got.stride < want.stride {
                return Err(format!(
                    "plane {p}: stride {} below the minimum {}",
                    got.stride, want.stride
                ));
            }
        }
    }
    for (p, plane) in buf.planes.iter().enumerate() {
        let stride = u64::from(plane.stride);
        // Alignments are never 0 (the engine rejects it); checked anyway.
        if stride.checked_rem(d.stride_alignment).unwrap_or(0) != 0 {
            return Err(format!(
                "plane {p}: stride {stride} not a multiple of {}",
                d.stride_alignment
            ));
        }
        if plane.offset.checked_rem(d.offset_alignment).unwrap_or(0) != 0 {
            return Err(format!(
                "plane {p}: offset {} not a multiple of {}",
                plane.offset, d.offset_alignment
            ));
        }
        if stride < u64::from(d.min_stride)
            || (d.max_stride != 0 && stride > u64::from(d.max_stride))
        {
            return Err(format!(
                "plane {p}: stride {stride} outside [{}, {}]",
                d.min_stride, d.max_stride
            ));
        }
    }
    if d.max_bytes != 0 && buf.size_bytes > d.max_bytes {
        return Err(format!(
            "{} bytes exceed max_bytes {}",
            buf.size_bytes, d.max_bytes
        ));
    }
    Ok(())
}

fn mismatch(msg: String) -> AllocError {
    AllocError::LayoutMismatch(msg)
}
