//! (f) Every misuse is a protocol error with its code and a message saying
//! what was wrong; handles that give no access are `failed` events.

use accord_protocol::client::wp_buffer_collection_manager_v1::Error as ManagerError;
use accord_protocol::client::wp_buffer_collection_token_group_v1::Error as GroupError;
use accord_protocol::client::wp_buffer_collection_token_v1::Error as TokenError;
use accord_protocol::client::wp_buffer_collection_v1::{
    Error as CollError, FailureReason, WpBufferCollectionV1,
};
use accord_tests::raw::RawClient;
use accord_tests::TestServer;
use wayland_client::Proxy;

fn raw(server: &TestServer) -> RawClient {
    RawClient::new(server.connect())
}

/// A server, a raw client and a freshly bound collection (not committed).
fn bound() -> (TestServer, RawClient, WpBufferCollectionV1) {
    let server = TestServer::start();
    let c = raw(&server);
    let t = c.create();
    let coll = t.bind(&c.qh, ());
    (server, c, coll)
}

fn assert_error(got: (u32, String), code: u32, needles: &[&str]) {
    assert_eq!(got.0, code, "wrong error code; message: {}", got.1);
    // libwayland-server cuts a protocol error message at 127 bytes.
    assert!(
        got.1.len() < 127,
        "message {:?} ({} bytes) may have been cut",
        got.1,
        got.1.len()
    );
    for n in needles {
        assert!(got.1.contains(n), "message {:?} lacks {:?}", got.1, n);
    }
}

#[test]
fn second_commit() {
    let server = TestServer::start();
    let mut c = raw(&server);
    let t = c.create();
    let coll = c.bind_commit(&t);
    c.roundtrip().unwrap();
    coll.commit();
    assert_error(
        c.expect_error(),
        CollError::AlreadyCommitted as u32,
        &["commit", "already committed", "exactly once"],
    );
}

#[test]
fn constraint_after_commit() {
    let server = TestServer::start();
    let mut c = raw(&server);
    let t = c.create();
    // Before the allocated event (after it, version 2 builds the next
    // constraints for recommit).
    let _other = t.duplicate(&c.qh, ());
    let coll = c.bind_commit(&t);
    coll.set_stride(0, 0, 64);
    assert_error(
        c.expect_error(),
        CollError::AlreadyCommitted as u32,
        &["set_stride", "already committed"],
    );
}

#[test]
fn second_bind() {
    let server = TestServer::start();
    let mut c = raw(&server);
    let t = c.create();
    let _first = t.bind(&c.qh, ());
    let _second = t.bind(&c.qh, ());
    assert_error(
        c.expect_error(),
        TokenError::InertToken as u32,
        &["bind", "already bound"],
    );
}

#[test]
fn token_used_after_export() {
    let server = TestServer::start();
    let mut c = raw(&server);
    let t = c.create();
    let _ = c.export(&t);
    let _dup = t.duplicate(&c.qh, ());
    assert_error(
        c.expect_error(),
        TokenError::InertToken as u32,
        &["duplicate", "already exported"],
    );
}

#[test]
fn malformed_handle() {
    let server = TestServer::start();
    let mut c = raw(&server);
    let _t = c
        .manager
        .import_token(Some("not-a-handle".into()), &c.qh, ());
    assert_error(
        c.expect_error(),
        ManagerError::InvalidHandle as u32,
        &["import_token", "64 lowercase hexadecimal"],
    );
}

/// The generated parser would panic on a null string the XML does not allow;
/// the XML allows it and the module turns it into the protocol error. The
/// compositor keeps serving other clients afterwards.
#[test]
fn null_handle_is_malformed() {
    let server = TestServer::start();
    let mut c = raw(&server);
    let _t = c.manager.import_token(None, &c.qh, ());
    assert_error(
        c.expect_error(),
        ManagerError::InvalidHandle as u32,
        &["import_token", "handle of 0 bytes"],
    );
    let mut other = raw(&server);
    let _ = other.create();
    assert_eq!(other.roundtrip(), Ok(()));
}

#[test]
fn unknown_handle_gives_failed_not_access() {
    let server = TestServer::start();
    let mut c = raw(&server);
    let t = c.manager.import_token(Some("0".repeat(64)), &c.qh, ());
    c.roundtrip().expect("not a protocol error");
    let (reason, msg) = c
        .events
        .token_failed
        .get(&t.id())
        .cloned()
        .expect("failed event");
    assert_eq!(reason, FailureReason::UnknownHandle as u32);
    assert!(msg.contains("unknown"), "{msg}");
}

#[test]
fn used_handle_gives_failed_not_access() {
    let server = TestServer::start();
    let mut exporter = raw(&server);
    let mut a = raw(&server);
    let mut b = raw(&server);
    let t = exporter.create();
    let handle = exporter.export(&t.duplicate(&exporter.qh, ()));
    let first = a.manager.import_token(Some(handle.clone()), &a.qh, ());
    a.roundtrip().unwrap();
    assert!(
        !a.events.token_failed.contains_key(&first.id()),
        "first import works"
    );
    let second = b.manager.import_token(Some(handle), &b.qh, ());
    b.roundtrip().expect("not a protocol error");
    let (reason, msg) = b
        .events
        .token_failed
        .get(&second.id())
        .cloned()
        .expect("failed event");
    assert_eq!(reason, FailureReason::UnknownHandle as u32);
    assert!(msg.contains("already redeemed"), "{msg}");
    // And binding the failed token yields no buffers, only the failure.
    let coll = second.bind(&b.qh, ());
    b.roundtrip().unwrap();
    assert!(b.events.failed.contains_key(&coll.id()));
    assert!(!b.events.allocated.contains_key(&coll.id()));
}

#[test]
fn out_of_range_buffer_index() {
    let server = TestServer::start();
    let mut c = raw(&server);
    let t = c.create();
    let coll = c.bind_commit(&t);
    c.roundtrip().unwrap();
    let count = *c.events.allocated.get(&coll.id()).expect("allocated");
    let _ok = coll.get_wl_buffer(count - 1, &c.qh, ());
    c.roundtrip().expect("last index is valid");
    let _bad = coll.get_wl_buffer(count, &c.qh, ());
    assert_error(
        c.expect_error(),
        CollError::InvalidIndex as u32,
        &["get_wl_buffer", &format!("index {count} out of range")],
    );
}

#[test]
fn wl_buffer_before_allocation() {
    let server = TestServer::start();
    let mut c = raw(&server);
    let t = c.create();
    let _other = t.duplicate(&c.qh, ()); // keeps the collection waiting
    let coll = c.bind_commit(&t);
    let _b = coll.get_wl_buffer(0, &c.qh, ());
    assert_error(
        c.expect_error(),
        CollError::NotAllocated as u32,
        &["get_wl_buffer", "allocated event"],
    );
}

/// A raw client's collection, allocated at 16x8 and renegotiated to 32x8
/// (generation 2), with renegotiation not rate-limited.
fn renegotiated() -> (TestServer, RawClient, WpBufferCollectionV1) {
    let server = TestServer::builder()
        .min_generation_interval(std::time::Duration::ZERO)
        .start();
    let mut c = raw(&server);
    let t = c.create();
    let coll = c.bind_commit(&t);
    c.roundtrip().expect("allocated");
    assert_eq!(c.events.generations.get(&coll.id()), Some(&vec![1]));
    recommit_width(&coll, 32);
    c.roundtrip().expect("recommit after allocated is no error");
    assert_eq!(
        c.events.generations.get(&coll.id()),
        Some(&vec![1, 2]),
        "a wider size is a new generation"
    );
    (server, c, coll)
}

/// New constraints (XRGB8888 LINEAR, `width`x8) and `recommit`.
fn recommit_width(coll: &WpBufferCollectionV1, width: u32) {
    let mut pair = accord_tests::XRGB8888.to_ne_bytes().to_vec();
    pair.extend_from_slice(&0u32.to_ne_bytes());
    pair.extend_from_slice(&accord_engine::MOD_LINEAR.to_ne_bytes());
    coll.add_formats(pair);
    coll.set_size_range(width, 8, 0, 0);
    coll.recommit();
}

#[test]
fn stale_generation() {
    let (_server, mut c, coll) = renegotiated();
    let _old = coll.get_generation_buffer(1, 0, &c.qh, ());
    let _new = coll.get_generation_buffer(2, 0, &c.qh, ());
    c.roundtrip().expect("both generations are held");
    coll.release_generation(1);
    c.roundtrip().expect("the older generation is released");
    let _stale = coll.get_generation_buffer(1, 0, &c.qh, ());
    assert_error(
        c.expect_error(),
        CollError::InvalidGeneration as u32,
        &[
            "get_generation_buffer",
            "generation 1 is not held",
            "newest 2",
        ],
    );
}

#[test]
fn unknown_generation() {
    let (_server, mut c, coll) = renegotiated();
    let _future = coll.get_generation_buffer(3, 0, &c.qh, ());
    assert_error(
        c.expect_error(),
        CollError::InvalidGeneration as u32,
        &["generation 3 is not held"],
    );
}

#[test]
fn releasing_the_newest_generation() {
    let (_server, mut c, coll) = renegotiated();
    coll.release_generation(2);
    assert_error(
        c.expect_error(),
        CollError::InvalidGeneration as u32,
        &["release_generation", "generation 2", "newest 2 stays"],
    );
}

#[test]
fn releasing_a_generation_twice() {
    let (_server, mut c, coll) = renegotiated();
    coll.release_generation(1);
    c.roundtrip().expect("first release");
    coll.release_generation(1);
    assert_error(
        c.expect_error(),
        CollError::InvalidGeneration as u32,
        &["release_generation", "generation 1"],
    );
}

#[test]
fn stale_index_in_a_generation() {
    let (_server, mut c, coll) = renegotiated();
    let count = *c.events.allocated.get(&coll.id()).expect("settings");
    let _bad = coll.get_generation_buffer(2, count, &c.qh, ());
    assert_error(
        c.expect_error(),
        CollError::InvalidIndex as u32,
        &[
            "get_generation_buffer",
            &format!("index {count} out of range"),
            &format!("generation 2 has {count} buffers"),
        ],
    );
}

#[test]
fn recommit_before_allocation() {
    let server = TestServer::start();
    let mut c = raw(&server);
    let t = c.create();
    let _other = t.duplicate(&c.qh, ()); // keeps the collection waiting
    let coll = c.bind_commit(&t);
    recommit_width(&coll, 32);
    // The constraint request after commit comes first.
    assert_error(
        c.expect_error(),
        CollError::AlreadyCommitted as u32,
        &["add_formats", "already committed"],
    );
    let mut c = raw(&server);
    let t = c.create();
    let _other = t.duplicate(&c.qh, ());
    let coll = c.bind_commit(&t);
    coll.recommit();
    assert_error(
        c.expect_error(),
        CollError::NotAllocated as u32,
        &["recommit", "allocated event"],
    );
}

#[test]
fn generation_buffer_before_allocation() {
    let server = TestServer::start();
    let mut c = raw(&server);
    let t = c.create();
    let _other = t.duplicate(&c.qh, ());
    let coll = c.bind_commit(&t);
    let _b = coll.get_generation_buffer(1, 0, &c.qh, ());
    assert_error(
        c.expect_error(),
        CollError::NotAllocated as u32,
        &["get_generation_buffer", "allocated event"],
    );
}

/// Constraint requests after the allocated event build the next set and
/// are checked as before commit.
#[test]
fn a_bad_constraint_for_recommit_is_an_error() {
    let (_server, mut c, coll) = renegotiated();
    coll.set_size_range(64, 8, 32, 8);
    assert_error(
        c.expect_error(),
        CollError::InvalidValue as u32,
        &["set_size_range"],
    );
}

#[test]
fn bad_format_table() {
    let (_server, mut c, coll) = bound();
    coll.add_formats(vec![0u8; 15]);
    assert_error(
        c.expect_error(),
        CollError::InvalidFormatTable as u32,
        &["add_formats", "15 bytes", "multiple of 16"],
    );
}

/// `n` distinct XRGB8888 entries, modifiers `first..first + n`.
fn distinct_pairs(first: u64, n: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(16 * n as usize);
    for m in first..first + n {
        v.extend_from_slice(&accord_tests::XRGB8888.to_ne_bytes());
        v.extend_from_slice(&0u32.to_ne_bytes());
        v.extend_from_slice(&m.to_ne_bytes());
    }
    v
}

#[test]
fn format_pairs_up_to_the_limit_then_error() {
    let (_server, mut c, coll) = bound();
    for i in 0..8 {
        coll.add_formats(distinct_pairs(i * 128, 128));
    }
    c.roundtrip().expect("1024 pairs in 8 requests are allowed");
    coll.add_formats(distinct_pairs(1024, 1));
    assert_error(
        c.expect_error(),
        CollError::InvalidFormatTable as u32,
        &["add_formats", "after 1024 pairs", "at most 1024 in total"],
    );
}

/// A repeated (format, modifier) entry is refused by the engine's rule
/// (`limits::duplicate_pair`), here as the pairs arrive: the same pair in
/// one request, or again in a later one (whatever its flags).
#[test]
fn a_pair_listed_twice_is_an_error() {
    let (_server, mut c, coll) = bound();
    let mut twice = distinct_pairs(0, 3);
    twice.extend_from_slice(&distinct_pairs(1, 1));
    coll.add_formats(twice);
    assert_error(
        c.expect_error(),
        CollError::InvalidFormatTable as u32,
        &[
            "add_formats",
            "XRGB8888 0x1 listed twice (entries 1, 3)",
            "list each pair once",
        ],
    );
    let (_server, mut c, coll) = bound();
    coll.add_formats(distinct_pairs(0, 2));
    c.roundtrip().expect("two distinct pairs");
    let mut scanout = distinct_pairs(0, 1);
    scanout[4] = 1; // the scanout flag makes it no other pair
    coll.add_formats(scanout);
    assert_error(
        c.expect_error(),
        CollError::InvalidFormatTable as u32,
        &["add_formats", "XRGB8888 LINEAR listed twice (entries 0, 2)"],
    );
}

#[test]
fn too_many_pairs_in_one_request() {
    let (_server, mut c, coll) = bound();
    coll.add_formats(vec![0u8; 16 * 129]);
    assert_error(
        c.expect_error(),
        CollError::InvalidFormatTable as u32,
        &[
            "add_formats",
            "129 entries",
            "at most 128 entries per request",
        ],
    );
}

#[test]
fn zero_alignment() {
    let (_server, mut c, coll) = bound();
    coll.set_alignment(0, 1);
    assert_error(
        c.expect_error(),
        CollError::InvalidValue as u32,
        &["set_alignment", "offset_alignment is 0"],
    );
}

#[test]
fn bad_device_list() {
    let (_server, mut c, coll) = bound();
    coll.set_devices(vec![0u8; 7]);
    assert_error(
        c.expect_error(),
        CollError::InvalidDeviceList as u32,
        &["set_devices", "multiple of 8"],
    );
}

/// `add_permitted_heap` (issue 12's secure memory, issue 14's placement):
/// null, an unknown kind, an empty heap name, an entry given twice and a
/// 17th entry are each `invalid_value` naming the request.
#[test]
fn bad_permitted_heaps() {
    let cases: [(&[Option<&str>], &[&str]); 5] = [
        (&[None], &["add_permitted_heap", "null"]),
        (
            &[Some("floppy")],
            &["add_permitted_heap", "'floppy'", "expected gbm"],
        ),
        (
            &[Some("dma-heap:")],
            &["add_permitted_heap", "dma-heap:NAME"],
        ),
        (
            &[Some("udmabuf"), Some("udmabuf")],
            &["add_permitted_heap", "'udmabuf' given twice"],
        ),
        (&[Some("memfd"); 1], &[]),
    ];
    for (entries, words) in cases {
        let (_server, mut c, coll) = bound();
        for e in entries {
            coll.add_permitted_heap(e.map(str::to_string));
        }
        if words.is_empty() {
            assert_eq!(c.roundtrip(), Ok(()), "one valid entry");
            continue;
        }
        assert_error(c.expect_error(), CollError::InvalidValue as u32, words);
    }
    let (_server, mut c, coll) = bound();
    for i in 0..17 {
        coll.add_permitted_heap(Some(format!("dma-heap:h{i}")));
    }
    assert_error(
        c.expect_error(),
        CollError::InvalidValue as u32,
        &["add_permitted_heap", "more than 16 entries"],
    );
}

#[test]
fn long_name() {
    let server = TestServer::start();
    let mut c = raw(&server);
    let t = c.create();
    t.set_name(Some("x".repeat(64)));
    assert_error(
        c.expect_error(),
        TokenError::InvalidName as u32,
        &["set_name", "64 bytes", "at most 63"],
    );
}

#[test]
fn null_name() {
    let server = TestServer::start();
    let mut c = raw(&server);
    let t = c.create();
    t.set_name(None);
    assert_error(
        c.expect_error(),
        TokenError::InvalidName as u32,
        &["set_name", "null name"],
    );
    let mut other = raw(&server);
    let _ = other.create();
    assert_eq!(other.roundtrip(), Ok(()));
}

#[test]
fn too_many_participants() {
    let server = TestServer::start();
    let mut c = raw(&server);
    let t = c.create();
    let mut keep = Vec::new();
    for _ in 1..64 {
        keep.push(t.duplicate(&c.qh, ()));
    }
    c.roundtrip().expect("64 slots are allowed");
    keep.push(t.duplicate(&c.qh, ()));
    assert_error(
        c.expect_error(),
        TokenError::TooManyParticipants as u32,
        &["duplicate", "64 participant slots"],
    );
}

#[test]
fn too_many_groups() {
    let server = TestServer::start();
    let mut c = raw(&server);
    let t = c.create();
    let mut keep = Vec::new();
    for _ in 0..16 {
        keep.push(t.duplicate(&c.qh, ()).create_group(&c.qh, ()));
    }
    c.roundtrip().expect("16 groups are allowed");
    keep.push(t.duplicate(&c.qh, ()).create_group(&c.qh, ()));
    assert_error(
        c.expect_error(),
        TokenError::TooManyGroups as u32,
        &["create_group", "16 token groups"],
    );
}

#[test]
fn group_child_after_all_children_present() {
    let server = TestServer::start();
    let mut c = raw(&server);
    let group = c.create().create_group(&c.qh, ());
    let _child = group.create_child(&c.qh, ());
    group.all_children_present();
    c.roundtrip().expect("one child, then the end of the list");
    let _late = group.create_child(&c.qh, ());
    assert_error(
        c.expect_error(),
        GroupError::AlreadyComplete as u32,
        &["create_child", "all_children_present", "before it"],
    );
}

#[test]
fn group_without_children() {
    let server = TestServer::start();
    let mut c = raw(&server);
    let group = c.create().create_group(&c.qh, ());
    group.all_children_present();
    assert_error(
        c.expect_error(),
        GroupError::NoChildren as u32,
        &["all_children_present", "no children", "create_child"],
    );
}

#[test]
fn group_beyond_its_children() {
    let server = TestServer::start();
    let mut c = raw(&server);
    let group = c.create().create_group(&c.qh, ());
    let mut keep = Vec::new();
    for _ in 0..32 {
        keep.push(group.create_child(&c.qh, ()));
    }
    c.roundtrip().expect("32 children are allowed");
    keep.push(group.create_child(&c.qh, ()));
    assert_error(
        c.expect_error(),
        GroupError::TooManyChildren as u32,
        &["create_child", "32 children"],
    );
}

#[test]
fn group_child_beyond_the_slot_limit() {
    let server = TestServer::start();
    let mut c = raw(&server);
    let t = c.create();
    let mut keep = Vec::new();
    // 1 root + 32 duplicates + 1 group slot + 30 children = 64 slots.
    for _ in 0..32 {
        keep.push(t.duplicate(&c.qh, ()));
    }
    let group = t.duplicate(&c.qh, ()).create_group(&c.qh, ());
    let mut children = Vec::new();
    for _ in 0..30 {
        children.push(group.create_child(&c.qh, ()));
    }
    c.roundtrip().expect("64 slots are allowed");
    children.push(group.create_child(&c.qh, ()));
    assert_error(
        c.expect_error(),
        GroupError::TooManyParticipants as u32,
        &["create_child", "64 participant slots"],
    );
}

#[test]
fn group_child_beyond_the_object_limit() {
    let server = TestServer::start();
    let mut c = raw(&server);
    let mut keep = Vec::new();
    // 15 collections of 64 tokens, one of 62 tokens and a group (which
    // counts as the token it was made from), one more collection: 1024.
    for _ in 0..16 {
        let root = c.create();
        let n = if keep.len() < 15 * 64 { 63 } else { 61 };
        for _ in 0..n {
            keep.push(root.duplicate(&c.qh, ()));
        }
        keep.push(root);
    }
    let group = keep[keep.len() - 1]
        .duplicate(&c.qh, ())
        .create_group(&c.qh, ());
    keep.push(c.create());
    c.roundtrip().expect("1024 objects are allowed");
    let _child = group.create_child(&c.qh, ());
    assert_error(
        c.expect_error(),
        GroupError::TooManyObjects as u32,
        &["create_child", "1024 live tokens"],
    );
}

#[test]
fn attach_token_beyond_the_slot_limit() {
    let server = TestServer::start();
    let mut c = raw(&server);
    let t = c.create();
    let coll = t.bind(&c.qh, ());
    let mut keep = Vec::new();
    for _ in 1..64 {
        keep.push(coll.attach_token(&c.qh, ()));
    }
    c.roundtrip().expect("64 slots are allowed");
    keep.push(coll.attach_token(&c.qh, ()));
    assert_error(
        c.expect_error(),
        CollError::TooManyParticipants as u32,
        &[
            "wp_buffer_collection_v1.attach_token",
            "64 participant slots",
        ],
    );
}

#[test]
fn weak_participant_that_does_not_let_go() {
    let server = TestServer::builder()
        .weak_release_timeout(std::time::Duration::from_millis(100))
        .start();
    let mut strong = raw(&server);
    let mut weak = raw(&server);
    let t = strong.create();
    let handle = strong.export(&t.duplicate(&strong.qh, ()));
    let mine = strong.bind_commit(&t);
    let theirs = weak
        .manager
        .import_token(Some(handle), &weak.qh, ())
        .bind(&weak.qh, ());
    theirs.set_weak();
    weak.commit_xrgb(&theirs);
    weak.roundtrip().unwrap();
    strong.roundtrip().unwrap();
    // The strong holder lets go; the weak one keeps its collection.
    mine.destroy();
    strong.roundtrip().unwrap();
    // The deadline is enforced on the module's next timer tick (≤ 1 s).
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let error = loop {
        if let Err(e) = weak.roundtrip() {
            break e;
        }
        assert!(
            std::time::Instant::now() < give_up,
            "no weak_not_released in 10 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_error(
        error,
        CollError::WeakNotReleased as u32,
        &["weak participant", "close_weak_asap", "within 100 ms"],
    );
}

#[test]
fn attach_token_beyond_the_object_limit() {
    let server = TestServer::start();
    let mut c = raw(&server);
    // 1 collection object and 1,023 more objects: the connection's 1,024.
    let coll = c.create().bind(&c.qh, ());
    let mut keep = Vec::new();
    for _ in 0..1023 {
        keep.push(c.create());
    }
    c.roundtrip().expect("1024 objects are allowed");
    keep.push(coll.attach_token(&c.qh, ()));
    assert_error(
        c.expect_error(),
        CollError::TooManyObjects as u32,
        &["wp_buffer_collection_v1.attach_token", "1024 live tokens"],
    );
}

#[test]
fn attach_bound_token() {
    let server = TestServer::start();
    let mut c = raw(&server);
    let t = c.create();
    let _coll = t.bind(&c.qh, ());
    // The token is checked before the surface, so any surface id will do;
    // bind wl_compositor for a real one.
    let surface = compositor_surface(&mut c);
    c.manager.attach_surface(&t, &surface);
    assert_error(
        c.expect_error(),
        ManagerError::InvalidToken as u32,
        &["attach_surface", "already bound"],
    );
}

fn compositor_surface(c: &mut RawClient) -> wayland_client::protocol::wl_surface::WlSurface {
    accord_tests::raw::surface(c)
}

#[test]
fn unknown_usage_bits() {
    let (_server, mut c, coll) = bound();
    coll.set_usage(
        accord_protocol::client::wp_buffer_collection_v1::Usage::from_bits_retain(1 << 20),
    );
    assert_error(
        c.expect_error(),
        CollError::InvalidValue as u32,
        &["set_usage", "unknown usage bits 0x100000"],
    );
}

#[test]
fn required_minimum_above_the_required_maximum() {
    let (_server, mut c, coll) = bound();
    // A zero maximum is "none": no error.
    coll.set_required_size(1920, 1080, 0, 0);
    c.roundtrip().expect("no maximum");
    coll.set_required_size(u32::MAX, 1080, u32::MAX - 1, 1080);
    assert_error(
        c.expect_error(),
        CollError::InvalidValue as u32,
        &[
            "set_required_size",
            "required width 4294967295 is above the required maximum 4294967294",
        ],
    );
}

/// A raw collection (no pairs, `set_min_size_bytes`) allocates, and its
/// bytes make no `wl_buffer`.
#[test]
fn wl_buffer_of_a_raw_collection() {
    let server = TestServer::start();
    let mut c = raw(&server);
    let t = c.create();
    let coll = t.bind(&c.qh, ());
    coll.set_min_size_bytes(0, 4096);
    coll.commit();
    c.roundtrip().expect("a raw collection allocates");
    assert!(c.events.allocated.contains_key(&coll.id()), "allocated");
    let _b = coll.get_wl_buffer(0, &c.qh, ());
    assert_error(
        c.expect_error(),
        CollError::RawCollection as u32,
        &["get_wl_buffer", "raw (no image format)"],
    );
}

#[test]
fn min_size_bytes_above_max_bytes() {
    let (_server, mut c, coll) = bound();
    coll.set_max_bytes(0, 4096);
    coll.set_min_size_bytes(0, 4097);
    coll.commit();
    assert_error(
        c.expect_error(),
        CollError::InvalidValue as u32,
        &[
            "commit",
            "min_size_bytes: 4097 is above its own max_bytes 4096",
        ],
    );
}

#[test]
fn format_zero_is_not_a_format() {
    let (_server, mut c, coll) = bound();
    let mut pair = 0u32.to_ne_bytes().to_vec();
    pair.extend_from_slice(&0u32.to_ne_bytes());
    pair.extend_from_slice(&accord_engine::MOD_LINEAR.to_ne_bytes());
    coll.add_formats(pair);
    assert_error(
        c.expect_error(),
        CollError::InvalidFormatTable as u32,
        &["add_formats", "entry 0 is format 0"],
    );
}

#[test]
fn coherency_domains_empty_or_unknown() {
    use accord_protocol::client::wp_buffer_collection_v1::CoherencyDomain;
    for bits in [0u32, 0x8] {
        let (_server, mut c, coll) = bound();
        coll.set_coherency_domains(CoherencyDomain::from_bits_retain(bits));
        assert_error(
            c.expect_error(),
            CollError::InvalidValue as u32,
            &[
                "set_coherency_domains",
                "expected a non-empty set of cpu (0x1)",
            ],
        );
    }
}

#[test]
fn colour_spaces_undefined_or_twice() {
    let (_server, mut c, coll) = bound();
    coll.set_color_spaces([4u32, 2].iter().flat_map(|v| v.to_ne_bytes()).collect());
    c.roundtrip().expect("bt709, bt601");
    coll.set_color_spaces([4u32, 4].iter().flat_map(|v| v.to_ne_bytes()).collect());
    assert_error(
        c.expect_error(),
        CollError::InvalidValue as u32,
        &["set_color_spaces", "bt709 listed twice"],
    );
    let (_server, mut c, coll) = bound();
    coll.set_color_spaces(42u32.to_ne_bytes().to_vec());
    assert_error(
        c.expect_error(),
        CollError::InvalidValue as u32,
        &["set_color_spaces", "value 42 is no colour space"],
    );
    let (_server, mut c, coll) = bound();
    coll.set_color_spaces(vec![1, 0, 0]);
    assert_error(
        c.expect_error(),
        CollError::InvalidValue as u32,
        &["set_color_spaces", "array of 3 bytes"],
    );
}

#[test]
fn format_limits_twice_or_zero_aligned() {
    let (_server, mut c, coll) = bound();
    let nv12 = u32::from_le_bytes(*b"NV12");
    coll.add_format_limits(nv12, 0, 0, 1920, 0, 1, 1, 0, 0, 1);
    c.roundtrip().expect("one entry");
    coll.add_format_limits(nv12, 0, 0, 1280, 0, 1, 1, 0, 0, 1);
    assert_error(
        c.expect_error(),
        CollError::InvalidFormatTable as u32,
        &["add_format_limits", "format 0x3231564e already has limits"],
    );
    let (_server, mut c, coll) = bound();
    coll.add_format_limits(nv12, 0, 0, 0, 0, 1, 1, 0, 0, 0);
    assert_error(
        c.expect_error(),
        CollError::InvalidValue as u32,
        &["add_format_limits", "stride_alignment is 0"],
    );
    let (_server, mut c, coll) = bound();
    for i in 0..=64u32 {
        coll.add_format_limits(nv12 + i, 0, 0, 0, 0, 1, 1, 0, 0, 1);
    }
    assert_error(
        c.expect_error(),
        CollError::InvalidFormatTable as u32,
        &["add_format_limits", "more than 64 entries"],
    );
}

#[test]
fn maximum_below_minimum() {
    let (_server, mut c, coll) = bound();
    coll.set_buffer_counts(0, 0, 0, 4, 2);
    assert_error(
        c.expect_error(),
        CollError::InvalidValue as u32,
        &[
            "set_buffer_counts",
            "maximum count 2 is below the minimum 4",
        ],
    );
}

#[test]
fn too_many_objects_per_client() {
    let server = TestServer::start();
    let mut c = raw(&server);
    let mut keep = Vec::new();
    for _ in 0..1024 {
        keep.push(c.create());
    }
    c.roundtrip().expect("1024 objects are allowed");
    keep.push(c.create());
    assert_error(
        c.expect_error(),
        ManagerError::TooManyObjects as u32,
        &["create_collection", "1024 live tokens"],
    );
}

#[test]
fn object_count_returns_after_destroy() {
    let server = TestServer::start();
    let mut c = raw(&server);
    // More than 1024 create/bind/destroy cycles: the count must not creep.
    for _ in 0..1100 {
        let t = c.create();
        let dup = t.duplicate(&c.qh, ());
        let coll = t.bind(&c.qh, ());
        dup.destroy();
        t.destroy();
        coll.destroy();
    }
    c.roundtrip().expect("destroyed objects no longer count");
}

#[test]
fn import_after_the_collection_failed_gives_no_access() {
    let server = TestServer::start();
    let mut owner = raw(&server);
    let mut thief = raw(&server);
    let t = owner.create();
    let handle = owner.export(&t.duplicate(&owner.qh, ()));
    // The owner's participant leaves before allocation: the collection fails
    // and its pending handle dies with it.
    let coll = t.bind(&owner.qh, ());
    coll.destroy();
    owner.roundtrip().unwrap();
    let stolen = thief.manager.import_token(Some(handle), &thief.qh, ());
    let bound = stolen.bind(&thief.qh, ());
    thief.roundtrip().expect("not a protocol error");
    let (reason, _) = thief
        .events
        .token_failed
        .get(&stolen.id())
        .cloned()
        .expect("failed");
    assert_eq!(reason, FailureReason::UnknownHandle as u32);
    assert!(thief.events.failed.contains_key(&bound.id()));
    assert!(
        !thief.events.allocated.contains_key(&bound.id()),
        "no buffers"
    );
}

#[test]
fn token_duplicate_beyond_the_object_limit() {
    let server = TestServer::start();
    let mut c = raw(&server);
    // 16 collections of 64 slots: 1024 live tokens.
    let mut keep = Vec::new();
    for _ in 0..16 {
        let root = c.create();
        for _ in 1..64 {
            keep.push(root.duplicate(&c.qh, ()));
        }
        keep.push(root);
    }
    c.roundtrip().expect("1024 tokens are allowed");
    let t = keep[0].clone();
    keep.push(t.duplicate(&c.qh, ()));
    assert_error(
        c.expect_error(),
        TokenError::TooManyObjects as u32,
        &[
            "wp_buffer_collection_token_v1.duplicate",
            "1024 live tokens",
        ],
    );
}

#[test]
fn token_export_at_the_object_limit_frees_a_place() {
    let server = TestServer::start();
    let mut c = raw(&server);
    let mut keep = Vec::new();
    for _ in 0..1024 {
        keep.push(c.create());
    }
    c.roundtrip().expect("1024 tokens are allowed");
    // Export moves a token out of the connection's count (its handle is
    // pending, under the identity's pending handle budget).
    keep[0].export();
    c.roundtrip().expect("an export adds no object");
    let _back_to_1024 = keep[1].duplicate(&c.qh, ());
    c.roundtrip().expect("the exported token's place is free");
    let _more = keep[1].duplicate(&c.qh, ());
    assert_error(
        c.expect_error(),
        TokenError::TooManyObjects as u32,
        &[
            "wp_buffer_collection_token_v1.duplicate",
            "1024 live tokens",
        ],
    );
}

/// Every error code the XML defines has a test above asserting its code and
/// message. Adding a code to the XML without a test fails here.
#[test]
fn every_error_code_has_a_test() {
    const COVERED: &[(&str, &str, &str)] = &[
        (
            "wp_buffer_collection_manager_v1",
            "invalid_handle",
            "malformed_handle",
        ),
        (
            "wp_buffer_collection_manager_v1",
            "invalid_token",
            "attach_bound_token",
        ),
        (
            "wp_buffer_collection_manager_v1",
            "too_many_objects",
            "too_many_objects_per_client",
        ),
        (
            "wp_buffer_collection_token_v1",
            "inert_token",
            "second_bind",
        ),
        ("wp_buffer_collection_token_v1", "invalid_name", "long_name"),
        (
            "wp_buffer_collection_token_v1",
            "too_many_objects",
            "token_duplicate_beyond_the_object_limit",
        ),
        (
            "wp_buffer_collection_token_v1",
            "too_many_participants",
            "too_many_participants",
        ),
        (
            "wp_buffer_collection_token_v1",
            "too_many_groups",
            "too_many_groups",
        ),
        (
            "wp_buffer_collection_token_group_v1",
            "already_complete",
            "group_child_after_all_children_present",
        ),
        (
            "wp_buffer_collection_token_group_v1",
            "no_children",
            "group_without_children",
        ),
        (
            "wp_buffer_collection_token_group_v1",
            "too_many_children",
            "group_beyond_its_children",
        ),
        (
            "wp_buffer_collection_token_group_v1",
            "too_many_participants",
            "group_child_beyond_the_slot_limit",
        ),
        (
            "wp_buffer_collection_token_group_v1",
            "too_many_objects",
            "group_child_beyond_the_object_limit",
        ),
        (
            "wp_buffer_collection_v1",
            "already_committed",
            "second_commit",
        ),
        (
            "wp_buffer_collection_v1",
            "not_allocated",
            "wl_buffer_before_allocation",
        ),
        (
            "wp_buffer_collection_v1",
            "invalid_index",
            "out_of_range_buffer_index",
        ),
        (
            "wp_buffer_collection_v1",
            "invalid_format_table",
            "bad_format_table",
        ),
        ("wp_buffer_collection_v1", "invalid_value", "zero_alignment"),
        (
            "wp_buffer_collection_v1",
            "invalid_device_list",
            "bad_device_list",
        ),
        (
            "wp_buffer_collection_v1",
            "too_many_participants",
            "attach_token_beyond_the_slot_limit",
        ),
        (
            "wp_buffer_collection_v1",
            "too_many_objects",
            "attach_token_beyond_the_object_limit",
        ),
        (
            "wp_buffer_collection_v1",
            "weak_not_released",
            "weak_participant_that_does_not_let_go",
        ),
        (
            "wp_buffer_collection_v1",
            "raw_collection",
            "wl_buffer_of_a_raw_collection",
        ),
        (
            "wp_buffer_collection_v1",
            "invalid_generation",
            "stale_generation",
        ),
    ];
    let xml = include_str!("../../protocol/buffer-collection-v1.xml");
    let source = include_str!("misuse.rs");
    let mut in_xml = Vec::new();
    for iface in xml.split("<interface name=\"").skip(1) {
        let name = &iface[..iface.find('"').unwrap_or(0)];
        let Some(start) = iface.find("<enum name=\"error\">") else {
            continue;
        };
        let body = &iface[start..];
        let body = &body[..body.find("</enum>").unwrap_or(body.len())];
        for entry in body.split("<entry name=\"").skip(1) {
            in_xml.push((
                name.to_string(),
                entry[..entry.find('"').unwrap_or(0)].to_string(),
            ));
        }
    }
    let listed: Vec<(String, String)> = COVERED
        .iter()
        .map(|(i, e, _)| (i.to_string(), e.to_string()))
        .collect();
    assert_eq!(
        in_xml, listed,
        "the XML's error codes and the tested ones differ"
    );
    for (_, _, test) in COVERED {
        assert!(
            source.contains(&format!("#[test]\nfn {test}()")),
            "no test named {test}"
        );
    }
}

/// The XML's list for a token that received `failed`, request by request:
/// answered, never a protocol error (a feed-forward client sends these
/// before it can see the event).
#[test]
fn every_request_on_a_failed_token_is_answered() {
    let server = TestServer::start();
    let mut c = raw(&server);
    let t = c.manager.import_token(Some("0".repeat(64)), &c.qh, ());
    c.roundtrip().expect("not a protocol error");
    let reason = FailureReason::UnknownHandle as u32;
    assert_eq!(
        c.events.token_failed.get(&t.id()).map(|f| f.0),
        Some(reason)
    );

    // export: failed again, with the same reason, and no handle.
    c.events.token_failed.clear();
    t.export();
    c.roundtrip()
        .expect("export on a failed token is no protocol error");
    assert_eq!(
        c.events.token_failed.get(&t.id()).map(|f| f.0),
        Some(reason),
        "export answers failed again"
    );
    assert!(!c.events.handles.contains_key(&t.id()), "no handle");

    // duplicate: a new token that fails the same way.
    let twin = t.duplicate(&c.qh, ());
    c.roundtrip().expect("duplicate");
    assert_eq!(
        c.events.token_failed.get(&twin.id()).map(|f| f.0),
        Some(reason)
    );

    // bind: a collection that fails the same way, with no buffers.
    let coll = t.bind(&c.qh, ());
    c.roundtrip().expect("bind");
    assert_eq!(c.events.failed.get(&coll.id()).map(|f| f.0), Some(reason));
    assert!(!c.events.allocated.contains_key(&coll.id()));

    // create_group: a group whose children fail the same way.
    let group = t.create_group(&c.qh, ());
    let child = group.create_child(&c.qh, ());
    c.roundtrip().expect("create_group");
    assert_eq!(
        c.events.token_failed.get(&child.id()).map(|f| f.0),
        Some(reason)
    );

    // set_name, set_dispensable, attach_surface: nothing, and no error.
    c.events.token_failed.clear();
    t.set_name(Some("late".into()));
    t.set_dispensable();
    let surface = compositor_surface(&mut c);
    c.manager.attach_surface(&t, &surface);
    c.roundtrip()
        .expect("set_name, set_dispensable, attach_surface");
    assert!(c.events.token_failed.is_empty(), "nothing more is sent");

    // destroy: gone, and the connection is still fine.
    t.destroy();
    twin.destroy();
    coll.destroy();
    c.roundtrip().expect("destroy");
}

/// An exported token, kept or destroyed, is no longer one of the
/// connection's objects: its handle counts toward the exporter's pending
/// handle budget instead (so nothing counts twice).
#[test]
fn an_exported_token_leaves_the_object_count() {
    let server = TestServer::start();
    let mut c = raw(&server);
    let root = c.create();
    let mut exported = Vec::new();
    for _ in 0..63 {
        let t = root.duplicate(&c.qh, ());
        t.export();
        exported.push(t);
    }
    c.roundtrip().unwrap();
    assert_eq!(c.events.handles.len(), 63);
    for t in exported.iter().step_by(2) {
        t.destroy(); // destroyed or kept: either way not an object
    }
    // 1 root; the 63 handles count toward the pending handle budget.
    let mut keep = Vec::new();
    for _ in 0..(1024 - 1) {
        keep.push(c.create());
    }
    c.roundtrip()
        .expect("1024 objects are allowed: exported tokens are not counted");
    keep.push(c.create());
    assert_error(
        c.expect_error(),
        ManagerError::TooManyObjects as u32,
        &["create_collection", "1024 live tokens and collections"],
    );
}
