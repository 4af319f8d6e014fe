//! Fault injection: a backend fixture fails at a chosen step (ENOMEM on
//! buffer k, the device gone, a layout the module's check refuses). Every
//! participant gets a clean `failed` event with the right reason, and the
//! buffers allocated before the fault are released (the process is back at
//! its fd baseline). The tests share the process's fd table, so they run
//! one at a time.

use std::sync::atomic::Ordering;
use std::sync::Mutex;

use accord_client::{Accord, Constraints, FailureReason, MOD_LINEAR};
use accord_tests::faults::{Fault, FaultyBackend};
use accord_tests::{assert_fds_return_to, fd_census, TestServer, XRGB8888};

static SERIAL: Mutex<()> = Mutex::new(());

/// Two clients share a collection of 4 buffers on a fixture failing with
/// `fault`; returns both failures and the buffers the fixture made.
fn run(fault: Fault) -> (accord_client::Failure, accord_client::Failure, usize) {
    let _one_at_a_time = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (alloc, made) = FaultyBackend::new(fault);
    let server = TestServer::builder()
        .allocator(move || Box::new(alloc))
        .start();
    let baseline_after = |server: &TestServer| {
        server.assert_no_bytes_held();
    };
    let (failures, baseline) = {
        // Warm-up connection so lazily opened fds exist before the baseline.
        let warm = server.connect();
        let _ = Accord::new(&warm).unwrap().roundtrip();
        drop(warm);
        server.wait_disconnects(1);
        let baseline = fd_census();
        let pconn = server.connect();
        let cconn = server.connect();
        let producer = Accord::new(&pconn).unwrap();
        let consumer = Accord::new(&cconn).unwrap();
        let token = producer.create_collection();
        token.set_name("producer");
        let imported = consumer.import(&token.duplicate().export().unwrap());
        imported.set_name("consumer");
        let (p, c) = (token.bind(), imported.bind());
        let want = Constraints::new()
            .format(XRGB8888, MOD_LINEAR)
            .min_size(64, 64)
            .buffers(2);
        p.commit(&want);
        c.commit(&want);
        consumer.flush().unwrap();
        let pf = p.wait_allocated().expect_err("the fixture fails");
        let cf = c.wait_allocated().expect_err("both participants are told");
        ((pf, cf), baseline)
    };
    server.wait_disconnects(3);
    assert_fds_return_to(&baseline, &format!("{fault:?}"));
    baseline_after(&server);
    (failures.0, failures.1, made.load(Ordering::SeqCst))
}

#[test]
fn out_of_memory_on_buffer_k_releases_buffers_0_to_k() {
    let (p, c, made) = run(Fault::OutOfMemoryAt(3));
    assert_eq!(made, 3, "buffers 0..3 were really allocated first");
    for f in [&p, &c] {
        assert_eq!(f.reason, FailureReason::OutOfMemory, "{f}");
        assert!(f.message.contains("ENOMEM on buffer 3"), "{f}");
    }
}

#[test]
fn device_gone_mid_allocation_is_device_lost() {
    let (p, c, made) = run(Fault::DeviceGoneAt(2));
    assert_eq!(made, 2);
    for f in [&p, &c] {
        assert_eq!(f.reason, FailureReason::DeviceLost, "{f}");
        assert!(f.message.contains("ENODEV on buffer 2"), "{f}");
    }
}

#[test]
fn a_layout_the_check_refuses_never_reaches_clients() {
    let (p, c, made) = run(Fault::BadStrideAt(1));
    assert_eq!(made, 4, "every buffer was allocated before the check");
    for f in [&p, &c] {
        assert_eq!(f.reason, FailureReason::Unsupported, "{f}");
        assert!(f.message.contains("layout mismatch"), "{f}");
        assert!(f.message.contains("buffer 1"), "{f}");
    }
}

#[test]
fn out_of_memory_on_the_first_buffer() {
    let (p, _, made) = run(Fault::OutOfMemoryAt(0));
    assert_eq!(made, 0);
    assert_eq!(p.reason, FailureReason::OutOfMemory, "{p}");
}
