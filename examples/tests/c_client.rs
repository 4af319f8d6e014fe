//! C interop: the protocol XML passes the C `wayland-scanner` in strict mode,
//! and `examples/c-client` (libwayland-client plus the generated code only)
//! negotiates, maps, paints and attaches a buffer against a compositor.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::artifacts::build_c_client;
use common::TempRuntimeDir;

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
