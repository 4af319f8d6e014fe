//! The sink's participant in its Accord collection, through the client
//! library ([`accord_client`]).
//!
//! The first negotiation creates the collection: a token named after the
//! element, a duplicate attached to the window's surface (so the
//! compositor joins with what it can show, and scan out), and the sink's
//! own constraints from the caps. A later one (the caps changed
//! mid-stream) re-commits the same collection: the compositor re-solves
//! and answers with a new generation of buffers, or keeps the current
//! one, or fails without touching it. Every generation's buffers get
//! `wl_buffer`s on the window's queue ([`crate::window`]), keyed by
//! generation and index. The compositor may also push a generation by
//! itself, when its own participant changes (the window goes fullscreen
//! on a display whose planes can show it): [`Negotiator::poll_pushed`]
//! takes those at the sink's frame boundary. An older generation is
//! retired when the sink has moved to a newer one, and released
//! (`release_generation`, its `wl_buffer`s destroyed) only once the
//! compositor released every buffer of it it held.

use std::os::fd::OwnedFd;

use accord_client::{
    Accord, Allocation, Collection, Constraints, Failure, FailureReason, MemoryKind, Renegotiation,
};
use wayland_client::protocol::wl_buffer::WlBuffer;

use crate::window::{BufferKey, Window};

/// One generation of buffers as this participant holds it.
struct Generation {
    allocation: Allocation,
    /// One per buffer, in index order.
    wl_buffers: Vec<WlBuffer>,
    /// The sink moved on to a newer generation.
    retiring: bool,
}

/// The layout of one buffer, with its own copies of the plane fds (the
/// pool's memories own and close them).
pub struct BufferSpec {
    /// Its index in the generation.
    pub index: u32,
    /// Bytes of the memory object.
    pub size: u64,
    /// (fd, offset, stride) per plane.
    pub planes: Vec<(OwnedFd, u64, u32)>,
}

/// What a pool needs to wrap one generation's buffers.
pub struct Layout {
    /// The generation.
    pub generation: u32,
    /// Dma-bufs or memfds.
    pub memory: MemoryKind,
    /// Negotiated width and height in pixels.
    pub size: (u32, u32),
    /// DRM fourcc.
    pub format: u32,
    /// Every buffer.
    pub buffers: Vec<BufferSpec>,
    /// Backend and device, for people (`memfd`, `dumb:/dev/dri/card0`).
    pub placement: String,
}

/// The collection and its live generations.
pub struct Negotiator {
    /// Fields drop in order: buffers and collection before the library.
    generations: Vec<Generation>,
    collection: Option<Collection>,
    accord: Accord,
    name: String,
}

// SAFETY: the client library's objects share an `Rc` (and `RefCell`s),
// which is why they are not `Send`. Every one of them that shares it
// (`Accord`, `Collection`, and the tokens made in `negotiate`, dropped
// before it returns) is owned by this struct and never handed out, and
// the sink keeps the struct in a `Mutex`: whichever thread uses it, it has
// it alone, so the counts are never touched by two threads at once. The
// `wl_buffer`s (`Send`) and the allocations (fds) are `Send` anyway.
unsafe impl Send for Negotiator {}

impl Negotiator {
    /// The sink's participant `name`, with the library bound on the
    /// window's connection ([`Window::open`]).
    pub fn new(accord: Accord, name: &str) -> Negotiator {
        Negotiator {
            generations: Vec::new(),
            collection: None,
            accord,
            name: name.to_owned(),
        }
    }

    /// What memory the compositor gives this window's buffers: a small
    /// collection of one buffer, attached to the surface like the real
    /// one, allocated and dropped. The caps query offers
    /// `memory:DMABuf` from this before the first real collection.
    pub fn probe_memory(&self, window: &Window) -> Result<MemoryKind, Failure> {
        let _pause = window.pause_reading();
        let token = self.accord.create_collection();
        token.set_name(&format!("{} probe", self.name));
        token.duplicate().attach_to_surface(window.surface());
        let collection = token.bind();
        collection.commit(
            &Constraints::new()
                .format(
                    accord_client::DRM_FORMAT_XRGB8888,
                    accord_client::MOD_LINEAR,
                )
                .min_size(64, 64)
                .max_size(64, 64)
                .buffers(1),
        );
        Ok(collection.wait_allocated()?.memory)
    }

    /// Generations the compositor pushed by itself since the last call
    /// (its participant changed: fullscreen, another output), each with
    /// its `wl_buffer`s; the newest last. Does not block.
    pub fn poll_pushed(&mut self, window: &Window) -> Result<Vec<u32>, Failure> {
        let Some(collection) = &self.collection else {
            return Ok(Vec::new());
        };
        // The window thread read the socket; this dispatches what it
        // queued for the library.
        self.accord.dispatch_pending()?;
        let mut pushed = Vec::new();
        while let Some(r) = collection.poll_renegotiation() {
            if let Renegotiation::Generation(allocation) = r {
                pushed.push(allocation);
            }
            // Kept or failed outside a re-commit of ours: nothing new.
        }
        pushed
            .into_iter()
            .map(|allocation| self.add(window, allocation))
            .collect()
    }

    /// The newest generation held (0 before the first).
    pub fn newest(&self) -> u32 {
        self.generations
            .iter()
            .map(|g| g.allocation.generation)
            .max()
            .unwrap_or(0)
    }

    /// Negotiates (first time) or renegotiates `constraints`; the
    /// generation the sink should use now.
    pub fn negotiate(
        &mut self,
        window: &Window,
        constraints: &Constraints,
    ) -> Result<u32, Failure> {
        // The library blocks for the answer: the window thread must not
        // read the socket meanwhile (see `crate::window`).
        let _pause = window.pause_reading();
        let outcome = match &self.collection {
            None => {
                let token = self.accord.create_collection();
                token.set_name(&self.name);
                token.duplicate().attach_to_surface(window.surface());
                let collection = token.bind();
                collection.commit(constraints);
                let allocation = collection.wait_allocated()?;
                self.collection = Some(collection);
                Ok(allocation)
            }
            Some(collection) => {
                collection.recommit(constraints)?;
                let mut pushed = Vec::new();
                let answer = loop {
                    match collection.wait_renegotiation()? {
                        // A generation the compositor pushed by itself (its
                        // participant changed) may come before the answer:
                        // not for these constraints, it retires.
                        Renegotiation::Generation(allocation)
                            if !fits(&allocation, constraints) =>
                        {
                            pushed.push(allocation)
                        }
                        Renegotiation::Generation(allocation) => break Ok(allocation),
                        Renegotiation::Kept { generation } => break Err(Ok(generation)),
                        Renegotiation::Failed { failure, .. } => break Err(Err(failure)),
                    }
                };
                for allocation in pushed {
                    self.add(window, allocation)?;
                    if let Some(g) = self.generations.last_mut() {
                        g.retiring = true;
                    }
                }
                answer
            }
        };
        match outcome {
            Ok(allocation) => self.add(window, allocation),
            Err(kept) => kept,
        }
    }

    fn add(&mut self, window: &Window, allocation: Allocation) -> Result<u32, Failure> {
        let collection = self.collection.as_ref().ok_or_else(|| Failure {
            reason: FailureReason::Other(0),
            message: "no collection".into(),
        })?;
        let generation = allocation.generation;
        let wl_buffers = allocation
            .buffers
            .iter()
            .map(|b| {
                let key = BufferKey {
                    generation,
                    index: b.index,
                };
                collection.generation_wl_buffer_on(generation, b.index, window.queue_handle(), key)
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.generations.push(Generation {
            allocation,
            wl_buffers,
            retiring: false,
        });
        Ok(generation)
    }

    /// The pool layout of `generation` (fds duplicated for the pool).
    pub fn layout(&self, generation: u32) -> Result<Layout, String> {
        let g = self
            .generation(generation)
            .ok_or_else(|| format!("generation {generation} is gone"))?;
        let a = &g.allocation;
        let buffers = a
            .buffers
            .iter()
            .map(|b| {
                let planes = b
                    .planes
                    .iter()
                    .map(|p| Ok((p.fd.try_clone()?, p.offset, p.stride)))
                    .collect::<std::io::Result<Vec<_>>>()?;
                Ok(BufferSpec {
                    index: b.index,
                    size: b.size,
                    planes,
                })
            })
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(|e| format!("cannot duplicate a buffer fd: {e}"))?;
        Ok(Layout {
            generation,
            memory: a.memory,
            size: (a.width, a.height),
            format: a.format,
            buffers,
            placement: a
                .placement
                .as_ref()
                .map_or_else(|| format!("{:?}", a.memory), |p| p.name.clone()),
        })
    }

    fn generation(&self, generation: u32) -> Option<&Generation> {
        self.generations
            .iter()
            .find(|g| g.allocation.generation == generation)
    }

    /// The `wl_buffer` of collection buffer `key`.
    pub fn wl_buffer(&self, key: BufferKey) -> Option<&WlBuffer> {
        self.generation(key.generation)?
            .wl_buffers
            .get(key.index as usize)
    }

    /// The sink uses `current` now: every older generation retires.
    pub fn retire_before(&mut self, current: u32) {
        for g in &mut self.generations {
            if g.allocation.generation < current {
                g.retiring = true;
            }
        }
    }

    /// Releases the retiring generations the compositor no longer holds
    /// any buffer of; how many were released.
    pub fn collect(&mut self, window: &Window) -> usize {
        let Some(collection) = &self.collection else {
            return 0;
        };
        // The newest generation cannot be released (a protocol error).
        let newest = collection.generation().unwrap_or(0);
        let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.generations)
            .into_iter()
            .partition(|g| {
                g.retiring
                    && g.allocation.generation != newest
                    && window.held_in(g.allocation.generation) == 0
            });
        self.generations = kept;
        for g in &gone {
            for b in &g.wl_buffers {
                b.destroy();
            }
            // Not the newest (above), so this is allowed; a failure here
            // only means the connection is gone.
            let _ = collection.release_generation(g.allocation.generation);
        }
        gone.len()
    }

    /// Whether `generation` is still held (current, or draining).
    pub fn is_live(&self, generation: u32) -> bool {
        self.generation(generation).is_some()
    }
}

/// Whether `a` is what `c` asked for: one of its formats at its minimum
/// size (the sink asks for an exact size).
fn fits(a: &Allocation, c: &Constraints) -> bool {
    c.formats.iter().any(|&(format, _, _)| format == a.format) && (a.width, a.height) == c.min_size
}

impl Drop for Negotiator {
    fn drop(&mut self) {
        for g in &self.generations {
            for b in &g.wl_buffers {
                b.destroy();
            }
        }
    }
}
