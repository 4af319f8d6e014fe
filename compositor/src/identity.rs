//! Who a client is, for its budgets: the unit a hostile program cannot
//! multiply by opening more connections.
//!
//! By default a client is its process (`SO_PEERCRED` pid and uid, read once
//! when it binds the manager). An embedder that serves sandboxed apps
//! through `wp_security_context_v1` returns the app id instead, so every
//! process of one app shares one set of budgets; a test server can give
//! every connection its own identity. The embedder chooses in
//! [`BufferCollectionHandler::client_identity`](crate::BufferCollectionHandler::client_identity).

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
