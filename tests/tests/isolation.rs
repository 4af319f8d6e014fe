//! Buffers reach only participants holding a token (Magma's isolation
//! rule), handles expire over the wire, and a protocol error kills only the
//! faulty client.

use std::time::Duration;

use accord_client::{Accord, Constraints, FailureReason as LibReason, MOD_LINEAR};
use accord_protocol::client::wp_buffer_collection_v1::{Error as CollError, FailureReason};
use accord_tests::raw::RawClient;
use accord_tests::{TestServer, XRGB8888};
use wayland_client::Proxy;

fn raw(server: &TestServer) -> RawClient {
    RawClient::new(server.connect())
}

fn xrgb() -> Constraints {
    Constraints::new()
        .format(XRGB8888, MOD_LINEAR)
        .min_size(32, 32)
        .buffers(2)
}

/// A 64-character lowercase hex string from a simple generator (the thief
/// cannot do better than uniform guesses against 256 random bits).
fn guess(seed: &mut u64) -> String {
    let mut s = String::with_capacity(64);
    for _ in 0..4 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        s.push_str(&format!("{:016x}", *seed));
    }
    s
}

#[test]
fn guessed_handles_give_no_access_and_do_not_spoil_the_real_one() {
    let server = TestServer::start();
    let mut owner = raw(&server);
    let mut thief = raw(&server);
    let root = owner.create();
    let handle = owner.export(&root.duplicate(&owner.qh, ()));
    let mut seed = 0x1234_5678_9abc_def1;
    let mut stolen = Vec::new();
    for _ in 0..200 {
        let t = thief
            .manager
            .import_token(Some(guess(&mut seed)), &thief.qh, ());
        let c = t.bind(&thief.qh, ());
        stolen.push((t, c));
    }
    // A near miss: the real handle with its last character changed.
    let mut near = handle.clone();
    let last = if near.ends_with('0') { "1" } else { "0" };
    near.replace_range(63.., last);
    let t = thief.manager.import_token(Some(near), &thief.qh, ());
    let c = t.bind(&thief.qh, ());
    stolen.push((t, c));
    thief.roundtrip().expect("guessing is not a protocol error");
    for (t, c) in &stolen {
        let (reason, _) = thief.events.token_failed[&t.id()].clone();
        assert_eq!(reason, FailureReason::UnknownHandle as u32);
        assert!(thief.events.failed.contains_key(&c.id()));
    }
    assert!(
        thief.events.allocated.is_empty(),
        "the thief got no buffers"
    );
    // The real handle still works for the client it was given to.
    let mut friend = raw(&server);
    let ft = friend.manager.import_token(Some(handle), &friend.qh, ());
    let fc = friend.bind_commit(&ft);
    let oc = owner.bind_commit(&root);
    friend.roundtrip().unwrap();
    owner.roundtrip().unwrap();
    friend.roundtrip().unwrap();
    assert!(
        friend.events.allocated.contains_key(&fc.id()),
        "friend allocated"
    );
    assert!(
        owner.events.allocated.contains_key(&oc.id()),
        "owner allocated"
    );
}

#[test]
fn handles_expire_over_the_wire() {
    let expiry = Duration::from_millis(400);
    let server = TestServer::builder().handle_expiry(expiry).start();
    let mut owner = raw(&server);
    let mut late = raw(&server);
    // Redeemed in time: works.
    let (_c1, a1) = server.accord();
    let (_c2, b1) = server.accord();
    let t = a1.create_collection();
    let h = t.duplicate().export().unwrap();
    let bt = b1.import(&h);
    let (ac, bc) = (t.bind(), bt.bind());
    ac.commit(&xrgb());
    bc.commit(&xrgb());
    b1.flush().unwrap();
    assert!(ac.wait_allocated().is_ok() && bc.wait_allocated().is_ok());

    // Not redeemed: the exporter's collection fails with nobody sending a
    // manager request (the module's timer expires it), then the handle
    // gives no access.
    let root = owner.create();
    let handle = owner.export(&root.duplicate(&owner.qh, ()));
    let coll = owner.bind_commit(&root);
    owner.roundtrip().unwrap();
    assert!(owner.events.failed.is_empty(), "still waiting");
    std::thread::sleep(expiry * 3);
    owner.roundtrip().unwrap();
    let (reason, msg) = owner.events.failed[&coll.id()].clone();
    assert_eq!(reason, FailureReason::ParticipantFailed as u32);
    assert!(msg.contains("expired"), "{msg}");
    let t = late.manager.import_token(Some(handle), &late.qh, ());
    let c = t.bind(&late.qh, ());
    late.roundtrip().unwrap();
    assert_eq!(
        late.events.token_failed[&t.id()].0,
        FailureReason::UnknownHandle as u32
    );
    assert!(late.events.failed.contains_key(&c.id()));
    assert!(late.events.allocated.is_empty());
    server.assert_no_collections_left();
}

/// A client killed by a protocol error: it holds a collection and sends a
/// zero alignment.
fn misbehave(server: &TestServer) {
    let mut bad = raw(server);
    let t = bad.create();
    let c = t.bind(&bad.qh, ());
    c.set_alignment(0, 0);
    let (code, _) = bad.expect_error();
    assert_eq!(code, CollError::InvalidValue as u32);
}

#[test]
fn a_protocol_error_kills_only_the_faulty_client() {
    let server = TestServer::start();
    // A producer and a consumer in two clients negotiate, while a third
    // client is killed for a protocol error in the middle.
    let (_pc, producer) = server.accord();
    let (_cc, consumer) = server.accord();
    let token = producer.create_collection();
    let imported = consumer.import(&token.duplicate().export().unwrap());
    let pcoll = token.bind();
    pcoll.commit(&xrgb());
    producer.flush().unwrap();
    misbehave(&server);
    let ccoll = imported.bind();
    ccoll.commit(&xrgb());
    consumer.flush().unwrap();
    let a = pcoll.wait_allocated().expect("the producer is unaffected");
    let b = ccoll.wait_allocated().expect("the consumer is unaffected");
    assert_eq!(a.buffers.len(), b.buffers.len());
    // The same memory in both clients.
    assert_eq!(a.buffers[0].inode().unwrap(), b.buffers[0].inode().unwrap());
}

/// A producer's collection with a second slot imported by a raw client
/// that `misuse` gets killed with protocol error `code`; the producer's
/// outcome.
fn producer_with_a_killed_importer(
    server: &TestServer,
    dispensable: bool,
    misuse: impl FnOnce(&accord_protocol::client::wp_buffer_collection_v1::WpBufferCollectionV1),
    code: CollError,
) -> (
    Accord,
    Result<accord_client::Allocation, accord_client::Failure>,
) {
    let (_pc, producer) = server.accord();
    let mut bad = raw(server);
    let token = producer.create_collection();
    let extra = token.duplicate();
    extra.set_name("wrecker");
    if dispensable {
        extra.set_dispensable();
    }
    let handle = extra.export().unwrap();
    let pcoll = token.bind();
    pcoll.commit(&xrgb());
    producer.flush().unwrap();
    let t = bad.manager.import_token(Some(handle), &bad.qh, ());
    misuse(&t.bind(&bad.qh, ()));
    let (got, msg) = bad.expect_error();
    assert_eq!(got, code as u32, "{msg}");
    let outcome = pcoll.wait_allocated();
    (producer, outcome)
}

#[test]
fn a_dispensable_participant_killed_by_a_protocol_error_is_dropped() {
    let server = TestServer::start();
    let (_, outcome) = producer_with_a_killed_importer(
        &server,
        true,
        |c| c.set_devices(vec![0; 3]),
        CollError::InvalidDeviceList,
    );
    let a = outcome.expect("allocates without the dispensable participant");
    assert_eq!(a.buffers.len(), 2);
}

#[test]
fn a_required_participant_killed_by_a_protocol_error_fails_the_collection_only() {
    let server = TestServer::start();
    let (producer, outcome) = producer_with_a_killed_importer(
        &server,
        false,
        |c| c.set_size_alignment(0, 1),
        CollError::InvalidValue,
    );
    let f = outcome.expect_err("its participant died");
    assert_eq!(f.reason, LibReason::ParticipantFailed, "{f}");
    assert!(f.message.contains("'wrecker'"), "{f}");
    // The producer's connection is fine: it negotiates again.
    let again = producer.create_collection().bind();
    again.commit(&xrgb());
    assert!(again.wait_allocated().is_ok());
}
