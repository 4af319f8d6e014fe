//! `examples/minimal-embed.rs` is built and run with each renderer (Pixman,
//! and GLES on EGL's software device); a client negotiates a collection
//! against it through `accord-client` with the compositor as a participant
//! (a surface's token: the offered pairs are the live renderer's), writes
//! the buffer, and commits it to the surface, which the example uploads
//! into its renderer.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};

use accord_client::{Accord, Constraints, MemoryKind, Usage, DRM_FORMAT_XRGB8888, MOD_LINEAR};
use common::artifacts::{example_binary, KillOnDrop};
use common::TempRuntimeDir;
use wayland_client::globals::{registry_queue_init, GlobalListContents};
use wayland_client::protocol::{
    wl_buffer::WlBuffer, wl_compositor::WlCompositor, wl_registry::WlRegistry,
    wl_surface::WlSurface,
};
use wayland_client::{delegate_noop, Dispatch};

/// The client's own queue: a `wl_surface` to attach the buffer to.
struct Surfaces;
impl Dispatch<WlRegistry, GlobalListContents> for Surfaces {
    fn event(
        _: &mut Self,
        _: &WlRegistry,
        _: <WlRegistry as wayland_client::Proxy>::Event,
        _: &GlobalListContents,
        _: &wayland_client::Connection,
        _: &wayland_client::QueueHandle<Self>,
    ) {
    }
}
delegate_noop!(Surfaces: WlCompositor);
delegate_noop!(Surfaces: ignore WlSurface);
delegate_noop!(Surfaces: ignore WlBuffer);

#[test]
fn a_client_negotiates_against_the_minimal_embedding_with_pixman() {
    negotiate_against("pixman");
}

#[test]
fn a_client_negotiates_against_the_minimal_embedding_with_gles() {
    negotiate_against("gles");
}

fn negotiate_against(renderer: &str) {
    let exe = example_binary("minimal-embed");
    let dir = TempRuntimeDir::new(&format!("minimal-embed-{renderer}"));
    let child = Command::new(&exe)
        .arg(renderer)
        .env("XDG_RUNTIME_DIR", dir.path())
        .env_remove("WAYLAND_DISPLAY")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", exe.display()));
    let mut child = KillOnDrop(child);
    let mut line = String::new();
    let mut stdout = BufReader::new(child.0.stdout.take().expect("piped stdout"));
    stdout
        .read_line(&mut line)
        .expect("read the listening line");
    let socket = line
        .trim()
        .strip_prefix("minimal-embed: listening on WAYLAND_DISPLAY=")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));

    let stream = UnixStream::connect(dir.path().join(socket)).expect("connect");
    let conn = wayland_client::Connection::from_socket(stream).expect("connection");
    let accord = Accord::new(&conn).expect("the Accord global is advertised");
    let (globals, mut queue) = registry_queue_init::<Surfaces>(&conn).expect("registry");
    let wl_compositor: WlCompositor = globals
        .bind(&queue.handle(), 1..=6, ())
        .expect("wl_compositor");
    let surface = wl_compositor.create_surface(&queue.handle(), ());
    let token = accord.create_collection();
    token.set_name("embed-test");
    // The compositor takes part with what its renderer draws.
    token.duplicate().attach_to_surface(&surface);
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
    assert!(allocation.buffers.len() >= 3, "{allocation:?}");
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

    // Committed to the surface, the buffer is uploaded into the renderer.
    surface.attach(Some(&collection.wl_buffer(0)), 0, 0);
    surface.commit();
    queue.roundtrip(&mut Surfaces).expect("roundtrip");
    // Read in a thread: a line that never comes fails the test, not hangs it.
    let reader = std::thread::spawn(move || {
        line.clear();
        stdout.read_line(&mut line).map(|_| line)
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !reader.is_finished() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(
        reader.is_finished(),
        "minimal-embed printed no upload line in 30 s"
    );
    let line = reader.join().unwrap().expect("read the upload line");
    assert_eq!(
        line.trim(),
        format!("minimal-embed: {renderer} uploaded an Accord memfd buffer: Some(true)")
    );
    assert!(
        matches!(child.0.try_wait(), Ok(None)),
        "minimal-embed exited while serving"
    );
}
