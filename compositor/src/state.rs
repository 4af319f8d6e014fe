//! [`BufferCollectionState`], the [`BufferCollectionHandler`] trait and the
//! per-object user data. The request handlers live in `handlers.rs`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use accord_engine::{Constraints, FormatModifier};
use accord_protocol::server::wp_buffer_collection_manager_v1::WpBufferCollectionManagerV1;
use accord_protocol::server::wp_buffer_collection_token_v1::WpBufferCollectionTokenV1;
use accord_protocol::server::wp_buffer_collection_v1::{
    FailureReason, MemoryKind as WireMemoryKind, WpBufferCollectionV1,
};
use wayland_server::backend::{ClientId, GlobalId};
use wayland_server::protocol::wl_surface::WlSurface;
use wayland_server::{DisplayHandle, GlobalDispatch, Resource};

use crate::backend::Allocator;
use crate::registry::{Allocation, Failed, Outcome, Reason, Registry, SlotId};

/// What the embedding compositor supplies.
pub trait BufferCollectionHandler {
    /// The module's state inside yours.
    fn buffer_collection_state(&mut self) -> &mut BufferCollectionState;

    /// (format, modifier) pairs your renderer can import, most preferred
    /// first (Pixman: LINEAR only). Used for `attach_surface` participants.
    fn renderer_formats(&self) -> Vec<FormatModifier>;

    /// Pairs the display planes showing `surface` can scan out. Empty means
    /// composition only (the default).
    fn scanout_formats(&self, _surface: &WlSurface) -> Vec<FormatModifier> {
        Vec::new()
    }
}

/// The module's state: the global, the negotiation registry, the allocator
/// and the protocol objects that hold slots.
pub struct BufferCollectionState {
    pub(crate) registry: Registry<ClientId>,
    pub(crate) allocator: Box<dyn Allocator>,
    pub(crate) slots: HashMap<SlotId, SlotObject>,
    pub(crate) objects_per_client: HashMap<ClientId, usize>,
    global: GlobalId,
}

impl std::fmt::Debug for BufferCollectionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BufferCollectionState")
            .field("allocator", &self.allocator.name())
            .field("live_slots", &self.slots.len())
            .finish()
    }
}

/// The protocol object currently holding a slot.
#[derive(Debug, Clone)]
pub(crate) enum SlotObject {
    Token(WpBufferCollectionTokenV1),
    Collection(WpBufferCollectionV1),
}

impl BufferCollectionState {
    /// Create the `wp_buffer_collection_manager_v1` global. `allocator` makes
    /// every collection's buffers (for example
    /// [`MemfdAllocator`](crate::backend::memfd::MemfdAllocator)).
    pub fn new<D>(display: &DisplayHandle, allocator: Box<dyn Allocator>) -> Self
    where
        D: GlobalDispatch<WpBufferCollectionManagerV1, ()> + 'static,
    {
        let global = display.create_global::<D, WpBufferCollectionManagerV1, ()>(1, ());
        BufferCollectionState {
            registry: Registry::new(),
            allocator,
            slots: HashMap::new(),
            objects_per_client: HashMap::new(),
            global,
        }
    }

    /// The global's id (to disable or remove it).
    pub fn global(&self) -> GlobalId {
        self.global.clone()
    }

    /// Bytes each client may hold in allocated buffers (default
    /// [`DEFAULT_CLIENT_QUOTA`](accord_protocol::limits::DEFAULT_CLIENT_QUOTA)).
    /// A collection whose creator would exceed it fails with
    /// `quota_exceeded`; nobody else is affected.
    pub fn set_client_quota(&mut self, bytes: u64) {
        self.registry.set_quota(bytes);
    }

    /// Bytes currently charged to `client`; they come back when the last
    /// participant (and `wl_buffer`) releases a collection's buffers.
    pub fn charged_bytes(&self, client: &ClientId) -> u64 {
        self.registry.charged(client)
    }

    /// Bytes of every live allocation (all clients): back to zero once every
    /// participant and `wl_buffer` released its buffers.
    pub fn total_charged_bytes(&self) -> u64 {
        self.registry.total_charged()
    }

    /// Replace the allocator for collections resolved from now on.
    pub fn set_allocator(&mut self, allocator: Box<dyn Allocator>) {
        self.allocator = allocator;
    }

    /// Fail slots whose exported handle was not redeemed within
    /// [`HANDLE_EXPIRY`](accord_protocol::limits::HANDLE_EXPIRY). Also done on
    /// every manager request; call it from a timer for idle displays.
    pub fn expire_handles(&mut self) {
        self.registry.expire_handles(Instant::now());
        self.flush();
    }

    /// Run [`expire_handles`](Self::expire_handles) every second on your
    /// event loop, so a collection waiting for a handle nobody redeems
    /// fails on time even when no client sends anything.
    ///
    /// ```ignore
    /// BufferCollectionState::insert_expiry_timer(&event_loop.handle())?;
    /// ```
    pub fn insert_expiry_timer<D: BufferCollectionHandler + 'static>(
        handle: &calloop::LoopHandle<'static, D>,
    ) -> Result<calloop::RegistrationToken, calloop::error::InsertError<calloop::timer::Timer>>
    {
        const PERIOD: std::time::Duration = std::time::Duration::from_secs(1);
        handle.insert_source(
            calloop::timer::Timer::from_duration(PERIOD),
            |_, _, state| {
                state.buffer_collection_state().expire_handles();
                calloop::timer::TimeoutAction::ToDuration(PERIOD)
            },
        )
    }

    /// Live tokens, collections and pending handles of `client`.
    pub fn objects_of(&self, client: &ClientId) -> usize {
        self.objects_per_client.get(client).copied().unwrap_or(0) + self.registry.handles_of(client)
    }

    pub(crate) fn count_object(&mut self, client: &ClientId, delta: isize) {
        let n = self.objects_per_client.entry(client.clone()).or_default();
        *n = n.saturating_add_signed(delta);
        if *n == 0 {
            self.objects_per_client.remove(client);
        }
    }

    /// Resolve ready collections and send every outcome.
    pub(crate) fn flush(&mut self) {
        for res in self.registry.resolve(self.allocator.as_mut()) {
            for slot in res.slots {
                let Some(obj) = self.slots.remove(&slot) else {
                    continue; // the compositor's own slot, or already gone
                };
                match obj {
                    SlotObject::Token(t) => {
                        if let Outcome::Failed(f) = &res.outcome {
                            fail_token(&t, f);
                        }
                    }
                    SlotObject::Collection(c) => send_outcome(&c, &res.outcome),
                }
            }
        }
    }
}

/// User data of a token.
#[derive(Debug)]
pub struct TokenData {
    pub(crate) state: Mutex<TokenState>,
    /// Why it failed, passed on to objects made from it afterwards.
    pub(crate) failure: Mutex<Option<Failed>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenState {
    Live(SlotId),
    Bound,
    Exported,
    Attached,
    /// Destroyed by request (released).
    Released,
    /// Failed import or failed collection: requests are ignored.
    Failed,
}

impl TokenData {
    pub(crate) fn new(state: TokenState) -> Self {
        TokenData {
            state: Mutex::new(state),
            failure: Mutex::new(None),
        }
    }
    pub(crate) fn get(&self) -> TokenState {
        *self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
    pub(crate) fn set(&self, s: TokenState) {
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = s;
    }
    pub(crate) fn failure(&self) -> Option<Failed> {
        self.failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// User data of a participant's collection object.
#[derive(Debug)]
pub struct CollectionData {
    pub(crate) slot: Option<SlotId>,
    pub(crate) inner: Mutex<CollectionInner>,
}

#[derive(Debug, Default)]
pub(crate) struct CollectionInner {
    pub(crate) pending: Constraints,
    pub(crate) committed: bool,
    pub(crate) allocation: Option<Arc<Allocation>>,
    pub(crate) failed: bool,
}

impl CollectionData {
    pub(crate) fn new(slot: Option<SlotId>) -> Self {
        CollectionData {
            slot,
            inner: Mutex::new(CollectionInner::default()),
        }
    }
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, CollectionInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

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
        Outcome::Allocated(a) => {
            data.lock().allocation = Some(a.clone());
            let d = &a.decision;
            let kind = match a.memory {
                crate::backend::MemoryKind::DmaBuf => WireMemoryKind::Dmabuf,
                crate::backend::MemoryKind::Memfd => WireMemoryKind::Memfd,
            };
            c.settings(
                d.format,
                (d.modifier >> 32) as u32,
                d.modifier as u32,
                d.width,
                d.height,
                d.buffer_count,
                kind,
            );
            for (i, b) in a.buffers.iter().enumerate() {
                c.buffer(i as u32, (b.size_bytes >> 32) as u32, b.size_bytes as u32);
                for (p, plane) in b.planes.iter().enumerate() {
                    // Offsets are bounded by MAX_BUFFER_BYTES (< 4 GiB).
                    let offset = u32::try_from(plane.offset).unwrap_or(u32::MAX);
                    use std::os::fd::AsFd;
                    c.plane(i as u32, p as u32, plane.fd.as_fd(), offset, plane.stride);
                }
            }
            c.allocated();
        }
    }
}

/// The registry's reason as the protocol enum (same numbering).
pub(crate) fn wire_reason(r: Reason) -> FailureReason {
    FailureReason::try_from(r as u32).unwrap_or(FailureReason::InvalidConstraint)
}
