//! Issue 22: the reference compositor as a media peer, on the headless
//! output, with real clients: `wp_presentation` feedback from the repaint
//! that showed each commit (one answer per commit: presented or
//! discarded), frame callbacks for commits that change nothing without a
//! repaint, weston's `presentation-shm` in each mode, weston's `scaler`
//! (`wp_viewporter`) in each mode with the cropped and scaled pixels
//! checked, and `wayland-info` listing both globals.
//!
//! weston 10's demo clients (Debian's `weston` package) bind `xdg_wm_base`
//! at whatever version the compositor advertises, but were built against
//! xdg-shell without version 4's `xdg_toplevel.configure_bounds`: they
//! install no listener for it and libwayland aborts them on the first one
//! ("listener function for opcode 2 of xdg_toplevel is NULL"). Smithay
//! 0.7 serves version 6 and sends `configure_bounds` to every version-4
//! toplevel, so these tests run the compositor with `xdg_wm_base` at
//! version 3 (`Config::xdg_shell_version`, `--xdg-shell-version 3`);
//! `weston_10_clients_abort_on_xdg_wm_base_6` shows the abort that makes
//! this necessary.

mod common;

use std::{
    io::Read,
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use accord_examples::{
    dmabuf_client::DmabufClient,
    refcomp::{spawn, spawn_with, Compositor, Config, Running, Screenshot, BACKGROUND},
};
use common::{near, shm_as_foreign::ShmAsForeign, signal, wait_exit, TempRuntimeDir};
use rustix::process::Signal;

const PRESENTATION_SHM: &str = "/usr/bin/weston-presentation-shm";
const SCALER: &str = "/usr/bin/weston-scaler";
/// 60 Hz.
const REFRESH_NS: u128 = 16_666_666;

fn compositor(dir: &TempRuntimeDir, xdg_shell_version: u32) -> Running {
    spawn(config(dir, xdg_shell_version)).expect("start compositor")
}

fn config(dir: &TempRuntimeDir, xdg_shell_version: u32) -> Config {
    Config {
        runtime_dir: Some(dir.path().to_owned()),
        width: 640,
        height: 480,
        xdg_shell_version,
        ..common::config()
    }
}

/// A compositor whose foreign-buffer path (the one Accord's memfd buffers
/// take) draws every shm buffer, and how many draws it served.
fn compositor_drawing_shm_as_foreign(dir: &TempRuntimeDir) -> (Running, Arc<AtomicUsize>) {
    let draws = Arc::new(AtomicUsize::new(0));
    let hook = ShmAsForeign {
        draws: draws.clone(),
    };
    let compositor = spawn_with(config(dir, 3), move |config| {
        let mut compositor = Compositor::headless(config)?;
        compositor.state_mut().foreign = Some(Arc::new(hook));
        Ok(compositor)
    })
    .expect("start compositor");
    (compositor, draws)
}

fn start(client: &str, args: &[&str], compositor: &Running) -> Child {
    Command::new(client)
        .args(args)
        .envs(compositor.client_env())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {client} (Debian package weston): {e}"))
}

/// Stops a weston demo client with SIGINT (its handler leaves the main
/// loop, so it exits cleanly unless a protocol error ended it first);
/// its exit status, stdout and stderr.
fn stop(mut child: Child) -> (std::process::ExitStatus, String, String) {
    signal(&child, Signal::INT);
    let status = wait_exit(&mut child, Duration::from_secs(10));
    let mut out = String::new();
    let mut err = String::new();
    if let Some(mut s) = child.stdout.take() {
        let _ = s.read_to_string(&mut out);
    }
    if let Some(mut s) = child.stderr.take() {
        let _ = s.read_to_string(&mut err);
    }
    (status, out, err)
}

#[test]
fn wayland_info_lists_presentation_and_viewporter() {
    let dir = TempRuntimeDir::new("info22");
    let compositor = compositor(&dir, accord_examples::refcomp::XDG_SHELL_VERSION);
    let out = Command::new("wayland-info")
        .envs(compositor.client_env())
        .output()
        .expect("run wayland-info (Debian package wayland-utils)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "wayland-info: {}", out.status);
    for interface in ["'wp_presentation'", "'wp_viewporter'"] {
        assert!(
            text.contains(interface),
            "wayland-info does not list {interface}:\n{text}"
        );
    }
    assert!(
        text.contains("presentation clock id: 1 (CLOCK_MONOTONIC)"),
        "the presentation clock is not CLOCK_MONOTONIC:\n{text}"
    );
}

/// A client committing at the output's rate (one commit per frame
/// callback) gets every commit presented; commits in bursts of three per
/// frame get the replaced ones discarded; every commit gets exactly one
/// answer, and the compositor's counters of content updates (total and per
/// surface) say the same as the client saw. Commits that change nothing (no buffer, no
/// damage) still get their frame callback and feedback, with no repaint.
#[test]
fn one_feedback_per_commit_presented_or_discarded() {
    let dir = TempRuntimeDir::new("feedback22");
    let compositor = compositor(&dir, accord_examples::refcomp::XDG_SHELL_VERSION);
    let mut client = DmabufClient::connect(compositor.socket_path()).expect("connect");
    let size = client.open_window(false, (320, 240)).expect("window");
    let buffers = client.allocate_shm(size, 3).expect("shm buffers");
    client.request_feedback().expect("wp_presentation");
    let before = compositor.counters();

    const STEADY: usize = 60;
    for i in 0..STEADY {
        client.present(&buffers[i % 3]).expect("present");
    }
    const BURSTS: usize = 10;
    for i in 0..BURSTS {
        client
            .commit_wl_buffer(&buffers[i % 3].wl_buffer, false)
            .expect("commit");
        client
            .commit_wl_buffer(&buffers[(i + 1) % 3].wl_buffer, false)
            .expect("commit");
        client.present(&buffers[(i + 2) % 3]).expect("present");
    }
    client.wait_for_feedback().expect("every feedback answered");
    let log = client.feedback();
    let steady = log.summary_from(0);
    let total = log.summary_from(0);
    let bursts = log.summary_from(STEADY);
    assert_eq!(total.requested as usize, STEADY + 3 * BURSTS);
    assert_eq!(
        total.presented + total.discarded,
        total.requested,
        "one answer per commit: {total:?}"
    );
    assert_eq!(
        steady.presented - bursts.presented,
        STEADY as u64,
        "commits at the output's rate are all presented: {total:?}"
    );
    assert!(
        bursts.discarded >= BURSTS as u64,
        "commits replaced before the next repaint are discarded: {bursts:?}"
    );
    assert_eq!(total.zero_copy, 0, "headless composes: no ZERO_COPY");
    log.check_timestamps_from(0, true).expect("sane timestamps");
    assert_eq!(log.clock_id, Some(1), "CLOCK_MONOTONIC");

    // The compositor counted the same, in total and for this surface.
    let delta = compositor.counters().since(&before);
    assert_eq!(
        (delta.frames_presented, delta.frames_discarded),
        (total.presented, total.discarded),
        "compositor {delta}"
    );
    let surfaces = compositor.surface_frames();
    let ours: Vec<_> = surfaces
        .iter()
        .filter(|(k, _)| k.starts_with(&format!("pid {} ", std::process::id())))
        .collect();
    assert_eq!(ours.len(), 1, "one surface of this process: {surfaces:?}");
    assert_eq!(
        (ours[0].1.presented, ours[0].1.discarded),
        (total.presented, total.discarded),
        "per-surface counters {surfaces:?}"
    );

    // Ten commits with no buffer and no damage: answered at the next
    // ticks, composing nothing.
    let before = compositor.counters();
    let from = client.feedback().outcomes.len();
    for _ in 0..10 {
        client.present_nothing().expect("empty commit");
    }
    client.wait_for_feedback().expect("answered");
    let empty = client.feedback().summary_from(from);
    let delta = compositor.counters().since(&before);
    assert_eq!(empty.presented, 10, "{empty:?}");
    assert_eq!(
        (delta.frames_composited, delta.bytes_composited),
        (0, 0),
        "a commit with no damage costs no repaint: {delta}"
    );
    assert_eq!(
        (delta.frames_presented, delta.frames_discarded),
        (0, 0),
        "a commit with no buffer and no damage is no new frame: {delta}"
    );
    assert!(delta.frames_rendered >= 10, "the output clock ran: {delta}");
}

/// One line of weston-presentation-shm's output: commit number, time
/// from the previous presentation (µs), and the sequence.
#[derive(Debug)]
struct Line {
    commit: u64,
    p2p_us: u64,
    seq: u64,
}

fn parse_presentation_shm(out: &str) -> Vec<Line> {
    out.lines()
        .filter_map(|l| {
            let (commit, rest) = l.trim().split_once(':')?;
            let p2p = rest.split("p2p").nth(1)?.split_whitespace().next()?;
            let seq = rest.split("seq").nth(1)?.split_whitespace().next()?;
            Some(Line {
                commit: commit.trim().parse().ok()?,
                p2p_us: p2p.parse().ok()?,
                seq: seq.parse().ok()?,
            })
        })
        .collect()
}

/// Runs weston-presentation-shm in `mode` for `run`; checks its feedback:
/// at least `min_lines` presented commits, numbered 1, 2, ... (no feedback
/// lost or discarded), sequences increasing, and each time between
/// presentations within one refresh of its sequence step times the
/// refresh.
fn presentation_shm(mode: &str, run: Duration, min_lines: usize) {
    let dir = TempRuntimeDir::new("presentation-shm");
    let compositor = compositor(&dir, 3);
    let client = start(PRESENTATION_SHM, &[mode], &compositor);
    std::thread::sleep(run);
    let (status, out, err) = stop(client);
    assert!(
        status.success(),
        "weston-presentation-shm {mode}: {status}: {err}"
    );
    assert!(!err.contains("error"), "stderr: {err}");
    let lines = parse_presentation_shm(&out);
    assert!(
        lines.len() >= min_lines,
        "{mode}: {} presented commits, expected {min_lines}+:\n{out}",
        lines.len()
    );
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(
            l.commit,
            i as u64 + 1,
            "{mode}: a commit's feedback is missing:\n{out}"
        );
    }
    for pair in lines.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        assert!(
            b.seq > a.seq,
            "{mode}: sequence not increasing: {a:?} {b:?}"
        );
        let expected = u128::from(b.seq - a.seq) * REFRESH_NS / 1000;
        let step = u128::from(b.p2p_us);
        assert!(
            step.abs_diff(expected) <= REFRESH_NS / 1000,
            "{mode}: {step} us between presentations {} and {}, expected {expected} us \
             ± one refresh",
            a.seq,
            b.seq
        );
    }
    let counters = compositor.stop().expect("stop");
    // Every commit after the first (bufferless) one is a content update,
    // counted once: presented, or discarded. The only one not shown is the
    // last, when the client exits before a frame could show it.
    assert!(counters.frames_discarded <= 1, "{mode}: {counters}");
    assert_eq!(
        counters.frames_presented + counters.frames_discarded,
        counters.surface_commits - 1,
        "{mode}: every content update presented or discarded: {counters}"
    );
    assert!(
        counters.frames_presented >= lines.len() as u64,
        "{mode}: {counters}"
    );
    println!(
        "weston-presentation-shm {mode}: {} presented; {counters}",
        lines.len()
    );
}

#[test]
fn weston_presentation_shm_feedback_mode() {
    presentation_shm("-f", Duration::from_secs(2), 30);
}

#[test]
fn weston_presentation_shm_feedback_idle_mode() {
    // One commit a second.
    presentation_shm("-i", Duration::from_millis(3500), 3);
}

#[test]
fn weston_presentation_shm_low_latency_mode() {
    presentation_shm("-p", Duration::from_secs(2), 30);
}

/// Why the weston tests ask for xdg_wm_base version 3 (module docs).
#[test]
fn weston_10_clients_abort_on_xdg_wm_base_6() {
    let dir = TempRuntimeDir::new("xdg6");
    let compositor = compositor(&dir, 6);
    let mut client = start(PRESENTATION_SHM, &["-f"], &compositor);
    let status = wait_exit(&mut client, Duration::from_secs(10));
    let mut err = String::new();
    if let Some(mut s) = client.stderr.take() {
        let _ = s.read_to_string(&mut err);
    }
    assert!(
        !status.success() && err.contains("listener function for opcode 2 of xdg_toplevel is NULL"),
        "weston-presentation-shm on xdg_wm_base 6: {status}: {err} (if weston was updated, \
         the version-3 workaround can go)"
    );
}

/// What weston-scaler shows in each mode (clients/scaler.c, window at
/// (0, 0)): its window size, and points that must be red (the buffer's
/// background), blue (the box the viewport crops to) or the output's
/// background.
struct ScalerMode {
    flag: &'static str,
    window: (u32, u32),
    red: &'static [(u32, u32)],
    blue: &'static [(u32, u32)],
}

const SCALER_MODES: &[ScalerMode] = &[
    // No viewport: 421x337, red with a 55x77 blue box at (21, 25).
    ScalerMode {
        flag: "-n",
        window: (421, 337),
        red: &[(10, 10), (200, 200), (410, 330)],
        blue: &[(48, 63)],
    },
    // Crop to the blue box and scale it to 220x308: all blue.
    ScalerMode {
        flag: "-b",
        window: (220, 308),
        red: &[],
        blue: &[(20, 20), (110, 154), (200, 290)],
    },
    // Crop only: the blue box at 55x77.
    ScalerMode {
        flag: "-s",
        window: (55, 77),
        red: &[],
        blue: &[(10, 10), (27, 38), (45, 70)],
    },
    // Scale only: the -n picture squashed to 220x308 (the box at
    // 11..40 x 23..93).
    ScalerMode {
        flag: "-d",
        window: (220, 308),
        red: &[(5, 5), (150, 200), (215, 300)],
        blue: &[(25, 58)],
    },
];

#[test]
fn weston_scaler_each_mode_shows_cropped_and_scaled_content() {
    for mode in SCALER_MODES {
        let dir = TempRuntimeDir::new("scaler");
        check_scaler_mode(mode, compositor(&dir, 3));
    }
}

/// The same through the foreign-buffer path: Accord's memfd collection
/// buffers on the headless compositor honour the viewport too.
#[test]
fn weston_scaler_each_mode_through_the_foreign_buffer_path() {
    for mode in SCALER_MODES {
        let dir = TempRuntimeDir::new("scaler-foreign");
        let (compositor, draws) = compositor_drawing_shm_as_foreign(&dir);
        check_scaler_mode(mode, compositor);
        assert!(
            draws.load(Ordering::Relaxed) > 0,
            "{}: the foreign path never drew",
            mode.flag
        );
    }
}

/// Runs weston-scaler in `mode` on `compositor` and checks the pixels.
fn check_scaler_mode(mode: &ScalerMode, compositor: Running) {
    const RED: [u8; 4] = [0xff, 0, 0, 0xff];
    const BLUE: [u8; 4] = [0, 0, 0xff, 0xff];
    {
        let client = start(SCALER, &[mode.flag], &compositor);
        // Its first buffer (it draws once), then two more frames.
        let (c, shown) = compositor.wait_for(Duration::from_secs(20), |c| {
            c.frames_composited >= 1 && c.surface_commits >= 2
        });
        let frames = compositor.counters().frames_rendered;
        compositor.wait_for(Duration::from_secs(5), |c| c.frames_rendered >= frames + 2);
        let shot = compositor.screenshot();
        // weston-scaler has no SIGINT handler: it was running until then
        // (a protocol error would have ended it with a message and status 1).
        let (status, _, err) = stop(client);
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            status.signal(),
            Some(Signal::INT.as_raw()),
            "weston-scaler {}: {status}: {err}",
            mode.flag
        );
        assert!(shown, "{}: nothing shown: {c}", mode.flag);
        let shot: Screenshot = shot.expect("screenshot");
        assert!(!err.contains("error"), "weston-scaler {}: {err}", mode.flag);
        let at = |x, y| shot.pixel(x, y).expect("in the output");
        for &(x, y) in mode.red {
            assert!(
                near(at(x, y), RED),
                "{}: ({x},{y}) = {:?}, expected red",
                mode.flag,
                at(x, y)
            );
        }
        for &(x, y) in mode.blue {
            assert!(
                near(at(x, y), BLUE),
                "{}: ({x},{y}) = {:?}, expected blue",
                mode.flag,
                at(x, y)
            );
        }
        // The window ends where the viewport's destination says.
        let (w, h) = mode.window;
        for (x, y) in [(w + 3, 5), (w + 3, h / 2), (5, h + 3), (w / 2, h + 3)] {
            assert!(
                near(at(x, y), BACKGROUND),
                "{}: ({x},{y}) = {:?} outside the {w}x{h} window",
                mode.flag,
                at(x, y)
            );
        }
        // Inside, only the colours of the picture: a crop leaves no red.
        let mut red_inside = 0;
        for y in (2..h - 2).step_by(6) {
            for x in (2..w - 2).step_by(6) {
                red_inside += usize::from(near(at(x, y), RED));
            }
        }
        if mode.red.is_empty() {
            assert_eq!(
                red_inside, 0,
                "{}: red inside a crop of the blue box",
                mode.flag
            );
        }
        compositor.stop().expect("stop");
    }
}

/// `accord-compositor` prints its counters on SIGUSR1 while it runs: one
/// line per live surface (content updates presented, discarded,
/// zero-copy), then the totals.
#[test]
fn sigusr1_prints_the_counters_while_running() {
    use std::io::BufRead;
    let dir = TempRuntimeDir::new("usr1");
    let (child, mut stdout, name) = common::start_compositor(&dir, &["--size", "320x240"]);
    // Killed on every way out: a failed check must not leave it running.
    let mut child = common::artifacts::KillOnDrop(child);
    let mut client = DmabufClient::connect(&dir.path().join(name)).expect("connect");
    let size = client.open_window(false, (64, 64)).expect("window");
    let buffers = client.allocate_shm(size, 2).expect("shm");
    for i in 0..10 {
        client.present(&buffers[i % 2]).expect("present");
    }
    signal(&child.0, Signal::USR1);
    let mut surfaces = Vec::new();
    let counters = loop {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).expect("read") > 0,
            "stdout closed before the counters line"
        );
        if let Some(rest) = line.trim().strip_prefix("accord-compositor: surface ") {
            surfaces.push(rest.to_owned());
        } else if let Some(rest) = line.trim().strip_prefix("accord-compositor: counters ") {
            break accord_examples::refcomp::CounterSnapshot::parse(rest).expect("counters line");
        }
    };
    let ours = format!("pid {} ", std::process::id());
    assert!(
        surfaces
            .iter()
            .any(|s| s.starts_with(&ours) && s.contains(" presented=10 discarded=0 zero_copy=0")),
        "no line for this process's surface with its 10 frames: {surfaces:?}"
    );
    assert_eq!(
        (counters.frames_presented, counters.frames_discarded),
        (10, 0),
        "{counters}"
    );
    drop(client);
    signal(&child.0, Signal::INT);
    assert!(wait_exit(&mut child.0, Duration::from_secs(10)).success());
}
