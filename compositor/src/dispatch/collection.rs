//! `wp_buffer_collection_v1`: the double-buffered constraints, `commit`,
//! and `get_wl_buffer` once allocated.

use std::sync::Arc;

use accord_protocol::server::wp_buffer_collection_v1::{self as coll, WpBufferCollectionV1};
use wayland_server::backend::ClientId;
use wayland_server::protocol::wl_buffer::WlBuffer;
use wayland_server::{Client, DataInit, Dispatch, DisplayHandle, New, Resource};

use super::BufferCollectionDispatch;
use crate::backend::MemoryKind;
use crate::collections::Allocation;
use crate::dmabuf_buffers::shared_dmabuf;
use crate::objects::CollectionData;
use crate::state::BufferCollectionState;
use crate::wire_constraints::{apply_constraint, check_committed, constraint_name};
use crate::wl_buffer::MemfdBuffer;

impl<D: BufferCollectionDispatch> Dispatch<WpBufferCollectionV1, CollectionData, D>
    for BufferCollectionState
{
    fn request(
        state: &mut D,
        _client: &Client,
        resource: &WpBufferCollectionV1,
        request: coll::Request,
        data: &CollectionData,
        _dh: &DisplayHandle,
        data_init: &mut DataInit<'_, D>,
    ) {
        match request {
            coll::Request::Destroy => {
                if let Some(slot) = data.slot {
                    let st = state.buffer_collection_state();
                    st.slots.remove(&slot);
                    st.collections
                        .fail(slot, "it destroyed its collection before allocation");
                    crate::state::flush(state);
                }
            }
            coll::Request::GetWlBuffer { buffer, index } => {
                let alloc = data.lock().allocation.clone();
                let Some(alloc) = alloc else {
                    resource.post_error(
                        coll::Error::NotAllocated,
                        "wp_buffer_collection_v1.get_wl_buffer: the collection has no buffers \
                         yet; wait for the allocated event",
                    );
                    return;
                };
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
                if inner.committed {
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
