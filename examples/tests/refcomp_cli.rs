//! The `accord-compositor` process: its printed socket line, `wayland-info`
//! against it (the compositor's fd census back at its baseline after), signals,
//! counters on exit, and `--screenshot`.

mod common;

use std::{
    io::{BufRead, BufReader},
    process::{ChildStdout, Command},
    time::Duration,
};

use accord_examples::refcomp::{CounterSnapshot, Screenshot, BACKGROUND};
use common::{
    assert_fds_back, fd_census, near, signal, start_compositor as start, wait_exit, TempRuntimeDir,
    COMPOSITOR_BIN as BIN,
};
use rustix::process::Signal;

/// The `counters` line printed on exit.
fn exit_counters(stdout: BufReader<ChildStdout>) -> CounterSnapshot {
    let lines: Vec<String> = stdout.lines().map_while(Result::ok).collect();
    let line = lines
        .iter()
        .find_map(|l| l.strip_prefix("accord-compositor: counters "))
        .unwrap_or_else(|| panic!("no counters line in {lines:?}"));
    CounterSnapshot::parse(line).unwrap_or_else(|| panic!("bad counters line {line:?}"))
}

#[test]
fn wayland_info_lists_the_globals_and_sigterm_prints_counters() {
    let dir = TempRuntimeDir::new("cli-info");
    let (mut child, stdout, name) = start(&dir, &["--socket", "accord-test"]);
    assert_eq!(name, "accord-test");
    let fds = fd_census(&child);

    let out = Command::new("wayland-info")
        .env("XDG_RUNTIME_DIR", dir.path())
        .env("WAYLAND_DISPLAY", &name)
        .output()
        .expect("run wayland-info (Debian package wayland-utils)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "wayland-info failed: {text}");
    let version_of = |interface: &str| -> Option<u32> {
        text.lines().find_map(|l| {
            let rest = l.strip_prefix(&format!("interface: '{interface}',"))?;
            rest.split("version:")
                .nth(1)?
                .split(',')
                .next()?
                .trim()
                .parse()
                .ok()
        })
    };
    for interface in [
        "wl_compositor",
        "wl_subcompositor",
        "wl_shm",
        "xdg_wm_base",
        "wl_seat",
        "wl_output",
    ] {
        assert!(
            version_of(interface).is_some(),
            "{interface} missing from:\n{text}"
        );
    }
    assert_eq!(
        version_of("wp_buffer_collection_manager_v1"),
        Some(2),
        "the Accord global missing or at another version:\n{text}"
    );
    let dmabuf = version_of("zwp_linux_dmabuf_v1").expect("zwp_linux_dmabuf_v1 listed");
    assert!(
        dmabuf >= 4,
        "zwp_linux_dmabuf_v1 version {dmabuf} has no default feedback"
    );
    assert!(
        text.contains("width: 1280 px, height: 720 px"),
        "output mode missing:\n{text}"
    );

    // wayland-info bound every global and left: the compositor closed its
    // connection and everything it got (e.g. the keymap memfd it sent).
    assert_fds_back(&child, &fds, "after wayland-info");

    // Let a few 60 Hz frame ticks pass so the exit counters are not all zero.
    std::thread::sleep(Duration::from_millis(200));
    signal(&child, Signal::TERM);
    let status = wait_exit(&mut child, Duration::from_secs(10));
    assert!(status.success(), "compositor exited with {status}");
    let counters = exit_counters(stdout);
    assert!(counters.frames_rendered > 0, "{counters}");
    assert_eq!(counters.bytes_copied, 0);
}

#[test]
fn screenshot_after_frames_then_exit() {
    let dir = TempRuntimeDir::new("cli-shot");
    let png = dir.path().join("shot.png");
    let png_arg = png.to_str().expect("utf-8 temp path");
    let (mut child, stdout, _) = start(
        &dir,
        &[
            "--size",
            "320x200",
            "--screenshot",
            png_arg,
            "--frames",
            "3",
            "--exit-after-screenshot",
        ],
    );
    let status = wait_exit(&mut child, Duration::from_secs(20));
    assert!(status.success(), "compositor exited with {status}");
    let counters = exit_counters(stdout);
    assert_eq!(counters.frames_rendered, 3, "stopped right after frame 3");
    // The screenshot is the run's one CPU copy; no client, nothing composed.
    assert_eq!(counters.bytes_copied, 320 * 200 * 4, "{counters}");
    assert_eq!(counters.bytes_composited, 0, "{counters}");

    let shot = Screenshot::read_png(&png).expect("read screenshot");
    assert_eq!((shot.width, shot.height), (320, 200));
    // No client: every pixel is the background.
    for (x, y) in [(0, 0), (319, 0), (0, 199), (319, 199), (160, 100)] {
        let p = shot.pixel(x, y).expect("in range");
        assert!(
            near(p, BACKGROUND),
            "({x},{y}) = {p:?}, want {BACKGROUND:?}"
        );
    }
}

#[test]
fn frames_limit_stops_after_that_many_frames() {
    let dir = TempRuntimeDir::new("cli-limit");
    let (mut child, stdout, _) = start(&dir, &["--frames-limit", "5"]);
    let status = wait_exit(&mut child, Duration::from_secs(20));
    assert!(status.success(), "compositor exited with {status}");
    assert_eq!(exit_counters(stdout).frames_rendered, 5);
}

#[test]
fn bad_arguments_are_rejected_with_a_message() {
    let out = Command::new(BIN)
        .args(["--frames", "0"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invalid value '0' for '--frames <N>': expected a whole number >= 1"),
        "{err}"
    );

    let out = Command::new(BIN)
        .args(["--max-connections-per-client", "0"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("for '--max-connections-per-client <N>': expected a whole number >= 1"),
        "{err}"
    );

    let out = Command::new(BIN).arg("--bogus").output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unexpected argument '--bogus'"));
}

#[test]
fn help_documents_every_flag() {
    let out = Command::new(BIN).arg("--help").output().expect("run");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    let flags = [
        "--drm",
        "--no-direct-scanout",
        "--socket",
        "--size",
        "--screenshot",
        "--frames",
        "--exit-after-screenshot",
        "--frames-limit",
        "--max-connections-per-client",
        "--renderer",
        "--help",
    ];
    let problems = accord_examples::cli::help_problems(&help, &flags);
    assert!(problems.is_empty(), "{problems:?}\n{help}");
}
