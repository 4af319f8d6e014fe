//! Renegotiation's trigger 1 in the reference compositor, over a real
//! socket: a toplevel's fullscreen state is what its `attach_surface`
//! participant offers, so toggling it re-solves the collection (counted
//! by `surface_re_solves`). Headless there is no plane to offer either
//! way: the re-solve keeps the decision, so the client hears nothing (a
//! kept decision is told to the proposer, the compositor's participant),
//! nothing is allocated, and the frames go on from the same buffers. On
//! KMS the same toggles make new generations: the real-kernel tier's
//! `refcomp_fullscreen_windowed_fullscreen_on_each_output`.

mod common;

use std::{
    os::unix::net::UnixStream,
    time::{Duration, Instant},
};

use accord_client::{Accord, Collection, Constraints, Renegotiation, Usage, MOD_LINEAR};
use accord_examples::{
    demo::{pattern, window::Window, XRGB8888},
    refcomp::{spawn, Config, RendererKind, Running},
};
use common::TempRuntimeDir;
use wayland_client::Connection;

const SIZE: (u32, u32) = (64, 32);

/// The next renegotiation outcome of `collection`, or `None` once `wait`
/// passed without one.
fn next_outcome(accord: &Accord, collection: &Collection, wait: Duration) -> Option<Renegotiation> {
    let deadline = Instant::now() + wait;
    loop {
        accord.roundtrip().expect("connection");
        if let Some(r) = collection.poll_renegotiation() {
            return Some(r);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// After a change of how the window is shown: `re_solves` collections
/// re-solved in all (waited for), and nothing for the client to hear.
fn expect_kept(
    compositor: &Running,
    accord: &Accord,
    collection: &Collection,
    re_solves: u64,
    what: &str,
) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while compositor.surface_re_solves() < re_solves && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(compositor.surface_re_solves(), re_solves, "{what}");
    let heard = next_outcome(accord, collection, Duration::from_millis(200));
    assert!(heard.is_none(), "{what}: the decision stays, yet {heard:?}");
}

#[test]
fn toggling_fullscreen_re_solves_the_attached_collection() {
    let dir = TempRuntimeDir::new("accord-fullscreen");
    let compositor = spawn(Config {
        runtime_dir: Some(dir.path().to_owned()),
        renderer: RendererKind::Pixman,
        ..Config::default()
    })
    .expect("start compositor");
    let stream = UnixStream::connect(compositor.socket_path()).expect("connect");
    let conn = Connection::from_socket(stream).expect("wayland connection");
    let mut window = Window::open(&conn, "accord fullscreen toggles").expect("toplevel");
    window.roundtrip().expect("roundtrip");
    assert_eq!(window.outputs.len(), 1, "one headless output");

    let accord = Accord::new(&conn).expect("Accord global");
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
    assert_eq!(allocation.generation, 1);
    // Windowed: the compositor camps one buffer, the client two.
    assert_eq!(allocation.buffers.len(), 3);
    let wl = window.buffers(&collection, 3);

    let mut frame = 0;
    let mut present = |window: &mut Window| {
        frame += 1;
        let index = frame as usize % 2;
        let buffer = &allocation.buffers[index];
        let layout = pattern::Layout::of(buffer).expect("a plane");
        pattern::draw(frame, layout, &mut buffer.map().expect("map")).expect("fits");
        window.present(&wl, index).expect("present");
    };
    present(&mut window);
    // The gauge follows at frame ticks; the frame above was one.
    let charged = compositor.charged_bytes();
    assert!(charged > 0, "the collection is charged");

    // Fullscreen: the participant is re-derived and the collection
    // re-solved; no plane headless, so the decision stays.
    let size = window.set_fullscreen(None).expect("fullscreen");
    assert_eq!(size, (1280, 720), "fullscreen at the output's size");
    expect_kept(
        &compositor,
        &accord,
        &collection,
        1,
        "windowed -> fullscreen",
    );
    present(&mut window);

    // The same output again: nothing changed, nothing is re-solved.
    let output = window.outputs[0].clone();
    window.set_fullscreen(Some(&output)).expect("fullscreen");
    expect_kept(
        &compositor,
        &accord,
        &collection,
        1,
        "the same output is no change",
    );

    // Windowed again: re-solved, kept.
    let size = window.unset_fullscreen().expect("windowed");
    assert_eq!(size, (0, 0), "windowed: the client chooses its size");
    expect_kept(
        &compositor,
        &accord,
        &collection,
        2,
        "fullscreen -> windowed",
    );
    present(&mut window);

    // Nothing was allocated: the same bytes are charged, and the frames
    // went on from generation 1.
    assert_eq!(compositor.charged_bytes(), charged);
    assert_eq!(collection.generation(), Some(1));
    let counters = compositor.stop().expect("stop");
    assert!(counters.foreign_frames_shown >= 3, "{counters}");
}
