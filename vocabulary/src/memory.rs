//! What kind of memory a collection's buffers are: the protocol's
//! `memory_kind`, so a memfd is never mistaken for a dma-buf.

/// The protocol's `memory_kind`; the discriminant is the wire value.
///
/// ```
/// use accord_vocabulary::MemoryKind;
/// assert_eq!(MemoryKind::from_wire(1), Some(MemoryKind::Memfd));
/// assert_eq!(MemoryKind::DmaBuf.as_str(), "dmabuf");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum MemoryKind {
    /// A real dma-buf: CPU access is bracketed with `DMA_BUF_IOCTL_SYNC`.
    DmaBuf = 0,
    /// A sealed memfd: shared memory, not a dma-buf (the last resort).
    Memfd = 1,
}

impl MemoryKind {
    /// Every kind, in wire order.
    pub const ALL: [MemoryKind; 2] = [MemoryKind::DmaBuf, MemoryKind::Memfd];

    /// The protocol's name for the kind.
    pub const fn as_str(self) -> &'static str {
        match self {
            MemoryKind::DmaBuf => "dmabuf",
            MemoryKind::Memfd => "memfd",
        }
    }

    /// The wire value.
    pub const fn to_wire(self) -> u32 {
        self as u32
    }

    /// The kind with wire value `code`, if this version defines it.
    pub fn from_wire(code: u32) -> Option<Self> {
        Self::ALL.get(usize::try_from(code).ok()?).copied()
    }
}
