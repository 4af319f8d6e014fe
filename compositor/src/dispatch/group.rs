//! `wp_buffer_collection_token_group_v1` (version 2): children and
//! `all_children_present`. The selection itself happens at negotiation
//! (`collections::choose`, in the engine's order).

use accord_protocol::limits::{MAX_GROUP_CHILDREN, MAX_PARTICIPANTS};
use accord_protocol::server::wp_buffer_collection_token_group_v1::{
    self as group, WpBufferCollectionTokenGroupV1,
};
use wayland_server::backend::ClientId;
use wayland_server::{Client, DataInit, Dispatch, DisplayHandle, New, Resource};

use accord_protocol::server::wp_buffer_collection_token_v1::WpBufferCollectionTokenV1;

use super::{admit_token, new_failed_token, new_token, BufferCollectionDispatch};
use crate::collections::{Failed, FailureReason, GroupMisuse};
use crate::objects::{GroupData, TokenState};
use crate::state::BufferCollectionState;

impl<D: BufferCollectionDispatch> Dispatch<WpBufferCollectionTokenGroupV1, GroupData, D>
    for BufferCollectionState
{
    fn request(
        state: &mut D,
        client: &Client,
        resource: &WpBufferCollectionTokenGroupV1,
        request: group::Request,
        data: &GroupData,
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, D>,
    ) {
        match request {
            group::Request::CreateChild { token } => {
                create_child(state, client, dh, resource, data, data_init, token);
            }
            group::Request::AllChildrenPresent => {
                let mut inner = data.lock();
                if inner.complete {
                    drop(inner);
                    resource.post_error(
                        group::Error::AlreadyComplete,
                        "wp_buffer_collection_token_group_v1.all_children_present: already \
                         sent; send it once, after the last create_child",
                    );
                    return;
                }
                if inner.children == 0 {
                    drop(inner);
                    resource.post_error(
                        group::Error::NoChildren,
                        "wp_buffer_collection_token_group_v1.all_children_present: the group \
                         has no children; create_child at least once first",
                    );
                    return;
                }
                inner.complete = true;
                drop(inner);
                if let Some(g) = data.group {
                    state
                        .buffer_collection_state()
                        .collections
                        .all_children_present(g);
                    crate::state::flush(state);
                }
            }
            // The destructor's work is in `destroyed`, which also runs
            // when the client goes away.
            _ => {}
        }
    }

    fn destroyed(
        state: &mut D,
        client: ClientId,
        _resource: &WpBufferCollectionTokenGroupV1,
        data: &GroupData,
    ) {
        let st = state.buffer_collection_state();
        st.objects.remove(&client, data.charged);
        let complete = data.lock().complete;
        if let (Some(g), false) = (data.group, complete) {
            st.collections.abandon_group(g);
            crate::state::flush(state);
        }
    }
}

fn create_child<D: BufferCollectionDispatch>(
    state: &mut D,
    client: &Client,
    dh: &DisplayHandle,
    resource: &WpBufferCollectionTokenGroupV1,
    data: &GroupData,
    data_init: &mut DataInit<'_, D>,
    token: New<WpBufferCollectionTokenV1>,
) {
    {
        let inner = data.lock();
        if inner.complete {
            drop(inner);
            resource.post_error(
                group::Error::AlreadyComplete,
                "wp_buffer_collection_token_group_v1.create_child: all_children_present was \
                 already sent; children come before it",
            );
            return;
        }
        if inner.children >= MAX_GROUP_CHILDREN {
            drop(inner);
            resource.post_error(
                group::Error::TooManyChildren,
                format!(
                    "wp_buffer_collection_token_group_v1.create_child: the group already has \
                     {MAX_GROUP_CHILDREN} children, its limit"
                ),
            );
            return;
        }
    }
    let cid = client.id();
    let identity = state.client_identity(client, dh);
    let Some(token) = admit_token(
        state,
        &cid,
        &identity,
        resource,
        group::Error::TooManyObjects as u32,
        "create_child",
        data_init,
        token,
    ) else {
        return;
    };
    let created = match data.group {
        Some(g) => state.buffer_collection_state().collections.create_child(g),
        None => Ok(None),
    };
    match created {
        Ok(Some(slot)) => {
            data.lock().children += 1;
            new_token(
                state,
                &cid,
                &identity,
                data_init,
                token,
                TokenState::Live(slot),
            );
        }
        Ok(None) => {
            data.lock().children += 1;
            let failed = data.failure.clone().unwrap_or(Failed {
                reason: FailureReason::ParticipantFailed,
                message: "create_child: the group's collection failed or was already \
                          allocated"
                    .into(),
            });
            new_failed_token(state, &cid, &identity, data_init, token, &failed);
        }
        Err(GroupMisuse::TooManyParticipants) => resource.post_error(
            group::Error::TooManyParticipants,
            format!(
                "wp_buffer_collection_token_group_v1.create_child: the collection already has \
                 {MAX_PARTICIPANTS} participant slots"
            ),
        ),
        Err(GroupMisuse::TooManyChildren | GroupMisuse::TooManyGroups) => resource.post_error(
            group::Error::TooManyChildren,
            format!(
                "wp_buffer_collection_token_group_v1.create_child: the group already has \
                 {MAX_GROUP_CHILDREN} children, its limit"
            ),
        ),
    }
    crate::state::flush(state);
}
