//! `accord-bench waylandsink` (issue 22): GStreamer's `waylandsink`
//! (gst-plugins-bad) playing `--frames` frames of `videotestsrc` at 60 fps
//! into `accord-compositor`, with no other load and beside `--load`
//! CPU-bound processes (`sh -c 'while :; do :; done'`), headless or on a
//! KMS card (`--drm`); for the compositor and, with `--baseline`, for
//! another build of it (e.g. main's), alternating run by run.
//!
//! Per run, a fresh compositor; its counters are read from the line it
//! prints when it stops (SIGINT), so a build without the presentation
//! counters is measured the same way:
//!
//! - **shown**: output frames that showed something new during the run
//!   (`frames_composited + frames_direct`), less those a run without a
//!   client shows (the start-up frames, measured once per build and mode):
//!   the frames of waylandsink's window that reached the screen, as both
//!   builds can tell;
//! - **presented** (builds with presentation counters): the video
//!   surface's content updates presented (`frames_presented` at exit, less
//!   what waylandsink's other surfaces presented, read mid-run through
//!   SIGUSR1 while they live);
//! - **commits**: waylandsink's `wl_surface.commit`s.

use std::{
    collections::BTreeMap,
    path::PathBuf,
    process::{ChildStdout, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use accord_examples::refcomp::CounterSnapshot;
use rustix::process::{kill_process, Pid, Signal};

use crate::compositor_process::{self, Reap, TempDir};

pub struct Options {
    pub compositor: Option<PathBuf>,
    pub baseline: Option<PathBuf>,
    pub frames: u32,
    pub runs: usize,
    pub load: usize,
    pub drm: Option<PathBuf>,
    pub size: (u32, u32),
}

/// One build under test.
struct Build {
    label: String,
    path: PathBuf,
    /// It answers SIGUSR1 with its counters (a build before issue 22 would
    /// die of it).
    live_counters: bool,
    /// It takes `--renderer` (a build before issue 16 composes with Pixman
    /// and has no such flag).
    renderer_flag: bool,
    /// Frames a run without a client shows.
    idle_frames: u64,
}

/// One run's figures.
#[derive(Debug, Default, Clone, Copy)]
struct Run {
    shown: u64,
    presented: Option<u64>,
    commits: u64,
    wall: Duration,
}

pub fn run(o: &Options) -> Result<(), String> {
    which("gst-launch-1.0")?;
    let mut builds = Vec::new();
    for (label, path) in [
        ("after", Some(compositor_process::binary(&o.compositor)?)),
        ("before", o.baseline.clone()),
    ] {
        let Some(path) = path else { continue };
        let help = Command::new(&path)
            .arg("--help")
            .output()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let help = String::from_utf8_lossy(&help.stdout);
        let live_counters = help.contains("SIGUSR1");
        let renderer_flag = help.contains("--renderer");
        let mut build = Build {
            label: format!("{label} ({})", path.display()),
            path,
            live_counters,
            renderer_flag,
            idle_frames: 0,
        };
        build.idle_frames = idle_frames(&build, o)?;
        builds.push(build);
    }
    println!(
        "waylandsink: {} frames of {}x{} videotestsrc at 60 fps, {} runs per case, on {}",
        o.frames,
        o.size.0,
        o.size.1,
        o.runs,
        o.drm
            .as_ref()
            .map_or("the headless output".into(), |p| p.display().to_string())
    );
    // Warm GStreamer's registry once (a fresh scan takes seconds).
    let _ = Command::new("gst-inspect-1.0")
        .arg("waylandsink")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let mut results: BTreeMap<(usize, usize), Vec<Run>> = BTreeMap::new();
    for _ in 0..o.runs.max(1) {
        for load in [0, o.load] {
            for (b, build) in builds.iter().enumerate() {
                let r = one_run(build, o, load)?;
                results.entry((b, load)).or_default().push(r);
            }
            if o.load == 0 {
                break;
            }
        }
    }
    for ((b, load), runs) in &results {
        let build = &builds[*b];
        let list = |f: &dyn Fn(&Run) -> String| runs.iter().map(f).collect::<Vec<_>>().join(" ");
        let shown: Vec<f64> = runs.iter().map(|r| r.shown as f64).collect();
        println!(
            "{} with {load} CPU-bound processes: shown {} (median {:.0}, min {:.0}); presented \
             [{}]; commits [{}]; wall ms [{}]; start-up frames {}",
            build.label,
            list(&|r| r.shown.to_string()),
            crate::stats::median(&shown),
            shown.iter().copied().fold(f64::INFINITY, f64::min),
            list(&|r| r.presented.map_or("-".into(), |p| p.to_string())),
            list(&|r| r.commits.to_string()),
            list(&|r| format!("{:.0}", crate::stats::ms(r.wall))),
            build.idle_frames,
        );
    }
    Ok(())
}

fn which(program: &str) -> Result<(), String> {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|_| ())
        .map_err(|e| {
            format!(
                "{program}: {e} (install gstreamer1.0-tools and gstreamer1.0-plugins-bad: \
                 scripts/deps.sh)"
            )
        })
}

/// A running compositor: the child, its runtime dir, its stdout lines.
struct Running {
    child: Reap,
    dir: TempDir,
    lines: mpsc::Receiver<String>,
}

fn start(build: &Build, o: &Options, tag: &str) -> Result<Running, String> {
    let dir = TempDir(
        std::env::temp_dir().join(format!("accord-waylandsink-{}-{tag}", std::process::id())),
    );
    std::fs::create_dir_all(&dir.0).map_err(|e| format!("{}: {e}", dir.0.display()))?;
    let mut cmd = Command::new(&build.path);
    cmd.args(["--socket", "sink"]);
    // Pixman, named: the figures in BENCHMARKS.md are Pixman's, and the
    // default became GLES where EGL comes up.
    if build.renderer_flag {
        cmd.args(["--renderer", "pixman"]);
    }
    match &o.drm {
        Some(card) => cmd.arg("--drm").arg(card),
        None => cmd.args(["--size", "1280x720"]),
    };
    let mut child = cmd
        .env("XDG_RUNTIME_DIR", &dir.0)
        .env_remove("WAYLAND_DISPLAY")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("start {}: {e}", build.path.display()))?;
    let stdout: ChildStdout = child.stdout.take().ok_or("stdout")?;
    let child = Reap(child);
    let lines = crate::compositor_process::listening_lines(stdout)?;
    Ok(Running { child, dir, lines })
}

fn signal(pid: u32, signal: Signal) -> Result<(), String> {
    let pid = Pid::from_raw(pid as i32).ok_or("bad pid")?;
    kill_process(pid, signal).map_err(|e| format!("kill: {e}"))
}

/// Stops it with SIGINT; its last counters line.
fn stop(mut r: Running) -> Result<CounterSnapshot, String> {
    signal(r.child.0.id(), Signal::INT)?;
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = None;
    while let Ok(line) = r
        .lines
        .recv_timeout(deadline.saturating_duration_since(Instant::now()))
    {
        if let Some(c) = line.strip_prefix("accord-compositor: counters ") {
            last = CounterSnapshot::parse(c);
        }
    }
    let _ = r.child.0.wait();
    drop(r.dir);
    last.ok_or_else(|| "no counters line at exit".into())
}

/// Output frames shown by a compositor no client connects to, over the
/// time a run takes.
fn idle_frames(build: &Build, o: &Options) -> Result<u64, String> {
    let r = start(build, o, "idle")?;
    std::thread::sleep(Duration::from_secs_f64(f64::from(o.frames) / 60.0 + 1.0));
    let c = stop(r)?;
    Ok(c.frames_composited + c.frames_direct)
}

fn one_run(build: &Build, o: &Options, load: usize) -> Result<Run, String> {
    let compositor = start(build, o, "run")?;
    let hogs: Vec<Reap> = (0..load)
        .map(|_| {
            Command::new("sh")
                .args(["-c", "while :; do :; done"])
                .spawn()
                .map(Reap)
                .map_err(|e| format!("sh: {e}"))
        })
        .collect::<Result<_, _>>()?;
    let caps = format!(
        "video/x-raw,width={},height={},framerate=60/1",
        o.size.0, o.size.1
    );
    let started = Instant::now();
    let mut gst = Command::new("gst-launch-1.0")
        .args(["-q", "videotestsrc"])
        .arg(format!("num-buffers={}", o.frames))
        .args(["!", &caps, "!", "waylandsink"])
        .env("XDG_RUNTIME_DIR", &compositor.dir.0)
        .env("WAYLAND_DISPLAY", "sink")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("gst-launch-1.0: {e}"))?;
    let gst_pid = gst.id();
    // Mid-run counters: what waylandsink's surfaces presented so far.
    let mut surfaces: BTreeMap<String, u64> = BTreeMap::new();
    let status = loop {
        if let Some(status) = gst.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if started.elapsed() > Duration::from_secs(120) {
            let _ = gst.kill();
            return Err("gst-launch-1.0 ran for 120 s".into());
        }
        if build.live_counters {
            signal(compositor.child.0.id(), Signal::USR1)?;
            read_surfaces(&compositor.lines, gst_pid, &mut surfaces);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let wall = started.elapsed();
    drop(hogs);
    if !status.success() {
        return Err(format!("gst-launch-1.0: {status}"));
    }
    let c = stop(compositor)?;
    // The video surface is the one that presented most; the others
    // (waylandsink's window area) are subtracted from the exit total.
    let presented = (build.live_counters && !surfaces.is_empty()).then(|| {
        let video = surfaces.values().copied().max().unwrap_or(0);
        let others: u64 = surfaces.values().sum::<u64>() - video;
        c.frames_presented.saturating_sub(others)
    });
    Ok(Run {
        shown: (c.frames_composited + c.frames_direct).saturating_sub(build.idle_frames),
        presented,
        commits: c.surface_commits,
        wall,
    })
}

/// Reads the `surface` lines of one SIGUSR1 dump (up to its `counters`
/// line) into `surfaces` (presented, by surface, for `pid`'s surfaces).
fn read_surfaces(lines: &mpsc::Receiver<String>, pid: u32, surfaces: &mut BTreeMap<String, u64>) {
    let prefix = format!("accord-compositor: surface pid {pid} ");
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(2)) {
        if line.starts_with("accord-compositor: counters ") {
            return;
        }
        if let Some(rest) = line.strip_prefix(&prefix) {
            let mut words = rest.split_whitespace();
            let (Some(name), presented) = (
                words.clone().find(|w| w.contains("wl_surface@")),
                words.find_map(|w| w.strip_prefix("presented=")),
            ) else {
                continue;
            };
            if let Some(n) = presented.and_then(|p| p.parse().ok()) {
                surfaces.insert(name.to_owned(), n);
            }
        }
    }
}
