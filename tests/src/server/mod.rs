//! The test server: the in-process compositor ([`compositor`]) run on its
//! own thread behind a real socket in a temporary runtime directory,
//! started with one builder ([`TestServer::builder`]); client connections
//! to it; what it observed, read from the test thread; and the waits on
//! its state.

pub mod compositor;

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use accord_engine::{Decision, FormatModifier};
use accord_smithay::backend::memfd::MemfdBackend;
use accord_smithay::backend::{CollectionAllocator, Placements};
use accord_smithay::BufferCollectionState;
use smithay::reexports::calloop::channel;
use smithay::reexports::calloop::generic::Generic;
use smithay::reexports::calloop::{EventLoop, Interest, LoopSignal, Mode, PostAction};
use smithay::reexports::wayland_server::{Display, ListeningSocket};

use crate::waiting::eventually;
pub use compositor::{Compositor, Config, DmabufSeen, Observed};

/// A call [`TestServer::on_compositor`] runs on the server thread.
type CompositorCall = Box<dyn FnOnce(&mut Compositor) + Send>;

/// How long the server's waits (`wait_disconnects`, `assert_no_*`) wait.
pub const WAIT: Duration = Duration::from_secs(5);

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

/// Builds the placements on the server thread.
type MakeAllocator = Box<dyn FnOnce() -> Placements + Send>;

/// How to start a [`TestServer`]: the memfd allocator and the module's
/// defaults unless told otherwise.
pub struct TestServerBuilder {
    allocator: MakeAllocator,
    config: Config,
}

impl TestServerBuilder {
    /// Allocate with another allocator (built on the server thread).
    pub fn allocator(
        mut self,
        make: impl FnOnce() -> Box<dyn CollectionAllocator> + Send + 'static,
    ) -> Self {
        self.allocator = Box::new(move || Placements::from(make()));
        self
    }

    /// Allocate on a set of placements (built on the server thread),
    /// ranked per collection by the engine.
    pub fn placements(mut self, make: impl FnOnce() -> Placements + Send + 'static) -> Self {
        self.allocator = Box::new(make);
        self
    }

    /// Per-client quota in bytes (default 1 GiB).
    pub fn quota(mut self, bytes: u64) -> Self {
        self.config.quota = Some(bytes);
        self
    }

    /// Handle expiry (default 60 s).
    pub fn handle_expiry(mut self, expiry: Duration) -> Self {
        self.config.handle_expiry = Some(expiry);
        self
    }

    /// What each client (here: each connection) may hold.
    pub fn budgets(mut self, budgets: accord_smithay::collections::Budgets) -> Self {
        self.config.budgets = Some(budgets);
        self
    }

    /// Buffer fds the module may hold, every client together.
    pub fn max_buffer_fds(mut self, n: u64) -> Self {
        self.config.max_buffer_fds = Some(n);
        self
    }

    /// Pending handles the module holds at most, every client together
    /// (default 16,384).
    pub fn max_pending_handles(mut self, n: usize) -> Self {
        self.config.max_pending_handles = Some(n);
        self
    }

    /// How long a weak participant may keep its collection after
    /// `close_weak_asap` (default 5 s).
    pub fn weak_release_timeout(mut self, timeout: Duration) -> Self {
        self.config.weak_release_timeout = Some(timeout);
        self
    }

    /// Stall warning threshold (default 5 s).
    pub fn stall_warning(mut self, after: Duration) -> Self {
        self.config.stall_warning = Some(after);
        self
    }

    /// Pairs a surface's display "scans out" (default none: composition
    /// only).
    pub fn scanout_pairs(mut self, pairs: &'static [FormatModifier]) -> Self {
        self.config.scanout_pairs = pairs;
        self
    }

    /// The `confirm_scanout` hook (a fixture standing in for a display's
    /// `TEST_ONLY`; default: the module's, no confirmation).
    pub fn confirm(mut self, confirm: fn(&Decision) -> Decision) -> Self {
        self.config.confirm = Some(confirm);
        self
    }

    /// Shortest time between two generations of a collection (default
    /// 100 ms).
    pub fn min_generation_interval(mut self, interval: Duration) -> Self {
        self.config.min_generation_interval = Some(interval);
        self
    }

    /// Leave `BufferHandler::buffer_destroyed` empty, like an embedder that
    /// forgot to call `wl_buffer_destroyed` (default: it calls it).
    pub fn forget_buffer_destroyed(mut self) -> Self {
        self.config.forget_buffer_destroyed = true;
        self
    }

    /// Start the server thread; returns once it listens.
    pub fn start(self) -> TestServer {
        let dir = RuntimeDir::new();
        let socket = dir.path().join("wayland-accord-test");
        let observed = Arc::new(Mutex::new(Observed::default()));
        let (tx, rx) = mpsc::channel();
        let path = socket.clone();
        let obs = observed.clone();
        let TestServerBuilder { allocator, config } = self;
        let thread = std::thread::spawn(move || run_server(path, obs, tx, allocator(), config));
        let (signal, calls) = rx.recv().expect("server thread started");
        TestServer {
            socket,
            observed,
            signal,
            calls,
            thread: Some(thread),
            _dir: dir,
        }
    }
}

/// The in-process compositor. Stops and joins on drop.
pub struct TestServer {
    pub socket: PathBuf,
    pub observed: Arc<Mutex<Observed>>,
    signal: LoopSignal,
    calls: channel::Sender<CompositorCall>,
    thread: Option<JoinHandle<()>>,
    _dir: RuntimeDir,
}

impl TestServer {
    /// How to start one with other settings.
    pub fn builder() -> TestServerBuilder {
        TestServerBuilder {
            allocator: Box::new(|| {
                Placements::from(Box::new(MemfdBackend::new()) as Box<dyn CollectionAllocator>)
            }),
            config: Config::default(),
        }
    }

    /// Start one with the memfd allocator and the module's defaults
    /// (`TestServer::builder().start()`).
    pub fn start() -> TestServer {
        Self::builder().start()
    }

    /// A new client connection over the socket.
    pub fn connect(&self) -> wayland_client::Connection {
        let stream = UnixStream::connect(&self.socket).expect("connect to test compositor");
        wayland_client::Connection::from_socket(stream).expect("wayland connection")
    }

    /// A connection plus a clone of its socket, to end abruptly
    /// ([`crate::abrupt::killable`]).
    pub fn connect_killable(&self) -> (wayland_client::Connection, UnixStream) {
        crate::abrupt::killable(&self.socket)
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

    /// Waits (5 s at most) until the compositor charges exactly `want`
    /// bytes; otherwise fails the test, saying `what` was expected.
    #[track_caller]
    pub fn wait_charged(&self, want: u64, what: &str) {
        crate::waiting::eventually(std::time::Duration::from_secs(5), what, || {
            match self.charged_bytes() {
                n if n == want => Ok(()),
                n => Err(format!("{n} bytes charged, want {want}")),
            }
        });
    }

    /// Bytes held per backend, every client together (the module's
    /// `backend_usage`), after the last dispatch.
    pub fn backend_bytes(&self) -> Vec<(String, u64)> {
        self.observed
            .lock()
            .map(|o| o.backend_bytes.clone())
            .unwrap_or_default()
    }

    /// The module's `ledger_dump` after the last dispatch.
    pub fn ledger_dump(&self) -> String {
        self.observed
            .lock()
            .map(|o| o.ledger_dump.clone())
            .unwrap_or_default()
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

    /// Wait (up to [`WAIT`]) until the compositor negotiates no
    /// collection.
    #[track_caller]
    pub fn assert_no_collections_left(&self) {
        eventually(WAIT, "collections left", || match self.negotiating() {
            0 => Ok(()),
            n => Err(format!("the compositor still negotiates {n} collections")),
        })
    }

    /// Wait (up to [`WAIT`]) until the compositor holds no allocated bytes.
    #[track_caller]
    pub fn assert_no_bytes_held(&self) {
        eventually(WAIT, "bytes held", || match self.charged_bytes() {
            0 => Ok(()),
            n => Err(format!("the compositor still holds {n} bytes of buffers")),
        })
    }

    /// Run `f` on the compositor's thread, between two dispatches, and
    /// return its result: how a test plays the embedder (say, a surface
    /// going fullscreen: `BufferCollectionState::surface_changed`).
    pub fn on_compositor<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Compositor) -> R + Send + 'static,
    ) -> R {
        let (tx, rx) = mpsc::channel();
        self.calls
            .send(Box::new(move |c: &mut Compositor| {
                let _ = tx.send(f(c));
            }))
            .expect("the server thread runs");
        rx.recv().expect("the call ran")
    }

    /// Wait (up to [`WAIT`]) until the server processed `n` disconnects.
    #[track_caller]
    pub fn wait_disconnects(&self, n: usize) {
        eventually(
            WAIT,
            format!("server did not see {n} disconnects"),
            || match self.disconnects() {
                seen if seen >= n => Ok(()),
                seen => Err(format!("{seen} seen")),
            },
        )
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

/// The server thread: the compositor on a calloop event loop, accepting
/// clients on `path`; sends the loop's signal once it listens.
fn run_server(
    path: PathBuf,
    observed: Arc<Mutex<Observed>>,
    started: mpsc::Sender<(LoopSignal, channel::Sender<CompositorCall>)>,
    allocator: Placements,
    config: Config,
) {
    let mut event_loop: EventLoop<Compositor> = EventLoop::try_new().expect("event loop");
    let display: Display<Compositor> = Display::new().expect("display");
    let dh = display.handle();
    let listener = ListeningSocket::bind_absolute(path).expect("bind socket");
    let mut state = Compositor::new(&dh, allocator, config, observed);
    let handle = event_loop.handle();
    BufferCollectionState::insert_expiry_timer(&handle).expect("expiry timer");
    let mut clients = dh.clone();
    handle
        .insert_source(
            Generic::new(listener, Interest::READ, Mode::Level),
            move |_, listener, state: &mut Compositor| {
                while let Ok(Some(stream)) = listener.accept() {
                    let _ = clients.insert_client(stream, state.client_data());
                }
                Ok(PostAction::Continue)
            },
        )
        .expect("listen source");
    handle
        .insert_source(
            Generic::new(display, Interest::READ, Mode::Level),
            |_, display, state: &mut Compositor| {
                // SAFETY: the display is not dropped while dispatching.
                unsafe {
                    let _ = display.get_mut().dispatch_clients(state);
                }
                Ok(PostAction::Continue)
            },
        )
        .expect("display source");
    let (calls, call_source) = channel::channel::<CompositorCall>();
    handle
        .insert_source(call_source, |event, _, state: &mut Compositor| {
            if let channel::Event::Msg(call) = event {
                call(state);
                state.observe();
            }
        })
        .expect("call source");
    started
        .send((event_loop.get_signal(), calls))
        .expect("test waits for the signal");
    let mut dh = dh;
    let _ = event_loop.run(None, &mut state, |state| {
        state.observe();
        let _ = dh.flush_clients();
    });
}
