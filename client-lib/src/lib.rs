//! Accord client library: negotiated, shared buffer collections over an
//! existing `wayland_client::Connection`.
//!
//! The library dispatches its own event queue, so it never touches your
//! application's state or queue. A typical flow:
//!
//! ```no_run
//! use accord_client::{Accord, Constraints, Usage, DRM_FORMAT_XRGB8888, MOD_LINEAR};
//! let conn = wayland_client::Connection::connect_to_env()?;
//! let accord = Accord::new(&conn)?;
//! let token = accord.create_collection();
//! token.set_name("producer");
//! let consumer_handle = token.duplicate().export()?; // send this to another process
//! let collection = token.bind();
//! collection.commit(
//!     &Constraints::new()
//!         .usage(Usage::CpuWrite)
//!         .format(DRM_FORMAT_XRGB8888, MOD_LINEAR)
//!         .min_size(640, 480)
//!         .buffers(2),
//! );
//! let allocation = collection.wait_allocated()?;
//! let mut pixels = allocation.buffers[0].map()?;
//! pixels[0] = 0xff;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod buffer;
mod collection;
mod constraints;
mod dispatch;
mod ignore_registry;
mod lock;
mod token;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use accord_protocol::client::wp_buffer_collection_manager_v1::WpBufferCollectionManagerV1;
use wayland_client::globals::{registry_queue_init, GlobalList};
use wayland_client::{Connection, EventQueue, QueueHandle};

pub use accord_protocol::client::wp_buffer_collection_v1::Usage;
pub use accord_protocol::limits;
pub use buffer::{Allocation, Buffer, Mapping, MemoryKind, Placement, Plane, Populate};
pub use collection::{Collection, LostParticipant, Renegotiation};
pub use constraints::Constraints;
pub use ignore_registry::IgnoreRegistry;
pub use token::{Token, TokenGroup};

use accord_protocol::vocabulary::FailureReason as WireReason;
use accord_protocol::vocabulary::{drm_fourcc::DrmFourcc, fourcc};
pub use accord_protocol::vocabulary::{
    CoherencyDomains, ColorSpace, FormatLimits, MOD_INVALID, MOD_LINEAR,
};
/// `DRM_FORMAT_XRGB8888` ('XR24').
pub const DRM_FORMAT_XRGB8888: u32 = fourcc(DrmFourcc::Xrgb8888);
/// `DRM_FORMAT_ARGB8888` ('AR24').
pub const DRM_FORMAT_ARGB8888: u32 = fourcc(DrmFourcc::Argb8888);
/// `DRM_FORMAT_NV12` ('NV12').
pub const DRM_FORMAT_NV12: u32 = fourcc(DrmFourcc::Nv12);

/// Why a collection (or a token) failed: the protocol's `failure_reason`,
/// plus conditions seen by the library itself.
///
/// ```
/// use accord_client::FailureReason;
/// assert_eq!(FailureReason::NoCommonFormat.as_str(), "no_common_format");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailureReason {
    /// The participants share no format/modifier pair.
    NoCommonFormat,
    /// The size constraints contradict each other.
    SizeConflict,
    /// The stride constraints contradict each other.
    StrideConflict,
    /// The buffer-count constraints contradict each other.
    CountConflict,
    /// The buffers would exceed the per-buffer or per-collection limit, or a `max_bytes`.
    TooLarge,
    /// The combined constraints cannot be allocated.
    InvalidConstraint,
    /// A non-dispensable participant left or failed before allocation.
    ParticipantFailed,
    /// The allocator ran out of memory.
    OutOfMemory,
    /// The allocator cannot make the negotiated buffers.
    Unsupported,
    /// The allocating device disappeared.
    DeviceLost,
    /// `import`: the handle is unknown, used, expired or its collection is gone.
    UnknownHandle,
    /// The allocation would exceed the creator's memory quota.
    QuotaExceeded,
    /// A token group selected another child: this participant's
    /// alternative is not used (version 2).
    NotSelected,
    /// A reason code this library does not know (a newer compositor).
    Other(u32),
    /// The Wayland connection failed (the compositor may have sent a
    /// protocol error; the message says which).
    Connection,
    /// The outcome was already taken by an earlier `wait_allocated`.
    AlreadyTaken,
}

impl FailureReason {
    /// The protocol's name for the reason.
    ///
    /// ```
    /// assert_eq!(accord_client::FailureReason::ParticipantFailed.as_str(), "participant_failed");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::Other(_) => "other",
            FailureReason::Connection => "connection",
            FailureReason::AlreadyTaken => "already_taken",
            protocol => WireReason::ALL
                .into_iter()
                .find(|&r| FailureReason::from(r) == protocol)
                .map_or("other", WireReason::as_str),
        }
    }

    pub(crate) fn from_wire(code: u32) -> Self {
        WireReason::from_wire(code).map_or(FailureReason::Other(code), FailureReason::from)
    }
}

/// The protocol's reasons are the vocabulary's; this library adds the
/// conditions it sees itself.
impl From<WireReason> for FailureReason {
    fn from(r: WireReason) -> Self {
        match r {
            WireReason::NoCommonFormat => FailureReason::NoCommonFormat,
            WireReason::SizeConflict => FailureReason::SizeConflict,
            WireReason::StrideConflict => FailureReason::StrideConflict,
            WireReason::CountConflict => FailureReason::CountConflict,
            WireReason::TooLarge => FailureReason::TooLarge,
            WireReason::InvalidConstraint => FailureReason::InvalidConstraint,
            WireReason::ParticipantFailed => FailureReason::ParticipantFailed,
            WireReason::OutOfMemory => FailureReason::OutOfMemory,
            WireReason::Unsupported => FailureReason::Unsupported,
            WireReason::DeviceLost => FailureReason::DeviceLost,
            WireReason::UnknownHandle => FailureReason::UnknownHandle,
            WireReason::QuotaExceeded => FailureReason::QuotaExceeded,
            WireReason::NotSelected => FailureReason::NotSelected,
        }
    }
}

/// A failed negotiation, allocation or connection, with the compositor's
/// message (which names the participants in conflict).
///
/// ```
/// let f = accord_client::Failure {
///     reason: accord_client::FailureReason::NoCommonFormat,
///     message: "no common format between 'a' and 'b'".into(),
/// };
/// assert!(f.to_string().contains("no_common_format"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// Why.
    pub reason: FailureReason,
    /// The compositor's (or library's) explanation.
    pub message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.reason.as_str(), self.message)
    }
}

impl std::error::Error for Failure {}

impl Failure {
    pub(crate) fn connection(e: impl std::fmt::Display) -> Self {
        Failure {
            reason: FailureReason::Connection,
            message: e.to_string(),
        }
    }
}

/// The library's dispatch state. Events are stored in each object's user
/// data, so this holds nothing.
#[derive(Debug, Default)]
pub(crate) struct QueueState;

pub(crate) struct Inner {
    pub(crate) conn: Connection,
    pub(crate) queue: RefCell<EventQueue<QueueState>>,
    pub(crate) qh: QueueHandle<QueueState>,
    pub(crate) manager: WpBufferCollectionManagerV1,
    /// Times this library blocked for the compositor: see
    /// [`Accord::blocking_waits`].
    pub(crate) waits: Cell<u64>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // wayland-client keeps the fds of events still queued when an
        // EventQueue is dropped: dispatch them so they are closed.
        let _ = self.queue.get_mut().dispatch_pending(&mut QueueState);
    }
}

impl Inner {
    /// Block until at least one event for our queue is dispatched. Events
    /// already queued are dispatched without blocking and without counting
    /// a wait; only a call that has to read the socket counts one.
    pub(crate) fn blocking_dispatch(&self) -> Result<(), Failure> {
        let mut queue = self.queue.borrow_mut();
        let queued = queue
            .dispatch_pending(&mut QueueState)
            .map_err(|e| self.describe_error(e))?;
        if queued > 0 {
            return Ok(());
        }
        self.waits.set(self.waits.get() + 1);
        queue
            .blocking_dispatch(&mut QueueState)
            .map(|_| ())
            .map_err(|e| self.describe_error(e))
    }

    fn describe_error(&self, e: impl std::fmt::Display) -> Failure {
        match self.conn.protocol_error() {
            Some(p) => Failure::connection(format!(
                "protocol error {} on {}@{}: {}",
                p.code, p.object_interface, p.object_id, p.message
            )),
            None => Failure::connection(e),
        }
    }
}

/// The entry point: the bound `wp_buffer_collection_manager_v1` global and
/// the library's own event queue on your connection. Cheap to clone.
///
/// ```no_run
/// let conn = wayland_client::Connection::connect_to_env()?;
/// let accord = accord_client::Accord::new(&conn)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Accord {
    pub(crate) inner: Rc<Inner>,
}

impl std::fmt::Debug for Accord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accord")
            .field("manager", &self.inner.manager)
            .finish()
    }
}

/// Why [`Accord::new`] failed.
///
/// ```
/// let e = accord_client::InitError::NoGlobal;
/// assert!(e.to_string().contains("wp_buffer_collection_manager_v1"));
/// ```
#[derive(Debug)]
pub enum InitError {
    /// The registry roundtrip failed.
    Connection(String),
    /// The compositor does not offer the Accord global.
    NoGlobal,
}

impl std::fmt::Display for InitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InitError::Connection(m) => write!(f, "wayland connection: {m}"),
            InitError::NoGlobal => write!(
                f,
                "the compositor does not advertise wp_buffer_collection_manager_v1 version 1"
            ),
        }
    }
}

impl std::error::Error for InitError {}

impl Accord {
    /// Bind the Accord global on `conn` with a private event queue.
    ///
    /// ```no_run
    /// let conn = wayland_client::Connection::connect_to_env()?;
    /// let accord = accord_client::Accord::new(&conn)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(conn: &Connection) -> Result<Accord, InitError> {
        let (globals, queue): (GlobalList, EventQueue<QueueState>) =
            registry_queue_init(conn).map_err(|e| InitError::Connection(e.to_string()))?;
        let qh = queue.handle();
        let manager = globals
            .bind::<WpBufferCollectionManagerV1, _, _>(&qh, 1..=2, ())
            .map_err(|_| InitError::NoGlobal)?;
        Ok(Accord {
            inner: Rc::new(Inner {
                conn: conn.clone(),
                queue: RefCell::new(queue),
                qh,
                manager,
                waits: Cell::new(0),
            }),
        })
    }

    /// Start a new collection; returns its root token.
    ///
    /// ```no_run
    /// # let accord: accord_client::Accord = unimplemented!();
    /// let token = accord.create_collection();
    /// ```
    pub fn create_collection(&self) -> Token {
        let data = token::new_events();
        let proxy = self
            .inner
            .manager
            .create_collection(&self.inner.qh, data.clone());
        Token::new(self.clone(), proxy, data)
    }

    /// Redeem a handle another participant exported. Does not wait: an
    /// unknown or used handle shows up as a failure of the bound
    /// collection (or [`Token::failure`]).
    ///
    /// ```no_run
    /// # let accord: accord_client::Accord = unimplemented!();
    /// # let handle = String::new();
    /// let collection = accord.import(&handle).bind();
    /// ```
    pub fn import(&self, handle: &str) -> Token {
        let data = token::new_events();
        let proxy = self.inner.manager.import_token(
            Some(wire_string(handle)),
            &self.inner.qh,
            data.clone(),
        );
        Token::new(self.clone(), proxy, data)
    }

    /// Dispatch already-received events without blocking (for event loops:
    /// call it when the connection's fd is readable, after
    /// `prepare_read`/`read` or your own queue's dispatch).
    ///
    /// ```no_run
    /// # let accord: accord_client::Accord = unimplemented!();
    /// accord.dispatch_pending()?;
    /// # Ok::<(), accord_client::Failure>(())
    /// ```
    pub fn dispatch_pending(&self) -> Result<(), Failure> {
        let mut queue = self.inner.queue.borrow_mut();
        queue
            .dispatch_pending(&mut QueueState)
            .map(|_| ())
            .map_err(|e| self.inner.describe_error(e))
    }

    /// Send all requests and wait for the compositor to process them.
    ///
    /// ```no_run
    /// # let accord: accord_client::Accord = unimplemented!();
    /// accord.roundtrip()?;
    /// # Ok::<(), accord_client::Failure>(())
    /// ```
    pub fn roundtrip(&self) -> Result<(), Failure> {
        let mut queue = self.inner.queue.borrow_mut();
        self.inner.waits.set(self.inner.waits.get() + 1);
        queue
            .roundtrip(&mut QueueState)
            .map(|_| ())
            .map_err(|e| self.inner.describe_error(e))
    }

    /// Flush pending requests to the compositor.
    ///
    /// ```no_run
    /// # let accord: accord_client::Accord = unimplemented!();
    /// accord.flush()?;
    /// # Ok::<(), accord_client::Failure>(())
    /// ```
    pub fn flush(&self) -> Result<(), Failure> {
        self.inner
            .conn
            .flush()
            .map_err(|e| self.inner.describe_error(e))
    }

    /// Send a dropped object's `destroy` now (best effort, never fails):
    /// an application that goes idle after dropping it would otherwise
    /// leave the request in the buffer and the compositor holding the
    /// buffers until the next flush.
    pub(crate) fn flush_on_drop(&self) {
        // A full socket (`WouldBlock`) or a dead connection: the request
        // goes with the next flush, or the compositor frees everything on
        // disconnect.
        let _ = self.inner.conn.flush();
    }

    /// How many times this library blocked waiting for the compositor
    /// since [`Accord::new`] (whose own registry round trip is not
    /// counted): one per [`roundtrip`](Accord::roundtrip), and one per
    /// socket read inside [`Token::export`] and
    /// [`Collection::wait_allocated`] (a call that finds its events already
    /// queued does not wait). Each is one round trip to the compositor, so
    /// the difference across a sequence of calls is the round trips it
    /// cost; clones share the count.
    ///
    /// ```no_run
    /// # let accord: accord_client::Accord = unimplemented!();
    /// let before = accord.blocking_waits();
    /// accord.roundtrip()?;
    /// assert_eq!(accord.blocking_waits() - before, 1);
    /// # Ok::<(), accord_client::Failure>(())
    /// ```
    pub fn blocking_waits(&self) -> u64 {
        self.inner.waits.get()
    }

    /// The connection this library runs on.
    ///
    /// ```no_run
    /// # let accord: accord_client::Accord = unimplemented!();
    /// let conn = accord.connection();
    /// ```
    pub fn connection(&self) -> &Connection {
        &self.inner.conn
    }
}

/// A Wayland string cannot carry NUL (the generated code would panic on one):
/// keep what precedes the first NUL.
pub(crate) fn wire_string(s: &str) -> String {
    s.split('\0').next().unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn wire_string_stops_at_the_first_nul() {
        assert_eq!(super::wire_string("decoder"), "decoder");
        assert_eq!(super::wire_string("dec\0oder"), "dec");
        assert_eq!(super::wire_string("\0"), "");
    }
}
