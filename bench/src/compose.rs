//! `accord-bench compose` (issue 16): what one composited frame costs the
//! compositor with GLES (Mesa's llvmpipe on EGL's software device) against
//! Pixman, for the same scene, in the same run.
//!
//! The scene: `accord-compositor --renderer R` headless (1280x720 by
//! default), and `weston-simple-shm` (a real client: a 250x250 `wl_shm`
//! window redrawn every frame, so every output frame is composited with
//! that window damaged). A fresh compositor per run; the runs alternate
//! Pixman, GLES, Pixman, GLES… after one warm-up pair that is not kept.
//!
//! The cost of a run is the compositor **process's** CPU (the sum of
//! `sum_exec_runtime` over its threads, `/proc/<pid>/task/*/schedstat`:
//! llvmpipe rasterises on its own threads, which the event-loop thread
//! alone would not count) over a window of `--seconds`, divided by the
//! output frames composited in that window (the counters read through
//! SIGUSR1 at both ends). Also per frame: the bytes read to compose and the
//! bytes copied (GLES uploads each new `wl_shm` buffer into a texture).
//! The summary is the median of each run's value and the median of the
//! pairwise ratios GLES/Pixman.

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use accord_examples::cost::{alternate, list, median, ratios};
use accord_examples::refcomp::CounterSnapshot;
use rustix::process::{kill_process, Pid, Signal};

use crate::compositor_process::{self, Reap, TempDir};

pub struct Options {
    pub compositor: Option<PathBuf>,
    pub pairs: u16,
    pub seconds: f64,
    pub size: (u32, u32),
}

/// One run's cost per composited frame.
struct Sample {
    cpu_us: f64,
    read_bytes: f64,
    copied_bytes: f64,
    frames: u64,
}

pub fn run(o: &Options) -> Result<(), String> {
    let compositor = compositor_process::binary(&o.compositor)?;
    let client = "weston-simple-shm";
    Command::new(client)
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("{client}: {e} (Debian package weston)"))?;
    println!(
        "compose: {client} on a {}x{} headless output, {:.1} s measured per run, {} pairs \
         (+1 warm-up), Pixman then GLES",
        o.size.0, o.size.1, o.seconds, o.pairs
    );
    let (pixman, gles) = alternate(
        o.pairs,
        || one_run(&compositor, "pixman", o),
        || one_run(&compositor, "gles", o),
    )?;
    for (name, runs) in [("pixman", &pixman), ("gles", &gles)] {
        println!(
            "{name}: cpu us/frame {} | frames {} | bytes read/frame {} | bytes copied/frame {}",
            list(runs.iter().map(|s| s.cpu_us), 0),
            list(runs.iter().map(|s| s.frames as f64), 0),
            list(runs.iter().map(|s| s.read_bytes), 0),
            list(runs.iter().map(|s| s.copied_bytes), 0),
        );
    }
    let m = |v: &[Sample], f: fn(&Sample) -> f64| median(v.iter().map(f).collect());
    let ratio = median(ratios(&gles, &pixman, |s| s.cpu_us, |s| s.cpu_us));
    println!(
        "compose gles/pixman cpu per composited frame ratio: {ratio:.2} (medians: gles {:.0} us, \
         pixman {:.0} us; bytes copied/frame gles {:.0}, pixman {:.0})",
        m(&gles, |s| s.cpu_us),
        m(&pixman, |s| s.cpu_us),
        m(&gles, |s| s.copied_bytes),
        m(&pixman, |s| s.copied_bytes),
    );
    Ok(())
}

/// The CPU `pid` has used so far: the sum over its live threads.
fn process_cpu(pid: u32) -> Duration {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Duration::ZERO;
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map(Duration::from_nanos)
        .sum()
}

fn signal(pid: u32, signal: Signal) -> Result<(), String> {
    let pid = Pid::from_raw(pid as i32).ok_or("bad pid")?;
    kill_process(pid, signal).map_err(|e| format!("kill: {e}"))
}

/// The next `counters` line (after a SIGUSR1).
fn counters(lines: &mpsc::Receiver<String>) -> Result<CounterSnapshot, String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Ok(line) = lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        if let Some(c) = line.strip_prefix("accord-compositor: counters ") {
            return CounterSnapshot::parse(c).ok_or_else(|| format!("bad counters {c:?}"));
        }
    }
    Err("no counters line".into())
}

fn one_run(compositor: &Path, renderer: &str, o: &Options) -> Result<Sample, String> {
    let dir = TempDir(
        std::env::temp_dir().join(format!("accord-compose-{}-{renderer}", std::process::id())),
    );
    std::fs::create_dir_all(&dir.0).map_err(|e| format!("{}: {e}", dir.0.display()))?;
    let mut child = Command::new(compositor)
        .args(["--renderer", renderer, "--socket", "compose"])
        .arg("--size")
        .arg(format!("{}x{}", o.size.0, o.size.1))
        // weston 10's clients abort on xdg_wm_base 4's configure_bounds.
        .args(["--xdg-shell-version", "3"])
        .env("XDG_RUNTIME_DIR", &dir.0)
        .env("RUST_LOG", "warn")
        .env_remove("WAYLAND_DISPLAY")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("start {}: {e}", compositor.display()))?;
    let stdout = child.stdout.take().ok_or("stdout")?;
    let child = Reap(child);
    let pid = child.0.id();
    let lines = crate::compositor_process::listening_lines(stdout)?;
    let client = Command::new("weston-simple-shm")
        .env("XDG_RUNTIME_DIR", &dir.0)
        .env("WAYLAND_DISPLAY", "compose")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("weston-simple-shm: {e}"))?;
    let client = Reap(client);
    // Warm-up: the first frames compile shaders (GLES) and fault pages in.
    std::thread::sleep(Duration::from_secs(1));
    signal(pid, Signal::USR1)?;
    let before = counters(&lines)?;
    let cpu_before = process_cpu(pid);
    std::thread::sleep(Duration::from_secs_f64(o.seconds));
    let cpu = process_cpu(pid).saturating_sub(cpu_before);
    signal(pid, Signal::USR1)?;
    let delta = counters(&lines)?.since(&before);
    drop(client);
    drop(child);
    let frames = delta.frames_composited;
    if frames == 0 {
        return Err(format!("{renderer}: no frame composited in the window"));
    }
    let per = |n: u64| n as f64 / frames as f64;
    Ok(Sample {
        cpu_us: cpu.as_secs_f64() * 1e6 / frames as f64,
        read_bytes: per(delta.bytes_composited),
        copied_bytes: per(delta.bytes_copied),
        frames,
    })
}
