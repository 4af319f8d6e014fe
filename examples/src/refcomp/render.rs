//! One frame: compose the space into the target, then tell clients to draw the next.

use std::time::Duration;

use tracing::{info, warn};

use super::{state::RefState, Error};

/// The output's background, RGBA8. Tests compare read-back pixels to it.
pub const BACKGROUND: [u8; 4] = [0x33, 0x33, 0x4c, 0xff];

impl RefState {
    /// Renders one frame, sends frame callbacks, and handles the screenshot
    /// and frame-limit options. Called by the frame timer.
    pub fn tick(&mut self) {
        match self.render_frame() {
            Ok(()) => self.last_render_error = None,
            Err(err) => {
                // Once per distinct error, not 60 times a second.
                let message = err.to_string();
                if self.last_render_error.as_ref() != Some(&message) {
                    warn!(%message, "rendering failed");
                    self.last_render_error = Some(message);
                }
            }
        }
        let frames = self.counters.frame_rendered();
        self.send_frame_callbacks();
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

    fn render_frame(&mut self) -> Result<(), Error> {
        let (space, output, tracker) = (&self.space, &self.output, &mut self.damage_tracker);
        let background = BACKGROUND.map(|c| f32::from(c) / 255.0);
        self.target
            .render_frame(&mut self.renderer, &mut |renderer, framebuffer, age| {
                let elements = space.render_elements_for_output(renderer, output, 1.0)?;
                tracker.render_output(renderer, framebuffer, age, &elements, background)?;
                Ok(())
            })
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
