//! C interop: the protocol XML passes the C `wayland-scanner` in strict mode,
//! and `examples/c-client` (libwayland-client plus the generated code only)
//! negotiates, maps, paints and attaches a buffer against a compositor.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use accord_examples::refcomp::{spawn, Config};
use common::artifacts::{build_c_client, KillOnDrop};
use common::{wait_exit, TempRuntimeDir};

fn protocol_xml() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../protocol/buffer-collection-v1.xml")
}

#[test]
fn wayland_scanner_accepts_the_xml_in_strict_mode() {
    let dir = TempRuntimeDir::new("scanner");
    for mode in ["client-header", "server-header", "private-code"] {
        let out = dir.path().join(mode);
        let result = Command::new("wayland-scanner")
            .args(["-s", mode])
            .arg(protocol_xml())
            .arg(&out)
            .output()
            .expect("run wayland-scanner (Debian: libwayland-bin)");
        assert!(
            result.status.success() && result.stderr.is_empty(),
            "wayland-scanner -s {mode}: {}: {}",
            result.status,
            String::from_utf8_lossy(&result.stderr)
        );
        let code = std::fs::read_to_string(&out).expect("generated file");
        assert!(
            code.contains("wp_buffer_collection_v1_interface"),
            "{mode} output lacks the collection interface"
        );
    }
}

/// `DRM_FORMAT_XRGB8888` as the C client prints it.
const NEGOTIATED: &str =
    "c-client: negotiated format=XR24 modifier=0x0 size=96x48 buffers=2 memory=memfd";

#[test]
fn c_client_negotiates_and_its_buffer_is_shown() {
    let dir = TempRuntimeDir::new("c-client");
    let exe = build_c_client(dir.path());
    let server = accord_tests::TestServer::start();

    let output = Command::new(&exe)
        .env("XDG_RUNTIME_DIR", dir.path())
        .env("WAYLAND_DISPLAY", &server.socket)
        .stdin(Stdio::null())
        .output()
        .expect("run the C client");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "C client: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            NEGOTIATED,
            // 96 * 4 bytes is already a multiple of the 64-byte alignment.
            "c-client: buffer 0 plane 0 offset=0 stride=384 bytes=18432",
            "c-client: presented",
        ],
        "stderr:\n{stderr}"
    );

    // The compositor drew the committed buffer at (0, 0) on black: the four
    // quadrants the C client painted through its mapping, then black.
    let pixels = server
        .output()
        .expect("the compositor rendered the surface");
    let (w, _) = accord_tests::OUTPUT_SIZE;
    let at = |x: usize, y: usize| {
        let i = (y * w as usize + x) * 4;
        // ARGB8888 in memory (little endian): B, G, R, A.
        [pixels[i + 2], pixels[i + 1], pixels[i], pixels[i + 3]]
    };
    for (x, y, rgba, what) in [
        (5, 3, [255, 0, 0, 255], "top left red"),
        (47, 23, [255, 0, 0, 255], "top left red"),
        (48, 0, [0, 255, 0, 255], "top right green"),
        (95, 23, [0, 255, 0, 255], "top right green"),
        (0, 24, [0, 0, 255, 255], "bottom left blue"),
        (47, 47, [0, 0, 255, 255], "bottom left blue"),
        (48, 24, [255, 255, 255, 255], "bottom right white"),
        (95, 47, [255, 255, 255, 255], "bottom right white"),
        (96, 10, [0, 0, 0, 255], "black right of the surface"),
        (10, 48, [0, 0, 0, 255], "black below the surface"),
    ] {
        assert_eq!(at(x, y), rgba, "pixel ({x},{y}) should be {what}");
    }
}

/// The four quadrant colours the C client paints (RGBA), for a window at
/// (0, 0) of `w` x `h` pixels: (x, y, colour, what).
fn quadrant_samples(w: u32, h: u32) -> Vec<(u32, u32, [u8; 4], &'static str)> {
    let (red, green, blue, white) = (
        [255, 0, 0, 255],
        [0, 255, 0, 255],
        [0, 0, 255, 255],
        [255, 255, 255, 255],
    );
    vec![
        (1, 1, red, "top left red"),
        (w / 2 - 1, h / 2 - 1, red, "top left red"),
        (w / 2, 1, green, "top right green"),
        (w - 1, h / 2 - 1, green, "top right green"),
        (1, h / 2, blue, "bottom left blue"),
        (w / 2 - 1, h - 1, blue, "bottom left blue"),
        (w / 2, h / 2, white, "bottom right white"),
        (w - 1, h - 1, white, "bottom right white"),
    ]
}

#[test]
fn c_client_toplevel_is_shown_by_the_reference_compositor() {
    let dir = TempRuntimeDir::new("c-client-refcomp");
    let exe = build_c_client(dir.path());
    let compositor = spawn(Config {
        runtime_dir: Some(dir.path().to_owned()),
        ..common::config()
    })
    .expect("start the reference compositor");

    // --hold: keep the window until stdin closes, so it is on screen for
    // the screenshot.
    let mut client = KillOnDrop(
        Command::new(&exe)
            .args(["--size", "200x120", "--hold"])
            .envs(compositor.client_env())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the C client"),
    );
    let stdout = BufReader::new(client.0.stdout.take().expect("piped stdout"));
    let mut lines = Vec::new();
    for line in stdout.lines() {
        let line = line.expect("read the C client's output");
        let done = line == "c-client: presented";
        lines.push(line);
        if done {
            break;
        }
    }
    if lines.last().map(String::as_str) != Some("c-client: presented") {
        let _ = client.0.wait();
        let stderr = stderr_of(&mut client.0);
        panic!("the C client stopped before presenting: {lines:?}\nstderr: {stderr}");
    }
    assert_eq!(
        lines,
        [
            "c-client: negotiated format=XR24 modifier=0x0 size=200x120 buffers=2 memory=memfd",
            // 800 bytes rounded up to the 64-byte stride alignment.
            "c-client: buffer 0 plane 0 offset=0 stride=832 bytes=99840",
            "c-client: presented",
        ]
    );

    // Two more frames so the commit is composited, then read back.
    let frames = compositor.counters().frames_rendered;
    compositor.wait_for(Duration::from_secs(5), |c| c.frames_rendered >= frames + 2);
    let shot = compositor.screenshot().expect("screenshot");
    for (x, y, rgba, what) in quadrant_samples(200, 120) {
        let p = shot.pixel(x, y).expect("inside the output");
        assert!(common::near(p, rgba), "({x},{y}) = {p:?}, want {what}");
    }
    let outside = shot.pixel(200, 60).expect("inside the output");
    assert!(
        !common::near(outside, [255, 255, 255, 255]),
        "(200,60) right of the window is not the client's"
    );

    drop(client.0.stdin.take()); // EOF: the client cleans up and exits
    let status = wait_exit(&mut client.0, Duration::from_secs(10));
    let stderr = stderr_of(&mut client.0);
    assert!(status.success(), "C client: {status}: {stderr}");
    assert!(stderr.is_empty(), "C client stderr: {stderr}");
    compositor.stop().expect("stop the compositor");
}

/// What an exited child wrote to its piped stderr.
fn stderr_of(child: &mut std::process::Child) -> String {
    use std::io::Read;
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    stderr
}
