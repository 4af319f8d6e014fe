//! Smithay handler impls and `delegate_*!` lines: one block per protocol.

use smithay::{
    backend::allocator::dmabuf::Dmabuf,
    delegate_compositor, delegate_output, delegate_presentation, delegate_seat, delegate_shm,
    delegate_viewporter, delegate_xdg_shell,
    desktop::{PopupKind, Window},
    input::{SeatHandler, SeatState},
    reexports::{
        wayland_protocols::xdg::shell::server::xdg_toplevel,
        wayland_server::{
            protocol::{
                wl_buffer::WlBuffer, wl_output::WlOutput, wl_seat::WlSeat, wl_surface::WlSurface,
            },
            Client,
        },
    },
    utils::Serial,
    wayland::{
        buffer::BufferHandler,
        compositor::{
            get_parent, is_sync_subsurface, with_states, CompositorClientState, CompositorHandler,
            CompositorState,
        },
        dmabuf::{DmabufFeedback, DmabufGlobal, DmabufHandler, DmabufState, ImportNotifier},
        output::OutputHandler,
        shell::xdg::{
            Configure, PopupSurface, PositionerState, ToplevelSurface, XdgShellHandler,
            XdgShellState, XdgToplevelSurfaceData,
        },
        shm::{ShmHandler, ShmState},
    },
};
use tracing::{debug, warn};

use super::{
    fullscreen::Shown,
    state::{ClientState, RefState},
};

impl CompositorHandler for RefState {
    fn compositor_state(&mut self) -> &mut CompositorState {
        &mut self.compositor_state
    }

    fn client_compositor_state<'a>(&self, client: &'a Client) -> &'a CompositorClientState {
        match client.get_data::<ClientState>() {
            Some(data) => &data.compositor_state,
            // Every client is inserted with `ClientState` (see the socket
            // source), so this is unreachable; a shared fallback beats a panic.
            None => {
                static FALLBACK: std::sync::OnceLock<CompositorClientState> =
                    std::sync::OnceLock::new();
                FALLBACK.get_or_init(CompositorClientState::default)
            }
        }
    }

    fn new_surface(&mut self, surface: &WlSurface) {
        super::presentation::track_surface(surface);
    }

    fn commit(&mut self, surface: &WlSurface) {
        self.counters.surface_committed();
        super::presentation::on_commit(&self.counters, surface, self.repaints + 1);
        self.request_repaint();
        if let Some(hook) = &self.foreign {
            super::foreign::on_commit(hook.as_ref(), surface);
        }
        smithay::backend::renderer::utils::on_commit_buffer_handler::<Self>(surface);

        if !is_sync_subsurface(surface) {
            let mut root = surface.clone();
            while let Some(parent) = get_parent(&root) {
                root = parent;
            }
            if let Some(window) = self.window_for(&root) {
                window.on_commit();
            }
        }
        self.popups.commit(surface);
        self.shown_committed(surface);

        // xdg-shell: a toplevel's first commit must be answered with a configure.
        if let Some(window) = self.window_for(surface) {
            let initial_configure_sent = with_states(surface, |states| {
                states
                    .data_map
                    .get::<XdgToplevelSurfaceData>()
                    .and_then(|data| data.lock().ok().map(|d| d.initial_configure_sent))
                    .unwrap_or(true)
            });
            if !initial_configure_sent {
                if let Some(toplevel) = window.toplevel() {
                    toplevel.send_configure();
                }
            }
        }
    }
}
delegate_compositor!(RefState);

// wp_presentation: feedback is taken and sent by presentation.rs.
delegate_presentation!(RefState);

// wp_viewporter: smithay applies the viewport to the surface's view.
delegate_viewporter!(RefState);

impl BufferHandler for RefState {
    fn buffer_destroyed(&mut self, buffer: &WlBuffer) {
        // A dma-buf collection's wl_buffer holds its buffers (and the
        // client's quota charge) until now.
        self.buffer_collection_state.wl_buffer_destroyed(buffer);
    }
}

impl ShmHandler for RefState {
    fn shm_state(&self) -> &ShmState {
        &self.shm_state
    }
}
delegate_shm!(RefState);

impl DmabufHandler for RefState {
    fn dmabuf_state(&mut self) -> &mut DmabufState {
        &mut self.dmabuf_state
    }

    fn dmabuf_imported(
        &mut self,
        _global: &DmabufGlobal,
        dmabuf: Dmabuf,
        notifier: ImportNotifier,
    ) {
        // Import now so that a buffer the renderer cannot read fails at
        // creation (`zwp_linux_buffer_params_v1.failed`), not at the first
        // frame.
        match self.screen.import_dmabuf(&dmabuf) {
            Ok(_) => {
                let _ = notifier.successful::<Self>();
            }
            Err(err) => {
                accord_smithay::warn_limited!(self.log_limit, "dmabuf import failed", %err);
                notifier.failed();
            }
        }
    }

    /// The target's first feedback for a surface (on KMS: the renderer's
    /// formats only, until the surface's buffer reaches the primary plane
    /// or is refused there; see `DrmTarget`).
    fn new_surface_feedback(
        &mut self,
        _surface: &WlSurface,
        _global: &DmabufGlobal,
    ) -> Option<DmabufFeedback> {
        self.screen.target().initial_surface_feedback()
    }
}
// The dmabuf delegates are in dmabuf_params.rs (implicit modifiers).

impl SeatHandler for RefState {
    type KeyboardFocus = WlSurface;
    type PointerFocus = WlSurface;
    type TouchFocus = WlSurface;

    fn seat_state(&mut self) -> &mut SeatState<Self> {
        &mut self.seat_state
    }
}
delegate_seat!(RefState);

impl OutputHandler for RefState {}
delegate_output!(RefState);

impl XdgShellHandler for RefState {
    fn xdg_shell_state(&mut self) -> &mut XdgShellState {
        &mut self.xdg_shell_state
    }

    fn new_toplevel(&mut self, surface: ToplevelSurface) {
        // Cascade: with no window open at (0, 0), each next one 32 px further.
        let offset = 32 * (self.space.elements().count() % 16) as i32;
        // Windowed until it asks for fullscreen: no plane offer.
        self.set_shown(surface.wl_surface(), Shown::Windowed);
        let window = Window::new_wayland_window(surface);
        self.space.map_element(window, (offset, offset), true);
        self.request_repaint();
    }

    fn toplevel_destroyed(&mut self, surface: ToplevelSurface) {
        // Unmap now rather than at the next `Space::refresh`, so a toplevel
        // created right after takes the freed place.
        if let Some(window) = self.window_for(surface.wl_surface()) {
            self.space.unmap_elem(&window);
        }
        self.forget_shown(surface.wl_surface());
        self.request_repaint();
    }

    fn new_popup(&mut self, surface: PopupSurface, _positioner: PositionerState) {
        if let Err(err) = self.popups.track_popup(PopupKind::Xdg(surface)) {
            warn!(%err, "cannot track popup");
        }
    }

    fn grab(&mut self, _surface: PopupSurface, _seat: WlSeat, _serial: Serial) {}

    fn reposition_request(
        &mut self,
        surface: PopupSurface,
        positioner: PositionerState,
        token: u32,
    ) {
        surface.with_pending_state(|state| {
            state.geometry = positioner.get_geometry();
            state.positioner = positioner;
        });
        surface.send_repositioned(token);
    }

    /// Fullscreen on the output the client names (else the first), at
    /// that output's place and size; its collections are re-solved with
    /// that output's plane offered (`fullscreen.rs`). Asking again for
    /// another output moves it there. The window moves when the client
    /// applies the configure (`RefState::move_on_apply`): until then the
    /// output shows what it showed, so the first frame in the new state is
    /// the client's new buffer, in one flip.
    fn fullscreen_request(&mut self, surface: ToplevelSurface, output: Option<WlOutput>) {
        let index = self.output_index(output.as_ref());
        let Some(output) = self.outputs().get(index).cloned() else {
            return;
        };
        let size = output.current_mode().map(|mode| mode.size.to_logical(1));
        let location = self.space.output_geometry(&output).map(|g| g.loc);
        surface.with_pending_state(|state| {
            state.states.set(xdg_toplevel::State::Fullscreen);
            state.size = size;
        });
        let serial = self.reshow(&surface, Shown::Fullscreen { output: index });
        self.move_on_apply(&surface, serial, location.unwrap_or_default());
        debug!(output = index, "toplevel fullscreen");
    }

    /// Windowed again: composited, its collections re-solved without a
    /// plane. The window stays where it is; its next commit shows the
    /// windowed buffer.
    fn unfullscreen_request(&mut self, surface: ToplevelSurface) {
        surface.with_pending_state(|state| {
            state.states.unset(xdg_toplevel::State::Fullscreen);
            state.size = None;
        });
        self.reshow(&surface, Shown::Windowed);
    }

    fn ack_configure(&mut self, surface: WlSurface, configure: Configure) {
        if let Configure::Toplevel(configure) = configure {
            self.configure_acked(&surface, configure.serial);
        }
    }
}
delegate_xdg_shell!(RefState);

// Accord's handler impl and `delegate_buffer_collection!` are in accord.rs.

impl RefState {
    /// The mapped window whose toplevel is `surface`.
    pub fn window_for(&self, surface: &WlSurface) -> Option<Window> {
        self.space
            .elements()
            .find(|window| window.toplevel().map(|t| t.wl_surface()) == Some(surface))
            .cloned()
    }
}
