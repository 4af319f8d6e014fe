//! The attacker process of `accord-bench fdflood` (`accord-bench
//! flood-attacker`): a process of its own, so that its budgets (which belong
//! to a process) are not the probe's.
//!
//! `fds`: rounds until `--seconds` pass. A round opens `--connections`
//! connections (the compositor's 32 per process by default) and asks on each
//! for one collection of `--buffers` 1×1 buffers; the compositor allocates
//! until the process's buffer fd budget is full and refuses the rest with
//! `quota_exceeded`. The client closes its own copies of the fds at once;
//! the compositor keeps its memfds until the round closes every connection.
//! So each round makes the compositor create and close a budget's worth of
//! memfds and answer the refusals.
//!
//! `handles`: one connection exports `--per-process` handles (collections of
//! 50 slots, every one exported) and disconnects, leaving them pending.

use std::path::Path;
use std::time::{Duration, Instant};

use accord_client::{Accord, FailureReason};

use crate::handles_socket;

/// One fd-attack round: (allocated, refused naming the buffer fd budget).
fn fd_round(socket: &Path, connections: usize, buffers: u32) -> Result<(usize, usize), String> {
    let mut held = Vec::with_capacity(connections);
    let (mut allocated, mut refused) = (0, 0);
    for _ in 0..connections {
        let conn = crate::wl::connect(socket)?;
        let accord = Accord::new(&conn).map_err(|e| e.to_string())?;
        let coll = accord.create_collection().bind();
        coll.commit(&accord_tests::xrgb_exact(1, 1, buffers));
        match coll.wait_allocated() {
            // Our copies of the fds close here; the compositor keeps its own.
            Ok(_allocation) => allocated += 1,
            Err(f)
                if f.reason == FailureReason::QuotaExceeded
                    && f.message.contains("buffer fd budget") =>
            {
                refused += 1
            }
            Err(f) => return Err(format!("attacker: unexpected failure: {f}")),
        }
        held.push((conn, accord, coll));
    }
    Ok((allocated, refused))
}

pub fn fds(socket: &Path, seconds: f64, connections: usize, buffers: u32) -> Result<(), String> {
    let window = Duration::from_secs_f64(seconds.max(0.0));
    let t0 = Instant::now();
    let (mut rounds, mut allocated, mut refused) = (0usize, 0usize, 0usize);
    let (mut least, mut most) = (usize::MAX, 0);
    // At least one round, whatever the window.
    while rounds == 0 || t0.elapsed() < window {
        let (a, r) = fd_round(socket, connections, buffers)?;
        rounds += 1;
        allocated += a;
        refused += r;
        least = least.min(a);
        most = most.max(a);
    }
    println!(
        "attacker: {rounds} rounds in {:.2} s: {allocated} collections of {buffers} allocated \
         ({least}..{most} per round), {refused} refused naming the buffer fd budget",
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

pub fn handles(socket: &Path, per_process: usize) -> Result<(), String> {
    let got = handles_socket::attack_once(
        socket,
        &handles_socket::Options {
            connections: 1,
            per_owner: per_process,
            per_collection: 50,
            expiry: Duration::ZERO,
        },
    )?;
    println!("attacker: {got} handles pending");
    Ok(())
}
