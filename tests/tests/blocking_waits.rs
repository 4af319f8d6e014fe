//! `Accord::blocking_waits` counts the times the client library really
//! blocked for the compositor (the figure `accord-bench e2e` prints as P3):
//! known sequences move it by known amounts, and a call whose events are
//! already queued moves it by none.

use accord_client::{Accord, Constraints, Usage, MOD_LINEAR};
use accord_tests::{TestServer, XRGB8888};

fn constraints() -> Constraints {
    Constraints::new()
        .usage(Usage::CpuWrite)
        .format(XRGB8888, MOD_LINEAR)
        .min_size(64, 64)
        .buffers(1)
}

#[test]
fn a_roundtrip_is_one_wait_and_setup_is_none() {
    let server = TestServer::start();
    let accord = Accord::new(&server.connect()).expect("bind the accord global");
    assert_eq!(
        accord.blocking_waits(),
        0,
        "Accord::new's registry round trip"
    );
    accord.roundtrip().expect("roundtrip");
    accord.roundtrip().expect("roundtrip");
    assert_eq!(accord.blocking_waits(), 2);
    // Clones share the count.
    let clone = accord.clone();
    clone.roundtrip().expect("roundtrip");
    assert_eq!(accord.blocking_waits(), 3);
}

#[test]
fn one_participant_waits_once_for_its_outcome() {
    let server = TestServer::start();
    let accord = Accord::new(&server.connect()).expect("bind the accord global");
    let collection = accord.create_collection().bind();
    collection.commit(&constraints());
    let allocation = collection.wait_allocated().expect("allocation");
    assert_eq!(allocation.buffers.len(), 1);
    assert_eq!(accord.blocking_waits(), 1, "create, bind, commit, outcome");
}

#[test]
fn an_outcome_already_dispatched_costs_no_wait() {
    let server = TestServer::start();
    let accord = Accord::new(&server.connect()).expect("bind the accord global");
    let collection = accord.create_collection().bind();
    collection.commit(&constraints());
    // The round trip's answer comes after the outcome: both are dispatched.
    accord.roundtrip().expect("roundtrip");
    assert_eq!(accord.blocking_waits(), 1);
    collection.wait_allocated().expect("allocation");
    assert_eq!(
        accord.blocking_waits(),
        1,
        "the outcome was already dispatched"
    );
}

#[test]
fn an_outcome_read_by_the_applications_queue_costs_no_wait() {
    let server = TestServer::start();
    let conn = server.connect();
    let accord = Accord::new(&conn).expect("bind the accord global");
    let collection = accord.create_collection().bind();
    collection.commit(&constraints());
    accord.flush().expect("flush");
    // The application's own queue reads the socket: the outcome lands in
    // the library's queue, read but not dispatched.
    let mut app = conn.new_event_queue::<()>();
    app.roundtrip(&mut ()).expect("the application's roundtrip");
    assert_eq!(accord.blocking_waits(), 0);
    collection.wait_allocated().expect("allocation");
    assert_eq!(accord.blocking_waits(), 0, "the outcome was already queued");
}

#[test]
fn producer_waits_twice_and_consumer_once() {
    let server = TestServer::start();
    let producer = Accord::new(&server.connect()).expect("bind the accord global");
    let consumer = Accord::new(&server.connect()).expect("bind the accord global");
    let root = producer.create_collection();
    let for_consumer = root.duplicate();
    let mine = root.bind();
    mine.commit(&constraints());
    let handle = for_consumer.export().expect("export");
    assert_eq!(producer.blocking_waits(), 1, "the export handle");
    let theirs = consumer.import(&handle).bind();
    theirs.commit(
        &Constraints::new()
            .usage(Usage::CpuRead)
            .format(XRGB8888, MOD_LINEAR)
            .buffers(1),
    );
    theirs.wait_allocated().expect("consumer allocation");
    assert_eq!(consumer.blocking_waits(), 1, "the consumer's outcome");
    mine.wait_allocated().expect("producer allocation");
    assert_eq!(producer.blocking_waits(), 2, "export handle, then outcome");
    assert_eq!(consumer.blocking_waits(), 1);
}
