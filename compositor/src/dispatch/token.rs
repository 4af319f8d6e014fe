//! `wp_buffer_collection_token_v1`: duplicate, export, name, bind, and
//! `create_group` (version 2).

use std::time::Instant;

use accord_protocol::limits::{MAX_GROUPS, MAX_NAME_BYTES, MAX_PARTICIPANTS};
use accord_protocol::server::wp_buffer_collection_token_v1::{
    self as token, WpBufferCollectionTokenV1,
};
use wayland_server::backend::ClientId;
use wayland_server::{Client, DataInit, Dispatch, DisplayHandle, Resource};

use super::{
    admit_token, check_object_limit, describe, new_failed_token, new_token,
    BufferCollectionDispatch,
};
use crate::collections::{Failed, FailureReason, GroupMisuse, Misuse};
use crate::events::{fail_token, wire_reason};
use crate::identity::ClientIdentity;
use crate::objects::{CollectionData, GroupData, SlotObject, TokenData, TokenState};
use crate::state::BufferCollectionState;

impl<D: BufferCollectionDispatch> Dispatch<WpBufferCollectionTokenV1, TokenData, D>
    for BufferCollectionState
{
    fn request(
        state: &mut D,
        client: &Client,
        resource: &WpBufferCollectionTokenV1,
        request: token::Request,
        data: &TokenData,
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, D>,
    ) {
        let cid = client.id();
        let identity = state.client_identity(client, dh);
        let ts = data.get();
        let name = request_name(&request);
        let slot = match (ts, &request) {
            (_, token::Request::Destroy) => {
                if let TokenState::Live(slot) = ts {
                    let st = state.buffer_collection_state();
                    st.collections.release(slot);
                    st.slots.remove(&slot);
                    data.set(TokenState::Released); // `destroyed` must not fail it
                    crate::state::flush(state);
                }
                return;
            }
            (TokenState::Live(slot), _) => slot,
            (TokenState::Failed, _) => {
                // The client may not have seen `failed` yet: no error, but
                // new objects inherit the failure (and still count).
                let creates = matches!(
                    request,
                    token::Request::Duplicate { .. }
                        | token::Request::Bind { .. }
                        | token::Request::CreateGroup { .. }
                );
                if creates
                    && !check_object_limit(
                        state.buffer_collection_state(),
                        &cid,
                        resource,
                        token::Error::TooManyObjects as u32,
                        name,
                    )
                {
                    return;
                }
                answer_failed(state, &cid, &identity, resource, request, data, data_init);
                return;
            }
            (other, _) => {
                resource.post_error(
                    token::Error::InertToken,
                    format!(
                        "wp_buffer_collection_token_v1.{name}: the token is {}; only destroy \
                         is allowed now",
                        describe(Some(other))
                    ),
                );
                return;
            }
        };
        let st = state.buffer_collection_state();
        match request {
            token::Request::Duplicate { token } => {
                let Some(token) = admit_token(
                    state,
                    &cid,
                    &identity,
                    resource,
                    token::Error::TooManyObjects as u32,
                    "duplicate",
                    data_init,
                    token,
                ) else {
                    return;
                };
                let st = state.buffer_collection_state();
                match st.collections.duplicate(slot) {
                    Ok(Some(new)) => {
                        new_token(
                            state,
                            &cid,
                            &identity,
                            data_init,
                            token,
                            TokenState::Live(new),
                        );
                    }
                    Ok(None) => {
                        new_token(state, &cid, &identity, data_init, token, TokenState::Failed);
                    }
                    Err(Misuse::TooManyParticipants) => resource.post_error(
                        token::Error::TooManyParticipants,
                        format!(
                            "wp_buffer_collection_token_v1.duplicate: the collection already \
                             has {MAX_PARTICIPANTS} participant slots"
                        ),
                    ),
                }
            }
            token::Request::Export => {
                // The token (inert from now on) leaves the connection's
                // object count; its handle counts toward the exporter's
                // pending handle budget instead, so nothing counts twice.
                match st.collections.export(slot, identity, Instant::now()) {
                    Ok(handle) => {
                        st.slots.remove(&slot);
                        st.objects.remove(&cid, true);
                        data.set(TokenState::Exported);
                        resource.handle(handle);
                    }
                    Err(f) => {
                        // No handle (the module's limit, or no randomness):
                        // the token fails with the reason (also when its
                        // slot is dispensable and the collection goes on),
                        // and so does the collection unless it is.
                        st.slots.remove(&slot);
                        st.collections.fail_for(slot, f.reason, &f.message);
                        fail_token(resource, &f);
                    }
                }
            }
            token::Request::SetName { name } => {
                // Null is allowed on the wire only so that parsing cannot
                // panic; it is a protocol error like an over-long name.
                let Some(name) = name else {
                    resource.post_error(
                        token::Error::InvalidName,
                        "wp_buffer_collection_token_v1.set_name: null name, expected a string \
                         of at most 63 bytes",
                    );
                    return;
                };
                if name.len() > MAX_NAME_BYTES {
                    resource.post_error(
                        token::Error::InvalidName,
                        format!(
                            "wp_buffer_collection_token_v1.set_name: name of {} bytes, at most \
                             {MAX_NAME_BYTES} allowed",
                            name.len()
                        ),
                    );
                    return;
                }
                st.collections.set_name(slot, name);
            }
            token::Request::SetDispensable => st.collections.set_dispensable(slot),
            token::Request::CreateGroup { group } => match st.collections.create_group(slot) {
                Ok(id) => {
                    // The group takes over the token's count, as a bound
                    // collection does.
                    st.slots.remove(&slot);
                    data.set(TokenState::Grouped);
                    let failure = id.is_none().then(|| Failed {
                        reason: FailureReason::InvalidConstraint,
                        message: "create_group: the collection is no longer negotiating (a \
                                  token group is made before allocation)"
                            .into(),
                    });
                    data_init.init(group, GroupData::new(id, failure, data.charged));
                }
                Err(GroupMisuse::TooManyGroups) => resource.post_error(
                    token::Error::TooManyGroups,
                    format!(
                        "wp_buffer_collection_token_v1.create_group: the collection already has \
                         {MAX_GROUPS} token groups"
                    ),
                ),
                Err(GroupMisuse::TooManyParticipants | GroupMisuse::TooManyChildren) => resource
                    .post_error(
                        token::Error::TooManyParticipants,
                        format!(
                            "wp_buffer_collection_token_v1.create_group: the collection already \
                             has {MAX_PARTICIPANTS} participant slots"
                        ),
                    ),
            },
            token::Request::Bind { collection } => {
                st.collections.bind(slot);
                // The collection takes over the token's count (a bound
                // token's destruction does not decrement it).
                data.set(TokenState::Bound);
                let c = data_init.init(collection, CollectionData::new(Some(slot)));
                st.slots.insert(slot, SlotObject::Collection(c));
            }
            _ => {}
        }
        crate::state::flush(state);
    }

    fn destroyed(
        state: &mut D,
        client: ClientId,
        _resource: &WpBufferCollectionTokenV1,
        data: &TokenData,
    ) {
        let st = state.buffer_collection_state();
        // A bound token's count went to its collection, an exported one's
        // to its handle, a grouped one's to its group.
        if !matches!(
            data.get(),
            TokenState::Bound | TokenState::Exported | TokenState::Grouped
        ) {
            st.objects.remove(&client, data.charged);
        }
        // Still live here means the client vanished without destroying it.
        if let TokenState::Live(slot) = data.get() {
            st.slots.remove(&slot);
            st.collections
                .fail(slot, "its client disconnected before bind");
            crate::state::flush(state);
        }
    }
}

fn request_name(r: &token::Request) -> &'static str {
    match r {
        token::Request::Destroy => "destroy",
        token::Request::Duplicate { .. } => "duplicate",
        token::Request::Export => "export",
        token::Request::SetName { .. } => "set_name",
        token::Request::SetDispensable => "set_dispensable",
        token::Request::Bind { .. } => "bind",
        token::Request::CreateGroup { .. } => "create_group",
        _ => "request",
    }
}

/// Requests on a failed token, as the XML's token description lists them:
/// new objects are created already failed, export repeats `failed`, the
/// rest do nothing.
fn answer_failed<D: BufferCollectionDispatch>(
    state: &mut D,
    cid: &ClientId,
    identity: &ClientIdentity,
    resource: &WpBufferCollectionTokenV1,
    request: token::Request,
    data: &TokenData,
    data_init: &mut DataInit<'_, D>,
) {
    let failed = data.failure().unwrap_or(Failed {
        reason: FailureReason::ParticipantFailed,
        message: "the token had already failed".into(),
    });
    match request {
        token::Request::Duplicate { token } => {
            new_failed_token(state, cid, identity, data_init, token, &failed);
        }
        token::Request::Bind { collection } => {
            state
                .buffer_collection_state()
                .objects
                .add(cid, identity, false);
            let c = data_init.init(collection, CollectionData::new(None));
            if let Some(d) = c.data::<CollectionData>() {
                d.lock().failed = true;
            }
            c.failed(wire_reason(failed.reason), failed.message);
        }
        token::Request::Export => fail_token(resource, &failed),
        token::Request::CreateGroup { group } => {
            state
                .buffer_collection_state()
                .objects
                .add(cid, identity, false);
            data_init.init(group, GroupData::new(None, Some(failed), false));
        }
        // set_name, set_dispensable: nothing to name or spare any more.
        _ => {}
    }
}
