//! Test (c): a client plus an `attach_surface` participant against the
//! reference compositor. The collection's `wl_buffer`s (memfd memory) are
//! attached and committed; the read-back output equals the client's pixels
//! exactly, the replaced buffer is released, and the counters show each
//! frame read once to compose it and no copy but the test's screenshots.

mod common;

use std::os::unix::net::UnixStream;

use accord_client::{Accord, Constraints, MemoryKind, Usage, MOD_LINEAR};
use accord_examples::{
    demo::{pattern, window::Window, XRGB8888},
    refcomp::{spawn, Config, Screenshot, BACKGROUND},
};
use common::{near, TempRuntimeDir};
use wayland_client::Connection;

/// Not a multiple of 64 px, so rows are padded to the stride.
const SIZE: (u32, u32) = (150, 90);

/// Every pixel of the window equals frame `frame` of the pattern; the
/// pixels right of and below it are the background.
fn assert_shows(shot: &Screenshot, frame: u32) {
    let (w, h) = SIZE;
    for y in 0..h {
        for x in 0..w {
            assert_eq!(
                shot.pixel(x, y),
                Some(pattern::rgba(frame, w, x, y)),
                "pixel ({x}, {y}) of frame {frame}"
            );
        }
    }
    for (x, y) in [(w, 0), (w, h - 1), (0, h), (w + 40, h + 40)] {
        assert!(
            near(shot.pixel(x, y).expect("in range"), BACKGROUND),
            "({x}, {y}) is not background"
        );
    }
}

#[test]
fn collection_buffers_attached_to_a_surface_reach_the_output_read_in_place() {
    let dir = TempRuntimeDir::new("accord-c");
    let compositor = spawn(Config {
        runtime_dir: Some(dir.path().to_owned()),
        ..common::config()
    })
    .expect("start compositor");
    let stream = UnixStream::connect(compositor.socket_path()).expect("connect");
    let conn = Connection::from_socket(stream).expect("wayland connection");
    let mut window = Window::open(&conn, "accord test (c)").expect("toplevel");

    let accord = Accord::new(&conn).expect("the compositor offers the Accord global");
    let token = accord.create_collection();
    token.duplicate().attach_to_surface(&window.surface);
    let collection = token.bind();
    collection.commit(
        &Constraints::new()
            .usage(Usage::CpuWrite)
            .format(XRGB8888, MOD_LINEAR)
            .min_size(SIZE.0, SIZE.1)
            .max_size(SIZE.0, SIZE.1)
            .buffers(2),
    );
    let allocation = collection.wait_allocated().expect("allocated");
    assert_eq!(allocation.memory, MemoryKind::Memfd);
    assert_eq!(
        (allocation.format, allocation.modifier),
        (XRGB8888, MOD_LINEAR)
    );
    assert_eq!((allocation.width, allocation.height), SIZE);
    // Our 2 plus what the compositor participant camps on.
    assert!(allocation.buffers.len() >= 2, "{allocation:?}");

    let buffers = window.buffers(&collection, allocation.buffers.len() as u32);
    for (frame, index) in [(1u32, 0usize), (2, 1)] {
        let buffer = &allocation.buffers[index];
        let layout = pattern::Layout::of(buffer).expect("a plane");
        pattern::draw(frame, layout, &mut buffer.map().expect("map")).expect("fits");
        window.present(&buffers, index).expect("present");
        assert_shows(&compositor.screenshot().expect("screenshot"), frame);
    }
    window.roundtrip().expect("roundtrip");
    assert_eq!(
        window.state.releases,
        vec![0],
        "buffer 0 released once, buffer 1 kept"
    );
    assert_eq!(window.state.held[..2], [false, true]);

    let counters = compositor.stop().expect("stop");
    // Each memfd frame was read once, whole, to compose it (wrapped in
    // place: nothing copied to show it); the two screenshots are the only
    // copies, 1280x720x4 bytes each.
    let frame_bytes = u64::from(SIZE.0) * u64::from(SIZE.1) * 4;
    assert_eq!(counters.bytes_composited, 2 * frame_bytes, "{counters}");
    common::assert_copied(
        counters.bytes_copied,
        2 * 1280 * 720 * 4,
        frame_bytes,
        &counters.to_string(),
    );
    assert_eq!(counters.foreign_frames_shown, 2, "frames shown: {counters}");
}
