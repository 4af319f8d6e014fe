//! Late participants (`wp_buffer_collection_v1.attach_token`, protocol
//! version 2) over real sockets: a viewer that joins an allocated
//! collection gets the same memory and nothing is allocated; one whose
//! constraints do not fit fails alone while the producer goes on; before
//! allocation a late token is an ordinary slot.

use accord_client::{Accord, Constraints, FailureReason, MOD_LINEAR};
use accord_tests::{xrgb_exact, TestServer, XRGB8888};

/// The producer: 3 buffers of 64×32 XRGB8888, allocated.
fn producer(accord: &Accord) -> (accord_client::Collection, accord_client::Allocation, String) {
    let coll = accord.create_collection().bind();
    coll.commit(&xrgb_exact(64, 32, 3));
    let allocation = coll.wait_allocated().expect("the producer alone allocates");
    let handle = coll
        .attach_token()
        .expect("version 2")
        .export()
        .expect("a handle for the late viewer");
    (coll, allocation, handle)
}

fn inodes(a: &accord_client::Allocation) -> Vec<(u64, u64)> {
    a.buffers
        .iter()
        .map(|b| b.inode().expect("fstat"))
        .collect()
}

#[test]
fn a_late_viewer_that_fits_gets_the_same_buffers_and_nothing_is_allocated() {
    let server = TestServer::start();
    let (_pc, p) = server.accord();
    let (_coll, allocation, handle) = producer(&p);
    let charged = server.charged_bytes();
    assert!(charged > 0);

    let (_vc, v) = server.accord();
    let late = v.import(&handle).bind();
    late.commit(&Constraints::new().format(XRGB8888, MOD_LINEAR).buffers(1));
    let seen = late.wait_allocated().expect("the viewer fits");
    assert_eq!(seen.buffers.len(), 3);
    assert_eq!(inodes(&seen), inodes(&allocation), "the same memory");
    assert_eq!((seen.buffers[0].width, seen.buffers[0].height), (64, 32));
    assert_eq!(server.charged_bytes(), charged, "nothing new was allocated");
}

#[test]
fn a_late_viewer_that_does_not_fit_fails_alone() {
    let server = TestServer::start();
    let (_pc, p) = server.accord();
    let (coll, allocation, handle) = producer(&p);

    let (_vc, v) = server.accord();
    let token = v.import(&handle);
    token.set_name("big viewer");
    let late = token.bind();
    late.commit(
        &Constraints::new()
            .format(XRGB8888, MOD_LINEAR)
            .min_size(128, 128),
    );
    let f = late
        .wait_allocated()
        .expect_err("64x32 is below its minimum");
    assert_eq!(f.reason, FailureReason::SizeConflict, "{f}");
    assert!(
        f.message.contains("'big viewer'") && f.message.contains("64x32"),
        "{f}"
    );
    // A camping need the allocated count cannot hold.
    let token = coll.attach_token().expect("version 2");
    let greedy = token.bind();
    greedy.commit(&Constraints::new().format(XRGB8888, MOD_LINEAR).buffers(4));
    let f = greedy.wait_allocated().expect_err("4 > 3 buffers");
    assert_eq!(f.reason, FailureReason::CountConflict, "{f}");
    // The producer never noticed: it still shows its buffers.
    p.roundtrip().expect("the producer's connection is fine");
    let _wl = coll.wl_buffer(0);
    p.roundtrip().expect("its buffers are still there");
    assert_eq!(allocation.buffers.len(), 3);
}

#[test]
fn before_allocation_a_late_token_is_an_ordinary_slot() {
    let server = TestServer::start();
    let (_c, a) = server.accord();
    let coll = a.create_collection().bind();
    let late = coll.attach_token().expect("version 2").bind();
    coll.commit(&xrgb_exact(16, 16, 1));
    a.roundtrip().unwrap();
    assert_eq!(server.negotiating(), 1, "the collection waits for it");
    late.commit(&xrgb_exact(16, 16, 1));
    let both = (coll.wait_allocated(), late.wait_allocated());
    let (x, y) = (both.0.expect("first"), both.1.expect("late"));
    assert_eq!(x.buffers.len(), 2, "its camping counts like anyone's");
    assert_eq!(inodes(&x), inodes(&y));
}

#[test]
fn a_late_token_of_a_failed_collection_fails() {
    let server = TestServer::start();
    let (_c, a) = server.accord();
    let token = a.create_collection();
    let other = token.duplicate().bind();
    let coll = token.bind();
    coll.commit(&xrgb_exact(16, 16, 1));
    other.commit(
        &Constraints::new()
            .format(u32::from_le_bytes(*b"AR24"), MOD_LINEAR)
            .buffers(1),
    );
    coll.wait_allocated().expect_err("no common format");
    let token = coll.attach_token().expect("version 2");
    a.roundtrip().unwrap();
    let f = token.failure().expect("failed at once");
    assert_eq!(f.reason, FailureReason::ParticipantFailed, "{f}");
}

/// Failure domains after allocation: a non-dispensable holder that leaves
/// is announced to the others by name (`participant_lost`), a dispensable
/// one leaves quietly, and nobody loses the buffers.
#[test]
fn after_allocation_a_departure_is_announced_and_nothing_is_revoked() {
    let server = TestServer::start();
    let (_pc, p) = server.accord();
    let (_vc, v) = server.accord();
    let (_qc, q) = server.accord();
    let token = p.create_collection();
    let viewer_handle = token.duplicate().export().unwrap();
    let quiet = token.duplicate();
    quiet.set_dispensable();
    let quiet_handle = quiet.export().unwrap();
    let mine = token.bind();
    mine.commit(&xrgb_exact(32, 32, 1));
    let vt = v.import(&viewer_handle);
    vt.set_name("viewer");
    let theirs = vt.bind();
    theirs.commit(&xrgb_exact(32, 32, 1));
    let qt = q.import(&quiet_handle);
    qt.set_name("thumbnailer");
    let quiet = qt.bind();
    quiet.commit(&xrgb_exact(32, 32, 1));
    v.flush().unwrap();
    q.flush().unwrap();
    let held = mine.wait_allocated().expect("allocated");
    theirs.wait_allocated().expect("allocated");
    quiet.wait_allocated().expect("allocated");

    drop(quiet); // dispensable: no announcement
    q.roundtrip().unwrap();
    p.roundtrip().unwrap();
    assert_eq!(
        mine.lost_participants(),
        vec![],
        "a dispensable one goes quietly"
    );

    drop(theirs);
    v.roundtrip().unwrap();
    p.roundtrip().unwrap();
    let lost = mine.lost_participants();
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert_eq!(lost[0].name, "viewer");
    assert!(
        lost[0].message.contains("left after allocation") && lost[0].message.contains("stay valid"),
        "{lost:?}"
    );
    // Nothing revoked: the producer still shows its buffer.
    let _wl = mine.wl_buffer(0);
    p.roundtrip().expect("the buffers are still the producer's");
    assert!(held.buffers[0].inode().is_ok());
}
