//! The reference compositor: Smithay 0.7, a Pixman or GLES renderer, one
//! output headless, one per connected connector on KMS.
//! output.
//!
//! Run it as a process (`accord-compositor`) or in-process with [`spawn`],
//! which runs the event loop on its own thread and hands back a [`Running`]
//! with the socket name, live [`Counters`] and pixel read-back.
//!
//! Layout: `state.rs` holds the protocol states and the scene, `handlers.rs`
//! the Smithay handler impls, `render.rs` the frame, `target.rs` the
//! rendering-target trait with `headless.rs` its offscreen implementation,
//! `drm.rs` the KMS one (with `drm_export.rs`, client dma-bufs as
//! framebuffers, and `drm_readback.rs`, reading what a plane scans out),
//! `dmabuf_params.rs` linux-dmabuf's buffer parameters (implicit modifiers),
//! `presentation.rs` presentation feedback and frame callbacks from the
//! repaint that showed a commit, `fullscreen.rs` how each toplevel is shown
//! (what the Accord participant offers for it, and renegotiation when that
//! changes),
//! `socket.rs` the listening socket, `fds.rs` the fd limit and accepting
//! clients with fd headroom (backing off when out of fds) and within their
//! identity's connection budget, `security_context.rs`
//! `wp_security_context_v1` (sandboxed apps' listeners, accepted the same
//! way), `choice.rs` the default renderer (GLES where EGL comes up).

mod accord;
mod choice;
mod counters;
mod dmabuf_params;
mod drm;
mod drm_export;
mod drm_readback;
mod fds;
mod foreign;
mod fullscreen;
pub mod gles;
mod handlers;
mod headless;
mod presentation;
mod render;
mod renderer;
mod repaint;
mod screen;
mod screenshot;
mod security_context;
mod socket;
mod state;
mod target;
mod yuv;

use std::{
    cell::RefCell,
    path::PathBuf,
    rc::Rc,
    sync::{mpsc, Arc},
    thread::JoinHandle,
    time::{Duration, Instant},
};

use smithay::{
    backend::renderer::{gles::GlesTexture, pixman::PixmanRenderer, Bind, Offscreen},
    reexports::pixman::Image,
    reexports::{
        calloop::{
            channel::{self, Channel, Sender},
            generic::Generic,
            EventLoop, Interest, LoopHandle, Mode, PostAction,
        },
        wayland_server::Display,
    },
};
use tracing::{info, warn};

pub use accord::AccordMemfdBuffers;
pub use choice::{gl_renderer_name, Chosen};
pub use counters::SurfaceFrames;
pub use counters::{CounterSnapshot, Counters, OutputFrames};
pub use drm::{DrmOptions, DrmTarget};
pub use drm_export::PrimeExporter;
pub use drm_readback::{scanned_out, ScannedOut};
pub use fds::{fd_limit, raise_fd_limit, CLIENT_FD_HEADROOM};
pub use foreign::{ForeignBuffers, ForeignElement, ForeignLayout};
pub use fullscreen::Shown;
pub use gles::{card_renderer, software_renderer};
pub use headless::HeadlessTarget;
pub use render::{bytes_read, Counted, OutputElement, BACKGROUND};
pub use renderer::{FrameRenderer, RendererKind};
pub use screen::{RendererScreen, Screen};
pub use screenshot::Screenshot;
pub use state::{ClientState, RefState, WeakLoop, XDG_SHELL_VERSION};
pub use target::{
    read_framebuffer, CollectFn, DrawFn, DrawTarget, FrameOutcome, OutputTarget, Rendered,
};

/// Errors of the reference compositor: messages meant for a person.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Write the output to a PNG after a number of frames.
#[derive(Debug, Clone)]
pub struct ScreenshotRequest {
    pub path: PathBuf,
    /// Rendered frames to wait for (1 = the first frame).
    pub after_frames: u64,
    /// Stop the compositor once the file is written.
    pub exit_after: bool,
}

/// How to run the compositor.
#[derive(Debug, Clone)]
pub struct Config {
    /// Directory of the socket; `None` means `$XDG_RUNTIME_DIR`.
    pub runtime_dir: Option<PathBuf>,
    /// Socket name; `None` picks the first free `wayland-N`.
    pub socket_name: Option<String>,
    /// Output size in pixels (headless).
    pub width: i32,
    pub height: i32,
    /// Refresh in mHz; the frame timer runs at this rate.
    pub refresh_mhz: i32,
    pub screenshot: Option<ScreenshotRequest>,
    /// Stop after this many rendered frames.
    pub frames_limit: Option<u64>,
    /// Open connections one client identity (a process, or a sandboxed
    /// app) may hold; more are closed at once.
    pub max_connections_per_client: usize,
    /// Pending exported handles one client identity may hold
    /// (`Budgets::pending_handles`); `None` keeps the module's default.
    pub pending_handles_per_client: Option<usize>,
    /// Live collections one client identity may have created
    /// (`Budgets::collections`); `None` keeps the module's default.
    pub collections_per_client: Option<usize>,
    /// Pending exported handles of every client together
    /// (`set_max_pending_handles`); `None` keeps the module's default.
    pub max_pending_handles: Option<usize>,
    /// The `xdg_wm_base` version advertised, 1 to [`XDG_SHELL_VERSION`]
    /// (the default). Older clients that bind whatever is advertised but
    /// lack newer events' listeners need a lower one: weston 10's demo
    /// clients abort on `xdg_toplevel.configure_bounds` (version 4).
    pub xdg_shell_version: u32,
    /// What composes the output. The library's default is Pixman;
    /// [`Compositor::with_renderer`] chooses GLES where EGL comes up
    /// (`accord-compositor` without `--renderer`).
    pub renderer: RendererKind,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            runtime_dir: None,
            socket_name: None,
            width: 1280,
            height: 720,
            refresh_mhz: 60_000,
            screenshot: None,
            frames_limit: None,
            max_connections_per_client: accord_smithay::DEFAULT_MAX_CONNECTIONS_PER_IDENTITY,
            pending_handles_per_client: None,
            collections_per_client: None,
            max_pending_handles: None,
            xdg_shell_version: XDG_SHELL_VERSION,
            renderer: RendererKind::Pixman,
        }
    }
}

impl Config {
    /// The socket's directory: `runtime_dir`, else `$XDG_RUNTIME_DIR`.
    pub fn runtime_dir(&self) -> Result<PathBuf, Error> {
        match &self.runtime_dir {
            Some(dir) => Ok(dir.clone()),
            None => std::env::var_os("XDG_RUNTIME_DIR")
                .map(PathBuf::from)
                .ok_or_else(|| {
                    "XDG_RUNTIME_DIR is not set: set it (e.g. to /run/user/$(id -u)) \
                 or give Config::runtime_dir"
                        .into()
                }),
        }
    }
}

/// `renderer` drawing into an offscreen `B` of `config`'s size.
fn headless_screen<R, B>(mut renderer: R, config: &Config) -> Result<Box<dyn Screen>, Error>
where
    R: FrameRenderer + Offscreen<B> + Bind<B>,
    B: 'static,
{
    let (w, h, refresh) = (config.width, config.height, config.refresh_mhz);
    let target = HeadlessTarget::<B>::new(&mut renderer, w, h, refresh)?;
    info!(renderer = R::KIND.name(), "headless output");
    Ok(Box::new(RendererScreen::new(renderer, target)))
}

/// Requests from other threads to a running compositor.
enum Control {
    Screenshot(mpsc::Sender<Result<Screenshot, String>>),
    Stop,
}

/// A compositor set up and listening, not yet running.
pub struct Compositor {
    event_loop: EventLoop<'static, RefState>,
    state: RefState,
    display: Rc<RefCell<Display<RefState>>>,
    socket_name: String,
    socket_path: PathBuf,
}

impl Compositor {
    /// Sets up a headless compositor (offscreen output, `config.renderer`)
    /// on a socket.
    pub fn headless(config: Config) -> Result<Self, Error> {
        let screen = match config.renderer {
            RendererKind::Pixman => headless_screen::<_, Image>(PixmanRenderer::new()?, &config)?,
            RendererKind::Gles => {
                headless_screen::<_, GlesTexture>(gles::software_renderer()?, &config)?
            }
        };
        Self::new(config, screen)
    }

    /// Sets up a compositor that draws into `screen`'s target with its
    /// renderer.
    pub fn new(config: Config, screen: Box<dyn Screen>) -> Result<Self, Error> {
        let runtime_dir = config.runtime_dir()?;
        if !(1..=XDG_SHELL_VERSION).contains(&config.xdg_shell_version) {
            return Err(format!(
                "xdg_wm_base version {} is outside 1..={XDG_SHELL_VERSION}",
                config.xdg_shell_version
            )
            .into());
        }
        fds::raise_fd_limit();
        let event_loop: EventLoop<'static, RefState> = EventLoop::try_new()?;
        let mut display: Display<RefState> = Display::new()?;
        let display_handle = display.handle();
        let mut state = RefState::new(
            display_handle,
            &event_loop.handle(),
            event_loop.get_signal(),
            config.clone(),
            screen,
        )?;

        let handle = event_loop.handle();
        let socket = socket::bind(&runtime_dir, config.socket_name.as_deref())?;
        fds::insert_listener(&handle, socket.listener)?;
        // The display is shared between its source (client requests) and
        // the loop's end-of-iteration step (`run`), which dispatches once
        // more when destructor events went out meanwhile. The source polls
        // a duplicate of the backend's fd (the same epoll instance).
        let poll_fd = display.backend().poll_fd().try_clone_to_owned()?;
        let display = Rc::new(RefCell::new(display));
        let source_display = display.clone();
        handle.insert_source(
            Generic::new(poll_fd, Interest::READ, Mode::Level),
            move |_, _, state| {
                if let Err(err) = source_display.borrow_mut().dispatch_clients(state) {
                    warn!(%err, "dispatching clients failed");
                }
                Ok(PostAction::Continue)
            },
        )?;
        accord_smithay::BufferCollectionState::insert_expiry_timer(&handle).map_err(|e| e.error)?;
        // The frame timer: from the first grid point on, then on demand.
        repaint::arm(&handle, &mut state)?;

        Ok(Self {
            event_loop,
            state,
            display,
            socket_name: socket.name,
            socket_path: socket.path,
        })
    }

    /// The name clients put in `WAYLAND_DISPLAY` (relative to the runtime dir).
    pub fn socket_name(&self) -> &str {
        &self.socket_name
    }

    /// The socket's absolute path (also valid as `WAYLAND_DISPLAY`).
    pub fn socket_path(&self) -> &std::path::Path {
        &self.socket_path
    }

    /// Live counters.
    pub fn counters(&self) -> Arc<Counters> {
        self.state.counters.clone()
    }

    /// The compositor state, e.g. to set [`RefState::foreign`].
    pub fn state_mut(&mut self) -> &mut RefState {
        &mut self.state
    }

    /// The event loop's handle, to add sources (signals, control channels).
    pub fn loop_handle(&self) -> LoopHandle<'static, RefState> {
        self.event_loop.handle()
    }

    /// Runs until stopped (screenshot exit, frame limit, or a stop request);
    /// returns the final counters.
    pub fn run(mut self) -> Result<CounterSnapshot, Error> {
        info!(socket = %self.socket_path.display(), "running");
        let display = self.display.clone();
        self.event_loop.run(None, &mut self.state, |state| {
            state.counters.loop_iteration();
            // Frame callbacks and presentation feedback sent by a flip or
            // a repaint destroy their objects outside client dispatch; the
            // backend runs those destructors at its next dispatch and, if
            // a flush finds them still pending, arms a 1 ms timer to get
            // one: a second wake-up per frame. Dispatching here (one
            // `epoll_wait` with no timeout) runs them first.
            if std::mem::take(&mut state.destroyed_outside_dispatch) {
                if let Err(err) = display.borrow_mut().dispatch_clients(state) {
                    warn!(%err, "dispatching clients failed");
                }
            }
            if let Err(err) = state.display_handle.flush_clients() {
                warn!(%err, "flushing clients failed");
            }
            // After every dispatch: the gauge follows disconnects while
            // the frame timer is stopped.
            state
                .counters
                .set_charged_bytes(state.buffer_collection_state.total_charged_bytes());
        })?;
        Ok(self.state.counters.snapshot())
    }

    fn add_control(&self, channel: Channel<Control>) -> Result<(), Error> {
        self.event_loop
            .handle()
            .insert_source(channel, |event, _, state| match event {
                channel::Event::Msg(Control::Screenshot(reply)) => {
                    let shot = state.read_output();
                    let _ = reply.send(shot.map_err(|e| e.to_string()));
                }
                channel::Event::Msg(Control::Stop) | channel::Event::Closed => {
                    state.loop_signal.stop()
                }
            })
            .map_err(|e| e.error)?;
        Ok(())
    }
}

/// A compositor running on its own thread.
pub struct Running {
    socket_name: String,
    socket_path: PathBuf,
    runtime_dir: PathBuf,
    counters: Arc<Counters>,
    control: Sender<Control>,
    thread: Option<JoinHandle<Result<CounterSnapshot, String>>>,
}

/// Starts a headless compositor on a new thread; returns once it listens.
pub fn spawn(config: Config) -> Result<Running, Error> {
    spawn_with(config, Compositor::headless)
}

/// Starts a compositor built by `build` (e.g. one with a KMS target) on a new
/// thread; `build` runs on that thread, since Pixman images and Wayland
/// objects never leave it. Returns once the compositor listens.
pub fn spawn_with(
    config: Config,
    build: impl FnOnce(Config) -> Result<Compositor, Error> + Send + 'static,
) -> Result<Running, Error> {
    let runtime_dir = config.runtime_dir()?;
    let config = Config {
        runtime_dir: Some(runtime_dir.clone()),
        ..config
    };
    let (ready_tx, ready_rx) = mpsc::channel();
    let (control, channel) = channel::channel();
    let thread = std::thread::Builder::new()
        .name("accord-compositor".into())
        .spawn(move || {
            let compositor = match build(config).and_then(|c| c.add_control(channel).map(|()| c)) {
                Ok(c) => c,
                Err(err) => {
                    let _ = ready_tx.send(Err(err.to_string()));
                    return Err(err.to_string());
                }
            };
            let ready = (
                compositor.socket_name().to_owned(),
                compositor.socket_path().to_owned(),
                compositor.counters(),
            );
            let _ = ready_tx.send(Ok(ready));
            compositor.run().map_err(|e| e.to_string())
        })?;
    let (socket_name, socket_path, counters) = ready_rx
        .recv()
        .map_err(|_| "the compositor thread ended before listening")??;
    Ok(Running {
        socket_name,
        socket_path,
        runtime_dir,
        counters,
        control,
        thread: Some(thread),
    })
}

impl Running {
    /// The value for `WAYLAND_DISPLAY`, relative to [`Running::runtime_dir`].
    pub fn socket_name(&self) -> &str {
        &self.socket_name
    }

    /// The socket's absolute path, for `UnixStream::connect`.
    pub fn socket_path(&self) -> &std::path::Path {
        &self.socket_path
    }

    /// The value for `XDG_RUNTIME_DIR`.
    pub fn runtime_dir(&self) -> &std::path::Path {
        &self.runtime_dir
    }

    /// `XDG_RUNTIME_DIR` and `WAYLAND_DISPLAY` for a client process.
    pub fn client_env(&self) -> [(&'static str, std::ffi::OsString); 2] {
        [
            ("XDG_RUNTIME_DIR", self.runtime_dir.clone().into_os_string()),
            ("WAYLAND_DISPLAY", self.socket_name.clone().into()),
        ]
    }

    /// The counters now.
    pub fn counters(&self) -> CounterSnapshot {
        self.counters.snapshot()
    }

    /// The compositor's event-loop iterations so far (wake-ups).
    pub fn loop_iterations(&self) -> u64 {
        self.counters.loop_iterations()
    }

    /// Collections re-solved so far because how their surface is shown
    /// changed (fullscreen, windowed, another output).
    pub fn surface_re_solves(&self) -> u64 {
        self.counters.surface_re_solves()
    }

    /// Output `head`'s frames so far (0 is the first): direct,
    /// composited, and page flips on KMS.
    pub fn output_frames(&self, head: usize) -> OutputFrames {
        self.counters.output_frames(head)
    }

    /// Presentation feedback per live surface (`<client>/wl_surface@<id>`).
    pub fn surface_frames(&self) -> Vec<(String, SurfaceFrames)> {
        self.counters.surfaces()
    }

    /// Bytes of live Accord allocations (all clients) at the last frame
    /// tick: what the module charges against its quotas.
    pub fn charged_bytes(&self) -> u64 {
        self.counters.charged_bytes()
    }

    /// Polls the counters until `done` holds or `timeout` passes; returns the
    /// last snapshot and whether `done` held.
    pub fn wait_for(
        &self,
        timeout: Duration,
        done: impl Fn(&CounterSnapshot) -> bool,
    ) -> (CounterSnapshot, bool) {
        let deadline = Instant::now() + timeout;
        loop {
            let now = self.counters();
            if done(&now) {
                return (now, true);
            }
            if Instant::now() >= deadline {
                return (now, false);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Reads back the last rendered frame.
    pub fn screenshot(&self) -> Result<Screenshot, Error> {
        let (tx, rx) = mpsc::channel();
        self.control
            .send(Control::Screenshot(tx))
            .map_err(|_| "the compositor has stopped")?;
        Ok(rx
            .recv()
            .map_err(|_| "the compositor stopped before replying")??)
    }

    /// Stops the event loop and returns the final counters.
    pub fn stop(mut self) -> Result<CounterSnapshot, Error> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> Result<CounterSnapshot, Error> {
        let _ = self.control.send(Control::Stop);
        match self.thread.take() {
            Some(thread) => match thread.join() {
                Ok(result) => Ok(result?),
                Err(_) => Err("the compositor thread panicked".into()),
            },
            None => Ok(self.counters()),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.stop_inner();
    }
}
