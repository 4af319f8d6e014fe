//! Hostile `get_wl_buffer` use on dma-buf collections (issue 21), over a
//! real socket against the in-process compositor with the
//! [`LabelledDmabuf`] fixture (the module's dma-buf path on memfds):
//!
//! - a thousand `wl_buffer`s of one buffer cost the compositor one extra
//!   fd per plane, not a thousand (they share one `Dmabuf`);
//! - a `wl_buffer` keeps its allocation, and the client's quota charge,
//!   after the collection object is gone, so destroying collections does
//!   not let a client allocate without limit;
//! - with an embedder that never calls `wl_buffer_destroyed`, the module's
//!   own sweep still lets the allocation go.

use std::time::Duration;

use accord_client::{Accord, FailureReason};
use accord_tests::labelled_dmabuf::LabelledDmabuf;
use accord_tests::waiting::eventually;
use accord_tests::{fds_on, xrgb_exact, TestServer};
use wayland_client::protocol::wl_buffer::WlBuffer;

/// 64x64 XRGB8888: one plane, 16 KiB.
const BUFFER_BYTES: u64 = 64 * 64 * 4;

#[test]
fn a_thousand_wl_buffers_of_one_buffer_dup_its_planes_once() {
    let server = TestServer::builder()
        .allocator(LabelledDmabuf::boxed)
        .start();
    let (_conn, accord) = server.accord();
    let collection = accord.create_collection().bind();
    collection.commit(&xrgb_exact(64, 64, 1));
    let a = collection.wait_allocated().expect("allocation");
    assert_eq!(a.memory, accord_client::MemoryKind::DmaBuf);
    let planes = a.buffers[0].planes.len();
    let object = a.buffers[0].inode().expect("fstat");
    // The compositor's allocation and the client's copy, once libwayland
    // has closed its copy of the fd it sent.
    let before = 2;
    eventually(
        accord_tests::server::WAIT,
        "the sent fd's copy closes",
        || match fds_on(object) {
            n if n == before => Ok(()),
            n => Err(format!("{n} fds on the buffer, {before} expected")),
        },
    );

    let wl_buffers: Vec<WlBuffer> = (0..1000).map(|_| collection.wl_buffer(0)).collect();
    accord
        .roundtrip()
        .expect("a thousand get_wl_buffer are legal");
    let after = fds_on(object);
    assert!(
        after.saturating_sub(before) <= planes,
        "1000 wl_buffers of one {planes}-plane buffer: the compositor holds {} more fds \
         on it, expected at most {planes}",
        after.saturating_sub(before)
    );
    assert_eq!(after, before + planes, "the shared Dmabuf dups each plane");

    // When every wl_buffer is gone, so is the shared Dmabuf.
    for b in &wl_buffers {
        b.destroy();
    }
    accord.roundtrip().expect("destroys");
    eventually(
        accord_tests::server::WAIT,
        "the shared Dmabuf closes",
        || match fds_on(object) {
            n if n == before => Ok(()),
            n => Err(format!("{n} fds on the buffer, {before} expected")),
        },
    );
    // A new wl_buffer dups afresh (the cached one is dead), once.
    let _again = [collection.wl_buffer(0), collection.wl_buffer(0)];
    accord.roundtrip().expect("get_wl_buffer again");
    assert_eq!(fds_on(object), before + planes);
}

#[test]
fn a_wl_buffer_keeps_the_quota_charged_after_its_collection_goes() {
    // Room for exactly two buffers.
    let server = TestServer::builder()
        .allocator(LabelledDmabuf::boxed)
        .quota(2 * BUFFER_BYTES)
        .start();
    let (_conn, accord) = server.accord();
    let first = accord.create_collection().bind();
    first.commit(&xrgb_exact(64, 64, 2));
    let a = first.wait_allocated().expect("the quota fits two buffers");
    assert_eq!(a.memory, accord_client::MemoryKind::DmaBuf);
    let wl = first.wl_buffer(1);
    accord.roundtrip().unwrap();
    assert_eq!(server.charged_bytes(), 2 * BUFFER_BYTES);

    drop(first);
    drop(a);
    accord.roundtrip().unwrap();
    assert_eq!(
        server.charged_bytes(),
        2 * BUFFER_BYTES,
        "the dma-buf wl_buffer still holds the buffers"
    );
    // So the quota is still spent: no second allocation behind its back.
    let second = accord.create_collection().bind();
    second.commit(&xrgb_exact(64, 64, 1));
    let f = second
        .wait_allocated()
        .expect_err("the wl_buffer's buffers still count");
    assert_eq!(f.reason, FailureReason::QuotaExceeded, "{f}");
    drop(second);

    wl.destroy();
    accord.roundtrip().unwrap();
    // At once (the embedder's `buffer_destroyed` call), not at the sweep.
    assert_eq!(server.charged_bytes(), 0, "the wl_buffer's hold ended");
    let third = accord.create_collection().bind();
    third.commit(&xrgb_exact(64, 64, 2));
    third
        .wait_allocated()
        .expect("the quota is back once the wl_buffer is gone");
}

#[test]
fn without_wl_buffer_destroyed_the_sweep_releases_the_buffers() {
    let server = TestServer::builder()
        .allocator(LabelledDmabuf::boxed)
        .forget_buffer_destroyed()
        .start();
    let conn = server.connect();
    let accord = Accord::new(&conn).expect("accord");
    let collection = accord.create_collection().bind();
    collection.commit(&xrgb_exact(64, 64, 2));
    let a = collection.wait_allocated().expect("allocation");
    // Twelve maintenance turns' worth of checks (256 each).
    let wl: Vec<WlBuffer> = (0..3000).map(|i| collection.wl_buffer(i % 2)).collect();
    drop(collection);
    drop(a);
    accord.roundtrip().unwrap();
    assert_eq!(server.charged_bytes(), 2 * BUFFER_BYTES);

    // The client goes; nobody tells the module about its wl_buffers.
    drop(wl);
    drop(accord);
    drop(conn);
    server.wait_disconnects(1);
    // The next timer tick (within its 1 s period) finds dead entries and
    // the following turns come 2 ms apart until none are left; at one turn
    // a second they would take 12 s.
    eventually(
        Duration::from_secs(3),
        "the sweep releases the buffers",
        || match server.charged_bytes() {
            0 => Ok(()),
            n => Err(format!("the compositor still holds {n} bytes")),
        },
    );
}
