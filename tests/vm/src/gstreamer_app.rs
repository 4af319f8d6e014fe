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

use std::{
    io::Read,
    path::PathBuf,
    process::{Command, ExitStatus, Stdio},
    time::Duration,
};

use accord_examples::refcomp::{spawn_with, Compositor, Config, CounterSnapshot, DrmOptions};
use accord_tests::waiting::within;

use crate::{
    common::CARD0,
    ensure,
    harness::{Outcome, TestResult},
};

/// Registry scan (about 14 s under TCG), and the frames.
const TIMEOUT: Duration = Duration::from_secs(300);

/// What one run of `accordsink-app` gave.
struct Run {
    status: ExitStatus,
    output: String,
    /// The compositor's counters over the run.
    delta: CounterSnapshot,
    /// Collections the compositor re-solved because the surface was shown
    /// differently (fullscreen, windowed).
    re_solves: u64,
}

/// `accordsink-app <args>` against a fresh compositor on card0.
fn run_app(tag: &str, args: &[&str]) -> Result<Run, String> {
    let dir: PathBuf = std::env::current_exe()
        .map_err(|e| e.to_string())?
        .parent()
        .ok_or("no binary directory")?
        .to_owned();
    let app = dir.join("accordsink-app");
    ensure!(
        dir.join("libgstaccord.so").exists() && app.exists(),
        "no libgstaccord.so and accordsink-app beside {} (tests/vm/run builds them: cargo build \
         --release -p gst-accord)",
        dir.display()
    );
    let runtime_dir = std::env::temp_dir().join(format!("accord-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&runtime_dir);
    std::fs::create_dir(&runtime_dir).map_err(|e| e.to_string())?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&runtime_dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| e.to_string())?;
    let config = Config {
        runtime_dir: Some(runtime_dir.clone()),
        ..Config::default()
    };
    let compositor = spawn_with(config, |config| {
        Compositor::drm(config, &DrmOptions::new(CARD0))
    })
    .map_err(|e| format!("compositor on {CARD0}: {e}"))?;
    let (_, settled) = compositor.wait_for(Duration::from_secs(30), |c| c.frames_rendered >= 2);
    ensure!(settled, "the compositor drew no start-up frames");
    let before = compositor.counters();
    let re_solves_before = compositor.surface_re_solves();

    let mut child = Command::new(&app)
        .args(args)
        .envs(compositor.client_env())
        .env("GST_PLUGIN_PATH", &dir)
        .env("GST_REGISTRY", runtime_dir.join("registry.bin"))
        .env("GST_DEBUG", "accordsink:4")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("accordsink-app: {e}"))?;
    let mut stdout = child.stdout.take().ok_or("no stdout")?;
    let mut stderr = child.stderr.take().ok_or("no stderr")?;
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let status = match within(TIMEOUT, || child.try_wait().ok().flatten()) {
        Ok(s) => s,
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("accordsink-app still running after {TIMEOUT:?}"));
        }
    };
    let output = format!(
        "{}\n{}",
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default()
    );
    // The client has exited: its surface's destruction (which counts an
    // update never shown as discarded) and a flip still pending are the
    // compositor's to finish before the counters are read.
    let _ = within(Duration::from_secs(5), || {
        compositor.surface_frames().is_empty().then_some(())
    });
    accord_examples::kms_run::settle(&compositor);
    let delta = compositor.counters().since(&before);
    let re_solves = compositor.surface_re_solves() - re_solves_before;
    compositor.stop().map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&runtime_dir);
    Ok(Run {
        status,
        output,
        delta,
        re_solves,
    })
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
    ensure!(
        run.status.success(),
        "accordsink-app: {}:\n{output}",
        run.status
    );
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
    ensure!(
        run.status.success(),
        "accordsink-app: {}:\n{output}",
        run.status
    );
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
