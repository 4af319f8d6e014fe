//! Who a client is, for its budgets: the unit a hostile program cannot
//! multiply by opening more connections.
//!
//! By default a client is its process (`SO_PEERCRED` pid and uid, read once
//! when it binds the manager). An embedder that serves sandboxed apps
//! through `wp_security_context_v1` returns the app id instead, so every
//! process of one app shares one set of budgets; a test server can give
//! every connection its own identity. The embedder chooses in
//! [`BufferCollectionHandler::client_identity`](crate::BufferCollectionHandler::client_identity).
//!
//! An embedder that accepts clients itself can also tell who a connection
//! is before it becomes a client ([`ClientIdentity::of_stream`]), to
//! refuse it when that identity has too many
//! ([`ConnectionBudget`](crate::ConnectionBudget)).

use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;

use wayland_server::backend::ClientId;
use wayland_server::{Client, DisplayHandle};

/// The identity budgets are charged to.
///
/// ```
/// use accord_smithay::ClientIdentity;
/// let app = ClientIdentity::App { engine: Some("flatpak".into()), app_id: "org.example.Player".into() };
/// assert_eq!(app.to_string(), "app org.example.Player (flatpak)");
/// assert_eq!(ClientIdentity::Process { pid: 42, uid: 1000 }.to_string(), "pid 42 (uid 1000)");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ClientIdentity {
    /// A sandboxed app, all its processes together (the app id of its
    /// `wp_security_context_v1`, and the sandbox engine that set it).
    App {
        /// The sandbox engine (`flatpak`, ...), if it named itself.
        engine: Option<String>,
        /// The app id the sandbox engine set.
        app_id: String,
    },
    /// One process, by its socket credentials. A pid reused by a later
    /// process inherits what the old one still had charged (pending
    /// handles until they expire, buffers others still hold).
    Process {
        /// `SO_PEERCRED` pid.
        pid: i32,
        /// `SO_PEERCRED` uid.
        uid: u32,
    },
    /// One connection: credentials could not be read, or the embedder
    /// wants per-connection budgets (tests).
    Connection(ClientId),
}

impl ClientIdentity {
    /// The client's process, from its socket credentials; its connection
    /// when they cannot be read (the client is already gone).
    pub fn of_process(client: &Client, dh: &DisplayHandle) -> Self {
        match client.get_credentials(dh) {
            Ok(c) => ClientIdentity::Process {
                pid: c.pid,
                uid: c.uid,
            },
            Err(_) => ClientIdentity::Connection(client.id()),
        }
    }

    /// The process at the other end of an accepted socket, from its
    /// credentials (`SO_PEERCRED`, fixed when it connected): the same
    /// identity [`ClientIdentity::of_process`] gives once it is a client.
    /// A peer in a pid namespace this process cannot see has pid 0, as in
    /// libwayland's credentials.
    ///
    /// ```
    /// use accord_smithay::ClientIdentity;
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let me = ClientIdentity::of_stream(&a)?;
    /// assert_eq!(me, ClientIdentity::Process {
    ///     pid: std::process::id() as i32,
    ///     uid: rustix::process::getuid().as_raw(),
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn of_stream(stream: &UnixStream) -> std::io::Result<Self> {
        // Not rustix's `socket_peercred`: its `UCred` holds a non-zero
        // `Pid`, and the kernel reports pid 0 for a peer outside our pid
        // namespace.
        let mut cred = libc::ucred {
            pid: 0,
            uid: 0,
            gid: 0,
        };
        let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
        // SAFETY: `cred` is a writable `ucred` of `len` bytes, the size
        // SO_PEERCRED writes; the fd is open for the call (borrowed from
        // `stream`).
        let rc = unsafe {
            libc::getsockopt(
                stream.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_PEERCRED,
                (&mut cred as *mut libc::ucred).cast(),
                &mut len,
            )
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if len as usize != std::mem::size_of::<libc::ucred>() {
            return Err(std::io::Error::other(format!(
                "SO_PEERCRED gave {len} bytes, expected {}",
                std::mem::size_of::<libc::ucred>()
            )));
        }
        Ok(ClientIdentity::Process {
            pid: cred.pid,
            uid: cred.uid,
        })
    }
}

impl std::fmt::Display for ClientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientIdentity::App {
                engine: Some(e),
                app_id,
            } => write!(f, "app {app_id} ({e})"),
            ClientIdentity::App {
                engine: None,
                app_id,
            } => write!(f, "app {app_id}"),
            ClientIdentity::Process { pid, uid } => write!(f, "pid {pid} (uid {uid})"),
            ClientIdentity::Connection(id) => write!(f, "connection {id:?}"),
        }
    }
}
