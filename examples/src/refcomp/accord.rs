//! The Accord module in the reference compositor: the handler impl, the
//! delegate line, the budgets from [`Config`](super::Config), and the hook
//! that draws memfd collection buffers in place.
//!
//! Dma-buf collection buffers need nothing here: their `wl_buffer`s carry a
//! smithay `Dmabuf` and take smithay's dmabuf path (`delegate_dmabuf!` in
//! handlers.rs). Memfd ones are drawn by [`AccordMemfdBuffers`] through the
//! `ForeignBuffers` hook, which wraps the mapped bytes (no copy: composition
//! reads them in place, counted in `bytes_composited`).

use accord_engine::{Decision, FormatModifier};
use accord_smithay::{BufferCollectionHandler, BufferCollectionState, ClientIdentity, MemfdBuffer};
use smithay::reexports::wayland_server::{
    protocol::{wl_buffer::WlBuffer, wl_surface::WlSurface},
    Client, DisplayHandle, Resource,
};

use super::{
    foreign::{ForeignBuffers, ForeignLayout},
    state::{ClientState, RefState},
};

impl BufferCollectionHandler for RefState {
    fn buffer_collection_state(&mut self) -> &mut BufferCollectionState {
        &mut self.buffer_collection_state
    }

    fn renderer_formats(&self) -> Vec<FormatModifier> {
        self.accord_renderer_formats.clone()
    }

    /// The renderer's card under GLES on KMS (a windowed surface's buffers
    /// must be importable by EGL there); none for Pixman or headless.
    fn renderer_device(&self) -> Option<u64> {
        self.screen.renderer_device()
    }

    /// The target's scanout pairs for the output `surface` is fullscreen
    /// on (none while it is windowed: composited; see `fullscreen.rs`):
    /// none headless; on KMS the primary plane's pairs the renderer also
    /// imports.
    fn scanout_formats(&self, surface: &WlSurface) -> Vec<FormatModifier> {
        self.scanout_output(surface)
            .and_then(|head| self.screen.head(head))
            .map(|target| target.scanout_pairs())
            .unwrap_or_default()
    }

    /// The target's card, when it offers `surface` planes: scanout buffers
    /// are made by it (Pixman, the renderer, names no device).
    fn scanout_device(&self, surface: &WlSurface) -> Option<u64> {
        let head = self.scanout_output(surface)?;
        self.screen.head(head)?.scanout_device()
    }

    /// The target's display confirms (on KMS: a `TEST_ONLY` commit of one
    /// buffer on the primary plane of the output the surface is
    /// fullscreen on).
    fn confirm_scanout(&mut self, surface: &WlSurface, decision: &Decision) -> Decision {
        let head = self.scanout_output(surface).unwrap_or(0);
        self.last_confirmed_head = Some(head);
        match self.screen.head_mut(head) {
            Some(target) => target.confirm_scanout(decision),
            None => decision.clone(),
        }
    }

    /// The buffer the confirmation above tested on the primary plane: it
    /// becomes the collection's buffer 0.
    fn take_scanout_probe(&mut self) -> Option<accord_smithay::collections::ScanoutProbe> {
        let head = self.last_confirmed_head.take()?;
        self.screen.head_mut(head)?.take_scanout_probe()
    }

    /// The identity the client was admitted under when it was accepted
    /// (`fds::admit`): its process, or the app of its security context.
    fn client_identity(&mut self, client: &Client, dh: &DisplayHandle) -> ClientIdentity {
        match client.get_data::<ClientState>() {
            Some(c) => c.identity().clone(),
            // Every client is inserted with `ClientState`; never reached.
            None => ClientIdentity::of_process(client, dh),
        }
    }
}
accord_smithay::delegate_buffer_collection!(RefState);

/// The embedder's budget settings of `config` (`--pending-handles-per-client`,
/// `--collections-per-client`, `--max-pending-handles`); what it leaves
/// `None` keeps the module's default.
pub(super) fn apply_budgets(state: &mut BufferCollectionState, config: &super::Config) {
    let defaults = state.client_budgets();
    state.set_client_budgets(accord_smithay::collections::Budgets {
        pending_handles: config
            .pending_handles_per_client
            .unwrap_or(defaults.pending_handles),
        collections: config
            .collections_per_client
            .unwrap_or(defaults.collections),
        ..defaults
    });
    if let Some(n) = config.max_pending_handles {
        state.set_max_pending_handles(n);
    }
}

/// Draws `wl_buffer`s of memfd collections by mapping them
/// ([`accord_smithay::with_memfd_buffer`]): read-only, shared, no copy.
#[derive(Debug, Default)]
pub struct AccordMemfdBuffers;

impl ForeignBuffers for AccordMemfdBuffers {
    fn claims(&self, buffer: &WlBuffer) -> bool {
        buffer.data::<MemfdBuffer>().is_some()
    }

    fn with_pixels(&self, buffer: &WlBuffer, f: &mut dyn FnMut(&[u8], ForeignLayout)) -> bool {
        accord_smithay::with_memfd_buffer(buffer, |bytes, info| {
            let (Ok(offset), Ok(stride)) =
                (usize::try_from(info.offset), usize::try_from(info.stride))
            else {
                return false;
            };
            f(
                bytes,
                ForeignLayout {
                    fourcc: info.format,
                    width: info.width,
                    height: info.height,
                    offset,
                    stride,
                },
            );
            true
        })
        .unwrap_or(false)
    }
}
