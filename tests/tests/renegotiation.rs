//! Renegotiation over real sockets (protocol version 2): a kept
//! generation, a failed re-solve that keeps the current one, the rate
//! bound (counted: 1001 re-commits make one generation), and trigger 1,
//! the embedder telling the module that a surface's display changed
//! (`BufferCollectionState::surface_changed`). Trigger 2 mid-stream, with
//! every frame verified and the fd census, is `renegotiation_stream.rs`.

use std::time::Duration;

use accord_client::{Accord, Constraints, Renegotiation, Usage, MOD_LINEAR};
use accord_engine::FormatModifier;
use accord_tests::frames::{bytes, render};
use accord_tests::raw::{self, RawClient};
use accord_tests::waiting::eventually;
use accord_tests::{TestServer, XRGB8888};

/// The stream's constraints at `w`×`h`: the producer writes, 2 buffers.
fn stream(w: u32, h: u32) -> Constraints {
    Constraints::new()
        .usage(Usage::CpuWrite)
        .format(XRGB8888, MOD_LINEAR)
        .min_size(w, h)
        .buffers(2)
}

/// After a round trip, no renegotiation outcome has come (`why`).
#[track_caller]
fn assert_no_outcome(accord: &Accord, coll: &accord_client::Collection, why: &str) {
    accord.roundtrip().expect("roundtrip");
    assert!(coll.poll_renegotiation().is_none(), "{why}");
}

/// The plane a fullscreen surface is offered in trigger 1's tests.
static PLANE: [FormatModifier; 1] = [FormatModifier {
    format: XRGB8888,
    modifier: MOD_LINEAR,
    scanout: true,
}];

/// A server without a rate bound, a surface, and a collection attached to
/// it with the 64×32 stream committed. A scanout decision needs a dma-buf
/// placement (never memfd): the labelled dma-buf fixture stands in for the
/// display's memory.
fn attached_stream() -> (TestServer, Accord, accord_client::Collection, RawClient) {
    let server = TestServer::builder()
        .min_generation_interval(Duration::ZERO)
        .allocator(|| {
            Box::new(accord_tests::labelled_dmabuf::LabelledDmabuf(
                accord_smithay::backend::memfd::MemfdBackend::new(),
            ))
        })
        .start();
    let conn = server.connect();
    let mut rawc = RawClient::new(conn.clone());
    let surface = raw::surface(&mut rawc);
    let accord = Accord::new(&conn).expect("accord");
    let token = accord.create_collection();
    token.duplicate().attach_to_surface(&surface);
    let coll = token.bind();
    coll.commit(&stream(64, 32));
    (server, accord, coll, rawc)
}

#[test]
fn a_recommit_that_changes_nothing_keeps_the_generation() {
    let server = TestServer::builder()
        .min_generation_interval(Duration::ZERO)
        .start();
    let (_conn, accord) = server.accord();
    let coll = accord.create_collection().bind();
    coll.commit(&stream(64, 32));
    let a = coll.wait_allocated().expect("allocated");
    let charged_before = server.charged_bytes();
    coll.recommit(&stream(64, 32).usage(Usage::CpuRead))
        .expect("version 2");
    let Renegotiation::Kept { generation } = coll.wait_renegotiation().expect("answer") else {
        panic!("the same buffers fit")
    };
    assert_eq!(generation, 1);
    assert_eq!(server.charged_bytes(), charged_before, "nothing allocated");
    drop(a);
}

#[test]
fn a_failed_renegotiation_keeps_the_current_generation() {
    let server = TestServer::builder()
        .min_generation_interval(Duration::ZERO)
        .start();
    let (_pconn, p) = server.accord();
    let (_cconn, c) = server.accord();
    let token = p.create_collection();
    let handle = token.duplicate().export().expect("handle");
    let producer = token.bind();
    let ct = c.import(&handle);
    ct.set_name("small display");
    let consumer = ct.bind();
    producer.commit(&stream(64, 32));
    consumer.commit(
        &Constraints::new()
            .format(XRGB8888, MOD_LINEAR)
            .max_size(640, 480),
    );
    c.flush().expect("sent");
    let a = producer.wait_allocated().expect("allocated");
    let _ca = consumer.wait_allocated().expect("allocated");
    let charged_before = server.charged_bytes();
    producer.recommit(&stream(1920, 1080)).expect("version 2");
    let Renegotiation::Failed {
        failure,
        generation,
    } = producer.wait_renegotiation().expect("answer")
    else {
        panic!("1920x1080 is over the consumer's maximum")
    };
    assert_eq!(generation, 1);
    assert_eq!(failure.reason, accord_client::FailureReason::SizeConflict);
    assert!(failure.message.contains("small display"), "{failure}");
    // The consumer hears it too, and nothing was torn down.
    let Renegotiation::Failed { .. } = consumer.wait_renegotiation().expect("answer") else {
        panic!("every holder hears the failure")
    };
    assert_eq!(server.charged_bytes(), charged_before);
    let _wl = producer.generation_wl_buffer(1, 0).expect("version 2");
    p.roundtrip().expect("generation 1 is still there");
    render(&a, 0, 7);
}

/// 1001 toggles between 720p and 1080p while the interval holds: no
/// generation; once it passes, one, with the last size.
#[test]
fn a_thousand_toggles_make_one_generation() {
    let server = TestServer::builder()
        .min_generation_interval(Duration::from_secs(3600))
        .start();
    let (_conn, accord) = server.accord();
    let coll = accord.create_collection().bind();
    coll.commit(&stream(1280, 720));
    let _a = coll.wait_allocated().expect("allocated");
    let one = server.charged_bytes();
    for i in 0..1001 {
        let (w, h) = if i % 2 == 0 {
            (1920, 1080)
        } else {
            (1280, 720)
        };
        coll.recommit(&stream(w, h)).expect("version 2");
        if i % 64 == 0 {
            accord.roundtrip().expect("no protocol error"); // keep the socket from filling
        }
    }
    assert_no_outcome(&accord, &coll, "held back, no answer yet");
    assert_eq!(coll.generation(), Some(1));
    assert_eq!(server.charged_bytes(), one, "nothing allocated");
    let pending = server.on_compositor(|c| c.accord.collections().pending_renegotiations());
    assert_eq!(pending, 1, "one re-solve waits, coalesced");
    // The interval passes (the embedder shortens it): exactly one.
    server.on_compositor(|c| {
        c.accord.set_min_generation_interval(Duration::ZERO);
        c.accord.expire_handles(); // the timer's turn
    });
    let Renegotiation::Generation(b) = coll.wait_renegotiation().expect("answer") else {
        panic!("1080p is a new generation")
    };
    assert_eq!((b.generation, b.width), (2, 1920));
    assert_no_outcome(&accord, &coll, "only one");
}

/// Trigger 1, driven from the host as an embedder would: the surface goes
/// "fullscreen" (its display offers a scanout plane, which camps one more
/// buffer), then back to composition.
/// Windowed again after generation 2 (`full`, fullscreen; generation 1
/// already released): generation 3 camps one buffer less (composition),
/// and once generation 2's holds are gone only generation 3 is charged.
fn windowed_generation_drains_the_others(
    server: &TestServer,
    coll: &accord_client::Collection,
    full: accord_client::Allocation,
) {
    let Renegotiation::Generation(windowed) = coll.wait_renegotiation().expect("answer") else {
        panic!("composition camps one buffer less")
    };
    assert_eq!((windowed.generation, windowed.buffers.len()), (3, 3));
    coll.release_generation(2).expect("release");
    drop(full);
    server.wait_charged(bytes(&windowed), "generations 1 and 2 drained");
}

#[test]
fn the_compositor_participant_changing_renegotiates() {
    let (server, _accord, coll, _raw) = attached_stream();
    let first = coll.wait_allocated().expect("allocated");
    // Composited: the compositor camps 1 buffer, the client 2.
    assert_eq!(first.buffers.len(), 3);

    let told = server.on_compositor(|c| c.set_scanout_pairs(&PLANE));
    assert_eq!(told, 1, "one collection is attached to the surface");
    let Renegotiation::Generation(full) = coll.wait_renegotiation().expect("answer") else {
        panic!("a scanout plane camps one more buffer")
    };
    assert_eq!((full.generation, full.buffers.len()), (2, 4));
    let confirmed = server.confirm_calls();
    assert!(
        confirmed.last().is_some_and(|d| d.scanout),
        "the display confirmed the scanout decision: {confirmed:?}"
    );
    coll.release_generation(1).expect("release");
    drop(first);

    server.on_compositor(|c| c.set_scanout_pairs(&[]));
    windowed_generation_drains_the_others(&server, &coll, full);
}

/// A fullscreen toggle as the reference compositor makes it: the
/// compositor's change is announced with a configure and held for the
/// client's answer, a re-commit at the new size; both are solved together,
/// so the toggle makes one generation, not two.
#[test]
fn a_held_change_and_the_clients_recommit_make_one_generation() {
    let (server, accord, coll, _raw) = attached_stream();
    server.on_compositor(|c| c.accord.set_answer_window(Duration::from_secs(3600)));
    let first = coll.wait_allocated().expect("allocated");
    assert_eq!(first.buffers.len(), 3);

    let told = server.on_compositor(|c| c.set_scanout_pairs_held(&PLANE));
    assert_eq!(told, 1);
    assert_no_outcome(
        &accord,
        &coll,
        "nothing is solved before the client answers",
    );
    // The answer to the configure: the stream at the output's size.
    coll.recommit(&stream(128, 64)).expect("recommit");
    let Renegotiation::Generation(full) = coll.wait_renegotiation().expect("answer") else {
        panic!("the answer changes the size")
    };
    assert_eq!(
        (full.generation, full.width, full.buffers.len()),
        (2, 128, 4),
        "the plane's extra buffer and the new size in one generation"
    );
    assert_eq!(
        server.on_compositor(|c| c.configure_applied()),
        0,
        "no hold left"
    );
    assert_no_outcome(&accord, &coll, "one generation, not two");
    coll.release_generation(1).expect("release");
    drop(first);

    // Windowed again, and the client keeps its size: applying the
    // configure releases the hold.
    server.on_compositor(|c| c.set_scanout_pairs_held(&[]));
    assert_no_outcome(&accord, &coll, "held");
    assert_eq!(server.on_compositor(|c| c.configure_applied()), 1);
    windowed_generation_drains_the_others(&server, &coll, full);
}

/// A client that never answers the configure holds nothing up for longer
/// than the answer window: the module's timer solves the held change alone.
#[test]
fn an_unanswered_hold_is_solved_when_the_answer_window_ends() {
    let (server, accord, coll, _raw) = attached_stream();
    server.on_compositor(|c| c.accord.set_answer_window(Duration::from_millis(100)));
    let first = coll.wait_allocated().expect("allocated");
    assert_eq!(
        server.on_compositor(|c| c.set_scanout_pairs_held(&PLANE)),
        1
    );
    assert_no_outcome(&accord, &coll, "held");
    let full = eventually(Duration::from_secs(5), "the window's end", || {
        accord.dispatch_pending().map_err(|e| e.to_string())?;
        accord.roundtrip().map_err(|e| e.to_string())?;
        match coll.poll_renegotiation() {
            Some(Renegotiation::Generation(g)) => Ok(g),
            Some(other) => Err(format!("unexpected {other:?}")),
            None => Err("no generation yet".into()),
        }
    });
    assert_eq!(
        (full.generation, full.width, full.buffers.len()),
        (2, 64, 4)
    );
    drop(first);
}

/// A version-1 participant cannot recommit, and never sees a version-2
/// event; it is sent a new generation's settings … allocated like the
/// first, and its hold on the previous generation ends then, so the old
/// generation drains without it.
#[test]
fn a_version_1_participant_follows_without_generation_events() {
    let server = TestServer::builder()
        .min_generation_interval(Duration::ZERO)
        .start();
    let (_pconn, p) = server.accord();
    let mut old = RawClient::with_version(server.connect(), 1);
    let token = p.create_collection();
    let handle = token.duplicate().export().expect("handle");
    let producer = token.bind();
    let t = old.manager.import_token(Some(handle), &old.qh, ());
    let v1 = old.bind_commit(&t);
    old.roundtrip().expect("sent");
    producer.commit(&stream(64, 32));
    let first = producer.wait_allocated().expect("allocated");
    old.roundtrip().expect("fine");
    use wayland_client::Proxy;
    assert_eq!(v1.version(), 1);
    assert_eq!(old.events.allocated_events.get(&v1.id()), Some(&1));
    assert_eq!(
        old.events.generations.get(&v1.id()),
        None,
        "no version-2 event"
    );

    producer.recommit(&stream(128, 32)).expect("version 2");
    let Renegotiation::Generation(second) = producer.wait_renegotiation().expect("answer") else {
        panic!("a wider size is a new generation")
    };
    old.roundtrip().expect("fine");
    assert_eq!(
        old.events.allocated_events.get(&v1.id()),
        Some(&2),
        "the version-1 object got the new generation's outcome"
    );
    assert_eq!(old.events.generations.get(&v1.id()), None);
    producer.release_generation(1).expect("release");
    drop(first);
    server.wait_charged(bytes(&second), "generation 1 drained: the v1 hold ended");
}

/// The compositor's own participant holds no buffers: once the client's
/// participants and buffers are gone, a collection attached to a surface
/// closes (and `surface_changed` has nothing left to re-solve).
#[test]
fn an_attached_collection_closes_when_its_clients_leave() {
    let server = TestServer::start();
    {
        let conn = server.connect();
        let mut rawc = RawClient::new(conn.clone());
        let surface = raw::surface(&mut rawc);
        let accord = Accord::new(&conn).expect("accord");
        let token = accord.create_collection();
        token.duplicate().attach_to_surface(&surface);
        let coll = token.bind();
        coll.commit(&stream(64, 32));
        let _a = coll.wait_allocated().expect("allocated");
        assert_eq!(server.on_compositor(|c| c.accord.live_collections()), 1);
    }
    eventually(
        Duration::from_secs(5),
        "the collection closed",
        || match server.on_compositor(|c| c.accord.live_collections()) {
            0 => Ok(()),
            n => Err(format!("{n} collections live")),
        },
    );
    assert_eq!(server.on_compositor(|c| c.set_scanout_pairs(&[])), 0);
}
