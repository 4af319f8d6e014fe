//! The size and count limits over the wire. A limit the client breaks by
//! itself is a protocol error (see `misuse.rs`); one that only shows in the
//! combined constraints is a `failed` event.

use accord_client::{Accord, Constraints, FailureReason};
use accord_protocol::client::wp_buffer_collection_v1::Error as CollError;
use accord_protocol::limits::{HANDLE_EXPIRY, MAX_BUFFERS, MAX_BUFFER_BYTES, MAX_COLLECTION_BYTES};
use accord_tests::raw::RawClient;
use accord_tests::{xrgb_exact, TestServer};

type Outcome = Result<accord_client::Allocation, accord_client::Failure>;

fn outcome(accord: &Accord, c: &Constraints) -> Outcome {
    let coll = accord.create_collection().bind();
    coll.commit(c);
    coll.wait_allocated()
}

#[test]
fn version_one_values() {
    assert_eq!(MAX_BUFFERS, 128);
    assert_eq!(MAX_BUFFER_BYTES, 512 << 20);
    assert_eq!(MAX_COLLECTION_BYTES, 1 << 30);
    assert_eq!(HANDLE_EXPIRY, std::time::Duration::from_secs(60));
    assert_eq!(
        accord_engine::MAX_BUFFERS,
        MAX_BUFFERS,
        "engine and protocol agree"
    );
}

#[test]
fn a_buffer_over_512_mib_is_too_large() {
    let server = TestServer::start();
    let (_c, a) = server.accord();
    // 8192x16384x4 = 512 MiB exactly: allowed.
    drop(outcome(&a, &xrgb_exact(8192, 16384, 1)).expect("512 MiB fit"));
    // One row more is over.
    let f = outcome(&a, &xrgb_exact(8192, 16385, 1)).expect_err("over 512 MiB");
    assert_eq!(f.reason, FailureReason::TooLarge, "{f}");
    assert!(
        f.message
            .contains(&format!("the limit is {MAX_BUFFER_BYTES}")),
        "{f}"
    );
    server.assert_no_bytes_held();
}

#[test]
fn a_collection_over_1_gib_is_too_large() {
    let server = TestServer::start();
    let (_c, a) = server.accord();
    // 4 x 256 MiB = 1 GiB: allowed (and released right away).
    drop(outcome(&a, &xrgb_exact(8192, 8192, 4)).expect("1 GiB fits"));
    a.roundtrip().unwrap();
    let f = outcome(&a, &xrgb_exact(8192, 8192, 5)).expect_err("1.25 GiB");
    assert_eq!(f.reason, FailureReason::TooLarge, "{f}");
    assert!(
        f.message.contains("collection limit of 1073741824 bytes"),
        "{f}"
    );
}

/// A producer and a consumer (two clients, one exported token) commit
/// 16x16 XRGB8888 with `producer` and `consumer` buffers camping; what
/// each is told.
fn two_clients_camping(producer: u32, consumer: u32) -> (Outcome, Outcome) {
    let server = TestServer::start();
    let (_pc, p) = server.accord();
    let (_cc, c) = server.accord();
    let token = p.create_collection();
    let imported = c.import(&token.duplicate().export().unwrap());
    let (pk, ck) = (token.bind(), imported.bind());
    pk.commit(&xrgb_exact(16, 16, producer));
    ck.commit(&xrgb_exact(16, 16, consumer));
    c.flush().unwrap();
    (pk.wait_allocated(), ck.wait_allocated())
}

#[test]
fn more_than_128_buffers_combined_is_a_count_conflict() {
    // Each participant alone is within the limit; together they are not.
    let (p, _) = two_clients_camping(100, 29);
    let f = p.expect_err("129 buffers");
    assert_eq!(f.reason, FailureReason::CountConflict, "{f}");
    assert!(f.message.contains("above the hard cap 128"), "{f}");
}

#[test]
fn one_participant_asking_for_more_than_128_buffers_is_a_protocol_error() {
    let server = TestServer::start();
    let mut c = RawClient::new(server.connect());
    let k = c.create().bind(&c.qh, ());
    k.set_buffer_counts(129, 0, 0, 0, 0);
    let (code, msg) = c.expect_error();
    assert_eq!(code, CollError::InvalidValue as u32, "{msg}");
    assert!(
        msg.contains("camping is 129; a collection has at most 128 buffers"),
        "{msg}"
    );
}

#[test]
fn exactly_128_buffers_arrive_with_their_fds() {
    let (a, b) = two_clients_camping(100, 28);
    let a = a.expect("128 buffers are allowed");
    let b = b.expect("both participants get them");
    assert_eq!((a.buffers.len(), b.buffers.len()), (128, 128));
    for (x, y) in a.buffers.iter().zip(&b.buffers) {
        assert_eq!(x.inode().unwrap(), y.inode().unwrap(), "same memory");
    }
}
