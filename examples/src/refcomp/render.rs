//! One frame: compose the space into the target, then tell clients to draw the next.

use std::{sync::Arc, time::Duration};

use smithay::{
    backend::renderer::{
        element::{render_elements, surface::WaylandSurfaceRenderElement, AsRenderElements},
        pixman::PixmanRenderer,
    },
    desktop::{Space, Window},
    wayland::dmabuf::SurfaceDmabufFeedbackState,
};
use tracing::{info, warn};

use super::{
    foreign::{self, ForeignBuffers, ForeignElement},
    state::RefState,
    target::FrameOutcome,
    Counters, Error,
};

render_elements! {
    /// What an output frame is made of.
    pub OutputElement<=PixmanRenderer>;
    Surface=WaylandSurfaceRenderElement<PixmanRenderer>,
    Foreign=ForeignElement,
}

/// The windows' elements, topmost first. The output sits at (0, 0) with
/// scale 1, so space and output coordinates coincide. Each window's foreign
/// buffer (if its toplevel surface shows one) is drawn under its subsurfaces
/// and popups.
fn scene_elements(
    space: &Space<Window>,
    foreign: Option<&Arc<dyn ForeignBuffers>>,
    counters: &Arc<Counters>,
    renderer: &mut PixmanRenderer,
) -> Vec<OutputElement> {
    let mut elements = Vec::new();
    for window in space.elements().rev() {
        let Some(location) = space.element_location(window) else {
            continue;
        };
        let location = (location - window.geometry().loc).to_physical(1);
        elements.extend(AsRenderElements::<PixmanRenderer>::render_elements::<
            OutputElement,
        >(window, renderer, location, 1.0.into(), 1.0));
        let toplevel = window.toplevel().map(|t| t.wl_surface());
        if let (Some(hook), Some(surface)) = (foreign, toplevel) {
            elements.extend(
                foreign::element(hook, counters, surface, location).map(OutputElement::from),
            );
        }
    }
    elements
}

/// The output's background, RGBA8. Tests compare read-back pixels to it.
pub const BACKGROUND: [u8; 4] = [0x33, 0x33, 0x4c, 0xff];

impl RefState {
    /// Renders one frame, sends frame callbacks, and handles the screenshot
    /// and frame-limit options. Called by the frame timer.
    pub fn tick(&mut self) {
        let outcome = match self.render_frame() {
            Ok(outcome) => {
                self.last_render_error = None;
                outcome
            }
            Err(err) => {
                // Once per distinct error, not 60 times a second.
                let message = err.to_string();
                if self.last_render_error.as_ref() != Some(&message) {
                    warn!(%message, "rendering failed");
                    self.last_render_error = Some(message);
                }
                FrameOutcome::Unchanged
            }
        };
        if outcome == FrameOutcome::Busy {
            // The display has not taken the last frame yet.
            return;
        }
        tracing::debug!(
            ?outcome,
            commits = self.counters.snapshot().surface_commits,
            "frame"
        );
        self.counters.frame_presented(outcome);
        let frames = self.counters.frame_rendered();
        self.send_frame_callbacks();
        self.update_surface_feedback();
        self.space.refresh();
        self.popups.cleanup();

        if let Some(shot) = &self.config.screenshot {
            if shot.after_frames == frames {
                let (path, exit) = (shot.path.clone(), shot.exit_after);
                match self
                    .target
                    .read_pixels(&mut self.renderer)
                    .and_then(|s| s.write_png(&path))
                {
                    Ok(()) => println!("accord-compositor: wrote screenshot {}", path.display()),
                    Err(err) => warn!(%err, path = %path.display(), "screenshot failed"),
                }
                if exit {
                    self.loop_signal.stop();
                }
            }
        }
        if self
            .config
            .frames_limit
            .is_some_and(|limit| frames >= limit)
        {
            info!(frames, "frame limit reached");
            self.loop_signal.stop();
        }
    }

    fn render_frame(&mut self) -> Result<FrameOutcome, Error> {
        let background = BACKGROUND.map(|c| f32::from(c) / 255.0);
        let elements = scene_elements(
            &self.space,
            self.foreign.as_ref(),
            &self.counters,
            &mut self.renderer,
        );
        self.target.render_scene(
            &mut self.renderer,
            &elements,
            background,
            &mut self.damage_tracker,
        )
    }

    /// Sends each surface that asked for dmabuf feedback the one the
    /// target picks after this frame (smithay sends it only on a change):
    /// on KMS, the scanout tranche once its buffer is or could be on the
    /// primary plane.
    fn update_surface_feedback(&self) {
        for window in self.space.elements() {
            window.with_surfaces(|surface, states| {
                if let (Some(state), Some(feedback)) = (
                    SurfaceDmabufFeedbackState::from_states(states),
                    self.target.surface_feedback(surface),
                ) {
                    state.set_feedback(feedback);
                }
            });
        }
    }

    fn send_frame_callbacks(&self) {
        let time = self.start_time.elapsed();
        let output = &self.output;
        for window in self.space.elements() {
            // Throttle of zero: every visible surface gets a callback each frame.
            window.send_frame(output, time, Some(Duration::ZERO), |_, _| {
                Some(output.clone())
            });
        }
    }
}
