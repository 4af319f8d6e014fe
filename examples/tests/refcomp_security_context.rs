//! Issue 21: a sandboxed app is one identity, whatever its processes.
//! Against the real `accord-compositor`: this test process, as a sandbox
//! engine, creates a `wp_security_context_v1` listener (engine
//! `accord-test`, app `org.accord.Test`), then, as the app, connects through
//! it and allocates 2 × 512 MiB, the app's whole 1 GiB quota. A second
//! process (this test binary run again, see [`child`]) connecting through
//! the same listener is refused `quota_exceeded` naming the app; a third
//! connecting to the main socket allocates its own 512 MiB. Clients of the
//! listener do not see the security-context global, and closing the
//! context's close fd stops the listener.

mod common;

use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::Duration;

use accord_client::Accord;
use accord_tests::waiting::within;
use common::artifacts::KillOnDrop;
use common::budget::{half_a_gib, run_test_in_child};
use common::{start_compositor, TempRuntimeDir};
use wayland_client::globals::{registry_queue_init, GlobalList, GlobalListContents};
use wayland_client::protocol::wl_registry::{self, WlRegistry};
use wayland_client::{delegate_noop, Connection, Dispatch, QueueHandle};
use wayland_protocols::wp::security_context::v1::client::{
    wp_security_context_manager_v1::WpSecurityContextManagerV1,
    wp_security_context_v1::WpSecurityContextV1,
};

/// Set for the child processes: the socket to connect to.
const CHILD_SOCKET: &str = "ACCORD_SECURITY_CONTEXT_CHILD_SOCKET";
const MANAGER: &str = "wp_security_context_manager_v1";

struct Engine;

impl Dispatch<WlRegistry, GlobalListContents> for Engine {
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
// Neither interface has events.
delegate_noop!(Engine: WpSecurityContextManagerV1);
delegate_noop!(Engine: WpSecurityContextV1);

fn connect(socket: &Path) -> Connection {
    let stream = UnixStream::connect(socket).expect("connect");
    Connection::from_socket(stream).expect("wayland connection")
}

fn lists_manager(globals: &GlobalList) -> bool {
    globals
        .contents()
        .with_list(|list| list.iter().any(|g| g.interface == MANAGER))
}

#[test]
fn a_sandboxed_app_is_one_identity_over_its_processes() {
    let dir = TempRuntimeDir::new("security-context");
    let (compositor, _stdout, name) = start_compositor(&dir, &[]);
    let _compositor = KillOnDrop(compositor);
    let main_socket = dir.path().join(&name);

    // The sandbox engine: an ordinary client of the main socket.
    let engine = connect(&main_socket);
    let (globals, mut queue) = registry_queue_init::<Engine>(&engine).expect("registry");
    let manager: WpSecurityContextManagerV1 = globals
        .bind(&queue.handle(), 1..=1, ())
        .expect("the security-context global, for a client of the main socket");
    let app_socket = dir.path().join("org.accord.Test.sock");
    let listen = UnixListener::bind(&app_socket).expect("bind the app's socket");
    let (close_ours, close_theirs) = UnixStream::pair().expect("close fd pair");
    let context =
        manager.create_listener(listen.as_fd(), close_theirs.as_fd(), &queue.handle(), ());
    context.set_sandbox_engine("accord-test".into());
    context.set_app_id("org.accord.Test".into());
    context.commit();
    queue.roundtrip(&mut Engine).expect("roundtrip");
    // The compositor holds its own copies now.
    drop((listen, close_theirs));

    // This process as the app: its whole quota over one connection.
    let app = connect(&app_socket);
    let (app_globals, _q) = registry_queue_init::<Engine>(&app).expect("registry via the app");
    assert!(
        !lists_manager(&app_globals),
        "a sandboxed client sees {MANAGER}"
    );
    let accord = Accord::new(&app).expect("the Accord global via the app's socket");
    let held = [
        half_a_gib(&accord).expect("first half of the app's quota"),
        half_a_gib(&accord).expect("second half of the app's quota"),
    ];

    // Another process of the same app shares its quota: refused.
    let second = run_test_in_child("child", CHILD_SOCKET, &app_socket);
    assert!(
        second.contains("child: refused QuotaExceeded:"),
        "the app's second process: {second}"
    );
    assert!(
        second.contains("app org.accord.Test"),
        "the refusal names the app: {second}"
    );
    // A process on the main socket is itself.
    let third = run_test_in_child("child", CHILD_SOCKET, &main_socket);
    assert!(
        third.contains("child: allocated 536870912 bytes"),
        "a process on the main socket: {third}"
    );

    // The close fd hung up: the compositor stops listening there.
    drop(close_ours);
    within(Duration::from_secs(5), || {
        UnixStream::connect(&app_socket).is_err()
    })
    .expect("the listener is closed with its close fd");

    drop((held, accord, app, context, manager, engine));
}

/// A child process of the test above; does nothing when run on its own.
#[test]
fn child() {
    let Some(socket) = std::env::var_os(CHILD_SOCKET) else {
        return;
    };
    let conn = connect(Path::new(&socket));
    let accord = Accord::new(&conn).expect("the Accord global");
    match half_a_gib(&accord) {
        Ok((_collection, allocation)) => {
            println!("child: allocated {} bytes", allocation.buffers[0].size)
        }
        Err(f) => println!("child: refused {:?}: {}", f.reason, f.message),
    }
}

/// A hostile `listen_fd`: a connected socket, not a listening one, made
/// readable so the compositor tries to `accept` on it (EINVAL). That one
/// listener goes; the compositor keeps serving (smithay's listener source
/// returns the error, which would end calloop's `run`).
#[test]
fn a_listen_fd_that_cannot_accept_removes_only_its_listener() {
    let dir = TempRuntimeDir::new("security-context-bad-fd");
    let (compositor, _stdout, name) = start_compositor(&dir, &[]);
    let mut compositor = KillOnDrop(compositor);
    let main_socket = dir.path().join(&name);

    let engine = connect(&main_socket);
    let (globals, mut queue) = registry_queue_init::<Engine>(&engine).expect("registry");
    let manager: WpSecurityContextManagerV1 = globals
        .bind(&queue.handle(), 1..=1, ())
        .expect("the security-context global");
    let (not_listening, mut peer) = UnixStream::pair().expect("socket pair");
    let (_close_ours, close_theirs) = UnixStream::pair().expect("close fd pair");
    let context = manager.create_listener(
        not_listening.as_fd(),
        close_theirs.as_fd(),
        &queue.handle(),
        (),
    );
    context.set_app_id("org.accord.Hostile".into());
    context.commit();
    queue.roundtrip(&mut Engine).expect("roundtrip");
    std::io::Write::write_all(&mut peer, b"x").expect("make it readable");

    // Still serving: the engine's connection and a new one both work.
    for _ in 0..3 {
        queue
            .roundtrip(&mut Engine)
            .expect("the engine's connection");
        let (_g, _q) = registry_queue_init::<Engine>(&connect(&main_socket))
            .expect("a new client after the bad listener");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        compositor.0.try_wait().expect("try_wait").is_none(),
        "the compositor exited"
    );
    drop((context, manager, engine));
}
