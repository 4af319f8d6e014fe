//! `accordsink`'s behaviour.
//!
//! - `start`: opens the window (an `xdg_toplevel`, fullscreen when the
//!   `fullscreen` property says so) and binds the Accord global.
//! - The caps query offers `video/x-raw(memory:DMABuf)` only where the
//!   compositor's memory is a dma-buf: what a probe collection got at
//!   `start`, then what the real one got.
//! - `propose_allocation`: negotiates a collection for the caps (the sink:
//!   format, exact size, CPU write unless the caps are `memory:DMABuf`,
//!   two buffers for upstream; the compositor: its surface participant)
//!   and answers with a pool of its buffers ([`crate::pool`]), one
//!   `GstMemory` per buffer (every plane in it, at the video meta's
//!   offsets). New caps mid-stream re-commit the collection: a new
//!   generation, a new pool. Upstream's pool config (more buffers, a
//!   `GstVideoAlignment`: [`crate::alignment`]) re-commits it too; what the
//!   compositor cannot give is an element warning naming its reason, and
//!   upstream keeps the pool as it was. A failed negotiation is an
//!   element error (`GST_CORE_ERROR_NEGOTIATION`) whose text is the
//!   collection's failure reason and message.
//! - A generation the compositor starts by itself (its participant
//!   changed: fullscreen on a display with planes) is adopted at the next
//!   frame: the sink sends `RECONFIGURE` upstream, which asks for a pool
//!   again and gets one on the new generation.
//! - `show_frame`: a buffer of one of its pools is shown by attaching the
//!   collection's `wl_buffer` for it (no copy); any other buffer is copied
//!   once into a pool buffer (counted in `copies`, with a debug line).
//!   The compositor's hold on a shown buffer keeps it out of the pool
//!   until `wl_buffer.release` ([`crate::window`]). The first frame of a
//!   newer generation retires the older ones; a retired generation is
//!   released once the compositor let go of all of it.
//! - EOS posts an element message `accordsink-stats` with the counters
//!   (`gst-launch-1.0 -m` prints it): `frames-shown`, `copies`,
//!   `generations`, `generation`, `released-generations`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use accord_client::{Constraints, Usage, MOD_LINEAR};
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::subclass::prelude::*;

use crate::alignment::Plan;
use crate::formats;
use crate::negotiator::Negotiator;
use crate::pool::AccordPool;
use crate::window::{Crop, Window};

static CAT: std::sync::LazyLock<gst::DebugCategory> = std::sync::LazyLock::new(|| {
    gst::DebugCategory::new(
        "accordsink",
        gst::DebugColorFlags::empty(),
        Some("Accord collection video sink"),
    )
});

/// Buffers the sink's participant asks for upstream: one being filled
/// while one waits to be shown (the compositor's participant camps the
/// one on screen).
const UPSTREAM_BUFFERS: u32 = 2;

#[derive(Default)]
struct Settings {
    fullscreen: bool,
}

/// What the sink's participant committed last.
#[derive(Clone)]
struct Request {
    usage: Usage,
    format: u32,
    /// The picture (the caps').
    info: gst_video::VideoInfo,
    /// Buffers the sink's participant holds (upstream's).
    camping: u32,
    /// Coded size and stride alignment (upstream's `GstVideoAlignment`).
    plan: Plan,
}

/// `memory` values: what the compositor's buffers are.
const MEMORY_UNKNOWN: u8 = 0;
const MEMORY_DMABUF: u8 = 1;
const MEMORY_MEMFD: u8 = 2;

/// What exists between `start` and `stop`. Fields drop in order: the
/// pools and the collection before the window's connection.
struct Started {
    /// What the current generation was committed for.
    request: Option<Request>,
    /// The window cannot crop padding off, and the sink said so.
    warned_no_crop: bool,
    /// The buffer just shown as the preroll frame (its address): it comes
    /// again as the first rendered one and is not attached twice. Only
    /// the next frame is compared: a pool buffer the compositor released
    /// may legitimately come back at once with a new picture.
    prerolled: Option<usize>,
    /// The pool of the current generation, and the caps it serves.
    current: Option<(gst::Caps, AccordPool)>,
    /// Pools of older generations, while their buffers may still come.
    older: Vec<AccordPool>,
    negotiator: Negotiator,
    window: Window,
}

#[derive(Default)]
pub struct AccordSink {
    settings: Mutex<Settings>,
    started: Mutex<Option<Started>>,
    /// The current pool, for `unlock` (the streaming thread may hold
    /// `started` while it waits in the pool).
    unlock_pool: Mutex<Option<AccordPool>>,
    frames_shown: AtomicU64,
    copies: AtomicU64,
    generations: AtomicU64,
    released: AtomicU64,
    /// The generation of the last frame shown.
    shown_generation: AtomicU64,
    /// `MEMORY_*`: the caps query's answer depends on it.
    memory: std::sync::atomic::AtomicU8,
    /// `show_frame` is called from `render` (not for the preroll frame).
    rendering: std::sync::atomic::AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[glib::object_subclass]
impl ObjectSubclass for AccordSink {
    const NAME: &'static str = "GstAccordSink";
    type Type = super::AccordSink;
    type ParentType = gst_video::VideoSink;
}

impl ObjectImpl for AccordSink {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPS: std::sync::LazyLock<Vec<glib::ParamSpec>> = std::sync::LazyLock::new(|| {
            vec![
                glib::ParamSpecBoolean::builder("fullscreen")
                    .nick("Fullscreen")
                    .blurb("Ask the compositor to show the window fullscreen (on an output whose mode matches the video, the compositor can scan the buffers out directly)")
                    .default_value(false)
                    .mutable_playing()
                    .build(),
                glib::ParamSpecUInt64::builder("frames-shown")
                    .nick("Frames shown")
                    .blurb("Frames attached to the window so far (each one a collection buffer)")
                    .read_only()
                    .build(),
                glib::ParamSpecUInt64::builder("copies")
                    .nick("Copies")
                    .blurb("Frames that came in buffers not from the sink's pool and were copied once into a pool buffer (0 when upstream writes into the collection)")
                    .read_only()
                    .build(),
                glib::ParamSpecUInt64::builder("generations")
                    .nick("Generations")
                    .blurb("Collection generations negotiated so far (one more per caps change, pool configuration or compositor change that needed new buffers)")
                    .read_only()
                    .build(),
                glib::ParamSpecUInt64::builder("generation")
                    .nick("Generation")
                    .blurb("The collection generation of the last frame shown (0 before the first): it moves when the sink adopts a new one, its own or one the compositor started (fullscreen on a display with planes)")
                    .read_only()
                    .build(),
                glib::ParamSpecUInt64::builder("released-generations")
                    .nick("Released generations")
                    .blurb("Older generations released so far, each once the compositor let go of every buffer of it")
                    .read_only()
                    .build(),
            ]
        });
        PROPS.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        if pspec.name() == "fullscreen" {
            let on = value.get().unwrap_or(false);
            lock(&self.settings).fullscreen = on;
            if let Some(st) = lock(&self.started).as_ref() {
                st.window.set_fullscreen(on);
            }
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        match pspec.name() {
            "fullscreen" => lock(&self.settings).fullscreen.to_value(),
            "frames-shown" => self.frames_shown.load(Ordering::Relaxed).to_value(),
            "copies" => self.copies.load(Ordering::Relaxed).to_value(),
            "generations" => self.generations.load(Ordering::Relaxed).to_value(),
            "generation" => self.shown_generation.load(Ordering::Relaxed).to_value(),
            "released-generations" => self.released.load(Ordering::Relaxed).to_value(),
            _ => glib::Value::from_type(pspec.value_type()),
        }
    }
}

impl GstObjectImpl for AccordSink {}

impl ElementImpl for AccordSink {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: std::sync::LazyLock<gst::subclass::ElementMetadata> =
            std::sync::LazyLock::new(|| {
                gst::subclass::ElementMetadata::new(
                    "Accord video sink",
                    "Sink/Video",
                    "Shows video in a Wayland window; its buffer pool is an Accord buffer \
                     collection negotiated with the compositor, so upstream fills the buffers \
                     that are shown or scanned out (no copy)",
                    "Accord developers",
                )
            });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: std::sync::LazyLock<Vec<gst::PadTemplate>> =
            std::sync::LazyLock::new(|| {
                let raw = gst_video::VideoCapsBuilder::new()
                    .format_list(formats::video_formats())
                    .build();
                let dmabuf = gst_video::VideoCapsBuilder::new()
                    .features([gst_allocators::CAPS_FEATURE_MEMORY_DMABUF])
                    .format_list(formats::video_formats())
                    .build();
                let mut caps = raw;
                caps.merge(dmabuf);
                vec![gst::PadTemplate::new(
                    "sink",
                    gst::PadDirection::Sink,
                    gst::PadPresence::Always,
                    &caps,
                )
                .expect("valid pad template")]
            });
        TEMPLATES.as_ref()
    }
}

impl BaseSinkImpl for AccordSink {
    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let fullscreen = lock(&self.settings).fullscreen;
        let name = self.obj().name();
        let (window, accord) = Window::open(&format!("accordsink {name}"), fullscreen)
            .map_err(|e| gst::error_msg!(gst::ResourceError::OpenWrite, ("{}", e)))?;
        let negotiator = Negotiator::new(accord, &name);
        self.frames_shown.store(0, Ordering::Relaxed);
        self.copies.store(0, Ordering::Relaxed);
        self.generations.store(0, Ordering::Relaxed);
        self.released.store(0, Ordering::Relaxed);
        self.shown_generation.store(0, Ordering::Relaxed);
        let memory = match negotiator.probe_memory(&window) {
            Ok(kind) => {
                gst::debug!(
                    CAT,
                    imp = self,
                    "the compositor's memory: {}",
                    kind.as_str()
                );
                memory_code(kind)
            }
            Err(failure) => {
                gst::debug!(CAT, imp = self, "memory probe failed: {failure}");
                MEMORY_UNKNOWN
            }
        };
        self.memory.store(memory, Ordering::Relaxed);
        *lock(&self.started) = Some(Started {
            request: None,
            warned_no_crop: false,
            prerolled: None,
            current: None,
            older: Vec::new(),
            negotiator,
            window,
        });
        gst::debug!(CAT, imp = self, "window open (fullscreen {fullscreen})");
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *lock(&self.unlock_pool) = None;
        if let Some(st) = lock(&self.started).take() {
            for pool in st.current.iter().map(|(_, p)| p).chain(&st.older) {
                let _ = pool.set_active(false);
            }
            gst::info!(
                CAT,
                imp = self,
                "stopped: {} frames shown, {} copies, {} generations, {} releases",
                self.frames_shown.load(Ordering::Relaxed),
                self.copies.load(Ordering::Relaxed),
                self.generations.load(Ordering::Relaxed),
                st.window.releases()
            );
            st.window.clear();
        }
        Ok(())
    }

    fn unlock(&self) -> Result<(), gst::ErrorMessage> {
        if let Some(pool) = lock(&self.unlock_pool).as_ref() {
            pool.set_flushing(true);
        }
        Ok(())
    }

    fn unlock_stop(&self) -> Result<(), gst::ErrorMessage> {
        if let Some(pool) = lock(&self.unlock_pool).as_ref() {
            pool.set_flushing(false);
        }
        Ok(())
    }

    fn propose_allocation(
        &self,
        query: &mut gst::query::Allocation,
    ) -> Result<(), gst::LoggableError> {
        let (caps, _need_pool) = query.get_owned();
        let caps =
            caps.ok_or_else(|| gst::loggable_error!(CAT, "allocation query without caps"))?;
        let pool = self
            .pool_for(&caps)
            .map_err(|e| gst::loggable_error!(CAT, "{}", e))?;
        query.add_allocation_pool(Some(&pool), pool.buffer_size(), pool.count(), pool.count());
        query.add_allocation_meta::<gst_video::VideoMeta>(None);
        Ok(())
    }

    /// GstVideoSink calls `show_frame` for the preroll frame and again for
    /// every rendered one: a call from here is a rendered one.
    fn render(&self, buffer: &gst::Buffer) -> Result<gst::FlowSuccess, gst::FlowError> {
        self.rendering.store(true, Ordering::Relaxed);
        let shown = self.parent_render(buffer);
        self.rendering.store(false, Ordering::Relaxed);
        shown
    }

    /// The template, without `memory:DMABuf` when the compositor's memory
    /// is not a dma-buf (upstream could not import it).
    fn caps(&self, filter: Option<&gst::Caps>) -> Option<gst::Caps> {
        let template = self.obj().static_pad("sink")?.pad_template_caps();
        let caps = if self.memory.load(Ordering::Relaxed) == MEMORY_MEMFD {
            let mut system = gst::Caps::new_empty();
            {
                let out = system.get_mut()?;
                for (s, features) in template.iter_with_features() {
                    if !features.contains(gst_allocators::CAPS_FEATURE_MEMORY_DMABUF) {
                        out.append_structure_full(s.to_owned(), Some(features.to_owned()));
                    }
                }
            }
            system
        } else {
            template
        };
        Some(match filter {
            Some(f) => f.intersect_with_mode(&caps, gst::CapsIntersectMode::First),
            None => caps,
        })
    }

    fn event(&self, event: gst::Event) -> bool {
        if let gst::EventView::Eos(_) = event.view() {
            self.post_stats();
        }
        self.parent_event(event)
    }
}

impl VideoSinkImpl for AccordSink {
    fn show_frame(&self, buffer: &gst::Buffer) -> Result<gst::FlowSuccess, gst::FlowError> {
        // A buffer not from a pool is copied into the current caps' pool:
        // make it first when upstream never asked for one (or adopt the
        // newest generation when the current pool's is older).
        let caps = self
            .obj()
            .static_pad("sink")
            .and_then(|p| p.current_caps())
            .ok_or(gst::FlowError::NotNegotiated)?;
        let (need_pool, reconfigure) = {
            let mut guard = lock(&self.started);
            let st = guard.as_mut().ok_or(gst::FlowError::Flushing)?;
            let pushed = self.take_pushed(st);
            let need_pool = Self::own_buffer(st, buffer).is_none()
                && !st
                    .current
                    .as_ref()
                    .is_some_and(|(c, p)| *c == caps && p.generation() >= st.negotiator.newest());
            (need_pool, pushed)
        };
        if reconfigure {
            // Upstream asks for a pool again at its next buffer: it gets
            // one on the new generation (`propose_allocation`).
            if let Some(pad) = self.obj().static_pad("sink") {
                pad.push_event(gst::event::Reconfigure::new());
            }
        }
        if need_pool {
            self.pool_for(&caps)
                .map_err(|_| gst::FlowError::NotNegotiated)?;
        }
        let mut guard = lock(&self.started);
        let st = guard.as_mut().ok_or(gst::FlowError::Flushing)?;
        let address = buffer.as_ptr() as usize;
        if !self.rendering.load(Ordering::Relaxed) {
            st.prerolled = Some(address);
        } else if st.prerolled.take() == Some(address) {
            return Ok(gst::FlowSuccess::Ok);
        }
        if st.window.closed() {
            gst::element_imp_error!(self, gst::ResourceError::Close, ("the window was closed"));
            return Err(gst::FlowError::Error);
        }

        let (key, shown, plan) = match Self::own_buffer(st, buffer) {
            Some((key, pool)) => {
                let plan = pool.plan().ok_or(gst::FlowError::Error)?;
                (key, buffer.clone(), plan)
            }
            None => {
                let (copy, key, plan) = self.copy_in(st, buffer, &caps)?;
                (key, copy, plan)
            }
        };
        // The first frame of a generation retires the older ones: no
        // buffer of theirs comes after it. Those the compositor let go of
        // entirely are released.
        st.negotiator.retire_before(key.generation);
        let released = st.negotiator.collect(&st.window);
        if released > 0 {
            let negotiator = &st.negotiator;
            st.older.retain(|p| negotiator.is_live(p.generation()));
            self.released.fetch_add(released as u64, Ordering::Relaxed);
            gst::debug!(CAT, imp = self, "released {released} older generation(s)");
        }
        if plan.padded() && !st.window.can_crop() && !st.warned_no_crop {
            st.warned_no_crop = true;
            gst::element_imp_warning!(
                self,
                gst::ResourceError::Settings,
                ("the compositor has no wp_viewporter: the padding upstream asked for is shown")
            );
        }
        let wl_buffer = st
            .negotiator
            .wl_buffer(key)
            .ok_or(gst::FlowError::Error)?
            .clone();
        let crop = Crop {
            coded: plan.coded,
            origin: plan.origin,
            picture: plan.picture,
        };
        if let Err(e) = st.window.present(&wl_buffer, key, shown, crop) {
            gst::element_imp_error!(self, gst::ResourceError::Write, ("{}", e));
            return Err(gst::FlowError::Error);
        }
        self.frames_shown.fetch_add(1, Ordering::Relaxed);
        self.shown_generation
            .store(u64::from(key.generation), Ordering::Relaxed);
        gst::trace!(
            CAT,
            imp = self,
            "showing generation {} buffer {}",
            key.generation,
            key.index
        );
        Ok(gst::FlowSuccess::Ok)
    }
}

/// `MEMORY_*` for `kind`.
fn memory_code(kind: accord_client::MemoryKind) -> u8 {
    match kind {
        accord_client::MemoryKind::DmaBuf => MEMORY_DMABUF,
        _ => MEMORY_MEMFD,
    }
}

fn not_started() -> accord_client::Failure {
    accord_client::Failure {
        reason: accord_client::FailureReason::Other(0),
        message: "not started".into(),
    }
}

impl AccordSink {
    /// Takes the generations the compositor started by itself; whether
    /// there was one (upstream should then be asked to reconfigure).
    fn take_pushed(&self, st: &mut Started) -> bool {
        match st.negotiator.poll_pushed(&st.window) {
            Ok(pushed) if !pushed.is_empty() => {
                self.generations
                    .fetch_add(pushed.len() as u64, Ordering::Relaxed);
                gst::info!(
                    CAT,
                    imp = self,
                    "the compositor started generation(s) {pushed:?}: asking upstream to reconfigure"
                );
                true
            }
            Ok(_) => false,
            Err(failure) => {
                gst::warning!(CAT, imp = self, "polling the collection: {failure}");
                false
            }
        }
    }

    /// The pool for `caps`: the current one when it serves them and is on
    /// the newest generation; a pool on the newest generation when the
    /// compositor started one; else a new (re)negotiation.
    fn pool_for(&self, caps: &gst::Caps) -> Result<AccordPool, String> {
        let mut guard = lock(&self.started);
        let st = guard.as_mut().ok_or("not started")?;
        let newest = st.negotiator.newest();
        if let Some((current_caps, pool)) = &st.current {
            if current_caps == caps {
                if pool.generation() >= newest {
                    return Ok(pool.clone());
                }
                // The compositor started a generation for these caps.
                let request = st.request.clone().ok_or("no request")?;
                return self.adopt(st, caps, request, newest);
            }
        }
        let info =
            gst_video::VideoInfo::from_caps(caps).map_err(|e| format!("caps {caps}: {e}"))?;
        let format = formats::drm_fourcc(info.format())
            .ok_or_else(|| format!("format {} is not one the sink offers", info.format()))?;
        let dmabuf = caps
            .features(0)
            .is_some_and(|f| f.contains(gst_allocators::CAPS_FEATURE_MEMORY_DMABUF));
        // System-memory caps let upstream (and the sink's copy path) map
        // the buffers: the CPU writes them. DMABuf caps promise no CPU.
        let usage = if dmabuf {
            Usage::empty()
        } else {
            Usage::CpuWrite
        };
        let request = Request {
            usage,
            format,
            plan: Plan::unpadded(&info),
            info,
            camping: UPSTREAM_BUFFERS,
        };
        let generation = match st
            .negotiator
            .negotiate(&st.window, &Self::constraints(&request))
        {
            Ok(g) => g,
            Err(failure) => {
                gst::element_imp_error!(
                    self,
                    gst::CoreError::Negotiation,
                    ("Accord negotiation failed: {}", failure),
                    [
                        "caps {}; the collection's reason: {}",
                        caps,
                        failure.reason.as_str()
                    ]
                );
                return Err(format!("negotiation failed: {failure}"));
            }
        };
        if let Some(pool) = st.current.as_ref().map(|(_, p)| p.clone()) {
            if pool.generation() == generation {
                // Kept: the current buffers hold for the new caps too.
                st.current = Some((caps.clone(), pool.clone()));
                st.request = Some(request);
                return Ok(pool);
            }
        }
        let pool = self.adopt(st, caps, request, generation)?;
        self.generations.fetch_add(1, Ordering::Relaxed);
        Ok(pool)
    }

    /// Makes the pool of `generation` (negotiated for `request`) the
    /// current one for `caps`.
    fn adopt(
        &self,
        st: &mut Started,
        caps: &gst::Caps,
        request: Request,
        generation: u32,
    ) -> Result<AccordPool, String> {
        let dmabuf = caps
            .features(0)
            .is_some_and(|f| f.contains(gst_allocators::CAPS_FEATURE_MEMORY_DMABUF));
        let layout = st.negotiator.layout(generation)?;
        if layout.size != request.plan.coded || layout.format != request.format {
            return Err(format!(
                "the collection decided {}x{} format {:#x}, the sink asked for {}x{} {:#x}",
                layout.size.0,
                layout.size.1,
                layout.format,
                request.plan.coded.0,
                request.plan.coded.1,
                request.format
            ));
        }
        self.memory
            .store(memory_code(layout.memory), Ordering::Relaxed);
        if dmabuf && layout.memory != accord_client::MemoryKind::DmaBuf {
            let message = format!(
                "the caps ask for memory:DMABuf but the collection's memory is {} ({})",
                layout.memory.as_str(),
                layout.placement
            );
            gst::element_imp_error!(self, gst::CoreError::Negotiation, ("{}", message));
            return Err(message);
        }
        let placement = layout.placement.clone();
        let count = layout.buffers.len();
        let pool = AccordPool::new(layout, caps, request.info.clone(), request.plan)?;
        // Upstream may configure the pool for more buffers (a V4L2 source
        // keeps its driver's minimum queued) or an alignment: re-commit.
        let weak = self.obj().downgrade();
        pool.set_grow(Box::new(move |min, plan| {
            let sink = weak.upgrade().ok_or("the sink is gone")?;
            sink.imp().grow(min, plan).map_err(|f| f.to_string())
        }));
        if let Some((_, old)) = st.current.replace((caps.clone(), pool.clone())) {
            st.older.push(old);
        }
        st.request = Some(request);
        *lock(&self.unlock_pool) = Some(pool.clone());
        gst::info!(
            CAT,
            imp = self,
            "generation {generation}: {count} buffers in {placement} for {caps}"
        );
        Ok(pool)
    }

    /// The sink's participant for `request`: the exact coded size, its
    /// stride alignment, `camping` buffers.
    fn constraints(request: &Request) -> Constraints {
        let (w, h) = request.plan.coded;
        let c = Constraints::new()
            .usage(request.usage)
            .format(request.format, MOD_LINEAR)
            .min_size(w, h)
            .max_size(w, h)
            .buffers(request.camping);
        if request.plan.stride_alignment > 1 {
            c.stride_alignment(request.plan.stride_alignment)
        } else {
            c
        }
    }

    /// Re-commits the current collection for upstream's pool config: at
    /// least `min` buffers (the extra ones are the sink participant's
    /// camping: upstream holds them) laid out as `plan` (the current
    /// pool's `set_config`; the pool wraps the layout returned). A
    /// failure is an element warning naming the collection's reason:
    /// the current generation stays, and so does the pool.
    fn grow(
        &self,
        min: u32,
        plan: Result<Plan, String>,
    ) -> Result<(crate::negotiator::Layout, Plan), accord_client::Failure> {
        let mut guard = lock(&self.started);
        let st = guard.as_mut().ok_or_else(not_started)?;
        let current = st.request.clone().ok_or_else(not_started)?;
        let have = st.current.as_ref().map_or(0, |(_, p)| p.count());
        let plan = match plan {
            Ok(plan) => plan,
            Err(why) => {
                gst::element_imp_warning!(
                    self,
                    gst::CoreError::Negotiation,
                    (
                        "Accord cannot lay the buffers out as upstream asks: {}",
                        why
                    ),
                    ["upstream's GstVideoAlignment; it keeps the pool's layout"]
                );
                if min <= have {
                    return Err(accord_client::Failure {
                        reason: accord_client::FailureReason::Unsupported,
                        message: why,
                    });
                }
                current.plan
            }
        };
        let request = Request {
            camping: current.camping + min.saturating_sub(have),
            plan,
            ..current
        };
        let generation = match st
            .negotiator
            .negotiate(&st.window, &Self::constraints(&request))
        {
            Ok(g) => g,
            Err(failure) => {
                gst::element_imp_warning!(
                    self,
                    gst::CoreError::Negotiation,
                    (
                        "Accord cannot lay the buffers out as upstream asks ({}x{} coded, \
                         picture at {},{}, stride alignment {}, {} buffers): {}",
                        plan.coded.0,
                        plan.coded.1,
                        plan.origin.0,
                        plan.origin.1,
                        plan.stride_alignment,
                        min,
                        failure
                    ),
                    [
                        "the collection's reason: {}; upstream keeps the pool as it was",
                        failure.reason.as_str()
                    ]
                );
                return Err(failure);
            }
        };
        let layout =
            st.negotiator
                .layout(generation)
                .map_err(|message| accord_client::Failure {
                    reason: accord_client::FailureReason::Other(0),
                    message,
                })?;
        self.generations.fetch_add(1, Ordering::Relaxed);
        st.request = Some(request);
        gst::info!(
            CAT,
            imp = self,
            "generation {generation}: {} buffers in {} (upstream asked for {min}, {}x{} coded, \
             stride alignment {})",
            layout.buffers.len(),
            layout.placement,
            plan.coded.0,
            plan.coded.1,
            plan.stride_alignment
        );
        Ok((layout, plan))
    }

    /// The key and pool of `buffer` when it is one of the sink's pools'.
    fn own_buffer(
        st: &Started,
        buffer: &gst::Buffer,
    ) -> Option<(crate::window::BufferKey, AccordPool)> {
        st.current
            .iter()
            .map(|(_, p)| p)
            .chain(&st.older)
            .find_map(|p| p.key_of(buffer).map(|k| (k, p.clone())))
    }

    /// Copies a buffer that is not the sink's into a buffer of the current
    /// pool (negotiated from the current caps if upstream never asked).
    fn copy_in(
        &self,
        st: &mut Started,
        buffer: &gst::Buffer,
        caps: &gst::Caps,
    ) -> Result<(gst::Buffer, crate::window::BufferKey, Plan), gst::FlowError> {
        let pool = match &st.current {
            Some((c, p)) if c == caps => p.clone(),
            _ => return Err(gst::FlowError::NotNegotiated),
        };
        if !pool.is_active() {
            pool.set_active(true).map_err(|_| gst::FlowError::Error)?;
        }
        let info = pool.info().ok_or(gst::FlowError::Error)?;
        let mut copy = pool.acquire_buffer(None)?;
        {
            let src = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer.as_ref(), &info)
                .map_err(|_| {
                    gst::element_imp_error!(
                        self,
                        gst::StreamError::Format,
                        ("cannot map the incoming buffer")
                    );
                    gst::FlowError::Error
                })?;
            let target = copy.get_mut().ok_or(gst::FlowError::Error)?;
            let mut dst = gst_video::VideoFrameRef::from_buffer_ref_writable(target, &info)
                .map_err(|_| {
                    gst::element_imp_error!(
                        self,
                        gst::ResourceError::Write,
                        ("cannot map a pool buffer for writing")
                    );
                    gst::FlowError::Error
                })?;
            src.copy(&mut dst).map_err(|_| gst::FlowError::Error)?;
        }
        let key = pool.key_of(&copy).ok_or(gst::FlowError::Error)?;
        let n = self.copies.fetch_add(1, Ordering::Relaxed) + 1;
        gst::debug!(
            CAT,
            imp = self,
            "copied a buffer not from the pool ({} bytes) into generation {} buffer {} (copy {n})",
            buffer.size(),
            key.generation,
            key.index
        );
        let plan = pool.plan().ok_or(gst::FlowError::Error)?;
        Ok((copy, key, plan))
    }

    /// Posts `accordsink-stats` (frames-shown, copies, generations, the
    /// generation of the last frame, and the older generations released
    /// so far) on the bus.
    fn post_stats(&self) {
        let s = gst::Structure::builder("accordsink-stats")
            .field("frames-shown", self.frames_shown.load(Ordering::Relaxed))
            .field("copies", self.copies.load(Ordering::Relaxed))
            .field("generations", self.generations.load(Ordering::Relaxed))
            .field("generation", self.shown_generation.load(Ordering::Relaxed))
            .field(
                "released-generations",
                self.released.load(Ordering::Relaxed),
            )
            .build();
        let _ = self
            .obj()
            .post_message(gst::message::Element::builder(s).src(&*self.obj()).build());
    }
}
