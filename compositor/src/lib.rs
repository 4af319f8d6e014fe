//! Accord's Smithay module.
//!
//! Embed it like any Smithay handler module: keep a [`BufferCollectionState`]
//! in your state, implement [`BufferCollectionHandler`], and call
//! [`delegate_buffer_collection!`] (plus smithay's `delegate_dmabuf!`, which
//! dispatches the `wl_buffer`s made from dma-buf collections).
//!
//! ```ignore
//! struct State { accord: BufferCollectionState, dmabuf: DmabufState, /* ... */ }
//! impl BufferCollectionHandler for State {
//!     fn buffer_collection_state(&mut self) -> &mut BufferCollectionState { &mut self.accord }
//!     fn renderer_formats(&self) -> Vec<FormatModifier> { /* renderer import formats */ }
//! }
//! accord_smithay::delegate_buffer_collection!(State);
//! smithay::delegate_dmabuf!(State);
//! let accord = BufferCollectionState::new::<State>(&dh, Box::new(MemfdAllocator::new()));
//! ```

pub mod backend;
mod handlers;
pub mod kms;
pub mod registry;
mod state;
mod wl_buffer;

pub use accord_protocol::limits;
pub use handlers::BufferCollectionDispatch;
pub use state::{BufferCollectionHandler, BufferCollectionState, CollectionData, TokenData};
pub use wl_buffer::{import_memfd_buffer, with_memfd_buffer, MemfdBuffer, MemfdBufferInfo};

/// Re-exports the macro needs.
#[doc(hidden)]
pub mod reexports {
    pub use accord_protocol;
    pub use wayland_server;
}

/// Implement the module's `GlobalDispatch`/`Dispatch` traits for your state
/// by delegating to [`BufferCollectionState`].
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
            $crate::reexports::accord_protocol::server::wp_buffer_collection_v1::WpBufferCollectionV1: $crate::CollectionData
        ] => $crate::BufferCollectionState);
        $crate::reexports::wayland_server::delegate_dispatch!($(@< $( $lt $( : $clt $(+ $dlt )* )? ),+ >)? $ty: [
            $crate::reexports::wayland_server::protocol::wl_buffer::WlBuffer: $crate::MemfdBuffer
        ] => $crate::BufferCollectionState);
    };
}
