//! Clients that close their socket right after a request that is a
//! protocol error are counted once each. wayland-backend 0.3.17 can report
//! such a client twice (closed, then the error; FUZZING.md finding 6, which
//! depends on when the close is read); the test compositor counts each
//! client once, so `wait_disconnects` never over-counts.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use accord_tests::TestServer;

/// `wl_display` (object 1) request with an unknown object id: the message
/// header is (object id, size << 16 | opcode).
fn request_to_unknown_object() -> Vec<u8> {
    let mut msg = 77u32.to_ne_bytes().to_vec();
    msg.extend_from_slice(&(8u32 << 16).to_ne_bytes()); // opcode 0
    msg
}

#[test]
fn a_client_closed_after_a_bad_request_counts_as_one_disconnect() {
    let server = TestServer::start();
    for n in 1..=20 {
        let mut sock = UnixStream::connect(&server.socket).expect("connect");
        sock.write_all(&request_to_unknown_object()).expect("write");
        drop(sock);
        server.wait_disconnects(n);
    }
    // A second report for any of them would arrive with the next dispatch.
    let probe = UnixStream::connect(&server.socket).expect("connect");
    drop(probe);
    server.wait_disconnects(21);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(server.disconnects(), 21, "each client counted once");
}

/// A client the compositor kills with a protocol error of its own: the
/// libwayland backend never calls `ClientData::disconnected` for it
/// (FUZZING.md finding 9), so the server counts it when the client's data
/// is dropped. Either way each such client counts once.
#[test]
fn a_client_killed_by_a_compositor_protocol_error_counts_as_one_disconnect() {
    let server = TestServer::start();
    for n in 1..=5 {
        let mut c = accord_tests::raw::RawClient::new(server.connect());
        c.create().set_name(Some("x".repeat(64)));
        let (_, message) = c.expect_error();
        assert!(message.contains("set_name"), "{message}");
        drop(c);
        server.wait_disconnects(n);
    }
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(server.disconnects(), 5, "each client counted once");
}
