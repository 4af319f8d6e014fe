//! The display's test buffer becomes the collection's buffer 0
//! (`ScanoutConfirmation::take_probe`, `resolve.rs` step 3): one buffer
//! fewer is allocated, at the first allocation and at a re-solve. A probe
//! from another placement, or of another layout, is not used.

use std::os::fd::AsFd;
use std::time::Duration;

use accord_engine::Decision;
use accord_smithay::backend::memfd::MemfdBackend;
use accord_smithay::backend::{AllocError, AllocatedBuffer, CollectionAllocator, MemoryKind};
use accord_smithay::collections::{
    Collections, Confirmation, Outcome, ScanoutConfirmation, ScanoutProbe,
};

mod common;
use common::sized;

/// memfd, counting the buffers it was asked for.
struct Counting {
    inner: MemfdBackend,
    buffers: u32,
}

impl CollectionAllocator for Counting {
    fn name(&self) -> String {
        self.inner.name()
    }
    fn memory_kind(&self) -> MemoryKind {
        self.inner.memory_kind()
    }
    fn capability(&self) -> accord_engine::placement::Capability {
        self.inner.capability()
    }
    fn allocate(&mut self, decision: &Decision) -> Result<Vec<AllocatedBuffer>, AllocError> {
        self.buffers += decision.buffer_count;
        self.inner.allocate(decision)
    }
}

/// A display that "tests" one buffer of each decision, made by `maker`
/// with the decision's layout (or `size` instead, to give a wrong one),
/// and hands it on under the name `placement`.
struct Probing {
    placement: String,
    size: Option<(u32, u32)>,
    probe: Option<ScanoutProbe>,
    inodes: Vec<u64>,
}

impl ScanoutConfirmation for Probing {
    fn confirm(&mut self, _: u64, decision: &Decision) -> Confirmation {
        let mut one = Decision {
            buffer_count: 1,
            ..decision.clone()
        };
        if let Some((w, h)) = self.size {
            one = accord_engine::solve(&[sized(w, h)]).expect("solvable");
            one.buffer_count = 1;
        }
        let buffer = MemfdBackend::new().allocate(&one).expect("memfd").remove(0);
        self.inodes.push(inode(&buffer));
        self.probe = Some(ScanoutProbe {
            placement: self.placement.clone(),
            buffer,
        });
        Confirmation::Allocate(decision.clone())
    }
    fn take_probe(&mut self) -> Option<ScanoutProbe> {
        self.probe.take()
    }
}

fn inode(b: &AllocatedBuffer) -> u64 {
    rustix::fs::fstat(b.planes[0].fd.as_fd())
        .expect("fstat")
        .st_ino
}

fn probing(placement: &str, size: Option<(u32, u32)>) -> Probing {
    Probing {
        placement: placement.into(),
        size,
        probe: None,
        inodes: Vec::new(),
    }
}

#[test]
fn the_probe_is_buffer_0_at_allocation_and_at_each_re_solve() {
    let mut r: Collections<u32> = Collections::new();
    r.set_min_generation_interval(Duration::ZERO);
    let mut alloc = Counting {
        inner: MemfdBackend::new(),
        buffers: 0,
    };
    let mut display = probing("memfd", None);
    let a = r.create("pid 1".into(), 1);
    let b = r.duplicate(a).unwrap().unwrap();
    for s in [a, b] {
        r.bind(s);
        r.commit(s, sized(64, 32));
    }
    let res = r.resolve(&mut alloc, &mut display);
    let Outcome::Allocated(first) = &res[0].outcome else {
        panic!("{:?}", res[0].outcome)
    };
    assert_eq!(first.buffers.len(), 4);
    assert_eq!(alloc.buffers, 3, "the probe stood in for one buffer");
    assert_eq!(inode(&first.buffers[0]), display.inodes[0]);
    assert_eq!(
        r.charged(&1),
        first.buffers.iter().map(|b| b.size_bytes).sum::<u64>()
    );

    assert!(r.recommit(a, sized(128, 64)));
    let res = r.resolve(&mut alloc, &mut display);
    let Outcome::Allocated(second) = &res[0].outcome else {
        panic!("{:?}", res[0].outcome)
    };
    assert_eq!((second.generation, second.buffers.len()), (2, 4));
    assert_eq!(alloc.buffers, 6, "again one fewer");
    assert_eq!(inode(&second.buffers[0]), display.inodes[1]);
}

#[test]
fn a_probe_of_another_placement_or_layout_is_not_used() {
    for (display, what) in [
        (probing("dumb:/dev/dri/card9", None), "another placement"),
        (probing("memfd", Some((32, 16))), "another layout"),
    ] {
        let mut display = display;
        let mut r: Collections<u32> = Collections::new();
        let mut alloc = Counting {
            inner: MemfdBackend::new(),
            buffers: 0,
        };
        let a = r.create("pid 1".into(), 1);
        r.bind(a);
        r.commit(a, sized(64, 32));
        let res = r.resolve(&mut alloc, &mut display);
        let Outcome::Allocated(first) = &res[0].outcome else {
            panic!("{what}: {:?}", res[0].outcome)
        };
        assert_eq!(alloc.buffers, 2, "{what}: every buffer allocated");
        assert!(
            first.buffers.iter().all(|b| inode(b) != display.inodes[0]),
            "{what}: the probe is not among the buffers"
        );
    }
}
