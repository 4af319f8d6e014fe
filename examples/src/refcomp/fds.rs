//! The process's fd limit, and accepting clients only with fd headroom.
//!
//! At start the compositor raises its soft `RLIMIT_NOFILE` to the hard
//! limit ([`raise_fd_limit`]), as desktop compositors do; [`fd_limit`] is the
//! figure the embedder sizes its fd budgets from.
//!
//! [`insert_listener`] accepts on our own `ListeningSocket` instead of
//! Smithay's `ListeningSocketSource`, for three reasons:
//!
//! - **Headroom.** A client costs two fds: the accepted socket and
//!   libwayland's `dup` of it for its event source (`wl_client_create` →
//!   `wl_event_loop_add_fd` → `wl_os_dupfd_cloexec`). A client is only
//!   created when, after accepting it, [`CLIENT_FD_HEADROOM`] fds are free
//!   (probed by `dup`ing the socket that many times and closing the copies);
//!   otherwise the socket is closed at once (the client sees its connection
//!   closed) and the listener backs off. The reserve beyond libwayland's
//!   one `dup` keeps room for the compositor's work for clients it already
//!   serves.
//! - **The upstream leak.** wayland-backend 0.3 (sys backend,
//!   `ErasedState::insert_client` in `src/sys/server_impl/mod.rs`) hands
//!   `stream.into_raw_fd()` to `wl_client_create`; when that fails (EMFILE in
//!   its `dup`) the fd is owned by nobody and never closed. We take it back
//!   and close it ([`close_if_still_ours`]).
//! - **No spinning.** When `accept` fails for lack of fds, the pending
//!   connection stays queued and the level-triggered listener would wake the
//!   loop again at once, forever. Instead the listener is disabled and
//!   re-enabled by a timer after [`BACKOFF_MIN`], doubling up to
//!   [`BACKOFF_MAX`], reset by the next client created. Each cause logs
//!   through the rate limiter (`warn_limited!`), not a line per failure.
//! - **A connection budget per identity.** After the headroom check the
//!   socket's identity (its process by `SO_PEERCRED`, or the app of the
//!   security context it came through) is admitted to the
//!   [`ConnectionBudget`](accord_smithay::ConnectionBudget); over budget the
//!   socket is closed and a rate-limited warning names the identity. The
//!   listener does not back off for this: other identities are still
//!   served. The ticket and the security context go into the client's
//!   [`ClientState`], where the buffer-collection handler reads the
//!   identity back.
//!
//! [`admit`] is the one path from an accepted socket to a client, for the
//! main listener and for security-context listeners (`security_context.rs`)
//! alike.

use std::{
    cell::RefCell,
    os::{
        fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd},
        unix::net::UnixStream,
    },
    rc::Rc,
    sync::Arc,
    time::Duration,
};

use accord_smithay::ClientIdentity;
use rustix::{
    io::Errno,
    process::{getrlimit, setrlimit, Resource, Rlimit},
};
use smithay::{
    reexports::{
        calloop::{
            generic::Generic,
            timer::{TimeoutAction, Timer},
            Interest, LoopHandle, Mode, PostAction, RegistrationToken,
        },
        wayland_server::ListeningSocket,
    },
    wayland::security_context::SecurityContext,
};
use tracing::{info, warn};

use super::{ClientState, Error, RefState};

/// Free fds needed, after `accept`, to create a client: one for libwayland's
/// `dup` of the socket, the rest a reserve for serving existing clients.
pub const CLIENT_FD_HEADROOM: usize = 16;
/// The listener's first back-off delay after running out of fds.
pub const BACKOFF_MIN: Duration = Duration::from_millis(10);
/// The longest back-off delay.
pub const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Raises the soft `RLIMIT_NOFILE` to the hard limit and logs
/// `fd limit: soft S → H`; returns the soft limit now in force (`None`:
/// unlimited). Idempotent; a failure is logged and leaves the limit as it
/// was.
pub fn raise_fd_limit() -> Option<u64> {
    let before = getrlimit(Resource::Nofile);
    let show = |v: Option<u64>| v.map_or_else(|| "unlimited".to_owned(), |n| n.to_string());
    if before.current != before.maximum {
        let raised = Rlimit {
            current: before.maximum,
            maximum: before.maximum,
        };
        if let Err(err) = setrlimit(Resource::Nofile, raised) {
            warn!(%err, soft = %show(before.current), hard = %show(before.maximum),
                "cannot raise the fd limit");
        }
    }
    let now = fd_limit();
    info!(
        "fd limit: soft {} → {} (hard {})",
        show(before.current),
        show(now),
        show(before.maximum)
    );
    now
}

/// The process's current soft `RLIMIT_NOFILE` (`None`: unlimited): the
/// figure fd budgets are a fraction of.
pub fn fd_limit() -> Option<u64> {
    getrlimit(Resource::Nofile).current
}

/// Whether `n` more fds can be opened now: dups `fd` `n` times and closes
/// the copies. `Err` only for errors other than EMFILE/ENFILE.
fn has_headroom(fd: impl AsFd, n: usize) -> Result<bool, Errno> {
    let mut copies: Vec<OwnedFd> = Vec::with_capacity(n);
    for _ in 0..n {
        match rustix::io::fcntl_dupfd_cloexec(fd.as_fd(), 0) {
            Ok(copy) => copies.push(copy),
            Err(Errno::MFILE | Errno::NFILE) => return Ok(false),
            Err(err) => return Err(err),
        }
    }
    Ok(true)
}

/// The identity of an open file: device and inode.
fn identity(fd: impl AsFd) -> Option<(u64, u64)> {
    rustix::fs::fstat(fd).ok().map(|st| (st.st_dev, st.st_ino))
}

/// After a failed `insert_client`: closes `raw` if it still refers to the
/// socket whose identity was `before` (the wayland-backend leak).
///
/// Safe: wayland-backend 0.3.17's sys `insert_client` gives the fd to
/// `wl_client_create` by `into_raw_fd` and returns `Err` when it returns
/// NULL. libwayland closes the fd on none of `wl_client_create`'s failure
/// paths (since 1.7, `wl_connection_destroy` leaves it open) and keeps no
/// reference to it (the event source it removes held its own `dup`), so
/// after `Err` the fd is open and owned by nobody: taking it into an
/// `OwnedFd` makes us its only owner. Should a later wayland-backend close
/// it itself, the number is either closed (fstat fails) or reused by a
/// different file (another identity): both are left alone.
fn close_if_still_ours(raw: RawFd, before: Option<(u64, u64)>) -> bool {
    // SAFETY: borrowed only for the fstat; `raw` is open or fstat fails
    // with EBADF, which `identity` maps to None.
    let now = identity(unsafe { std::os::fd::BorrowedFd::borrow_raw(raw) });
    if before.is_some() && now == before {
        // SAFETY: see above: the fd is open, is our socket, and nobody else
        // owns it.
        drop(unsafe { OwnedFd::from_raw_fd(raw) });
        true
    } else {
        false
    }
}

/// A listener's back-off state.
pub(super) struct Backoff {
    delay: Duration,
    /// The listener's source, to re-enable it.
    token: Option<RegistrationToken>,
}

impl Backoff {
    /// A listener not yet registered: set its token once it is.
    pub(super) fn new() -> Rc<RefCell<Self>> {
        Rc::new(RefCell::new(Self {
            delay: BACKOFF_MIN,
            token: None,
        }))
    }

    pub(super) fn set_token(&mut self, token: RegistrationToken) {
        self.token = Some(token);
    }

    /// After a client was created: the next back-off starts short again.
    fn reset(&mut self) {
        self.delay = BACKOFF_MIN;
    }
}

/// Inserts `listener` into the loop: accepts clients with fd headroom and
/// backs off when out of fds (see the module docs).
pub fn insert_listener(
    handle: &LoopHandle<'static, RefState>,
    listener: ListeningSocket,
) -> Result<(), Error> {
    let backoff = Backoff::new();
    // Weak: a source holding a strong handle would keep its own loop (and
    // every source in it, e.g. the DRM device and its master) alive after
    // the loop is dropped.
    let loop_handle = handle.downgrade();
    let shared = backoff.clone();
    let token = handle
        .insert_source(
            Generic::new(listener, Interest::READ, Mode::Level),
            move |_, listener, state| match loop_handle.upgrade() {
                Some(handle) => Ok(accept_all(listener, state, &handle, &shared)),
                None => Ok(PostAction::Disable), // the loop is going away
            },
        )
        .map_err(|e| e.error)?;
    backoff.borrow_mut().set_token(token);
    Ok(())
}

/// Why a listener backs off.
#[derive(Clone, Copy, Debug)]
pub(super) enum OutOfFds {
    Accept,
    Headroom,
    Create,
}

/// Accepts every pending connection; disables the listener (and schedules
/// its re-enabling) when out of fds.
fn accept_all(
    listener: &ListeningSocket,
    state: &mut RefState,
    handle: &LoopHandle<'static, RefState>,
    backoff: &Rc<RefCell<Backoff>>,
) -> PostAction {
    loop {
        let stream = match listener.accept() {
            Ok(Some(stream)) => stream,
            Ok(None) => return PostAction::Continue,
            Err(err) if is_out_of_fds(&err) => {
                return back_off(OutOfFds::Accept, state, handle, backoff)
            }
            // E.g. ECONNABORTED: this connection is gone, the others wait.
            Err(err) => {
                accord_smithay::warn_limited!(state.log_limit, "accepting a client failed", %err);
                return PostAction::Continue;
            }
        };
        if let Some(cause) = admit(stream, None, state, backoff) {
            return back_off(cause, state, handle, backoff);
        }
    }
}

/// Makes a client of an accepted socket, if fd headroom and its identity's
/// connection budget allow; `context` is the security context of the
/// listener it came through. `Some(cause)`: out of fds, the listener must
/// back off. The socket is closed whenever no client was created (the
/// client sees its connection closed).
pub(super) fn admit(
    stream: UnixStream,
    context: Option<SecurityContext>,
    state: &mut RefState,
    backoff: &Rc<RefCell<Backoff>>,
) -> Option<OutOfFds> {
    match has_headroom(&stream, CLIENT_FD_HEADROOM) {
        Ok(true) => {}
        Ok(false) => return Some(OutOfFds::Headroom),
        Err(err) => {
            accord_smithay::warn_limited!(state.log_limit, "probing fd headroom failed", %err);
            return None;
        }
    }
    let identity = match context.as_ref().and_then(|c| c.app_id.clone()) {
        Some(app_id) => ClientIdentity::App {
            engine: context.as_ref().and_then(|c| c.sandbox_engine.clone()),
            app_id,
        },
        None => match ClientIdentity::of_stream(&stream) {
            Ok(identity) => identity,
            Err(err) => {
                accord_smithay::warn_limited!(state.log_limit, "cannot read a client's credentials: connection closed", %err);
                return None;
            }
        },
    };
    let ticket = match state.connection_budget.admit(identity) {
        Ok(ticket) => ticket,
        // Not a back-off: the listener keeps serving other identities.
        Err(over) => {
            accord_smithay::warn_limited!(state.log_limit, "client refused: connection closed", reason = %over);
            return None;
        }
    };
    match insert(stream, ClientState::new(ticket, context), state) {
        Ok(()) => {
            backoff.borrow_mut().reset();
            None
        }
        Err(err) if is_out_of_fds(&err) => Some(OutOfFds::Create),
        Err(_) => None,
    }
}

/// Creates the client. The socket is closed whenever no client was created
/// (the client state, and with it the connection's ticket, is dropped).
fn insert(stream: UnixStream, client: ClientState, state: &mut RefState) -> std::io::Result<()> {
    let raw = stream.as_raw_fd();
    let before = identity(&stream);
    match state.display_handle.insert_client(stream, Arc::new(client)) {
        Ok(_) => Ok(()),
        Err(err) => {
            let closed = close_if_still_ours(raw, before);
            accord_smithay::warn_limited!(state.log_limit, "cannot add client", %err, closed_socket = closed);
            Err(err)
        }
    }
}

pub(super) fn is_out_of_fds(err: &std::io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(code) if code == Errno::MFILE.raw_os_error() || code == Errno::NFILE.raw_os_error()
    )
}

/// Logs `cause` (rate-limited), schedules the listener's re-enabling after
/// the current delay, doubles the delay, and disables the listener.
pub(super) fn back_off(
    cause: OutOfFds,
    state: &mut RefState,
    handle: &LoopHandle<'static, RefState>,
    backoff: &Rc<RefCell<Backoff>>,
) -> PostAction {
    let (delay, token) = {
        let mut b = backoff.borrow_mut();
        let delay = b.delay;
        b.delay = (delay * 2).min(BACKOFF_MAX);
        (delay, b.token)
    };
    let ms = delay.as_millis() as u64;
    match cause {
        OutOfFds::Accept => accord_smithay::warn_limited!(
            state.log_limit,
            "out of fds: cannot accept clients; listener paused",
            pause_ms = ms
        ),
        OutOfFds::Headroom => accord_smithay::warn_limited!(
            state.log_limit,
            "fd headroom too small: client refused; listener paused",
            pause_ms = ms,
            headroom = CLIENT_FD_HEADROOM
        ),
        OutOfFds::Create => accord_smithay::warn_limited!(
            state.log_limit,
            "out of fds: client not created; listener paused",
            pause_ms = ms
        ),
    }
    let Some(token) = token else {
        // Not registered yet: cannot happen once the loop runs; keep serving.
        return PostAction::Continue;
    };
    let resume = handle.downgrade(); // weak, as in `insert_listener`
    let scheduled = handle.insert_source(Timer::from_duration(delay), move |_, _, state| {
        let Some(resume) = resume.upgrade() else {
            return TimeoutAction::Drop;
        };
        if let Err(err) = resume.enable(&token) {
            accord_smithay::warn_limited!(state.log_limit, "cannot resume the listener", %err);
        }
        TimeoutAction::Drop
    });
    match scheduled {
        Ok(_) => PostAction::Disable,
        // Without a timer the listener must stay enabled, or it never
        // comes back: spinning beats refusing every client for good.
        Err(err) => {
            accord_smithay::warn_limited!(state.log_limit, "cannot schedule the listener's resumption", err = %err.error);
            PostAction::Continue
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headroom_is_found_and_copies_are_closed() {
        let (a, _b) = UnixStream::pair().expect("pair");
        let count = || std::fs::read_dir("/proc/self/fd").expect("fd dir").count();
        let before = count();
        assert!(has_headroom(&a, 4).expect("probe"));
        // Other test threads may open fds meanwhile; ours are closed.
        assert!(count() <= before + 2, "probe copies left open");
    }

    #[test]
    fn an_unowned_socket_is_closed_once_and_a_reused_number_is_left_alone() {
        let (a, _b) = UnixStream::pair().expect("pair");
        let before = identity(&a);
        let raw = std::os::fd::IntoRawFd::into_raw_fd(a);
        assert!(close_if_still_ours(raw, before));
        // Closed now; a new socket (maybe under the same number) is
        // another file, and is left open.
        let (c, _d) = UnixStream::pair().expect("pair");
        assert!(!close_if_still_ours(c.as_raw_fd(), before));
        assert!(identity(&c).is_some(), "the new socket was closed");
    }
}
