//! Accord's negotiation engine.
//!
//! Pure: no Wayland, no Smithay, no I/O. It takes every participant's
//! [`Constraints`] and returns one allocatable [`Decision`] or a [`Failure`]
//! that names the participants in conflict. The aggregation rules are the table
//! in DESIGN.md ("Constraint vocabulary and aggregation").

mod types;

pub use types::*;

// PRIVATE STUB (uncommitted) until the engine lands.
pub fn solve(parts: &[Constraints]) -> Result<Decision, Failure> {
    let first = parts.iter().find(|p| !p.formats.is_empty());
    let fm = match first {
        None => FormatModifier { format: 0x34325258, modifier: MOD_LINEAR, scanout: false },
        Some(p) => match p.formats.iter().find(|f| parts.iter().all(|q| q.formats.is_empty() || q.formats.iter().any(|g| g.format == f.format && g.modifier == f.modifier))) {
            Some(f) => *f,
            None => return Err(Failure { reason: FailureReason::NoCommonFormat, message: format!("no common format between {}", parts.iter().map(|p| format!("'{}'", p.name)).collect::<Vec<_>>().join(" and ")), participants: parts.iter().map(|p| p.name.clone()).collect() }),
        },
    };
    let w = parts.iter().map(|p| p.min_size.0).max().unwrap_or(1).max(1);
    let h = parts.iter().map(|p| p.min_size.1).max().unwrap_or(1).max(1);
    let sa = parts.iter().map(|p| p.stride_alignment as u64).max().unwrap_or(1).max(1);
    let stride = ((w as u64 * 4).div_ceil(sa) * sa) as u32;
    let count = parts.iter().map(|p| p.buffers.camping).sum::<u32>().max(parts.iter().map(|p| p.buffers.min).max().unwrap_or(1)).max(1);
    Ok(Decision { format: fm.format, modifier: MOD_LINEAR, width: w, height: h, buffer_count: count, usage: Usage::empty(), stride_alignment: sa, offset_alignment: 1, base_alignment: 1, min_stride: 0, max_stride: 0, max_bytes: 0, contiguous: false, devices: vec![], scanout: false, layout: Some(Layout { planes: vec![PlaneLayout { offset: 0, stride }], size_bytes: stride as u64 * h as u64 }), alternatives: vec![] })
}
