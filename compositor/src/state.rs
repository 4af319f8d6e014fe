//! [`BufferCollectionState`] and the [`BufferCollectionHandler`] trait the
//! embedder implements (Smithay's pattern), and [`flush`]: resolve ready
//! collections and send their outcomes. The protocol objects' user data is
//! in `objects.rs`, the request dispatch in `dispatch/`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use accord_engine::{Decision, FormatModifier, Usage};
use accord_protocol::server::wp_buffer_collection_manager_v1::WpBufferCollectionManagerV1;
use wayland_server::backend::{ClientId, GlobalId};
use wayland_server::protocol::wl_buffer::WlBuffer;
use wayland_server::protocol::wl_surface::WlSurface;
use wayland_server::{Client, DisplayHandle, GlobalDispatch, Resource};

use crate::backend::{CollectionAllocator, Placements};
use crate::collections::{
    Collections, Confirmation, Failed, Outcome, Resolution, ScanoutConfirmation, ScanoutProbe,
    SlotId,
};
use crate::dmabuf_buffers::DmabufHolds;
use crate::events::{fail_token, send_outcome};
use crate::identity::ClientIdentity;
use crate::object_counts::ObjectCounts;
use crate::objects::SlotObject;

/// The timer's period while expiries or stall warnings wait behind the
/// per-turn bounds: short, so a backlog drains in many brief turns that
/// other clients' requests interleave with.
const BACKLOG_PERIOD: Duration = Duration::from_millis(2);

/// What the embedding compositor supplies.
///
/// ```
/// use accord_engine::{FormatModifier, MOD_LINEAR};
/// use accord_smithay::{BufferCollectionHandler, BufferCollectionState};
///
/// struct State {
///     accord: BufferCollectionState,
/// }
/// impl BufferCollectionHandler for State {
///     fn buffer_collection_state(&mut self) -> &mut BufferCollectionState {
///         &mut self.accord
///     }
///     fn renderer_formats(&self) -> Vec<FormatModifier> {
///         let xrgb8888 = u32::from_le_bytes(*b"XR24");
///         vec![FormatModifier { format: xrgb8888, modifier: MOD_LINEAR, scanout: false }]
///     }
/// }
/// ```
pub trait BufferCollectionHandler {
    /// The module's state inside yours.
    ///
    /// ```
    /// fn quota(state: &mut impl accord_smithay::BufferCollectionHandler) {
    ///     state.buffer_collection_state().set_client_quota(256 << 20);
    /// }
    /// ```
    fn buffer_collection_state(&mut self) -> &mut BufferCollectionState;

    /// (format, modifier) pairs your renderer can import, most preferred
    /// first (Pixman: LINEAR only). Used for `attach_surface` participants.
    ///
    /// ```
    /// # use accord_engine::{FormatModifier, MOD_LINEAR};
    /// // Pixman imports LINEAR only.
    /// fn pixman_formats(fourccs: &[u32]) -> Vec<FormatModifier> {
    ///     fourccs
    ///         .iter()
    ///         .map(|&format| FormatModifier { format, modifier: MOD_LINEAR, scanout: false })
    ///         .collect()
    /// }
    /// assert_eq!(pixman_formats(&[u32::from_le_bytes(*b"XR24")]).len(), 1);
    /// ```
    fn renderer_formats(&self) -> Vec<FormatModifier>;

    /// Pairs the display planes showing `surface` can scan out. Empty means
    /// composition only (the default).
    ///
    /// The pairs come from the plane's `IN_FORMATS` and must be a subset of
    /// [`renderer_formats`](Self::renderer_formats), so composition stays a
    /// fallback; [`kms::compositor_formats`](crate::kms::compositor_formats)
    /// builds that list, marking the scanout-capable pairs.
    ///
    /// ```no_run
    /// # use accord_engine::FormatModifier;
    /// # use accord_smithay::kms::{compositor_formats, ScanoutPlane};
    /// # fn demo(primary: &ScanoutPlane, renderer: &[FormatModifier]) {
    /// let pairs: Vec<FormatModifier> = compositor_formats(primary, renderer);
    /// assert!(pairs.iter().any(|p| p.scanout));
    /// # }
    /// ```
    fn scanout_formats(&self, _surface: &WlSurface) -> Vec<FormatModifier> {
        Vec::new()
    }

    /// The device (`dev_t`) your renderer imports buffers from, which an
    /// `attach_surface` participant names so that composited buffers are
    /// placed where the renderer reads them. `None` (the default) for a
    /// CPU renderer such as Pixman, which maps any memory.
    ///
    /// ```no_run
    /// // A GLES renderer on the render node of its EGL display.
    /// fn renderer_device() -> Option<u64> {
    ///     rustix::fs::stat("/dev/dri/renderD128").ok().map(|st| st.st_rdev)
    /// }
    /// ```
    fn renderer_device(&self) -> Option<u64> {
        None
    }

    /// The KMS device (`dev_t`) whose planes may scan out `surface`, which
    /// an `attach_surface` participant names for scanout: a scanout
    /// decision's memory is then made by that device itself (a display
    /// scans out only memory it can import as a framebuffer; virtio-gpu
    /// refuses a vgem buffer). `None` (the default) without planes.
    fn scanout_device(&self, _surface: &WlSurface) -> Option<u64> {
        None
    }

    /// Confirm a scanout decision on the device before anything is
    /// allocated: called once per collection whose negotiated usage
    /// includes scanout and that has an `attach_surface` participant, with
    /// the first surface attached. Return the decision to allocate: the
    /// same one when the display takes it, another of its `alternatives`
    /// ([`Decision::for_candidate`]) when it does not, with `scanout` false
    /// for a renderer-only fallback. The default confirms nothing and
    /// returns `decision` as it is.
    ///
    /// On KMS, [`kms::confirm_scanout`](crate::kms::confirm_scanout) does
    /// the work (one buffer, `AddFB2`, atomic `TEST_ONLY` on the plane):
    ///
    /// ```no_run
    /// # use accord_engine::Decision;
    /// # use accord_smithay::backend::CollectionAllocator;
    /// # use accord_smithay::kms::{confirm_scanout, Card, ScanoutTarget};
    /// # struct Kms { card: Card, target: ScanoutTarget, placements: Vec<Box<dyn CollectionAllocator>> }
    /// # fn hook(kms: &mut Kms, decision: &Decision) -> Decision {
    /// confirm_scanout(&kms.card, &kms.target, decision, &mut kms.placements).decision
    /// # }
    /// ```
    fn confirm_scanout(&mut self, _surface: &WlSurface, decision: &Decision) -> Decision {
        decision.clone()
    }

    /// The buffer your last [`confirm_scanout`](Self::confirm_scanout)
    /// tested on the display, if you kept it
    /// ([`kms::ScanoutChoice::probe`](crate::kms::ScanoutChoice::probe)):
    /// the module makes it buffer 0 of the collection when the collection
    /// is allocated by the placement it names (same
    /// [`CollectionAllocator::name`]) and its layout is the decision's, so
    /// one buffer fewer is allocated between a fullscreen toggle and its
    /// first frame. Called right after each `confirm_scanout`. The default
    /// keeps none.
    ///
    /// ```no_run
    /// # use accord_engine::Decision;
    /// # use accord_smithay::backend::CollectionAllocator;
    /// # use accord_smithay::collections::ScanoutProbe;
    /// # use accord_smithay::kms::{confirm_scanout, Card, ScanoutTarget};
    /// # struct Kms { card: Card, target: ScanoutTarget, placements: Vec<Box<dyn CollectionAllocator>>, probe: Option<ScanoutProbe> }
    /// # fn hooks(kms: &mut Kms, decision: &Decision) -> (Decision, Option<ScanoutProbe>) {
    /// // In confirm_scanout:
    /// let choice = confirm_scanout(&kms.card, &kms.target, decision, &mut kms.placements);
    /// kms.probe = choice.probe;
    /// // In take_scanout_probe:
    /// (choice.decision, kms.probe.take())
    /// # }
    /// ```
    fn take_scanout_probe(&mut self) -> Option<crate::collections::ScanoutProbe> {
        None
    }

    /// Who `client` is for its budgets (the byte quota, pending handles):
    /// by default its process ([`ClientIdentity::of_process`], `SO_PEERCRED`),
    /// so a process opening more connections gets no more. Return
    /// [`ClientIdentity::App`] for a client of a `wp_security_context_v1`
    /// listener, so every process of a sandboxed app shares one budget.
    ///
    /// ```
    /// # use accord_smithay::ClientIdentity;
    /// # use wayland_server::{Client, DisplayHandle};
    /// /// The client data your compositor gives clients of a security-context
    /// /// listener (smithay's `SecurityContext` carries the app id).
    /// struct Sandboxed { app_id: Option<String> }
    /// impl wayland_server::backend::ClientData for Sandboxed {}
    /// fn identity(client: &Client, dh: &DisplayHandle) -> ClientIdentity {
    ///     match client.get_data::<Sandboxed>().and_then(|s| s.app_id.clone()) {
    ///         Some(app_id) => ClientIdentity::App { engine: None, app_id },
    ///         None => ClientIdentity::of_process(client, dh),
    ///     }
    /// }
    /// ```
    fn client_identity(&mut self, client: &Client, dh: &DisplayHandle) -> ClientIdentity {
        ClientIdentity::of_process(client, dh)
    }
}

/// The module's state: the global, every collection, the backends
/// and the protocol objects that hold slots.
///
/// ```no_run
/// # use accord_smithay::{backend::memfd::MemfdBackend, BufferCollectionDispatch, BufferCollectionState};
/// fn setup<D: BufferCollectionDispatch>(dh: &wayland_server::DisplayHandle) -> BufferCollectionState {
///     let mut accord = BufferCollectionState::new::<D>(dh, Box::new(MemfdBackend::new()));
///     accord.set_client_quota(512 << 20);
///     accord
/// }
/// ```
pub struct BufferCollectionState {
    pub(crate) collections: Collections<ClientIdentity>,
    /// The backends collections are placed on. `None` only while
    /// [`flush`] lends them to the collections.
    pub(crate) placements: Option<Placements>,
    pub(crate) slots: HashMap<SlotId, SlotObject>,
    /// Live tokens and collections per connection and per identity.
    pub(crate) objects: ObjectCounts,
    /// The first surface attached to each negotiating collection: whose
    /// display confirms a scanout decision.
    pub(crate) surfaces: HashMap<u64, WlSurface>,
    /// The compositor's own participants (`attach_surface`), by
    /// collection: slot index and surface, for
    /// [`surface_changed`](Self::surface_changed) and the confirmation of
    /// a re-solve.
    /// Weak: a surface handle would keep the surface's state, and the
    /// buffer last attached to it, alive after its client is gone.
    pub(crate) attached: HashMap<u64, Vec<(u32, wayland_server::Weak<WlSurface>)>>,
    /// The same participants by surface, so `surface_changed` visits only
    /// the surface's own collections.
    pub(crate) by_surface: HashMap<wayland_server::backend::ObjectId, Vec<SlotId>>,
    /// The allocations dma-buf `wl_buffer`s keep alive.
    pub(crate) dmabuf_holds: DmabufHolds,
    global: GlobalId,
    /// When requests may next run handle expiry and stall warnings. Both pop
    /// only what is due from queues in deadline order, so the limit is only
    /// there to keep the clock reads off the request path.
    next_sweep: Instant,
    /// Weak participants told `close_weak_asap`, by deadline (all share one
    /// timeout, so pushing at the back keeps the order).
    weak_deadlines: std::collections::VecDeque<(Instant, SlotId)>,
    weak_release_timeout: Duration,
}

/// How long a weak participant has to destroy its collection object after
/// `close_weak_asap` before it is disconnected (`weak_not_released`).
pub const DEFAULT_WEAK_RELEASE_TIMEOUT: Duration = Duration::from_secs(5);

impl std::fmt::Debug for BufferCollectionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BufferCollectionState")
            .field("placements", &self.placements)
            .field("live_slots", &self.slots.len())
            .finish()
    }
}

impl BufferCollectionState {
    /// Create the `wp_buffer_collection_manager_v1` global. `allocator` makes
    /// every collection's buffers (for example
    /// [`MemfdBackend`](crate::backend::memfd::MemfdBackend)).
    ///
    /// ```no_run
    /// # use accord_smithay::{backend::memfd::MemfdBackend, BufferCollectionDispatch, BufferCollectionState};
    /// # fn setup<D: BufferCollectionDispatch>(dh: &wayland_server::DisplayHandle) {
    /// let accord = BufferCollectionState::new::<D>(dh, Box::new(MemfdBackend::new()));
    /// # }
    /// ```
    pub fn new<D>(display: &DisplayHandle, allocator: Box<dyn CollectionAllocator>) -> Self
    where
        D: GlobalDispatch<WpBufferCollectionManagerV1, ()> + 'static,
    {
        Self::with_placements::<D>(display, Placements::from(allocator))
    }

    /// Create the global with a set of backends: each collection's memory
    /// comes from the placement the engine ranks first for its
    /// participants, the next on failure (see the README's backend
    /// section). [`Placements::detect`] gives every backend of this
    /// machine.
    ///
    /// ```no_run
    /// # use accord_smithay::{backend::Placements, BufferCollectionDispatch, BufferCollectionState};
    /// # fn setup<D: BufferCollectionDispatch>(dh: &wayland_server::DisplayHandle) {
    /// let accord = BufferCollectionState::with_placements::<D>(dh, Placements::detect());
    /// # }
    /// ```
    pub fn with_placements<D>(display: &DisplayHandle, placements: Placements) -> Self
    where
        D: GlobalDispatch<WpBufferCollectionManagerV1, ()> + 'static,
    {
        let global = display.create_global::<D, WpBufferCollectionManagerV1, ()>(2, ());
        let mut collections = Collections::new();
        collections.set_max_buffer_fds(default_max_buffer_fds());
        BufferCollectionState {
            collections,
            placements: Some(placements),
            slots: HashMap::new(),
            objects: ObjectCounts::default(),
            surfaces: HashMap::new(),
            attached: HashMap::new(),
            by_surface: HashMap::new(),
            dmabuf_holds: DmabufHolds::default(),
            global,
            next_sweep: Instant::now(),
            weak_deadlines: std::collections::VecDeque::new(),
            weak_release_timeout: DEFAULT_WEAK_RELEASE_TIMEOUT,
        }
    }

    /// The global's id (to disable or remove it).
    ///
    /// ```no_run
    /// # fn demo(dh: &wayland_server::DisplayHandle, accord: &accord_smithay::BufferCollectionState) {
    /// dh.remove_global::<()>(accord.global()); // no new binds from now on
    /// # }
    /// ```
    pub fn global(&self) -> GlobalId {
        self.global.clone()
    }

    /// Bytes each client may hold in allocated buffers (default
    /// [`DEFAULT_CLIENT_QUOTA`](accord_protocol::limits::DEFAULT_CLIENT_QUOTA)).
    /// A collection whose creator would exceed it fails with
    /// `quota_exceeded`; nobody else is affected.
    ///
    /// ```no_run
    /// # fn demo(accord: &mut accord_smithay::BufferCollectionState) {
    /// accord.set_client_quota(256 * 1024 * 1024);
    /// # }
    /// ```
    pub fn set_client_quota(&mut self, bytes: u64) {
        self.collections.set_quota(bytes);
    }

    /// What each client identity may hold at once: bytes, buffer fds,
    /// collections, pending handles (defaults in
    /// [`Budgets::default`](crate::collections::Budgets)). Over a budget a
    /// collection fails with `quota_exceeded` naming it.
    ///
    /// ```no_run
    /// # fn demo(accord: &mut accord_smithay::BufferCollectionState) {
    /// use accord_smithay::collections::Budgets;
    /// accord.set_client_budgets(Budgets { buffer_fds: 256, ..accord.client_budgets() });
    /// # }
    /// ```
    pub fn set_client_budgets(&mut self, budgets: crate::collections::Budgets) {
        self.collections.set_budgets(budgets);
    }

    /// The per-identity budgets in force.
    pub fn client_budgets(&self) -> crate::collections::Budgets {
        self.collections.budgets()
    }

    /// Buffer fds the module may hold for every client together. The
    /// default is half the soft `RLIMIT_NOFILE` when the module was created
    /// ([`default_max_buffer_fds`]), leaving the rest to accepting clients
    /// and the embedder: raise the limit before creating the module, or
    /// set this after.
    pub fn set_max_buffer_fds(&mut self, fds: u64) {
        self.collections.set_max_buffer_fds(fds);
    }

    /// The module-wide buffer fd budget in force.
    pub fn max_buffer_fds(&self) -> u64 {
        self.collections.max_buffer_fds()
    }

    /// Bytes and buffer fds charged to `identity` now.
    pub fn usage_of(&self, identity: &ClientIdentity) -> crate::collections::Usage {
        self.collections.usage_of(identity)
    }

    /// Bytes and buffer fds of every live allocation, all clients together.
    pub fn total_usage(&self) -> crate::collections::Usage {
        self.collections.total_usage()
    }

    /// Bytes currently charged to `identity` (every connection of it);
    /// they come back when the last participant (and `wl_buffer`) releases
    /// a collection's buffers.
    ///
    /// ```no_run
    /// # fn demo(accord: &accord_smithay::BufferCollectionState, client: &wayland_server::Client, dh: &wayland_server::DisplayHandle) {
    /// use accord_smithay::ClientIdentity;
    /// let bytes = accord.charged_bytes(&ClientIdentity::of_process(client, dh));
    /// # }
    /// ```
    pub fn charged_bytes(&self, identity: &ClientIdentity) -> u64 {
        self.collections.charged(identity)
    }

    /// Bytes of every live allocation (all clients): back to zero once every
    /// participant and `wl_buffer` released its buffers.
    ///
    /// ```no_run
    /// # fn demo(accord: &accord_smithay::BufferCollectionState) {
    /// tracing::debug!(bytes = accord.total_charged_bytes(), "buffer memory held by clients");
    /// # }
    /// ```
    pub fn total_charged_bytes(&self) -> u64 {
        self.collections.total_charged()
    }

    /// Tell the module that `buffer` was destroyed: call it from smithay's
    /// [`BufferHandler::buffer_destroyed`](smithay::wayland::buffer::BufferHandler::buffer_destroyed),
    /// which smithay's dma-buf dispatch calls for every `wl_buffer` carrying
    /// a `Dmabuf`, also when its client disconnects. A `wl_buffer` made by
    /// `get_wl_buffer` from a dma-buf collection keeps the collection's
    /// buffers (and the client's quota charge) alive; this lets them go at
    /// once. Any other buffer is ignored. Without the call the module
    /// finds destroyed `wl_buffer`s itself, a few per `get_wl_buffer` and
    /// per maintenance turn ([`expire_handles`](Self::expire_handles)), so
    /// they are released later, not never.
    ///
    /// ```no_run
    /// # struct State { accord: accord_smithay::BufferCollectionState }
    /// use smithay::wayland::buffer::BufferHandler;
    /// use wayland_server::protocol::wl_buffer::WlBuffer;
    /// impl BufferHandler for State {
    ///     fn buffer_destroyed(&mut self, buffer: &WlBuffer) {
    ///         self.accord.wl_buffer_destroyed(buffer);
    ///     }
    /// }
    /// ```
    pub fn wl_buffer_destroyed(&mut self, buffer: &WlBuffer) {
        self.dmabuf_holds.remove(&buffer.id());
    }

    /// The colour space the collection behind `buffer` negotiated, for a
    /// dma-buf `wl_buffer` from `get_wl_buffer`; `None` for any other
    /// buffer, or when no participant listed colour spaces. A renderer
    /// that composites YUV uses it to pick its YCbCr-to-RGB matrix and
    /// range (the reference compositor's GLES path: `examples/src/refcomp/yuv.rs`).
    ///
    /// ```no_run
    /// # fn demo(st: &accord_smithay::BufferCollectionState, buffer: &wayland_server::protocol::wl_buffer::WlBuffer) {
    /// let bt709 = st.color_space_of(buffer) == Some(accord_engine::ColorSpace::BT709);
    /// # }
    /// ```
    pub fn color_space_of(&self, buffer: &WlBuffer) -> Option<accord_engine::ColorSpace> {
        self.dmabuf_holds
            .allocation_of(&buffer.id())?
            .decision
            .color_space
    }

    /// How long an exported handle stays redeemable (default
    /// [`HANDLE_EXPIRY`](accord_protocol::limits::HANDLE_EXPIRY), 60 s).
    pub fn set_handle_expiry(&mut self, expiry: Duration) {
        self.collections.set_handle_expiry(expiry);
    }

    /// Pending exported handles the module holds at most, every client
    /// together (default
    /// [`DEFAULT_MAX_PENDING_HANDLES`](crate::collections::DEFAULT_MAX_PENDING_HANDLES),
    /// 16,384, about 10 MiB). A handle whose exporter disconnected stays
    /// pending until redeemed or expired, so this, not the per-connection
    /// object limit, bounds what a client reconnecting in a loop can make
    /// the compositor hold. An export beyond it fails its slot with
    /// `quota_exceeded`.
    pub fn set_max_pending_handles(&mut self, n: usize) {
        self.collections.set_max_pending_handles(n);
    }

    /// After how long a collection still waiting for participants gets one
    /// `tracing` warning naming the slots that are neither committed nor
    /// released (default 5 s, like sysmem).
    /// How long a weak participant may keep its collection object after
    /// `close_weak_asap` (default [`DEFAULT_WEAK_RELEASE_TIMEOUT`]).
    ///
    /// ```no_run
    /// # fn demo(accord: &mut accord_smithay::BufferCollectionState) {
    /// accord.set_weak_release_timeout(std::time::Duration::from_secs(2));
    /// # }
    /// ```
    pub fn set_weak_release_timeout(&mut self, timeout: Duration) {
        self.weak_release_timeout = timeout;
    }

    pub fn set_stall_warning(&mut self, after: Duration) {
        self.collections.set_stall_warning(after);
    }

    /// Collections not yet closed: negotiating, or allocated with a
    /// participant or a buffer reference left (leak checks).
    ///
    /// ```no_run
    /// # fn demo(accord: &mut accord_smithay::BufferCollectionState) {
    /// assert_eq!(accord.live_collections(), 0, "every collection closed");
    /// # }
    /// ```
    pub fn live_collections(&mut self) -> usize {
        self.collections.live()
    }

    /// Collections still negotiating (not yet allocated or failed).
    pub fn negotiating_collections(&self) -> usize {
        self.collections.negotiating()
    }

    /// Place collections resolved from now on on `allocator` alone (a set
    /// of one placement).
    ///
    /// ```no_run
    /// # fn demo(accord: &mut accord_smithay::BufferCollectionState) -> std::io::Result<()> {
    /// use accord_smithay::backend::DumbBackend;
    /// accord.set_allocator(Box::new(DumbBackend::open("/dev/dri/card0")?));
    /// # Ok(()) }
    /// ```
    pub fn set_allocator(&mut self, allocator: Box<dyn CollectionAllocator>) {
        self.placements = Some(Placements::from(allocator));
    }

    /// Replace the set of backends for collections resolved from now on.
    pub fn set_placements(&mut self, placements: Placements) {
        self.placements = Some(placements);
    }

    /// The backends' names, in detection order (empty while a flush holds
    /// them, which only the module's own calls can observe).
    pub fn placement_names(&self) -> Vec<String> {
        self.placements
            .as_ref()
            .map(Placements::names)
            .unwrap_or_default()
    }

    /// What `identity` holds on each backend (by backend name): the sizes
    /// the backends really allocated, refunded when the buffers are gone.
    ///
    /// ```no_run
    /// # fn demo(accord: &accord_smithay::BufferCollectionState, id: &accord_smithay::ClientIdentity) {
    /// for (backend, usage) in accord.usage_by_backend(id) {
    ///     println!("{backend}: {} bytes", usage.bytes);
    /// }
    /// # }
    /// ```
    pub fn usage_by_backend(
        &self,
        identity: &ClientIdentity,
    ) -> Vec<(String, crate::collections::Usage)> {
        self.collections.usage_by_backend(identity)
    }

    /// What every client holds on each backend together.
    pub fn backend_usage(&self) -> Vec<(String, crate::collections::Usage)> {
        self.collections.backend_usage()
    }

    /// The quota ledger for a debug dump: per backend its total, then each
    /// client identity's share.
    ///
    /// ```no_run
    /// # fn demo(accord: &accord_smithay::BufferCollectionState) {
    /// tracing::debug!("buffer memory:\n{}", accord.ledger_dump());
    /// # }
    /// ```
    pub fn ledger_dump(&self) -> String {
        self.collections.ledger_dump()
    }

    /// Fail slots whose exported handle was not redeemed in time (see
    /// [`set_handle_expiry`](Self::set_handle_expiry)) and warn once about
    /// each collection waiting longer than the stall threshold, and check
    /// a bounded number of dma-buf `wl_buffer` holds for destroyed
    /// buffers (see [`wl_buffer_destroyed`](Self::wl_buffer_destroyed)). Also done
    /// on every manager request; call it from a timer for idle displays
    /// ([`insert_expiry_timer`](Self::insert_expiry_timer)).
    ///
    /// Without the handler at hand this cannot confirm scanout, so a
    /// collection with an attached surface that becomes ready here waits
    /// for the next request or timer tick, which resolve it through
    /// [`BufferCollectionHandler::confirm_scanout`].
    ///
    /// Returns when to call it again: the timer period, or a couple of
    /// milliseconds while due work waits behind the per-turn bounds
    /// ([`MAX_EXPIRED_PER_TURN`](crate::collections::MAX_EXPIRED_PER_TURN)).
    pub fn expire_handles(&mut self) -> Duration {
        let now = Instant::now();
        self.maintain(now);
        self.flush_unconfirmed();
        self.next_maintenance(now)
    }

    pub(crate) fn maintain(&mut self, now: Instant) {
        self.enforce_weak_deadlines(now);
        self.collections.expire_handles(now);
        self.collections.warn_stalled(now);
        self.dmabuf_holds.maintain();
        self.next_sweep = now + self.next_maintenance(now);
    }

    /// When to run [`maintain`](Self::maintain) again: at once (the next
    /// turn, [`BACKLOG_PERIOD`]) while the per-turn bounds left due work
    /// behind or the last turn swept destroyed `wl_buffer`s, else after the
    /// timer period.
    fn next_maintenance(&self, now: Instant) -> Duration {
        if self.collections.has_due(now) || self.dmabuf_holds.has_backlog() {
            BACKLOG_PERIOD
        } else {
            let period = self.timer_period();
            let next = [
                self.weak_deadlines.front().map(|(at, _)| *at),
                self.collections.next_renegotiation(),
            ];
            match next.into_iter().flatten().min() {
                Some(at) => period
                    .min(at.saturating_duration_since(now))
                    .max(BACKLOG_PERIOD),
                None => period,
            }
        }
    }

    /// Disconnect the weak participants that kept their collection object
    /// past their deadline (those that destroyed it are gone from `slots`).
    fn enforce_weak_deadlines(&mut self, now: Instant) {
        while let Some(&(at, slot)) = self.weak_deadlines.front() {
            if at > now {
                break;
            }
            self.weak_deadlines.pop_front();
            if let Some(SlotObject::Collection(c)) = self.slots.get(&slot) {
                c.post_error(
                    accord_protocol::server::wp_buffer_collection_v1::Error::WeakNotReleased,
                    format!(
                        "wp_buffer_collection_v1: a weak participant still holds its collection \
                         {:?} after close_weak_asap; destroy it within {} ms",
                        slot.collection,
                        self.weak_release_timeout.as_millis()
                    ),
                );
            }
        }
    }

    /// Tell weak participants whose buffers lost their last strong holder
    /// to let go (`close_weak_asap`, version 2 objects), with a deadline.
    fn send_close_weak(&mut self) {
        let now = Instant::now();
        for slot in self.collections.take_weak_released() {
            if let Some(SlotObject::Collection(c)) = self.slots.get(&slot) {
                if c.version() >= 2 {
                    c.close_weak_asap();
                    self.weak_deadlines
                        .push_back((now + self.weak_release_timeout, slot));
                }
            }
        }
    }

    /// The sweep, at most once per timer period, from request handlers.
    pub(crate) fn maintain_if_due(&mut self, now: Instant) {
        if now >= self.next_sweep {
            self.maintain(now);
        }
    }

    /// How often the timer checks: every second, or more often when the
    /// expiry or stall threshold is shorter (tests).
    fn timer_period(&self) -> Duration {
        const MAX: Duration = Duration::from_secs(1);
        const MIN: Duration = Duration::from_millis(5);
        (self.collections.handle_expiry() / 4)
            .min(self.collections.stall_warning() / 4)
            .clamp(MIN, MAX)
    }

    /// Run [`expire_handles`](Self::expire_handles) from a timer on your
    /// event loop (every second by default), so a collection waiting for a
    /// handle nobody redeems fails on time, and stalled collections are
    /// reported, even when no client sends anything.
    ///
    /// ```no_run
    /// # use accord_smithay::{BufferCollectionHandler, BufferCollectionState};
    /// # fn demo<D: BufferCollectionHandler + 'static>(event_loop: &calloop::EventLoop<'static, D>) {
    /// BufferCollectionState::insert_expiry_timer(&event_loop.handle()).expect("timer source");
    /// # }
    /// ```
    pub fn insert_expiry_timer<D: BufferCollectionHandler + 'static>(
        handle: &calloop::LoopHandle<'static, D>,
    ) -> Result<calloop::RegistrationToken, calloop::error::InsertError<calloop::timer::Timer>>
    {
        // The first tick comes soon and sets the real period from the state.
        handle.insert_source(
            calloop::timer::Timer::from_duration(Duration::from_millis(5)),
            |_, _, state| {
                state.buffer_collection_state().maintain(Instant::now());
                flush(state);
                let st = state.buffer_collection_state();
                calloop::timer::TimeoutAction::ToDuration(st.next_maintenance(Instant::now()))
            },
        )
    }

    /// Trigger 1 of renegotiation: the display of `surface` changed (it
    /// became fullscreen on a plane or stopped being so, moved to another
    /// output, lost its plane). Call it after your
    /// [`BufferCollectionHandler::scanout_formats`] answer for the surface
    /// changed: the module re-derives its participant's constraints for
    /// every collection attached to the surface
    /// ([`BufferCollectionHandler::renderer_formats`] and
    /// `scanout_formats`) and re-solves each with the other participants'
    /// (see `recommit` in the XML): a new generation when the decision
    /// changes, subject to the rate bound
    /// ([`set_min_generation_interval`](Self::set_min_generation_interval)).
    /// A collection still negotiating takes the new constraints in its
    /// first solve. Returns how many collections were told.
    ///
    /// ```no_run
    /// # use accord_smithay::{BufferCollectionHandler, BufferCollectionState};
    /// # fn demo<D: BufferCollectionHandler>(state: &mut D, surface: &wayland_server::protocol::wl_surface::WlSurface) {
    /// // The surface went fullscreen: scanout_formats(surface) now offers the primary plane.
    /// BufferCollectionState::surface_changed(state, surface);
    /// # }
    /// ```
    pub fn surface_changed<D: BufferCollectionHandler>(
        state: &mut D,
        surface: &WlSurface,
    ) -> usize {
        Self::rederive(state, surface, false)
    }

    /// Trigger 1 when the change comes with a configure to the client (a
    /// fullscreen toggle: the client will answer with a new size): as
    /// [`surface_changed`](Self::surface_changed), but each re-solve waits
    /// for the client's answer, so the compositor's change and the
    /// client's make one generation, not two. The answer is the client's
    /// `recommit`; when it applies the configure without one, call
    /// [`surface_configure_applied`](Self::surface_configure_applied). A
    /// client that never answers holds nothing up for longer than the
    /// answer window ([`set_answer_window`](Self::set_answer_window),
    /// default 500 ms). Returns how many collections were told.
    ///
    /// ```no_run
    /// # use accord_smithay::{BufferCollectionHandler, BufferCollectionState};
    /// # fn demo<D: BufferCollectionHandler>(state: &mut D, toplevel: &smithay::wayland::shell::xdg::ToplevelSurface) {
    /// BufferCollectionState::surface_reconfigured(state, toplevel.wl_surface());
    /// toplevel.send_configure();
    /// # }
    /// ```
    pub fn surface_reconfigured<D: BufferCollectionHandler>(
        state: &mut D,
        surface: &WlSurface,
    ) -> usize {
        Self::rederive(state, surface, true)
    }

    /// The client applied the configure that
    /// [`surface_reconfigured`](Self::surface_reconfigured) announced
    /// (it acknowledged it and committed the surface): a change still
    /// held for its answer is solved now. Returns how many were released.
    ///
    /// ```no_run
    /// # use accord_smithay::{BufferCollectionHandler, BufferCollectionState};
    /// # fn demo<D: BufferCollectionHandler>(state: &mut D, surface: &wayland_server::protocol::wl_surface::WlSurface) {
    /// // In the surface's commit, after an ack_configure of the announcing configure:
    /// BufferCollectionState::surface_configure_applied(state, surface);
    /// # }
    /// ```
    pub fn surface_configure_applied<D: BufferCollectionHandler>(
        state: &mut D,
        surface: &WlSurface,
    ) -> usize {
        let st = state.buffer_collection_state();
        let mut released = 0;
        for &slot in st.by_surface.get(&surface.id()).into_iter().flatten() {
            if st.collections.release_hold(slot) {
                released += 1;
            }
        }
        if released > 0 {
            flush(state);
        }
        released
    }

    /// Re-derives the compositor's participant of every collection attached
    /// to `surface` and re-solves each (held for the client's answer when
    /// `held`).
    fn rederive<D: BufferCollectionHandler>(
        state: &mut D,
        surface: &WlSurface,
        held: bool,
    ) -> usize {
        let devices = crate::participant::Devices {
            renderer: state.renderer_device(),
            display: state.scanout_device(surface),
        };
        let constraints = crate::participant::compositor_constraints(
            state.renderer_formats(),
            &state.scanout_formats(surface),
            devices,
        );
        let st = state.buffer_collection_state();
        let mut told = 0;
        // Closed collections left this list (`forget_closed_surfaces`).
        for &slot in st.by_surface.get(&surface.id()).into_iter().flatten() {
            let c = constraints.clone();
            if st.collections.is_negotiating(slot) {
                st.collections.commit(slot, c);
            } else if !(if held {
                st.collections.recommit_held(slot, c)
            } else {
                st.collections.recommit(slot, c)
            }) {
                continue;
            }
            told += 1;
        }
        flush(state);
        told
    }

    /// How long a change announced by a configure
    /// ([`surface_reconfigured`](Self::surface_reconfigured)) waits for the
    /// client's answer before it is solved alone (default
    /// [`DEFAULT_ANSWER_WINDOW`](crate::collections::DEFAULT_ANSWER_WINDOW)).
    ///
    /// ```no_run
    /// # fn demo(accord: &mut accord_smithay::BufferCollectionState) {
    /// accord.set_answer_window(std::time::Duration::from_millis(200));
    /// # }
    /// ```
    pub fn set_answer_window(&mut self, window: Duration) {
        self.collections.set_answer_window(window);
    }

    /// The shortest time between two generations of one collection
    /// (default [`DEFAULT_MIN_GENERATION_INTERVAL`](crate::collections::DEFAULT_MIN_GENERATION_INTERVAL),
    /// 100 ms: at most 10 generations a second). Changes that come faster
    /// coalesce into one pending re-solve.
    ///
    /// ```no_run
    /// # fn demo(accord: &mut accord_smithay::BufferCollectionState) {
    /// accord.set_min_generation_interval(std::time::Duration::from_millis(250));
    /// # }
    /// ```
    pub fn set_min_generation_interval(&mut self, interval: Duration) {
        self.collections.set_min_generation_interval(interval);
    }

    /// The collection table, read-only, for diagnostics and tests
    /// (generations, pending re-solves, charges).
    ///
    /// ```no_run
    /// # fn demo(accord: &accord_smithay::BufferCollectionState) {
    /// let waiting = accord.collections().negotiating();
    /// # }
    /// ```
    pub fn collections(&self) -> &Collections<ClientIdentity> {
        &self.collections
    }

    /// What counts toward `client`'s limit of
    /// [`MAX_CLIENT_OBJECTS`](crate::limits::MAX_CLIENT_OBJECTS): the live
    /// tokens and collections of this connection. An exported token leaves
    /// it; its handle counts toward the exporter identity's pending handle
    /// budget (`Budgets::pending_handles`) until redeemed or expired.
    ///
    /// ```no_run
    /// # fn demo(accord: &accord_smithay::BufferCollectionState, client: &wayland_server::Client) {
    /// assert!(accord.objects_of(&client.id()) <= accord_smithay::limits::MAX_CLIENT_OBJECTS);
    /// # }
    /// ```
    pub fn objects_of(&self, client: &ClientId) -> usize {
        self.objects.of_connection(client)
    }

    /// Exported handles of `identity` not yet redeemed or expired (its
    /// pending handle budget, `Budgets::pending_handles`), closed
    /// connections included.
    ///
    /// ```no_run
    /// # fn demo(accord: &accord_smithay::BufferCollectionState, identity: &accord_smithay::ClientIdentity) {
    /// assert!(accord.pending_handles_of(identity) <= accord.client_budgets().pending_handles);
    /// # }
    /// ```
    pub fn pending_handles_of(&self, identity: &ClientIdentity) -> usize {
        self.collections.handles_of(identity)
    }

    /// Live tokens and collections of every connection of `identity` (its
    /// live token budget, `Budgets::tokens`).
    ///
    /// ```no_run
    /// # fn demo(accord: &accord_smithay::BufferCollectionState, identity: &accord_smithay::ClientIdentity) {
    /// assert!(accord.tokens_of(identity) <= accord.client_budgets().tokens);
    /// # }
    /// ```
    pub fn tokens_of(&self, identity: &ClientIdentity) -> usize {
        self.objects.of_identity(identity)
    }

    /// `Err(quota_exceeded)` when `identity` may not have one more live
    /// token: it holds its whole live token budget already.
    pub(crate) fn token_budget(&self, identity: &ClientIdentity) -> Result<(), Failed> {
        crate::collections::within(
            "live token budget",
            "token",
            &format!("its client ({identity})"),
            self.objects.of_identity(identity) as u64,
            1,
            self.collections.budgets().tokens as u64,
        )
    }

    /// Resolve the ready collections that need no scanout confirmation
    /// (no attached surface) and send their outcomes; the others wait for
    /// [`flush`], which has the handler to confirm them.
    fn flush_unconfirmed(&mut self) {
        let (surfaces, attached) = (&self.surfaces, &self.attached);
        let mut defer_attached = |id: u64, d: &Decision| {
            if surfaces.contains_key(&id) || attached.contains_key(&id) {
                Confirmation::Defer
            } else {
                Confirmation::Allocate(d.clone())
            }
        };
        let Some(placements) = self.placements.as_mut() else {
            return; // inside `flush`, which resolves them all
        };
        let (mut allocators, placing) = placements.parts();
        let resolved = self
            .collections
            .resolve_on(&mut allocators, placing, &mut defer_attached);
        for res in resolved {
            self.send(res);
        }
        self.forget_closed_surfaces();
    }

    /// Drop the compositor participants' surfaces of closed collections.
    fn forget_closed_surfaces(&mut self) {
        for id in self.collections.take_closed_attached() {
            self.surfaces.remove(&id);
            for (_, surface) in self.attached.remove(&id).into_iter().flatten() {
                if let Some(slots) = self.by_surface.get_mut(&surface.id()) {
                    slots.retain(|s| s.collection != id);
                    if slots.is_empty() {
                        self.by_surface.remove(&surface.id());
                    }
                }
            }
        }
    }

    /// Record the compositor's participant `slot` for `surface`
    /// (`attach_surface`).
    pub(crate) fn attach_participant(&mut self, slot: SlotId, surface: &WlSurface) {
        self.attached
            .entry(slot.collection)
            .or_default()
            .push((slot.index, surface.downgrade()));
        self.by_surface.entry(surface.id()).or_default().push(slot);
        self.surfaces
            .entry(slot.collection)
            .or_insert_with(|| surface.clone());
    }

    /// Tell every live slot of a resolved collection its outcome.
    fn send(&mut self, res: Resolution) {
        for slot in res.slots {
            let Some(obj) = self.slots.remove(&slot) else {
                continue; // the compositor's own slot, or already gone
            };
            match obj {
                SlotObject::Token(t) => {
                    if let Outcome::Failed(f) = &res.outcome {
                        fail_token(&t, f);
                    }
                }
                SlotObject::Collection(c) => {
                    send_outcome(&c, &res.outcome);
                    // A holder stays reachable for `participant_lost` and
                    // later generations.
                    if !matches!(res.outcome, Outcome::Failed(_)) {
                        self.slots.insert(slot, SlotObject::Collection(c));
                    }
                }
            }
        }
    }

    /// Tell the holders of an allocated collection that a participant left
    /// (`participant_lost`, version 2 objects only).
    fn send_lost(&self, lost: crate::collections::Lost) {
        for slot in &lost.recipients {
            if let Some(SlotObject::Collection(c)) = self.slots.get(slot) {
                if c.version() >= 2 {
                    c.participant_lost(lost.name.clone(), lost.message.clone());
                }
            }
        }
    }
}

/// Resolve ready collections and send every outcome. A decision with
/// scanout usage for a collection with an attached surface goes through
/// [`BufferCollectionHandler::confirm_scanout`] first, before anything is
/// allocated.
pub(crate) fn flush<D: BufferCollectionHandler>(state: &mut D) {
    // The collections and the allocator leave the state while the handler
    // confirms, so `confirm_scanout` can borrow the rest of it; it probes a
    // device and does not call back into the module.
    let st = state.buffer_collection_state();
    if !st.collections.has_work() {
        return; // most requests change nothing that could resolve
    }
    let Some(mut placements) = st.placements.take() else {
        return; // a flush is already under way further up the stack
    };
    let mut collections = std::mem::take(&mut st.collections);
    let mut confirm = HandlerConfirmation { state, probe: None };
    let (mut allocators, placing) = placements.parts();
    let resolved = collections.resolve_on(&mut allocators, placing, &mut confirm);
    drop(allocators);
    let state = confirm.state;
    let st = state.buffer_collection_state();
    st.collections = collections;
    st.placements = Some(placements);
    for res in resolved {
        st.send(res);
    }
    st.forget_closed_surfaces();
    for lost in st.collections.take_lost() {
        st.send_lost(lost);
    }
    st.send_close_weak();
}

/// The module's [`ScanoutConfirmation`]: the handler's
/// [`confirm_scanout`](BufferCollectionHandler::confirm_scanout) for a
/// scanout decision of a collection with an attached surface, and the
/// buffer it tested ([`take_scanout_probe`](BufferCollectionHandler::take_scanout_probe)).
struct HandlerConfirmation<'a, D> {
    state: &'a mut D,
    /// The last confirmation's test buffer, until the allocation takes it.
    probe: Option<ScanoutProbe>,
}

impl<D: BufferCollectionHandler> ScanoutConfirmation for HandlerConfirmation<'_, D> {
    fn confirm(&mut self, id: u64, d: &Decision) -> Confirmation {
        self.probe = None;
        let st = self.state.buffer_collection_state();
        // The first surface attached; for a re-solve, the compositor's
        // participant's surface.
        let surface = st.surfaces.remove(&id).or_else(|| {
            st.attached
                .get(&id)
                .and_then(|v| v.first())
                .and_then(|(_, s)| s.upgrade().ok())
        });
        Confirmation::Allocate(match surface {
            Some(surface) if d.usage.contains(Usage::SCANOUT) && surface.is_alive() => {
                let c = self.state.confirm_scanout(&surface, d);
                self.probe = self.state.take_scanout_probe();
                if (c.format, c.modifier, c.scanout) != (d.format, d.modifier, d.scanout) {
                    tracing::debug!(
                        collection = id,
                        negotiated = format_args!("{:#010x}/{:#x}", d.format, d.modifier),
                        confirmed = format_args!("{:#010x}/{:#x}", c.format, c.modifier),
                        scanout = c.scanout,
                        "the display did not confirm the negotiated scanout candidate"
                    );
                }
                c
            }
            _ => d.clone(),
        })
    }

    fn take_probe(&mut self) -> Option<ScanoutProbe> {
        self.probe.take()
    }
}

/// The share of the fd limit the module's buffers may take: half of the
/// soft `RLIMIT_NOFILE` now ([`DEFAULT_MAX_BUFFER_FDS`](crate::collections::DEFAULT_MAX_BUFFER_FDS)
/// when unlimited or unreadable).
pub fn default_max_buffer_fds() -> u64 {
    rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .map_or(crate::collections::DEFAULT_MAX_BUFFER_FDS, |soft| soft / 2)
}
