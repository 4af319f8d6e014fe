//! The protocol objects' user data: what a token or a participant's
//! collection object holds (a slot id and what the object may still do).
//! The slot's own state lives in [`Collections`](crate::collections::Collections).

use std::sync::{Arc, Mutex};

use accord_engine::Constraints;
use accord_protocol::server::wp_buffer_collection_token_v1::WpBufferCollectionTokenV1;
use accord_protocol::server::wp_buffer_collection_v1::WpBufferCollectionV1;

use crate::collections::{Allocation, Failed, GroupId, SlotId};

/// The protocol object currently holding a slot.
#[derive(Debug, Clone)]
pub(crate) enum SlotObject {
    Token(WpBufferCollectionTokenV1),
    Collection(WpBufferCollectionV1),
}

/// User data of a token.
///
/// The module creates it; `delegate_buffer_collection!` names it.
///
/// ```no_run
/// # use accord_protocol::server::wp_buffer_collection_token_v1::WpBufferCollectionTokenV1;
/// # use wayland_server::Resource;
/// # fn demo(token: &WpBufferCollectionTokenV1) {
/// let ours = token.data::<accord_smithay::TokenData>().is_some();
/// # }
/// ```
#[derive(Debug)]
pub struct TokenData {
    pub(crate) state: Mutex<TokenState>,
    /// Why it failed, passed on to objects made from it afterwards.
    pub(crate) failure: Mutex<Option<Failed>>,
    /// Created live, so charged to its identity's live token budget (a
    /// token created failed is not, or refusals would fill the budget).
    pub(crate) charged: bool,
}

/// What a token *object* may still do. The slot's own state (token,
/// exported, bound, committed, holding buffers...) is kept only in
/// [`Collections`](crate::collections::Collections): once a token is bound,
/// exported or attached, its slot lives on in another object (the
/// collection object, the handle, the compositor) and this object only
/// needs to know that it is inert, and why, for the error message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenState {
    /// Holds the slot: the only token state that carries a slot id.
    Live(SlotId),
    /// Its slot went to a collection object.
    Bound,
    /// Its slot went into a handle.
    Exported,
    /// Its slot went to the compositor (`attach_surface`).
    Attached,
    /// Its slot became a token group (`create_group`).
    Grouped,
    /// Destroyed by request (released).
    Released,
    /// Failed import or failed collection: requests are answered as the
    /// XML lists for a failed token.
    Failed,
}

impl TokenData {
    pub(crate) fn new(state: TokenState) -> Self {
        TokenData {
            state: Mutex::new(state),
            failure: Mutex::new(None),
            charged: matches!(state, TokenState::Live(_)),
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
///
/// The module creates it; `delegate_buffer_collection!` names it.
///
/// ```no_run
/// # use accord_protocol::server::wp_buffer_collection_v1::WpBufferCollectionV1;
/// # use wayland_server::Resource;
/// # fn demo(collection: &WpBufferCollectionV1) {
/// let ours = collection.data::<accord_smithay::CollectionData>().is_some();
/// # }
/// ```
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
    /// A weak participant (`set_weak`) holds its buffers weakly: they live
    /// while a strong participant or a `wl_buffer` holds them.
    pub(crate) weak: bool,
    pub(crate) weak_allocation: Option<std::sync::Weak<Allocation>>,
    pub(crate) failed: bool,
}

impl CollectionInner {
    /// The buffers, if this participant has them and they are still alive.
    pub(crate) fn buffers(&self) -> Option<Arc<Allocation>> {
        self.allocation
            .clone()
            .or_else(|| self.weak_allocation.as_ref()?.upgrade())
    }
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

/// User data of a token group.
///
/// The module creates it; `delegate_buffer_collection!` names it.
///
/// ```no_run
/// # use accord_protocol::server::wp_buffer_collection_token_group_v1::WpBufferCollectionTokenGroupV1;
/// # use wayland_server::Resource;
/// # fn demo(group: &WpBufferCollectionTokenGroupV1) {
/// let ours = group.data::<accord_smithay::GroupData>().is_some();
/// # }
/// ```
#[derive(Debug)]
pub struct GroupData {
    /// `None` for a group made from a failed token (or after allocation):
    /// its children are created failed with `failure`.
    pub(crate) group: Option<GroupId>,
    pub(crate) failure: Option<Failed>,
    /// Took over its token's live-token charge.
    pub(crate) charged: bool,
    pub(crate) inner: Mutex<GroupInner>,
}

/// What the group object itself knows, so misuse is a protocol error
/// whatever became of the collection.
#[derive(Debug, Default)]
pub(crate) struct GroupInner {
    pub(crate) children: usize,
    pub(crate) complete: bool,
}

impl GroupData {
    pub(crate) fn new(group: Option<GroupId>, failure: Option<Failed>, charged: bool) -> Self {
        GroupData {
            group,
            failure,
            charged,
            inner: Mutex::new(GroupInner::default()),
        }
    }
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, GroupInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}
