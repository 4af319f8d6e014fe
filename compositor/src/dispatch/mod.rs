//! The `GlobalDispatch`/`Dispatch` impls, one module per interface. They
//! only dispatch: look up the user data, decode the request (constraint
//! requests through `wire_constraints.rs`), call
//! [`Collections`](crate::collections::Collections), post protocol errors
//! (whose message says what was wrong and what was expected). Outcomes are
//! encoded as events in `events.rs`.

mod collection;
mod group;
mod manager;
mod token;
mod wl_buffer;

use accord_protocol::server::wp_buffer_collection_manager_v1::WpBufferCollectionManagerV1;
use accord_protocol::server::wp_buffer_collection_token_group_v1::WpBufferCollectionTokenGroupV1;
use accord_protocol::server::wp_buffer_collection_token_v1::WpBufferCollectionTokenV1;
use accord_protocol::server::wp_buffer_collection_v1::WpBufferCollectionV1;
use smithay::backend::allocator::dmabuf::Dmabuf;
use wayland_server::backend::ClientId;
use wayland_server::protocol::wl_buffer::WlBuffer;
use wayland_server::{DataInit, Dispatch, GlobalDispatch, New, Resource};

use accord_protocol::limits::MAX_CLIENT_OBJECTS;

use crate::events::fail_token;
use crate::identity::ClientIdentity;
use crate::objects::{CollectionData, GroupData, SlotObject, TokenData, TokenState};
use crate::state::{BufferCollectionHandler, BufferCollectionState};
use crate::wl_buffer::MemfdBuffer;

/// Everything your state must dispatch for the module: what
/// `delegate_buffer_collection!` and smithay's `delegate_dmabuf!` provide.
///
/// Write generic code against it:
///
/// ```no_run
/// use accord_smithay::{backend::memfd::MemfdBackend, BufferCollectionDispatch, BufferCollectionState};
/// fn accord_global<D: BufferCollectionDispatch>(dh: &wayland_server::DisplayHandle) -> BufferCollectionState {
///     BufferCollectionState::new::<D>(dh, Box::new(MemfdBackend::new()))
/// }
/// ```
pub trait BufferCollectionDispatch:
    BufferCollectionHandler
    + GlobalDispatch<WpBufferCollectionManagerV1, ()>
    + Dispatch<WpBufferCollectionManagerV1, ()>
    + Dispatch<WpBufferCollectionTokenV1, TokenData>
    + Dispatch<WpBufferCollectionTokenGroupV1, GroupData>
    + Dispatch<WpBufferCollectionV1, CollectionData>
    + Dispatch<WlBuffer, MemfdBuffer>
    + Dispatch<WlBuffer, Dmabuf>
    + 'static
{
}

impl<D> BufferCollectionDispatch for D where
    D: BufferCollectionHandler
        + GlobalDispatch<WpBufferCollectionManagerV1, ()>
        + Dispatch<WpBufferCollectionManagerV1, ()>
        + Dispatch<WpBufferCollectionTokenV1, TokenData>
        + Dispatch<WpBufferCollectionTokenGroupV1, GroupData>
        + Dispatch<WpBufferCollectionV1, CollectionData>
        + Dispatch<WlBuffer, MemfdBuffer>
        + Dispatch<WlBuffer, Dmabuf>
        + 'static
{
}

/// Refuse a new object when the client is at its limit.
pub(crate) fn check_object_limit<R: Resource>(
    st: &BufferCollectionState,
    client: &ClientId,
    on: &R,
    code: u32,
    request: &str,
) -> bool {
    if st.objects_of(client) >= MAX_CLIENT_OBJECTS {
        on.post_error(
            code,
            format!(
                "{}.{request}: already {MAX_CLIENT_OBJECTS} live tokens and collections; \
                 destroy some first",
                R::interface().name
            ),
        );
        return false;
    }
    true
}

pub(crate) fn new_token<D: BufferCollectionDispatch>(
    state: &mut D,
    client: &ClientId,
    identity: &ClientIdentity,
    data_init: &mut DataInit<'_, D>,
    id: New<WpBufferCollectionTokenV1>,
    ts: TokenState,
) -> WpBufferCollectionTokenV1 {
    let st = state.buffer_collection_state();
    let t = data_init.init(id, TokenData::new(ts));
    st.objects
        .add(client, identity, matches!(ts, TokenState::Live(_)));
    if let TokenState::Live(slot) = ts {
        st.slots.insert(slot, SlotObject::Token(t.clone()));
    }
    t
}

/// A token created already failed with `failed` (sent at once): what a
/// request that cannot give a live slot answers.
pub(crate) fn new_failed_token<D: BufferCollectionDispatch>(
    state: &mut D,
    client: &ClientId,
    identity: &ClientIdentity,
    data_init: &mut DataInit<'_, D>,
    id: New<WpBufferCollectionTokenV1>,
    failed: &crate::collections::Failed,
) {
    let t = new_token(state, client, identity, data_init, id, TokenState::Failed);
    fail_token(&t, failed);
}

/// The checks before any request that creates a token (`create_collection`,
/// `import_token`, `duplicate`, `attach_token`): the connection's object
/// limit (protocol error `code` on `on`), then the identity's live token
/// budget (the token is created failed). `Some(id)` to go on.
#[allow(clippy::too_many_arguments)]
pub(crate) fn admit_token<D: BufferCollectionDispatch, R: Resource>(
    state: &mut D,
    client: &ClientId,
    identity: &ClientIdentity,
    on: &R,
    code: u32,
    request: &str,
    data_init: &mut DataInit<'_, D>,
    id: New<WpBufferCollectionTokenV1>,
) -> Option<New<WpBufferCollectionTokenV1>> {
    if !check_object_limit(state.buffer_collection_state(), client, on, code, request) {
        return None;
    }
    within_token_budget(state, client, identity, data_init, id)
}

/// `id` back when `identity` may have one more live token; otherwise `id`
/// is created failed (`quota_exceeded`, naming the live token budget) and
/// `None` tells the request to stop there.
pub(crate) fn within_token_budget<D: BufferCollectionDispatch>(
    state: &mut D,
    client: &ClientId,
    identity: &ClientIdentity,
    data_init: &mut DataInit<'_, D>,
    id: New<WpBufferCollectionTokenV1>,
) -> Option<New<WpBufferCollectionTokenV1>> {
    match state.buffer_collection_state().token_budget(identity) {
        Ok(()) => Some(id),
        Err(f) => {
            new_failed_token(state, client, identity, data_init, id, &f);
            None
        }
    }
}

pub(crate) fn describe(s: Option<TokenState>) -> &'static str {
    match s {
        Some(TokenState::Live(_)) => "live",
        Some(TokenState::Bound) => "already bound",
        Some(TokenState::Exported) => "already exported",
        Some(TokenState::Attached) => "already attached to a surface",
        Some(TokenState::Grouped) => "already made a token group",
        Some(TokenState::Failed) => "failed",
        Some(TokenState::Released) => "destroyed",
        None => "not a token of this module",
    }
}
