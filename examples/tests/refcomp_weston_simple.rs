//! `weston-simple-shm` and `weston-simple-egl` (Debian `weston`),
//! third-party libwayland clients, against the in-process reference
//! compositor with the renderer under test (`ACCORD_TEST_RENDERER`): 100+
//! frames without a protocol error, and their picture in the screenshot.
//! weston-simple-egl renders with Mesa's software EGL and hands its frames
//! over as `wl_shm` buffers (llvmpipe on the host has no dma-buf path).

mod common;

use std::{
    collections::HashSet,
    process::{Command, Stdio},
    time::Duration,
};

use accord_examples::refcomp::{spawn, Config, Screenshot, BACKGROUND};
use common::{near, signal, wait_exit, TempRuntimeDir};
use rustix::process::Signal;

/// Both clients' window size (clients/simple-shm.c, simple-egl.c).
const WINDOW: u32 = 250;

/// Its picture: a pattern of many colours filling the window.
#[test]
fn weston_simple_shm_runs_100_frames_and_its_pattern_is_shown() {
    runs_100_frames_and_is_shown("/usr/bin/weston-simple-shm", &|shot, colours| {
        assert!(
            colours > 50,
            "only {colours} distinct colours: no pattern ({})",
            shot.width
        );
    });
}

/// Its picture: a triangle of three colour gradients on a half-transparent
/// black window, composited over the background. The triangle turns about
/// its vertical axis (so it may be seen edge-on), which always keeps the
/// window's centre column (x = 125 ± 2) lit from y = 90 to 180: brighter there
/// than the window's translucent black (about 0x1b1b26 over the background).
#[test]
fn weston_simple_egl_runs_100_frames_and_its_triangle_is_shown() {
    runs_100_frames_and_is_shown("/usr/bin/weston-simple-egl", &|shot, _| {
        for y in (90..=180).step_by(10) {
            let lit = (WINDOW / 2 - 2..=WINDOW / 2 + 2).any(|x| {
                let p = shot.pixel(x, y).expect("in range");
                p[..3].iter().any(|&c| c > 0x40)
            });
            assert!(lit, "no triangle around ({}, {y})", WINDOW / 2);
        }
    });
}

/// Runs `client` for 100+ frames, then checks its window with `picture`
/// (the screenshot, and the distinct colours sampled in the window).
fn runs_100_frames_and_is_shown(client: &'static str, picture: &dyn Fn(&Screenshot, usize)) {
    let client_name = client.rsplit('/').next().unwrap_or(client);
    let dir = TempRuntimeDir::new(client_name);
    let compositor = spawn(Config {
        runtime_dir: Some(dir.path().to_owned()),
        ..common::config()
    })
    .expect("start compositor");

    let mut client = Command::new(client)
        .envs(compositor.client_env())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {client} (Debian package weston): {e}"));

    // One commit per frame it draws, plus its initial empty commit.
    let (counters, done) =
        compositor.wait_for(Duration::from_secs(30), |c| c.surface_commits >= 101);
    let exited = client.try_wait().expect("try_wait");
    assert!(
        exited.is_none(),
        "{client_name} exited by itself ({exited:?}) after {counters}: {}",
        stderr_of(client)
    );
    assert!(done, "{client_name} committed too few frames: {counters}");

    // Two more frame ticks, so its last commit is composited, then read back.
    let frames = compositor.counters().frames_rendered;
    compositor.wait_for(Duration::from_secs(5), |c| c.frames_rendered >= frames + 2);
    let png = dir.path().join(format!("{client_name}.png"));
    compositor
        .screenshot()
        .expect("screenshot")
        .write_png(&png)
        .expect("write png");

    // Its SIGINT handler leaves the main loop; a clean exit means no protocol
    // error was pending either.
    signal(&client, Signal::INT);
    let status = wait_exit(&mut client, Duration::from_secs(10));
    let stderr = stderr_of(client);
    assert!(status.success(), "{client_name}: {status}: {stderr}");
    // libwayland prints protocol errors to stderr ("... error ...").
    assert!(!stderr.contains("error"), "{client_name} stderr: {stderr}");
    let counters = compositor.stop().expect("stop compositor");
    // Shm is wrapped, not copied, by Pixman: the one copy is the screenshot.
    common::assert_copied(
        counters.bytes_copied,
        1280 * 720 * 4,
        1,
        &counters.to_string(),
    );
    assert!(counters.bytes_composited > 0, "{counters}");

    let shot = Screenshot::read_png(&png).expect("read png back");
    assert_eq!((shot.width, shot.height), (1280, 720));
    // Its window sits at (0, 0); the picture has many colours.
    let mut colours = HashSet::new();
    let mut non_background = 0;
    for y in (0..WINDOW).step_by(5) {
        for x in (0..WINDOW).step_by(5) {
            let p = shot.pixel(x, y).expect("in range");
            non_background += usize::from(!near(p, BACKGROUND));
            colours.insert(p);
        }
    }
    assert!(
        non_background > 2000,
        "only {non_background}/2500 samples differ from the background"
    );
    picture(&shot, colours.len());
    // Everything right of and below the window is background.
    for y in (0..720).step_by(7) {
        for x in (WINDOW..1280).step_by(7) {
            let p = shot.pixel(x, y).expect("in range");
            assert!(near(p, BACKGROUND), "({x},{y}) = {p:?} outside the window");
        }
    }
    for y in (WINDOW..720).step_by(7) {
        for x in (0..WINDOW).step_by(7) {
            let p = shot.pixel(x, y).expect("in range");
            assert!(near(p, BACKGROUND), "({x},{y}) = {p:?} below the window");
        }
    }
}

fn stderr_of(mut child: std::process::Child) -> String {
    let _ = child.kill();
    child
        .wait_with_output()
        .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
        .unwrap_or_default()
}
