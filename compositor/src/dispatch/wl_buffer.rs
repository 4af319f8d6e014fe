//! `wl_buffer` over memfd memory (dma-buf `wl_buffer`s are smithay's
//! `Dmabuf` and dispatched by `delegate_dmabuf!`).

use wayland_server::protocol::wl_buffer::{self, WlBuffer};
use wayland_server::{Client, DataInit, Dispatch, DisplayHandle};

use super::BufferCollectionDispatch;
use crate::state::BufferCollectionState;
use crate::wl_buffer::MemfdBuffer;

impl<D: BufferCollectionDispatch> Dispatch<WlBuffer, MemfdBuffer, D> for BufferCollectionState {
    fn request(
        _state: &mut D,
        _client: &Client,
        _resource: &WlBuffer,
        request: wl_buffer::Request,
        _data: &MemfdBuffer,
        _dh: &DisplayHandle,
        _data_init: &mut DataInit<'_, D>,
    ) {
        // Only `destroy`, handled by wayland-server; the memory is freed
        // when the last holder of the allocation drops it.
        let _ = request;
    }
}
