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
    /// The generations this object holds, oldest first; the last one is
    /// the newest it received. Strong, or weak for a weak participant.
    pub(crate) generations: Vec<HeldGeneration>,
    /// A weak participant (`set_weak`) holds its buffers weakly: they live
    /// while a strong participant or a `wl_buffer` holds them.
    pub(crate) weak: bool,
    pub(crate) failed: bool,
    /// Received an allocated event: constraint requests and `recommit`
    /// are accepted again (version 2).
    pub(crate) allocated: bool,
}

/// One generation held by a participant's collection object.
#[derive(Debug)]
pub(crate) enum HeldGeneration {
    Strong(Arc<Allocation>),
    Weak(u32, std::sync::Weak<Allocation>),
}

impl HeldGeneration {
    pub(crate) fn generation(&self) -> u32 {
        match self {
            HeldGeneration::Strong(a) => a.generation,
            HeldGeneration::Weak(g, _) => *g,
        }
    }
    fn get(&self) -> Option<Arc<Allocation>> {
        match self {
            HeldGeneration::Strong(a) => Some(a.clone()),
            HeldGeneration::Weak(_, w) => w.upgrade(),
        }
    }
}

impl CollectionInner {
    /// The newest generation's buffers, if this participant has them and
    /// they are still alive.
    pub(crate) fn buffers(&self) -> Option<Arc<Allocation>> {
        self.generations.last()?.get()
    }

    /// Generation `generation`'s buffers, if this object holds it:
    /// `Err(true)` when it holds none at all (not allocated yet).
    pub(crate) fn generation(&self, generation: u32) -> Result<Arc<Allocation>, bool> {
        if self.generations.is_empty() {
            return Err(true);
        }
        self.generations
            .iter()
            .find(|h| h.generation() == generation)
            .and_then(HeldGeneration::get)
            .ok_or(false)
    }

    /// Hold a new generation: the newest from now on. A version-1 object
    /// (`keep_older` false) cannot release generations, so its hold on the
    /// older ones ends here.
    pub(crate) fn hold(&mut self, a: &Arc<Allocation>, keep_older: bool) {
        if !keep_older {
            self.generations.clear();
        }
        self.generations.push(if self.weak {
            HeldGeneration::Weak(a.generation, Arc::downgrade(a))
        } else {
            HeldGeneration::Strong(a.clone())
        });
        self.allocated = true;
    }

    /// `release_generation`: drop the hold on an older generation. `false`
    /// when it is not held or is the newest.
    pub(crate) fn release(&mut self, generation: u32) -> bool {
        let newest = self.generations.last().map(HeldGeneration::generation);
        if newest == Some(generation) {
            return false;
        }
        let before = self.generations.len();
        self.generations.retain(|h| h.generation() != generation);
        self.generations.len() != before
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
