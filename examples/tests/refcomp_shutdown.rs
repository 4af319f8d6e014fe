//! Stopping the reference compositor releases what its event loop holds:
//! the listening socket here, and on KMS the DRM device and its master
//! (the real-kernel tier runs one DRM compositor after another in one
//! process, and each needs the master the previous one held). A source
//! that keeps a strong handle to its own loop would leak the loop and all
//! of it; the socket file, removed when the listener drops, shows it.

mod common;

use std::os::unix::net::UnixStream;

use accord_examples::refcomp::{spawn, Config};
use common::TempRuntimeDir;

#[test]
fn stopping_the_compositor_drops_its_listener() {
    let dir = TempRuntimeDir::new("shutdown");
    let compositor = spawn(Config {
        runtime_dir: Some(dir.path().to_owned()),
        ..common::config()
    })
    .expect("start compositor");
    let path = compositor.socket_path().to_owned();
    // A client is accepted, so the listener's callback has run.
    let conn =
        wayland_client::Connection::from_socket(UnixStream::connect(&path).expect("connect"))
            .expect("wayland connection");
    conn.roundtrip().expect("roundtrip");

    compositor.stop().expect("stop");
    assert!(
        !path.exists(),
        "{} still exists after stop: the event loop (and its listener) was leaked",
        path.display()
    );
    assert!(
        UnixStream::connect(&path).is_err(),
        "a client still connects after stop"
    );
}
