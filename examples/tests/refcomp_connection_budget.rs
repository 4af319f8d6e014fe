//! Issue 21: a connection budget per client identity. Against the real
//! `accord-compositor --max-connections-per-client 4`: this test process
//! opens four connections that work; the fifth is closed by the compositor
//! while a second process (this test binary run again, see
//! [`second_process`]) still connects; once two are closed this process can
//! connect again. The compositor's log names the refused identity, and a
//! flood of refused attempts writes only a few lines.

mod common;

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use accord_tests::waiting::within;
use common::artifacts::KillOnDrop;
use common::budget::run_test_in_child;
use common::{signal, wait_exit, TempRuntimeDir, COMPOSITOR_BIN};
use rustix::process::Signal;
use wayland_client::globals::{registry_queue_init, GlobalListContents};
use wayland_client::protocol::wl_registry::{self, WlRegistry};
use wayland_client::{Connection, Dispatch, QueueHandle};

/// Set for the second process: the compositor's socket path.
const CHILD_SOCKET: &str = "ACCORD_CONNECTION_BUDGET_SECOND_PROCESS_SOCKET";
/// `LogLimiter::BURST`: lines per cause per second.
const BURST: u64 = accord_smithay::log_limit::LogLimiter::BURST as u64;

struct Nothing;

impl Dispatch<WlRegistry, GlobalListContents> for Nothing {
    fn event(
        _: &mut Self,
        _: &WlRegistry,
        _: wl_registry::Event,
        _: &GlobalListContents,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

/// A connection that has made one round trip (the registry's globals).
fn connect(socket: &Path) -> Result<Connection, String> {
    let stream = UnixStream::connect(socket).map_err(|e| format!("connect: {e}"))?;
    let conn = Connection::from_socket(stream).map_err(|e| format!("connection: {e}"))?;
    registry_queue_init::<Nothing>(&conn).map_err(|e| format!("roundtrip: {e}"))?;
    Ok(conn)
}

#[test]
fn connections_beyond_the_budget_are_closed_and_the_refusals_logged_briefly() {
    let dir = TempRuntimeDir::new("connection-budget");
    let log_path = dir.path().join("compositor.log");
    let compositor = Command::new(COMPOSITOR_BIN)
        .args(common::renderer_args())
        .args(["--max-connections-per-client", "4"])
        .env("XDG_RUNTIME_DIR", dir.path())
        .env("RUST_LOG", "info")
        .env_remove("WAYLAND_DISPLAY")
        .stdout(Stdio::piped())
        .stderr(File::create(&log_path).expect("log file"))
        .spawn()
        .expect("start accord-compositor");
    let mut compositor = KillOnDrop(compositor);
    // Kept open until it exits: it prints its counters then.
    let mut stdout = BufReader::new(compositor.0.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("first line");
    let name = line
        .trim()
        .strip_prefix("accord-compositor: listening on WAYLAND_DISPLAY=")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    let socket = dir.path().join(name);

    let mut held: Vec<Connection> = (0..4)
        .map(|i| connect(&socket).unwrap_or_else(|e| panic!("connection {i}: {e}")))
        .collect();
    let fifth = connect(&socket);
    assert!(fifth.is_err(), "the fifth connection was served");

    // Another process is another identity.
    let stdout = run_test_in_child("second_process", CHILD_SOCKET, &socket);
    assert!(stdout.contains("second process: connected"), "{stdout}");

    // Two closed: two connections come back (once the compositor has seen
    // them go), and no more.
    held.truncate(2);
    for i in 0..2 {
        let again = within(Duration::from_secs(5), || connect(&socket))
            .unwrap_or_else(|e| panic!("reconnection {i}: {e}"));
        held.push(again);
    }
    assert!(
        connect(&socket).is_err(),
        "a fifth connection after reconnecting"
    );

    // A flood of refused attempts.
    let start = Instant::now();
    for i in 0..200 {
        assert!(connect(&socket).is_err(), "attempt {i} was served");
    }
    let flood = start.elapsed();

    signal(&compositor.0, Signal::TERM);
    assert!(wait_exit(&mut compositor.0, Duration::from_secs(10)).success());
    drop(stdout);
    let log = std::fs::read_to_string(&log_path).expect("read the log");
    let me = format!(
        "connection budget: pid {} (uid {}) already has 4 connections, its limit",
        std::process::id(),
        rustix::process::getuid().as_raw()
    );
    let lines = log.lines().filter(|l| l.contains(&me)).count() as u64;
    assert!(lines >= 1, "no line names the refused identity: {log}");
    // Over 200 refusals; a burst per second, plus one at a window's start.
    let allowed = BURST * (flood.as_secs() + 2);
    assert!(allowed < 100, "the flood took {flood:?}: too slow to tell");
    assert!(
        lines <= allowed,
        "{lines} lines for over 200 refusals in {flood:?}:\n{log}"
    );
    drop(held);
}

/// The second process of the test above; does nothing when run on its own.
#[test]
fn second_process() {
    let Some(socket) = std::env::var_os(CHILD_SOCKET) else {
        return;
    };
    let _conn = connect(Path::new(&socket)).expect("a second process has its own budget");
    println!("second process: connected");
}
