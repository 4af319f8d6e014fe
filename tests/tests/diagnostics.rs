//! Tracing: collection and participant spans carry the names set with
//! `set_name`, and a collection that waits too long gets exactly one
//! warning naming the slots that are neither committed nor released.
//! Captured through a `tracing-subscriber` fmt layer writing into memory
//! (the process-wide subscriber also sees the compositor thread).

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use accord_client::{Accord, Constraints, MOD_LINEAR};
use accord_tests::{TestServer, XRGB8888};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Install the capturing subscriber once; returns the log so far.
fn log() -> String {
    static CAPTURE: OnceLock<Captured> = OnceLock::new();
    let cap = CAPTURE.get_or_init(|| {
        let cap = Captured::default();
        let writer = cap.clone();
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("accord_smithay=debug"))
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        cap
    });
    String::from_utf8_lossy(&cap.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
}

fn xrgb() -> Constraints {
    Constraints::new().format(XRGB8888, MOD_LINEAR).buffers(1)
}

#[test]
fn a_stalled_collection_is_reported_once_naming_its_blockers() {
    log();
    let stall = Duration::from_millis(150);
    let server = TestServer::builder().stall_warning(stall).start();
    let conn = server.connect();
    let accord = Accord::new(&conn).unwrap();
    let root = accord.create_collection();
    root.set_name("stall-producer");
    let waiting = root.duplicate();
    waiting.set_name("stall-decoder"); // never bound
    let exported = root.duplicate();
    exported.set_name("stall-player"); // exported, never redeemed
    let _handle = exported.export().unwrap();
    let bound = root.duplicate();
    bound.set_name("stall-viewer"); // bound, never committed
    let released = root.duplicate();
    released.set_name("stall-gone");
    drop(released); // released: does not block
    let viewer = bound.bind();
    let producer = root.bind();
    producer.commit(&xrgb());
    accord.roundtrip().unwrap();
    std::thread::sleep(stall * 5);
    accord.roundtrip().unwrap();
    let log = log();
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("stall-"))
        .collect();
    assert_eq!(warnings.len(), 1, "exactly one warning:\n{log}");
    let w = warnings[0];
    assert!(w.contains("neither committed nor released"), "{w}");
    assert!(
        w.contains("'stall-decoder' (slot 1, token not bound)"),
        "{w}"
    );
    assert!(
        w.contains("'stall-player' (slot 2, exported handle not redeemed)"),
        "{w}"
    );
    assert!(
        w.contains("'stall-viewer' (slot 3, bound, constraints not committed)"),
        "{w}"
    );
    assert!(
        !w.contains("stall-producer"),
        "committed: not blocking: {w}"
    );
    assert!(!w.contains("stall-gone"), "released: not blocking: {w}");
    drop((viewer, waiting, producer));
}

#[test]
fn spans_carry_the_participant_names() {
    log();
    let server = TestServer::start();
    let conn = server.connect();
    let accord = Accord::new(&conn).unwrap();
    let root = accord.create_collection();
    root.set_name("span-encoder");
    let coll = root.bind();
    coll.commit(&xrgb());
    coll.wait_allocated().unwrap();
    let log = log();
    let committed: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("span-encoder") && l.contains("committed"))
        .collect();
    assert_eq!(committed.len(), 1, "{log}");
    assert!(
        committed[0].contains("collection{id=") && committed[0].contains(":participant{index=0"),
        "participant span inside the collection span: {}",
        committed[0]
    );
    assert!(
        log.lines()
            .any(|l| l.contains("collection{id=") && l.contains("allocated")),
        "the outcome is logged in the collection span:\n{log}"
    );
}
