//! The two-process demo end to end: `accord-demo` runs the reference
//! compositor, the producer and the consumer as separate processes; its
//! report's numbers and the PNG it writes are checked here independently.

mod common;

use std::process::Command;

use accord_examples::{
    demo::{pattern, results::Results, XRGB8888},
    refcomp::{Screenshot, BACKGROUND},
};
use common::{near, TempRuntimeDir};

#[test]
fn demo_report_and_png_show_every_frame_shared_read_once_never_copied() {
    let dir = TempRuntimeDir::new("demo");
    let png = dir.path().join("demo.png");
    let frames = 40u32;
    let (r, stdout) = run_demo(&["--frames", &frames.to_string()], &png);
    let num = |k: &str| {
        r.parse::<u64>(k)
            .unwrap_or_else(|e| panic!("{e}\n{stdout}"))
    };

    assert_eq!(num("frames_produced"), u64::from(frames));
    assert_eq!(num("frames_verified"), u64::from(frames));
    // Every frame the producer submitted was composited (the producer waits
    // for each frame's callback), each read once, whole: 500x300x4 bytes.
    assert_eq!(num("frames_shown"), u64::from(frames), "{stdout}");
    assert_eq!(
        num("bytes_composited"),
        u64::from(frames) * 500 * 300 * 4,
        "{stdout}"
    );
    assert!(num("frames_composited") >= u64::from(frames), "{stdout}");
    // The one CPU copy is the demo's screenshot of the 1280x720 output.
    assert_eq!(num("bytes_copied"), 1280 * 720 * 4, "{stdout}");
    assert_eq!(r.get("inodes_equal"), Some("true"));
    // The late viewer (attach_token at frame 21) got the same buffers and
    // verified every frame from then on.
    assert_eq!(
        num("late_frames_verified"),
        u64::from(frames / 2),
        "{stdout}"
    );
    assert_eq!(r.get("late_inodes_equal"), Some("true"), "{stdout}");
    // One allocation charged while all hold it: 3 buffers of 2048 x 300.
    assert_eq!(
        num("charged_bytes"),
        num("one_allocation_bytes"),
        "{stdout}"
    );
    assert_eq!(num("one_allocation_bytes"), num("buffers") * 2048 * 300);
    assert_eq!(r.get("settings_equal"), Some("true"));
    assert_eq!(r.get("memory"), Some("memfd"));
    assert_eq!(num("format"), u64::from(XRGB8888));
    assert_eq!(num("modifier"), 0, "LINEAR");
    assert_eq!((num("width"), num("height")), (500, 300));
    // The consumer's 256-byte stride alignment: 500 px * 4 = 2000 → 2048.
    assert_eq!(num("stride"), 2048);
    // Producer 2 + consumer 1 camping buffers at least.
    assert!(num("buffers") >= 3, "{stdout}");
    assert_eq!(num("screenshot_frame"), u64::from(frames));

    // The PNG: the producer's window at (0, 0) shows the last frame, every
    // pixel; the rest of the output is background.
    let shot = Screenshot::read_png(&png).expect("read the PNG");
    assert_eq!((shot.width, shot.height), (1280, 720));
    let decoded = pattern::decode(500, |x, y| shot.pixel(x, y).map(|[r, g, b, _]| [r, g, b]));
    assert_eq!(decoded, Some(frames));
    for y in 0..300 {
        for x in 0..500 {
            assert_eq!(
                shot.pixel(x, y),
                Some(pattern::rgba(frames, 500, x, y)),
                "PNG pixel ({x}, {y})"
            );
        }
    }
    for (x, y) in [(500, 0), (0, 300), (1279, 719)] {
        assert!(near(shot.pixel(x, y).expect("in range"), BACKGROUND));
    }
}

#[test]
fn demo_programs_reject_bad_arguments_with_a_usage_error() {
    for (bin, args) in [
        (env!("CARGO_BIN_EXE_accord-demo"), &["--frames", "0"][..]),
        (env!("CARGO_BIN_EXE_accord-demo"), &["--nope"]),
        (env!("CARGO_BIN_EXE_accord-demo-producer"), &[]),
        (
            env!("CARGO_BIN_EXE_accord-demo-producer"),
            &["--channel", "x", "--size", "10x10"],
        ),
        (env!("CARGO_BIN_EXE_accord-demo-consumer"), &[]),
        (
            env!("CARGO_BIN_EXE_camera-to-scanout"),
            &["--format", "XR2"],
        ),
        (env!("CARGO_BIN_EXE_camera-to-scanout"), &["--frames", "0"]),
    ] {
        let out = Command::new(bin).args(args).output().expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bin} {args:?}: {stderr}");
        assert!(stderr.contains("try '--help'"), "{bin} {args:?}: {stderr}");
    }
}

/// `--resize-to`: the producer renegotiates (recommit) before frame
/// frames/4 + 1; the consumer follows the new generation and verifies
/// every frame, the late viewer joins the new generation, the compositor
/// shows every frame, and only the new generation is charged at the end.
#[test]
fn demo_follows_a_resolution_change() {
    let dir = TempRuntimeDir::new("demo-resize");
    let png = dir.path().join("demo.png");
    let frames = 12u32;
    let frame_count = frames.to_string();
    let (r, stdout) = run_demo(
        &[
            "--frames",
            &frame_count,
            "--size",
            "256x128",
            "--resize-to",
            "320x200",
        ],
        &png,
    );
    let num = |k: &str| {
        r.parse::<u64>(k)
            .unwrap_or_else(|e| panic!("{e}\n{stdout}"))
    };
    assert_eq!(num("resized_at"), 4);
    assert_eq!(
        (num("generation"), num("consumer_generation")),
        (2, 2),
        "{stdout}"
    );
    assert_eq!((num("width"), num("height")), (320, 200));
    assert_eq!(num("frames_verified"), u64::from(frames), "{stdout}");
    assert_eq!(num("frames_shown"), u64::from(frames), "{stdout}");
    // Frames 1-3 at 256x128, 4-12 at 320x200, each read once.
    assert_eq!(
        num("bytes_composited"),
        3 * 256 * 128 * 4 + 9 * 320 * 200 * 4,
        "{stdout}"
    );
    assert_eq!(num("late_frames_verified"), u64::from(frames / 2));
    assert_eq!(r.get("late_inodes_equal"), Some("true"), "{stdout}");
    assert_eq!(r.get("inodes_equal"), Some("true"), "{stdout}");
    // Generation 1 drained: only generation 2 is charged.
    assert_eq!(
        num("charged_bytes"),
        num("one_allocation_bytes"),
        "{stdout}"
    );
    assert_eq!(num("one_allocation_bytes"), num("buffers") * 1280 * 200);
    assert_eq!(num("screenshot_frame"), u64::from(frames));
    assert_eq!(r.get("screenshot_matches"), Some("true"), "{stdout}");
}

#[test]
fn demo_programs_help_documents_every_flag() {
    for (bin, flags) in [
        (
            env!("CARGO_BIN_EXE_accord-demo"),
            &["--frames", "--size", "--resize-to", "--png", "--help"][..],
        ),
        (
            env!("CARGO_BIN_EXE_accord-demo-producer"),
            &[
                "--channel",
                "--frames",
                "--size",
                "--hold",
                "--resize-to",
                "--help",
            ],
        ),
        (
            env!("CARGO_BIN_EXE_accord-demo-consumer"),
            &["--channel", "--hold", "--help"],
        ),
        (
            env!("CARGO_BIN_EXE_camera-to-scanout"),
            &["--card", "--video", "--format", "--frames", "--help"],
        ),
    ] {
        let out = Command::new(bin).arg("--help").output().expect("run");
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{bin}: {out:?}");
        let problems = accord_examples::cli::help_problems(&help, flags);
        assert!(problems.is_empty(), "{bin}: {problems:?}\n{help}");
    }
}

/// Runs `accord-demo` with `args` and `--png png`; its result line, parsed,
/// and its stdout (for messages). A failed run fails the test.
fn run_demo(args: &[&str], png: &std::path::Path) -> (Results, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_accord-demo"))
        .args(args)
        .arg("--png")
        .arg(png)
        .output()
        .expect("run accord-demo");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "accord-demo failed:\n{stdout}\n{stderr}"
    );
    let line = stdout.lines().last().expect("a result line");
    let r = Results::from_line("accord-demo", line).expect("result line");
    (r, stdout)
}
