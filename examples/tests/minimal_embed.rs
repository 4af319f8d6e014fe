//! `examples/minimal-embed.rs` is built and run; a client negotiates a
//! collection against it through `accord-client` and writes the buffer.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};

use accord_client::{Accord, Constraints, MemoryKind, Usage, DRM_FORMAT_XRGB8888, MOD_LINEAR};
use common::artifacts::{example_binary, KillOnDrop};
use common::TempRuntimeDir;

#[test]
fn a_client_negotiates_against_the_minimal_embedding() {
    let exe = example_binary("minimal-embed");
    let dir = TempRuntimeDir::new("minimal-embed");
    let child = Command::new(&exe)
        .env("XDG_RUNTIME_DIR", dir.path())
        .env_remove("WAYLAND_DISPLAY")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", exe.display()));
    let mut child = KillOnDrop(child);
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().expect("piped stdout"))
        .read_line(&mut line)
        .expect("read the listening line");
    let socket = line
        .trim()
        .strip_prefix("minimal-embed: listening on WAYLAND_DISPLAY=")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));

    let stream = UnixStream::connect(dir.path().join(socket)).expect("connect");
    let conn = wayland_client::Connection::from_socket(stream).expect("connection");
    let accord = Accord::new(&conn).expect("the Accord global is advertised");
    let token = accord.create_collection();
    token.set_name("embed-test");
    let collection = token.bind();
    collection.commit(
        &Constraints::new()
            .usage(Usage::CpuWrite)
            .format(DRM_FORMAT_XRGB8888, MOD_LINEAR)
            .min_size(33, 17)
            .stride_alignment(64)
            .buffers(3),
    );
    let allocation = collection.wait_allocated().expect("allocated");
    assert_eq!(allocation.format, DRM_FORMAT_XRGB8888);
    assert_eq!(allocation.modifier, MOD_LINEAR);
    assert_eq!((allocation.width, allocation.height), (33, 17));
    assert_eq!(allocation.memory, MemoryKind::Memfd);
    assert_eq!(allocation.buffers.len(), 3);
    let plane = &allocation.buffers[0].planes[0];
    assert_eq!(plane.stride, 192, "33 * 4 bytes rounded up to 64");

    // The memory is real and writable: a pattern written through one
    // mapping reads back through a second, independent one.
    {
        let mut map = allocation.buffers[0].map().expect("map");
        for (i, b) in map.iter_mut().enumerate() {
            *b = (i % 251) as u8;
        }
    }
    let map = allocation.buffers[0].map().expect("map again");
    assert!(map.iter().enumerate().all(|(i, b)| *b == (i % 251) as u8));
    assert!(
        matches!(child.0.try_wait(), Ok(None)),
        "minimal-embed exited while serving"
    );
}
