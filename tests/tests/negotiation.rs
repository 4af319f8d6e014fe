//! Negotiation over real Wayland sockets with the memfd backend, through
//! the client library: (a) one client, (b) two clients sharing buffers via
//! export/import, (d) conflicting formats, (e) disconnects before commit,
//! (f) a raw collection (a bitstream queue) shared by two clients.

use accord_client::{Accord, Constraints, FailureReason, MemoryKind, Usage, MOD_LINEAR};
use accord_tests::waiting::eventually;
use accord_tests::{TestServer, ARGB8888, XRGB8888};

fn client(server: &TestServer) -> Accord {
    Accord::new(&server.connect()).expect("bind the accord global")
}

#[test]
fn a_one_client_negotiates_alone() {
    let server = TestServer::start();
    let accord = client(&server);
    let token = accord.create_collection();
    token.set_name("solo");
    let collection = token.bind();
    collection.commit(
        &Constraints::new()
            .usage(Usage::CpuWrite)
            .format(XRGB8888, MOD_LINEAR)
            .min_size(100, 50)
            .stride_alignment(256)
            .buffers(3),
    );
    let a = collection.wait_allocated().expect("allocation");
    assert_eq!((a.format, a.modifier), (XRGB8888, MOD_LINEAR));
    assert!(a.width >= 100 && a.height >= 50, "{}x{}", a.width, a.height);
    assert_eq!(a.memory, MemoryKind::Memfd);
    assert_eq!(a.buffers.len(), 3);
    for (i, b) in a.buffers.iter().enumerate() {
        assert_eq!(b.index as usize, i);
        assert_eq!(b.planes.len(), 1);
        let p = &b.planes[0];
        assert_eq!(p.stride % 256, 0, "stride {} not 256-aligned", p.stride);
        assert!(p.stride >= a.width * 4);
        assert!(b.size >= u64::from(p.stride) * u64::from(a.height));
        // Real, writable shared memory of the announced size.
        let mut map = b.map().expect("map");
        assert_eq!(map.len() as u64, b.size);
        map[0] = 0xab;
    }
    // Distinct buffers are distinct memory objects.
    assert_ne!(a.buffers[0].inode().unwrap(), a.buffers[1].inode().unwrap());
}

#[test]
fn b_two_clients_share_the_same_buffers() {
    let server = TestServer::start();
    let producer = client(&server);
    let consumer = client(&server);

    let token = producer.create_collection();
    token.set_name("producer");
    let handle = token.duplicate().export().expect("export");
    assert_eq!(handle.len(), 64);
    assert!(handle.bytes().all(|b| b.is_ascii_hexdigit()));

    let imported = consumer.import(&handle);
    imported.set_name("consumer");
    let c_coll = imported.bind();
    c_coll.commit(
        &Constraints::new()
            .usage(Usage::CpuRead)
            .format(XRGB8888, MOD_LINEAR)
            .format(ARGB8888, MOD_LINEAR)
            .stride_alignment(256)
            .buffers(1),
    );
    consumer.flush().unwrap();

    let p_coll = token.bind();
    p_coll.commit(
        &Constraints::new()
            .usage(Usage::CpuWrite)
            .format(XRGB8888, MOD_LINEAR)
            .min_size(320, 240)
            .buffers(2),
    );
    let pa = p_coll.wait_allocated().expect("producer allocation");
    let ca = c_coll.wait_allocated().expect("consumer allocation");

    assert_eq!((pa.format, pa.modifier), (ca.format, ca.modifier));
    assert_eq!((pa.width, pa.height), (ca.width, ca.height));
    assert_eq!(pa.buffers.len(), 3, "camping 2 + 1 summed");
    assert_eq!(ca.buffers.len(), pa.buffers.len());
    for (pb, cb) in pa.buffers.iter().zip(&ca.buffers) {
        assert_eq!(
            pb.inode().unwrap(),
            cb.inode().unwrap(),
            "same memory object"
        );
        assert_eq!(pb.size, cb.size);
        assert_eq!(pb.planes[0].offset, cb.planes[0].offset);
        assert_eq!(pb.planes[0].stride, cb.planes[0].stride);
        assert_eq!(
            pb.planes[0].stride % 256,
            0,
            "consumer's alignment honoured"
        );
        // What one writes, the other reads: one memory, no copy.
        let mut w = pb.map().unwrap();
        w[pb.planes[0].stride as usize + 4] = 0x5a + pb.index as u8;
        drop(w);
        let r = cb.map().unwrap();
        assert_eq!(r[cb.planes[0].stride as usize + 4], 0x5a + cb.index as u8);
    }
}

#[test]
fn d_conflicting_formats_fail_naming_both() {
    let server = TestServer::start();
    let one = client(&server);
    let two = client(&server);
    let token = one.create_collection();
    token.set_name("alpha");
    let handle = token.duplicate().export().unwrap();
    let other = two.import(&handle);
    other.set_name("beta");
    let c2 = other.bind();
    c2.commit(&Constraints::new().format(ARGB8888, MOD_LINEAR));
    two.flush().unwrap();
    let c1 = token.bind();
    c1.commit(&Constraints::new().format(XRGB8888, MOD_LINEAR));

    for outcome in [c1.wait_allocated(), c2.wait_allocated()] {
        let f = outcome.expect_err("no common format");
        assert_eq!(f.reason, FailureReason::NoCommonFormat, "{f}");
        assert!(f.message.contains("alpha"), "{}", f.message);
        assert!(f.message.contains("beta"), "{}", f.message);
    }
}

/// A producer commits and waits; the consumer imports, binds, then
/// disconnects abruptly before committing. Returns the producer's outcome.
fn consumer_leaves_before_commit(
    dispensable: bool,
) -> Result<accord_client::Allocation, accord_client::Failure> {
    let server = TestServer::start();
    let producer = client(&server);
    let token = producer.create_collection();
    token.set_name("producer");
    let handle = token.duplicate().export().unwrap();
    let c = token.bind();
    c.commit(&Constraints::new().format(XRGB8888, MOD_LINEAR).buffers(1));
    producer.flush().unwrap();
    {
        let (conn, socket) = server.connect_killable();
        let consumer = Accord::new(&conn).expect("bind");
        let t = consumer.import(&handle);
        t.set_name("flaky-consumer");
        if dispensable {
            t.set_dispensable();
        }
        let _bound = t.bind();
        consumer.roundtrip().unwrap();
        // Abrupt disconnect: the socket closes before any destroy request.
        socket.shutdown(std::net::Shutdown::Both).unwrap();
    }
    server.wait_disconnects(1);
    c.wait_allocated()
}

#[test]
fn e_non_dispensable_disconnect_fails_the_others() {
    let f = consumer_leaves_before_commit(false).expect_err("must fail");
    assert_eq!(f.reason, FailureReason::ParticipantFailed, "{f}");
    assert!(f.message.contains("flaky-consumer"), "{}", f.message);
}

#[test]
fn e_dispensable_disconnect_does_not() {
    let a = consumer_leaves_before_commit(true).expect("allocates without it");
    assert_eq!(a.buffers.len(), 1);
    assert_eq!(a.format, XRGB8888);
}

fn alone(
    accord: &Accord,
    count: u32,
) -> (
    accord_client::Collection,
    Result<accord_client::Allocation, accord_client::Failure>,
) {
    let collection = accord.create_collection().bind();
    collection.commit(
        &Constraints::new()
            .format(XRGB8888, MOD_LINEAR)
            .min_size(64, 64)
            .buffers(count),
    );
    let outcome = collection.wait_allocated();
    (collection, outcome)
}

#[test]
fn quota_fails_only_that_client_and_bytes_come_back() {
    // 64x64 XRGB8888 = 16 KiB per buffer; the quota fits 3 buffers.
    let server = TestServer::builder().quota(3 * 16384).start();
    let a = client(&server);
    let b = client(&server);
    let (first, ok) = alone(&a, 2);
    assert_eq!(ok.expect("2 buffers fit").buffers.len(), 2);
    let (_second, over) = alone(&a, 2);
    let f = over.expect_err("4 buffers exceed the quota");
    assert_eq!(f.reason, FailureReason::QuotaExceeded, "{f}");
    let (_other, fine) = alone(&b, 3);
    assert!(fine.is_ok(), "another client is unaffected");
    // Releasing the first collection (its only holder) returns the bytes.
    drop(first);
    a.roundtrip().unwrap();
    let (_third, again) = alone(&a, 3);
    assert_eq!(again.expect("bytes came back").buffers.len(), 3);
}

#[test]
fn event_loop_form_without_blocking_calls() {
    // What an application's event loop does: read the socket when it can,
    // dispatch pending events, poll the collection. No call here blocks.
    let server = TestServer::start();
    let conn = server.connect();
    let accord = Accord::new(&conn).unwrap();
    let collection = accord.create_collection().bind();
    collection.commit(&Constraints::new().format(XRGB8888, MOD_LINEAR).buffers(2));
    accord.flush().unwrap();
    let mut polls = 0;
    let outcome = eventually(std::time::Duration::from_secs(5), "no outcome", || {
        accord.dispatch_pending().unwrap();
        if let Some(outcome) = collection.poll_allocated() {
            return Some(outcome);
        }
        polls += 1;
        if let Some(guard) = conn.prepare_read() {
            match guard.read() {
                Ok(_) => {}
                Err(wayland_client::backend::WaylandError::Io(e))
                    if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("read: {e}"),
            }
        }
        None
    });
    assert_eq!(outcome.expect("allocated").buffers.len(), 2);
    assert!(polls >= 1, "the outcome needed at least one read");
    // The allocation is handed out once.
    let again = collection.poll_allocated().expect("answered");
    assert_eq!(again.unwrap_err().reason, FailureReason::AlreadyTaken);
}

/// A decoder's bitstream queue: two clients, no format listed, sized in
/// bytes. Both get the same raw buffers (format 0, one plane of stride 0,
/// `raw_size` the decoder's minimum rounded to its page alignment) and
/// what the demuxer writes the decoder reads.
#[test]
fn f_a_raw_bitstream_queue_is_shared_bytes() {
    let server = TestServer::start();
    let demuxer = client(&server);
    let decoder = client(&server);
    let token = demuxer.create_collection();
    token.set_name("demuxer");
    let handle = token.duplicate().export().expect("export");
    let imported = decoder.import(&handle);
    imported.set_name("decoder");
    let d_coll = imported.bind();
    d_coll.commit(
        &Constraints::new()
            .usage(Usage::CpuRead)
            .min_size_bytes((1 << 20) + 100)
            .alignment(1, 4096)
            .buffers(2),
    );
    decoder.flush().unwrap();
    let m_coll = token.bind();
    m_coll.commit(
        &Constraints::new()
            .usage(Usage::CpuWrite)
            .min_size_bytes(65536)
            .buffers(1),
    );
    let ma = m_coll.wait_allocated().expect("demuxer allocation");
    let da = d_coll.wait_allocated().expect("decoder allocation");
    let size = (1 << 20) + 4096;
    for a in [&ma, &da] {
        assert_eq!(a.raw_size, Some(size));
        assert_eq!((a.format, a.width, a.height), (0, 0, 0));
        assert_eq!(a.buffers.len(), 3, "camping 2 + 1");
    }
    for (mb, db) in ma.buffers.iter().zip(&da.buffers) {
        assert_eq!(mb.inode().unwrap(), db.inode().unwrap(), "same memory");
        assert_eq!(mb.planes.len(), 1);
        assert_eq!((mb.planes[0].offset, mb.planes[0].stride), (0, 0));
        assert!(mb.size >= size);
        let mut w = mb.map().expect("map the demuxer's buffer");
        assert_eq!(w.len() as u64, mb.size);
        w[size as usize - 1] = 0x47; // an MPEG-TS sync byte at the end
        drop(w);
        let r = db.map().expect("map the decoder's buffer");
        assert_eq!(r[size as usize - 1], 0x47);
    }
}
