//! Issue 14, item 2: the allocator's capability takes part in the
//! negotiation. A client on the headless reference compositor (memfd
//! backend: linear layouts only) lists 1024 pairs, vendor modifiers first
//! and XRGB8888/LINEAR last. The engine alone ranks a vendor modifier
//! first, and the memfd backend used to answer `failed(unsupported)`
//! ("memfd holds only LINEAR layouts") although LINEAR was on the list;
//! now the placement's capability removes what it cannot make before
//! ranking, and LINEAR is allocated. A client with vendor modifiers only
//! fails with `no_common_format` naming the placement.

mod common;

use std::os::unix::net::UnixStream;

use accord_client::{Accord, Constraints, FailureReason, MemoryKind, MOD_LINEAR};
use accord_examples::demo::XRGB8888;
use accord_examples::refcomp::{spawn, Config};
use common::TempRuntimeDir;
use wayland_client::Connection;

fn vendor(i: u64) -> u64 {
    (0x01 << 56) | i
}

#[test]
fn a_linear_backend_allocates_linear_when_vendor_modifiers_come_first() {
    let dir = TempRuntimeDir::new("accord-placement");
    let compositor = spawn(Config {
        runtime_dir: Some(dir.path().to_owned()),
        ..common::config()
    })
    .expect("start compositor");
    let stream = UnixStream::connect(compositor.socket_path()).expect("connect");
    let conn = Connection::from_socket(stream).expect("wayland connection");
    let accord = Accord::new(&conn).expect("the Accord global");

    let mut wants = Constraints::new().min_size(64, 64).buffers(2);
    for i in 1..1024 {
        wants = wants.format(XRGB8888, vendor(i));
    }
    wants = wants.format(XRGB8888, MOD_LINEAR);
    let collection = accord.create_collection().bind();
    collection.commit(&wants);
    let got = collection
        .wait_allocated()
        .expect("LINEAR was on the list: the memfd backend can make it");
    assert_eq!((got.format, got.modifier), (XRGB8888, MOD_LINEAR));
    assert_eq!(got.memory, MemoryKind::Memfd);

    let mut tiled_only = Constraints::new().min_size(64, 64);
    for i in 1..=8 {
        tiled_only = tiled_only.format(XRGB8888, vendor(i));
    }
    let token = accord.create_collection();
    token.set_name("tiled client");
    let collection = token.bind();
    collection.commit(&tiled_only);
    let f = collection
        .wait_allocated()
        .expect_err("memfd makes no tiling");
    assert_eq!(f.reason, FailureReason::NoCommonFormat, "{f}");
    assert!(
        f.message.contains("placement 'memfd'") && f.message.contains("'tiled client'"),
        "{f}"
    );
}
