//! A wayland-client xdg toplevel that shows Accord collection buffers: the
//! producer's window (and test (c)'s). It tracks which buffers the
//! compositor still holds (`wl_buffer.release`) and paces itself on frame
//! callbacks.

use accord_client::Collection;
use wayland_client::{
    delegate_noop,
    globals::{registry_queue_init, GlobalListContents},
    protocol::{
        wl_buffer::{self, WlBuffer},
        wl_callback::{self, WlCallback},
        wl_compositor::WlCompositor,
        wl_output::WlOutput,
        wl_registry::WlRegistry,
        wl_surface::WlSurface,
    },
    Connection, Dispatch, EventQueue, QueueHandle,
};
use wayland_protocols::xdg::shell::client::{xdg_surface, xdg_toplevel, xdg_wm_base};

/// Errors meant for a person.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// What the compositor told the window so far.
#[derive(Debug, Default)]
pub struct WindowState {
    configured: bool,
    closed: bool,
    /// Frame callbacks received.
    pub frames_done: u64,
    /// Per buffer index: attached and not yet released by the compositor.
    pub held: Vec<bool>,
    /// Buffer indices in the order the compositor released them.
    pub releases: Vec<u32>,
    /// The collection generation whose buffers `held` tracks; releases of
    /// an older generation's `wl_buffer`s do not count.
    pub generation: u32,
    /// `xdg_surface.configure` events received (each acknowledged).
    pub configures: u32,
    /// The last toplevel configure's `fullscreen` state and size (0 x 0:
    /// the client chooses).
    pub fullscreen: bool,
    pub size: (i32, i32),
    /// The pending toplevel configure, applied by the `xdg_surface`
    /// configure that follows it.
    pending: (bool, (i32, i32)),
}

/// An open, configured toplevel.
pub struct Window {
    queue: EventQueue<WindowState>,
    pub state: WindowState,
    pub surface: WlSurface,
    /// The compositor's `wl_output`s, in the registry's order.
    pub outputs: Vec<WlOutput>,
    xdg: (xdg_surface::XdgSurface, xdg_toplevel::XdgToplevel),
}

impl Window {
    /// Opens a toplevel titled `title` and waits for its first configure.
    pub fn open(conn: &Connection, title: &str) -> Result<Window, Error> {
        let (globals, mut queue) = registry_queue_init::<WindowState>(conn)?;
        let qh = queue.handle();
        let compositor: WlCompositor = globals
            .bind(&qh, 4..=6, ())
            .map_err(|e| format!("wl_compositor: {e}"))?;
        let wm_base: xdg_wm_base::XdgWmBase = globals
            .bind(&qh, 1..=6, ())
            .map_err(|e| format!("xdg_wm_base: {e}"))?;
        let outputs = globals
            .contents()
            .clone_list()
            .into_iter()
            .filter(|g| g.interface == "wl_output")
            .map(|g| {
                globals
                    .registry()
                    .bind::<WlOutput, _, _>(g.name, g.version.min(4), &qh, ())
            })
            .collect();
        let surface = compositor.create_surface(&qh, ());
        let xdg = wm_base.get_xdg_surface(&surface, &qh, ());
        let toplevel = xdg.get_toplevel(&qh, ());
        toplevel.set_title(title.into());
        surface.commit();
        let mut state = WindowState::default();
        while !state.configured {
            queue.blocking_dispatch(&mut state)?;
        }
        Ok(Window {
            queue,
            state,
            surface,
            outputs,
            xdg: (xdg, toplevel),
        })
    }

    /// Asks to be fullscreen (on `output`, else where the compositor
    /// chooses) and waits for the configure that says so; returns its
    /// size.
    pub fn set_fullscreen(&mut self, output: Option<&WlOutput>) -> Result<(i32, i32), Error> {
        self.xdg.1.set_fullscreen(output);
        self.wait_configure(true)
    }

    /// Asks to be windowed again and waits for the configure that says so.
    pub fn unset_fullscreen(&mut self) -> Result<(i32, i32), Error> {
        self.xdg.1.unset_fullscreen();
        self.wait_configure(false)
    }

    /// Dispatches until a configure after this call has `fullscreen` as
    /// given (acknowledged like every configure).
    fn wait_configure(&mut self, fullscreen: bool) -> Result<(i32, i32), Error> {
        let before = self.state.configures;
        while self.state.configures == before || self.state.fullscreen != fullscreen {
            self.dispatch()?;
        }
        Ok(self.state.size)
    }

    /// `wl_buffer`s for buffers `0..count` of an allocated collection, on
    /// this window's queue so that their releases are seen here.
    pub fn buffers(&mut self, collection: &Collection, count: u32) -> Vec<WlBuffer> {
        let qh = self.queue.handle();
        self.state.held = vec![false; count as usize];
        (0..count)
            .map(|i| {
                collection
                    .proxy()
                    .get_wl_buffer(i, &qh, (self.state.generation, i))
            })
            .collect()
    }

    /// `wl_buffer`s for buffers `0..count` of generation `generation` of a
    /// renegotiated collection (named by generation, so race-free); from
    /// now on `held` tracks these, and the older generation's releases are
    /// ignored.
    pub fn generation_buffers(
        &mut self,
        collection: &Collection,
        generation: u32,
        count: u32,
    ) -> Vec<WlBuffer> {
        let qh = self.queue.handle();
        self.state.generation = generation;
        self.state.held = vec![false; count as usize];
        (0..count)
            .map(|i| {
                collection
                    .proxy()
                    .get_generation_buffer(generation, i, &qh, (generation, i))
            })
            .collect()
    }

    /// The first buffer at or after `start` (round robin) that the
    /// compositor does not hold, dispatching until one is released.
    pub fn free_buffer(&mut self, start: usize) -> Result<usize, Error> {
        loop {
            self.queue.dispatch_pending(&mut self.state)?;
            let n = self.state.held.len();
            if n == 0 {
                return Err("no buffers".into());
            }
            if let Some(i) = (0..n)
                .map(|k| (start + k) % n)
                .find(|&i| !self.state.held[i])
            {
                return Ok(i);
            }
            self.dispatch()?;
        }
    }

    /// Attaches buffer `index` (from [`Window::buffers`]), commits, and
    /// waits for the frame callback: the compositor sends it after the
    /// output frame that composited this commit.
    pub fn present(&mut self, buffers: &[WlBuffer], index: usize) -> Result<(), Error> {
        let buffer = buffers.get(index).ok_or("buffer index out of range")?;
        let qh = self.queue.handle();
        self.surface.attach(Some(buffer), 0, 0);
        self.surface.damage_buffer(0, 0, i32::MAX, i32::MAX);
        self.surface.frame(&qh, ());
        self.surface.commit();
        if let Some(h) = self.state.held.get_mut(index) {
            *h = true;
        }
        let before = self.state.frames_done;
        while self.state.frames_done == before {
            self.dispatch()?;
        }
        Ok(())
    }

    /// Sends pending requests and handles the replies.
    pub fn roundtrip(&mut self) -> Result<(), Error> {
        self.queue.roundtrip(&mut self.state)?;
        Ok(())
    }

    fn dispatch(&mut self) -> Result<(), Error> {
        self.queue.blocking_dispatch(&mut self.state)?;
        if self.state.closed {
            return Err("the compositor closed the window".into());
        }
        Ok(())
    }
}

wayland_client::delegate_dispatch!(WindowState: [
    WlRegistry: GlobalListContents
] => accord_client::IgnoreRegistry);

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
        xdg: &xdg_surface::XdgSurface,
        event: xdg_surface::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_surface::Event::Configure { serial } = event {
            xdg.ack_configure(serial);
            state.configured = true;
            state.configures += 1;
            (state.fullscreen, state.size) = state.pending;
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
        match event {
            xdg_toplevel::Event::Close => state.closed = true,
            xdg_toplevel::Event::Configure {
                width,
                height,
                states,
            } => {
                // An array of native-endian u32 states.
                let fullscreen = states
                    .chunks_exact(4)
                    .filter_map(|c| c.try_into().ok().map(u32::from_ne_bytes))
                    .any(|s| s == xdg_toplevel::State::Fullscreen as u32);
                state.pending = (fullscreen, (width, height));
            }
            _ => {}
        }
    }
}

impl Dispatch<WlCallback, ()> for WindowState {
    fn event(
        state: &mut Self,
        _: &WlCallback,
        event: wl_callback::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wl_callback::Event::Done { .. } = event {
            state.frames_done += 1;
        }
    }
}

impl Dispatch<WlBuffer, (u32, u32)> for WindowState {
    fn event(
        state: &mut Self,
        _: &WlBuffer,
        event: wl_buffer::Event,
        (generation, index): &(u32, u32),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if *generation != state.generation {
            return; // an older generation's buffer
        }
        if let wl_buffer::Event::Release = event {
            if let Some(h) = state.held.get_mut(*index as usize) {
                *h = false;
            }
            state.releases.push(*index);
        }
    }
}

delegate_noop!(WindowState: ignore WlCompositor);
delegate_noop!(WindowState: ignore WlSurface);
delegate_noop!(WindowState: ignore WlOutput);
