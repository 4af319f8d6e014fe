//! Outcomes as events: `failed` on a token or collection, and the
//! `settings`, `buffer`, `plane`, `allocated` sequence with the fds. The
//! vocabulary's values are mapped to the generated wire enums here only.

use std::os::fd::AsFd;

use accord_protocol::server::wp_buffer_collection_token_v1::WpBufferCollectionTokenV1;
use accord_protocol::server::wp_buffer_collection_v1::{
    CoherencyDomain as WireCoherency, ColorSpace as WireColorSpace,
    FailureReason as WireFailureReason, MemoryKind as WireMemoryKind, WpBufferCollectionV1,
};
use accord_vocabulary::codec;
use wayland_server::Resource;

use crate::collections::{Failed, FailureReason, Outcome};
use crate::objects::{CollectionData, TokenData, TokenState};

pub(crate) fn fail_token(token: &WpBufferCollectionTokenV1, f: &Failed) {
    if let Some(data) = token.data::<TokenData>() {
        data.set(TokenState::Failed);
        *data.failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(f.clone());
    }
    token.failed(wire_reason(f.reason), f.message.clone());
}

/// Send the outcome to one participant's collection object.
pub(crate) fn send_outcome(c: &WpBufferCollectionV1, outcome: &Outcome) {
    let Some(data) = c.data::<CollectionData>() else {
        return;
    };
    match outcome {
        Outcome::Failed(f) => {
            data.lock().failed = true;
            c.failed(wire_reason(f.reason), f.message.clone());
        }
        Outcome::Kept { generation } => {
            if c.version() >= 2 {
                c.generation_kept(*generation);
            }
        }
        Outcome::RenegotiationFailed { failed, generation } => {
            if c.version() >= 2 {
                c.renegotiation_failed(
                    wire_reason(failed.reason),
                    failed.message.clone(),
                    *generation,
                );
            }
        }
        Outcome::Allocated(a) => {
            data.lock().hold(a, c.version() >= 2);
            if c.version() >= 2 {
                c.generation(a.generation);
            }
            let d = &a.decision;
            let kind =
                WireMemoryKind::try_from(a.memory.to_wire()).unwrap_or(WireMemoryKind::Dmabuf);
            let (modifier_hi, modifier_lo) = codec::split_u64(d.modifier);
            c.settings(
                d.format,
                modifier_hi,
                modifier_lo,
                d.width,
                d.height,
                d.buffer_count,
                kind,
            );
            if c.version() >= 2 {
                c.coherency_domain(WireCoherency::from_bits_retain(d.coherency_domain.0));
                if let (true, Some(l)) = (d.raw, &d.layout) {
                    let (size_hi, size_lo) = codec::split_u64(l.size_bytes);
                    c.raw_size(size_hi, size_lo);
                }
            }
            if let (Some(cs), true) = (d.color_space, c.version() >= 2) {
                c.color_space(WireColorSpace::try_from(cs.0).unwrap_or(WireColorSpace::Srgb));
            }
            if c.version() >= 2 {
                let p = &a.placement;
                let (device_hi, device_lo) = codec::split_u64(p.device.unwrap_or(0));
                c.placement(p.kind.as_str().into(), p.name.clone(), device_hi, device_lo);
            }
            for (i, b) in a.buffers.iter().enumerate() {
                let (size_hi, size_lo) = codec::split_u64(b.size_bytes);
                c.buffer(i as u32, size_hi, size_lo);
                for (p, plane) in b.planes.iter().enumerate() {
                    // Offsets are bounded by MAX_BUFFER_BYTES (< 4 GiB).
                    let offset = u32::try_from(plane.offset).unwrap_or(u32::MAX);
                    c.plane(i as u32, p as u32, plane.fd.as_fd(), offset, plane.stride);
                }
            }
            c.allocated();
        }
    }
}

/// The vocabulary's reason as the protocol enum (same numbering).
pub(crate) fn wire_reason(r: FailureReason) -> WireFailureReason {
    WireFailureReason::try_from(r.to_wire()).unwrap_or(WireFailureReason::InvalidConstraint)
}
