//! A minimal Smithay compositor with Accord added: the lines marked `Accord`.
use accord_engine::{FormatModifier, MOD_LINEAR};
use accord_smithay::backend::memfd::MemfdBackend;
use accord_smithay::{BufferCollectionHandler, BufferCollectionState};
use smithay::backend::allocator::{dmabuf::Dmabuf, Fourcc};
use smithay::reexports::calloop::{generic::Generic, EventLoop, Interest, Mode, PostAction};
use smithay::reexports::wayland_server::protocol::{wl_buffer::WlBuffer, wl_surface::WlSurface};
use smithay::reexports::wayland_server::{backend::ClientData, Client, Display};
use smithay::wayland::compositor::{CompositorClientState, CompositorHandler, CompositorState};
use smithay::wayland::dmabuf::{DmabufGlobal, DmabufHandler, DmabufState, ImportNotifier};
use smithay::wayland::{buffer::BufferHandler, socket::ListeningSocketSource};
struct State {
    compositor: CompositorState,
    dmabuf: DmabufState,
    accord: BufferCollectionState, // Accord: the module's state
}
impl BufferCollectionHandler for State {
    // Accord: the handler. `renderer_formats`: what your renderer imports.
    fn buffer_collection_state(&mut self) -> &mut BufferCollectionState {
        &mut self.accord
    }
    fn renderer_formats(&self) -> Vec<FormatModifier> {
        vec![FormatModifier {
            format: Fourcc::Xrgb8888 as u32,
            modifier: MOD_LINEAR,
            scanout: false,
        }]
    }
}
accord_smithay::delegate_buffer_collection!(State); // Accord: the dispatch
struct ClientState(CompositorClientState);
impl ClientData for ClientState {}
impl CompositorHandler for State {
    fn compositor_state(&mut self) -> &mut CompositorState {
        &mut self.compositor
    }
    fn client_compositor_state<'a>(&self, client: &'a Client) -> &'a CompositorClientState {
        &client.get_data::<ClientState>().expect("set on insert").0
    }
    fn commit(&mut self, _: &WlSurface) {}
}
impl BufferHandler for State {
    fn buffer_destroyed(&mut self, buffer: &WlBuffer) {
        self.accord.wl_buffer_destroyed(buffer); // Accord: dma-buf wl_buffers' hold ends
    }
}
impl DmabufHandler for State {
    fn dmabuf_state(&mut self) -> &mut DmabufState {
        &mut self.dmabuf
    }
    fn dmabuf_imported(&mut self, _: &DmabufGlobal, _: Dmabuf, notifier: ImportNotifier) {
        notifier.failed();
    }
}
smithay::delegate_compositor!(State);
smithay::delegate_dmabuf!(State); // Accord's dma-buf wl_buffers are smithay `Dmabuf`s
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut event_loop = EventLoop::<State>::try_new()?;
    let (handle, mut display) = (event_loop.handle(), Display::<State>::new()?);
    let mut dh = display.handle();
    let accord = BufferCollectionState::new::<State>(&dh, Box::new(MemfdBackend)); // Accord
    BufferCollectionState::insert_expiry_timer(&handle)?; // Accord: handle expiry
    let mut state = State {
        compositor: CompositorState::new::<State>(&dh),
        dmabuf: DmabufState::new(),
        accord,
    };
    let socket = ListeningSocketSource::new_auto()?;
    let name = socket.socket_name().to_string_lossy().into_owned();
    println!("minimal-embed: listening on WAYLAND_DISPLAY={name}");
    handle.insert_source(socket, move |stream, _, _| {
        let _ = dh.insert_client(stream, std::sync::Arc::new(ClientState(Default::default())));
    })?;
    let fd = display.backend().poll_fd().try_clone_to_owned()?;
    let wake = |_: _, _: &mut _, _: &mut State| Ok(PostAction::Continue);
    handle.insert_source(Generic::new(fd, Interest::READ, Mode::Level), wake)?;
    event_loop.run(None, &mut state, move |state| {
        let _ = display.dispatch_clients(state);
        let _ = display.flush_clients();
    })?;
    Ok(())
}
