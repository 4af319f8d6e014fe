//! Issue 17 in the real-kernel tier, through `accordsink-app` (the
//! GStreamer application of crate `gst-accord`, built beside the plugin
//! in `target/release`; it loads `accordsink` from `GST_PLUGIN_PATH` as any
//! application does) against the reference compositor on card0:
//!
//! - Generations the compositor starts: `videotestsrc ! accordsink`
//!   windowed, then fullscreen, then windowed again, while it plays. Each
//!   toggle re-solves the collection in the compositor (its participant
//!   offers the primary plane and camps two buffers when fullscreen, one
//!   when composited) and pushes a new generation; the sink adopts it
//!   (RECONFIGURE upstream, a pool on the new generation), so the frames
//!   shown move from generation 1 to 2 to 3, and the older generations
//!   are released once the compositor let go of them.
//! - `memory:DMABuf`: the sink's caps query offers it over card0's
//!   dma-bufs, and an upstream that never maps the buffers pushes N of
//!   them fullscreen: all shown, none copied by the sink, no byte copied
//!   or composited by the compositor, scanned out directly.

use std::time::Duration;

use crate::{
    ensure,
    gstreamer::{plugin_dir, run_gst, GstRun},
    harness::{Outcome, TestResult},
};

/// Registry scan (about 14 s under TCG), and the frames.
const TIMEOUT: Duration = Duration::from_secs(300);

/// `accordsink-app <args>` against a fresh compositor on card0.
fn run_app(tag: &str, args: &[&str]) -> Result<GstRun, String> {
    let app = plugin_dir()?.join("accordsink-app");
    ensure!(
        app.exists(),
        "no accordsink-app beside the plugin (tests/vm/run builds it: cargo build --release -p \
         gst-accord)"
    );
    run_gst(tag, &app, args, TIMEOUT)
}

/// The lines starting with `key: `, without it.
fn lines<'a>(output: &'a str, key: &'a str) -> impl Iterator<Item = &'a str> {
    output
        .lines()
        .filter_map(move |l| l.strip_prefix(key)?.strip_prefix(": "))
}

/// `name=value` of a `key=value ...` line.
fn field(line: &str, name: &str) -> Option<u64> {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
}

pub fn accordsink_adopts_the_generations_fullscreen_toggles_start() -> TestResult {
    let run = run_app(
        "gst-toggle",
        &[
            "toggle",
            "--size",
            "1280x720",
            "--toggles",
            "2",
            "--frames",
            "10",
        ],
    )?;
    let output = &run.output;
    // Step 0 windowed, 1 fullscreen, 2 windowed: the frames shown come
    // from generation 1, 2, 3.
    let steps: Vec<(Option<u64>, Option<u64>)> = lines(output, "step")
        .map(|l| (field(l, "generation"), field(l, "frames-shown")))
        .collect();
    let generations: Vec<Option<u64>> = steps.iter().map(|s| s.0).collect();
    ensure!(
        generations == [Some(1), Some(2), Some(3)],
        "generations shown per step {generations:?}, expected 1, 2, 3:\n{output}"
    );
    // One re-solve per toggle: the sink's one collection (its memory
    // probe was gone before the first toggle).
    ensure!(
        run.re_solves == 2,
        "{} re-solves for 2 toggles:\n{output}",
        run.re_solves
    );
    let stats = lines(output, "stats")
        .next()
        .ok_or_else(|| format!("no stats line:\n{output}"))?;
    ensure!(
        field(stats, "copies") == Some(0)
            && field(stats, "generation") == Some(3)
            && field(stats, "generations") == Some(3),
        "the sink: {stats}"
    );
    // Generations 1 and 2, each once the compositor let go of its buffers
    // (the newest is never released).
    ensure!(
        field(stats, "released-generations") == Some(2),
        "the sink: {stats}"
    );
    let pushed = output
        .lines()
        .filter(|l| l.contains("the compositor started generation"))
        .count();
    ensure!(
        pushed == 2,
        "{pushed} generations the compositor started, expected 2:\n{output}"
    );
    println!(
        "accordsink: generations {generations:?} over windowed → fullscreen → windowed, {} \
         re-solves; the sink: {stats}; compositor: {} direct, {} composited",
        run.re_solves, run.delta.frames_direct, run.delta.frames_composited
    );
    Ok(Outcome::Passed)
}

/// Buffers pushed (`accordsink-app push --dmabuf`).
const DMABUF_FRAMES: u64 = 30;

pub fn accordsink_memory_dmabuf_on_card0_copies_nothing() -> TestResult {
    let frames = DMABUF_FRAMES.to_string();
    let run = run_app(
        "gst-dmabuf",
        &[
            "push",
            "--dmabuf",
            "--fullscreen",
            "--size",
            "1280x720",
            "--frames",
            &frames,
        ],
    )?;
    let output = &run.output;
    let caps = lines(output, "caps").next().unwrap_or_default();
    ensure!(
        caps.contains("video/x-raw(memory:DMABuf)"),
        "the caps query over card0 offers no memory:DMABuf: {caps}"
    );
    ensure!(
        lines(output, "memories")
            .next()
            .is_some_and(|m| m.starts_with("1 ")),
        "not one memory per buffer:\n{output}"
    );
    let stats = lines(output, "stats")
        .next()
        .ok_or_else(|| format!("no stats line:\n{output}"))?;
    ensure!(
        field(stats, "frames-shown") == Some(DMABUF_FRAMES) && field(stats, "copies") == Some(0),
        "the sink: {stats}"
    );
    let d = &run.delta;
    // The one composed frame allowed is the background alone, redrawn
    // when the window goes away at the end: it reads no client byte.
    ensure!(
        d.bytes_copied == 0 && d.bytes_composited == 0 && d.frames_composited <= 1,
        "copied {} bytes, composited {} frames reading {} bytes ({d})",
        d.bytes_copied,
        d.frames_composited,
        d.bytes_composited
    );
    ensure!(
        d.frames_direct > 0 && d.frames_presented + d.frames_discarded >= DMABUF_FRAMES,
        "{} direct, {} presented + {} discarded of {DMABUF_FRAMES} ({d})",
        d.frames_direct,
        d.frames_presented,
        d.frames_discarded
    );
    let placement = output
        .lines()
        .find(|l| l.contains("generation 1:"))
        .unwrap_or("no generation line");
    println!(
        "accordsink memory:DMABuf: {DMABUF_FRAMES}/{DMABUF_FRAMES} shown, 0 copies; compositor: \
         {} direct, 0 bytes copied or composited; {}",
        d.frames_direct,
        placement
            .split("generation 1:")
            .nth(1)
            .unwrap_or(placement)
            .trim()
    );
    Ok(Outcome::Passed)
}
