//! `GlobalDispatch`/`Dispatch` impls: protocol objects to calls on [`Collections`](crate::collections::Collections).
//! Every client-supplied value is checked here; misuse is a protocol error
//! whose message says what was wrong and what was expected.

use std::time::Instant;

use accord_engine::{BufferCounts, FormatModifier, Usage};
use accord_protocol::limits::{
    MAX_BUFFERS, MAX_CLIENT_OBJECTS, MAX_DEVICES, MAX_FORMAT_PAIRS, MAX_FORMAT_PAIRS_PER_REQUEST,
    MAX_NAME_BYTES, MAX_PARTICIPANTS,
};
use accord_protocol::server::wp_buffer_collection_manager_v1::{
    self as manager, WpBufferCollectionManagerV1,
};
use accord_protocol::server::wp_buffer_collection_token_v1::{
    self as token, WpBufferCollectionTokenV1,
};
use accord_protocol::server::wp_buffer_collection_v1::{self as coll, WpBufferCollectionV1};
use accord_vocabulary::codec;
use smithay::backend::allocator::dmabuf::Dmabuf;
use wayland_server::backend::ClientId;
use wayland_server::protocol::wl_buffer::WlBuffer;
use wayland_server::{
    Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch, New, Resource, WEnum,
};

use crate::collections::{is_well_formed_handle, Failed, FailureReason, Misuse};
use crate::state::{
    fail_token, BufferCollectionHandler, BufferCollectionState, CollectionData, SlotObject,
    TokenData, TokenState,
};
use crate::wl_buffer::{init_wl_buffer, MemfdBuffer};

/// Everything your state must dispatch for the module: what
/// `delegate_buffer_collection!` and smithay's `delegate_dmabuf!` provide.
///
/// Write generic code against it:
///
/// ```no_run
/// use accord_smithay::{backend::memfd::MemfdAllocator, BufferCollectionDispatch, BufferCollectionState};
/// fn accord_global<D: BufferCollectionDispatch>(dh: &wayland_server::DisplayHandle) -> BufferCollectionState {
///     BufferCollectionState::new::<D>(dh, Box::new(MemfdAllocator::new()))
/// }
/// ```
pub trait BufferCollectionDispatch:
    BufferCollectionHandler
    + GlobalDispatch<WpBufferCollectionManagerV1, ()>
    + Dispatch<WpBufferCollectionManagerV1, ()>
    + Dispatch<WpBufferCollectionTokenV1, TokenData>
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
        + Dispatch<WpBufferCollectionV1, CollectionData>
        + Dispatch<WlBuffer, MemfdBuffer>
        + Dispatch<WlBuffer, Dmabuf>
        + 'static
{
}

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

/// Refuse a new object when the client is at its limit.
fn check_object_limit<R: Resource>(
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
                "{}.{request}: already {MAX_CLIENT_OBJECTS} live tokens, handles and \
                 collections; destroy some first",
                R::interface().name
            ),
        );
        return false;
    }
    true
}

fn new_token<D: BufferCollectionDispatch>(
    state: &mut D,
    client: &ClientId,
    data_init: &mut DataInit<'_, D>,
    id: New<WpBufferCollectionTokenV1>,
    ts: TokenState,
) -> WpBufferCollectionTokenV1 {
    let st = state.buffer_collection_state();
    let t = data_init.init(id, TokenData::new(ts));
    st.count_object(client, 1);
    if let TokenState::Live(slot) = ts {
        st.slots.insert(slot, SlotObject::Token(t.clone()));
    }
    t
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
        state
            .buffer_collection_state()
            .maintain_if_due(Instant::now());
        match request {
            manager::Request::Destroy => {}
            manager::Request::CreateCollection { token } => {
                let st = state.buffer_collection_state();
                if !check_object_limit(
                    st,
                    &cid,
                    resource,
                    manager::Error::TooManyObjects as u32,
                    "create_collection",
                ) {
                    return;
                }
                let name = client_name(client, dh, "participant");
                let slot = st.collections.create(name, cid.clone());
                new_token(state, &cid, data_init, token, TokenState::Live(slot));
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
                let st = state.buffer_collection_state();
                if !check_object_limit(
                    st,
                    &cid,
                    resource,
                    manager::Error::TooManyObjects as u32,
                    "import_token",
                ) {
                    return;
                }
                match st.collections.import(&handle, Instant::now()) {
                    Some(slot) => {
                        new_token(state, &cid, data_init, token, TokenState::Live(slot));
                    }
                    None => {
                        let t = new_token(state, &cid, data_init, token, TokenState::Failed);
                        fail_token(
                            &t,
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
                let constraints = compositor_constraints(formats, &scanout);
                let st = state.buffer_collection_state();
                st.collections.set_name(
                    slot,
                    format!("compositor for wl_surface@{}", surface.id().protocol_id()),
                );
                st.collections.commit(slot, constraints);
                st.slots.remove(&slot);
                st.surfaces.entry(slot.collection).or_insert(surface);
                if let Some(d) = token.data::<TokenData>() {
                    d.set(TokenState::Attached);
                }
            }
            _ => {}
        }
        crate::state::flush(state);
    }
}

fn client_name(client: &Client, dh: &DisplayHandle, kind: &str) -> String {
    match client.get_credentials(dh) {
        Ok(c) => format!("{kind} of pid {}", c.pid),
        Err(_) => kind.to_string(),
    }
}

/// The compositor's own constraints for a surface: sample what the
/// renderer imports; scanout when planes are offered.
fn compositor_constraints(
    renderer: Vec<FormatModifier>,
    scanout: &[FormatModifier],
) -> accord_engine::Constraints {
    let mut usage = Usage::SAMPLE;
    if !scanout.is_empty() {
        usage |= Usage::SCANOUT;
    }
    let formats = renderer
        .into_iter()
        .map(|mut f| {
            f.scanout = scanout
                .iter()
                .any(|s| s.format == f.format && s.modifier == f.modifier);
            f
        })
        .collect();
    accord_engine::Constraints {
        usage,
        formats,
        ..Default::default()
    }
}

fn describe(s: Option<TokenState>) -> &'static str {
    match s {
        Some(TokenState::Live(_)) => "live",
        Some(TokenState::Bound) => "already bound",
        Some(TokenState::Exported) => "already exported",
        Some(TokenState::Attached) => "already attached to a surface",
        Some(TokenState::Failed) => "failed",
        Some(TokenState::Released) => "destroyed",
        None => "not a token of this module",
    }
}

impl<D: BufferCollectionDispatch> Dispatch<WpBufferCollectionTokenV1, TokenData, D>
    for BufferCollectionState
{
    fn request(
        state: &mut D,
        client: &Client,
        resource: &WpBufferCollectionTokenV1,
        request: token::Request,
        data: &TokenData,
        _dh: &DisplayHandle,
        data_init: &mut DataInit<'_, D>,
    ) {
        let cid = client.id();
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
                    token::Request::Duplicate { .. } | token::Request::Bind { .. }
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
                inert_from_failed(state, &cid, request, data, data_init);
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
                if !check_object_limit(
                    st,
                    &cid,
                    resource,
                    token::Error::TooManyObjects as u32,
                    "duplicate",
                ) {
                    return;
                }
                match st.collections.duplicate(slot) {
                    Ok(Some(new)) => {
                        new_token(state, &cid, data_init, token, TokenState::Live(new));
                    }
                    Ok(None) => {
                        new_token(state, &cid, data_init, token, TokenState::Failed);
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
                if st.objects_of(&cid) >= MAX_CLIENT_OBJECTS {
                    resource.post_error(
                        token::Error::TooManyObjects,
                        format!(
                            "wp_buffer_collection_token_v1.export: the client already holds \
                             {MAX_CLIENT_OBJECTS} live tokens, handles and collections"
                        ),
                    );
                    return;
                }
                match st.collections.export(slot, cid, Instant::now()) {
                    Ok(handle) => {
                        st.slots.remove(&slot);
                        data.set(TokenState::Exported);
                        resource.handle(handle);
                    }
                    Err(e) => {
                        // No randomness, no handle: fail the slot.
                        st.collections
                            .fail(slot, &format!("no handle (getrandom: {e})"));
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
        if data.get() != TokenState::Bound {
            st.count_object(&client, -1);
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
        _ => "request",
    }
}

/// Requests on a failed token: new objects are created already failed.
fn inert_from_failed<D: BufferCollectionDispatch>(
    state: &mut D,
    cid: &ClientId,
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
            let t = new_token(state, cid, data_init, token, TokenState::Failed);
            fail_token(&t, &failed);
        }
        token::Request::Bind { collection } => {
            state.buffer_collection_state().count_object(cid, 1);
            let c = data_init.init(collection, CollectionData::new(None));
            if let Some(d) = c.data::<CollectionData>() {
                d.lock().failed = true;
            }
            c.failed(crate::state::wire_reason(failed.reason), failed.message);
        }
        _ => {}
    }
}

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
                init_wl_buffer::<D>(data_init, buffer, alloc, index);
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
        st.count_object(&client, -1);
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

fn constraint_name(r: &coll::Request) -> &'static str {
    match r {
        coll::Request::SetUsage { .. } => "set_usage",
        coll::Request::AddFormats { .. } => "add_formats",
        coll::Request::SetSizeRange { .. } => "set_size_range",
        coll::Request::SetSizeAlignment { .. } => "set_size_alignment",
        coll::Request::SetStride { .. } => "set_stride",
        coll::Request::SetAlignment { .. } => "set_alignment",
        coll::Request::SetMaxBytes { .. } => "set_max_bytes",
        coll::Request::SetBufferCounts { .. } => "set_buffer_counts",
        coll::Request::SetMemoryFlags { .. } => "set_memory_flags",
        coll::Request::SetDevices { .. } => "set_devices",
        _ => "request",
    }
}

type ConstraintError = (coll::Error, String);

fn invalid(msg: String) -> ConstraintError {
    (coll::Error::InvalidValue, msg)
}

fn nonzero(request: &str, what: &str, v: u32) -> Result<u32, ConstraintError> {
    if v == 0 {
        Err(invalid(format!(
            "{request}: {what} is 0; alignments are at least 1 (1 = none)"
        )))
    } else {
        Ok(v)
    }
}

fn range(request: &str, what: &str, min: u32, max: u32) -> Result<(), ConstraintError> {
    if max != 0 && max < min {
        Err(invalid(format!(
            "{request}: maximum {what} {max} is below the minimum {min} (0 = no limit)"
        )))
    } else {
        Ok(())
    }
}

/// Apply one double-buffered constraint request to the pending state.
fn apply_constraint(
    c: &mut accord_engine::Constraints,
    request: coll::Request,
) -> Result<(), ConstraintError> {
    match request {
        coll::Request::SetUsage { usage } => {
            let bits = match usage {
                WEnum::Value(u) => u.bits(),
                WEnum::Unknown(b) => b,
            };
            if bits & !Usage::ALL.0 != 0 {
                return Err(invalid(format!(
                    "set_usage: unknown usage bits {:#x}; defined bits are {:#x}",
                    bits & !Usage::ALL.0,
                    Usage::ALL.0
                )));
            }
            c.usage = Usage(bits);
        }
        coll::Request::AddFormats { pairs } => {
            // One message per broken rule: libwayland-server cuts error
            // messages at 127 bytes.
            let broken = match codec::format_entries(&pairs) {
                Err(ragged) => Some(ragged.to_string()),
                Ok(entries) if entries > MAX_FORMAT_PAIRS_PER_REQUEST => Some(format!(
                    "{entries} entries; at most {MAX_FORMAT_PAIRS_PER_REQUEST} entries per request"
                )),
                Ok(entries) if c.formats.len() + entries > MAX_FORMAT_PAIRS => Some(format!(
                    "{entries} more after {} pairs; at most {MAX_FORMAT_PAIRS} in total",
                    c.formats.len()
                )),
                Ok(_) => None,
            };
            if let Some(broken) = broken {
                return Err((
                    coll::Error::InvalidFormatTable,
                    format!("add_formats: {broken}"),
                ));
            }
            c.formats
                .extend(codec::decode_format_table(&pairs).into_iter().flatten());
        }
        coll::Request::SetSizeRange {
            min_width,
            min_height,
            max_width,
            max_height,
        } => {
            let (min_w, min_h) = (min_width.max(1), min_height.max(1));
            range("set_size_range", "width", min_w, max_width)?;
            range("set_size_range", "height", min_h, max_height)?;
            c.min_size = (min_w, min_h);
            c.max_size = (max_width, max_height);
        }
        coll::Request::SetSizeAlignment {
            width_alignment,
            height_alignment,
        } => {
            c.size_alignment = (
                nonzero("set_size_alignment", "width_alignment", width_alignment)?,
                nonzero("set_size_alignment", "height_alignment", height_alignment)?,
            );
        }
        coll::Request::SetStride {
            min_stride,
            max_stride,
            stride_alignment,
        } => {
            range("set_stride", "stride", min_stride, max_stride)?;
            c.stride_alignment = nonzero("set_stride", "stride_alignment", stride_alignment)?;
            c.min_stride = min_stride;
            c.max_stride = max_stride;
        }
        coll::Request::SetAlignment {
            offset_alignment,
            base_alignment,
        } => {
            c.offset_alignment = nonzero("set_alignment", "offset_alignment", offset_alignment)?;
            c.base_alignment = nonzero("set_alignment", "base_alignment", base_alignment)?;
        }
        coll::Request::SetMaxBytes {
            max_bytes_hi,
            max_bytes_lo,
        } => {
            c.max_bytes = codec::join_u64(max_bytes_hi, max_bytes_lo);
        }
        coll::Request::SetBufferCounts {
            camping,
            dedicated_slack,
            shared_slack,
            min,
            max,
        } => {
            for (what, v) in [
                ("camping", camping),
                ("dedicated_slack", dedicated_slack),
                ("shared_slack", shared_slack),
                ("min", min),
                ("max", max),
            ] {
                if v > MAX_BUFFERS {
                    return Err(invalid(format!(
                        "set_buffer_counts: {what} is {v}; a collection has at most \
                         {MAX_BUFFERS} buffers"
                    )));
                }
            }
            range("set_buffer_counts", "count", min, max)?;
            c.buffers = BufferCounts {
                camping,
                dedicated_slack,
                shared_slack,
                min,
                max,
            };
        }
        coll::Request::SetMemoryFlags { flags } => {
            let bits = match flags {
                WEnum::Value(f) => f.bits(),
                WEnum::Unknown(b) => b,
            };
            if bits & !coll::MemoryFlags::all().bits() != 0 {
                return Err(invalid(format!(
                    "set_memory_flags: unknown bits {bits:#x}; only contiguous (0x1) is defined"
                )));
            }
            c.contiguous = bits & coll::MemoryFlags::Contiguous.bits() != 0;
        }
        coll::Request::SetDevices { devices } => match codec::decode_devices(&devices) {
            Ok(list) if list.len() <= MAX_DEVICES => c.devices = list,
            _ => {
                return Err((
                    coll::Error::InvalidDeviceList,
                    format!(
                        "set_devices: array of {} bytes; expected a multiple of 8 bytes with at \
                         most {MAX_DEVICES} entries",
                        devices.len()
                    ),
                ))
            }
        },
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use accord_engine::MOD_LINEAR;

    fn pair(format: u32) -> FormatModifier {
        FormatModifier {
            format,
            modifier: MOD_LINEAR,
            scanout: false,
        }
    }

    #[test]
    fn compositor_samples_without_planes() {
        let c = compositor_constraints(vec![pair(1), pair(2)], &[]);
        assert_eq!(c.usage, Usage::SAMPLE);
        assert!(c.formats.iter().all(|f| !f.scanout));
    }

    #[test]
    fn planes_add_scanout_and_mark_their_pairs() {
        let c = compositor_constraints(vec![pair(1), pair(2)], &[pair(2), pair(3)]);
        assert_eq!(c.usage, Usage::SAMPLE | Usage::SCANOUT);
        assert_eq!(
            c.formats
                .iter()
                .map(|f| (f.format, f.scanout))
                .collect::<Vec<_>>(),
            vec![(1, false), (2, true)],
            "renderer formats only; plane-only pairs are not added"
        );
    }
}
