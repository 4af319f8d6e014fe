//! A dma-buf stand-in on hosts without dma-buf devices: the memfd
//! allocator's buffers, labelled dma-buf. The module then takes its
//! dma-buf path (the `wl_buffer` carries a smithay `Dmabuf` with the
//! negotiated layout, shared by every `wl_buffer` of a buffer and holding
//! the allocation), which is what tests of that wiring need; nobody
//! imports the memory as a dma-buf. Real dma-bufs are the DRM backends'
//! tier (`tests/vm/`).

use accord_engine::Decision;
use accord_smithay::backend::memfd::MemfdBackend;
use accord_smithay::backend::{AllocError, AllocatedBuffer, CollectionAllocator, MemoryKind};

/// The fixture.
#[derive(Debug, Default)]
pub struct LabelledDmabuf(pub MemfdBackend);

impl LabelledDmabuf {
    /// Boxed, for [`TestServerBuilder::allocator`](crate::TestServerBuilder::allocator).
    pub fn boxed() -> Box<dyn CollectionAllocator> {
        Box::new(LabelledDmabuf(MemfdBackend::new()))
    }
}

impl CollectionAllocator for LabelledDmabuf {
    fn name(&self) -> String {
        "memfd labelled dma-buf (test fixture)".into()
    }
    fn memory_kind(&self) -> MemoryKind {
        MemoryKind::DmaBuf
    }
    /// memfd underneath: linear layouts only.
    fn capability(&self) -> accord_engine::placement::Capability {
        accord_engine::placement::Capability::Linear
    }
    fn allocate(&mut self, d: &Decision) -> Result<Vec<AllocatedBuffer>, AllocError> {
        self.0.allocate(d)
    }
}
