//! The client side of `wp_presentation`: what each commit's feedback
//! said, in the order the commits were made.
//!
//! A client asks for one `wp_presentation_feedback` per commit
//! ([`FeedbackLog::request`]); each ends in exactly one `presented` or
//! `discarded` event. The log keeps them by commit, so a test can check
//! that every commit got its answer, which ones were shown directly
//! (`ZERO_COPY`), and that timestamps and sequences increase.

use wayland_client::{protocol::wl_surface::WlSurface, Connection, Dispatch, QueueHandle, WEnum};
use wayland_protocols::wp::presentation_time::client::{
    wp_presentation::{self, WpPresentation},
    wp_presentation_feedback::{self, Kind, WpPresentationFeedback},
};

/// How one commit's feedback ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Not answered yet.
    Pending,
    Presented {
        /// Nanoseconds on the presentation clock.
        time_ns: u128,
        /// The output's refresh period in nanoseconds (0: unknown).
        refresh_ns: u32,
        seq: u64,
        flags: u32,
    },
    Discarded,
}

impl Outcome {
    pub fn zero_copy(&self) -> bool {
        matches!(self, Outcome::Presented { flags, .. } if flags & Kind::ZeroCopy.bits() != 0)
    }
}

/// Each commit's feedback, by commit number (the index).
#[derive(Debug, Default)]
pub struct FeedbackLog {
    pub outcomes: Vec<Outcome>,
    /// The clock id `wp_presentation.clock_id` announced.
    pub clock_id: Option<u32>,
}

/// Totals over a log (or part of it).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FeedbackSummary {
    pub requested: u64,
    pub presented: u64,
    pub discarded: u64,
    pub zero_copy: u64,
}

impl FeedbackLog {
    /// Asks for the feedback of `surface`'s next commit; call right before
    /// the commit.
    pub fn request<S>(
        &mut self,
        presentation: &WpPresentation,
        surface: &WlSurface,
        qh: &QueueHandle<S>,
    ) where
        S: Dispatch<WpPresentationFeedback, usize> + 'static,
    {
        presentation.feedback(surface, qh, self.outcomes.len());
        self.outcomes.push(Outcome::Pending);
    }

    /// Totals of the commits from `from` on.
    pub fn summary_from(&self, from: usize) -> FeedbackSummary {
        let mut s = FeedbackSummary::default();
        for o in self.outcomes.iter().skip(from) {
            s.requested += 1;
            match o {
                Outcome::Presented { .. } => {
                    s.presented += 1;
                    s.zero_copy += u64::from(o.zero_copy());
                }
                Outcome::Discarded => s.discarded += 1,
                Outcome::Pending => {}
            }
        }
        s
    }

    /// Whether every feedback from `from` on has been answered.
    pub fn answered_from(&self, from: usize) -> bool {
        self.outcomes
            .iter()
            .skip(from)
            .all(|o| *o != Outcome::Pending)
    }

    /// Checks the presented ones from `from` on: time and sequence strictly
    /// increasing, and with `spacing`, each step's time within one refresh
    /// period of its sequence step times the refresh (what an output with a
    /// fixed clock gives; not virtio-gpu under TCG, whose page flips have
    /// no vblank to keep to).
    pub fn check_timestamps_from(&self, from: usize, spacing: bool) -> Result<(), String> {
        let presented: Vec<(u128, u32, u64)> = self
            .outcomes
            .iter()
            .skip(from)
            .filter_map(|o| match *o {
                Outcome::Presented {
                    time_ns,
                    refresh_ns,
                    seq,
                    ..
                } => Some((time_ns, refresh_ns, seq)),
                _ => None,
            })
            .collect();
        for pair in presented.windows(2) {
            let ((t0, refresh, s0), (t1, _, s1)) = (pair[0], pair[1]);
            if t1 <= t0 || s1 <= s0 {
                return Err(format!(
                    "presentation went backwards or stood still: ({t0} ns, seq {s0}) then \
                     ({t1} ns, seq {s1})"
                ));
            }
            if spacing && refresh > 0 {
                let expected = u128::from(s1 - s0) * u128::from(refresh);
                let step = t1 - t0;
                if step.abs_diff(expected) > u128::from(refresh) {
                    return Err(format!(
                        "{step} ns between presentations {s0} and {s1}, expected {expected} \
                         ± {refresh} ns (refresh {refresh} ns)"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// What keeps a [`FeedbackLog`] in a client's state.
pub trait PresentationEvents {
    fn feedback_log(&mut self) -> &mut FeedbackLog;
}

/// The delegate type: `delegate_dispatch!(State: [WpPresentation: (),
/// WpPresentationFeedback: usize] => FeedbackDelegate)`.
pub struct FeedbackDelegate;

impl<S> Dispatch<WpPresentation, (), S> for FeedbackDelegate
where
    S: Dispatch<WpPresentation, ()> + PresentationEvents,
{
    fn event(
        state: &mut S,
        _: &WpPresentation,
        event: wp_presentation::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<S>,
    ) {
        if let wp_presentation::Event::ClockId { clk_id } = event {
            state.feedback_log().clock_id = Some(clk_id);
        }
    }
}

impl<S> Dispatch<WpPresentationFeedback, usize, S> for FeedbackDelegate
where
    S: Dispatch<WpPresentationFeedback, usize> + PresentationEvents,
{
    fn event(
        state: &mut S,
        _: &WpPresentationFeedback,
        event: wp_presentation_feedback::Event,
        commit: &usize,
        _: &Connection,
        _: &QueueHandle<S>,
    ) {
        let outcome = match event {
            wp_presentation_feedback::Event::Presented {
                tv_sec_hi,
                tv_sec_lo,
                tv_nsec,
                refresh,
                seq_hi,
                seq_lo,
                flags,
            } => {
                let secs = (u64::from(tv_sec_hi) << 32) | u64::from(tv_sec_lo);
                Outcome::Presented {
                    time_ns: u128::from(secs) * 1_000_000_000 + u128::from(tv_nsec),
                    refresh_ns: refresh,
                    seq: (u64::from(seq_hi) << 32) | u64::from(seq_lo),
                    flags: match flags {
                        WEnum::Value(k) => k.bits(),
                        WEnum::Unknown(bits) => bits,
                    },
                }
            }
            wp_presentation_feedback::Event::Discarded => Outcome::Discarded,
            _ => return,
        };
        if let Some(slot) = state.feedback_log().outcomes.get_mut(*commit) {
            *slot = outcome;
        }
    }
}
