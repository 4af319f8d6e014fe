//! Event handlers: every event is stored in its object's user data.

use accord_protocol::client::wp_buffer_collection_manager_v1::WpBufferCollectionManagerV1;
use accord_protocol::client::wp_buffer_collection_token_group_v1::WpBufferCollectionTokenGroupV1;
use accord_protocol::client::wp_buffer_collection_token_v1::{
    self as token, WpBufferCollectionTokenV1,
};
use accord_protocol::client::wp_buffer_collection_v1::{self as coll, WpBufferCollectionV1};
use wayland_client::globals::GlobalListContents;
use wayland_client::protocol::{wl_buffer, wl_registry};
use wayland_client::{Connection, Dispatch, QueueHandle, WEnum};

use crate::collection::{CollectionEvents, LostParticipant, Renegotiation, Settings};
use crate::lock::lock;
use crate::token::TokenEvents;
use crate::{CoherencyDomains, ColorSpace, Failure, FailureReason, QueueState};
use accord_protocol::vocabulary::{codec, MemoryKind};

fn reason(r: WEnum<coll::FailureReason>) -> FailureReason {
    match r {
        WEnum::Value(v) => FailureReason::from_wire(v as u32),
        WEnum::Unknown(u) => FailureReason::Other(u),
    }
}

wayland_client::delegate_dispatch!(QueueState: [
    wl_registry::WlRegistry: GlobalListContents
] => crate::IgnoreRegistry);

wayland_client::delegate_noop!(QueueState: ignore WpBufferCollectionManagerV1);
wayland_client::delegate_noop!(QueueState: ignore WpBufferCollectionTokenGroupV1);

impl Dispatch<WpBufferCollectionTokenV1, TokenEvents> for QueueState {
    fn event(
        _: &mut Self,
        _: &WpBufferCollectionTokenV1,
        event: token::Event,
        data: &TokenEvents,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let mut st = lock(data);
        match event {
            token::Event::Handle { handle } => st.handle = Some(handle),
            token::Event::Failed { reason: r, message } => {
                st.failure = Some(Failure {
                    reason: reason(r),
                    message,
                })
            }
            _ => {}
        }
    }
}

impl Dispatch<WpBufferCollectionV1, CollectionEvents> for QueueState {
    fn event(
        _: &mut Self,
        _: &WpBufferCollectionV1,
        event: coll::Event,
        data: &CollectionEvents,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let mut st = lock(data);
        match event {
            coll::Event::Settings {
                format,
                modifier_hi,
                modifier_lo,
                width,
                height,
                buffer_count,
                memory_kind,
            } => st.on_settings(Settings {
                format,
                modifier: codec::join_u64(modifier_hi, modifier_lo),
                width,
                height,
                count: buffer_count,
                // An unknown kind is treated as not a dma-buf (no sync ioctls).
                memory: match memory_kind {
                    WEnum::Value(v) => MemoryKind::from_wire(v as u32),
                    WEnum::Unknown(u) => MemoryKind::from_wire(u),
                }
                .unwrap_or(MemoryKind::Memfd),
            }),
            coll::Event::Buffer {
                index,
                size_hi,
                size_lo,
            } => st.on_buffer(index, codec::join_u64(size_hi, size_lo)),
            coll::Event::Plane {
                buffer_index,
                plane_index: _,
                fd,
                offset,
                stride,
            } => st.on_plane(buffer_index, fd, offset, stride),
            coll::Event::Allocated => st.on_allocated(),
            coll::Event::Failed { reason: r, message } => st.outcome_failure(Failure {
                reason: reason(r),
                message,
            }),
            coll::Event::ParticipantLost { name, message } => {
                st.lost.push(LostParticipant { name, message })
            }
            coll::Event::CloseWeakAsap => st.close_weak = true,
            coll::Event::CoherencyDomain { domain } => {
                st.coherency_domain = Some(CoherencyDomains(match domain {
                    WEnum::Value(v) => v.bits(),
                    WEnum::Unknown(u) => u,
                }))
            }
            coll::Event::RawSize { size_hi, size_lo } => {
                st.raw_size = Some(codec::join_u64(size_hi, size_lo))
            }
            coll::Event::Generation { generation } => st.on_generation(generation),
            coll::Event::GenerationKept { generation } => st
                .renegotiations
                .push_back(Renegotiation::Kept { generation }),
            coll::Event::RenegotiationFailed {
                reason: r,
                message,
                generation,
            } => st.renegotiations.push_back(Renegotiation::Failed {
                failure: Failure {
                    reason: reason(r),
                    message,
                },
                generation,
            }),
            coll::Event::Placement {
                backend,
                name,
                device_hi,
                device_lo,
            } => {
                let device = accord_protocol::vocabulary::codec::join_u64(device_hi, device_lo);
                st.placement = Some(crate::Placement {
                    backend,
                    name,
                    device: (device != 0).then_some(device),
                });
            }
            coll::Event::ColorSpace { color_space } => {
                st.color_space = Some(ColorSpace(match color_space {
                    WEnum::Value(v) => v as u32,
                    WEnum::Unknown(u) => u,
                }))
            }
            _ => {}
        }
    }
}

// wl_buffer events (release) are not tracked on this queue.
wayland_client::delegate_noop!(QueueState: ignore wl_buffer::WlBuffer);
