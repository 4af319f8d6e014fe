//! The set of backends the module allocates from: every one detected on
//! this machine (GBM and dumb per DRM device, DMA-BUF heaps by name,
//! udmabuf, memfd), or the embedder's own (a set of one). The engine ranks
//! them per collection (`accord_engine::placements`); the collections
//! allocate on the first and fall back to the next on failure.

use accord_engine::placement::Placing;
use accord_engine::placements::{PlacementPolicy, Source, SourceKind};

use super::memfd::MemfdBackend;
use super::{detect, CollectionAllocator};

/// Which backend and device made a collection's memory (sent in the
/// `placement` event).
///
/// ```
/// use accord_engine::placements::SourceKind;
/// use accord_smithay::backend::Placed;
/// let p = Placed { name: "memfd".into(), kind: SourceKind::Memfd, device: None };
/// assert_eq!(p.kind.as_str(), "memfd");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placed {
    /// The backend's name (`dumb:/dev/dri/card0`, `dma-heap:/dev/dma_heap/system`).
    pub name: String,
    /// Its kind.
    pub kind: SourceKind,
    /// The `dev_t` of the device that made the memory (device memory only).
    pub device: Option<u64>,
}

impl Placed {
    pub(crate) fn of(source: &Source) -> Placed {
        Placed {
            name: source.name.clone(),
            kind: source.kind,
            device: source.device.first().copied(),
        }
    }
}

/// The backends and their ranking policy.
///
/// ```
/// use accord_smithay::backend::{memfd::MemfdBackend, Placements};
/// let set = Placements::from(Box::new(MemfdBackend::new()) as Box<dyn accord_smithay::backend::CollectionAllocator>);
/// assert_eq!(set.names(), vec!["memfd".to_string()]);
/// ```
pub struct Placements {
    allocators: Vec<Box<dyn CollectionAllocator>>,
    placing: Placing,
}

impl std::fmt::Debug for Placements {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

impl From<Box<dyn CollectionAllocator>> for Placements {
    /// A set of one: every collection is placed on `allocator` (or fails
    /// when it does not suit the participants).
    fn from(allocator: Box<dyn CollectionAllocator>) -> Self {
        let mut set = Placements::empty();
        set.push(allocator);
        set
    }
}

impl Placements {
    /// No backend yet.
    pub fn empty() -> Placements {
        Placements {
            allocators: Vec::new(),
            placing: Placing::default(),
        }
    }

    /// Every backend available on this machine ([`detect`]), memfd last.
    ///
    /// ```
    /// let set = accord_smithay::backend::Placements::detect();
    /// assert!(set.names().contains(&"memfd".to_string()));
    /// ```
    pub fn detect() -> Placements {
        let mut set = Placements::empty();
        for d in detect() {
            match d.open() {
                Some(Ok(a)) => set.push(a),
                Some(Err(e)) => tracing::debug!("{}: {e}", d.name()),
                None => {}
            }
        }
        set.push(Box::new(MemfdBackend::new()));
        set
    }

    /// Add a backend (after those already there, in detection order).
    pub fn push(&mut self, allocator: Box<dyn CollectionAllocator>) {
        self.placing.sources.push(allocator.source());
        self.allocators.push(allocator);
    }

    /// Override the kind order (the per-platform override; default
    /// [`PlacementPolicy::DEFAULT_ORDER`]).
    ///
    /// ```
    /// use accord_engine::placements::{PlacementPolicy, SourceKind};
    /// let mut set = accord_smithay::backend::Placements::detect();
    /// // A display that scans out only dumb buffers.
    /// set.set_policy(PlacementPolicy { order: vec![SourceKind::Dumb, SourceKind::Gbm] });
    /// ```
    pub fn set_policy(&mut self, policy: PlacementPolicy) {
        self.placing.policy = policy;
    }

    /// The backends' names, in detection order.
    pub fn names(&self) -> Vec<String> {
        self.placing
            .sources
            .iter()
            .map(|s| s.name.clone())
            .collect()
    }

    /// The sources and policy the engine ranks.
    pub fn placing(&self) -> &Placing {
        &self.placing
    }

    /// Borrow the allocators for one `resolve_on` call.
    pub(crate) fn parts(&mut self) -> (Vec<&mut dyn CollectionAllocator>, &Placing) {
        let allocators = self
            .allocators
            .iter_mut()
            .map(|a| a.as_mut() as &mut dyn CollectionAllocator)
            .collect();
        (allocators, &self.placing)
    }
}
