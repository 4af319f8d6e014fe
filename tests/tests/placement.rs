//! Placement over real Wayland sockets (issue 14): the module holds a set
//! of backends, here memfd and a dma-buf fixture (memfds labelled dma-buf,
//! `labelled_dmabuf.rs`: a system-memory source every device can import),
//! and each collection lands on the one its participants' needs call for.
//! The outcome's `placement` event says which; the quota ledger books the
//! bytes per backend and gives them back when the buffers are gone.

use accord_client::{Accord, Constraints, FailureReason, MemoryKind, Usage};
use accord_engine::placements::{PlacementPolicy, SourceKind};
use accord_smithay::backend::memfd::MemfdBackend;
use accord_smithay::backend::Placements;
use accord_tests::labelled_dmabuf::LabelledDmabuf;
use accord_tests::waiting::eventually;
use accord_tests::{TestServer, XRGB8888};

const FIXTURE: &str = "memfd labelled dma-buf (test fixture)";

/// The fixture and memfd, with `order` as the platform's kind order.
fn server(order: Option<Vec<SourceKind>>) -> TestServer {
    TestServer::builder()
        .placements(move || {
            let mut set = Placements::empty();
            set.push(LabelledDmabuf::boxed());
            set.push(Box::new(MemfdBackend::new()));
            if let Some(order) = order {
                set.set_policy(PlacementPolicy { order });
            }
            set
        })
        .start()
}

fn xrgb() -> Constraints {
    Constraints::new()
        .format(XRGB8888, accord_client::MOD_LINEAR)
        .min_size(64, 64)
}

/// One participant with `c`; its outcome.
fn allocate(
    accord: &Accord,
    name: &str,
    c: &Constraints,
) -> Result<accord_client::Allocation, accord_client::Failure> {
    let token = accord.create_collection();
    token.set_name(name);
    let collection = token.bind();
    collection.commit(c);
    let outcome = collection.wait_allocated();
    drop(collection);
    outcome
}

/// memfd first by the platform's order: CPU-only usage gets memfd; a
/// named device, or a decoder, needs a dma-buf and gets the fixture.
#[test]
fn memfd_only_when_nobody_needs_a_dmabuf() {
    let server = server(Some(vec![SourceKind::Memfd, SourceKind::Other]));
    let conn = server.connect();
    let accord = Accord::new(&conn).expect("global");

    let cpu = allocate(&accord, "cpu", &xrgb().usage(Usage::CpuWrite)).expect("memfd");
    assert_eq!(cpu.memory, MemoryKind::Memfd);
    let p = cpu.placement.as_ref().expect("version 2 sends placement");
    assert_eq!(
        (p.backend.as_str(), p.name.as_str(), p.device),
        ("memfd", "memfd", None)
    );

    let gpu = allocate(&accord, "gpu", &xrgb().device(0xe280)).expect("the dma-buf fixture");
    assert_eq!(gpu.memory, MemoryKind::DmaBuf);
    let p = gpu.placement.as_ref().expect("placement");
    assert_eq!((p.backend.as_str(), p.name.as_str()), ("other", FIXTURE));

    let decoder = allocate(&accord, "decoder", &xrgb().usage(Usage::VideoDecode)).expect("fixture");
    assert_eq!(
        decoder.memory,
        MemoryKind::DmaBuf,
        "a decoder writes dma-bufs only"
    );
}

/// The default order puts any dma-buf before memfd; a participant's
/// permitted heaps still choose memfd, or fail naming it; contiguous and
/// protected needs no placement here meets fail `unsupported` naming who
/// asked, and never get ordinary memory.
#[test]
fn permitted_heaps_contiguous_and_protected() {
    let server = server(None);
    let conn = server.connect();
    let accord = Accord::new(&conn).expect("global");

    let cpu = allocate(&accord, "cpu", &xrgb()).expect("fixture");
    assert_eq!(
        cpu.placement.expect("placement").name,
        FIXTURE,
        "dma-buf first by default"
    );
    let shm = allocate(&accord, "shm", &xrgb().permitted_heap("memfd")).expect("memfd");
    assert_eq!(shm.memory, MemoryKind::Memfd);

    let f = allocate(
        &accord,
        "heaps only",
        &xrgb().permitted_heap("dma-heap:system"),
    )
    .expect_err("no system heap here");
    assert_eq!(f.reason, FailureReason::Unsupported, "{f}");
    assert!(f.message.contains("'heaps only''s permitted heaps"), "{f}");

    let f = allocate(&accord, "isp", &xrgb().contiguous()).expect_err("nothing contiguous");
    assert_eq!(f.reason, FailureReason::Unsupported, "{f}");
    assert!(
        f.message
            .starts_with("no placement provides contiguous memory, which 'isp' asked for"),
        "{f}"
    );

    let protected = xrgb()
        .usage(Usage::Protected)
        .coherency_domains(accord_client::CoherencyDomains::INACCESSIBLE);
    let f = allocate(&accord, "drm player", &protected).expect_err("nothing protected");
    assert_eq!(f.reason, FailureReason::Unsupported, "{f}");
    assert!(
        f.message
            .starts_with("no placement provides protected memory, which 'drm player' asked for"),
        "{f}"
    );
    server.assert_no_bytes_held();
}

/// What a client holds is booked per backend, at the size the backend
/// allocated, and comes back to zero on each once its buffers are gone.
#[test]
fn bytes_are_booked_per_backend_and_come_back() {
    let server = server(Some(vec![SourceKind::Memfd, SourceKind::Other]));
    let conn = server.connect();
    let accord = Accord::new(&conn).expect("global");
    let keep = |name: &str, c: &Constraints| {
        let token = accord.create_collection();
        token.set_name(name);
        let collection = token.bind();
        collection.commit(c);
        let a = collection.wait_allocated().expect("allocated");
        (collection, a)
    };
    let (shm, shm_alloc) = keep("cpu", &xrgb().buffers(2));
    let (dma, dma_alloc) = keep("gpu", &xrgb().device(0xe280).buffers(3));
    let size = |a: &accord_client::Allocation| a.buffers.iter().map(|b| b.size).sum::<u64>();
    let want = {
        let mut v = vec![
            (FIXTURE.to_string(), size(&dma_alloc)),
            ("memfd".to_string(), size(&shm_alloc)),
        ];
        v.sort();
        v
    };
    eventually(accord_tests::server::WAIT, "per-backend bytes", || {
        let got = server.backend_bytes();
        if got == want {
            Ok(())
        } else {
            Err(format!("{got:?}, expected {want:?}"))
        }
    });
    let dump = server.ledger_dump();
    assert!(
        dump.contains(&format!("memfd: {} bytes", size(&shm_alloc))),
        "{dump}"
    );
    drop((shm, shm_alloc));
    eventually(accord_tests::server::WAIT, "memfd bytes back", || {
        let got = server.backend_bytes();
        if got == vec![(FIXTURE.to_string(), size(&dma_alloc))] {
            Ok(())
        } else {
            Err(format!("{got:?}"))
        }
    });
    drop((dma, dma_alloc));
    server.assert_no_bytes_held();
    eventually(
        accord_tests::server::WAIT,
        "every backend back to zero",
        || {
            let got = server.backend_bytes();
            if got.is_empty() {
                Ok(())
            } else {
                Err(format!("{got:?}"))
            }
        },
    );
    assert_eq!(server.ledger_dump(), "no buffer memory charged\n");
}
