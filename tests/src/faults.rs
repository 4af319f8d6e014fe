//! Fault injection on the host: a backend test double that allocates real
//! memfd buffers one at a time and fails at a chosen step, so tests can
//! check that the participants get clean `failed` events with the right
//! reason and that the module's ledger and fds go back to baseline. It
//! drops its own buffers on a fault, so it says nothing about a real
//! backend's cleanup: that is checked in the real-kernel tier, with the
//! fault injected inside the dumb and GBM backends themselves
//! (`tests/vm/src/faults.rs`: fds, dma-buf objects, GEM handles, ledger).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use accord_engine::Decision;
use accord_smithay::backend::memfd::MemfdBackend;
use accord_smithay::backend::{AllocError, AllocatedBuffer, CollectionAllocator, MemoryKind};

/// Where the fixture fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// ENOMEM when allocating buffer `k` (buffers `0..k` exist).
    OutOfMemoryAt(u32),
    /// The device disappears (ENODEV) when allocating buffer `k`.
    DeviceGoneAt(u32),
    /// Every buffer is allocated, but buffer `k` reports a stride below
    /// the negotiated layout: the module's layout check must refuse it.
    BadStrideAt(u32),
}

/// The fixture. `made` counts the buffers it really allocated.
#[derive(Debug)]
pub struct FaultyBackend {
    pub fault: Fault,
    pub made: Arc<AtomicUsize>,
}

impl FaultyBackend {
    pub fn new(fault: Fault) -> (FaultyBackend, Arc<AtomicUsize>) {
        let made = Arc::new(AtomicUsize::new(0));
        (
            FaultyBackend {
                fault,
                made: made.clone(),
            },
            made,
        )
    }
}

impl CollectionAllocator for FaultyBackend {
    fn name(&self) -> String {
        format!("faulty memfd ({:?}, test fixture)", self.fault)
    }
    fn memory_kind(&self) -> MemoryKind {
        MemoryKind::Memfd
    }
    fn allocate(&mut self, d: &Decision) -> Result<Vec<AllocatedBuffer>, AllocError> {
        let one = Decision {
            buffer_count: 1,
            ..d.clone()
        };
        let mut out = Vec::new();
        for i in 0..d.buffer_count {
            match self.fault {
                Fault::OutOfMemoryAt(k) if k == i => {
                    return Err(AllocError::OutOfMemory(format!(
                        "ENOMEM on buffer {k} (injected)"
                    )))
                }
                Fault::DeviceGoneAt(k) if k == i => {
                    return Err(AllocError::DeviceLost(format!(
                        "ENODEV on buffer {k} (injected)"
                    )))
                }
                _ => {}
            }
            let mut b = MemfdBackend.allocate(&one)?;
            self.made.fetch_add(b.len(), Ordering::SeqCst);
            out.append(&mut b);
        }
        if let Fault::BadStrideAt(k) = self.fault {
            if let Some(b) = out.get_mut(k as usize) {
                b.planes[0].stride = 1;
            }
        }
        Ok(out)
    }
}
