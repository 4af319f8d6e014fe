//! Dropping a `Collection` or an unused `Token` reaches the compositor at
//! once: the library flushes the `destroy`, so a client that goes idle
//! right after the drop (no flush, no round trip, connection still open)
//! does not keep buffers allocated or a negotiation waiting.

use std::time::Duration;

use accord_client::{Accord, Constraints, Usage, MOD_LINEAR};
use accord_tests::waiting::eventually;
use accord_tests::{TestServer, XRGB8888};

fn constraints() -> Constraints {
    Constraints::new()
        .usage(Usage::CpuWrite)
        .format(XRGB8888, MOD_LINEAR)
        .min_size(256, 256)
        .buffers(2)
}

/// Wait (up to 5 s) for the compositor's charged bytes to satisfy `ok`;
/// the client does nothing meanwhile.
fn wait_charged(server: &TestServer, what: &str, ok: impl Fn(u64) -> bool) -> u64 {
    eventually(Duration::from_secs(5), what, || {
        let bytes = server.charged_bytes();
        if ok(bytes) {
            Ok(bytes)
        } else {
            Err(format!(
                "the compositor holds {bytes} bytes while the client idles"
            ))
        }
    })
}

#[test]
fn dropping_a_collection_frees_its_buffers_without_further_requests() {
    let server = TestServer::start();
    let accord = Accord::new(&server.connect()).expect("bind the accord global");
    let collection = accord.create_collection().bind();
    collection.commit(&constraints());
    let allocation = collection.wait_allocated().expect("allocation");
    let held = wait_charged(&server, "after allocation", |b| b > 0);
    assert!(
        held >= 2 * 256 * 256 * 4,
        "2 buffers of 256x256 XRGB8888 charged as {held} bytes"
    );

    drop(allocation);
    drop(collection);
    // No flush, dispatch or round trip from here on; `accord` stays alive.
    wait_charged(&server, "after dropping the collection", |b| b == 0);
    drop(accord);
}

#[test]
fn dropping_an_unused_token_lets_allocation_proceed() {
    let server = TestServer::start();
    let accord = Accord::new(&server.connect()).expect("bind the accord global");
    let root = accord.create_collection();
    let unused = root.duplicate();
    let collection = root.bind();
    collection.commit(&constraints());
    accord.roundtrip().expect("roundtrip");
    // The collection waits for the unused slot: nothing is allocated.
    assert_eq!(server.charged_bytes(), 0);
    assert!(collection.poll_allocated().is_none());

    drop(unused);
    // The compositor allocates as soon as the slot's destroy arrives.
    wait_charged(&server, "after dropping the unused token", |b| b > 0);
    let allocation = collection.wait_allocated().expect("allocation");
    assert_eq!(allocation.buffers.len(), 2);
}
