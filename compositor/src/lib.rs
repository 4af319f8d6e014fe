//! Accord's Smithay module.
//!
//! Embed it like any Smithay handler module: keep a [`BufferCollectionState`]
//! in your state, implement [`BufferCollectionHandler`], and call
//! [`delegate_buffer_collection!`] (plus smithay's `delegate_dmabuf!`, which
//! dispatches the `wl_buffer`s made from dma-buf collections, and from your
//! `BufferHandler::buffer_destroyed` call
//! [`BufferCollectionState::wl_buffer_destroyed`], which releases what those
//! `wl_buffer`s hold).
//!
//! ```no_run
//! use accord_engine::{FormatModifier, MOD_LINEAR};
//! use accord_smithay::backend::memfd::MemfdBackend;
//! use accord_smithay::{BufferCollectionHandler, BufferCollectionState};
//! # use smithay::backend::allocator::dmabuf::Dmabuf;
//! # use smithay::wayland::buffer::BufferHandler;
//! # use smithay::wayland::dmabuf::{DmabufGlobal, DmabufHandler, DmabufState, ImportNotifier};
//!
//! struct State {
//!     accord: BufferCollectionState,
//!     dmabuf: DmabufState, // and the rest of your compositor's state
//! }
//! impl BufferCollectionHandler for State {
//!     fn buffer_collection_state(&mut self) -> &mut BufferCollectionState {
//!         &mut self.accord
//!     }
//!     fn renderer_formats(&self) -> Vec<FormatModifier> {
//!         let xrgb8888 = u32::from_le_bytes(*b"XR24"); // Pixman: LINEAR only
//!         vec![FormatModifier { format: xrgb8888, modifier: MOD_LINEAR, scanout: false }]
//!     }
//! }
//! accord_smithay::delegate_buffer_collection!(State);
//! smithay::delegate_dmabuf!(State); // dma-buf collections' wl_buffers carry smithay's `Dmabuf`
//! impl BufferHandler for State {
//!     fn buffer_destroyed(&mut self, buffer: &wayland_server::protocol::wl_buffer::WlBuffer) {
//!         // dma-buf collections' wl_buffers hold their buffers until this
//!         self.accord.wl_buffer_destroyed(buffer);
//!     }
//! }
//! # impl DmabufHandler for State {
//! #     fn dmabuf_state(&mut self) -> &mut DmabufState { &mut self.dmabuf }
//! #     fn dmabuf_imported(&mut self, _: &DmabufGlobal, _: Dmabuf, n: ImportNotifier) { n.failed(); }
//! # }
//!
//! let display = wayland_server::Display::<State>::new()?;
//! let allocator = Box::new(MemfdBackend::new());
//! let accord = BufferCollectionState::new::<State>(&display.handle(), allocator);
//! let state = State { accord, dmabuf: DmabufState::new() };
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A complete compositor with it: `examples/minimal-embed.rs`.
//!
//! Also call [`BufferCollectionState::insert_expiry_timer`] with your event
//! loop's handle, so unredeemed handles expire and stalled collections are
//! reported on an idle display too.
//!
//! The module logs with `tracing`: a `collection` span per collection and a
//! `participant` span per slot (carrying the name set with `set_name`), and
//! one warning per collection that waits longer than 5 s
//! ([`BufferCollectionState::set_stall_warning`]), naming the slots that are
//! neither committed nor released.

pub mod backend;
pub mod collections;
mod connection_budget;
pub mod device;
mod dispatch;
mod dmabuf_buffers;
mod events;
mod identity;
pub mod kms;
pub mod log_limit;
mod object_counts;
mod objects;
mod participant;
mod state;
mod wire_constraints;
mod wl_buffer;

pub use accord_protocol::limits;
pub use connection_budget::{
    ConnectionBudget, ConnectionTicket, OverBudget, DEFAULT_MAX_CONNECTIONS_PER_IDENTITY,
};
pub use dispatch::BufferCollectionDispatch;
pub use identity::ClientIdentity;
pub use objects::{CollectionData, GroupData, TokenData};
pub use state::{
    default_max_buffer_fds, BufferCollectionHandler, BufferCollectionState,
    DEFAULT_WEAK_RELEASE_TIMEOUT,
};
pub use wl_buffer::{import_memfd_buffer, with_memfd_buffer, MemfdBuffer, MemfdBufferInfo};

/// Re-exports the macro needs.
#[doc(hidden)]
pub mod reexports {
    pub use accord_protocol;
    pub use tracing;
    pub use wayland_server;
}

/// Implement the module's `GlobalDispatch`/`Dispatch` traits for your state
/// by delegating to [`BufferCollectionState`]. Your state also needs
/// smithay's `delegate_dmabuf!` (see [`BufferCollectionDispatch`]); the
/// crate documentation shows both in a complete embedding.
#[macro_export]
macro_rules! delegate_buffer_collection {
    ($(@<$( $lt:tt $( : $clt:tt $(+ $dlt:tt )* )? ),+>)? $ty: ty) => {
        $crate::reexports::wayland_server::delegate_global_dispatch!($(@< $( $lt $( : $clt $(+ $dlt )* )? ),+ >)? $ty: [
            $crate::reexports::accord_protocol::server::wp_buffer_collection_manager_v1::WpBufferCollectionManagerV1: ()
        ] => $crate::BufferCollectionState);
        $crate::reexports::wayland_server::delegate_dispatch!($(@< $( $lt $( : $clt $(+ $dlt )* )? ),+ >)? $ty: [
            $crate::reexports::accord_protocol::server::wp_buffer_collection_manager_v1::WpBufferCollectionManagerV1: ()
        ] => $crate::BufferCollectionState);
        $crate::reexports::wayland_server::delegate_dispatch!($(@< $( $lt $( : $clt $(+ $dlt )* )? ),+ >)? $ty: [
            $crate::reexports::accord_protocol::server::wp_buffer_collection_token_v1::WpBufferCollectionTokenV1: $crate::TokenData
        ] => $crate::BufferCollectionState);
        $crate::reexports::wayland_server::delegate_dispatch!($(@< $( $lt $( : $clt $(+ $dlt )* )? ),+ >)? $ty: [
            $crate::reexports::accord_protocol::server::wp_buffer_collection_token_group_v1::WpBufferCollectionTokenGroupV1: $crate::GroupData
        ] => $crate::BufferCollectionState);
        $crate::reexports::wayland_server::delegate_dispatch!($(@< $( $lt $( : $clt $(+ $dlt )* )? ),+ >)? $ty: [
            $crate::reexports::accord_protocol::server::wp_buffer_collection_v1::WpBufferCollectionV1: $crate::CollectionData
        ] => $crate::BufferCollectionState);
        $crate::reexports::wayland_server::delegate_dispatch!($(@< $( $lt $( : $clt $(+ $dlt )* )? ),+ >)? $ty: [
            $crate::reexports::wayland_server::protocol::wl_buffer::WlBuffer: $crate::MemfdBuffer
        ] => $crate::BufferCollectionState);
    };
}
