//! The module's scanout confirmation hook
//! (`BufferCollectionHandler::confirm_scanout`) over a real Wayland socket:
//! a client with `render|scanout` usage plus an `attach_surface`
//! participant. The confirmers here are fixtures standing in for a
//! display's `TEST_ONLY` (the real one runs in the VM tier); what is tested
//! is that the module asks before allocating and allocates, and tells the
//! client, what the hook settled on.

use std::sync::{Arc, Mutex};

use accord_client::{Accord, Constraints, Usage, MOD_LINEAR};
use accord_engine::{Decision, FormatModifier};
use accord_smithay::backend::memfd::MemfdBackend;
use accord_smithay::backend::{AllocError, AllocatedBuffer, CollectionAllocator, MemoryKind};
use accord_tests::labelled_dmabuf::LabelledDmabuf;
use accord_tests::raw::{self, RawClient};
use accord_tests::{TestServer, ARGB8888, XRGB8888};

const fn linear(format: u32) -> FormatModifier {
    FormatModifier {
        format,
        modifier: MOD_LINEAR,
        scanout: true,
    }
}

/// A display taking both 32-bit formats.
const BOTH: &[FormatModifier] = &[linear(XRGB8888), linear(ARGB8888)];
/// A display taking XRGB8888 only.
const XRGB_ONLY: &[FormatModifier] = &[linear(XRGB8888)];

/// Rejects the first scanout candidate, accepts the next one.
fn reject_first(d: &Decision) -> Decision {
    let second = d
        .alternatives
        .iter()
        .filter(|c| c.scanout)
        .nth(1)
        .expect("a second scanout candidate");
    Decision {
        scanout: true,
        ..d.for_candidate(*second).expect("an alternative lays out")
    }
}

/// Rejects every scanout candidate: the best renderer-only one, composited.
fn reject_all(d: &Decision) -> Decision {
    let fallback = d
        .alternatives
        .iter()
        .find(|c| !c.scanout)
        .expect("a renderer-only candidate");
    Decision {
        scanout: false,
        ..d.for_candidate(*fallback).expect("an alternative lays out")
    }
}

/// Records every decision the module allocates by. Its memory is the
/// dma-buf fixture's (memfds labelled dma-buf): a scanout decision needs a
/// dma-buf placement (`accord_engine::placements`), never memfd.
struct Recording {
    inner: LabelledDmabuf,
    seen: Arc<Mutex<Vec<Decision>>>,
}

impl CollectionAllocator for Recording {
    fn name(&self) -> String {
        "recording dma-buf fixture".into()
    }
    fn memory_kind(&self) -> MemoryKind {
        self.inner.memory_kind()
    }
    fn capability(&self) -> accord_engine::placement::Capability {
        self.inner.capability()
    }
    fn allocate(&mut self, d: &Decision) -> Result<Vec<AllocatedBuffer>, AllocError> {
        self.seen.lock().unwrap().push(d.clone());
        self.inner.allocate(d)
    }
}

fn server(
    scanout_pairs: &'static [FormatModifier],
    confirm: Option<fn(&Decision) -> Decision>,
) -> (TestServer, Arc<Mutex<Vec<Decision>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let mut builder = TestServer::builder()
        .allocator(move || {
            Box::new(Recording {
                inner: LabelledDmabuf(MemfdBackend::new()),
                seen: s,
            })
        })
        .scanout_pairs(scanout_pairs);
    if let Some(confirm) = confirm {
        builder = builder.confirm(confirm);
    }
    let server = builder.start();
    (server, seen)
}

/// A `render|scanout` client preferring ARGB8888, then XRGB8888, with the
/// compositor attached to its surface; returns the client's outcome.
fn negotiate(server: &TestServer, usage: Usage) -> accord_client::Allocation {
    let conn = server.connect();
    let mut rawc = RawClient::new(conn.clone());
    let surface = raw::surface(&mut rawc);
    let accord = Accord::new(&conn).expect("accord");
    let token = accord.create_collection();
    token.set_name("scanout client");
    token.duplicate().attach_to_surface(&surface);
    let collection = token.bind();
    collection.commit(
        &Constraints::new()
            .usage(usage)
            .scanout_format(ARGB8888, MOD_LINEAR)
            .scanout_format(XRGB8888, MOD_LINEAR)
            .min_size(64, 32)
            .buffers(2),
    );
    collection.wait_allocated().expect("allocation")
}

fn allocated(seen: &Mutex<Vec<Decision>>) -> Decision {
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "one allocation: {seen:?}");
    seen[0].clone()
}

#[test]
fn rejected_first_candidate_allocates_the_second() {
    let (server, seen) = server(BOTH, Some(reject_first));
    let a = negotiate(&server, Usage::Render | Usage::Scanout);

    let calls = server.confirm_calls();
    assert_eq!(calls.len(), 1, "asked once, before allocating");
    let negotiated = &calls[0];
    let scanout: Vec<_> = negotiated
        .alternatives
        .iter()
        .filter(|c| c.scanout)
        .collect();
    assert_eq!(scanout.len(), 2, "both pairs scan out: {negotiated:?}");
    assert_eq!(negotiated.format, scanout[0].format);
    let second = scanout[1];
    assert_ne!(second.format, negotiated.format);

    let d = allocated(&seen);
    assert_eq!((d.format, d.modifier), (second.format, second.modifier));
    assert!(d.scanout, "the second candidate was confirmed for scanout");
    // The client camps 2; the compositor, offering planes, camps 2 (on
    // screen, queued for the flip).
    assert_eq!(d.buffer_count, 4);
    assert_eq!(
        (a.format, a.modifier),
        (second.format, second.modifier),
        "the client sees the confirmed pair"
    );
    assert_eq!(a.buffers.len(), 4);
    let stride = a.buffers[0].planes[0].stride;
    assert!(stride >= a.width * 4);
}

#[test]
fn all_scanout_candidates_rejected_falls_back_to_renderer_only() {
    let (server, seen) = server(XRGB_ONLY, Some(reject_all));
    let a = negotiate(&server, Usage::Render | Usage::Scanout);

    let calls = server.confirm_calls();
    assert_eq!(calls.len(), 1);
    let negotiated = &calls[0];
    assert_eq!(
        (negotiated.format, negotiated.scanout),
        (XRGB8888, true),
        "the display's only pair ranks first: {negotiated:?}"
    );

    let d = allocated(&seen);
    assert_eq!(
        (d.format, d.modifier, d.scanout),
        (ARGB8888, MOD_LINEAR, false),
        "renderer-only fallback"
    );
    assert_eq!((a.format, a.modifier), (ARGB8888, MOD_LINEAR));
}

#[test]
fn without_scanout_usage_the_hook_is_not_asked() {
    // No display pairs: the compositor participant does not ask for
    // scanout, and neither does the client.
    let (server, seen) = server(&[], Some(reject_all));
    let a = negotiate(&server, Usage::Render);
    assert!(server.confirm_calls().is_empty());
    let d = allocated(&seen);
    assert_eq!((a.format, d.format), (ARGB8888, ARGB8888));
    // Composited only: the compositor camps the one buffer it last
    // sampled, on top of the client's 2.
    assert_eq!((d.buffer_count, a.buffers.len()), (3, 3));
}

#[test]
fn the_default_hook_keeps_the_negotiated_decision() {
    let (server, seen) = server(XRGB_ONLY, None);
    let a = negotiate(&server, Usage::Render | Usage::Scanout);
    assert_eq!(server.confirm_calls().len(), 1);
    let d = allocated(&seen);
    assert_eq!((d.format, d.scanout), (XRGB8888, true));
    assert_eq!(a.format, XRGB8888);
}
