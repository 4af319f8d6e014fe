//! The compositor state: Smithay's protocol states, the scene and the target.

use std::{sync::Arc, time::Instant};

use accord_engine::FormatModifier;
use accord_smithay::{BufferCollectionState, ClientIdentity, ConnectionBudget, ConnectionTicket};
use smithay::reexports::wayland_protocols::xdg::shell::server::xdg_wm_base::XdgWmBase;
use smithay::{
    desktop::{PopupManager, Space, Window},
    input::{Seat, SeatState},
    output::Output,
    reexports::{
        calloop::{LoopHandle, LoopSignal},
        wayland_server::{
            backend::{ClientData, ClientId, DisconnectReason},
            DisplayHandle,
        },
    },
    wayland::{
        compositor::{CompositorClientState, CompositorState},
        dmabuf::{DmabufGlobal, DmabufState},
        output::OutputManagerState,
        presentation::PresentationState,
        security_context::{SecurityContext, SecurityContextState},
        shell::xdg::XdgShellState,
        shm::ShmState,
        viewporter::ViewporterState,
    },
};
use tracing::info;

/// The `xdg_wm_base` version smithay 0.7 serves.
pub const XDG_SHELL_VERSION: u32 = 6;

use super::{foreign::ForeignBuffers, screen::Screen, Config, Counters, Error};

/// Per-client data: Smithay's compositor module's, and who the client is.
pub struct ClientState {
    pub compositor_state: CompositorClientState,
    /// Its place in the connection budget, naming its identity; dropped
    /// with the client, which gives the connection back.
    pub connection: ConnectionTicket,
    /// The security context of the listener it came through, if any.
    pub security_context: Option<SecurityContext>,
}

impl ClientState {
    pub fn new(connection: ConnectionTicket, security_context: Option<SecurityContext>) -> Self {
        Self {
            compositor_state: CompositorClientState::default(),
            connection,
            security_context,
        }
    }

    /// Whom its budgets are charged to (fixed when it was accepted).
    pub fn identity(&self) -> &ClientIdentity {
        self.connection.identity()
    }
}

impl ClientData for ClientState {
    fn disconnected(&self, client: ClientId, reason: DisconnectReason) {
        info!(?client, identity = %self.identity(), ?reason, "client disconnected");
    }
}

/// A way back to the event loop that does not keep it alive: calloop does
/// not export the name of its weak handle, so a closure holds it.
pub type WeakLoop = Box<dyn Fn() -> Option<LoopHandle<'static, RefState>>>;

/// Everything the event loop dispatches to.
pub struct RefState {
    pub display_handle: DisplayHandle,
    pub loop_signal: LoopSignal,
    pub config: Config,
    pub counters: Arc<Counters>,
    pub start_time: Instant,
    /// Warnings a client can cause are rate-limited per cause.
    pub log_limit: accord_smithay::log_limit::LogLimiter,
    /// Open connections per client identity (`fds::admit`).
    pub connection_budget: ConnectionBudget,
    /// The event loop, weakly: to insert security-context listeners.
    pub loop_handle: WeakLoop,

    // Smithay protocol states.
    pub compositor_state: CompositorState,
    pub shm_state: ShmState,
    pub xdg_shell_state: XdgShellState,
    pub seat_state: SeatState<RefState>,
    pub seat: Seat<RefState>,
    pub output_manager_state: OutputManagerState,
    pub dmabuf_state: DmabufState,
    pub dmabuf_global: DmabufGlobal,
    /// `wp_security_context_manager_v1`, for clients that did not come
    /// through a security context (handler in security_context.rs).
    pub security_context_state: SecurityContextState,
    /// `wp_presentation` (clock: `CLOCK_MONOTONIC`; feedback sent by
    /// `presentation.rs`).
    pub presentation_state: PresentationState,
    /// `wp_viewporter`: smithay applies a surface's crop and destination
    /// size to its render element (and checks them at commit).
    pub viewporter_state: ViewporterState,
    /// Accord's buffer-collection module (handler in accord.rs); its
    /// placements are the target's (`OutputTarget::collection_placements`:
    /// memfd headless, every detected backend on KMS, dumb buffers first).
    pub buffer_collection_state: BufferCollectionState,
    /// What the compositor participant of `attach_surface` offers.
    pub accord_renderer_formats: Vec<FormatModifier>,
    /// How each toplevel is shown (fullscreen on which output, or
    /// windowed): what its participant offers (`fullscreen.rs`).
    pub shown: super::fullscreen::ShownSurfaces,
    /// The head whose display last confirmed a scanout decision: its test
    /// buffer goes to the module (`take_scanout_probe`).
    pub last_confirmed_head: Option<usize>,

    // The scene and where it is drawn.
    pub space: Space<Window>,
    pub popups: PopupManager,
    /// One output per head of the screen, side by side in the space from
    /// (0, 0), in the heads' order (index 0 is the first).
    pub outputs: Vec<Output>,
    /// The renderer and the target it draws into (`screen.rs`).
    pub screen: Box<dyn Screen>,
    /// Claims `wl_buffer`s smithay cannot import (see `foreign.rs`).
    pub foreign: Option<Arc<dyn ForeignBuffers>>,
    /// The last rendering error, logged once rather than every frame.
    pub last_render_error: Option<String>,
    /// When to draw next (`repaint.rs`): whether something changed since
    /// the last repaint, and the output's frame grid.
    pub repaint: super::repaint::Repaint,
    /// The output's refresh count (the `seq` of presentation feedback):
    /// slots of the frame grid since the start headless, the kernel's
    /// page-flip sequence on KMS.
    pub output_sequence: u64,
    /// Repaints started so far (frame callbacks wait for the repaint that
    /// shows a commit: `presentation::send_frame_callbacks`).
    pub repaints: u64,
    /// Events that destroy their object (`wl_callback.done`,
    /// `wp_presentation_feedback.presented`/`discarded`) went out outside
    /// client dispatch: the Wayland backend runs their destructors at its
    /// next dispatch, which the loop runs before flushing (`Compositor::run`)
    /// rather than letting the backend arm its 1 ms wake-up for them.
    pub destroyed_outside_dispatch: bool,
}

impl RefState {
    pub fn new(
        display_handle: DisplayHandle,
        loop_handle: &LoopHandle<'static, RefState>,
        loop_signal: LoopSignal,
        config: Config,
        screen: Box<dyn Screen>,
    ) -> Result<Self, Error> {
        let dh = &display_handle;
        let compositor_state = CompositorState::new::<Self>(dh);
        let shm_state = ShmState::new::<Self>(dh, vec![]);
        let xdg_shell_state = XdgShellState::new::<Self>(dh);
        if config.xdg_shell_version != XDG_SHELL_VERSION {
            // Smithay creates xdg_wm_base at its newest version; a test
            // may ask for an older one (see `Config::xdg_shell_version`).
            dh.remove_global::<Self>(xdg_shell_state.global());
            dh.create_global::<Self, XdgWmBase, ()>(config.xdg_shell_version, ());
        }
        let presentation_state = PresentationState::new::<Self>(dh, super::presentation::CLOCK_ID);
        let viewporter_state = ViewporterState::new::<Self>(dh);
        let mut seat_state = SeatState::new();
        let seat = seat_state.new_wl_seat(dh, "seat0");
        let output_manager_state = OutputManagerState::new_with_xdg_output::<Self>(dh);

        let mut dmabuf_state = DmabufState::new();
        let target = screen.target();
        let feedback = screen
            .dmabuf_feedback()
            .map_err(|e| format!("cannot build the dmabuf feedback table: {e}"))?;
        let dmabuf_global = dmabuf_state.create_global_with_default_feedback::<Self>(dh, &feedback);
        // Sandboxed clients must not create security contexts of their own.
        let security_context_state = SecurityContextState::new::<Self, _>(dh, |client| {
            client
                .get_data::<ClientState>()
                .is_some_and(|c| c.security_context.is_none())
        });
        let mut buffer_collection_state =
            BufferCollectionState::with_placements::<Self>(dh, target.collection_placements()?);
        super::accord::apply_budgets(&mut buffer_collection_state, &config);
        let accord_renderer_formats = screen.renderer_formats();

        let mut space = Space::default();
        let mut outputs = Vec::with_capacity(screen.heads());
        let mut x = 0;
        for head in (0..screen.heads()).filter_map(|h| screen.head(h)) {
            let output = Output::new(head.output_name(), head.physical_properties());
            let _global = output.create_global::<Self>(dh);
            let mode = head.mode();
            output.change_current_state(
                Some(mode),
                Some(smithay::utils::Transform::Normal),
                None,
                Some((x, 0).into()),
            );
            output.set_preferred(mode);
            space.map_output(&output, (x, 0));
            x = x.saturating_add(mode.size.w);
            outputs.push(output);
        }
        let weak = loop_handle.downgrade();
        let config_for_repaint = config.clone();
        let display_paced = target.paced_by_display();
        Ok(Self {
            display_handle,
            loop_signal,
            connection_budget: ConnectionBudget::new(config.max_connections_per_client),
            loop_handle: Box::new(move || weak.upgrade()),
            config,
            counters: Arc::default(),
            start_time: Instant::now(),
            log_limit: Default::default(),
            compositor_state,
            shm_state,
            xdg_shell_state,
            seat_state,
            seat,
            output_manager_state,
            dmabuf_state,
            dmabuf_global,
            security_context_state,
            presentation_state,
            viewporter_state,
            buffer_collection_state,
            accord_renderer_formats,
            shown: Default::default(),
            last_confirmed_head: None,
            space,
            popups: PopupManager::default(),
            outputs,
            screen,
            foreign: Some(Arc::new(super::accord::AccordMemfdBuffers)),
            last_render_error: None,
            repaint: super::repaint::Repaint::new(&config_for_repaint, display_paced),
            output_sequence: 0,
            repaints: 0,
            destroyed_outside_dispatch: false,
        })
    }
}

impl RefState {
    /// The compositor's outputs, in order (index 0 is the first).
    pub fn outputs(&self) -> &[Output] {
        &self.outputs
    }
}
