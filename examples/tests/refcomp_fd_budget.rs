//! Issue 21: a client process cannot make `accord-compositor` hold more
//! buffer fds than its budget, nor all clients together more than the
//! module's share of the fd limit. Headless, a buffer is one memfd the
//! compositor keeps, so the fd census of the compositor process
//! (`/proc/<pid>/fd`) shows what each budget allows.
//!
//! Per identity: this test process opens as many connections as it may
//! (32) and asks on each for 128 buffers of 1×1: 8 collections fill its
//! 1,024 buffer fds, the other 24 fail `quota_exceeded` naming its "buffer
//! fd budget". A second process (this test binary run again) negotiates
//! 2 buffers meanwhile and counts the compositor's memfds while it holds
//! them. The census, taken after every connection, never shows more
//! memfds than the budget allows; once the connections close every fd kind
//! is back at its baseline.
//!
//! Module-wide: under `prlimit --nofile=1030:1030` the module may hold half,
//! 515 buffer fds, fewer than one identity's 1,024: the fifth collection
//! of 128 fails naming "the compositor's buffer fd budget"; the 3 fds left
//! take a 2-buffer collection, the next one fails the same way, and the
//! compositor never runs out of fds (it accepts the clients, and logs
//! neither EMFILE nor a paused listener).

mod common;

use std::ffi::OsStr;
use std::fs::File;
use std::io::Read;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use accord_client::{Accord, Collection, Failure, FailureReason};
use accord_fd_census::FdCensus;
use accord_smithay::collections::DEFAULT_BUFFER_FDS_PER_CLIENT;
use accord_smithay::DEFAULT_MAX_CONNECTIONS_PER_IDENTITY;
use accord_tests::xrgb_exact;
use common::artifacts::KillOnDrop;
use common::budget::run_test_in_child_with;
use common::{
    assert_fds_back, fd_census, nofile, signal, start_compositor, wait_exit, TempRuntimeDir,
    COMPOSITOR_BIN,
};
use rustix::process::Signal;
use wayland_client::Connection;

/// Buffers per attacking collection: the protocol's maximum.
const BUFFERS: u32 = 128;
/// Buffers of the second process's collection.
const PROBE_BUFFERS: u32 = 2;
/// Set for the second process: the compositor's socket and pid.
const CHILD_SOCKET: &str = "ACCORD_FD_BUDGET_SECOND_PROCESS_SOCKET";
const CHILD_PID: &str = "ACCORD_FD_BUDGET_SECOND_PROCESS_COMPOSITOR";
/// The compositor's fd limit (soft and hard) in the module-wide case: its
/// buffers may take half, 515, so 4 collections of 128 leave room for one
/// of 2 buffers and not for a second one.
const NOFILE: u64 = 1030;

fn accord(socket: &Path) -> (Connection, Accord) {
    let stream = UnixStream::connect(socket).expect("connect");
    let conn = Connection::from_socket(stream).expect("wayland connection");
    let accord = Accord::new(&conn).expect("the Accord global");
    (conn, accord)
}

/// One collection of `count` 1×1 buffers. On success the client's own fds
/// (the allocation) are closed at once; the compositor keeps its memfds
/// while the returned collection lives.
///
/// libwayland sends an fd as a `dup` it closes right after `sendmsg`
/// returns, up to 28 per call: a census taken as soon as the client has
/// read `allocated` may still see the last call's copies (16 of 128). The
/// round trip after it is answered once the compositor went past that
/// close.
fn collection_of(accord: &Accord, count: u32) -> Result<Collection, Failure> {
    let coll = accord.create_collection().bind();
    coll.commit(&xrgb_exact(1, 1, count));
    let allocation = coll.wait_allocated();
    accord.roundtrip()?;
    assert_eq!(allocation?.buffers.len(), count as usize);
    Ok(coll)
}

/// Memfds the census shows beyond the baseline's.
fn memfds_over(census: &FdCensus, baseline: &FdCensus) -> usize {
    census.memfds.saturating_sub(baseline.memfds)
}

#[test]
fn one_process_gets_its_buffer_fd_budget_over_all_its_connections() {
    let dir = TempRuntimeDir::new("fd-budget");
    let (child, _stdout, name) = start_compositor(&dir, &[]);
    let mut compositor = KillOnDrop(child);
    let socket = dir.path().join(&name);
    let baseline = fd_census(&compositor.0);
    let budget = DEFAULT_BUFFER_FDS_PER_CLIENT as usize;
    let pid = std::process::id();

    let mut held = Vec::new();
    let mut refused = Vec::new();
    let mut second = None;
    for i in 0..DEFAULT_MAX_CONNECTIONS_PER_IDENTITY {
        let (conn, a) = accord(&socket);
        match collection_of(&a, BUFFERS) {
            Ok(coll) => held.push((conn, a, coll)),
            Err(f) => {
                assert_eq!(f.reason, FailureReason::QuotaExceeded, "{f}");
                assert!(
                    f.message.starts_with("buffer fd budget:")
                        && f.message.contains(&format!("needs {BUFFERS} buffer fds"))
                        && f.message.contains(&format!("pid {pid}"))
                        && f.message.contains(&format!("of its {budget}")),
                    "connection {i}: {f}"
                );
                refused.push((conn, a));
            }
        }
        let census = fd_census(&compositor.0);
        let memfds = memfds_over(&census, &baseline);
        assert!(
            memfds >= held.len() * BUFFERS as usize && memfds <= budget,
            "connection {i}: {} collections held, {memfds} memfds over the baseline \
             ({baseline} → {census})",
            held.len()
        );
        // Each connection costs a socket and libwayland's dup of it.
        let connections = held.len() + refused.len();
        assert!(
            census.sockets <= baseline.sockets + 2 * connections
                && census.other == baseline.other
                && census.dmabufs == baseline.dmabufs,
            "connection {i}: {baseline} → {census}"
        );
        // Half way, with the budget long full: another process has its own.
        if i == DEFAULT_MAX_CONNECTIONS_PER_IDENTITY / 2 {
            let compositor_pid = compositor.0.id().to_string();
            let out = run_test_in_child_with(
                "second_process",
                &[
                    (CHILD_SOCKET, socket.as_os_str()),
                    (CHILD_PID, OsStr::new(&compositor_pid)),
                ],
            );
            let memfds: usize = out
                .lines()
                .find_map(|l| l.strip_prefix("second process: compositor memfds "))
                .and_then(|n| n.trim().parse().ok())
                .unwrap_or_else(|| panic!("no memfd count from the second process: {out}"));
            second = Some(memfds);
            assert_eq!(
                memfds - baseline.memfds,
                budget + PROBE_BUFFERS as usize,
                "while the second process holds its buffers: this process's {budget} and \
                 its {PROBE_BUFFERS}"
            );
        }
    }
    assert_eq!(
        held.len(),
        budget / BUFFERS as usize,
        "collections of {BUFFERS} within {budget} fds"
    );
    assert_eq!(
        refused.len(),
        DEFAULT_MAX_CONNECTIONS_PER_IDENTITY - held.len()
    );
    assert!(second.is_some(), "the second process ran");
    let peak = fd_census(&compositor.0);
    eprintln!(
        "{} held, {} refused; compositor {baseline} → {peak}",
        held.len(),
        refused.len()
    );

    // The attacker leaves: every fd comes back, and so does its budget.
    drop((held, refused));
    assert_fds_back(
        &compositor.0,
        &baseline,
        "after the attacker's connections closed",
    );
    let (conn, a) = accord(&socket);
    let again: Vec<_> = (0..budget / BUFFERS as usize)
        .map(|_| collection_of(&a, BUFFERS).expect("the budget was refunded"))
        .collect();
    drop(again);
    drop((conn, a));
    assert_fds_back(&compositor.0, &baseline, "after the second round");

    signal(&compositor.0, Signal::TERM);
    let status = wait_exit(&mut compositor.0, Duration::from_secs(10));
    assert!(status.success(), "compositor exit: {status}");
}

/// The second process of the test above: negotiates 2 buffers and, while
/// it holds them, prints the compositor's memfd count. Does nothing when
/// run on its own.
#[test]
fn second_process() {
    let (Some(socket), Some(pid)) = (std::env::var_os(CHILD_SOCKET), std::env::var_os(CHILD_PID))
    else {
        return;
    };
    let pid: u32 = pid.to_str().and_then(|p| p.parse().ok()).expect("pid");
    let (_conn, a) = accord(Path::new(&socket));
    let _coll = collection_of(&a, PROBE_BUFFERS).expect("another process has its own budget");
    let census = FdCensus::of(pid).expect("census of the compositor");
    println!("second process: compositor memfds {}", census.memfds);
}

/// `accord-compositor` under `prlimit --nofile=limit:limit`, its log in
/// `log`; the child (prlimit execs the compositor) and the socket path.
fn start_limited(
    dir: &TempRuntimeDir,
    limit: u64,
    log: &Path,
) -> (Child, ChildStdout, std::path::PathBuf) {
    let mut child = Command::new("prlimit")
        .arg(format!("--nofile={limit}:{limit}"))
        .arg(COMPOSITOR_BIN)
        .args(common::renderer_args())
        .args(["--socket", "fdb"])
        .env("XDG_RUNTIME_DIR", dir.path())
        .env("RUST_LOG", "info")
        .env_remove("WAYLAND_DISPLAY")
        .stdout(Stdio::piped())
        .stderr(File::create(log).expect("log file"))
        .spawn()
        .expect("start prlimit (util-linux) with accord-compositor");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut line = [0u8; 128];
    let n = stdout.read(&mut line).expect("read the listening line");
    let line = String::from_utf8_lossy(&line[..n]);
    assert!(
        line.starts_with("accord-compositor: listening on WAYLAND_DISPLAY=fdb"),
        "{line:?}"
    );
    (child, stdout, dir.path().join("fdb"))
}

#[test]
fn all_clients_together_stay_within_the_compositors_buffer_fd_budget() {
    let dir = TempRuntimeDir::new("fd-budget-module");
    let log = dir.path().join("compositor.log");
    // Its stdout stays open: it prints its counters on exit.
    let (child, _stdout, socket) = start_limited(&dir, NOFILE, &log);
    let mut compositor = KillOnDrop(child);
    let pid = compositor.0.id();
    assert_eq!(nofile(pid), (NOFILE, NOFILE));
    let module_budget = (NOFILE / 2) as usize;
    assert!(module_budget < DEFAULT_BUFFER_FDS_PER_CLIENT as usize);
    let baseline = fd_census(&compositor.0);
    let is_module_failure = |f: &Failure, need: u32| {
        f.reason == FailureReason::QuotaExceeded
            && f.message.starts_with("the compositor's buffer fd budget:")
            && f.message.contains(&format!("needs {need} buffer fds"))
            && f.message.contains(&format!("of its {module_budget}"))
    };

    // Collections of 128 until one fails: 4 fit in 515.
    let mut held = Vec::new();
    let failure = loop {
        let (conn, a) = accord(&socket);
        let result = collection_of(&a, BUFFERS);
        let census = fd_census(&compositor.0);
        assert!(
            memfds_over(&census, &baseline) <= module_budget && (census.total() as u64) < NOFILE,
            "{} collections: {baseline} → {census}",
            held.len()
        );
        match result {
            Ok(coll) => held.push((conn, a, coll)),
            Err(f) => break (f, conn, a),
        }
        assert!(held.len() <= module_budget / BUFFERS as usize, "no failure");
    };
    assert_eq!(held.len(), module_budget / BUFFERS as usize);
    assert!(is_module_failure(&failure.0, BUFFERS), "{}", failure.0);

    // A new client connects and gets the 2 buffers that still fit; one more
    // collection fails naming the module's budget, not with EMFILE.
    let (conn, a) = accord(&socket);
    let fits = collection_of(&a, PROBE_BUFFERS).expect("2 buffers fit in the 3 left");
    let (conn2, a2) = accord(&socket);
    let over = collection_of(&a2, PROBE_BUFFERS).expect_err("no room for 2 more");
    assert!(is_module_failure(&over, PROBE_BUFFERS), "{over}");
    let peak = fd_census(&compositor.0);
    assert_eq!(
        memfds_over(&peak, &baseline),
        held.len() * BUFFERS as usize + PROBE_BUFFERS as usize,
        "{baseline} → {peak}"
    );
    eprintln!("module budget {module_budget}: compositor {baseline} → {peak}");

    drop((fits, conn, a, over, conn2, a2, failure, held));
    assert_fds_back(&compositor.0, &baseline, "after every client closed");
    let text = std::fs::read_to_string(&log).expect("log");
    for sign in ["out of fds", "fd headroom too small", "Too many open files"] {
        assert!(
            !text.contains(sign),
            "the compositor ran out of fds ({sign:?}):\n{text}"
        );
    }
    signal(&compositor.0, Signal::TERM);
    let status = wait_exit(&mut compositor.0, Duration::from_secs(10));
    assert!(
        status.success(),
        "compositor exit: {status}; log:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
}
