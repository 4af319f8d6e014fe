//! When the compositor draws: on demand.
//!
//! A target paced by its display (KMS: a page flip completes) draws when
//! something changed and the display is free: a surface commit or a window
//! going away schedules a tick as an idle callback of the event loop (the
//! same loop iteration, no wakeup of its own); while a flip is pending the
//! tick finds the display busy and the flip's completion ticks again
//! ([`RefState::display_ready`]), as it does one refresh interval after a
//! composed frame unless a commit draws first: smithay draws the older
//! swapchain slot up to date then, and only that
//! frame lets go of what the plane showed two frames ago (a client's
//! scanned-out buffer stays referenced until it, as the fd census of the
//! camera tests sees when the player's window goes away). Nothing changed,
//! nothing runs: per direct-scanout frame the compositor wakes for the
//! commit and for the flip's completion.
//!
//! Other targets (headless) tick on the output's frame grid (`origin + k ×
//! interval`) while something may change and for [`IDLE_GRACE`] ticks
//! after, then stop until the next commit restarts the timer at the next
//! grid point, so a client sees the frame timing of a free-running timer.
//!
//! Why: a timer at the refresh rate woke the compositor 60 times a second
//! with nothing to draw — for a 5 fps camera, a dozen wakeups (each an
//! epoll wait, a timerfd re-arm, clock reads and a scene walk) per camera
//! frame, most of a direct-scanout frame's compositor CPU in the
//! real-kernel tier (BENCHMARKS.md, "Camera to display").
//!
//! Options that count ticks (`frames_limit`, a screenshot after N frames)
//! keep the timer running on every target: their frames are ticks, not
//! changes.
//!
//! `requested` is the one record of "something changed", for the timer and
//! for the repaint alike: the repaint (`RefState::tick`) clears it once it
//! drew, so a headless tick of the grace period draws nothing and sends no
//! frame callbacks; feedback and callbacks go out from the repaint (headless)
//! or the page flip (KMS) that showed a commit (`presentation.rs`). The grid
//! is also the headless output's refresh sequence ([`Repaint::slot`]).

use std::time::{Duration, Instant};

use smithay::reexports::calloop::{
    timer::{TimeoutAction, Timer},
    LoopHandle, RegistrationToken,
};
use tracing::warn;

use super::{state::RefState, target::FrameOutcome, Config, Error};

/// Ticks in a row with nothing to do before the timer stops.
pub const IDLE_GRACE: u32 = 3;

/// The frame timer's state.
#[derive(Debug)]
pub struct Repaint {
    /// The grid: frames are due at `origin + k × interval`.
    origin: Instant,
    interval: Duration,
    /// The timer is in the event loop.
    armed: bool,
    /// Something changed since the last repaint (the repaint clears it:
    /// `RefState::tick`).
    pub(super) requested: bool,
    /// Ticks in a row that found nothing to do.
    idle: u32,
    /// Never stop (a frame-counting option is set).
    free_running: bool,
    /// The display's flips pace the frames (see the module comment).
    display_paced: bool,
    /// A tick is scheduled as an idle callback.
    idle_scheduled: bool,
    /// The last tick's outcome.
    last: FrameOutcome,
    /// The timer of the draw that follows a composed frame, until it fires
    /// or another tick makes it needless.
    release_draw: Option<RegistrationToken>,
}

impl Repaint {
    /// The grid of `config`'s refresh rate, from now.
    pub fn new(config: &Config, display_paced: bool) -> Self {
        // 1 Hz to 1 kHz: a bad mode must neither stall clients nor spin the loop.
        let refresh_mhz = config.refresh_mhz.clamp(1_000, 1_000_000) as u64;
        Self {
            origin: Instant::now(),
            interval: Duration::from_micros(1_000_000_000 / refresh_mhz),
            armed: false,
            requested: true,
            idle: 0,
            free_running: config.frames_limit.is_some() || config.screenshot.is_some(),
            display_paced,
            idle_scheduled: false,
            last: FrameOutcome::Unchanged,
            release_draw: None,
        }
    }

    /// The grid slot `at` falls in (refresh periods since the origin): the
    /// headless output's refresh sequence, and the fallback of a display
    /// whose flips do not count vblanks.
    pub fn slot(&self, at: Instant) -> u64 {
        let elapsed = at.saturating_duration_since(self.origin).as_nanos();
        u64::try_from(elapsed / self.interval.as_nanos().max(1)).unwrap_or(u64::MAX)
    }

    /// The first grid point after `now`.
    fn next_after(&self, now: Instant) -> Instant {
        let elapsed = now.saturating_duration_since(self.origin).as_nanos();
        let step = self.interval.as_nanos().max(1);
        let k = elapsed / step + 1;
        // At 1 Hz, u64 nanoseconds last for 584 years of grid.
        self.origin + Duration::from_nanos(u64::try_from(k * step).unwrap_or(u64::MAX))
    }
}

/// Puts the frame timer in the loop, first due at the next grid point.
pub fn arm(handle: &LoopHandle<'static, RefState>, state: &mut RefState) -> Result<(), Error> {
    let first = state.repaint.next_after(Instant::now());
    handle
        .insert_source(Timer::from_deadline(first), |_, _, state| {
            // The repaint clears `requested` once it drew (render.rs).
            let outcome = state.tick();
            let r = &mut state.repaint;
            r.last = outcome;
            if r.display_paced && !r.free_running {
                // From the first frame on, commits and flips drive it.
                if outcome == FrameOutcome::Busy {
                    r.requested = true;
                }
                r.armed = false;
                return TimeoutAction::Drop;
            }
            if outcome != FrameOutcome::Unchanged || r.requested || r.free_running {
                r.idle = 0;
            } else {
                r.idle += 1;
            }
            if r.idle >= IDLE_GRACE {
                r.armed = false;
                return TimeoutAction::Drop;
            }
            // After a stall, skip missed frames instead of bursting.
            TimeoutAction::ToInstant(r.next_after(Instant::now()))
        })
        .map_err(|e| e.error)?;
    state.repaint.armed = true;
    Ok(())
}

impl RefState {
    /// Something the output shows may have changed: draw at the next grid
    /// point.
    pub fn request_repaint(&mut self) {
        self.repaint.requested = true;
        let r = &self.repaint;
        if r.armed || r.idle_scheduled {
            return;
        }
        let Some(handle) = (self.loop_handle)() else {
            return;
        };
        if !r.display_paced {
            if let Err(err) = arm(&handle, self) {
                warn!(%err, "cannot start the frame timer");
            }
            return;
        }
        self.repaint.idle_scheduled = true;
        handle.insert_idle(|state| {
            state.repaint.idle_scheduled = false;
            state.paced_tick();
        });
    }

    /// The display took the last frame (its flip completed): draw again if
    /// something changed meanwhile, or one refresh interval later if the
    /// last frame was composed.
    pub fn display_ready(&mut self) {
        let r = &self.repaint;
        if !r.display_paced || r.armed {
            return;
        }
        if r.requested {
            self.paced_tick();
        } else if r.last == FrameOutcome::Composited && r.release_draw.is_none() {
            // Not at once: the flip just sent the frame callbacks, and a
            // client composing at the display's rate commits within the
            // interval; its frame draws the older slot up to date too.
            // Drawing at once made each client frame wait for the extra
            // draw's flip (half the display's rate) and compose twice.
            let Some(handle) = (self.loop_handle)() else {
                return;
            };
            let timer = Timer::from_duration(self.repaint.interval);
            match handle.insert_source(timer, |_, _, state| {
                state.repaint.release_draw = None;
                state.paced_tick();
                TimeoutAction::Drop
            }) {
                Ok(token) => self.repaint.release_draw = Some(token),
                Err(err) => {
                    warn!(err = %err.error, "cannot schedule the draw after a composed frame");
                    self.paced_tick();
                }
            }
        }
    }

    fn paced_tick(&mut self) {
        // A draw now makes the pending draw after a composed frame needless.
        if let Some(token) = self.repaint.release_draw.take() {
            if let Some(handle) = (self.loop_handle)() {
                handle.remove(token);
            }
        }
        let outcome = self.tick();
        // Busy: the flip's completion ticks again.
        if outcome == FrameOutcome::Busy {
            self.repaint.requested = true;
        }
        self.repaint.last = outcome;
    }
}
