//! Coherency domains (sysmem2's `CoherencyDomain`): where the buffers'
//! contents are coherent. CPU: CPU caches may hold them and device access
//! is made coherent (the dma-buf sync ioctls around CPU access); RAM:
//! they are coherent in RAM, CPU access bypasses or flushes the caches;
//! inaccessible: the CPU cannot access them at all (protected memory).

/// A set of coherency domains (a participant's supported ones), or one
/// (the decided one). The values are the protocol's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CoherencyDomains(pub u32);

impl CoherencyDomains {
    pub const CPU: CoherencyDomains = CoherencyDomains(1);
    pub const RAM: CoherencyDomains = CoherencyDomains(2);
    pub const INACCESSIBLE: CoherencyDomains = CoherencyDomains(4);
    /// Every domain: a participant that states none supports all.
    pub const ALL: CoherencyDomains = CoherencyDomains(7);
    /// Names in value order, as used by the JSON scenarios and the XML.
    pub const NAMES: [(&'static str, CoherencyDomains); 3] = [
        ("cpu", CoherencyDomains::CPU),
        ("ram", CoherencyDomains::RAM),
        ("inaccessible", CoherencyDomains::INACCESSIBLE),
    ];

    pub const fn contains(self, other: CoherencyDomains) -> bool {
        self.0 & other.0 == other.0
    }

    /// The names of the domains in the set, in value order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMES
            .into_iter()
            .filter(move |(_, d)| self.contains(*d))
            .map(|(n, _)| n)
    }

    /// The domain called `name`.
    pub fn parse(name: &str) -> Option<CoherencyDomains> {
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, d)| *d)
    }
}

impl Default for CoherencyDomains {
    fn default() -> Self {
        CoherencyDomains::ALL
    }
}
