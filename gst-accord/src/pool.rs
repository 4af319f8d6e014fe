//! A `GstBufferPool` whose buffers are one generation of the collection's
//! buffers: no allocation of its own.
//!
//! Each `GstBuffer` wraps its collection buffer's memory object (a
//! duplicate of the fd): a `GstDmaBufAllocator` memory when the collection
//! placed it in dma-bufs, a `GstFdAllocator` one for memfds (mappable, not a
//! dma-buf). A `GstVideoMeta` carries the negotiated plane offsets and
//! strides. The pool holds exactly the collection's count (min = max), so
//! the base class allocates every buffer once when activated; which
//! collection buffer a `GstBuffer` is comes back from its memory's fd
//! ([`AccordPool::key_of`]).
//!
//! `set_config` takes upstream's needs and, when they differ from what
//! the collection was committed for, asks the collection for them through
//! [`AccordPool::set_grow`] (the sink re-commits, and the pool, inactive
//! while configured, wraps the new generation): more buffers than the
//! collection has (a V4L2 source importing the buffers keeps its driver's
//! minimum queued on top of the sink's), and a `GstVideoAlignment`
//! (`GstBufferPoolOptionVideoAlignment`: padding around the picture and
//! per-plane stride masks, [`crate::alignment`]), for which the buffers are
//! made at the coded size and the `GstVideoMeta` offsets point past the
//! padding. What the collection cannot give (the compositor's failure is
//! an element warning, posted by the sink), or no `GstVideoMeta` when the
//! layout is not GStreamer's default, is refused: the config is corrected
//! to the pool's own values (as `GstBufferPool` expects), so upstream uses
//! the pool as it is or uses its own buffers (then the sink copies).

use std::collections::HashMap;
use std::os::fd::{IntoRawFd, RawFd};
use std::sync::{Mutex, MutexGuard};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_video::prelude::*;

use crate::alignment::{self, Plan};
use crate::negotiator::Layout;
use crate::window::BufferKey;

glib::wrapper! {
    /// See the module documentation.
    pub struct AccordPool(ObjectSubclass<imp::AccordPool>)
        @extends gst::BufferPool, gst::Object;
}

impl AccordPool {
    /// A pool over `layout`'s buffers for `caps` (`info`), configured and
    /// inactive.
    pub fn new(
        layout: Layout,
        caps: &gst::Caps,
        info: gst_video::VideoInfo,
        plan: Plan,
    ) -> Result<Self, String> {
        let pool: AccordPool = glib::Object::new();
        let count = layout.buffers.len() as u32;
        let size = layout.buffers.first().map_or(0, |b| b.size) as u32;
        let n_planes = info.n_planes();
        *pool.imp().lock() = Some(imp::State {
            layout,
            info,
            plan,
            allocated: HashMap::new(),
        });
        let mut config = pool.config();
        config.set_params(Some(caps), size, count, count);
        config.add_option(gst_video::BUFFER_POOL_OPTION_VIDEO_META);
        if plan.padded() || plan.stride_alignment > 1 {
            config.add_option(gst_video::BUFFER_POOL_OPTION_VIDEO_ALIGNMENT);
            config.set_video_alignment(&plan.video_alignment(n_planes));
        }
        pool.set_config(config)
            .map_err(|e| format!("the pool refused its own configuration: {e}"))?;
        Ok(pool)
    }

    /// How the pool gets a new generation when upstream configures it for
    /// more buffers than it has or another alignment: `grow(n, plan)`
    /// renegotiates for at least `n` buffers laid out as `plan` and returns
    /// the new layout and its plan. `plan` is the sentence saying why when
    /// upstream's alignment cannot be expressed (the sink warns, and grows
    /// with the current plan if it needs more buffers).
    pub fn set_grow(&self, grow: Grow) {
        *self.imp().grow.lock().unwrap_or_else(|e| e.into_inner()) = Some(grow);
    }

    /// Which collection buffer `buffer` is, if it is one of this pool's
    /// (whole: a buffer made from part of it is not).
    pub fn key_of(&self, buffer: &gst::BufferRef) -> Option<BufferKey> {
        let fd = memory_fd(buffer)?;
        let st = self.imp().lock();
        let st = st.as_ref()?;
        st.allocated.get(&fd).map(|&index| BufferKey {
            generation: st.layout.generation,
            index,
        })
    }

    /// The generation this pool wraps.
    pub fn generation(&self) -> u32 {
        self.imp()
            .lock()
            .as_ref()
            .map_or(0, |s| s.layout.generation)
    }

    /// Buffers in the collection (the pool's min and max).
    pub fn count(&self) -> u32 {
        self.imp()
            .lock()
            .as_ref()
            .map_or(0, |s| s.layout.buffers.len() as u32)
    }

    /// Bytes per buffer.
    pub fn buffer_size(&self) -> u32 {
        self.imp()
            .lock()
            .as_ref()
            .and_then(|s| s.layout.buffers.first())
            .map_or(0, |b| b.size as u32)
    }

    /// Whether the pool's buffers are dma-bufs.
    pub fn is_dmabuf(&self) -> bool {
        self.imp()
            .lock()
            .as_ref()
            .is_some_and(|s| s.layout.memory == accord_client::MemoryKind::DmaBuf)
    }

    /// The video info the pool's buffers were made for.
    pub fn info(&self) -> Option<gst_video::VideoInfo> {
        self.imp().lock().as_ref().map(|s| s.info.clone())
    }

    /// The coded size, padding and stride alignment the buffers have.
    pub fn plan(&self) -> Option<Plan> {
        self.imp().lock().as_ref().map(|s| s.plan)
    }

    /// Where the memory comes from, for people.
    pub fn placement(&self) -> String {
        self.imp()
            .lock()
            .as_ref()
            .map_or_else(String::new, |s| s.layout.placement.clone())
    }
}

/// See [`AccordPool::set_grow`].
pub type Grow =
    Box<dyn Fn(u32, Result<Plan, String>) -> Result<(Layout, Plan), String> + Send + Sync>;

/// The fd of `buffer`'s only memory, when that is a whole fd memory.
fn memory_fd(buffer: &gst::BufferRef) -> Option<RawFd> {
    if buffer.n_memory() != 1 {
        return None;
    }
    let mem = buffer.peek_memory(0);
    if mem.parent().is_some() {
        return None;
    }
    let fd_mem = mem.downcast_memory_ref::<gst_allocators::FdMemory>()?;
    Some(fd_mem.fd())
}

mod imp {
    use super::*;

    pub struct State {
        pub layout: Layout,
        /// The picture (the caps'); the buffers are `plan.coded`.
        pub info: gst_video::VideoInfo,
        pub plan: Plan,
        /// fd of each allocated buffer's memory → its index.
        pub allocated: HashMap<RawFd, u32>,
    }

    #[derive(Default)]
    pub struct AccordPool {
        state: Mutex<Option<State>>,
        pub grow: Mutex<Option<Grow>>,
    }

    impl AccordPool {
        pub fn lock(&self) -> MutexGuard<'_, Option<State>> {
            self.state.lock().unwrap_or_else(|e| e.into_inner())
        }
    }

    #[glib::object_subclass]
    impl ObjectSubclass for AccordPool {
        const NAME: &'static str = "GstAccordPool";
        type Type = super::AccordPool;
        type ParentType = gst::BufferPool;
    }

    impl ObjectImpl for AccordPool {}
    impl GstObjectImpl for AccordPool {}

    impl BufferPoolImpl for AccordPool {
        fn options() -> &'static [&'static str] {
            // gst_video::BUFFER_POOL_OPTION_VIDEO_META, _VIDEO_ALIGNMENT
            &[
                "GstBufferPoolOptionVideoMeta",
                "GstBufferPoolOptionVideoAlignment",
            ]
        }

        fn set_config(&self, config: &mut gst::BufferPoolConfigRef) -> bool {
            let Some((caps, _, min, _)) = config.params() else {
                return false;
            };
            let Some((have, current, info)) = self
                .lock()
                .as_ref()
                .map(|s| (s.layout.buffers.len() as u32, s.plan, s.info.clone()))
            else {
                return false;
            };
            // GStreamer's video pools read the alignment only with the
            // option set; without it, upstream asks for none.
            let asked = if config.has_option(gst_video::BUFFER_POOL_OPTION_VIDEO_ALIGNMENT) {
                config.video_alignment()
            } else {
                None
            };
            let wanted = alignment::plan(&info, asked.as_ref());
            if min > have || wanted.as_ref().map_or(true, |p| *p != current) {
                // The sink re-commits (or warns about an alignment it
                // cannot express, keeping the current plan).
                let grown = self
                    .grow
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .as_ref()
                    .map(|grow| grow(min.max(have), wanted.clone()));
                match grown {
                    Some(Ok((layout, plan))) => {
                        if let Some(st) = self.lock().as_mut() {
                            // Inactive while configured: no buffer is out.
                            st.layout = layout;
                            st.plan = plan;
                            st.allocated.clear();
                        }
                    }
                    Some(Err(e)) => {
                        gst::warning!(
                            gst::CAT_DEFAULT,
                            "cannot renegotiate for {min} buffers, {wanted:?}: {e}"
                        );
                    }
                    None => {}
                }
            }
            let (count, size, acceptable) = {
                let st = self.lock();
                let Some(st) = st.as_ref() else {
                    return false;
                };
                let count = st.layout.buffers.len() as u32;
                let size = st.layout.buffers.first().map_or(0, |b| b.size) as u32;
                let strides: Vec<u32> = st
                    .layout
                    .buffers
                    .first()
                    .map(|b| b.planes.iter().map(|p| p.2).collect())
                    .unwrap_or_default();
                let default_strides = strides
                    .iter()
                    .zip(st.info.stride())
                    .all(|(&ours, &default)| i64::from(ours) == i64::from(default));
                let meta = config.has_option(gst_video::BUFFER_POOL_OPTION_VIDEO_META);
                // The backend's strides are checked, not assumed.
                let aligned = wanted.as_ref().ok() == Some(&st.plan)
                    && asked.as_ref().map_or(true, |a| strides_met(a, &strides));
                if !aligned {
                    // Corrected to what the pool has.
                    config.add_option(gst_video::BUFFER_POOL_OPTION_VIDEO_ALIGNMENT);
                    config.set_video_alignment(&st.plan.video_alignment(st.info.n_planes()));
                }
                (
                    count,
                    size,
                    min <= count && (meta || (default_strides && !st.plan.padded())) && aligned,
                )
            };
            // The pool's own values, whatever upstream asked for: the
            // base class allocates `count` buffers once.
            config.set_params(caps.as_ref(), size, count, count);
            self.parent_set_config(config) && acceptable
        }

        fn alloc_buffer(
            &self,
            _params: Option<&gst::BufferPoolAcquireParams>,
        ) -> Result<gst::Buffer, gst::FlowError> {
            let mut guard = self.lock();
            let st = guard.as_mut().ok_or(gst::FlowError::Flushing)?;
            let taken: Vec<u32> = st.allocated.values().copied().collect();
            let spec = st
                .layout
                .buffers
                .iter()
                .find(|b| !taken.contains(&b.index))
                .ok_or(gst::FlowError::Eos)?;
            let (fd, _, _) = spec.planes.first().ok_or(gst::FlowError::Error)?;
            let fd = fd.try_clone().map_err(|_| gst::FlowError::Error)?;
            let size = usize::try_from(spec.size).map_err(|_| gst::FlowError::Error)?;
            let raw = fd.into_raw_fd();
            // KEEP_MAPPED: mapped once, on first use, for the memory's life.
            // Without it GStreamer unmaps after every frame, and the next
            // frame's writes fault in every page again (2.8x the CPU of
            // waylandsink per 720p frame, `accord-bench gst-sinks`).
            // SAFETY: the allocators take ownership of `raw` (a fresh
            // duplicate) and close it when the memory is freed.
            let memory = unsafe {
                if st.layout.memory == accord_client::MemoryKind::DmaBuf {
                    gst_allocators::DmaBufAllocator::new().alloc_with_flags(
                        raw,
                        size,
                        gst_allocators::FdMemoryFlags::KEEP_MAPPED,
                    )
                } else {
                    gst_allocators::FdAllocator::new().alloc(
                        raw,
                        size,
                        gst_allocators::FdMemoryFlags::KEEP_MAPPED,
                    )
                }
            }
            .map_err(|_| gst::FlowError::Error)?;
            let mut buffer = gst::Buffer::new();
            {
                let b = buffer.get_mut().ok_or(gst::FlowError::Error)?;
                b.append_memory(memory);
                // The picture starts past the padding on every plane.
                let planes: Vec<(u64, u32)> = spec.planes.iter().map(|p| (p.1, p.2)).collect();
                let offsets = alignment::picture_offsets(&st.info, &st.plan, &planes)
                    .map_err(|_| gst::FlowError::Error)?;
                let strides: Vec<i32> = spec.planes.iter().map(|p| p.2 as i32).collect();
                gst_video::VideoMeta::add_full(
                    b,
                    gst_video::VideoFrameFlags::empty(),
                    st.info.format(),
                    st.info.width(),
                    st.info.height(),
                    &offsets,
                    &strides,
                )
                .map_err(|_| gst::FlowError::Error)?;
            }
            st.allocated.insert(raw, spec.index);
            Ok(buffer)
        }

        fn free_buffer(&self, buffer: gst::Buffer) {
            if let Some(fd) = memory_fd(&buffer) {
                if let Some(st) = self.lock().as_mut() {
                    st.allocated.remove(&fd);
                }
            }
            self.parent_free_buffer(buffer);
        }
    }

    /// Whether `strides` meet the per-plane stride masks of `a`.
    fn strides_met(a: &gst_video::VideoAlignment, strides: &[u32]) -> bool {
        strides
            .iter()
            .zip(a.stride_align())
            .all(|(&s, &mask)| s & mask == 0)
    }
}
