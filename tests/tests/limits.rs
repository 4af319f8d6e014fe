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

#[test]
fn width_2_pow_30_is_too_large_not_a_stride_conflict() {
    // Stride 2^32 is past the 32-bit stride field, 4 GiB past 512 MiB: the
    // size is checked first, so the answer is too_large.
    let server = TestServer::start();
    let (_c, a) = server.accord();
    let f = outcome(&a, &xrgb_exact(1 << 30, 1, 1)).expect_err("4 GiB");
    assert_eq!(f.reason, FailureReason::TooLarge, "{f}");
    assert!(
        f.message
            .contains("needs 4294967296 bytes per buffer, the limit is 536870912"),
        "{f}"
    );
    server.assert_no_bytes_held();
}

/// One participant of a [`Case`]: an exact XRGB8888 LINEAR size, a
/// maximum stride (0 = none) and the buffers it camps on.
#[derive(Clone, Copy)]
struct Part {
    size: (u32, u32),
    max_stride: u32,
    camping: u32,
}

fn part(w: u32, h: u32) -> Part {
    Part {
        size: (w, h),
        max_stride: 0,
        camping: 1,
    }
}

fn display(max_stride: u32) -> Part {
    Part {
        size: (1, 1),
        max_stride,
        camping: 0,
    }
}

fn client_constraints(p: Part) -> accord_client::Constraints {
    accord_client::Constraints::new()
        .format(accord_tests::XRGB8888, accord_client::MOD_LINEAR)
        .min_size(p.size.0, p.size.1)
        .stride_range(0, p.max_stride)
        .buffers(p.camping)
}

fn engine_constraints(i: usize, p: Part) -> accord_engine::Constraints {
    accord_engine::Constraints {
        name: format!("p{i}"),
        formats: vec![accord_engine::FormatModifier {
            format: accord_tests::XRGB8888,
            modifier: accord_engine::MOD_LINEAR,
            scanout: false,
        }],
        min_size: p.size,
        max_stride: p.max_stride,
        buffers: accord_engine::BufferCounts {
            camping: p.camping,
            ..Default::default()
        },
        ..Default::default()
    }
}

/// The reason the compositor gives (`"ok"` for buffers): every
/// participant on its own connection, sharing one collection.
fn compositor_reason(server: &TestServer, parts: &[Part]) -> &'static str {
    let (_c0, first) = server.accord();
    let token = first.create_collection();
    let mut others = Vec::new();
    for &p in &parts[1..] {
        let (conn, accord) = server.accord();
        let imported = accord.import(&token.duplicate().export().unwrap());
        let coll = imported.bind();
        coll.commit(&client_constraints(p));
        accord.flush().unwrap();
        others.push((conn, accord, coll));
    }
    let coll = token.bind();
    coll.commit(&client_constraints(parts[0]));
    match coll.wait_allocated() {
        Ok(_) => "ok",
        Err(f) => f.reason.as_str(),
    }
}

/// The same scenarios through the engine (as `accord solve` runs them) and
/// through the compositor over the wire: the same reason each time.
#[test]
fn the_engine_and_the_compositor_give_the_same_reason() {
    let cases: &[(&str, Vec<Part>, &str)] = &[
        ("width 2^30", vec![part(1 << 30, 1)], "too_large"),
        ("width u32::MAX", vec![part(u32::MAX, 1)], "too_large"),
        (
            "width u32::MAX against a max_stride",
            vec![part(u32::MAX, 1), display(4096)],
            "too_large",
        ),
        ("height u32::MAX", vec![part(1, u32::MAX)], "too_large"),
        ("one row over 512 MiB", vec![part(8192, 16385)], "too_large"),
        (
            "128 buffers of 8 MiB and a row",
            vec![Part {
                camping: MAX_BUFFERS,
                ..part(1024, 2049)
            }],
            "too_large",
        ),
        (
            "a stride over max_stride, the size fine",
            vec![part(4096, 16), display(8192)],
            "stride_conflict",
        ),
        ("a small buffer", vec![part(64, 64), display(4096)], "ok"),
    ];
    let server = TestServer::start();
    for (what, parts, want) in cases {
        let engine: Vec<_> = parts
            .iter()
            .enumerate()
            .map(|(i, &p)| engine_constraints(i, p))
            .collect();
        let by_engine = match accord_engine::solve(&engine) {
            Ok(_) => "ok",
            Err(f) => f.reason.as_str(),
        };
        let by_compositor = compositor_reason(&server, parts);
        assert_eq!(
            (by_engine, by_compositor),
            (*want, *want),
            "{what}: (engine, compositor)"
        );
    }
    server.assert_no_bytes_held();
}

/// The module holds a bounded number of pending handles, every client
/// together: a client reconnecting to export more cannot grow it. An
/// export beyond the bound fails its token with `quota_exceeded`, and a
/// redeemed handle frees a place.
#[test]
fn pending_handles_are_bounded_for_all_clients_together() {
    let server = TestServer::builder().max_pending_handles(8).start();
    // Two connections, one after the other, each exporting 4 handles,
    // releasing its root token and leaving: the handles stay pending.
    let mut handles = Vec::new();
    for _ in 0..2 {
        let (_conn, hostile) = server.accord();
        let root = hostile.create_collection();
        for _ in 0..4 {
            handles.push(root.duplicate().export().expect("under the bound"));
        }
        drop(root);
        hostile.roundtrip().expect("roundtrip");
    }
    let (_conn, third) = server.accord();
    let root = third.create_collection();
    let refused = root.duplicate().export().expect_err("over the bound");
    assert_eq!(refused.reason, FailureReason::QuotaExceeded, "{refused}");
    assert!(refused.message.contains("8 pending handles"), "{refused}");
    // Another client redeems one: a place is free again.
    let (_conn, peer) = server.accord();
    let _imported = peer.import(&handles[0]);
    peer.roundtrip().expect("roundtrip");
    let fresh = third.create_collection();
    fresh
        .duplicate()
        .export()
        .expect("a redeemed handle freed a place");
}
