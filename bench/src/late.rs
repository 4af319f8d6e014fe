//! `accord-bench late`: a late participant (`attach_token`, protocol
//! version 2) against a fresh collection, in one run.
//!
//! The compositor is the integration tests' (`accord_tests::TestServer`:
//! the module with the memfd backend, behind a real socket in a thread of
//! this process). A producer connection holds an allocated collection of
//! `--buffers` 1920×1080 XRGB8888 buffers. Each sample times, from the
//! viewer's commit to its `allocated` event (`wait_allocated`):
//!
//! - **fresh**: the viewer and a second participant of the producer's
//!   connection negotiate a new collection of the same shape (the viewer's
//!   commit is the last one, so the time covers solve, allocation and the
//!   events);
//! - **late**: the viewer imports a token the producer made with
//!   `attach_token` on its allocated collection and commits: the module
//!   checks it against the allocation and sends the existing buffers.
//!
//! It prints both medians and their ratio, the bytes the compositor
//! charged for each path (late: 0, nothing is allocated), and the round
//! trips of one late join counted on the wire by a relay (`relay.rs`):
//! the viewer's client→compositor bursts answered by the compositor.

use std::time::Instant;

use accord_client::{Accord, Constraints, MOD_LINEAR};
use accord_tests::{xrgb_exact, TestServer, XRGB8888};

use crate::relay::Relay;
use crate::stats::{loadavg, median, ms, quantile};

pub struct Options {
    pub samples: usize,
    pub buffers: u32,
}

const SIZE: (u32, u32) = (1920, 1080);

fn viewer_constraints() -> Constraints {
    Constraints::new().format(XRGB8888, MOD_LINEAR).buffers(1)
}

pub fn run(o: &Options) -> Result<(), String> {
    println!("late: load average {}", loadavg());
    let server = TestServer::start();
    let (_pc, producer) = server.accord();
    let (_vc, viewer) = server.accord();
    let shape = xrgb_exact(SIZE.0, SIZE.1, o.buffers);
    let held = producer.create_collection().bind();
    held.commit(&shape);
    let _allocation = held.wait_allocated().map_err(|f| f.to_string())?;
    let base_charge = server.charged_bytes();

    let (mut fresh, mut late) = (Vec::new(), Vec::new());
    let (mut fresh_bytes, mut late_bytes) = (0u64, 0u64);
    for _ in 0..o.samples.max(1) {
        // Fresh: a new collection, the viewer committing last.
        let token = producer.create_collection();
        let handle = token.duplicate().export().map_err(|f| f.to_string())?;
        let first = token.bind();
        first.commit(&shape);
        producer.flush().map_err(|f| f.to_string())?;
        let mine = viewer.import(&handle).bind();
        let t = Instant::now();
        mine.commit(&viewer_constraints());
        mine.wait_allocated().map_err(|f| format!("fresh: {f}"))?;
        fresh.push(ms(t.elapsed()));
        fresh_bytes = server.charged_bytes() - base_charge;
        first.wait_allocated().map_err(|f| f.to_string())?;
        drop((first, mine));
        producer.roundtrip().map_err(|f| f.to_string())?;
        viewer.roundtrip().map_err(|f| f.to_string())?;

        // Late: join the allocated collection.
        let before = server.charged_bytes();
        let handle = late_handle(&held)?;
        let mine = viewer.import(&handle).bind();
        let t = Instant::now();
        mine.commit(&viewer_constraints());
        mine.wait_allocated().map_err(|f| format!("late: {f}"))?;
        late.push(ms(t.elapsed()));
        late_bytes = late_bytes.max(server.charged_bytes() - before);
        drop(mine);
        viewer.roundtrip().map_err(|f| f.to_string())?;
    }
    let trips = late_round_trips(&server, &held)?;
    println!(
        "late: {} samples, {}x{} XRGB8888, {} buffers (memfd)",
        fresh.len(),
        SIZE.0,
        SIZE.1,
        o.buffers
    );
    println!(
        "late: fresh collection commit->allocated median {:.3} ms (p90 {:.3}), {} bytes \
         allocated",
        median(&fresh),
        quantile(&fresh, 0.9),
        fresh_bytes
    );
    println!(
        "late: late join commit->allocated median {:.3} ms (p90 {:.3}), {} bytes allocated, \
         {} round trip(s) on the wire",
        median(&late),
        quantile(&late, 0.9),
        late_bytes,
        trips
    );
    println!(
        "late ratio_late_over_fresh: {:.3} late_bytes: {} late_round_trips: {}",
        median(&late) / median(&fresh).max(f64::MIN_POSITIVE),
        late_bytes,
        trips
    );
    Ok(())
}

fn late_handle(held: &accord_client::Collection) -> Result<String, String> {
    held.attach_token()
        .map_err(|f| f.to_string())?
        .export()
        .map_err(|f| f.to_string())
}

/// One late join through a relay: the viewer's round trips from its
/// import to holding the buffers.
fn late_round_trips(
    server: &TestServer,
    held: &accord_client::Collection,
) -> Result<usize, String> {
    let dir = accord_tests::RuntimeDir::new();
    let relay = Relay::start(&server.socket, dir.path())?;
    let conn = crate::wl::connect(&relay.path)?;
    let viewer = Accord::new(&conn).map_err(|e| e.to_string())?;
    let handle = late_handle(held)?;
    viewer.roundtrip().map_err(|f| f.to_string())?;
    relay.reset_all();
    let mine = viewer.import(&handle).bind();
    mine.commit(&viewer_constraints());
    mine.wait_allocated()
        .map_err(|f| format!("late via relay: {f}"))?;
    let wire = relay.wire(0).ok_or("no relayed connection")?;
    let turns = wire.lock().map_err(|_| "relay log poisoned")?.turns();
    Ok(turns)
}
