//! `wp_presentation` feedback and frame callbacks from the repaint that
//! showed a commit.
//!
//! A surface's feedback objects (smithay keeps them in the surface's cached
//! state) are taken after the repaint that put its commit on screen: the
//! headless output's repaint, or the frame queued for a page flip on KMS.
//! They are gathered into one [`FrameFeedback`] per output frame, which
//! sends `presented` when the frame reached the screen (headless: at the
//! repaint, with the output clock's time; KMS: from the page-flip event,
//! with the kernel's timestamp and sequence) and `discarded` if it never
//! did (the frame was dropped). A commit that replaces one whose feedback
//! was not taken yet discards that feedback (smithay's cached state does
//! it); the pre-commit hook of [`track_discards`] counts those.
//!
//! `ZERO_COPY` is set per surface exactly when the render element states
//! say its buffer was scanned out (`RenderElementPresentationState::
//! ZeroCopy`): direct scanout on KMS, never on the headless output.
//!
//! Counting: every feedback object ends as `presented` or `discarded`;
//! [`Counters`] adds them up in total and per surface, so a client's
//! commits with feedback equal presented plus discarded. Feedback of a
//! surface destroyed with an untaken commit is discarded by smithay
//! without passing through here, and is not counted (the surface is gone).

use std::{cell::RefCell, sync::Arc, time::Duration};

use smithay::{
    backend::renderer::element::{Id, RenderElementPresentationState, RenderElementStates},
    desktop::{utils::OutputPresentationFeedback, Space, Window},
    output::Output,
    reexports::{
        wayland_protocols::wp::presentation_time::server::wp_presentation_feedback::Kind,
        wayland_server::{protocol::wl_surface::WlSurface, Resource},
    },
    utils::{ClockSource, Monotonic, Time},
    wayland::{
        compositor::{add_destruction_hook, add_pre_commit_hook, with_states, SurfaceData},
        presentation::{PresentationFeedbackCachedState, Refresh},
    },
};

use super::{foreign, state::ClientState, Counters, RefState};

/// The presentation clock: `CLOCK_MONOTONIC`, as the kernel's page-flip
/// timestamps (smithay asks for monotonic ones).
pub const CLOCK_ID: u32 = Monotonic::ID as u32;

/// The name of a surface in the per-surface counters: its client's
/// identity and its protocol id, fixed when the surface is created (kept
/// in its data map, so it is still known while the client goes away).
/// Inside a surface-tree walk, give the `states` the walk holds (a nested
/// `with_states` would lock them twice).
pub fn surface_key(surface: &WlSurface, states: &SurfaceData) -> String {
    states
        .data_map
        .get::<SurfaceKey>()
        .map(|k| k.0.clone())
        .unwrap_or_else(|| new_key(surface))
}

struct SurfaceKey(String);

fn new_key(surface: &WlSurface) -> String {
    let who = surface
        .client()
        .and_then(|c| c.get_data::<ClientState>().map(|d| d.identity().to_string()))
        .unwrap_or_else(|| "gone".into());
    format!("{who}/wl_surface@{}", surface.id().protocol_id())
}

/// Counts the feedback a commit discards (the previous commit's, not shown
/// yet, replaced by one that asks for feedback: smithay's cached state
/// discards it on merge), and forgets the surface's counters when it dies.
pub fn track_discards(surface: &WlSurface) {
    let key = new_key(surface);
    let data_key = key.clone();
    with_states(surface, |states| {
        states
            .data_map
            .insert_if_missing_threadsafe(|| SurfaceKey(data_key))
    });
    let discard_key = key.clone();
    add_pre_commit_hook::<RefState, _>(surface, move |state, _, surface| {
        let replaced = with_states(surface, |states| {
            let mut cached = states.cached_state.get::<PresentationFeedbackCachedState>();
            if cached.pending().callbacks.is_empty() {
                0
            } else {
                cached.current().callbacks.len()
            }
        });
        if replaced > 0 {
            state
                .counters
                .frames_discarded(&discard_key, replaced as u64);
        }
    });
    add_destruction_hook::<RefState, _>(surface, move |state, _| {
        state.counters.forget_surface(&key);
    });
}

/// One surface's share of a frame's feedback.
struct Tally {
    key: String,
    feedbacks: u64,
    zero_copy: bool,
}

/// The feedback of every surface one output frame shows, until the frame
/// is presented or dropped.
pub struct FrameFeedback {
    feedback: OutputPresentationFeedback,
    tallies: Vec<Tally>,
    counters: Arc<Counters>,
    /// `presented` was sent; otherwise dropping discards.
    done: bool,
}

impl FrameFeedback {
    /// Takes the feedback of the surfaces `states` shows on `output`
    /// (each window's tree; a surface counts as shown when its element or
    /// its foreign buffer's was not skipped).
    pub fn collect(
        space: &Space<Window>,
        output: &Output,
        states: &RenderElementStates,
        counters: &Arc<Counters>,
    ) -> Self {
        let mut feedback = OutputPresentationFeedback::new(output);
        // The flags closure must be `Copy`: it shares the tallies.
        let tallies = RefCell::new(Vec::new());
        let tallies_ref = &tallies;
        for window in space.elements() {
            window.take_presentation_feedback(
                &mut feedback,
                |surface, data| {
                    let shown = states.element_was_presented(Id::from(surface))
                        || foreign::element_id(data)
                            .is_some_and(|id| states.element_was_presented(id));
                    shown.then(|| output.clone())
                },
                |surface, data| {
                    let zero_copy = states.element_render_state(Id::from(surface)).is_some_and(
                        |s| s.presentation_state == RenderElementPresentationState::ZeroCopy,
                    );
                    let feedbacks = data
                        .cached_state
                        .get::<PresentationFeedbackCachedState>()
                        .current()
                        .callbacks
                        .len() as u64;
                    if feedbacks > 0 {
                        tallies_ref.borrow_mut().push(Tally {
                            key: surface_key(surface, data),
                            feedbacks,
                            zero_copy,
                        });
                    }
                    if zero_copy {
                        Kind::ZeroCopy
                    } else {
                        Kind::empty()
                    }
                },
            );
        }
        Self {
            feedback,
            tallies: tallies.into_inner(),
            counters: counters.clone(),
            done: false,
        }
    }

    /// Sends `presented` to every feedback of the frame: `time` on the
    /// monotonic clock, the output's `refresh`, the frame's `seq`, and
    /// `flags` (plus `ZERO_COPY` for the surfaces scanned out).
    pub fn presented(mut self, time: Duration, refresh: Refresh, seq: u64, flags: Kind) {
        for t in &self.tallies {
            self.counters
                .frames_presented(&t.key, t.feedbacks, t.zero_copy);
        }
        self.feedback
            .presented(Time::<Monotonic>::from(time), refresh, seq, flags);
        self.done = true;
    }
}

impl Drop for FrameFeedback {
    fn drop(&mut self) {
        if !self.done {
            for t in &self.tallies {
                self.counters.frames_discarded(&t.key, t.feedbacks);
            }
            self.feedback.discarded();
        }
    }
}

/// Sends the frame callbacks of every window's surfaces (those asked for
/// with the commits just shown, or with commits that changed nothing).
/// `time` is on the presentation clock, so a client can compare a
/// callback's milliseconds with its feedback's timestamps.
pub fn send_frame_callbacks(space: &Space<Window>, output: &Output, time: Duration) {
    for window in space.elements() {
        // Throttle of zero: every surface with a pending callback gets it.
        window.send_frame(output, time, Some(Duration::ZERO), |_, _| {
            Some(output.clone())
        });
    }
}

/// The monotonic clock now.
pub fn now() -> Duration {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    Duration::new(ts.tv_sec.max(0) as u64, ts.tv_nsec.clamp(0, 999_999_999) as u32)
}

/// `mhz` as a refresh period (a bad mode gives `Unknown`).
pub fn refresh(mhz: i32) -> Refresh {
    match u64::try_from(mhz) {
        Ok(mhz) if mhz > 0 => Refresh::fixed(Duration::from_nanos(1_000_000_000_000 / mhz)),
        _ => Refresh::Unknown,
    }
}

/// Whole refresh periods of `mhz` in `elapsed` (0 for a bad mode).
pub fn periods(elapsed: Duration, mhz: i32) -> u64 {
    match u128::try_from(mhz) {
        Ok(mhz) if mhz > 0 => {
            let periods = elapsed.as_nanos().saturating_mul(mhz) / 1_000_000_000_000;
            u64::try_from(periods).unwrap_or(u64::MAX)
        }
        _ => 0,
    }
}
