//! `accordsink` (crate `gst-accord`) run as a user runs it: `gst-launch-1.0`
//! with `GST_PLUGIN_PATH` on the built plugin, against the in-process
//! reference compositor with the renderer under test
//! (`ACCORD_TEST_RENDERER`). The sink reports its counters in the
//! `accordsink-stats` element message it posts at EOS (`gst-launch-1.0 -m`
//! prints it); the compositor's counters and screenshot say what was shown.
//!
//! What `gst-launch-1.0` cannot express (an upstream that configures the
//! sink's pool with a `GstVideoAlignment`, or asks for
//! `memory:DMABuf`) runs through `accordsink-app`, a GStreamer
//! application of the same crate that loads the plugin the same way.
//!
//! The plugin is a cdylib that `cargo test` does not build:
//! `scripts/test` runs `cargo build --release -p gst-accord` first (which
//! builds `accordsink-app` beside it).

mod common;

use std::{
    io::Read,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use accord_examples::refcomp::{spawn, Config, Running, Screenshot, BACKGROUND};
use common::{wait_exit, TempRuntimeDir};

/// The directory of this build's `libgstaccord.so` (`target/<profile>`,
/// the parent of this test binary's `deps`).
fn plugin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>")
        .to_owned();
    assert!(
        dir.join("libgstaccord.so").exists(),
        "no {}/libgstaccord.so: build the plugin first (cargo build --release -p gst-accord; \
         scripts/test does)",
        dir.display()
    );
    dir
}

fn compositor(tag: &str) -> (TempRuntimeDir, Running) {
    let dir = TempRuntimeDir::new(tag);
    let compositor = spawn(Config {
        runtime_dir: Some(dir.path().to_owned()),
        ..common::config()
    })
    .expect("start compositor");
    (dir, compositor)
}

/// `gst-launch-1.0 -m <pipeline>` as a client of `compositor`.
fn gst_launch(compositor: &Running, pipeline: &str) -> Child {
    Command::new("gst-launch-1.0")
        .arg("-m")
        .args(pipeline.split_whitespace())
        .envs(compositor.client_env())
        .env("GST_PLUGIN_PATH", plugin_dir())
        .env("GST_DEBUG", "accordsink:4")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run gst-launch-1.0 (Debian package gstreamer1.0-tools)")
}

/// `accordsink-app <args>` as a client of `compositor`.
fn app(compositor: &Running, args: &str) -> Child {
    Command::new(plugin_dir().join("accordsink-app"))
        .args(args.split_whitespace())
        .envs(compositor.client_env())
        .env("GST_PLUGIN_PATH", plugin_dir())
        .env("GST_DEBUG", "accordsink:4")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run accordsink-app (cargo build --release -p gst-accord)")
}

/// The value after `key: ` on the app's line starting with `key:`.
fn app_line<'a>(output: &'a str, key: &str) -> &'a str {
    output
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}: ")))
        .unwrap_or_else(|| panic!("no {key}: line in:\n{output}"))
}

/// `name=value` of the app's `stats:` line.
fn app_stat(output: &str, name: &str) -> u64 {
    app_line(output, "stats")
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in the stats of:\n{output}"))
}

/// Waits for `child` (up to 60 s): its exit success and its stdout + stderr.
fn finish(mut child: Child) -> (bool, String) {
    let mut out = String::new();
    let mut err = String::new();
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    // Drained on threads: a full pipe would stall gst-launch.
    let t_out = std::thread::spawn(move || {
        let _ = stdout.read_to_string(&mut out);
        out
    });
    let t_err = std::thread::spawn(move || {
        let _ = stderr.read_to_string(&mut err);
        err
    });
    let status = wait_exit(&mut child, Duration::from_secs(60));
    let text = format!(
        "{}\n{}",
        t_out.join().unwrap_or_default(),
        t_err.join().unwrap_or_default()
    );
    (status.success(), text)
}

/// The sink's `accordsink-stats` message.
#[derive(Debug, PartialEq, Eq)]
struct Stats {
    frames_shown: u64,
    copies: u64,
    generations: u64,
    released_generations: u64,
}

fn stats(output: &str) -> Stats {
    let line = output
        .lines()
        .find(|l| l.contains("accordsink-stats,"))
        .unwrap_or_else(|| panic!("no accordsink-stats message in:\n{output}"));
    let field = |name: &str| -> u64 {
        line.split(&format!("{name}=(guint64)"))
            .nth(1)
            .and_then(|rest| rest.split([',', ';']).next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {line}"))
    };
    Stats {
        frames_shown: field("frames-shown"),
        copies: field("copies"),
        generations: field("generations"),
        released_generations: field("released-generations"),
    }
}

/// A screenshot once `commits` surface commits were made and two more
/// frames composited (so the last one is on screen).
fn screenshot_after(
    compositor: &Running,
    commits: u64,
    dir: &TempRuntimeDir,
    name: &str,
) -> Screenshot {
    let (counters, done) =
        compositor.wait_for(Duration::from_secs(30), |c| c.surface_commits >= commits);
    assert!(done, "fewer than {commits} commits: {counters}");
    let frames = compositor.counters().frames_rendered;
    compositor.wait_for(Duration::from_secs(5), |c| c.frames_rendered >= frames + 2);
    let shot = compositor.screenshot().expect("screenshot");
    // Kept next to the test's runtime dir while it runs, for a look.
    let _ = shot.write_png(&dir.path().join(name));
    shot
}

/// Every channel within `tolerance` (renderers round differently).
fn close(a: [u8; 4], b: [u8; 3], tolerance: u8) -> bool {
    a.iter().zip(b).all(|(&x, y)| x.abs_diff(y) <= tolerance)
}

/// videotestsrc's SMPTE pattern, its top seven bars left to right, as
/// GStreamer 1.22 writes them in BGRx (read back from a frame):
/// white, yellow, cyan, green, magenta, red, blue.
const SMPTE_BARS: [[u8; 3]; 7] = [
    [255, 255, 255],
    [255, 255, 0],
    [0, 255, 255],
    [0, 255, 0],
    [255, 0, 255],
    [255, 0, 0],
    [0, 0, 255],
];

/// Checks the seven bars across a `width`-wide window at the top left,
/// and the background right of it.
fn assert_smpte(shot: &Screenshot, width: u32) {
    for (i, want) in SMPTE_BARS.iter().enumerate() {
        let x = (2 * i as u32 + 1) * width / 14;
        let p = shot.pixel(x, 20).expect("in range");
        assert!(
            close(p, *want, 4),
            "bar {i} at ({x}, 20) is {p:?}, want {want:?}"
        );
    }
    let p = shot.pixel(width + 20, 20).expect("in range");
    assert!(common::near(p, BACKGROUND), "right of the window: {p:?}");
}

/// 120 frames of `videotestsrc` into the collection's own buffers: all
/// shown, none copied, one generation, and the SMPTE bars on screen.
#[test]
fn videotestsrc_120_frames_are_shown_without_a_copy() {
    let (dir, compositor) = compositor("gst-120");
    let child = gst_launch(
        &compositor,
        "videotestsrc num-buffers=120 pattern=smpte \
         ! video/x-raw,format=BGRx,width=320,height=240,framerate=30/1 ! accordsink",
    );
    let shot = screenshot_after(&compositor, 30, &dir, "smpte.png");
    let (ok, output) = finish(child);
    assert!(ok, "gst-launch-1.0 failed:\n{output}");
    assert_eq!(
        stats(&output),
        Stats {
            frames_shown: 120,
            copies: 0,
            generations: 1,
            released_generations: 0
        },
        "{output}"
    );
    assert_smpte(&shot, 320);
    let counters = compositor.stop().expect("stop compositor");
    assert!(counters.surface_commits >= 120, "{counters}");
    // The one CPU copy under Pixman is the screenshot (memfd buffers are
    // composed in place); GLES uploads them.
    common::assert_copied(
        counters.bytes_copied,
        1280 * 720 * 4,
        320 * 240 * 4,
        &counters.to_string(),
    );
}

/// The caps change mid-stream (`concat` of a 320x240 stream and a
/// 640x480 one): the sink re-commits the collection, gets a second
/// generation and keeps going without a copy; the first generation is
/// released once the compositor let go of it; the larger picture is shown.
#[test]
fn a_caps_change_mid_stream_renegotiates_and_keeps_going() {
    let (dir, compositor) = compositor("gst-caps");
    let child = gst_launch(
        &compositor,
        "concat name=c ! accordsink \
         videotestsrc num-buffers=30 pattern=smpte \
         ! video/x-raw,format=BGRx,width=320,height=240,framerate=30/1 ! c. \
         videotestsrc num-buffers=60 pattern=smpte \
         ! video/x-raw,format=BGRx,width=640,height=480,framerate=30/1 ! c.",
    );
    // Past the switch: commit 30 is the last small frame.
    let shot = screenshot_after(&compositor, 60, &dir, "caps-change.png");
    let (ok, output) = finish(child);
    assert!(ok, "gst-launch-1.0 failed:\n{output}");
    assert_eq!(
        stats(&output),
        Stats {
            frames_shown: 90,
            copies: 0,
            generations: 2,
            released_generations: 1
        },
        "{output}"
    );
    assert_smpte(&shot, 640);
    compositor.stop().expect("stop compositor");
}

/// Upstream that does not use the sink's pool (`tee` proposes none): each
/// frame is copied once into a collection buffer, and counted.
#[test]
fn buffers_from_elsewhere_are_copied_once_and_counted() {
    let (_dir, compositor) = compositor("gst-copy");
    let child = gst_launch(
        &compositor,
        "videotestsrc num-buffers=30 \
         ! video/x-raw,format=BGRx,width=320,height=240,framerate=60/1 ! tee ! accordsink",
    );
    let (ok, output) = finish(child);
    assert!(ok, "gst-launch-1.0 failed:\n{output}");
    let s = stats(&output);
    assert_eq!((s.frames_shown, s.copies), (30, 30), "{output}");
    compositor.stop().expect("stop compositor");
}

/// NV12 is not a format the host's compositor shows from memfd buffers
/// (Pixman has no YUV; GLES on the host's software device imports no
/// dma-buf): the negotiation fails, and the element error carries the
/// collection's reason and the participants in conflict.
#[test]
fn a_failed_negotiation_is_an_element_error_naming_the_conflict() {
    let (_dir, compositor) = compositor("gst-fail");
    let child = gst_launch(
        &compositor,
        "videotestsrc num-buffers=10 ! video/x-raw,format=NV12,width=320,height=240 ! accordsink",
    );
    let (ok, output) = finish(child);
    assert!(!ok, "gst-launch-1.0 succeeded:\n{output}");
    let error = output
        .lines()
        .find(|l| l.starts_with("ERROR: from element"))
        .unwrap_or_else(|| panic!("no element error in:\n{output}"));
    for part in [
        "GstAccordSink:accordsink0",
        "Accord negotiation failed: no_common_format",
        "accordsink0 and compositor for wl_surface@",
    ] {
        assert!(error.contains(part), "{part:?} missing from {error:?}");
    }
    compositor.stop().expect("stop compositor");
}

/// `gst-inspect-1.0 accordsink` lists the element and documents its own
/// properties.
#[test]
fn gst_inspect_lists_accordsink_with_documented_properties() {
    let out = Command::new("gst-inspect-1.0")
        .arg("accordsink")
        .env("GST_PLUGIN_PATH", plugin_dir())
        .output()
        .expect("run gst-inspect-1.0");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("Long-name                Accord video sink"),
        "{text}"
    );
    assert!(text.contains("video/x-raw(memory:DMABuf)"), "{text}");
    for (name, blurb) in [
        (
            "fullscreen",
            "Ask the compositor to show the window fullscreen",
        ),
        ("frames-shown", "Frames attached to the window so far"),
        ("copies", "copied once into a pool buffer"),
        ("generations", "Collection generations negotiated so far"),
        ("generation", "generation of the last frame shown"),
        ("released-generations", "Older generations released so far"),
    ] {
        let line = text
            .lines()
            // gst-inspect pads names to 20 columns: a name of 20 has
            // the colon right after it.
            .find(|l| {
                let l = l.trim_start();
                l.starts_with(&format!("{name} ")) || l.starts_with(&format!("{name}:"))
            })
            .unwrap_or_else(|| panic!("property {name} not listed:\n{text}"));
        assert!(line.contains(blurb), "{name}: {line:?}");
    }
}

/// The bars `accordsink-app` paints, as the screenshot reads them (RGB).
const APP_BARS: [[u8; 3]; 4] = [[255, 255, 255], [255, 255, 0], [0, 255, 255], [0, 255, 0]];

/// An upstream that asks for padding (8 rows above, 24 below, 16 columns
/// left, 48 right of a 320x240 picture) and 64-byte strides, as a decoder
/// does: the sink re-commits the collection at the coded size 384x272
/// (generation 2, generation 1 released), the video meta points past the
/// padding with the negotiated stride, every buffer is one memory, and the
/// window shows the picture alone: the bars from its top-left corner to
/// x = 319, the background right of it, none of the red padding.
#[test]
fn upstream_alignment_is_applied_and_the_padding_cropped() {
    let (dir, compositor) = compositor("gst-align");
    let child = app(
        &compositor,
        "push --sync --frames 90 --padding 8,24,16,48 --stride-mask 63",
    );
    let shot = screenshot_after(&compositor, 30, &dir, "aligned.png");
    let (ok, output) = finish(child);
    assert!(ok, "accordsink-app failed:\n{output}");
    assert_eq!(app_line(&output, "config"), "accepted", "{output}");
    // 384 pixels of 4 bytes: 1536, a multiple of 64.
    let stride = 1536;
    assert_eq!(
        app_line(&output, "meta"),
        format!(
            "320x240 offsets=[{}] strides=[{stride}]",
            8 * stride + 16 * 4
        ),
        "{output}"
    );
    assert!(
        app_line(&output, "memories").starts_with("1 size="),
        "{output}"
    );
    assert_eq!(
        (
            app_stat(&output, "frames-shown"),
            app_stat(&output, "copies"),
            app_stat(&output, "generation"),
            app_stat(&output, "released-generations"),
        ),
        (90, 0, 2, 1),
        "{output}"
    );
    for (i, want) in APP_BARS.iter().enumerate() {
        for x in [i as u32 * 80 + 2, i as u32 * 80 + 77] {
            for y in [2, 120, 237] {
                let p = shot.pixel(x, y).expect("in range");
                assert!(
                    close(p, *want, 4),
                    "bar {i} at ({x}, {y}) is {p:?}, want {want:?}"
                );
            }
        }
    }
    for (x, y) in [(322, 20), (340, 120), (20, 242), (20, 260)] {
        let p = shot.pixel(x, y).expect("in range");
        assert!(
            common::near(p, BACKGROUND),
            "({x}, {y}) is {p:?}: not the background"
        );
    }
    compositor.stop().expect("stop compositor");
}

/// A stride alignment the compositor cannot give (64 MiB: a buffer past
/// the protocol's byte limit): the pool config is refused and corrected
/// to the pool's own layout, the element posts a warning with the
/// collection's reason, and the stream goes on in the buffers it had.
#[test]
fn an_alignment_the_compositor_cannot_meet_is_an_element_warning_naming_the_reason() {
    let (_dir, compositor) = compositor("gst-align-refused");
    let (ok, output) = finish(app(&compositor, "push --frames 10 --stride-mask 0x3ffffff"));
    assert!(ok, "accordsink-app failed:\n{output}");
    assert!(
        app_line(&output, "config").starts_with("refused; the pool has padding Some((0, 0, 0, 0))"),
        "{output}"
    );
    let warning = app_line(&output, "warning");
    for part in [
        "Accord cannot lay the buffers out as upstream asks",
        "stride alignment 67108864",
        "too_large",
        "the collection's reason: too_large",
        "GstAccordSink:accordsink0",
    ] {
        assert!(warning.contains(part), "{part:?} missing from {warning:?}");
    }
    assert_eq!(
        app_line(&output, "meta"),
        "320x240 offsets=[0] strides=[1280]",
        "{output}"
    );
    assert_eq!(
        (
            app_stat(&output, "frames-shown"),
            app_stat(&output, "copies"),
            app_stat(&output, "generations"),
        ),
        (10, 0, 1),
        "{output}"
    );
    compositor.stop().expect("stop compositor");
}

/// A stride mask past what the sink asks of any compositor (2^31 bytes):
/// refused before a re-commit, with an element warning saying why; the
/// stream goes on in the pool's buffers.
#[test]
fn an_alignment_the_sink_cannot_express_is_an_element_warning_too() {
    let (_dir, compositor) = compositor("gst-align-inexpressible");
    let (ok, output) = finish(app(
        &compositor,
        "push --frames 10 --stride-mask 0x7fffffff",
    ));
    assert!(ok, "accordsink-app failed:\n{output}");
    assert!(
        app_line(&output, "config").starts_with("refused"),
        "{output}"
    );
    let warning = app_line(&output, "warning");
    assert!(
        warning.starts_with(
            "Accord cannot lay the buffers out as upstream asks: plane 0's stride mask \
             0x7fffffff asks for more than 1073741824-byte alignment"
        ),
        "{warning}"
    );
    assert_eq!(
        (
            app_stat(&output, "frames-shown"),
            app_stat(&output, "copies"),
            app_stat(&output, "generations")
        ),
        (10, 0, 1),
        "{output}"
    );
    compositor.stop().expect("stop compositor");
}

/// The headless compositor's buffers are memfds, not dma-bufs: the sink's
/// caps query leaves `memory:DMABuf` out, and an upstream asking for it
/// is not negotiated.
#[test]
fn memory_dmabuf_caps_are_not_negotiable_over_memfd() {
    let (_dir, compositor) = compositor("gst-dmabuf-caps");
    let (ok, output) = finish(app(&compositor, "push --dmabuf --frames 5"));
    assert!(!ok, "accordsink-app succeeded:\n{output}");
    let caps = app_line(&output, "caps");
    assert!(caps.starts_with("video/x-raw, format="), "{caps}");
    assert!(!caps.contains("memory:DMABuf"), "{caps}");
    assert_eq!(app_line(&output, "accept-caps"), "false", "{output}");
    assert!(
        app_line(&output, "error").starts_with("not negotiated"),
        "{output}"
    );
    compositor.stop().expect("stop compositor");
}
