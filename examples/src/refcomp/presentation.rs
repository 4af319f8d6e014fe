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
//! it).
//!
//! `ZERO_COPY` is set per surface exactly when the render element states
//! say its buffer was scanned out (`RenderElementPresentationState::
//! ZeroCopy`): direct scanout on KMS, never on the headless output.
//!
//! Counting ([`Counters`], in total and per surface) is by content update,
//! whether or not the client asked for feedback: a commit that attaches a
//! buffer or damages the surface is presented once the first frame showing
//! it reaches the screen (with `ZERO_COPY` if scanned out), or discarded
//! when another update replaces it first or its frame is dropped. For a
//! client asking feedback for each such commit, the counts equal the
//! `presented` and `discarded` events it receives. An update of a surface
//! destroyed before it was shown is not counted (the surface is gone).

use std::{
    cell::RefCell,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

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
        compositor::{
            add_destruction_hook, with_states, BufferAssignment, SurfaceAttributes, SurfaceData,
        },
        presentation::Refresh,
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
        .and_then(|c| {
            c.get_data::<ClientState>()
                .map(|d| d.identity().to_string())
        })
        .unwrap_or_else(|| "gone".into());
    format!("{who}/wl_surface@{}", surface.id().protocol_id())
}

/// Names the surface for the counters, and forgets its counters when it
/// dies.
pub fn track_surface(surface: &WlSurface) {
    let key = new_key(surface);
    let data_key = key.clone();
    with_states(surface, |states| {
        states
            .data_map
            .insert_if_missing_threadsafe(|| SurfaceKey(data_key))
    });
    add_destruction_hook::<RefState, _>(surface, move |state, surface| {
        // A content update the surface went away with before any frame
        // showed it was discarded: every update counts once, presented or
        // discarded (a client that exits right after its last commit).
        let unshown = with_states(surface, |states| {
            states
                .data_map
                .get::<Unshown>()
                .is_some_and(|u| u.0.swap(0, Ordering::Relaxed) != 0)
        });
        if unshown {
            state.counters.frames_discarded(&key, 1);
        }
        state.counters.forget_surface(&key);
    });
}

/// A surface's latest content update still waiting to be shown: 0 for
/// none, else the number of the first repaint that can show it (the
/// repaints started when it was committed, plus one).
#[derive(Default)]
struct Unshown(AtomicU64);

/// Called at each commit, before the buffer handlers, with the number of
/// the next repaint: a commit that attaches a buffer or damages the
/// surface is a content update; one that comes while the previous update
/// was never shown replaces it, which counts that one as discarded.
pub fn on_commit(counters: &Counters, surface: &WlSurface, next_repaint: u64) {
    with_states(surface, |states| {
        let new_content = {
            let mut attrs = states.cached_state.get::<SurfaceAttributes>();
            let current = attrs.current();
            matches!(current.buffer, Some(BufferAssignment::NewBuffer(_)))
                || !current.damage.is_empty()
        };
        if !new_content {
            return;
        }
        let unshown = states.data_map.get_or_insert_threadsafe(Unshown::default);
        if unshown.0.swap(next_repaint.max(1), Ordering::Relaxed) != 0 {
            counters.frames_discarded(&surface_key(surface, states), 1);
        }
    });
}

/// One surface's share of a frame's feedback.
struct Tally {
    key: String,
    zero_copy: bool,
}

/// The feedback of every surface one output frame shows, until the frame
/// is presented or dropped.
pub struct FrameFeedback {
    feedback: OutputPresentationFeedback,
    tallies: Vec<Tally>,
    counters: Arc<Counters>,
    /// The repaint that made this frame.
    repaint: u64,
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
        repaint: u64,
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
                    let zero_copy =
                        states
                            .element_render_state(Id::from(surface))
                            .is_some_and(|s| {
                                s.presentation_state == RenderElementPresentationState::ZeroCopy
                            });
                    let new_content = data
                        .data_map
                        .get::<Unshown>()
                        .is_some_and(|u| u.0.swap(0, Ordering::Relaxed) != 0);
                    if new_content {
                        tallies_ref.borrow_mut().push(Tally {
                            key: surface_key(surface, data),
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
            repaint,
            done: false,
        }
    }

    /// The repaint that made this frame.
    pub fn repaint(&self) -> u64 {
        self.repaint
    }

    /// Sends `presented` to every feedback of the frame: `time` on the
    /// monotonic clock, the output's `refresh`, the frame's `seq`, and
    /// `flags` (plus `ZERO_COPY` for the surfaces scanned out).
    pub fn presented(mut self, time: Duration, refresh: Refresh, seq: u64, flags: Kind) {
        for t in &self.tallies {
            self.counters.frames_presented(&t.key, 1, t.zero_copy);
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
                self.counters.frames_discarded(&t.key, 1);
            }
            self.feedback.discarded();
        }
    }
}

/// Sends the frame callbacks of every window's surfaces (those asked for
/// with the commits just shown, or with commits that changed nothing) once
/// `repaint`'s frame is on screen. A surface whose content update came
/// after that repaint started waits for the frame that shows it (on KMS a
/// commit can arrive while a frame waits for its flip); without a repaint
/// number, every surface gets its callbacks. `time` is on the presentation
/// clock, so a client can compare a callback's milliseconds with its
/// feedback's timestamps. Only the windows on `output` are visited: each
/// output paces its own windows.
pub fn send_frame_callbacks(
    space: &Space<Window>,
    output: &Output,
    time: Duration,
    repaint: Option<u64>,
) {
    let area = space.output_geometry(output);
    for window in space.elements() {
        if area.is_some_and(|area| !super::render::on_output(space, window, area)) {
            continue;
        }
        window.send_frame(output, time, None, |_, states| {
            let later = states
                .data_map
                .get::<Unshown>()
                .map(|u| u.0.load(Ordering::Relaxed))
                .is_some_and(|first| repaint.is_some_and(|r| first > r));
            (!later).then(|| output.clone())
        });
    }
}

/// The monotonic clock now.
pub fn now() -> Duration {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    Duration::new(
        ts.tv_sec.max(0) as u64,
        ts.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

/// `mhz` as a refresh period (a bad mode gives `Unknown`).
pub fn refresh(mhz: i32) -> Refresh {
    match u64::try_from(mhz) {
        Ok(mhz) if mhz > 0 => Refresh::fixed(Duration::from_nanos(1_000_000_000_000 / mhz)),
        _ => Refresh::Unknown,
    }
}
