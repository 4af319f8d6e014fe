//! The smallest compositor that embeds the Accord module, run in the
//! fuzzer's own thread: a `Display`, `wl_compositor` (so `attach_surface`
//! has surfaces to work with), dma-buf dispatch (the module needs it) and
//! the Accord global on the memfd backend. Clients are socket pairs, so a
//! case needs no listening socket and no second thread, and dispatching
//! is synchronous: after [`Server::dispatch`], every byte the clients wrote
//! has been handled.

use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use accord_engine::{FormatModifier, MOD_LINEAR};
use accord_smithay::backend::memfd::MemfdBackend;
use accord_smithay::{BufferCollectionHandler, BufferCollectionState};
use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::reexports::wayland_server::backend::{ClientData, ClientId, DisconnectReason};
use smithay::reexports::wayland_server::protocol::wl_buffer::WlBuffer;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::{Client, Display, DisplayHandle};
use smithay::wayland::buffer::BufferHandler;
use smithay::wayland::compositor::{CompositorClientState, CompositorHandler, CompositorState};
use smithay::wayland::dmabuf::{DmabufGlobal, DmabufHandler, DmabufState, ImportNotifier};

pub struct State {
    compositor: CompositorState,
    dmabuf: DmabufState,
    pub accord: BufferCollectionState,
}

struct ClientState {
    compositor: CompositorClientState,
    disconnects: Arc<AtomicUsize>,
    /// wayland-backend 0.3.17 may call `disconnected` twice for one client
    /// (closed, then a protocol error from a request still buffered): count
    /// each client once (FUZZING.md).
    gone: std::sync::atomic::AtomicBool,
}

impl ClientData for ClientState {
    fn disconnected(&self, id: ClientId, reason: DisconnectReason) {
        if std::env::var_os("ACCORD_FUZZ_TRACE").is_some() {
            eprintln!("  server: {id:?} disconnected ({reason:?})");
        }
        if !self.gone.swap(true, Ordering::Relaxed) {
            self.disconnects.fetch_add(1, Ordering::Relaxed);
        } else {
            super::stats::count(&super::stats::REPEATED_DISCONNECTS);
        }
    }
}

impl CompositorHandler for State {
    fn compositor_state(&mut self) -> &mut CompositorState {
        &mut self.compositor
    }
    fn client_compositor_state<'a>(&self, client: &'a Client) -> &'a CompositorClientState {
        &client
            .get_data::<ClientState>()
            .expect("every client is inserted with ClientState")
            .compositor
    }
    fn commit(&mut self, _surface: &WlSurface) {}
}

impl BufferHandler for State {
    fn buffer_destroyed(&mut self, _buffer: &WlBuffer) {}
}

impl DmabufHandler for State {
    fn dmabuf_state(&mut self) -> &mut DmabufState {
        &mut self.dmabuf
    }
    fn dmabuf_imported(&mut self, _: &DmabufGlobal, _: Dmabuf, notifier: ImportNotifier) {
        notifier.failed();
    }
}

impl BufferCollectionHandler for State {
    fn buffer_collection_state(&mut self) -> &mut BufferCollectionState {
        &mut self.accord
    }
    fn renderer_formats(&self) -> Vec<FormatModifier> {
        [u32::from_le_bytes(*b"XR24"), u32::from_le_bytes(*b"AR24")]
            .into_iter()
            .map(|format| FormatModifier {
                format,
                modifier: MOD_LINEAR,
                scanout: false,
            })
            .collect()
    }
}

smithay::delegate_compositor!(State);
smithay::delegate_dmabuf!(State);
accord_smithay::delegate_buffer_collection!(State);

/// The compositor under test; one per process, reused across cases (as a
/// real compositor outlives its clients).
pub struct Server {
    display: Display<State>,
    pub state: State,
    disconnects: Arc<AtomicUsize>,
}

impl Server {
    pub fn new() -> Server {
        let display: Display<State> = Display::new().expect("wayland display");
        let dh = display.handle();
        let state = State {
            compositor: CompositorState::new::<State>(&dh),
            dmabuf: DmabufState::new(),
            accord: BufferCollectionState::new::<State>(&dh, Box::new(MemfdBackend::new())),
        };
        Server {
            display,
            state,
            disconnects: Arc::new(AtomicUsize::new(0)),
        }
    }

    pub fn handle(&self) -> DisplayHandle {
        self.display.handle()
    }

    /// A new client; the returned stream is its end of the connection.
    pub fn connect(&mut self) -> (ClientId, UnixStream) {
        let (server, client) = UnixStream::pair().expect("socket pair");
        let data = Arc::new(ClientState {
            compositor: CompositorClientState::default(),
            disconnects: self.disconnects.clone(),
            gone: Default::default(),
        });
        let c = self
            .display
            .handle()
            .insert_client(server, data)
            .expect("insert client");
        client
            .set_nonblocking(true)
            .expect("non-blocking client socket");
        (c.id(), client)
    }

    /// Handle everything the clients sent, and send the replies.
    pub fn dispatch(&mut self) {
        // Errors here are per-client (they kill that client), never ours.
        let _ = self.display.dispatch_clients(&mut self.state);
        let _ = self.display.flush_clients();
    }

    /// Clients whose disconnect was processed so far.
    pub fn disconnects(&self) -> usize {
        self.disconnects.load(Ordering::Relaxed)
    }
}

impl Default for Server {
    fn default() -> Self {
        Self::new()
    }
}
