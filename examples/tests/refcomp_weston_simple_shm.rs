//! `weston-simple-shm` (Debian `weston`), a third-party libwayland client,
//! against the in-process reference compositor: 100+ frames without a protocol
//! error, and its pattern in the screenshot.

mod common;

use std::{
    collections::HashSet,
    process::{Command, Stdio},
    time::Duration,
};

use accord_examples::refcomp::{spawn, Config, Screenshot, BACKGROUND};
use common::{near, signal, wait_exit, TempRuntimeDir};
use rustix::process::Signal;

const CLIENT: &str = "/usr/bin/weston-simple-shm";
/// weston-simple-shm's window size (clients/simple-shm.c).
const WINDOW: u32 = 250;

#[test]
fn weston_simple_shm_runs_100_frames_and_its_pattern_is_shown() {
    let dir = TempRuntimeDir::new("simple-shm");
    let compositor = spawn(Config {
        runtime_dir: Some(dir.path().to_owned()),
        ..Config::default()
    })
    .expect("start compositor");

    let mut client = Command::new(CLIENT)
        .envs(compositor.client_env())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start weston-simple-shm (Debian package weston)");

    // One commit per frame it draws, plus its initial empty commit.
    let (counters, done) =
        compositor.wait_for(Duration::from_secs(30), |c| c.surface_commits >= 101);
    let exited = client.try_wait().expect("try_wait");
    assert!(
        exited.is_none(),
        "weston-simple-shm exited by itself ({exited:?}) after {counters}: {}",
        stderr_of(client)
    );
    assert!(
        done,
        "weston-simple-shm committed too few frames: {counters}"
    );

    // Two more frame ticks, so its last commit is composited, then read back.
    let frames = compositor.counters().frames_rendered;
    compositor.wait_for(Duration::from_secs(5), |c| c.frames_rendered >= frames + 2);
    let png = dir.path().join("simple-shm.png");
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
    assert!(status.success(), "weston-simple-shm: {status}: {stderr}");
    // libwayland prints protocol errors to stderr ("... error ...").
    assert!(
        !stderr.contains("error"),
        "weston-simple-shm stderr: {stderr}"
    );
    let counters = compositor.stop().expect("stop compositor");
    // Shm is wrapped, not copied, to compose: the one copy is the screenshot.
    assert_eq!(counters.bytes_copied, 1280 * 720 * 4, "{counters}");
    assert!(counters.bytes_composited > 0, "{counters}");

    let shot = Screenshot::read_png(&png).expect("read png back");
    assert_eq!((shot.width, shot.height), (1280, 720));
    // Its window sits at (0, 0); the pattern has many colours.
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
    assert!(
        colours.len() > 50,
        "only {} distinct colours: no pattern",
        colours.len()
    );
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
