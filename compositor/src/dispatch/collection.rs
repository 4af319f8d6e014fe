//! `wp_buffer_collection_v1`: the double-buffered constraints, `commit`,
//! `get_wl_buffer` once allocated, and `attach_token` (version 2) for a late
//! participant.

use std::sync::Arc;

use accord_protocol::server::wp_buffer_collection_v1::{self as coll, WpBufferCollectionV1};
use wayland_server::backend::ClientId;
use wayland_server::protocol::wl_buffer::WlBuffer;
use wayland_server::{Client, DataInit, Dispatch, DisplayHandle, New, Resource};

use super::{admit_token, new_failed_token, new_token, BufferCollectionDispatch};
use crate::backend::MemoryKind;
use crate::collections::Allocation;
use crate::collections::{Attached, Failed, FailureReason, Misuse};
use crate::dmabuf_buffers::shared_dmabuf;
use crate::objects::CollectionData;
use crate::objects::TokenState;
use crate::participant::holder;
use crate::state::BufferCollectionState;
use crate::wire_constraints::{apply_constraint, check_committed, constraint_name};
use crate::wl_buffer::MemfdBuffer;

impl<D: BufferCollectionDispatch> Dispatch<WpBufferCollectionV1, CollectionData, D>
    for BufferCollectionState
{
    fn request(
        state: &mut D,
        client: &Client,
        resource: &WpBufferCollectionV1,
        request: coll::Request,
        data: &CollectionData,
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, D>,
    ) {
        match request {
            coll::Request::AttachToken { token } => {
                attach_token(state, client, dh, resource, data, data_init, token);
            }
            coll::Request::SetWeak => {
                let mut inner = data.lock();
                if inner.committed {
                    drop(inner);
                    resource.post_error(
                        coll::Error::AlreadyCommitted,
                        "wp_buffer_collection_v1.set_weak: constraints were already committed; \
                         set_weak comes before commit",
                    );
                    return;
                }
                inner.weak = true;
                drop(inner);
                if let Some(slot) = data.slot {
                    state.buffer_collection_state().collections.set_weak(slot);
                }
            }
            coll::Request::Destroy => {
                if let Some(slot) = data.slot {
                    let st = state.buffer_collection_state();
                    st.slots.remove(&slot);
                    st.collections.fail(slot, "it destroyed its collection");
                    crate::state::flush(state);
                }
            }
            coll::Request::GetWlBuffer { buffer, index } => {
                let alloc = data.lock().buffers();
                let Some(alloc) = alloc else {
                    resource.post_error(
                        coll::Error::NotAllocated,
                        "wp_buffer_collection_v1.get_wl_buffer: the collection has no buffers \
                         yet; wait for the allocated event",
                    );
                    return;
                };
                if alloc.decision.raw {
                    resource.post_error(
                        coll::Error::RawCollection,
                        "wp_buffer_collection_v1.get_wl_buffer: the collection is raw (no image \
                         format); only images make wl_buffers",
                    );
                    return;
                }
                if index >= alloc.decision.buffer_count {
                    resource.post_error(
                        coll::Error::InvalidIndex,
                        format!(
                            "wp_buffer_collection_v1.get_wl_buffer: buffer index {index} out of \
                             range; the collection has {} buffers (0..{})",
                            alloc.decision.buffer_count, alloc.decision.buffer_count
                        ),
                    );
                    return;
                }
                init_wl_buffer(state, data_init, buffer, alloc, index);
            }
            coll::Request::Recommit => recommit(state, resource, data),
            coll::Request::GetGenerationBuffer {
                buffer,
                generation,
                index,
            } => {
                let held = data.lock().generation(generation);
                let alloc = match held {
                    Ok(a) => a,
                    Err(true) => {
                        resource.post_error(
                            coll::Error::NotAllocated,
                            "wp_buffer_collection_v1.get_generation_buffer: no buffers yet; wait \
                             for the allocated event",
                        );
                        return;
                    }
                    Err(false) => {
                        let newest = newest_generation(data);
                        resource.post_error(
                            coll::Error::InvalidGeneration,
                            format!(
                                "wp_buffer_collection_v1.get_generation_buffer: generation \
                                 {generation} is not held (unknown or released); newest {newest}"
                            ),
                        );
                        return;
                    }
                };
                if index >= alloc.decision.buffer_count {
                    resource.post_error(
                        coll::Error::InvalidIndex,
                        format!(
                            "wp_buffer_collection_v1.get_generation_buffer: index {index} out of \
                             range; generation {generation} has {} buffers",
                            alloc.decision.buffer_count
                        ),
                    );
                    return;
                }
                init_wl_buffer(state, data_init, buffer, alloc, index);
            }
            coll::Request::ReleaseGeneration { generation } => {
                let released = data.lock().release(generation);
                if !released {
                    let newest = newest_generation(data);
                    resource.post_error(
                        coll::Error::InvalidGeneration,
                        format!(
                            "wp_buffer_collection_v1.release_generation: generation \
                             {generation} is not an older one held; newest {newest} stays"
                        ),
                    );
                    return;
                }
                crate::state::flush(state);
            }
            coll::Request::Commit => {
                let mut inner = data.lock();
                if inner.committed {
                    drop(inner);
                    resource.post_error(
                        coll::Error::AlreadyCommitted,
                        "wp_buffer_collection_v1.commit: constraints were already committed; \
                         commit exactly once",
                    );
                    return;
                }
                if let Err((code, msg)) = check_committed(&inner.pending) {
                    drop(inner);
                    resource.post_error(code, format!("wp_buffer_collection_v1.{msg}"));
                    return;
                }
                inner.committed = true;
                let constraints = std::mem::take(&mut inner.pending);
                drop(inner);
                if let Some(slot) = data.slot {
                    let st = state.buffer_collection_state();
                    st.collections.commit(slot, constraints);
                    crate::state::flush(state);
                }
            }
            other => {
                let mut inner = data.lock();
                // After the allocated event a version-2 object builds its
                // next constraints for `recommit`.
                if inner.committed && !(inner.allocated && resource.version() >= 2) {
                    drop(inner);
                    resource.post_error(
                        coll::Error::AlreadyCommitted,
                        format!(
                            "wp_buffer_collection_v1.{}: constraints were already committed; \
                             send every constraint before commit",
                            constraint_name(&other)
                        ),
                    );
                    return;
                }
                if let Err((code, msg)) = apply_constraint(&mut inner.pending, other) {
                    drop(inner);
                    resource.post_error(code, format!("wp_buffer_collection_v1.{msg}"));
                }
            }
        }
    }

    fn destroyed(
        state: &mut D,
        client: ClientId,
        _resource: &WpBufferCollectionV1,
        data: &CollectionData,
    ) {
        let st = state.buffer_collection_state();
        st.objects.remove(&client, data.slot.is_some());
        if let Some(slot) = data.slot {
            // Before allocation this fails the collection (or drops a
            // dispensable slot); after it, the participant just leaves.
            st.slots.remove(&slot);
            st.collections.fail(
                slot,
                "its collection object was destroyed or its client disconnected",
            );
            crate::state::flush(state);
        }
    }
}

/// `recommit`: the pending constraints become this participant's proposal
/// for a re-solve (see `collections/renegotiate.rs`).
fn recommit<D: BufferCollectionDispatch>(
    state: &mut D,
    resource: &WpBufferCollectionV1,
    data: &CollectionData,
) {
    let mut inner = data.lock();
    if !inner.allocated {
        drop(inner);
        resource.post_error(
            coll::Error::NotAllocated,
            "wp_buffer_collection_v1.recommit: no buffers yet; recommit only after the \
             allocated event",
        );
        return;
    }
    if let Err((code, msg)) = check_committed(&inner.pending) {
        drop(inner);
        resource.post_error(code, format!("wp_buffer_collection_v1.re{msg}"));
        return;
    }
    let constraints = std::mem::take(&mut inner.pending);
    drop(inner);
    if let Some(slot) = data.slot {
        state
            .buffer_collection_state()
            .collections
            .recommit(slot, constraints);
        crate::state::flush(state);
    }
}

/// The newest generation a collection object holds, for error messages.
fn newest_generation(data: &CollectionData) -> String {
    data.lock()
        .generations
        .last()
        .map_or_else(|| "none".into(), |h| h.generation().to_string())
}

/// Create the `wl_buffer` for buffer `index` (already range-checked). A
/// dma-buf one shares its buffer's `Dmabuf` and leaves its hold on the
/// allocation with the state (`dmabuf_buffers.rs`).
fn init_wl_buffer<D: BufferCollectionDispatch>(
    state: &mut D,
    data_init: &mut DataInit<'_, D>,
    id: New<WlBuffer>,
    allocation: Arc<Allocation>,
    index: u32,
) {
    let index = match allocation.memory {
        MemoryKind::Memfd => index as usize,
        MemoryKind::DmaBuf => match shared_dmabuf(&allocation, index as usize) {
            Some(dmabuf) => {
                let buffer = data_init.init(id, dmabuf);
                state
                    .buffer_collection_state()
                    .dmabuf_holds
                    .insert(&buffer, allocation);
                return;
            }
            // dup failed (fd exhaustion): a runtime condition, but the
            // object must exist; it renders as an unknown buffer.
            None => usize::MAX,
        },
    };
    data_init.init(id, MemfdBuffer { allocation, index });
}

/// `attach_token`: a token for a late participant (see
/// `Collections::attach`). A collection object without a live collection
/// (failed, or closed) gives a token that fails at once.
fn attach_token<D: BufferCollectionDispatch>(
    state: &mut D,
    client: &Client,
    dh: &DisplayHandle,
    resource: &WpBufferCollectionV1,
    data: &CollectionData,
    data_init: &mut DataInit<'_, D>,
    token: New<accord_protocol::server::wp_buffer_collection_token_v1::WpBufferCollectionTokenV1>,
) {
    let cid = client.id();
    let identity = state.client_identity(client, dh);
    let Some(token) = admit_token(
        state,
        &cid,
        &identity,
        resource,
        coll::Error::TooManyObjects as u32,
        "attach_token",
        data_init,
        token,
    ) else {
        return;
    };
    let attached = match data.slot {
        Some(slot) => state
            .buffer_collection_state()
            .collections
            .attach(slot, holder(client, dh)),
        None => Ok(Attached::Closed),
    };
    match attached {
        Ok(Attached::Slot(slot)) => {
            new_token(
                state,
                &cid,
                &identity,
                data_init,
                token,
                TokenState::Live(slot),
            );
        }
        Ok(Attached::Refused(f)) => {
            new_failed_token(state, &cid, &identity, data_init, token, &f);
        }
        Ok(Attached::Closed) => {
            new_failed_token(
                state,
                &cid,
                &identity,
                data_init,
                token,
                &Failed {
                    reason: FailureReason::ParticipantFailed,
                    message: "attach_token: the collection failed or closed; a late participant \
                              cannot join it"
                        .into(),
                },
            );
        }
        Err(Misuse::TooManyParticipants) => resource.post_error(
            coll::Error::TooManyParticipants,
            format!(
                "wp_buffer_collection_v1.attach_token: the collection already has {} \
                 participant slots",
                accord_protocol::limits::MAX_PARTICIPANTS
            ),
        ),
    }
    crate::state::flush(state);
}
