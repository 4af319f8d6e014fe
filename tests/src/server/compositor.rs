//! The in-process test compositor itself, without its thread or socket:
//! [`Compositor`] (`wl_compositor`, linux-dmabuf dispatch and the Accord
//! module on a given allocator, Pixman rendering of committed memfd
//! buffers), its [`Config`], what it [`Observed`], and the per-client data
//! that counts disconnects. The test server ([`super::TestServer`]) runs it
//! on a thread behind a listening socket; the fuzz harness
//! (`fuzz/wire/server.rs`) dispatches it synchronously over socket pairs.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use accord_engine::{FormatModifier, MOD_LINEAR};
use accord_smithay::backend::Placements;
use accord_smithay::{BufferCollectionHandler, BufferCollectionState};
use smithay::backend::allocator::dmabuf::Dmabuf;
use smithay::backend::allocator::Fourcc;
use smithay::backend::renderer::pixman::PixmanRenderer;
use smithay::backend::renderer::{Bind, Color32F, ExportMem, Frame, Offscreen, Renderer};
use smithay::reexports::pixman::Image;
use smithay::reexports::wayland_server::backend::{ClientData, ClientId, DisconnectReason};
use smithay::reexports::wayland_server::protocol::wl_buffer::WlBuffer;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::{Client, DisplayHandle, Resource};
use smithay::utils::{Rectangle, Transform};
use smithay::wayland::buffer::BufferHandler;
use smithay::wayland::compositor::{with_states, BufferAssignment, SurfaceAttributes};
use smithay::wayland::compositor::{CompositorClientState, CompositorHandler, CompositorState};
use smithay::wayland::dmabuf::{DmabufGlobal, DmabufHandler, DmabufState, ImportNotifier};

use crate::{ARGB8888, OUTPUT_SIZE, XRGB8888};

/// What the compositor observed, for assertions.
#[derive(Debug, Default)]
pub struct Observed {
    /// Clients that disconnected (to wait for a disconnect to be processed).
    pub disconnects: usize,
    /// `ClientData::disconnected` calls for a client already counted
    /// (wayland-backend's double call; the fuzz harness counts them).
    pub repeated_disconnects: usize,
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
    /// `BufferCollectionState::backend_usage` (bytes) after the last dispatch.
    pub backend_bytes: Vec<(String, u64)>,
    /// `BufferCollectionState::ledger_dump` after the last dispatch.
    pub ledger_dump: String,
}

/// How to configure the test compositor (set through
/// [`TestServerBuilder`](crate::TestServerBuilder)).
#[derive(Debug, Clone, Copy, Default)]
pub struct Config {
    /// Per-client quota in bytes (default 1 GiB).
    pub quota: Option<u64>,
    /// Handle expiry (default 60 s).
    pub handle_expiry: Option<std::time::Duration>,
    /// Stall warning threshold (default 5 s).
    pub stall_warning: Option<std::time::Duration>,
    /// Pending handles the module holds at most (default 16,384).
    pub max_pending_handles: Option<usize>,
    /// Weak participants' release deadline (default 5 s).
    pub weak_release_timeout: Option<std::time::Duration>,
    /// Per-client budgets (default `Budgets::default()`).
    pub budgets: Option<accord_smithay::collections::Budgets>,
    /// The module's buffer fd budget (default half the soft fd limit).
    pub max_buffer_fds: Option<u64>,
    /// Pairs a surface's display "scans out" (the compositor participant's
    /// `scanout` pairs; empty: composition only, the default).
    pub scanout_pairs: &'static [FormatModifier],
    /// The `confirm_scanout` hook (a fixture standing in for a display's
    /// `TEST_ONLY`); `None` keeps the module's default (no confirmation).
    pub confirm: Option<fn(&accord_engine::Decision) -> accord_engine::Decision>,
    /// Observe nothing: leave committed buffers alone (no rendering, no
    /// `release`) and record no `confirm_scanout` calls. For the fuzz
    /// harness: a long run, whose wire model expects no `release` events.
    pub unobserved: bool,
    /// Shortest time between two generations of a collection (default
    /// 100 ms).
    pub min_generation_interval: Option<std::time::Duration>,
    /// Do not tell the module about destroyed `wl_buffer`s (an embedder
    /// that forgot `wl_buffer_destroyed`): its own sweep must find them.
    pub forget_buffer_destroyed: bool,
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

/// The compositor's state: the Accord module and what it needs
/// (`wl_compositor`, linux-dmabuf dispatch), a Pixman renderer, and what it
/// observed. Dispatch a `Display<Compositor>` with it.
pub struct Compositor {
    renderer: PixmanRenderer,
    compositor: CompositorState,
    dmabuf: DmabufState,
    /// The Accord module.
    pub accord: BufferCollectionState,
    renderer_formats: Vec<FormatModifier>,
    observed: Arc<Mutex<Observed>>,
    config: Config,
    /// Every surface created, for tests that change a surface's display.
    pub surfaces: Vec<WlSurface>,
}

/// Per-client data; insert every client with [`Compositor::client_data`].
pub struct ClientState {
    compositor: CompositorClientState,
    observed: Arc<Mutex<Observed>>,
    /// wayland-backend 0.3.17 may report one client disconnected twice
    /// (Rust backend: closed, then a protocol error from a request still
    /// buffered) or never (libwayland backend: a client killed by a protocol
    /// error the compositor posted): count each client once, at its first
    /// `disconnected` or else when its data is dropped (FUZZING.md findings
    /// 6 and 9).
    gone: AtomicBool,
}

impl ClientState {
    /// Counts the client's disconnect once; says whether it was counted
    /// before.
    fn count_disconnect(&self) -> bool {
        if self.gone.swap(true, Ordering::Relaxed) {
            return true;
        }
        if let Ok(mut o) = self.observed.lock() {
            o.disconnects += 1;
        }
        false
    }
}

impl ClientData for ClientState {
    fn disconnected(&self, _id: ClientId, _reason: DisconnectReason) {
        if self.count_disconnect() {
            if let Ok(mut o) = self.observed.lock() {
                o.repeated_disconnects += 1;
            }
        }
    }
}

impl Drop for ClientState {
    fn drop(&mut self) {
        self.count_disconnect();
    }
}

impl Compositor {
    /// The compositor on `dh`, its module allocating with `allocator` and
    /// configured by `config`; it records into `observed`. Its renderer
    /// imports XRGB8888/ARGB8888 LINEAR (like Pixman).
    pub fn new(
        dh: &DisplayHandle,
        placements: Placements,
        config: Config,
        observed: Arc<Mutex<Observed>>,
    ) -> Compositor {
        let mut accord = BufferCollectionState::with_placements::<Compositor>(dh, placements);
        if let Some(bytes) = config.quota {
            accord.set_client_quota(bytes);
        }
        if let Some(d) = config.handle_expiry {
            accord.set_handle_expiry(d);
        }
        if let Some(d) = config.stall_warning {
            accord.set_stall_warning(d);
        }
        if let Some(t) = config.weak_release_timeout {
            accord.set_weak_release_timeout(t);
        }
        if let Some(n) = config.max_pending_handles {
            accord.set_max_pending_handles(n);
        }
        if let Some(b) = config.budgets {
            // The quota setting stays the source of the byte budget.
            let bytes = accord.client_budgets().bytes;
            accord.set_client_budgets(accord_smithay::collections::Budgets { bytes, ..b });
        }
        if let Some(n) = config.max_buffer_fds {
            accord.set_max_buffer_fds(n);
        }
        if let Some(d) = config.min_generation_interval {
            accord.set_min_generation_interval(d);
        }
        Compositor {
            renderer: PixmanRenderer::new().expect("pixman renderer"),
            compositor: CompositorState::new::<Compositor>(dh),
            dmabuf: DmabufState::new(),
            accord,
            renderer_formats: [XRGB8888, ARGB8888]
                .into_iter()
                .map(|format| FormatModifier {
                    format,
                    modifier: MOD_LINEAR,
                    scanout: false,
                })
                .collect(),
            observed,
            config,
            surfaces: Vec::new(),
        }
    }

    /// Change what the display planes scan out for every surface (a
    /// surface going fullscreen on a plane, or back to composition) and
    /// tell the module, as an embedder does (renegotiation trigger 1).
    /// Returns how many collections were told.
    pub fn set_scanout_pairs(&mut self, pairs: &'static [FormatModifier]) -> usize {
        self.config.scanout_pairs = pairs;
        self.each_surface(BufferCollectionState::surface_changed)
    }

    /// As [`set_scanout_pairs`](Self::set_scanout_pairs), announced to
    /// the client with a configure: each re-solve waits for the client's
    /// answer (`BufferCollectionState::surface_reconfigured`).
    pub fn set_scanout_pairs_held(&mut self, pairs: &'static [FormatModifier]) -> usize {
        self.config.scanout_pairs = pairs;
        self.each_surface(BufferCollectionState::surface_reconfigured)
    }

    /// Every surface's client applied the announcing configure without a
    /// re-commit (`BufferCollectionState::surface_configure_applied`).
    /// Returns how many held re-solves were released.
    pub fn configure_applied(&mut self) -> usize {
        self.each_surface(BufferCollectionState::surface_configure_applied)
    }

    /// Runs `f` for every live surface; sums its answers.
    fn each_surface(&mut self, f: fn(&mut Self, &WlSurface) -> usize) -> usize {
        self.surfaces.retain(|s| s.is_alive());
        let surfaces = self.surfaces.clone();
        surfaces.iter().map(|s| f(self, s)).sum()
    }

    /// The data to insert a new client with.
    pub fn client_data(&self) -> Arc<ClientState> {
        Arc::new(ClientState {
            compositor: CompositorClientState::default(),
            observed: self.observed.clone(),
            gone: AtomicBool::new(false),
        })
    }

    /// Copy the module's ledger into [`Observed`] (after each dispatch,
    /// before flushing, so a client that sees a reply also sees the state
    /// that request left).
    pub fn observe(&self) {
        let charged = self.accord.total_charged_bytes();
        let negotiating = self.accord.negotiating_collections();
        let backend_bytes = self
            .accord
            .backend_usage()
            .into_iter()
            .map(|(b, u)| (b, u.bytes))
            .collect();
        let ledger_dump = self.accord.ledger_dump();
        if let Ok(mut o) = self.observed.lock() {
            o.charged_bytes = charged;
            o.negotiating = negotiating;
            o.backend_bytes = backend_bytes;
            o.ledger_dump = ledger_dump;
        }
    }
}

impl CompositorHandler for Compositor {
    fn compositor_state(&mut self) -> &mut CompositorState {
        &mut self.compositor
    }
    fn client_compositor_state<'a>(&self, client: &'a Client) -> &'a CompositorClientState {
        &client
            .get_data::<ClientState>()
            .expect("every client is inserted with ClientState")
            .compositor
    }
    fn new_surface(&mut self, surface: &WlSurface) {
        if !self.config.unobserved {
            self.surfaces.retain(|s| s.is_alive());
            self.surfaces.push(surface.clone());
        }
    }
    fn commit(&mut self, surface: &WlSurface) {
        if self.config.unobserved {
            return;
        }
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

impl BufferHandler for Compositor {
    fn buffer_destroyed(&mut self, buffer: &WlBuffer) {
        if !self.config.forget_buffer_destroyed {
            self.accord.wl_buffer_destroyed(buffer);
        }
    }
}

impl DmabufHandler for Compositor {
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

impl BufferCollectionHandler for Compositor {
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
        if !self.config.unobserved {
            if let Ok(mut o) = self.observed.lock() {
                o.confirm_calls.push(decision.clone());
            }
        }
        match self.config.confirm {
            Some(confirm) => confirm(decision),
            None => decision.clone(),
        }
    }
    /// Every connection its own identity: the test process holds many
    /// connections that stand for different clients (ROUND2: tests about
    /// one process's budget spawn real processes).
    fn client_identity(
        &mut self,
        client: &smithay::reexports::wayland_server::Client,
        _dh: &smithay::reexports::wayland_server::DisplayHandle,
    ) -> accord_smithay::ClientIdentity {
        accord_smithay::ClientIdentity::Connection(client.id())
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

smithay::delegate_compositor!(Compositor);
smithay::delegate_dmabuf!(Compositor);
accord_smithay::delegate_buffer_collection!(Compositor);
