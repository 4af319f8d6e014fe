//! `accord-compositor` out of fds (issue 21, item 2): started under
//! `prlimit --nofile=128:256`, it raises its soft limit to 256; then
//! connections are opened until it refuses one. While refusing it stays
//! alive and writes little log; once some connections close it answers a
//! new client; once all have closed its fds are back at their baseline,
//! kind by kind. Twice in a row: wayland-backend 0.3.17 leaks the accepted
//! socket when `wl_client_create` fails with EMFILE, which would leave the
//! count above the baseline after the first cycle.
//!
//! A client costs the compositor two fds (its socket and libwayland's `dup`
//! of it), so the test makes the free fds odd: without headroom checks the
//! last free fd is taken by `accept` and the `dup` fails, the leak's case.
//! The CPU share while refusing is a benchmark (`accord-bench refuse`).

mod common;

use std::{
    fs::File,
    io::Read,
    os::unix::net::UnixStream,
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use accord_examples::raw_connect::{self, Outcome};
use accord_fd_census::FdCensus;
use common::{assert_fds_back, nofile, signal, wait_exit, TempRuntimeDir, COMPOSITOR_BIN};
use rustix::process::Signal;

/// The compositor's hard fd limit (its soft limit starts at half).
const LIMIT: u64 = 256;
/// Connections opened per cycle before giving up on a refusal.
const MAX_CONNECTIONS: usize = 300;
/// Connection attempts while refusing (each waits [`REFUSING_WAIT`]).
const REFUSING_ATTEMPTS: usize = 25;
const REFUSING_WAIT: Duration = Duration::from_millis(100);
/// Log the compositor may write during one refusing phase.
const LOG_BUDGET: u64 = 100 * 1024;

/// Kills the compositor if the test fails before stopping it.
struct Reap(Child);

impl Drop for Reap {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// [`raw_connect::open`], which only fails on something other than a
/// refusal.
fn open(socket: &Path, wait: Duration) -> (Option<UnixStream>, Outcome) {
    raw_connect::open(socket, wait).expect("connection attempt")
}

fn census(child: &Child) -> FdCensus {
    FdCensus::of(child.id()).expect("fd census of the compositor")
}

fn cpu_ticks(pid: u32) -> u64 {
    raw_connect::cpu_ticks(pid).expect("cpu time of the compositor")
}

#[test]
fn out_of_fds_the_compositor_refuses_quietly_and_returns_to_its_baseline() {
    let dir = TempRuntimeDir::new("fd-exhaustion");
    let log_path = dir.path().join("compositor.log");
    let log = File::create(&log_path).expect("log file");
    let mut child = Command::new("prlimit")
        .arg(format!("--nofile={}:{LIMIT}", LIMIT / 2))
        .arg(COMPOSITOR_BIN)
        .args(common::renderer_args())
        // Connections from this one process run it out of fds: no
        // connection budget stops them first.
        .args(["--socket", "fdx", "--max-connections-per-client", "100000"])
        .env("XDG_RUNTIME_DIR", dir.path())
        .env("RUST_LOG", "info")
        .env_remove("WAYLAND_DISPLAY")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("start prlimit (util-linux) with accord-compositor");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut child = Reap(child);
    let mut line = [0u8; 128];
    let n = stdout.read(&mut line).expect("read the listening line");
    let line = String::from_utf8_lossy(&line[..n]);
    assert!(
        line.starts_with("accord-compositor: listening on WAYLAND_DISPLAY=fdx"),
        "{line:?}"
    );
    let pid = child.0.id(); // prlimit execs the compositor
    let socket = dir.path().join("fdx");

    // Item 1: the soft limit raised to the hard one, and logged.
    assert_eq!(nofile(pid), (LIMIT, LIMIT), "soft limit not raised");
    let text = std::fs::read_to_string(&log_path).expect("log");
    assert!(
        text.contains(&format!("fd limit: soft {} → {LIMIT}", LIMIT / 2)),
        "no fd limit line in the log:\n{text}"
    );

    let baseline = census(&child.0);
    // An odd number of free fds (see the module docs).
    let mut limit = LIMIT;
    if (limit - baseline.total() as u64).is_multiple_of(2) {
        limit -= 1;
        let status = Command::new("prlimit")
            .args([format!("--pid={pid}"), format!("--nofile={limit}:{limit}")])
            .status()
            .expect("prlimit --pid");
        assert!(status.success(), "prlimit --pid failed");
        assert_eq!(nofile(pid), (limit, limit));
    }
    eprintln!(
        "baseline {baseline} ({} fds), limit {limit}",
        baseline.total()
    );

    for cycle in 1..=2 {
        // Fill: connections until one is not answered.
        let mut held = Vec::new();
        let mut refusal = None;
        while held.len() < MAX_CONNECTIONS {
            match open(&socket, Duration::from_secs(1)) {
                (Some(stream), Outcome::Answered) => held.push(stream),
                (stream, outcome) => {
                    refusal = Some((stream, outcome));
                    break;
                }
            }
        }
        let Some((first_refused, outcome)) = refusal else {
            panic!("cycle {cycle}: {MAX_CONNECTIONS} connections and no refusal");
        };
        let peak = census(&child.0);
        // Each client holds 2 fds: most of the limit went to clients.
        assert!(
            held.len() as u64 >= (limit - baseline.total() as u64) / 2 - 20,
            "cycle {cycle}: refused after only {} clients ({outcome:?}, {peak})",
            held.len()
        );

        // Refusing: more attempts; the compositor stays alive and quiet.
        let log_before = std::fs::metadata(&log_path).expect("log").len();
        let cpu_before = cpu_ticks(pid);
        let started = Instant::now();
        let mut refused: Vec<UnixStream> = first_refused.into_iter().collect();
        let mut outcomes = vec![outcome];
        for _ in 0..REFUSING_ATTEMPTS {
            let (stream, outcome) = open(&socket, REFUSING_WAIT);
            assert_ne!(
                outcome,
                Outcome::Answered,
                "cycle {cycle}: answered while out of fds"
            );
            refused.extend(stream);
            outcomes.push(outcome);
        }
        let elapsed = started.elapsed();
        let cpu = cpu_ticks(pid) - cpu_before;
        let log_growth = std::fs::metadata(&log_path).expect("log").len() - log_before;
        assert!(
            child.0.try_wait().expect("try_wait").is_none(),
            "cycle {cycle}: the compositor exited while refusing"
        );
        let count = |o: Outcome| outcomes.iter().filter(|x| **x == o).count();
        eprintln!(
            "cycle {cycle}: {} clients, peak {} fds ({peak}); refusing {:.1} s: \
             {} closed, {} silent, {} not connected; log +{log_growth} B; cpu {cpu} ticks",
            held.len(),
            peak.total(),
            elapsed.as_secs_f64(),
            count(Outcome::Closed),
            count(Outcome::Silent),
            count(Outcome::NotConnected),
        );
        assert!(
            log_growth < LOG_BUDGET,
            "cycle {cycle}: log grew by {log_growth} B while refusing"
        );

        // Some connections close: a new client is answered.
        drop(refused);
        held.truncate(held.len() / 2);
        let (newcomer, outcome) = open(&socket, Duration::from_secs(5));
        assert_eq!(
            outcome,
            Outcome::Answered,
            "cycle {cycle}: a new client after connections closed"
        );

        // All close: every fd back at its baseline (waits up to 5 s).
        drop(newcomer);
        drop(held);
        let after = assert_fds_back(&child.0, &baseline, &format!("cycle {cycle}"));
        eprintln!("cycle {cycle}: back at {after}");
    }

    signal(&child.0, Signal::TERM);
    let status = wait_exit(&mut child.0, Duration::from_secs(10));
    assert!(status.success(), "compositor exit: {status}");
}
