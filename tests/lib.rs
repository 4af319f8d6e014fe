//! Helpers shared by the integration tests: a minimal in-process Smithay
//! compositor (wl_compositor, linux-dmabuf dispatch and the Accord global,
//! memfd backend) on a real socket in a temporary runtime directory, run on
//! its own thread; and client connections to it.
//!
//! The full reference compositor lives in `examples/`; this one is kept
//! small on purpose.

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;

use accord_engine::{FormatModifier, MOD_LINEAR};
use accord_smithay::backend::memfd::MemfdBackend;
use accord_smithay::backend::CollectionAllocator;
use accord_smithay::{BufferCollectionHandler, BufferCollectionState};
use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::backend::allocator::Fourcc;
use smithay::backend::renderer::pixman::PixmanRenderer;
use smithay::backend::renderer::{Bind, Color32F, ExportMem, Frame, Offscreen, Renderer};
use smithay::reexports::calloop::generic::Generic;
use smithay::reexports::calloop::{EventLoop, Interest, LoopSignal, Mode, PostAction};
use smithay::reexports::pixman::Image;
use smithay::reexports::wayland_server::backend::{ClientData, ClientId, DisconnectReason};
use smithay::reexports::wayland_server::protocol::wl_buffer::WlBuffer;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::{Client, Display, DisplayHandle, ListeningSocket};
use smithay::utils::{Rectangle, Transform};
use smithay::wayland::buffer::BufferHandler;
use smithay::wayland::compositor::{with_states, BufferAssignment, SurfaceAttributes};
use smithay::wayland::compositor::{CompositorClientState, CompositorHandler, CompositorState};
use smithay::wayland::dmabuf::{DmabufGlobal, DmabufHandler, DmabufState, ImportNotifier};

/// `DRM_FORMAT_XRGB8888`.
pub const XRGB8888: u32 = u32::from_le_bytes(*b"XR24");
/// `DRM_FORMAT_ARGB8888`.
pub const ARGB8888: u32 = u32::from_le_bytes(*b"AR24");

/// A temporary directory standing in for `XDG_RUNTIME_DIR`, removed on drop.
#[derive(Debug)]
pub struct RuntimeDir(PathBuf);

impl RuntimeDir {
    pub fn new() -> RuntimeDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "accord-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create runtime dir");
        RuntimeDir(dir)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Default for RuntimeDir {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for RuntimeDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Size of the test compositor's offscreen output.
pub const OUTPUT_SIZE: (i32, i32) = (128, 64);

pub use accord_fd_census::{FdCensus, FdKind};

/// The fd census of this process: the test compositor runs on a thread of
/// the test process, so this is the compositor's census (with whatever the
/// in-process clients hold).
pub fn fd_census() -> FdCensus {
    FdCensus::of_self().expect("fd census of the test process")
}

/// Wait (up to 5 s) for the process to be back at `baseline`, kind by kind
/// (sockets, dma-bufs, memfds, DRM nodes, others): the compositor frees a
/// client's objects shortly after it notices the disconnect. Panics naming
/// the kinds that differ and listing the open fds if it never gets there.
pub fn assert_fds_return_to(baseline: &FdCensus, what: &str) -> FdCensus {
    accord_fd_census::assert_back_to(std::process::id(), baseline, &format!("fds over {what}"))
}

/// What the compositor observed, for assertions.
#[derive(Debug, Default)]
pub struct Observed {
    /// Clients that disconnected (to wait for a disconnect to be processed).
    pub disconnects: usize,
    /// The output after the last surface commit with a buffer: ARGB8888,
    /// `OUTPUT_SIZE`, rows packed. The surface is drawn at (0, 0).
    pub output: Option<Vec<u8>>,
    /// Why the last frame could not be rendered.
    pub render_error: Option<String>,
    /// `BufferCollectionState::total_charged_bytes` after the last dispatch.
    pub charged_bytes: u64,
    /// The last committed buffer as smithay sees it through `get_dmabuf`.
    pub dmabuf: Option<DmabufSeen>,
    /// `BufferCollectionState::negotiating_collections` after the last
    /// dispatch.
    pub negotiating: usize,
    /// The negotiated decisions handed to `confirm_scanout`, in order.
    pub confirm_calls: Vec<accord_engine::Decision>,
}

/// How to configure the test compositor's module.
#[derive(Debug, Clone, Copy, Default)]
pub struct Config {
    /// Per-client quota in bytes (default 1 GiB).
    pub quota: Option<u64>,
    /// Handle expiry (default 60 s).
    pub handle_expiry: Option<std::time::Duration>,
    /// Stall warning threshold (default 5 s).
    pub stall_warning: Option<std::time::Duration>,
    /// Pairs a surface's display "scans out" (the compositor participant's
    /// `scanout` pairs; empty: composition only, the default).
    pub scanout_pairs: &'static [FormatModifier],
    /// The `confirm_scanout` hook (a fixture standing in for a display's
    /// `TEST_ONLY`); `None` keeps the module's default (no confirmation).
    pub confirm: Option<fn(&accord_engine::Decision) -> accord_engine::Decision>,
}

/// A dma-buf `wl_buffer` as the compositor saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmabufSeen {
    pub format: u32,
    pub modifier: u64,
    pub width: i32,
    pub height: i32,
    pub strides: Vec<u32>,
    pub offsets: Vec<u32>,
    /// `st_ino` of plane 0's fd.
    pub inode: u64,
}

/// The in-process compositor. Stops and joins on drop.
pub struct TestServer {
    pub socket: PathBuf,
    pub observed: Arc<Mutex<Observed>>,
    signal: LoopSignal,
    thread: Option<JoinHandle<()>>,
    _dir: RuntimeDir,
}

struct State {
    dh: DisplayHandle,
    renderer: PixmanRenderer,
    compositor: CompositorState,
    dmabuf: DmabufState,
    accord: BufferCollectionState,
    renderer_formats: Vec<FormatModifier>,
    observed: Arc<Mutex<Observed>>,
    config: Config,
}

struct ClientState {
    compositor: CompositorClientState,
    observed: Arc<Mutex<Observed>>,
    /// wayland-backend 0.3.17 may report one client disconnected twice
    /// (Rust backend: closed, then a protocol error from a request still
    /// buffered) or never (libwayland backend: a client killed by a protocol
    /// error the compositor posted): count each client once, at its first
    /// `disconnected` or else when its data is dropped (FUZZING.md findings
    /// 6 and 9).
    gone: std::sync::atomic::AtomicBool,
}

impl ClientState {
    fn count_disconnect(&self) {
        if self.gone.swap(true, std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        if let Ok(mut o) = self.observed.lock() {
            o.disconnects += 1;
        }
    }
}

impl ClientData for ClientState {
    fn disconnected(&self, _id: ClientId, _reason: DisconnectReason) {
        self.count_disconnect();
    }
}

impl Drop for ClientState {
    fn drop(&mut self) {
        self.count_disconnect();
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
    fn commit(&mut self, surface: &WlSurface) {
        let Some(buffer) = with_states(surface, |states| {
            match &states
                .cached_state
                .get::<SurfaceAttributes>()
                .current()
                .buffer
            {
                Some(BufferAssignment::NewBuffer(b)) => Some(b.clone()),
                _ => None,
            }
        }) else {
            return;
        };
        if let Ok(d) = smithay::wayland::dmabuf::get_dmabuf(&buffer) {
            use smithay::backend::allocator::Buffer;
            let seen = DmabufSeen {
                format: d.format().code as u32,
                modifier: u64::from(d.format().modifier),
                width: d.width() as i32,
                height: d.height() as i32,
                strides: d.strides().collect(),
                offsets: d.offsets().collect(),
                inode: d
                    .handles()
                    .next()
                    .and_then(|fd| rustix::fs::fstat(fd).ok())
                    .map(|st| st.st_ino)
                    .unwrap_or(0),
            };
            if let Ok(mut o) = self.observed.lock() {
                o.dmabuf = Some(seen);
            }
            buffer.release();
            return;
        }
        let result = render_output(&mut self.renderer, &buffer);
        buffer.release();
        if let Ok(mut o) = self.observed.lock() {
            match result {
                Ok(pixels) => o.output = Some(pixels),
                Err(e) => o.render_error = Some(e),
            }
        }
    }
}

impl BufferHandler for State {
    fn buffer_destroyed(&mut self, _buffer: &WlBuffer) {}
}

impl DmabufHandler for State {
    fn dmabuf_state(&mut self) -> &mut DmabufState {
        &mut self.dmabuf
    }
    fn dmabuf_imported(
        &mut self,
        _global: &DmabufGlobal,
        _dmabuf: Dmabuf,
        notifier: ImportNotifier,
    ) {
        notifier.failed();
    }
}

impl BufferCollectionHandler for State {
    fn buffer_collection_state(&mut self) -> &mut BufferCollectionState {
        &mut self.accord
    }
    fn renderer_formats(&self) -> Vec<FormatModifier> {
        self.renderer_formats.clone()
    }
    fn scanout_formats(&self, _surface: &WlSurface) -> Vec<FormatModifier> {
        self.config.scanout_pairs.to_vec()
    }
    fn confirm_scanout(
        &mut self,
        _surface: &WlSurface,
        decision: &accord_engine::Decision,
    ) -> accord_engine::Decision {
        if let Ok(mut o) = self.observed.lock() {
            o.confirm_calls.push(decision.clone());
        }
        match self.config.confirm {
            Some(confirm) => confirm(decision),
            None => decision.clone(),
        }
    }
}

/// Composite the surface's buffer at (0, 0) onto a black offscreen output
/// with Pixman and read the output back.
fn render_output(renderer: &mut PixmanRenderer, buffer: &WlBuffer) -> Result<Vec<u8>, String> {
    let texture = accord_smithay::import_memfd_buffer(renderer, buffer)
        .ok_or("not a memfd collection buffer")?
        .map_err(|e| format!("import: {e}"))?;
    let out = Rectangle::from_size(OUTPUT_SIZE.into());
    let mut target: Image<'static, 'static> = renderer
        .create_buffer(Fourcc::Argb8888, OUTPUT_SIZE.into())
        .map_err(|e| format!("offscreen: {e}"))?;
    let mut fb = renderer
        .bind(&mut target)
        .map_err(|e| format!("bind: {e}"))?;
    let mut frame = renderer
        .render(&mut fb, OUTPUT_SIZE.into(), Transform::Normal)
        .map_err(|e| format!("render: {e}"))?;
    frame
        .clear(Color32F::BLACK, &[out])
        .map_err(|e| format!("clear: {e}"))?;
    frame
        .render_texture_at(
            &texture,
            (0, 0).into(),
            1,
            1.0,
            Transform::Normal,
            &[out],
            &[],
            1.0,
        )
        .map_err(|e| format!("draw: {e}"))?;
    let sync = frame.finish().map_err(|e| format!("finish: {e}"))?;
    let _ = sync.wait(); // Pixman renders synchronously; nothing to wait for

    let mapping = renderer
        .copy_framebuffer(
            &fb,
            Rectangle::from_size(OUTPUT_SIZE.into()),
            Fourcc::Argb8888,
        )
        .map_err(|e| format!("read back: {e}"))?;
    let pixels = renderer
        .map_texture(&mapping)
        .map_err(|e| format!("map: {e}"))?;
    Ok(pixels.to_vec())
}

smithay::delegate_compositor!(State);
smithay::delegate_dmabuf!(State);
accord_smithay::delegate_buffer_collection!(State);

impl TestServer {
    /// Start a compositor whose renderer imports XRGB8888/ARGB8888 LINEAR
    /// (like Pixman).
    pub fn start() -> TestServer {
        Self::start_with(|| Box::new(MemfdBackend::new()))
    }

    /// Start with another allocator (built on the server thread).
    pub fn start_with(
        allocator: impl FnOnce() -> Box<dyn CollectionAllocator> + Send + 'static,
    ) -> TestServer {
        Self::start_configured(allocator, Config::default())
    }

    /// Start with a per-client quota in bytes (memfd allocator).
    pub fn start_with_quota(bytes: u64) -> TestServer {
        Self::start_config(Config {
            quota: Some(bytes),
            ..Config::default()
        })
    }

    /// Start with the memfd allocator and `config`.
    pub fn start_config(config: Config) -> TestServer {
        Self::start_configured(|| Box::new(MemfdBackend::new()), config)
    }

    /// Start with another allocator and `config`.
    pub fn start_configured(
        allocator: impl FnOnce() -> Box<dyn CollectionAllocator> + Send + 'static,
        config: Config,
    ) -> TestServer {
        let dir = RuntimeDir::new();
        let socket = dir.path().join("wayland-accord-test");
        let observed = Arc::new(Mutex::new(Observed::default()));
        let (tx, rx) = mpsc::channel();
        let path = socket.clone();
        let obs = observed.clone();
        let thread = std::thread::spawn(move || run_server(path, obs, tx, allocator(), config));
        let signal = rx.recv().expect("server thread started");
        TestServer {
            socket,
            observed,
            signal,
            thread: Some(thread),
            _dir: dir,
        }
    }

    /// A new client connection over the socket.
    pub fn connect(&self) -> wayland_client::Connection {
        let stream = UnixStream::connect(&self.socket).expect("connect to test compositor");
        wayland_client::Connection::from_socket(stream).expect("wayland connection")
    }

    /// A connection plus a clone of its socket: `shutdown` on the clone
    /// is an abrupt disconnect (no destroy requests reach the server).
    pub fn connect_killable(&self) -> (wayland_client::Connection, UnixStream) {
        let stream = UnixStream::connect(&self.socket).expect("connect to test compositor");
        let kill = stream.try_clone().expect("clone socket");
        let conn = wayland_client::Connection::from_socket(stream).expect("wayland connection");
        (conn, kill)
    }

    /// A new connection with the client library on it (keep the
    /// connection alive as long as the `Accord`).
    pub fn accord(&self) -> (wayland_client::Connection, accord_client::Accord) {
        let conn = self.connect();
        let accord = accord_client::Accord::new(&conn).expect("the accord global");
        (conn, accord)
    }

    /// Number of client disconnects the server has processed.
    pub fn disconnects(&self) -> usize {
        self.observed.lock().map(|o| o.disconnects).unwrap_or(0)
    }

    /// The last rendered output (see [`Observed::output`]), or why not.
    pub fn output(&self) -> Result<Vec<u8>, String> {
        let o = self.observed.lock().map_err(|e| e.to_string())?;
        match (&o.output, &o.render_error) {
            (Some(p), _) => Ok(p.clone()),
            (None, Some(e)) => Err(e.clone()),
            (None, None) => Err("nothing rendered".into()),
        }
    }

    /// The last dma-buf `wl_buffer` committed (see [`Observed::dmabuf`]).
    pub fn dmabuf_seen(&self) -> Option<DmabufSeen> {
        self.observed.lock().ok()?.dmabuf.clone()
    }

    /// Bytes the compositor holds in live allocations (all clients).
    pub fn charged_bytes(&self) -> u64 {
        self.observed
            .lock()
            .map(|o| o.charged_bytes)
            .unwrap_or(u64::MAX)
    }

    /// The decisions the module asked `confirm_scanout` about so far.
    pub fn confirm_calls(&self) -> Vec<accord_engine::Decision> {
        self.observed
            .lock()
            .map(|o| o.confirm_calls.clone())
            .unwrap_or_default()
    }

    /// Collections the compositor still negotiates.
    pub fn negotiating(&self) -> usize {
        self.observed
            .lock()
            .map(|o| o.negotiating)
            .unwrap_or(usize::MAX)
    }

    /// Wait (up to 5 s) until the compositor negotiates no collection.
    pub fn assert_no_collections_left(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while self.negotiating() != 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the compositor still negotiates {} collections",
                self.negotiating()
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    /// Wait (up to 5 s) until the compositor holds no allocated bytes.
    pub fn assert_no_bytes_held(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while self.charged_bytes() != 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the compositor still holds {} bytes of buffers",
                self.charged_bytes()
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    /// Wait (up to 5 s) until the server processed `n` disconnects.
    pub fn wait_disconnects(&self, n: usize) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while self.disconnects() < n {
            assert!(
                std::time::Instant::now() < deadline,
                "server did not see {n} disconnects"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.signal.stop();
        self.signal.wakeup();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run_server(
    path: PathBuf,
    observed: Arc<Mutex<Observed>>,
    started: mpsc::Sender<LoopSignal>,
    allocator: Box<dyn CollectionAllocator>,
    config: Config,
) {
    let mut event_loop: EventLoop<State> = EventLoop::try_new().expect("event loop");
    let display: Display<State> = Display::new().expect("display");
    let dh = display.handle();
    let listener = ListeningSocket::bind_absolute(path).expect("bind socket");
    let mut state = State {
        renderer: PixmanRenderer::new().expect("pixman renderer"),
        compositor: CompositorState::new::<State>(&dh),
        dmabuf: DmabufState::new(),
        accord: BufferCollectionState::new::<State>(&dh, allocator),
        renderer_formats: [XRGB8888, ARGB8888]
            .into_iter()
            .map(|format| FormatModifier {
                format,
                modifier: MOD_LINEAR,
                scanout: false,
            })
            .collect(),
        observed: observed.clone(),
        dh: dh.clone(),
        config,
    };
    if let Some(bytes) = config.quota {
        state.accord.set_client_quota(bytes);
    }
    if let Some(d) = config.handle_expiry {
        state.accord.set_handle_expiry(d);
    }
    if let Some(d) = config.stall_warning {
        state.accord.set_stall_warning(d);
    }
    let handle = event_loop.handle();
    BufferCollectionState::insert_expiry_timer(&handle).expect("expiry timer");
    handle
        .insert_source(
            Generic::new(listener, Interest::READ, Mode::Level),
            move |_, listener, state: &mut State| {
                while let Ok(Some(stream)) = listener.accept() {
                    let data = Arc::new(ClientState {
                        compositor: CompositorClientState::default(),
                        observed: state.observed.clone(),
                        gone: Default::default(),
                    });
                    let _ = state.dh.insert_client(stream, data);
                }
                Ok(PostAction::Continue)
            },
        )
        .expect("listen source");
    handle
        .insert_source(
            Generic::new(display, Interest::READ, Mode::Level),
            |_, display, state: &mut State| {
                // SAFETY: the display is not dropped while dispatching.
                unsafe {
                    let _ = display.get_mut().dispatch_clients(state);
                }
                Ok(PostAction::Continue)
            },
        )
        .expect("display source");
    started
        .send(event_loop.get_signal())
        .expect("test waits for the signal");
    let _ = event_loop.run(None, &mut state, |state| {
        // Observe before flushing, so a client that sees a reply also sees
        // the state that request left.
        let charged = state.accord.total_charged_bytes();
        let negotiating = state.accord.negotiating_collections();
        if let Ok(mut o) = state.observed.lock() {
            o.charged_bytes = charged;
            o.negotiating = negotiating;
        }
        let _ = state.dh.flush_clients();
    });
}

/// Exactly `w`x`h` XRGB8888 LINEAR, `count` buffers camped (memfd memory
/// is sparse, so even gigabytes cost nothing in tests).
pub fn xrgb_exact(w: u32, h: u32, count: u32) -> accord_client::Constraints {
    accord_client::Constraints::new()
        .format(XRGB8888, MOD_LINEAR)
        .min_size(w, h)
        .max_size(w, h)
        .buffers(count)
}

/// Fault injection on the host: a backend test double that allocates real
/// memfd buffers one at a time and fails at a chosen step, so tests can
/// check that the participants get clean `failed` events with the right
/// reason and that the module's ledger and fds go back to baseline. It
/// drops its own buffers on a fault, so it says nothing about a real
/// backend's cleanup: that is checked in the real-kernel tier, with the
/// fault injected inside the dumb and GBM backends themselves
/// (`tests/vm/src/faults.rs`: fds, dma-buf objects, GEM handles, ledger).
pub mod faults {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use accord_engine::Decision;
    use accord_smithay::backend::memfd::MemfdBackend;
    use accord_smithay::backend::{AllocError, AllocatedBuffer, CollectionAllocator, MemoryKind};

    /// Where the fixture fails.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Fault {
        /// ENOMEM when allocating buffer `k` (buffers `0..k` exist).
        OutOfMemoryAt(u32),
        /// The device disappears (ENODEV) when allocating buffer `k`.
        DeviceGoneAt(u32),
        /// Every buffer is allocated, but buffer `k` reports a stride below
        /// the negotiated layout: the module's layout check must refuse it.
        BadStrideAt(u32),
    }

    /// The fixture. `made` counts the buffers it really allocated.
    #[derive(Debug)]
    pub struct FaultyBackend {
        pub fault: Fault,
        pub made: Arc<AtomicUsize>,
    }

    impl FaultyBackend {
        pub fn new(fault: Fault) -> (FaultyBackend, Arc<AtomicUsize>) {
            let made = Arc::new(AtomicUsize::new(0));
            (
                FaultyBackend {
                    fault,
                    made: made.clone(),
                },
                made,
            )
        }
    }

    impl CollectionAllocator for FaultyBackend {
        fn name(&self) -> String {
            format!("faulty memfd ({:?}, test fixture)", self.fault)
        }
        fn memory_kind(&self) -> MemoryKind {
            MemoryKind::Memfd
        }
        fn allocate(&mut self, d: &Decision) -> Result<Vec<AllocatedBuffer>, AllocError> {
            let one = Decision {
                buffer_count: 1,
                ..d.clone()
            };
            let mut out = Vec::new();
            for i in 0..d.buffer_count {
                match self.fault {
                    Fault::OutOfMemoryAt(k) if k == i => {
                        return Err(AllocError::OutOfMemory(format!(
                            "ENOMEM on buffer {k} (injected)"
                        )))
                    }
                    Fault::DeviceGoneAt(k) if k == i => {
                        return Err(AllocError::DeviceLost(format!(
                            "ENODEV on buffer {k} (injected)"
                        )))
                    }
                    _ => {}
                }
                let mut b = MemfdBackend.allocate(&one)?;
                self.made.fetch_add(b.len(), Ordering::SeqCst);
                out.append(&mut b);
            }
            if let Fault::BadStrideAt(k) = self.fault {
                if let Some(b) = out.get_mut(k as usize) {
                    b.planes[0].stride = 1;
                }
            }
            Ok(out)
        }
    }
}

/// Abrupt endings on the raw socket of a connection.
pub mod abrupt {
    use std::io::IoSlice;
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;

    use rustix::net::{sendmsg, SendAncillaryBuffer, SendAncillaryMessage, SendFlags};

    /// Send the first bytes of a request (a header announcing `size` bytes
    /// from object `object`, opcode `opcode`, then fewer bytes than that),
    /// optionally with an fd attached, and close: the compositor sees a
    /// message cut in the middle. The caller flushes its connection first.
    pub fn partial_message(socket: UnixStream, object: u32, opcode: u16, with_fd: bool) {
        let size: u32 = 32;
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&object.to_ne_bytes());
        bytes.extend_from_slice(&((size << 16) | u32::from(opcode)).to_ne_bytes());
        bytes.extend_from_slice(&7u32.to_ne_bytes()); // 12 of 32 bytes
        let iov = [IoSlice::new(&bytes)];
        if with_fd {
            let fd = rustix::fs::memfd_create("accord-partial", rustix::fs::MemfdFlags::CLOEXEC);
            if let Ok(fd) = fd {
                let fds = [fd.as_fd()];
                let mut space =
                    [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
                let mut anc = SendAncillaryBuffer::new(&mut space);
                anc.push(SendAncillaryMessage::ScmRights(&fds));
                let _ = sendmsg(&socket, &iov, &mut anc, SendFlags::NOSIGNAL);
            }
        } else {
            let _ = sendmsg(
                &socket,
                &iov,
                &mut SendAncillaryBuffer::default(),
                SendFlags::NOSIGNAL,
            );
        }
        let _ = socket.shutdown(std::net::Shutdown::Both);
    }
}

/// A client speaking the raw protocol (for misuse tests the library would
/// never send).
pub mod raw {
    use std::collections::HashMap;

    use accord_protocol::client::wp_buffer_collection_manager_v1::WpBufferCollectionManagerV1;
    use accord_protocol::client::wp_buffer_collection_token_v1::{
        self as token, WpBufferCollectionTokenV1,
    };
    use accord_protocol::client::wp_buffer_collection_v1::{self as coll, WpBufferCollectionV1};
    use wayland_client::backend::ObjectId;
    use wayland_client::globals::{registry_queue_init, GlobalListContents};
    use wayland_client::protocol::{wl_buffer, wl_registry};
    use wayland_client::{Connection, Dispatch, EventQueue, Proxy, QueueHandle};

    /// Events seen, keyed by object.
    #[derive(Debug, Default)]
    pub struct Events {
        pub handles: HashMap<ObjectId, String>,
        pub token_failed: HashMap<ObjectId, (u32, String)>,
        pub allocated: HashMap<ObjectId, u32>,
        pub failed: HashMap<ObjectId, (u32, String)>,
    }

    pub struct RawClient {
        pub conn: Connection,
        pub queue: EventQueue<Events>,
        pub qh: QueueHandle<Events>,
        pub manager: WpBufferCollectionManagerV1,
        pub globals: wayland_client::globals::GlobalList,
        pub events: Events,
    }

    impl Drop for RawClient {
        fn drop(&mut self) {
            // wayland-client leaks the fds of events still queued when an
            // EventQueue is dropped: dispatch them so they close.
            let _ = self.queue.dispatch_pending(&mut self.events);
        }
    }

    impl RawClient {
        pub fn new(conn: Connection) -> RawClient {
            let (globals, queue) = registry_queue_init::<Events>(&conn).expect("registry");
            let qh = queue.handle();
            let manager = globals.bind(&qh, 1..=1, ()).expect("accord global");
            RawClient {
                conn,
                queue,
                qh,
                manager,
                globals,
                events: Events::default(),
            }
        }

        pub fn create(&self) -> WpBufferCollectionTokenV1 {
            self.manager.create_collection(&self.qh, ())
        }

        /// Roundtrip; `Err` carries the protocol error (code, message).
        pub fn roundtrip(&mut self) -> Result<(), (u32, String)> {
            match self.queue.roundtrip(&mut self.events) {
                Ok(_) => Ok(()),
                Err(e) => Err(self
                    .conn
                    .protocol_error()
                    .map(|p| (p.code, p.message))
                    .unwrap_or((u32::MAX, e.to_string()))),
            }
        }

        /// Roundtrip that must fail with a protocol error.
        pub fn expect_error(&mut self) -> (u32, String) {
            // Two roundtrips: the error may follow the first reply.
            for _ in 0..2 {
                if let Err(e) = self.roundtrip() {
                    return e;
                }
            }
            panic!("expected a protocol error, the compositor accepted the request");
        }

        pub fn export(&mut self, t: &WpBufferCollectionTokenV1) -> String {
            t.export();
            self.roundtrip().expect("export");
            self.events
                .handles
                .get(&t.id())
                .cloned()
                .expect("handle event")
        }

        /// Bind and commit XRGB8888 LINEAR, at least 16x8.
        pub fn bind_commit(&mut self, t: &WpBufferCollectionTokenV1) -> WpBufferCollectionV1 {
            let c = t.bind(&self.qh, ());
            let mut pair = super::XRGB8888.to_ne_bytes().to_vec();
            pair.extend_from_slice(&0u32.to_ne_bytes());
            pair.extend_from_slice(&accord_engine::MOD_LINEAR.to_ne_bytes());
            c.add_formats(pair);
            c.set_size_range(16, 8, 0, 0);
            c.commit();
            c
        }
    }

    /// A `wl_surface` from the compositor's `wl_compositor`.
    pub fn surface(c: &mut RawClient) -> wayland_client::protocol::wl_surface::WlSurface {
        let compositor: wayland_client::protocol::wl_compositor::WlCompositor =
            c.globals.bind(&c.qh, 1..=4, ()).expect("wl_compositor");
        compositor.create_surface(&c.qh, ())
    }

    impl Dispatch<wayland_client::protocol::wl_compositor::WlCompositor, ()> for Events {
        fn event(
            _: &mut Self,
            _: &wayland_client::protocol::wl_compositor::WlCompositor,
            _: wayland_client::protocol::wl_compositor::Event,
            _: &(),
            _: &Connection,
            _: &QueueHandle<Self>,
        ) {
        }
    }
    impl Dispatch<wayland_client::protocol::wl_surface::WlSurface, ()> for Events {
        fn event(
            _: &mut Self,
            _: &wayland_client::protocol::wl_surface::WlSurface,
            _: wayland_client::protocol::wl_surface::Event,
            _: &(),
            _: &Connection,
            _: &QueueHandle<Self>,
        ) {
        }
    }

    wayland_client::delegate_dispatch!(Events: [
        wl_registry::WlRegistry: GlobalListContents
    ] => accord_client::IgnoreRegistry);
    wayland_client::delegate_noop!(Events: ignore WpBufferCollectionManagerV1);
    impl Dispatch<WpBufferCollectionTokenV1, ()> for Events {
        fn event(
            ev: &mut Self,
            t: &WpBufferCollectionTokenV1,
            e: token::Event,
            _: &(),
            _: &Connection,
            _: &QueueHandle<Self>,
        ) {
            match e {
                token::Event::Handle { handle } => {
                    ev.handles.insert(t.id(), handle);
                }
                token::Event::Failed { reason, message } => {
                    ev.token_failed.insert(t.id(), (u32::from(reason), message));
                }
                _ => {}
            }
        }
    }
    impl Dispatch<WpBufferCollectionV1, ()> for Events {
        fn event(
            ev: &mut Self,
            c: &WpBufferCollectionV1,
            e: coll::Event,
            _: &(),
            _: &Connection,
            _: &QueueHandle<Self>,
        ) {
            match e {
                coll::Event::Settings { buffer_count, .. } => {
                    ev.allocated.insert(c.id(), buffer_count);
                }
                coll::Event::Failed { reason, message } => {
                    ev.failed.insert(c.id(), (u32::from(reason), message));
                }
                _ => {}
            }
        }
    }
    // wl_buffer events (release) are not tracked on this queue.
    wayland_client::delegate_noop!(Events: ignore wl_buffer::WlBuffer);
}
