//! `accord-bench refuse`: the reference compositor's CPU while it refuses
//! clients for lack of fds (issue 21, item 2), against the same compositor
//! idle for the same period in the same run.
//!
//! `accord-compositor` (next to this binary unless `--compositor`) runs
//! headless under `prlimit --nofile=N`, its log in a file. Idle: its CPU
//! time (utime + stime from `/proc/<pid>/stat`) over `--seconds` with no
//! client. Then connections (each sends `wl_display.get_registry` and
//! `sync` and waits for the answer) are opened until one is refused; during
//! the next `--seconds` a new connection is attempted every 10 ms (up to
//! `--attempts`), and the compositor's CPU time and log growth over that
//! window are the refusing figures.

use std::{
    fs::File,
    io::Read,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use accord_examples::raw_connect::{cpu_ticks, open, Outcome};

use crate::compositor_process::{self, fd_count, Reap, TempDir};

pub struct Options {
    pub compositor: Option<PathBuf>,
    pub nofile: u64,
    pub seconds: f64,
    pub attempts: usize,
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

pub fn run(o: &Options) -> Result<(), String> {
    let compositor = compositor_process::binary(&o.compositor)?;
    let ticks_per_s = rustix::param::clock_ticks_per_second() as f64;
    let window = Duration::from_secs_f64(o.seconds.max(0.1));
    let dir = TempDir(std::env::temp_dir().join(format!("accord-refuse-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).map_err(|e| format!("{}: {e}", dir.0.display()))?;
    let log_path = dir.0.join("compositor.log");
    let log = File::create(&log_path).map_err(|e| format!("log: {e}"))?;
    let mut child = Command::new("prlimit")
        .arg(format!("--nofile={}", o.nofile))
        .arg(&compositor)
        // One process runs it out of fds: no connection budget first.
        .args(["--socket", "refuse", "--size", "16x16"])
        .args(["--renderer", "pixman"])
        .args(["--max-connections-per-client", "100000"])
        .env("XDG_RUNTIME_DIR", &dir.0)
        .env_remove("WAYLAND_DISPLAY")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("start prlimit (util-linux): {e}"))?;
    let mut stdout = child.stdout.take().ok_or("stdout")?;
    let child = Reap(child);
    let mut line = [0u8; 128];
    let n = stdout.read(&mut line).map_err(|e| e.to_string())?;
    if !line[..n].starts_with(b"accord-compositor: listening") {
        return Err(format!(
            "unexpected first line {:?}",
            String::from_utf8_lossy(&line[..n])
        ));
    }
    let pid = child.0.id();
    let socket = dir.0.join("refuse");
    std::thread::sleep(Duration::from_millis(300));

    // Idle.
    let t0 = cpu_ticks(pid)?;
    let started = Instant::now();
    std::thread::sleep(window);
    let idle_s = started.elapsed().as_secs_f64();
    let idle = (cpu_ticks(pid)? - t0) as f64 / ticks_per_s;

    // Saturate.
    let mut held = Vec::new();
    loop {
        match open(&socket, Duration::from_secs(1))? {
            (Some(stream), Outcome::Answered) => held.push(stream),
            (stream, _) => {
                held.extend(stream);
                break;
            }
        }
        if held.len() > o.nofile as usize {
            return Err("never refused".into());
        }
    }
    let clients = held.len();
    let peak = fd_count(pid);

    // Refusing.
    let log_before = file_len(&log_path);
    let t0 = cpu_ticks(pid)?;
    let started = Instant::now();
    let mut outcomes = Vec::new();
    while started.elapsed() < window {
        if outcomes.len() < o.attempts {
            let (stream, outcome) = open(&socket, Duration::from_millis(10))?;
            held.extend(stream);
            outcomes.push(outcome);
        } else {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let refusing_s = started.elapsed().as_secs_f64();
    let refusing = (cpu_ticks(pid)? - t0) as f64 / ticks_per_s;
    let log_growth = file_len(&log_path) - log_before;
    let answered = outcomes.iter().filter(|o| **o == Outcome::Answered).count();
    let closed = outcomes.iter().filter(|o| **o == Outcome::Closed).count();
    let not_connected = outcomes
        .iter()
        .filter(|o| **o == Outcome::NotConnected)
        .count();

    // Responsive once connections close?
    held.truncate(held.len() / 2);
    let t = Instant::now();
    let (_late, outcome) = open(&socket, Duration::from_secs(5))?;
    let answer_after = t.elapsed();
    drop(held);

    let tick = 1.0 / ticks_per_s;
    println!(
        "compositor under prlimit --nofile={}: {clients} clients, {peak} fds at peak",
        o.nofile
    );
    println!(
        "idle:     cpu {:.0} ms over {idle_s:.2} s = {:.2} %",
        idle * 1e3,
        100.0 * idle / idle_s
    );
    println!(
        "refusing: cpu {:.0} ms over {refusing_s:.2} s = {:.2} %; {} attempts: {answered} answered, \
         {closed} closed, {not_connected} not connected, the rest silent; log +{log_growth} B",
        refusing * 1e3,
        100.0 * refusing / refusing_s,
        outcomes.len()
    );
    println!(
        "after closing half: new client {outcome:?} in {:.0} ms",
        answer_after.as_secs_f64() * 1e3
    );
    // Clock ticks are 1/CLK_TCK s: an idle figure of 0 ticks counts as 1.
    println!(
        "refusing/idle cpu: {:.1}x (tick {:.0} ms)",
        refusing.max(tick) / idle.max(tick),
        tick * 1e3
    );
    Ok(())
}
