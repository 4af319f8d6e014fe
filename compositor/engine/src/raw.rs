//! Raw collections: buffers of bytes with no image format (a decoder's
//! bitstream input queue, a compressed-data or metadata ring),
//! negotiated by byte size and count.
//!
//! **When a collection is raw.** When no participant lists a (format,
//! modifier) pair. sysmem's equivalent is a collection in which no
//! participant sets `image_format_constraints`: only its
//! `BufferMemoryConstraints` apply and the settings carry no image format
//! (`logical_buffer_collection.cc`, `GenerateUnpopulatedBufferCollectionInfo`).
//! A raw collection needs a size: some participant states
//! `min_size_bytes`; with none, nothing says what to allocate and the
//! collection fails with `no_common_format` as before.
//!
//! **Departure: no mixing.** In sysmem a participant without image
//! constraints accepts any image format of the others. In Accord an empty
//! list still accepts nothing when another participant lists pairs
//! (`no_common_format`, as before this module): a participant that
//! forgot its formats fails at negotiation rather than receiving images it
//! does not expect, and a bitstream queue is never attached to a surface.
//!
//! **What is negotiated** (every rule from `aggregate.rs`, unchanged):
//! usage OR; buffer counts as sysmem; contiguous OR; devices union; the
//! coherency domain as for images (`coherency.rs`). The size: the largest
//! `min_size_bytes` rounded up to the LCM of the base alignments (sysmem
//! takes the largest `min_size_bytes` as `size_bytes`, fails a size of 0,
//! and rounds only the VMO up to the page size in `AllocateVmo`; Accord
//! rounds to what participants ask and byte backends page-round their
//! memory the same way), within every `max_bytes` (sysmem's
//! `max_size_bytes`) and the protocol's per-buffer and per-collection
//! limits (`layout::check_size`, the same function as for images:
//! `too_large`, naming who set the size and who set the limit).
//!
//! **Image fields are refused.** A participant of a raw collection that
//! sets an image constraint (size range, required size, maximum area,
//! size, stride or offset alignment, stride limits, per-format limits,
//! colour spaces) is `invalid_constraint` naming it: those fields have no
//! meaning for bytes, and silently ignoring them would hide a client that
//! forgot its formats. sysmem has no such case (the fields live inside
//! the image constraints that a raw participant does not send).
//!
//! **The decision.** `raw: true`, `format` [`FORMAT_RAW`]
//! (`DRM_FORMAT_INVALID`), `modifier` LINEAR (bytes in order), size 0x0,
//! one candidate, and a layout of one plane at offset 0 with stride 0 (no
//! rows) of `size_bytes` bytes: every backend that lays out linear
//! buffers makes it as it makes one plane of bytes.

use crate::aggregate::{failure, pname};
use crate::layout::{check_size, LayoutError, SizeLimit};
use crate::math::round_up_wide;
use crate::{
    Candidate, Constraints, Decision, Failure, FailureReason, Layout, PlaneLayout, FORMAT_RAW,
    MOD_LINEAR,
};

/// Is the collection of `c` raw (nobody lists a pair)?
pub(crate) fn is_raw(c: &[Constraints]) -> bool {
    !c.is_empty() && c.iter().all(|p| p.formats.is_empty())
}

/// The image constraints `p` sets, by the scenario format's field names.
pub fn image_fields(p: &Constraints) -> Vec<&'static str> {
    let mut v = Vec::new();
    if p.min_size.0 > 1 || p.min_size.1 > 1 || p.max_size != (0, 0) {
        v.push("size");
    }
    if p.required_min_size != (0, 0) || p.required_max_size != (0, 0) {
        v.push("required size");
    }
    if p.max_area != 0 {
        v.push("max_area");
    }
    if p.size_alignment != (1, 1) {
        v.push("size_alignment");
    }
    if p.stride_alignment != 1 || p.min_stride != 0 || p.max_stride != 0 {
        v.push("stride");
    }
    if p.offset_alignment != 1 {
        v.push("offset_alignment");
    }
    if !p.format_limits.is_empty() {
        v.push("format_limits");
    }
    if !p.color_spaces.is_empty() {
        v.push("color_spaces");
    }
    v
}

/// Solve a raw collection (`is_raw(c)`; `c` validated).
pub(crate) fn solve(c: &[Constraints]) -> Result<Decision, Failure> {
    let mut imagers: Vec<(&str, Vec<&str>)> = c
        .iter()
        .map(|p| (pname(p), image_fields(p)))
        .filter(|(_, f)| !f.is_empty())
        .collect();
    if !imagers.is_empty() {
        imagers.sort();
        let what: Vec<String> = imagers
            .iter()
            .map(|(n, f)| format!("{n} sets {}", f.join(", ")))
            .collect();
        return Err(failure(
            FailureReason::InvalidConstraint,
            format!(
                "a raw collection (no participant lists a format) has no image: {}",
                what.join("; ")
            ),
            imagers.into_iter().map(|(n, _)| n).collect(),
        ));
    }
    if c.iter().all(|p| p.min_size_bytes == 0) {
        let mut names: Vec<&str> = c.iter().map(pname).collect();
        names.sort_unstable();
        return Err(failure(
            FailureReason::NoCommonFormat,
            format!(
                "no participant lists a (format, modifier) pair, and none states \
                 min_size_bytes for a raw collection ({})",
                names.join(", ")
            ),
            names,
        ));
    }
    let agg = crate::aggregate::aggregate(c)?;
    let domain = crate::coherency::decide(c, agg.usage)?;
    // Some participant has a non-zero min_size_bytes.
    let min_by = agg.min_bytes_by.unwrap_or(0);
    let p = &agg.params;
    let bytes = round_up_wide(u128::from(p.min_bytes), p.base_alignment);
    if let Err(e) = check_size(bytes, p.max_bytes, agg.buffer_count) {
        let mut names = vec![pname(&c[min_by])];
        if let LayoutError::TooLarge {
            limit: SizeLimit::MaxBytes,
            ..
        } = e
        {
            names.extend(agg.max_bytes_by.map(|i| pname(&c[i])));
        }
        if bytes > u128::from(p.min_bytes) {
            names.extend(
                c.iter()
                    .filter(|q| {
                        q.base_alignment > 1 && bytes.is_multiple_of(u128::from(q.base_alignment))
                    })
                    .map(pname),
            );
        }
        return Err(failure(
            FailureReason::TooLarge,
            format!(
                "raw buffers of {} bytes (min_size_bytes {} of {}, base alignment {}): {e}",
                bytes,
                p.min_bytes,
                pname(&c[min_by]),
                p.base_alignment
            ),
            names,
        ));
    }
    // check_size passed: bytes <= MAX_BUFFER_BYTES.
    let size_bytes = bytes as u64;
    let candidate = Candidate {
        format: FORMAT_RAW,
        modifier: MOD_LINEAR,
        scanout: false,
    };
    Ok(Decision {
        format: FORMAT_RAW,
        modifier: MOD_LINEAR,
        width: 0,
        height: 0,
        buffer_count: agg.buffer_count,
        usage: agg.usage,
        stride_alignment: 1,
        offset_alignment: 1,
        base_alignment: p.base_alignment,
        min_stride: 0,
        max_stride: 0,
        max_bytes: p.max_bytes,
        min_size_bytes: p.min_bytes,
        raw: true,
        contiguous: agg.contiguous,
        devices: agg.devices.clone(),
        scanout: false,
        layout: Some(Layout {
            planes: vec![PlaneLayout {
                offset: 0,
                stride: 0,
            }],
            size_bytes,
        }),
        color_space: None,
        coherency_domain: domain,
        alternatives: vec![candidate],
    })
}
