//! A minimal wayland-client client for the tests: xdg toplevels showing shm
//! buffers of one colour, over the compositor's socket path.

use std::{
    fs::File,
    io::Write,
    os::{fd::AsFd, unix::net::UnixStream},
};

use accord_examples::{client_plumbing::ClientEvents, refcomp::Running};
use wayland_client::{
    backend::ObjectId,
    delegate_noop,
    globals::{registry_queue_init, GlobalList},
    protocol::{
        wl_buffer::WlBuffer, wl_compositor::WlCompositor, wl_shm, wl_shm_pool::WlShmPool,
        wl_surface::WlSurface,
    },
    Connection, EventQueue, Proxy, QueueHandle,
};
use wayland_protocols::xdg::shell::client::{xdg_toplevel, xdg_wm_base};

/// What the events told the client so far. Tests add fields for their own
/// protocols by implementing `Dispatch` for this type.
#[derive(Default)]
pub struct State {
    pub configured: bool,
    /// The last `xdg_toplevel.configure`: size and states.
    pub toplevel_size: (i32, i32),
    pub toplevel_states: Vec<u32>,
    pub frames_done: u32,
    pub released: Vec<ObjectId>,
    pub extra: Extra,
}

/// Event results of the less common protocols some tests use.
#[derive(Default)]
pub struct Extra {
    pub format_table: Option<(std::os::fd::OwnedFd, u32)>,
    pub main_device: Option<Vec<u8>>,
    pub tranche_indices: Vec<u16>,
    pub feedback_done: bool,
    /// The outcome of `zwp_linux_buffer_params_v1.create`: true = created.
    pub params_outcome: Option<bool>,
}

pub struct TestClient {
    pub conn: Connection,
    pub queue: EventQueue<State>,
    pub globals: GlobalList,
    pub state: State,
}

/// An xdg toplevel, configured.
pub struct Toplevel {
    pub surface: WlSurface,
    pub toplevel: xdg_toplevel::XdgToplevel,
}

impl TestClient {
    pub fn connect(compositor: &Running) -> Self {
        let stream = UnixStream::connect(compositor.socket_path()).expect("connect to the socket");
        let conn = Connection::from_socket(stream).expect("wayland connection");
        let (globals, queue) = registry_queue_init::<State>(&conn).expect("registry");
        Self {
            conn,
            queue,
            globals,
            state: State::default(),
        }
    }

    pub fn qh(&self) -> QueueHandle<State> {
        self.queue.handle()
    }

    /// Dispatches events until `done` holds; a protocol error panics.
    pub fn dispatch_until(&mut self, done: impl Fn(&State) -> bool) {
        while !done(&self.state) {
            self.queue
                .blocking_dispatch(&mut self.state)
                .expect("dispatch (protocol error?)");
        }
    }

    /// Waits until the compositor has handled every request sent so far and
    /// dispatches the events it sent meanwhile.
    pub fn sync(&mut self) {
        self.queue
            .roundtrip(&mut self.state)
            .expect("roundtrip (protocol error?)");
    }

    /// Creates a toplevel (fullscreen if asked) and waits for its configure.
    pub fn toplevel(&mut self, fullscreen: bool) -> Toplevel {
        let qh = self.qh();
        let compositor: WlCompositor = self.globals.bind(&qh, 4..=5, ()).expect("wl_compositor");
        let wm_base: xdg_wm_base::XdgWmBase =
            self.globals.bind(&qh, 1..=6, ()).expect("xdg_wm_base");
        let surface = compositor.create_surface(&qh, ());
        let xdg_surface = wm_base.get_xdg_surface(&surface, &qh, ());
        let toplevel = xdg_surface.get_toplevel(&qh, ());
        toplevel.set_title("accord test".into());
        if fullscreen {
            toplevel.set_fullscreen(None);
        }
        surface.commit();
        self.state.configured = false;
        self.dispatch_until(|s| s.configured);
        Toplevel { surface, toplevel }
    }

    /// A `w`x`h` XRGB8888 shm buffer filled with `rgb`.
    pub fn shm_buffer(&mut self, (w, h): (i32, i32), rgb: [u8; 3]) -> WlBuffer {
        let qh = self.qh();
        let shm: wl_shm::WlShm = self.globals.bind(&qh, 1..=1, ()).expect("wl_shm");
        let fd = rustix::fs::memfd_create("accord-test", rustix::fs::MemfdFlags::CLOEXEC)
            .expect("memfd");
        let mut file = File::from(fd);
        // XRGB8888 is B, G, R, X in memory.
        let pixels: Vec<u8> = std::iter::repeat_n([rgb[2], rgb[1], rgb[0], 0xff], (w * h) as usize)
            .flatten()
            .collect();
        file.write_all(&pixels).expect("fill shm");
        let pool = shm.create_pool(file.as_fd(), w * 4 * h, &qh, ());
        let buffer = pool.create_buffer(0, w, h, w * 4, wl_shm::Format::Xrgb8888, &qh, ());
        pool.destroy();
        buffer
    }

    /// Attaches `buffer`, commits, and waits for the frame callback, which
    /// the compositor sends after the frame that composited this commit.
    pub fn show(&mut self, surface: &WlSurface, buffer: &WlBuffer) {
        let qh = self.qh();
        surface.attach(Some(buffer), 0, 0);
        surface.damage_buffer(0, 0, i32::MAX, i32::MAX);
        surface.frame(&qh, ());
        surface.commit();
        let before = self.state.frames_done;
        self.dispatch_until(|s| s.frames_done > before);
    }
}

impl ClientEvents for State {
    fn configured(&mut self) {
        self.configured = true;
    }
    fn toplevel_configure(&mut self, size: (i32, i32), states: Vec<u32>) {
        self.toplevel_size = size;
        self.toplevel_states = states;
    }
    fn frame_done(&mut self) {
        self.frames_done += 1;
    }
    fn buffer_released(&mut self, buffer: &WlBuffer) {
        self.released.push(buffer.id());
    }
}
accord_examples::delegate_client_plumbing!(State);

delegate_noop!(State: ignore WlCompositor);
delegate_noop!(State: ignore WlSurface);
delegate_noop!(State: ignore wl_shm::WlShm);
delegate_noop!(State: ignore WlShmPool);
