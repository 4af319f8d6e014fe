//! Where each toplevel is shown, for the compositor's Accord participant:
//! trigger 1 of renegotiation.
//!
//! The participant a client attaches to a surface (`attach_surface`)
//! offers the primary plane's scanout pairs only for a surface that can be
//! scanned out, that is, one fullscreen on an output; a windowed toplevel
//! is composited, so it is offered the renderer's pairs alone (and the
//! compositor camps one buffer instead of two). Whenever that changes (a
//! toplevel becomes fullscreen, stops being fullscreen, or moves to
//! another output), [`RefState::set_shown`] records it and calls
//! `BufferCollectionState::surface_changed`, which re-derives the
//! participant's constraints and re-solves every collection attached to
//! the surface: a new generation when the decision changes, else
//! nothing (the module tells a kept decision to the participant that
//! proposed the change, here the compositor's own). The counters count
//! the collections told (`Running::surface_re_solves`).
//!
//! A toggle comes with a configure (a new size), and the client answers it
//! with constraints of its own (`recommit`). [`RefState::reshow`] therefore
//! uses `surface_reconfigured`: the re-solve waits for that answer, so the
//! compositor's change and the client's make one generation. The answer
//! is the client's re-commit; a client that keeps its constraints answers
//! by acknowledging the configure and committing
//! ([`RefState::configure_acked`], then [`RefState::shown_committed`]
//! releases the hold).
//!
//! A surface with no `xdg_toplevel` (not placed by this compositor) keeps
//! the first output's plane offer it always had: nothing says where it
//! would be shown, and it may still go fullscreen there.

use std::collections::HashMap;

use accord_smithay::BufferCollectionState;
use smithay::{
    output::Output,
    reexports::wayland_server::{
        backend::ObjectId,
        protocol::{wl_output::WlOutput, wl_surface::WlSurface},
        Resource,
    },
    utils::{Logical, Point, Serial},
    wayland::shell::xdg::ToplevelSurface,
};
use tracing::debug;

use super::state::RefState;

/// How a toplevel is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// Among other windows: composited.
    Windowed,
    /// Alone on output `output` (an index into the compositor's outputs):
    /// a candidate for that output's primary plane.
    Fullscreen { output: usize },
}

/// [`Shown`] per toplevel surface; a surface leaves when its toplevel is
/// destroyed.
#[derive(Debug, Default)]
pub struct ShownSurfaces {
    by_surface: HashMap<ObjectId, Shown>,
    /// The configure that announced a held change, per surface, and
    /// whether the client acknowledged it yet.
    answers: HashMap<ObjectId, Answer>,
    /// Where a toplevel goes once the client applies the configure that
    /// announced it ([`RefState::move_on_apply`]).
    moves: HashMap<ObjectId, PendingMove>,
}

/// A window's new place, waiting for the client to apply its configure.
#[derive(Debug, Clone, Copy)]
struct PendingMove {
    serial: Serial,
    acked: bool,
    location: Point<i32, Logical>,
}

/// A configure whose answer a held re-solve waits for.
#[derive(Debug, Clone, Copy)]
struct Answer {
    serial: Serial,
    acked: bool,
}

impl RefState {
    /// Records how `surface` is shown; when that changed, its Accord
    /// collections are re-solved (trigger 1). Returns whether it changed.
    pub fn set_shown(&mut self, surface: &WlSurface, shown: Shown) -> bool {
        self.record_shown(surface, shown, false).is_some()
    }

    /// A toplevel is shown differently and told so with a configure: its
    /// collections are re-solved once the client answered (module
    /// comment). Sends the configure once the initial one was sent (before
    /// that the first commit's configure carries the state, and nothing is
    /// allocated yet) and returns its serial.
    pub fn reshow(&mut self, toplevel: &ToplevelSurface, shown: Shown) -> Option<Serial> {
        let surface = toplevel.wl_surface();
        if !toplevel.is_initial_configure_sent() {
            self.set_shown(surface, shown);
            return None;
        }
        let told = self.record_shown(surface, shown, true);
        let serial = toplevel.send_configure();
        if told.is_some_and(|n| n > 0) {
            let answer = Answer {
                serial,
                acked: false,
            };
            self.shown.answers.insert(surface.id(), answer);
        }
        Some(serial)
    }

    /// Moves `toplevel`'s window to `location` when the client applies
    /// configure `serial` (its first commit after acknowledging it), or at
    /// once when no configure is outstanding (`None`): the window changes
    /// place together with the buffer drawn for its new state, in one
    /// frame, instead of showing the old buffer at the new place first.
    pub fn move_on_apply(
        &mut self,
        toplevel: &ToplevelSurface,
        serial: Option<Serial>,
        location: Point<i32, Logical>,
    ) {
        let surface = toplevel.wl_surface();
        match serial {
            Some(serial) => {
                let pending = PendingMove {
                    serial,
                    acked: false,
                    location,
                };
                self.shown.moves.insert(surface.id(), pending);
            }
            None => {
                self.shown.moves.remove(&surface.id());
                self.move_window(surface, location);
            }
        }
    }

    fn move_window(&mut self, surface: &WlSurface, location: Point<i32, Logical>) {
        if let Some(window) = self.window_for(surface) {
            self.space.map_element(window, location, true);
        }
    }

    /// Records how `surface` is shown; when that changed, re-solves its
    /// collections (`held` for the client's answer to a configure) and
    /// returns how many were told, else `None`.
    fn record_shown(&mut self, surface: &WlSurface, shown: Shown, held: bool) -> Option<usize> {
        let before = self.shown.by_surface.insert(surface.id(), shown);
        if before == Some(shown) {
            return None;
        }
        let told = if held {
            BufferCollectionState::surface_reconfigured(self, surface)
        } else {
            BufferCollectionState::surface_changed(self, surface)
        };
        self.counters.add_surface_re_solves(told);
        debug!(?before, now = ?shown, collections = told, held, "surface shown differently");
        Some(told)
    }

    /// The client acknowledged configure `serial` of `surface`: if that
    /// answers a held change, its next commit releases the hold.
    pub fn configure_acked(&mut self, surface: &WlSurface, serial: Serial) {
        if let Some(answer) = self.shown.answers.get_mut(&surface.id()) {
            if serial.is_no_older_than(&answer.serial) {
                answer.acked = true;
            }
        }
        if let Some(pending) = self.shown.moves.get_mut(&surface.id()) {
            if serial.is_no_older_than(&pending.serial) {
                pending.acked = true;
            }
        }
    }

    /// `surface` committed: after an acknowledged announcing configure, the
    /// client has answered (with a re-commit before this commit, or with
    /// none), and a change still held is solved now.
    pub fn shown_committed(&mut self, surface: &WlSurface) {
        let id = surface.id();
        if self.shown.moves.get(&id).is_some_and(|m| m.acked) {
            if let Some(m) = self.shown.moves.remove(&id) {
                self.move_window(surface, m.location);
            }
        }
        if self.shown.answers.get(&id).is_some_and(|a| a.acked) {
            self.shown.answers.remove(&id);
            BufferCollectionState::surface_configure_applied(self, surface);
        }
    }

    /// The toplevel of `surface` is gone.
    pub fn forget_shown(&mut self, surface: &WlSurface) {
        self.shown.by_surface.remove(&surface.id());
        self.shown.answers.remove(&surface.id());
        self.shown.moves.remove(&surface.id());
    }

    /// The output whose primary plane may scan `surface` out: the one it is
    /// fullscreen on; none while it is windowed; the first output for a
    /// surface that is no toplevel (see the module's comment).
    pub fn scanout_output(&self, surface: &WlSurface) -> Option<usize> {
        match self.shown.by_surface.get(&surface.id()) {
            Some(Shown::Fullscreen { output }) => Some(*output),
            Some(Shown::Windowed) => None,
            None => Some(0),
        }
    }

    /// The index of the output `wl_output` names (its global's output),
    /// else the first: `set_fullscreen` without an output, or with one
    /// this compositor does not know, lets the compositor choose.
    pub fn output_index(&self, wl_output: Option<&WlOutput>) -> usize {
        wl_output
            .and_then(Output::from_resource)
            .and_then(|wanted| self.outputs().iter().position(|o| *o == wanted))
            .unwrap_or(0)
    }
}
