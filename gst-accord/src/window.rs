//! The sink's window: one Wayland connection, an `xdg_toplevel`, and a
//! thread that dispatches the window's event queue.
//!
//! Why a thread: a frame the compositor shows stays in its hands until it
//! sends `wl_buffer.release`. Until then the sink holds a reference to the
//! `GstBuffer`, so the pool cannot hand that buffer to upstream (which
//! would write into a picture on screen). Upstream waits in the pool for
//! a free buffer while the streaming thread, the one that would otherwise
//! read the socket, is blocked in upstream: so the releases are dispatched
//! here, by a thread of the window's own, and each one drops the sink's
//! reference, which returns the buffer to its pool.
//!
//! The Accord library's objects (its own event queue) are used by the
//! streaming thread ([`crate::negotiator`]); the `wl_buffer`s it makes are
//! created on this window's queue
//! ([`accord_client::Collection::generation_wl_buffer_on`]), so their
//! releases arrive here. Both read the same socket: wayland-client lets
//! several threads read, each queue getting its own events.
//!
//! When upstream asked for padding around the picture, the buffers are
//! larger than the picture: a `wp_viewport` crops the padding off (its
//! source is the picture's rectangle, its destination the picture's
//! size), so the surface shows the picture alone.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use wayland_client::globals::{registry_queue_init, GlobalListContents};
use wayland_client::protocol::{wl_buffer, wl_compositor, wl_registry, wl_surface};
use wayland_client::{Connection, Dispatch, EventQueue, QueueHandle};
use wayland_protocols::wp::viewporter::client::{wp_viewport, wp_viewporter};
use wayland_protocols::xdg::shell::client::{xdg_surface, xdg_toplevel, xdg_wm_base};

/// Which collection buffer a `wl_buffer` shows: its generation and index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BufferKey {
    /// The collection generation (1, then one more per renegotiation).
    pub generation: u32,
    /// The buffer's index in that generation.
    pub index: u32,
}

/// What the window thread and the streaming thread share.
#[derive(Default)]
struct Shared {
    /// The first `xdg_surface.configure` was acked.
    configured: bool,
    /// The size the last `xdg_toplevel.configure` suggested (0 = ours).
    suggested: (i32, i32),
    /// The user closed the window.
    closed: bool,
    /// Buffers the compositor holds (attached, not yet released), with
    /// the sink's reference that keeps them out of the pool.
    held: HashMap<BufferKey, gst::Buffer>,
    /// Releases seen so far (for the element's statistics).
    releases: u64,
}

/// Locks `m`, recovering the data if a thread panicked while holding it
/// (the state stays consistent: every update is a single assignment).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether the window thread may read the socket (see the module docs).
#[derive(Default)]
struct Gate {
    paused: bool,
    /// The thread is between preparing a read and finishing it.
    reading: bool,
}

/// Holds the window thread's reads paused; dropping it resumes them.
pub struct ReadPause<'a>(&'a (Mutex<Gate>, Condvar));

impl Drop for ReadPause<'_> {
    fn drop(&mut self) {
        lock(&self.0 .0).paused = false;
        self.0 .1.notify_all();
    }
}

/// The dispatch state of the window's queue.
pub struct WindowState {
    shared: Arc<(Mutex<Shared>, Condvar)>,
}

/// The part of a buffer that is the picture: where it starts and its
/// size, in buffer pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Crop {
    /// The buffer's size (the picture and its padding).
    pub coded: (u32, u32),
    /// The picture's top-left corner in the buffer.
    pub origin: (u32, u32),
    /// The picture's size.
    pub picture: (u32, u32),
}

impl Crop {
    fn whole(&self) -> bool {
        self.origin == (0, 0) && self.coded == self.picture
    }
}

/// The sink's connection and toplevel.
pub struct Window {
    conn: Connection,
    qh: QueueHandle<WindowState>,
    surface: wl_surface::WlSurface,
    /// The surface's viewport, when the compositor has `wp_viewporter`.
    viewport: Option<wp_viewport::WpViewport>,
    /// The crop last set on the viewport (`None`: none set).
    crop: Mutex<Option<Crop>>,
    toplevel: xdg_toplevel::XdgToplevel,
    xdg_surface: xdg_surface::XdgSurface,
    shared: Arc<(Mutex<Shared>, Condvar)>,
    gate: Arc<(Mutex<Gate>, Condvar)>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// How long [`Window::open`] waits for the compositor's first configure.
const CONFIGURE_TIMEOUT: Duration = Duration::from_secs(5);

impl Window {
    /// Connects to `$WAYLAND_DISPLAY`, binds the Accord global, opens a
    /// toplevel (fullscreen when asked), starts the event thread and waits
    /// for the toplevel's first configure.
    ///
    /// The Accord library is bound here, before the thread starts:
    /// binding does a `Connection::roundtrip`, which decides whether its
    /// answer came only after reading the socket itself, so if the window
    /// thread read the answer first it would wait for data that never
    /// comes. The library's later waits are on its own event queue, which
    /// sees events another thread read.
    pub fn open(title: &str, fullscreen: bool) -> Result<(Window, accord_client::Accord), String> {
        let conn = Connection::connect_to_env()
            .map_err(|e| format!("cannot connect to the Wayland compositor: {e}"))?;
        let (globals, queue): (_, EventQueue<WindowState>) =
            registry_queue_init(&conn).map_err(|e| format!("wl_registry: {e}"))?;
        let qh = queue.handle();
        let compositor: wl_compositor::WlCompositor = globals
            .bind(&qh, 1..=4, ())
            .map_err(|e| format!("wl_compositor: {e}"))?;
        let wm_base: xdg_wm_base::XdgWmBase = globals
            .bind(&qh, 1..=3, ())
            .map_err(|e| format!("xdg_wm_base: {e}"))?;
        let accord = accord_client::Accord::new(&conn).map_err(|e| format!("Accord: {e}"))?;
        let surface = compositor.create_surface(&qh, ());
        // Optional: without it, padded buffers are shown with their padding.
        let viewport = globals
            .bind::<wp_viewporter::WpViewporter, _, _>(&qh, 1..=1, ())
            .ok()
            .map(|v| v.get_viewport(&surface, &qh, ()));
        let xdg_surface = wm_base.get_xdg_surface(&surface, &qh, ());
        let toplevel = xdg_surface.get_toplevel(&qh, ());
        toplevel.set_title(title.to_owned());
        toplevel.set_app_id("accordsink".to_owned());
        if fullscreen {
            toplevel.set_fullscreen(None);
        }
        surface.commit();
        conn.flush().map_err(|e| format!("flush: {e}"))?;

        let shared = Arc::new((Mutex::new(Shared::default()), Condvar::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let gate = Arc::new((Mutex::new(Gate::default()), Condvar::new()));
        let thread = {
            let state = WindowState {
                shared: shared.clone(),
            };
            let stop = stop.clone();
            let conn = conn.clone();
            let gate = gate.clone();
            std::thread::Builder::new()
                .name("accordsink-wl".into())
                .spawn(move || event_thread(conn, queue, state, &gate, stop))
                .map_err(|e| format!("cannot start the window thread: {e}"))?
        };
        let window = Window {
            conn,
            qh,
            surface,
            viewport,
            crop: Mutex::new(None),
            toplevel,
            xdg_surface,
            shared,
            gate,
            stop,
            thread: Some(thread),
        };
        window.wait_configured()?;
        // The xdg_wm_base object lives on without this handle: its pings
        // are answered in the thread.
        drop(wm_base);
        Ok((window, accord))
    }

    fn wait_configured(&self) -> Result<(), String> {
        let (m, cv) = &*self.shared;
        let deadline = Instant::now() + CONFIGURE_TIMEOUT;
        let mut st = lock(m);
        while !st.configured {
            if st.closed {
                return Err(
                    "the Wayland connection failed before the window was configured".into(),
                );
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!(
                    "the compositor did not configure the window within {CONFIGURE_TIMEOUT:?}"
                ));
            }
            st = cv
                .wait_timeout(st, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        Ok(())
    }

    /// Pauses the window thread's socket reads until the returned guard
    /// is dropped: hold it while the Accord library blocks for an answer.
    pub fn pause_reading(&self) -> ReadPause<'_> {
        let (m, cv) = &*self.gate;
        let mut g = lock(m);
        g.paused = true;
        while g.reading {
            g = cv.wait(g).unwrap_or_else(|e| e.into_inner());
        }
        ReadPause(&self.gate)
    }

    /// The window's surface (the compositor joins collections for it).
    pub fn surface(&self) -> &wl_surface::WlSurface {
        &self.surface
    }

    /// The queue `wl_buffer`s are made on, so their releases come here.
    pub fn queue_handle(&self) -> &QueueHandle<WindowState> {
        &self.qh
    }

    /// Shows `wl_buffer` (collection buffer `key`, whose picture is
    /// `crop`) and keeps `buffer` referenced until the compositor
    /// releases it.
    pub fn present(
        &self,
        wl_buffer: &wl_buffer::WlBuffer,
        key: BufferKey,
        buffer: gst::Buffer,
        crop: Crop,
    ) -> Result<(), String> {
        // A buffer attached twice without a release in between is still
        // held once: the pool cannot have handed it out again meanwhile.
        let previous = lock(&self.shared.0).held.insert(key, buffer);
        drop(previous);
        self.set_crop(crop)?;
        self.surface.attach(Some(wl_buffer), 0, 0);
        let (width, height) = (crop.coded.0 as i32, crop.coded.1 as i32);
        self.surface.damage_buffer(0, 0, width, height);
        self.surface.commit();
        self.conn
            .flush()
            .map_err(|e| format!("Wayland connection lost: {e}"))
    }

    /// Sets the viewport for `crop` when it changed (double-buffered
    /// state: it applies with the next commit, with the buffer).
    fn set_crop(&self, crop: Crop) -> Result<(), String> {
        let mut last = lock(&self.crop);
        if *last == Some(crop) || (last.is_none() && crop.whole()) {
            return Ok(());
        }
        let Some(viewport) = &self.viewport else {
            // Shown with its padding (the sink warns: `can_crop`).
            *last = Some(crop);
            return Ok(());
        };
        if crop.whole() {
            // All -1: no crop, no scaling.
            viewport.set_source(-1.0, -1.0, -1.0, -1.0);
            viewport.set_destination(-1, -1);
        } else {
            viewport.set_source(
                f64::from(crop.origin.0),
                f64::from(crop.origin.1),
                f64::from(crop.picture.0),
                f64::from(crop.picture.1),
            );
            viewport.set_destination(crop.picture.0 as i32, crop.picture.1 as i32);
        }
        *last = Some(crop);
        Ok(())
    }

    /// Whether padding can be cropped off (the compositor has
    /// `wp_viewporter`).
    pub fn can_crop(&self) -> bool {
        self.viewport.is_some()
    }

    /// How many buffers of `generation` the compositor still holds.
    pub fn held_in(&self, generation: u32) -> usize {
        lock(&self.shared.0)
            .held
            .keys()
            .filter(|k| k.generation == generation)
            .count()
    }

    /// `wl_buffer.release` events received.
    pub fn releases(&self) -> u64 {
        lock(&self.shared.0).releases
    }

    /// Whether the user closed the window.
    pub fn closed(&self) -> bool {
        lock(&self.shared.0).closed
    }

    /// Asks for (or leaves) fullscreen.
    pub fn set_fullscreen(&self, on: bool) {
        if on {
            self.toplevel.set_fullscreen(None);
        } else {
            self.toplevel.unset_fullscreen();
        }
        let _ = self.conn.flush();
    }

    /// Detaches the picture (the compositor then releases what it holds).
    pub fn clear(&self) {
        self.surface.attach(None, 0, 0);
        self.surface.commit();
        let _ = self.conn.flush();
    }
}

impl Drop for Window {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // Buffers still on screen go back to their pools now: the
        // compositor drops our surface with the connection.
        let held = std::mem::take(&mut lock(&self.shared.0).held);
        drop(held);
        if let Some(v) = &self.viewport {
            v.destroy();
        }
        self.toplevel.destroy();
        self.xdg_surface.destroy();
        self.surface.destroy();
        let _ = self.conn.flush();
    }
}

/// How long one poll of the socket lasts before the stop flag is checked.
const POLL_SLICE: Duration = Duration::from_millis(50);

/// Dispatches the window's queue until `stop` (or the connection fails).
fn event_thread(
    conn: Connection,
    mut queue: EventQueue<WindowState>,
    mut state: WindowState,
    gate: &(Mutex<Gate>, Condvar),
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::Relaxed) {
        if queue.dispatch_pending(&mut state).is_err() {
            break;
        }
        let _ = conn.flush();
        {
            let mut g = lock(&gate.0);
            while g.paused && !stop.load(Ordering::Relaxed) {
                g = gate
                    .1
                    .wait_timeout(g, POLL_SLICE)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            g.reading = true;
        }
        let ok = read_once(&queue);
        lock(&gate.0).reading = false;
        gate.1.notify_all();
        if !ok {
            break;
        }
    }
    // A failed connection closes the window.
    if !stop.load(Ordering::Relaxed) {
        let (m, cv) = &*state.shared;
        lock(m).closed = true;
        cv.notify_all();
    }
}

/// One read of the socket, waiting at most [`POLL_SLICE`]: `false` when
/// the connection failed.
fn read_once(queue: &EventQueue<WindowState>) -> bool {
    let Some(guard) = queue.prepare_read() else {
        return true; // events arrived meanwhile: dispatch them first
    };
    let fd = guard.connection_fd();
    let mut fds = [rustix::event::PollFd::new(
        &fd,
        rustix::event::PollFlags::IN,
    )];
    let timeout = rustix::event::Timespec {
        tv_sec: 0,
        tv_nsec: POLL_SLICE.as_nanos() as i64,
    };
    match rustix::event::poll(&mut fds, Some(&timeout)) {
        Ok(n) if n > 0 => {
            if let Err(e) = guard.read() {
                if !matches!(e, wayland_client::backend::WaylandError::Io(ref io)
                        if io.kind() == std::io::ErrorKind::WouldBlock)
                {
                    return false;
                }
            }
        }
        Ok(_) => drop(guard),
        Err(rustix::io::Errno::INTR) => drop(guard),
        Err(_) => return false,
    }
    true
}

impl Dispatch<wl_registry::WlRegistry, GlobalListContents> for WindowState {
    fn event(
        _: &mut Self,
        _: &wl_registry::WlRegistry,
        _: wl_registry::Event,
        _: &GlobalListContents,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

wayland_client::delegate_noop!(WindowState: ignore wl_compositor::WlCompositor);
wayland_client::delegate_noop!(WindowState: ignore wl_surface::WlSurface);
wayland_client::delegate_noop!(WindowState: wp_viewporter::WpViewporter);
wayland_client::delegate_noop!(WindowState: wp_viewport::WpViewport);

impl Dispatch<xdg_wm_base::XdgWmBase, ()> for WindowState {
    fn event(
        _: &mut Self,
        wm: &xdg_wm_base::XdgWmBase,
        event: xdg_wm_base::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_wm_base::Event::Ping { serial } = event {
            wm.pong(serial);
        }
    }
}

impl Dispatch<xdg_surface::XdgSurface, ()> for WindowState {
    fn event(
        state: &mut Self,
        surface: &xdg_surface::XdgSurface,
        event: xdg_surface::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_surface::Event::Configure { serial } = event {
            surface.ack_configure(serial);
            let (m, cv) = &*state.shared;
            lock(m).configured = true;
            cv.notify_all();
        }
    }
}

impl Dispatch<xdg_toplevel::XdgToplevel, ()> for WindowState {
    fn event(
        state: &mut Self,
        _: &xdg_toplevel::XdgToplevel,
        event: xdg_toplevel::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let mut st = lock(&state.shared.0);
        match event {
            xdg_toplevel::Event::Configure { width, height, .. } => st.suggested = (width, height),
            xdg_toplevel::Event::Close => st.closed = true,
            _ => {}
        }
    }
}

/// A release returns the buffer to its pool: the reference is dropped
/// after the lock is let go (returning it may wake upstream).
impl Dispatch<wl_buffer::WlBuffer, BufferKey> for WindowState {
    fn event(
        state: &mut Self,
        _: &wl_buffer::WlBuffer,
        event: wl_buffer::Event,
        key: &BufferKey,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wl_buffer::Event::Release = event {
            let released = {
                let mut st = lock(&state.shared.0);
                st.releases += 1;
                st.held.remove(key)
            };
            drop(released);
        }
    }
}
