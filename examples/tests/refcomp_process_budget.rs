//! Issue 21, item 1: the byte quota belongs to a client *process*, not to a
//! connection. Against the real `accord-compositor` binary: this test
//! process opens four connections and asks each for 512 MiB; only 1 GiB
//! (the default quota) is allocated, the rest fail `quota_exceeded` naming
//! the process. Meanwhile a second process (this test binary run again,
//! see [`second_process`]) still allocates its own 512 MiB.

mod common;

use std::os::unix::net::UnixStream;
use std::path::Path;

use accord_client::{Accord, FailureReason};
use common::budget::{half_a_gib, run_test_in_child};
use common::{start_compositor, TempRuntimeDir};
use wayland_client::Connection;

/// Set for the second process: the compositor's socket path.
const CHILD_SOCKET: &str = "ACCORD_BUDGET_SECOND_PROCESS_SOCKET";

fn accord(socket: &Path) -> (Connection, Accord) {
    let stream = UnixStream::connect(socket).expect("connect");
    let conn = Connection::from_socket(stream).expect("wayland connection");
    let accord = Accord::new(&conn).expect("the Accord global");
    (conn, accord)
}

#[test]
fn one_process_over_four_connections_gets_one_quota() {
    let dir = TempRuntimeDir::new("process-budget");
    let (mut compositor, _stdout, name) = start_compositor(&dir, &[]);
    let socket = dir.path().join(&name);
    let connections: Vec<_> = (0..4).map(|_| accord(&socket)).collect();
    let mut held = Vec::new();
    let mut refused = Vec::new();
    for (_conn, a) in &connections {
        match half_a_gib(a) {
            Ok(allocation) => held.push(allocation),
            Err(f) => refused.push(f),
        }
    }
    assert_eq!(held.len(), 2, "two halves fill this process's 1 GiB");
    assert_eq!(refused.len(), 2);
    let pid = std::process::id();
    for f in &refused {
        assert_eq!(f.reason, FailureReason::QuotaExceeded, "{f}");
        assert!(
            f.message.contains("byte quota") && f.message.contains("of its 1073741824"),
            "{f}"
        );
        assert!(
            f.message.contains(&format!("pid {pid}")),
            "names the process: {f}"
        );
    }
    // Another process has its own quota, while this one still holds 1 GiB.
    let stdout = run_test_in_child("second_process", CHILD_SOCKET, &socket);
    assert!(
        stdout.contains("second process: allocated 536870912 bytes"),
        "{stdout}"
    );
    drop((held, connections));
    let _ = compositor.kill();
    let _ = compositor.wait();
}

/// The second process of the test above; does nothing when run on its own.
#[test]
fn second_process() {
    let Some(socket) = std::env::var_os(CHILD_SOCKET) else {
        return;
    };
    let (_conn, a) = accord(Path::new(&socket));
    let (_collection, allocation) = half_a_gib(&a).expect("a second process has its own quota");
    println!(
        "second process: allocated {} bytes",
        allocation.buffers[0].size
    );
}
