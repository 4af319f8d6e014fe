//! Issue 15 (the cost of a frame): how often the reference compositor's
//! event loop wakes per client frame, on the headless output with a real
//! client that waits for each frame callback. A frame needs two wake-ups:
//! the client's commit and the repaint that shows it (headless: the frame
//! timer; KMS: the page flip). The frame callback and the presentation
//! feedback are destructor events; sent outside client dispatch, their
//! destructors ran only when the Wayland backend's 1 ms timer woke the
//! loop once more, a third wake-up per frame, until the loop dispatched
//! them itself before flushing (`Compositor::run`).

mod common;

use accord_examples::{
    dmabuf_client::DmabufClient,
    refcomp::{spawn, Config, RendererKind},
};
use common::TempRuntimeDir;

#[test]
fn two_wakeups_per_frame() {
    let dir = TempRuntimeDir::new("wakeups15");
    let compositor = spawn(Config {
        runtime_dir: Some(dir.path().to_owned()),
        width: 320,
        height: 240,
        // Wake-ups are counted under Pixman (not in the GLES pass).
        renderer: RendererKind::Pixman,
        ..Config::default()
    })
    .expect("start compositor");
    let mut client = DmabufClient::connect(compositor.socket_path()).expect("connect");
    let size = client.open_window(false, (320, 240)).expect("window");
    let buffers = client.allocate_shm(size, 3).expect("shm buffers");
    client.request_feedback().expect("wp_presentation");
    // Warm up: the first frames map the window.
    for b in buffers.iter().take(3) {
        client.present(b).expect("present");
    }

    const FRAMES: u64 = 60;
    let before = compositor.loop_iterations();
    for i in 0..FRAMES {
        client.present(&buffers[i as usize % 3]).expect("present");
    }
    let wakeups = compositor.loop_iterations() - before;
    client.wait_for_feedback().expect("every feedback answered");
    let presented = client.feedback().summary_from(0).presented;
    assert!(presented >= FRAMES, "{presented} frames presented");
    // Two per frame, and a little slack for the 1 s maintenance timer and
    // a commit that arrives in two reads on a loaded machine; three per
    // frame is the extra destructor wake-up.
    assert!(
        wakeups <= 2 * FRAMES + FRAMES / 4,
        "{wakeups} event-loop wake-ups for {FRAMES} frames (expected about {})",
        2 * FRAMES
    );
    println!(
        "{wakeups} event-loop wake-ups for {FRAMES} frames ({:.2} per frame)",
        wakeups as f64 / FRAMES as f64
    );
}
