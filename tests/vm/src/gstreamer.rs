//! Issue 17: `accordsink` (crate `gst-accord`) in the real-kernel tier, as
//! a user runs it: `gst-launch-1.0 v4l2src device=/dev/video0
//! io-mode=dmabuf-import ! video/x-raw,format=BGRx,width=1280,height=720 !
//! accordsink fullscreen=true` against the reference compositor on card0
//! (virtio-gpu, mode 1280x720, one of vivid's webcam sizes). vivid fills
//! the collection's dma-bufs itself (`V4L2_MEMORY_DMABUF`) and the
//! compositor scans each one out: every frame that reaches the screen is
//! scanned out directly (presented zero-copy; one replaced before a page
//! flip is discarded, not composed), no byte copied or composited anywhere
//! (the sink's `copies`, the compositor's counters), the memory made by
//! card0 (the sink logs the collection's placement). The collection grows
//! for v4l2src, which configures the sink's pool for its driver's queue on
//! top of the sink's buffers.
//!
//! `sync=false`: every frame is shown as it comes. With the clock, basesink
//! drops frames that reach it late, and how late a live source's frames
//! are in a TCG guest measures the emulator, not the sink.
//!
//! The plugin is loaded from this binary's directory (`target/release`,
//! where `tests/vm/run` builds it) through `GST_PLUGIN_PATH`, with a
//! registry of the test's own (a fresh scan takes about 14 s under TCG).

use std::{
    io::Read,
    path::PathBuf,
    process::{Command, Stdio},
    time::Duration,
};

use accord_examples::refcomp::{spawn_with, Compositor, Config, CounterSnapshot, DrmOptions};
use accord_tests::waiting::within;

use crate::{
    common::CARD0,
    ensure,
    harness::{Outcome, TestResult},
};

/// Frames vivid captures (`num-buffers`).
const FRAMES: u64 = 60;
/// Registry scan, caps negotiation and 60 frames under TCG.
const TIMEOUT: Duration = Duration::from_secs(240);

/// This binary's directory (`target/release`): where `tests/vm/run` builds
/// the plugin and `accordsink-app`, and the `GST_PLUGIN_PATH` of a run.
pub(crate) fn plugin_dir() -> Result<PathBuf, String> {
    let dir: PathBuf = std::env::current_exe()
        .map_err(|e| e.to_string())?
        .parent()
        .ok_or("no binary directory")?
        .to_owned();
    ensure!(
        dir.join("libgstaccord.so").exists(),
        "no libgstaccord.so beside {} (tests/vm/run builds it: cargo build --release -p gst-accord)",
        dir.display()
    );
    Ok(dir)
}

/// What one GStreamer client run against a fresh compositor on card0 gave.
pub(crate) struct GstRun {
    /// stdout, then stderr.
    pub output: String,
    /// The compositor's counters over the run.
    pub delta: CounterSnapshot,
    /// Its counters when it stopped.
    pub at_exit: CounterSnapshot,
    /// Collections the compositor re-solved because the surface was shown
    /// differently (fullscreen, windowed).
    pub re_solves: u64,
}

/// Runs `program args` (a GStreamer client loading the plugin from
/// [`plugin_dir`], with a registry of its own, `accordsink:4` debug
/// output) against a fresh compositor on card0, whose start-up frames are
/// drawn before the baseline; `timeout` bounds the client. A client that
/// fails, or outlives `timeout`, is an error with its output. The counters
/// are read once the client's surface is gone and the compositor is quiet.
pub(crate) fn run_gst(
    tag: &str,
    program: &std::path::Path,
    args: &[&str],
    timeout: Duration,
) -> Result<GstRun, String> {
    let plugin_dir = plugin_dir()?;
    let name = program.display().to_string();
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
    // The start-up frames (the background) before the baseline.
    let (_, settled) = compositor.wait_for(Duration::from_secs(30), |c| c.frames_rendered >= 2);
    ensure!(settled, "the compositor drew no start-up frames");
    let before = compositor.counters();
    let re_solves_before = compositor.surface_re_solves();

    let mut child = Command::new(program)
        .args(args)
        .envs(compositor.client_env())
        .env("GST_PLUGIN_PATH", &plugin_dir)
        .env("GST_REGISTRY", runtime_dir.join("registry.bin"))
        .env("GST_DEBUG", "accordsink:4")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{name}: {e}"))?;
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
    let status = match within(timeout, || child.try_wait().ok().flatten()) {
        Ok(s) => s,
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{name} still running after {timeout:?}"));
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
    let at_exit = compositor.stop().map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&runtime_dir);
    ensure!(status.success(), "{name}: {status}:\n{output}");
    Ok(GstRun {
        output,
        delta,
        at_exit,
        re_solves,
    })
}

pub fn accordsink_v4l2_dmabuf_import_direct_scanout() -> TestResult {
    if !std::path::Path::new("/dev/video0").exists() {
        return Ok(Outcome::NotAvailable("no /dev/video0 (vivid)".into()));
    }
    let pipeline = format!(
        "-m v4l2src device=/dev/video0 io-mode=dmabuf-import num-buffers={FRAMES} \
         ! video/x-raw,format=BGRx,width=1280,height=720 ! accordsink fullscreen=true sync=false"
    );
    let args: Vec<&str> = pipeline.split_whitespace().collect();
    let GstRun {
        output,
        delta,
        at_exit: counters,
        ..
    } = run_gst("gst", "gst-launch-1.0".as_ref(), &args, TIMEOUT)?;

    // The one composed frame allowed is the background alone, redrawn
    // when the window goes away at the end: it reads no client byte.
    ensure!(
        delta.frames_composited <= 1 && delta.bytes_composited == 0 && delta.bytes_copied == 0,
        "composited {} frames, read {} bytes, copied {} bytes ({delta})",
        delta.frames_composited,
        delta.bytes_composited,
        delta.bytes_copied
    );
    ensure!(
        delta.frames_direct > 0 && delta.frames_zero_copy == delta.frames_presented,
        "{} frames direct, {} of {} presented zero-copy ({delta})",
        delta.frames_direct,
        delta.frames_zero_copy,
        delta.frames_presented
    );
    ensure!(
        delta.frames_presented + delta.frames_discarded >= FRAMES,
        "{} presented + {} discarded of {FRAMES} frames ({delta})",
        delta.frames_presented,
        delta.frames_discarded
    );
    let stats = output
        .lines()
        .find(|l| l.contains("accordsink-stats,"))
        .ok_or_else(|| format!("no accordsink-stats message:\n{output}"))?;
    let field = |name: &str| -> Option<u64> {
        stats
            .split(&format!("{name}=(guint64)"))
            .nth(1)?
            .split([',', ';'])
            .next()?
            .parse()
            .ok()
    };
    ensure!(
        field("frames-shown") == Some(FRAMES) && field("copies") == Some(0),
        "the sink: {stats}"
    );
    let placement = output
        .lines()
        .find(|l| l.contains("generation 1:"))
        .ok_or_else(|| format!("no generation line:\n{output}"))?;
    ensure!(
        placement.contains("/dev/dri/card0"),
        "the collection's memory is not card0's: {placement}"
    );
    // v4l2src configures the pool for its driver's queue on top of the
    // sink's buffers: the collection grows (a second generation).
    let grown = output
        .lines()
        .find(|l| l.contains("upstream asked for"))
        .and_then(|l| l.split("pool_for").last().or(Some(l)))
        .and_then(|l| l.split("generation ").nth(1))
        .unwrap_or("no growth")
        .trim()
        .to_owned();
    println!("accordsink: grown to generation {grown}");
    println!(
        "accordsink: {FRAMES}/{FRAMES} frames shown, 0 copies; compositor: {} direct, {} \
         presented ({} zero-copy), {} discarded (replaced before a flip), {} composited \
         (background only), 0 bytes read or copied; {}; the sink: {stats}; at exit: {counters}",
        delta.frames_direct,
        delta.frames_presented,
        delta.frames_zero_copy,
        delta.frames_discarded,
        delta.frames_composited,
        placement
            .split("generation 1:")
            .nth(1)
            .unwrap_or_default()
            .trim()
    );
    Ok(Outcome::Passed)
}
