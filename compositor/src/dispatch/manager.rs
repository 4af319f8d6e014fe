//! `wp_buffer_collection_manager_v1`: create a collection, import a token
//! from a handle, attach a token to a surface.

use std::time::Instant;

use accord_protocol::server::wp_buffer_collection_manager_v1::{
    self as manager, WpBufferCollectionManagerV1,
};
use wayland_server::{Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch, New, Resource};

use super::{admit_token, describe, new_failed_token, new_token, BufferCollectionDispatch};
use crate::collections::{is_well_formed_handle, Failed, FailureReason};
use crate::objects::{TokenData, TokenState};
use crate::participant::{compositor_constraints, holder, Devices};
use crate::state::BufferCollectionState;

impl<D: BufferCollectionDispatch> GlobalDispatch<WpBufferCollectionManagerV1, (), D>
    for BufferCollectionState
{
    fn bind(
        _state: &mut D,
        _dh: &DisplayHandle,
        _client: &Client,
        resource: New<WpBufferCollectionManagerV1>,
        _global_data: &(),
        data_init: &mut DataInit<'_, D>,
    ) {
        data_init.init(resource, ());
    }
}

impl<D: BufferCollectionDispatch> Dispatch<WpBufferCollectionManagerV1, (), D>
    for BufferCollectionState
{
    fn request(
        state: &mut D,
        client: &Client,
        resource: &WpBufferCollectionManagerV1,
        request: manager::Request,
        _data: &(),
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, D>,
    ) {
        let cid = client.id();
        let identity = state.client_identity(client, dh);
        state
            .buffer_collection_state()
            .maintain_if_due(Instant::now());
        match request {
            manager::Request::Destroy => {}
            manager::Request::CreateCollection { token } => {
                let Some(token) = admit_token(
                    state,
                    &cid,
                    &identity,
                    resource,
                    manager::Error::TooManyObjects as u32,
                    "create_collection",
                    data_init,
                    token,
                ) else {
                    return;
                };
                let st = state.buffer_collection_state();
                let slot = st.collections.create(holder(client, dh), identity.clone());
                new_token(
                    state,
                    &cid,
                    &identity,
                    data_init,
                    token,
                    TokenState::Live(slot),
                );
            }
            manager::Request::ImportToken { token, handle } => {
                // The XML allows null only so that the generated parser
                // cannot panic on it: a null handle is as malformed as any.
                let handle = handle.unwrap_or_default();
                if !is_well_formed_handle(&handle) {
                    resource.post_error(
                        manager::Error::InvalidHandle,
                        format!(
                            "wp_buffer_collection_manager_v1.import_token: handle of {} bytes is \
                             not 64 lowercase hexadecimal characters",
                            handle.len()
                        ),
                    );
                    return;
                }
                let Some(token) = admit_token(
                    state,
                    &cid,
                    &identity,
                    resource,
                    manager::Error::TooManyObjects as u32,
                    "import_token",
                    data_init,
                    token,
                ) else {
                    return;
                };
                let st = state.buffer_collection_state();
                match st
                    .collections
                    .import(&handle, holder(client, dh), Instant::now())
                {
                    Some(slot) => {
                        new_token(
                            state,
                            &cid,
                            &identity,
                            data_init,
                            token,
                            TokenState::Live(slot),
                        );
                    }
                    None => {
                        new_failed_token(
                            state,
                            &cid,
                            &identity,
                            data_init,
                            token,
                            &Failed {
                                reason: FailureReason::UnknownHandle,
                                message: "import_token: the handle is unknown, already redeemed, \
                                          expired, or its collection is gone"
                                    .into(),
                            },
                        );
                    }
                }
            }
            manager::Request::AttachSurface { token, surface } => {
                let slot = match token.data::<TokenData>().map(TokenData::get) {
                    Some(TokenState::Live(slot)) => slot,
                    // The client may not have seen `failed` yet: no error.
                    Some(TokenState::Failed) => return,
                    other => {
                        resource.post_error(
                            manager::Error::InvalidToken,
                            format!(
                                "wp_buffer_collection_manager_v1.attach_surface: the token is \
                                 {}; attach a live, unbound token",
                                describe(other)
                            ),
                        );
                        return;
                    }
                };
                let formats = state.renderer_formats();
                let scanout = state.scanout_formats(&surface);
                let devices = Devices {
                    renderer: state.renderer_device(),
                    display: state.scanout_device(&surface),
                };
                let constraints = compositor_constraints(formats, &scanout, devices);
                let st = state.buffer_collection_state();
                st.collections.set_name(
                    slot,
                    format!("compositor for wl_surface@{}", surface.id().protocol_id()),
                );
                st.collections.set_compositor(slot);
                st.collections.commit(slot, constraints);
                st.slots.remove(&slot);
                st.attach_participant(slot, &surface);
                if let Some(d) = token.data::<TokenData>() {
                    d.set(TokenState::Attached);
                }
            }
            _ => {}
        }
        crate::state::flush(state);
    }
}
