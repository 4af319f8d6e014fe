//! `accord-bench gst-sinks` (issue 17): `videotestsrc ! accordsink` against
//! `videotestsrc ! waylandsink` (today's path), on the host, in one run:
//! `--frames` frames of `--size` BGRx at 60 fps into a fresh headless
//! `accord-compositor --renderer <R>` per run, the two sinks alternating
//! run by run.
//!
//! Per run:
//! - **CPU per frame**: user + system time of `gst-launch-1.0` (read from
//!   `/proc/<pid>/stat` once it has exited, before it is reaped) plus the
//!   compositor's over the same span, divided by the frames;
//! - **bytes copied per frame**: the compositor's `bytes_copied` (GLES
//!   uploads of memfd and shm buffers; Pixman copies nothing) plus, for
//!   accordsink, its `copies` times the frame size (from the
//!   `accordsink-stats` message). waylandsink reports no copy counter: its
//!   pool is `wl_shm` memory that videotestsrc writes into, so it copies
//!   nothing either.
//!
//! With `--source v4l2 --drm /dev/dri/card0` in the real-kernel tier
//! (`tests/vm/run target/release/accord-bench gst-sinks --source v4l2
//! --drm /dev/dri/card0 ...`): vivid's frames, accordsink importing the
//! collection's dma-bufs (`io-mode=dmabuf-import`) against waylandsink fed
//! v4l2src's default buffers (its own copies, if any, are not counted:
//! it has no counter), both `sync=false fullscreen=true`, the compositor
//! on the card (`--drm`). It also prints the compositor's frames scanned
//! out directly and the bytes it read to compose per frame.
//!
//! accordsink is loaded from `--plugin-dir` (default: the directory of this
//! binary, where `cargo build --release -p gst-accord` puts it).

use std::{
    io::Read,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use accord_examples::refcomp::CounterSnapshot;
use rustix::process::{kill_process, Pid, Signal};

use crate::compositor_process::{self, Reap, TempDir};

pub struct Options {
    pub compositor: Option<PathBuf>,
    /// `videotestsrc`, or `v4l2` (`/dev/video0`: accordsink imports the
    /// collection's dma-bufs with `io-mode=dmabuf-import`, waylandsink
    /// takes v4l2src's default buffers).
    pub source: String,
    /// Run the compositor on this KMS card instead of headless.
    pub drm: Option<PathBuf>,
    pub plugin_dir: Option<PathBuf>,
    pub renderer: String,
    pub frames: u32,
    pub runs: usize,
    pub size: (u32, u32),
}

/// One run's figures.
#[derive(Debug, Clone, Copy)]
struct Run {
    cpu: Duration,
    compositor_cpu: Duration,
    bytes_copied: u64,
    sink_copies: Option<u64>,
    /// The compositor's frames scanned out directly, and bytes it read to
    /// compose (counters at exit; the start-up frames included).
    frames_direct: u64,
    bytes_composited: u64,
}

const SINKS: [&str; 2] = ["accordsink", "waylandsink"];

pub fn run(o: &Options) -> Result<(), String> {
    let compositor = compositor_process::binary(&o.compositor)?;
    let plugin_dir = match &o.plugin_dir {
        Some(d) => d.clone(),
        None => std::env::current_exe()
            .map_err(|e| e.to_string())?
            .parent()
            .ok_or("no binary directory")?
            .to_owned(),
    };
    if !plugin_dir.join("libgstaccord.so").exists() {
        return Err(format!(
            "no libgstaccord.so in {}: cargo build --release -p gst-accord",
            plugin_dir.display()
        ));
    }
    println!(
        "gst-sinks: {} frames of {}x{} BGRx from {}, {} runs per sink, compositor --renderer {} \
         on {}",
        o.frames,
        o.size.0,
        o.size.1,
        o.source,
        o.runs,
        o.renderer,
        o.drm
            .as_ref()
            .map_or("the headless output".into(), |p| p.display().to_string())
    );
    // Warm GStreamer's registry once, with the plugin (a scan takes seconds).
    let _ = Command::new("gst-inspect-1.0")
        .arg("accordsink")
        .env("GST_PLUGIN_PATH", &plugin_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let mut results: Vec<Vec<Run>> = vec![Vec::new(); SINKS.len()];
    for _ in 0..o.runs.max(1) {
        for (i, sink) in SINKS.iter().enumerate() {
            results[i].push(one_run(&compositor, &plugin_dir, sink, o)?);
        }
    }
    let frames = f64::from(o.frames);
    let mut medians = Vec::new();
    for (sink, runs) in SINKS.iter().zip(&results) {
        let per_frame: Vec<f64> = runs
            .iter()
            .map(|r| crate::stats::ms(r.cpu) * 1000.0 / frames)
            .collect();
        let compositor: Vec<f64> = runs
            .iter()
            .map(|r| crate::stats::ms(r.compositor_cpu) * 1000.0 / frames)
            .collect();
        let copied: Vec<f64> = runs
            .iter()
            .map(|r| {
                let sink = r.sink_copies.unwrap_or(0) * u64::from(o.size.0 * o.size.1 * 4);
                (r.bytes_copied + sink) as f64 / frames
            })
            .collect();
        let median = crate::stats::median(&per_frame);
        medians.push(median);
        let composited: Vec<f64> = runs
            .iter()
            .map(|r| r.bytes_composited as f64 / frames)
            .collect();
        println!(
            "{sink}: compositor frames direct [{}]; bytes read to compose per frame median {:.0}",
            runs.iter()
                .map(|r| r.frames_direct.to_string())
                .collect::<Vec<_>>()
                .join(" "),
            crate::stats::median(&composited),
        );
        println!(
            "{sink}: CPU per frame (gst-launch + compositor) median {median:.0} µs [{}]; of it the \
             compositor median {:.0} µs; bytes copied per frame median {:.0} [{}]; sink copies [{}]",
            per_frame
                .iter()
                .map(|v| format!("{v:.0}"))
                .collect::<Vec<_>>()
                .join(" "),
            crate::stats::median(&compositor),
            crate::stats::median(&copied),
            copied
                .iter()
                .map(|v| format!("{v:.0}"))
                .collect::<Vec<_>>()
                .join(" "),
            runs.iter()
                .map(|r| r.sink_copies.map_or("-".into(), |c| c.to_string()))
                .collect::<Vec<_>>()
                .join(" "),
        );
    }
    if let [accord, wayland] = medians[..] {
        println!(
            "accordsink / waylandsink CPU per frame: {:.2}",
            accord / wayland
        );
    }
    Ok(())
}

/// utime + stime of `pid` from `/proc/<pid>/stat` (also readable while it
/// is a zombie), and whether it has exited.
fn cpu_of(pid: u32) -> Option<(Duration, bool)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces), from field 3.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let zombie = fields.first() == Some(&"Z");
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let hz = rustix::param::clock_ticks_per_second();
    Some((Duration::from_secs_f64(ticks as f64 / hz as f64), zombie))
}

fn one_run(
    compositor: &PathBuf,
    plugin_dir: &PathBuf,
    sink: &str,
    o: &Options,
) -> Result<Run, String> {
    let dir =
        TempDir(std::env::temp_dir().join(format!("accord-gst-sinks-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).map_err(|e| format!("{}: {e}", dir.0.display()))?;
    let mut cmd = Command::new(compositor);
    cmd.args([
        "--socket",
        "sink",
        "--size",
        "1280x720",
        "--renderer",
        &o.renderer,
    ]);
    if let Some(card) = &o.drm {
        cmd.arg("--drm").arg(card);
    }
    let mut child = cmd
        .env("XDG_RUNTIME_DIR", &dir.0)
        .env_remove("WAYLAND_DISPLAY")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("start {}: {e}", compositor.display()))?;
    let stdout = child.stdout.take().ok_or("stdout")?;
    let comp = Reap(child);
    let lines = crate::compositor_process::listening_lines(stdout)?;
    if o.drm.is_some() {
        // KMS set-up and the first frames (slow under TCG): until then the
        // compositor's participant offers no plane, and nothing else asks
        // for a dma-buf (v4l2src cannot import a memfd collection).
        std::thread::sleep(Duration::from_secs(3));
    }
    let comp_before = cpu_of(comp.0.id()).ok_or("compositor stat")?.0;
    let (source, caps, sink_args): (Vec<String>, String, &[&str]) = if o.source == "v4l2" {
        let mut src = vec!["v4l2src".into(), "device=/dev/video0".into()];
        if sink == "accordsink" {
            src.push("io-mode=dmabuf-import".into());
        }
        (
            src,
            format!(
                "video/x-raw,format=BGRx,width={},height={}",
                o.size.0, o.size.1
            ),
            // Every frame shown as it comes (see tests/vm/src/gstreamer.rs);
            // fullscreen, so the compositor's participant offers the plane
            // (windowed, nothing asks for a dma-buf and the collection is
            // memfd, which v4l2src cannot import).
            &["sync=false", "fullscreen=true"],
        )
    } else {
        (
            vec!["videotestsrc".into()],
            format!(
                "video/x-raw,format=BGRx,width={},height={},framerate=60/1",
                o.size.0, o.size.1
            ),
            &[],
        )
    };
    let mut gst: Child = Command::new("gst-launch-1.0")
        .arg("-m")
        .args(&source)
        .arg(format!("num-buffers={}", o.frames))
        .args(["!", &caps, "!", sink])
        .args(sink_args)
        .env("XDG_RUNTIME_DIR", &dir.0)
        .env("WAYLAND_DISPLAY", "sink")
        .env("GST_PLUGIN_PATH", plugin_dir)
        // The sink's decisions and v4l2src's errors, shown if a run fails.
        .env(
            "GST_DEBUG",
            if o.source == "v4l2" {
                "accordsink:4,v4l2bufferpool:2,v4l2src:2"
            } else {
                "0"
            },
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("gst-launch-1.0: {e}"))?;
    let mut err = gst.stderr.take().ok_or("stderr")?;
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let mut out = gst.stdout.take().ok_or("stdout")?;
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let started = Instant::now();
    let gst_cpu = loop {
        match cpu_of(gst.id()) {
            Some((cpu, true)) => break cpu,
            Some(_) => {}
            None => return Err("gst-launch-1.0 vanished before its CPU time was read".into()),
        }
        if started.elapsed() > Duration::from_secs(120) {
            let _ = gst.kill();
            return Err(format!("gst-launch-1.0 with {sink} ran for 120 s"));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let status = gst.wait().map_err(|e| e.to_string())?;
    let comp_after = cpu_of(comp.0.id()).ok_or("compositor stat")?.0;
    let output = reader.join().unwrap_or_default();
    let errors = err_reader.join().unwrap_or_default();
    if !status.success() {
        let said: Vec<&str> = output
            .lines()
            .chain(errors.lines())
            .filter(|l| {
                l.contains("ERROR")
                    || l.contains("WARN")
                    || l.contains("accordsink")
                    || l.contains("debug info")
            })
            .collect();
        return Err(format!(
            "gst-launch-1.0 with {sink}: {status}: {}",
            said.join(" | ")
        ));
    }
    let pid = Pid::from_raw(comp.0.id() as i32).ok_or("bad pid")?;
    kill_process(pid, Signal::INT).map_err(|e| format!("kill: {e}"))?;
    let mut counters = None;
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(20)) {
        if let Some(c) = line.strip_prefix("accord-compositor: counters ") {
            counters = CounterSnapshot::parse(c);
        }
    }
    drop(comp);
    let counters = counters.ok_or("no counters line at exit")?;
    let sink_copies = (sink == "accordsink")
        .then(|| {
            output
                .lines()
                .find(|l| l.contains("accordsink-stats,"))
                .and_then(|l| l.split("copies=(guint64)").nth(1))
                .and_then(|r| r.split([',', ';']).next())
                .and_then(|n| n.parse().ok())
                .ok_or("no accordsink-stats message")
        })
        .transpose()?;
    let compositor_cpu = comp_after.saturating_sub(comp_before);
    Ok(Run {
        cpu: gst_cpu + compositor_cpu,
        compositor_cpu,
        bytes_copied: counters.bytes_copied,
        sink_copies,
        frames_direct: counters.frames_direct,
        bytes_composited: counters.bytes_composited,
    })
}
