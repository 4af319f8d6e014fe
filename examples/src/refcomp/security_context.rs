//! `wp_security_context_v1`: a sandbox engine hands the compositor a
//! listening socket for one app, tagged with its engine and app id; the
//! app's clients connect there instead of to the main socket.
//!
//! Smithay's module parses the requests and gives us each committed
//! context's [`SecurityContextListenerSource`]. We insert it wrapped in a
//! [`ContextListener`], for two reasons:
//!
//! - **One accept path.** Every accepted socket goes through
//!   [`fds::admit`]: fd headroom, the connection budget (under the app's
//!   identity, `App { engine, app_id }`, so all its processes and
//!   connections share one set of budgets; without an app id, its process),
//!   and the client created with the context in its [`ClientState`]. Out of
//!   fds, the listener backs off as the main one does; sockets smithay's
//!   source still accepts in that same turn are closed.
//! - **No error ends the loop.** Smithay's source returns `accept`'s
//!   errors, and calloop's `run` returns the first error a source gives: a
//!   client passing a pipe as `listen_fd` (`ENOTSOCK`) or the compositor
//!   running out of fds (`EMFILE`) would stop the compositor. The wrapper
//!   hands errors to its callback instead: out of fds backs off, anything
//!   else removes that one listener.
//!
//! A listener holds two fds for as long as its `close_fd` stays open, so it
//! is charged to its creator's connection budget like a connection: a
//! client cannot pile up listeners without bound.
//!
//! The global is hidden from clients that came through a security context
//! (the filter in `RefState::new`), as the protocol requires.

use std::{io, os::unix::net::UnixStream};

use accord_smithay::{ClientIdentity, ConnectionTicket};
use smithay::{
    delegate_security_context,
    reexports::calloop::{
        self, EventSource, LoopHandle, Poll, PostAction, Readiness, Token, TokenFactory,
    },
    wayland::security_context::{
        SecurityContext, SecurityContextHandler, SecurityContextListenerSource,
    },
};

use super::{
    fds::{self, Backoff, OutOfFds},
    state::{ClientState, RefState},
};

impl SecurityContextHandler for RefState {
    fn context_created(&mut self, source: SecurityContextListenerSource, context: SecurityContext) {
        let creator_id = context.creator_client_id.clone();
        let creator = self
            .display_handle
            .backend_handle()
            .get_client_data(creator_id.clone())
            .ok()
            .and_then(|data| {
                let data: &ClientState = data.downcast_ref()?;
                Some(data.identity().clone())
            })
            // Every client is inserted with `ClientState`; never reached.
            .unwrap_or(ClientIdentity::Connection(creator_id));
        let ticket = match self.connection_budget.admit(creator) {
            Ok(ticket) => ticket,
            Err(over) => {
                // Dropping the source closes both fds: the sandbox's
                // clients find nobody listening.
                accord_smithay::warn_limited!(self.log_limit, "security-context listener refused", reason = %over);
                return;
            }
        };
        let Some(handle) = (self.loop_handle)() else {
            return; // the loop is going away
        };
        if let Err(err) = insert(&handle, source, context, ticket) {
            accord_smithay::warn_limited!(self.log_limit, "cannot listen on a security context", %err);
        }
    }
}
delegate_security_context!(RefState);

/// Inserts a context's listener: its sockets go through [`fds::admit`] as
/// clients of `context`; it backs off when out of fds and is removed on
/// any other error or when its `close_fd` fires.
fn insert(
    handle: &LoopHandle<'static, RefState>,
    source: SecurityContextListenerSource,
    context: SecurityContext,
    ticket: ConnectionTicket,
) -> Result<(), calloop::Error> {
    let backoff = Backoff::new();
    let shared = backoff.clone();
    // Weak, as in `fds::insert_listener`: a strong handle in a source keeps
    // its own loop alive.
    let loop_handle = handle.downgrade();
    let listener = ContextListener {
        inner: source,
        _ticket: ticket,
    };
    let token = handle
        .insert_source(listener, move |event, _, state| {
            let Some(handle) = loop_handle.upgrade() else {
                return PostAction::Disable; // the loop is going away
            };
            let cause = match event {
                Accepted::Stream(stream) => {
                    match fds::admit(stream, Some(context.clone()), state, &shared) {
                        Some(cause) => cause,
                        None => return PostAction::Continue,
                    }
                }
                Accepted::Error(err) if fds::is_out_of_fds(&err) => OutOfFds::Accept,
                Accepted::Error(err) => {
                    accord_smithay::warn_limited!(state.log_limit, "security-context listener failed: removed", %err);
                    return PostAction::Remove;
                }
            };
            fds::back_off(cause, state, &handle, &shared)
        })
        .map_err(|e| e.error)?;
    backoff.borrow_mut().set_token(token);
    Ok(())
}

/// What a [`ContextListener`] hands its callback.
enum Accepted {
    Stream(UnixStream),
    /// `accept` failed; the callback decides: back off or remove.
    Error(io::Error),
}

/// Smithay's listener source, with `accept` errors handed to the callback
/// instead of returned to the loop, and the callback's `PostAction` (back
/// off, remove) applied. Holds the creator's connection ticket while it
/// lives.
struct ContextListener {
    inner: SecurityContextListenerSource,
    _ticket: ConnectionTicket,
}

impl EventSource for ContextListener {
    type Event = Accepted;
    type Metadata = ();
    type Ret = PostAction;
    type Error = io::Error;

    fn process_events<F>(
        &mut self,
        readiness: Readiness,
        token: Token,
        mut callback: F,
    ) -> io::Result<PostAction>
    where
        F: FnMut(Accepted, &mut ()) -> PostAction,
    {
        let mut after = PostAction::Continue;
        let inner = self.inner.process_events(readiness, token, |stream, _| {
            if matches!(after, PostAction::Continue) {
                after = callback(Accepted::Stream(stream), &mut ());
            }
            // Else backing off already: `stream` is dropped, closed.
        });
        match inner {
            // The close fd fired: the context is over.
            Ok(PostAction::Remove) => Ok(PostAction::Remove),
            Ok(_) => Ok(after),
            Err(err) if matches!(after, PostAction::Continue) => {
                Ok(callback(Accepted::Error(err), &mut ()))
            }
            Err(_) => Ok(after),
        }
    }

    fn register(&mut self, poll: &mut Poll, factory: &mut TokenFactory) -> calloop::Result<()> {
        self.inner.register(poll, factory)
    }

    fn reregister(&mut self, poll: &mut Poll, factory: &mut TokenFactory) -> calloop::Result<()> {
        self.inner.reregister(poll, factory)
    }

    fn unregister(&mut self, poll: &mut Poll) -> calloop::Result<()> {
        self.inner.unregister(poll)
    }
}
