//! A participant's view of a collection: constraints in, buffers out.

use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};

use accord_protocol::client::wp_buffer_collection_v1::{MemoryFlags, WpBufferCollectionV1};
use wayland_client::protocol::wl_buffer::WlBuffer;

use crate::buffer::{Allocation, Buffer, Plane};
use crate::lock::lock;
use crate::{Accord, CoherencyDomains, ColorSpace, Constraints, Failure, FailureReason};
use accord_protocol::vocabulary::{codec, MemoryKind};

/// Events received so far (the proxy's user data).
#[derive(Debug, Default)]
pub(crate) struct CollectionState {
    pub(crate) settings: Option<Settings>,
    pub(crate) buffers: Vec<Buffer>,
    /// The final outcome once `allocated` or `failed` arrived.
    pub(crate) outcome: Option<Result<Allocation, Failure>>,
    pub(crate) taken: bool,
    pub(crate) buffer_count: Option<u32>,
    /// `participant_lost` events received so far (version 2).
    pub(crate) lost: Vec<LostParticipant>,
    /// `close_weak_asap` arrived (a weak participant must let go).
    pub(crate) close_weak: bool,
    /// The `color_space` event's value (version 2).
    pub(crate) color_space: Option<ColorSpace>,
    /// The `coherency_domain` event's value (version 2).
    pub(crate) coherency_domain: Option<CoherencyDomains>,
    /// The `raw_size` event's value (version 2, raw collections).
    pub(crate) raw_size: Option<u64>,
    /// The generation the events being received describe (the
    /// `generation` event; 1 from a version-1 compositor).
    pub(crate) generation: u32,
    /// The newest generation received completely.
    pub(crate) newest: Option<u32>,
    /// Renegotiation outcomes not yet taken, oldest first.
    pub(crate) renegotiations: std::collections::VecDeque<Renegotiation>,
    /// The `placement` event (version 2).
    pub(crate) placement: Option<crate::Placement>,
}

/// What a renegotiation of an allocated collection gave (protocol version
/// 2): see [`Collection::recommit`] and [`Collection::poll_renegotiation`].
#[derive(Debug)]
pub enum Renegotiation {
    /// A new generation of buffers: switch to them at your own frame
    /// boundary, then [`release`](Collection::release_generation) the old
    /// one. The old buffers stay valid until then.
    Generation(Allocation),
    /// The re-solve kept the current generation: nothing was allocated,
    /// the new constraints hold for the buffers you have.
    Kept {
        /// The generation that stays current.
        generation: u32,
    },
    /// The re-solve failed: the current generation stays, nothing was torn
    /// down, and the change was dropped.
    Failed {
        /// Why (the compositor's reason and message).
        failure: Failure,
        /// The generation that stays current.
        generation: u32,
    },
}

/// A participant that left the collection after allocation (the
/// compositor's `participant_lost` event, protocol version 2). The buffers
/// stay valid; what to do about it is the holder's decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LostParticipant {
    /// Its name, as in failure messages.
    pub name: String,
    /// Why, for people.
    pub message: String,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) format: u32,
    pub(crate) modifier: u64,
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) count: u32,
    pub(crate) memory: MemoryKind,
}

pub(crate) type CollectionEvents = Arc<Mutex<CollectionState>>;

impl CollectionState {
    pub(crate) fn outcome_failure(&mut self, f: Failure) {
        if self.outcome.is_none() {
            self.outcome = Some(Err(f));
        }
    }

    pub(crate) fn on_generation(&mut self, generation: u32) {
        self.generation = generation;
        // Each generation's detail events are its own.
        self.color_space = None;
        self.coherency_domain = None;
    }

    pub(crate) fn on_settings(&mut self, s: Settings) {
        self.settings = Some(s);
        self.buffer_count = Some(s.count);
    }

    pub(crate) fn on_buffer(&mut self, index: u32, size: u64) {
        let Some(s) = self.settings else { return };
        if index as usize == self.buffers.len() {
            self.buffers.push(Buffer {
                index,
                format: s.format,
                modifier: s.modifier,
                width: s.width,
                height: s.height,
                size,
                memory: s.memory,
                planes: Vec::new(),
                // A version-1 compositor sends none: its memory is CPU's.
                coherency_domain: self.coherency_domain.unwrap_or(CoherencyDomains::CPU),
            });
        }
    }

    pub(crate) fn on_plane(&mut self, buffer: u32, fd: OwnedFd, offset: u32, stride: u32) {
        // An event for an unannounced buffer is dropped (closing the fd).
        if let Some(b) = self.buffers.get_mut(buffer as usize) {
            b.planes.push(Plane {
                fd,
                offset: u64::from(offset),
                stride,
            });
        }
    }

    pub(crate) fn on_allocated(&mut self) {
        let Some(s) = self.settings else {
            self.outcome_failure(Failure {
                reason: FailureReason::Other(u32::MAX),
                message: "allocated without settings".into(),
            });
            return;
        };
        let buffers = std::mem::take(&mut self.buffers);
        let generation = self.generation.max(1);
        let first = self.outcome.is_none() && !self.taken;
        self.newest = Some(generation);
        let allocation = Allocation {
            format: s.format,
            modifier: s.modifier,
            width: s.width,
            height: s.height,
            memory: s.memory,
            buffers,
            color_space: self.color_space,
            coherency_domain: self.coherency_domain.unwrap_or(CoherencyDomains::CPU),
            placement: self.placement.take(),
            raw_size: self.raw_size,
            generation,
        };
        if first {
            self.outcome = Some(Ok(allocation));
        } else {
            self.renegotiations
                .push_back(Renegotiation::Generation(allocation));
        }
    }
}

/// One participant's view of a collection: send constraints with
/// [`commit`](Collection::commit), then receive the [`Allocation`].
/// Dropping it before allocation counts as this participant failing.
///
/// ```no_run
/// # let token: accord_client::Token = unimplemented!();
/// use accord_client::{Constraints, Usage};
/// let collection = token.bind();
/// collection.commit(&Constraints::new().usage(Usage::CpuRead).min_size(64, 64));
/// let allocation = collection.wait_allocated()?;
/// # Ok::<(), accord_client::Failure>(())
/// ```
#[derive(Debug)]
pub struct Collection {
    accord: Accord,
    proxy: WpBufferCollectionV1,
    events: CollectionEvents,
}

impl Collection {
    pub(crate) fn new(
        accord: Accord,
        proxy: WpBufferCollectionV1,
        events: CollectionEvents,
    ) -> Self {
        Collection {
            accord,
            proxy,
            events,
        }
    }

    /// Hold the buffers weakly (protocol version 2; before commit): they
    /// live while a strong participant or a `wl_buffer` holds them, and
    /// [`close_weak_requested`](Self::close_weak_requested) turns true when
    /// none is left. Then drop this collection, its `wl_buffer`s and its
    /// [`Allocation`] within the compositor's deadline (5 s by default), or
    /// the connection is closed. `Err(Unsupported)` on a version-1
    /// compositor.
    ///
    /// ```no_run
    /// # let collection: accord_client::Collection = unimplemented!();
    /// collection.set_weak()?; // a thumbnailer that must not keep a stream alive
    /// # Ok::<(), accord_client::Failure>(())
    /// ```
    pub fn set_weak(&self) -> Result<(), Failure> {
        use wayland_client::Proxy;
        if self.proxy.version() < 2 {
            return Err(Failure {
                reason: FailureReason::Unsupported,
                message: format!(
                    "set_weak needs wp_buffer_collection_v1 version 2; the compositor offers \
                     version {}",
                    self.proxy.version()
                ),
            });
        }
        self.proxy.set_weak();
        Ok(())
    }

    /// Whether the compositor asked this weak participant to let go of the
    /// buffers (`close_weak_asap`), as the events dispatched so far say.
    pub fn close_weak_requested(&self) -> bool {
        lock(&self.events).close_weak
    }

    /// Participants that left after allocation, as the events dispatched
    /// so far reported them (dispatch with [`Accord::roundtrip`] or
    /// [`Accord::dispatch_pending`] first).
    ///
    /// ```no_run
    /// # let collection: accord_client::Collection = unimplemented!();
    /// for gone in collection.lost_participants() {
    ///     eprintln!("{} left: {}", gone.name, gone.message);
    /// }
    /// ```
    pub fn lost_participants(&self) -> Vec<LostParticipant> {
        lock(&self.events).lost.clone()
    }

    /// A token for a late participant of this collection (protocol version
    /// 2), before or after allocation: export it to another client or bind
    /// it here. After allocation its participant receives the existing
    /// buffers if its constraints hold for them, or fails alone (the
    /// others never notice). `Err(Unsupported)` when the compositor only
    /// speaks version 1.
    ///
    /// ```no_run
    /// # let collection: accord_client::Collection = unimplemented!();
    /// let viewer = collection.attach_token()?;
    /// let handle = viewer.export()?; // for the late viewer's process
    /// # Ok::<(), accord_client::Failure>(())
    /// ```
    pub fn attach_token(&self) -> Result<crate::Token, Failure> {
        use wayland_client::Proxy;
        if self.proxy.version() < 2 {
            return Err(Failure {
                reason: FailureReason::Unsupported,
                message: format!(
                    "attach_token needs wp_buffer_collection_v1 version 2; the compositor \
                     offers version {}",
                    self.proxy.version()
                ),
            });
        }
        let events = crate::token::new_events();
        let proxy = self
            .proxy
            .attach_token(&self.accord.inner.qh, events.clone());
        Ok(crate::Token::new(self.accord.clone(), proxy, events))
    }

    /// Send every constraint, then `commit` (exactly once per collection:
    /// the compositor rejects a second commit with a protocol error).
    /// Constraints only protocol version 2 carries
    /// ([`Constraints::required_size`], [`Constraints::max_area`],
    /// [`Constraints::format_limits`], [`Constraints::color_space`]) are
    /// sent when set; on a version-1 compositor nothing is committed and
    /// the outcome is a local `Unsupported` failure naming the field
    /// (dropping the collection then releases its slot).
    ///
    /// ```no_run
    /// # let collection: accord_client::Collection = unimplemented!();
    /// collection.commit(&accord_client::Constraints::new().buffers(2));
    /// ```
    pub fn commit(&self, c: &Constraints) {
        use wayland_client::Proxy;
        let p = &self.proxy;
        if let Some(field) = c.version_2_field().filter(|_| p.version() < 2) {
            lock(&self.events).outcome = Some(Err(Failure {
                reason: FailureReason::Unsupported,
                message: format!(
                    "{field} needs wp_buffer_collection_v1 version 2; the compositor offers \
                     version {}; nothing was committed",
                    p.version()
                ),
            }));
            return;
        }
        self.send_constraints(c);
        p.commit();
    }

    /// Renegotiate (protocol version 2): send new constraints for this
    /// allocated collection and `recommit` them, say when the stream
    /// changes resolution mid-stream. The whole set is sent again (nothing
    /// carries over from the last commit). The compositor re-solves with
    /// every participant's constraints; the answer arrives as a
    /// [`Renegotiation`] ([`wait_renegotiation`](Self::wait_renegotiation)):
    /// a new generation (every participant gets it), the current one kept,
    /// or a failure that changes nothing. The current buffers stay valid
    /// meanwhile. `Err(Unsupported)` on a version-1 compositor; only after
    /// the first allocation has arrived (the compositor checks it: a
    /// protocol error otherwise). Like [`commit`](Self::commit) it does
    /// not flush; [`wait_renegotiation`](Self::wait_renegotiation) does.
    ///
    /// Answering a configure (a toplevel made fullscreen or windowed): send
    /// the constraints for the configured size with `recommit` after
    /// `ack_configure` and before the `wl_surface.commit` that applies it.
    /// The compositor holds its own change of the collection for that
    /// answer, so both make one generation (the XML's "One generation per
    /// configure"); a commit without a recommit tells it the constraints
    /// stay. Commit the configure's state with the first frame of the new
    /// generation: a compositor that applies the state at that commit (as
    /// the reference compositor does) shows nothing in between, so the
    /// new state's first flip is that frame.
    ///
    /// ```no_run
    /// # let collection: accord_client::Collection = unimplemented!();
    /// use accord_client::{Constraints, Renegotiation, Usage};
    /// let first = collection.wait_allocated()?; // 1280x720, generation 1
    /// // The stream switches to 1080p:
    /// collection.recommit(&Constraints::new().usage(Usage::CpuWrite).min_size(1920, 1080).buffers(2))?;
    /// match collection.wait_renegotiation()? {
    ///     Renegotiation::Generation(next) => {
    ///         // ...present the frames in flight from `first`, then switch:
    ///         collection.release_generation(first.generation)?;
    ///         drop(first);
    ///         assert_eq!(next.width, 1920);
    ///     }
    ///     Renegotiation::Kept { .. } => {} // the buffers already fit
    ///     Renegotiation::Failed { failure, .. } => eprintln!("still at 720p: {failure}"),
    /// }
    /// # Ok::<(), accord_client::Failure>(())
    /// ```
    pub fn recommit(&self, c: &Constraints) -> Result<(), Failure> {
        self.need_version_2("recommit")?;
        self.send_constraints(c);
        self.proxy.recommit();
        Ok(())
    }

    /// The next renegotiation outcome if one has arrived, without blocking
    /// (call [`Accord::dispatch_pending`] first): a new generation pushed
    /// by any participant's change (or the compositor's), a kept
    /// generation or a failure answering this participant's
    /// [`recommit`](Self::recommit). A consumer that never re-commits
    /// polls this at its frame boundary to follow the producer.
    ///
    /// ```no_run
    /// # let accord: accord_client::Accord = unimplemented!();
    /// # let collection: accord_client::Collection = unimplemented!();
    /// accord.dispatch_pending()?;
    /// if let Some(accord_client::Renegotiation::Generation(next)) = collection.poll_renegotiation() {
    ///     println!("now {}x{} (generation {})", next.width, next.height, next.generation);
    /// }
    /// # Ok::<(), accord_client::Failure>(())
    /// ```
    pub fn poll_renegotiation(&self) -> Option<Renegotiation> {
        lock(&self.events).renegotiations.pop_front()
    }

    /// Block until the next renegotiation outcome arrives (see
    /// [`poll_renegotiation`](Self::poll_renegotiation)). `Err` only when
    /// the connection fails.
    ///
    /// ```no_run
    /// # let collection: accord_client::Collection = unimplemented!();
    /// let outcome = collection.wait_renegotiation()?;
    /// # Ok::<(), accord_client::Failure>(())
    /// ```
    pub fn wait_renegotiation(&self) -> Result<Renegotiation, Failure> {
        self.accord.flush()?;
        loop {
            if let Some(r) = self.poll_renegotiation() {
                return Ok(r);
            }
            self.accord.inner.blocking_dispatch()?;
        }
    }

    /// The newest generation received so far (`None` before the first
    /// allocation).
    ///
    /// ```no_run
    /// # let collection: accord_client::Collection = unimplemented!();
    /// assert_eq!(collection.generation(), Some(1));
    /// ```
    pub fn generation(&self) -> Option<u32> {
        lock(&self.events).newest
    }

    /// A `wl_buffer` for buffer `index` of generation `generation`
    /// (protocol version 2): race-free against a newer generation
    /// arriving. The compositor checks that this collection holds the
    /// generation (not released) and that the index is in range; a
    /// mistake is a protocol error. On a version-1 compositor, generation
    /// 1 maps to [`wl_buffer`](Self::wl_buffer).
    ///
    /// ```no_run
    /// # let collection: accord_client::Collection = unimplemented!();
    /// # let allocation: accord_client::Allocation = unimplemented!();
    /// let wl_buffer = collection.generation_wl_buffer(allocation.generation, 0)?;
    /// # Ok::<(), accord_client::Failure>(())
    /// ```
    pub fn generation_wl_buffer(&self, generation: u32, index: u32) -> Result<WlBuffer, Failure> {
        use wayland_client::Proxy;
        if self.proxy.version() < 2 && generation == 1 {
            return Ok(self.wl_buffer(index));
        }
        self.need_version_2("get_generation_buffer")?;
        Ok(self
            .proxy
            .get_generation_buffer(generation, index, &self.accord.inner.qh, ()))
    }

    /// [`generation_wl_buffer`](Self::generation_wl_buffer) whose events
    /// (`wl_buffer.release`) go to your own event queue, with your user
    /// data: a client that recycles buffers on release (a video sink)
    /// dispatches them where it keeps its other window events, for
    /// instance on a thread of its own, while this library's queue only
    /// sees the collection's events.
    ///
    /// ```no_run
    /// # let collection: accord_client::Collection = unimplemented!();
    /// # struct Window;
    /// # impl wayland_client::Dispatch<wayland_client::protocol::wl_buffer::WlBuffer, u32> for Window {
    /// #     fn event(_: &mut Self, _: &wayland_client::protocol::wl_buffer::WlBuffer,
    /// #         _: wayland_client::protocol::wl_buffer::Event, _: &u32,
    /// #         _: &wayland_client::Connection, _: &wayland_client::QueueHandle<Self>) {}
    /// # }
    /// # let qh: wayland_client::QueueHandle<Window> = unimplemented!();
    /// // Buffer 0 of generation 1; its release arrives at Window with data 0.
    /// let wl_buffer = collection.generation_wl_buffer_on(1, 0, &qh, 0u32)?;
    /// # Ok::<(), accord_client::Failure>(())
    /// ```
    pub fn generation_wl_buffer_on<D, U>(
        &self,
        generation: u32,
        index: u32,
        qh: &wayland_client::QueueHandle<D>,
        data: U,
    ) -> Result<WlBuffer, Failure>
    where
        D: wayland_client::Dispatch<WlBuffer, U> + 'static,
        U: Send + Sync + 'static,
    {
        use wayland_client::Proxy;
        if self.proxy.version() < 2 && generation == 1 {
            return Ok(self.proxy.get_wl_buffer(index, qh, data));
        }
        self.need_version_2("get_generation_buffer")?;
        Ok(self
            .proxy
            .get_generation_buffer(generation, index, qh, data))
    }

    /// Tell the compositor that this participant has moved on from an older
    /// generation (protocol version 2): its hold ends; `wl_buffer`s made
    /// from it keep it alive until destroyed. Drop that generation's
    /// [`Allocation`] (closing the fds) too; the memory is freed and the
    /// quota refunded once nobody holds it. The newest generation cannot
    /// be released (a protocol error).
    ///
    /// ```no_run
    /// # let collection: accord_client::Collection = unimplemented!();
    /// # let old: accord_client::Allocation = unimplemented!();
    /// collection.release_generation(old.generation)?;
    /// drop(old);
    /// # Ok::<(), accord_client::Failure>(())
    /// ```
    pub fn release_generation(&self, generation: u32) -> Result<(), Failure> {
        self.need_version_2("release_generation")?;
        self.proxy.release_generation(generation);
        self.accord.flush()
    }

    fn need_version_2(&self, what: &str) -> Result<(), Failure> {
        use wayland_client::Proxy;
        if self.proxy.version() < 2 {
            return Err(Failure {
                reason: FailureReason::Unsupported,
                message: format!(
                    "{what} needs wp_buffer_collection_v1 version 2; the compositor offers \
                     version {}",
                    self.proxy.version()
                ),
            });
        }
        Ok(())
    }

    /// Every constraint request of `c` (version-2 fields only when set).
    fn send_constraints(&self, c: &Constraints) {
        let p = &self.proxy;
        p.set_usage(c.usage);
        let table = c.format_table();
        let chunk = accord_protocol::limits::MAX_FORMAT_PAIRS_PER_REQUEST
            * accord_protocol::limits::FORMAT_ENTRY_BYTES;
        for part in table.chunks(chunk) {
            p.add_formats(part.to_vec());
        }
        p.set_size_range(c.min_size.0, c.min_size.1, c.max_size.0, c.max_size.1);
        p.set_size_alignment(c.size_alignment.0, c.size_alignment.1);
        p.set_stride(c.min_stride, c.max_stride, c.stride_alignment);
        p.set_alignment(c.offset_alignment, c.base_alignment);
        let (max_bytes_hi, max_bytes_lo) = codec::split_u64(c.max_bytes);
        p.set_max_bytes(max_bytes_hi, max_bytes_lo);
        let (camping, dedicated, shared, min, max) = c.buffer_counts;
        p.set_buffer_counts(camping, dedicated, shared, min, max);
        p.set_memory_flags(if c.contiguous {
            MemoryFlags::Contiguous
        } else {
            MemoryFlags::empty()
        });
        p.set_devices(codec::encode_devices(&c.devices));
        if c.required_min_size != (0, 0) || c.required_max_size != (0, 0) {
            p.set_required_size(
                c.required_min_size.0,
                c.required_min_size.1,
                c.required_max_size.0,
                c.required_max_size.1,
            );
        }
        if c.max_area != 0 {
            let (hi, lo) = codec::split_u64(c.max_area);
            p.set_max_area(hi, lo);
        }
        if c.min_size_bytes != 0 {
            let (hi, lo) = codec::split_u64(c.min_size_bytes);
            p.set_min_size_bytes(hi, lo);
        }
        for heap in &c.permitted_heaps {
            p.add_permitted_heap(Some(heap.clone()));
        }
        if c.coherency_domains != CoherencyDomains::ALL {
            p.set_coherency_domains(
                accord_protocol::client::wp_buffer_collection_v1::CoherencyDomain::from_bits_retain(
                    c.coherency_domains.0,
                ),
            );
        }
        if !c.color_spaces.is_empty() {
            let bytes: Vec<u8> = c
                .color_spaces
                .iter()
                .flat_map(|cs| cs.0.to_ne_bytes())
                .collect();
            p.set_color_spaces(bytes);
        }
        for l in &c.format_limits {
            p.add_format_limits(
                l.format,
                l.min_size.0,
                l.min_size.1,
                l.max_size.0,
                l.max_size.1,
                l.size_alignment.0,
                l.size_alignment.1,
                l.min_stride,
                l.max_stride,
                l.stride_alignment,
            );
        }
    }

    /// Send a bare `commit` without constraints (low level; [`commit`]
    /// sends constraints first).
    ///
    /// [`commit`]: Collection::commit
    ///
    /// ```no_run
    /// # let collection: accord_client::Collection = unimplemented!();
    /// collection.commit_raw();
    /// ```
    pub fn commit_raw(&self) {
        self.proxy.commit();
    }

    /// Block until the outcome arrives. The allocation (which owns the fds)
    /// is handed out once; later calls give `AlreadyTaken`.
    ///
    /// ```no_run
    /// # let collection: accord_client::Collection = unimplemented!();
    /// match collection.wait_allocated() {
    ///     Ok(a) => println!("{}x{}, {} buffers", a.width, a.height, a.buffers.len()),
    ///     Err(f) => eprintln!("negotiation failed: {f}"),
    /// }
    /// ```
    pub fn wait_allocated(&self) -> Result<Allocation, Failure> {
        self.accord.flush()?;
        loop {
            if let Some(r) = self.poll_allocated() {
                return r;
            }
            self.accord.inner.blocking_dispatch()?;
        }
    }

    /// The outcome if it has arrived, without blocking: the event-loop form
    /// of [`wait_allocated`](Collection::wait_allocated). Call
    /// [`Accord::dispatch_pending`] when the connection is readable first.
    ///
    /// ```no_run
    /// # let accord: accord_client::Accord = unimplemented!();
    /// # let collection: accord_client::Collection = unimplemented!();
    /// accord.dispatch_pending()?;
    /// if let Some(outcome) = collection.poll_allocated() {
    ///     let allocation = outcome?;
    /// }
    /// # Ok::<(), accord_client::Failure>(())
    /// ```
    pub fn poll_allocated(&self) -> Option<Result<Allocation, Failure>> {
        let mut st = lock(&self.events);
        if st.taken {
            return Some(Err(Failure {
                reason: FailureReason::AlreadyTaken,
                message: "the outcome was already returned".into(),
            }));
        }
        let out = st.outcome.take()?;
        st.taken = true;
        Some(out)
    }

    /// A `wl_buffer` for buffer `index` (after allocation), ready to attach
    /// to a surface: no second import.
    ///
    /// ```no_run
    /// # let collection: accord_client::Collection = unimplemented!();
    /// # let surface: wayland_client::protocol::wl_surface::WlSurface = unimplemented!();
    /// let wl_buffer = collection.wl_buffer(0);
    /// surface.attach(Some(&wl_buffer), 0, 0);
    /// surface.commit();
    /// ```
    pub fn wl_buffer(&self, index: u32) -> WlBuffer {
        self.proxy.get_wl_buffer(index, &self.accord.inner.qh, ())
    }

    /// The underlying protocol object (for raw requests).
    ///
    /// ```no_run
    /// # let collection: accord_client::Collection = unimplemented!();
    /// let proxy = collection.proxy();
    /// ```
    pub fn proxy(&self) -> &WpBufferCollectionV1 {
        &self.proxy
    }
}

impl Drop for Collection {
    fn drop(&mut self) {
        self.proxy.destroy();
        self.accord.flush_on_drop();
    }
}
