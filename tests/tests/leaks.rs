//! No fd leaks: many client lifecycles, some ending in an abrupt disconnect
//! at a varying step, leave the process (compositor and clients) with the
//! fd count it started with. One test in its own binary, so no other test's
//! fds move the count.

use accord_client::{Accord, Constraints, Usage, MOD_LINEAR};
use accord_tests::{assert_fds_return_to, fd_census, TestServer, XRGB8888};

/// One producer/consumer lifecycle; the consumer's socket is shut down
/// after `cut` steps (8 = it completes and closes normally).
fn lifecycle(server: &TestServer, cut: u32) {
    let (pconn, psock) = server.connect_killable();
    let producer = Accord::new(&pconn).unwrap();
    let (cconn, csock) = server.connect_killable();
    let consumer = Accord::new(&cconn).unwrap();
    let token = producer.create_collection();
    if cut == 0 {
        let _ = psock.shutdown(std::net::Shutdown::Both);
        return;
    }
    let handle = token.duplicate().export().unwrap();
    let imported = consumer.import(&handle);
    // (A consumer that dies before its import reaches the compositor leaves
    // the handle pending until it expires: stress.rs covers that with a
    // short expiry. libwayland-server drops a client on hang-up without
    // reading what it still had buffered, so the consumer makes sure its
    // request arrived before it dies.)
    if cut == 1 {
        let _ = consumer.roundtrip();
        let _ = csock.shutdown(std::net::Shutdown::Both);
    }
    let ccoll = imported.bind();
    if cut == 2 {
        let _ = consumer.roundtrip();
        let _ = csock.shutdown(std::net::Shutdown::Both);
    }
    let c = Constraints::new()
        .usage(Usage::CpuWrite)
        .format(XRGB8888, MOD_LINEAR)
        .min_size(64, 64)
        .buffers(2);
    ccoll.commit(&c);
    let _ = consumer.flush();
    let pcoll = token.bind();
    pcoll.commit(&c);
    let outcome = pcoll.wait_allocated();
    if cut >= 3 {
        let a = outcome.expect("allocates when nobody left");
        let wl = pcoll.wl_buffer(1);
        let _ = producer.roundtrip();
        if cut == 4 {
            let _ = psock.shutdown(std::net::Shutdown::Both);
            return;
        }
        wl.destroy();
        drop(a);
        let _ = consumer.roundtrip();
    }
}

#[test]
fn lifecycles_leave_no_fds_behind() {
    let server = TestServer::start();
    // Warm up lazily opened fds (thread pools, smithay's drop thread).
    lifecycle(&server, 8);
    let mut expected = 2;
    server.wait_disconnects(expected);
    let baseline = fd_census();
    let mut seed = 0x2545_f491_u32;
    for _ in 0..60 {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        lifecycle(&server, (seed >> 16) % 9);
        expected += 2;
        server.wait_disconnects(expected);
    }
    assert_fds_return_to(&baseline, "60 lifecycles");
    server.assert_no_bytes_held();
}
