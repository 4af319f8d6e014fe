//! A minimal Smithay compositor with Accord added: the lines marked `Accord`.
//! `minimal-embed [pixman|gles]` picks smithay's renderer (default pixman;
//! gles: `GlesRenderer` on EGL's software device, llvmpipe, or on a card's
//! GBM device as in examples/src/refcomp/gles.rs). Accord asks it what it
//! imports, and a committed Accord memfd buffer is drawn by uploading it.
use accord_engine::{FormatModifier, MOD_LINEAR};
use accord_smithay::backend::memfd::MemfdBackend;
use accord_smithay::kms::renderer_import_formats;
use accord_smithay::{import_memfd_buffer, BufferCollectionHandler, BufferCollectionState};
use smithay::backend::allocator::{dmabuf::Dmabuf, Fourcc};
use smithay::backend::egl::{EGLContext, EGLDevice, EGLDisplay};
use smithay::backend::renderer::{
    gles::GlesRenderer, pixman::PixmanRenderer, ImportDma, ImportMem,
};
use smithay::reexports::calloop::{generic::Generic, EventLoop, Interest, Mode, PostAction};
use smithay::reexports::wayland_server::protocol::{wl_buffer::WlBuffer, wl_surface::WlSurface};
use smithay::reexports::wayland_server::{backend::ClientData, Client, Display};
use smithay::wayland::compositor::{self, BufferAssignment, SurfaceAttributes};
use smithay::wayland::compositor::{CompositorClientState, CompositorHandler, CompositorState};
use smithay::wayland::dmabuf::{DmabufGlobal, DmabufHandler, DmabufState, ImportNotifier};
use smithay::wayland::{buffer::BufferHandler, socket::ListeningSocketSource};
enum Renderer {
    Pixman(PixmanRenderer),
    Gles(Box<GlesRenderer>),
}
/// What the renderer imports (dma-buf pairs), then the LINEAR memory formats
/// it uploads (Accord's memfd buffers): the compositor's participant.
fn offered(r: &(impl ImportDma + ImportMem)) -> Vec<FormatModifier> {
    let mut pairs = renderer_import_formats(r);
    for format in r
        .mem_formats()
        .filter(|f| [Fourcc::Xrgb8888, Fourcc::Argb8888].contains(f))
    {
        let pair = FormatModifier {
            format: format as u32,
            modifier: MOD_LINEAR,
            scanout: false,
        };
        if !pairs.contains(&pair) {
            pairs.push(pair);
        }
    }
    pairs
}
struct State {
    compositor: CompositorState,
    dmabuf: DmabufState,
    renderer: Renderer,
    accord: BufferCollectionState, // Accord: the module's state
}
impl BufferCollectionHandler for State {
    // Accord: the handler. `renderer_formats`: what your renderer imports.
    fn buffer_collection_state(&mut self) -> &mut BufferCollectionState {
        &mut self.accord
    }
    fn renderer_formats(&self) -> Vec<FormatModifier> {
        match &self.renderer {
            Renderer::Pixman(r) => offered(r),
            Renderer::Gles(r) => offered(&**r),
        }
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
    fn commit(&mut self, surface: &WlSurface) {
        let attached = compositor::with_states(surface, |s| {
            s.cached_state
                .get::<SurfaceAttributes>()
                .current()
                .buffer
                .take()
        });
        let Some(BufferAssignment::NewBuffer(buffer)) = attached else {
            return;
        };
        // Accord: a memfd wl_buffer is drawn from a texture upload.
        let (name, uploaded) = match &mut self.renderer {
            Renderer::Pixman(r) => ("pixman", import_memfd_buffer(r, &buffer).map(|t| t.is_ok())),
            Renderer::Gles(r) => (
                "gles",
                import_memfd_buffer(&mut **r, &buffer).map(|t| t.is_ok()),
            ),
        };
        println!("minimal-embed: {name} uploaded an Accord memfd buffer: {uploaded:?}");
        buffer.release();
    }
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
    let renderer = match std::env::args().nth(1).as_deref() {
        None | Some("pixman") => Renderer::Pixman(PixmanRenderer::new()?),
        Some("gles") => {
            // EGL without a display device: Mesa's software device. On KMS,
            // `EGLDisplay::new(GbmDevice::new(card_fd)?)` instead.
            let mut devices = EGLDevice::enumerate()?;
            let device = devices
                .find(EGLDevice::is_software)
                .ok_or("no EGL software device")?;
            // SAFETY: the display keeps the device; the context is used on this thread only.
            let context = EGLContext::new(&unsafe { EGLDisplay::new(device) }?)?;
            Renderer::Gles(Box::new(unsafe { GlesRenderer::new(context) }?))
        }
        Some(other) => return Err(format!("unknown renderer {other:?}: pixman or gles").into()),
    };
    let mut event_loop = EventLoop::<State>::try_new()?;
    let (handle, mut display) = (event_loop.handle(), Display::<State>::new()?);
    let mut dh = display.handle();
    let accord = BufferCollectionState::new::<State>(&dh, Box::new(MemfdBackend)); // Accord
    BufferCollectionState::insert_expiry_timer(&handle)?; // Accord: handle expiry
    let mut state = State {
        compositor: CompositorState::new::<State>(&dh),
        dmabuf: DmabufState::new(),
        renderer,
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
