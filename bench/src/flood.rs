//! `accord-bench fdflood`: what a hostile process costs everyone else in the
//! real `accord-compositor` (issue 21): a probe's 2-buffer negotiation
//! latency idle and under attack, measured in the same run and printed as
//! ratios, and the compositor's fds.
//!
//! The compositor (next to this binary unless `--compositor`) runs headless
//! (memfd buffers, one fd each) with its default limits. The probe, a thread
//! of this process, negotiates a 2-buffer collection (two participants, one
//! buffer each; `handles_socket`'s probe) every 2 ms: `--idle` times with
//! nobody else connected (the baseline), then for as long as the attack
//! lasts. After each negotiation it counts the compositor's fds
//! (`/proc/<pid>/fd`). The attacker is this binary run again
//! (`flood-attacker`, see `flood_attacker.rs`), another process and so
//! another identity:
//!
//! - `--attack fds`: for `--seconds`, rounds of 32 connections each asking
//!   for 128 buffers of 1×1: 8 collections fill the process's 1,024 buffer
//!   fds, 24 are refused; every round closes and starts again.
//! - `--attack handles`: `--processes` attacker processes one after the
//!   other, each exporting `--per-process` handles and leaving them pending,
//!   the compositor started with `--pending-handles-per-client`,
//!   `--collections-per-client` (a handle holds its 50-slot collection) and
//!   `--max-pending-handles` raised to fit them. The probe goes on while they are pending (`--seconds`)
//!   and, unless `--no-expiry`, until the 60 s handle expiry has removed
//!   them (the maintenance ticks of 10⁵ expiries).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use accord_client::Accord;

use crate::compositor_process::{self, fd_count, Reap, TempDir};
use crate::handles_socket::negotiate;
use crate::stats::{median, quantile};

/// The attack `fdflood` runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Attack {
    /// Buffer fds: one process's budget of 1×1 buffers, over and over.
    Fds,
    /// 10⁵ pending handles from many processes.
    Handles,
}

pub struct Options {
    pub compositor: Option<PathBuf>,
    pub attack: Attack,
    pub idle: usize,
    pub seconds: f64,
    pub processes: usize,
    pub per_process: usize,
    pub expiry: bool,
}

/// The compositor's handle expiry (`accord_protocol::limits::HANDLE_EXPIRY`).
const HANDLE_EXPIRY: Duration = accord_smithay::limits::HANDLE_EXPIRY;

/// The compositor's memfds (buffers, headless), read link by link.
fn memfd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| {
        d.filter_map(Result::ok)
            .filter(|e| {
                std::fs::read_link(e.path())
                    .is_ok_and(|t| t.to_string_lossy().starts_with("/memfd:"))
            })
            .count()
    })
}

fn vm_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The compositor, listening: the child and its socket.
fn start(compositor: &Path, dir: &Path, extra: &[String]) -> Result<(Reap, PathBuf), String> {
    let mut child = Command::new(compositor)
        .args(["--socket", "fdflood", "--size", "16x16"])
        .args(["--renderer", "pixman"])
        .args(extra)
        .env("XDG_RUNTIME_DIR", dir)
        .env("RUST_LOG", "warn")
        .env_remove("WAYLAND_DISPLAY")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("start {}: {e}", compositor.display()))?;
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
    // It prints its counters on exit: keep the pipe open (and drained).
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    Ok((child, dir.join("fdflood")))
}

/// This binary run as an attacker (`flood-attacker`), started.
fn attacker(socket: &Path, args: &[String]) -> Result<Reap, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    Command::new(exe)
        .arg("flood-attacker")
        .arg(socket)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map(Reap)
        .map_err(|e| format!("start the attacker: {e}"))
}

/// Waits for an attacker; its stdout, or an error if it failed.
fn finish(mut child: Reap) -> Result<String, String> {
    let mut out = String::new();
    let mut err = String::new();
    if let Some(mut s) = child.0.stdout.take() {
        let _ = s.read_to_string(&mut out);
    }
    if let Some(mut s) = child.0.stderr.take() {
        let _ = s.read_to_string(&mut err);
    }
    let status = child.0.wait().map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("the attacker failed ({status}): {out}{err}"));
    }
    Ok(out)
}

/// Probe samples: latencies (ms), what `progress` said at each, the most
/// fds seen and the memfds among them then.
#[derive(Default)]
struct Samples {
    ms: Vec<f64>,
    at: Vec<usize>,
    peak_fds: usize,
    peak_memfds: usize,
}

impl Samples {
    /// The `n` slowest samples: (ms, progress).
    fn slowest(&self, n: usize) -> Vec<(f64, usize)> {
        let mut v: Vec<(f64, usize)> = self.ms.iter().copied().zip(self.at.clone()).collect();
        v.sort_by(|a, b| b.0.total_cmp(&a.0));
        v.truncate(n);
        v
    }
}

/// Negotiations every 2 ms until `done` (checked after each) holds; each
/// sample notes `progress` as it was when the negotiation started.
fn probe(
    accord: &Accord,
    pid: u32,
    progress: &AtomicUsize,
    mut done: impl FnMut(usize) -> bool,
) -> Result<Samples, String> {
    let mut s = Samples::default();
    loop {
        s.at.push(progress.load(Ordering::Relaxed));
        s.ms.push(negotiate(accord)?);
        let fds = fd_count(pid);
        if fds > s.peak_fds {
            // Reading every link is slower: only at a new peak.
            s.peak_fds = fds;
            s.peak_memfds = memfd_count(pid);
        }
        if done(s.ms.len()) {
            return Ok(s);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn describe(name: &str, s: &Samples) -> String {
    format!(
        "{name} median {:.3} ms, p99 {:.3} ms, worst {:.3} ms ({} runs)",
        median(&s.ms),
        quantile(&s.ms, 0.99),
        quantile(&s.ms, 1.0),
        s.ms.len()
    )
}

fn ratio(a: f64, b: f64) -> f64 {
    a / b.max(1e-6)
}

/// What both attacks start from: the compositor, the probe's connection
/// and its idle samples.
struct Setup {
    compositor: PathBuf,
    pid: u32,
    socket: PathBuf,
    accord: Accord,
    /// Handles pending so far (the handles attack counts them).
    progress: Arc<AtomicUsize>,
    idle: Samples,
    baseline_fds: usize,
    baseline_memfds: usize,
}

impl Setup {
    fn probe(&self, done: impl FnMut(usize) -> bool) -> Result<Samples, String> {
        probe(&self.accord, self.pid, &self.progress, done)
    }
}

pub fn run(o: &Options) -> Result<(), String> {
    let compositor = compositor_process::binary(&o.compositor)?;
    let dir = TempDir(std::env::temp_dir().join(format!("accord-fdflood-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).map_err(|e| format!("{}: {e}", dir.0.display()))?;
    let extra: Vec<String> = match o.attack {
        Attack::Fds => Vec::new(),
        Attack::Handles => vec![
            "--pending-handles-per-client".into(),
            o.per_process.to_string(),
            "--collections-per-client".into(),
            (o.per_process / 50 + 1).to_string(),
            "--max-pending-handles".into(),
            o.processes.saturating_mul(o.per_process).to_string(),
        ],
    };
    let (child, socket) = start(&compositor, &dir.0, &extra)?;
    let pid = child.0.id();
    let conn = crate::wl::connect(&socket)?;
    let accord = Accord::new(&conn).map_err(|e| e.to_string())?;
    std::thread::sleep(Duration::from_millis(200));
    let progress = Arc::new(AtomicUsize::new(0));
    let mut setup = Setup {
        compositor,
        pid,
        socket,
        accord,
        progress,
        idle: Samples::default(),
        baseline_fds: fd_count(pid),
        baseline_memfds: memfd_count(pid),
    };
    setup.idle = setup.probe(|n| n >= o.idle.max(1))?;
    let result = match o.attack {
        Attack::Fds => fds(&setup, o),
        Attack::Handles => handles(&setup, o),
    };
    drop(setup);
    drop(conn);
    drop(child);
    result
}

/// `--attack fds`: the attacker's rounds for `--seconds`, probed.
fn fds(s: &Setup, o: &Options) -> Result<(), String> {
    let args = ["fds".into(), "--seconds".into(), o.seconds.to_string()];
    let running = attacker(&s.socket, &args)?;
    let over = Arc::new(AtomicBool::new(false));
    let waiter = {
        let over = over.clone();
        std::thread::spawn(move || {
            let r = finish(running);
            over.store(true, Ordering::Relaxed);
            r
        })
    };
    let busy = s.probe(|_| over.load(Ordering::Relaxed))?;
    let out = waiter
        .join()
        .map_err(|_| "the attacker thread panicked")??;
    // The compositor sees the attacker's last connections close.
    std::thread::sleep(Duration::from_millis(200));
    let after = fd_count(s.pid);
    println!(
        "fdflood fds: compositor {} headless (memfd), baseline {} fds",
        s.compositor.display(),
        s.baseline_fds
    );
    print!("{out}");
    println!(
        "fdflood fds: compositor fds peak {} (+{} over the baseline; memfds {} → {}: the \
         attacker's budget is {} buffer fds, the probe holds 2), {after} after the attack",
        busy.peak_fds,
        busy.peak_fds.saturating_sub(s.baseline_fds),
        s.baseline_memfds,
        busy.peak_memfds,
        accord_smithay::collections::DEFAULT_BUFFER_FDS_PER_CLIENT
    );
    println!(
        "fdflood fds: probe 2-buffer negotiation: {}; {}",
        describe("idle", &s.idle),
        describe("under attack", &busy)
    );
    println!(
        "fdflood fds median_ratio: {:.2} worst_ratio: {:.2} peak_fds: {}",
        ratio(median(&busy.ms), median(&s.idle.ms)),
        ratio(quantile(&busy.ms, 1.0), quantile(&s.idle.ms, 1.0)),
        busy.peak_fds
    );
    Ok(())
}

/// `--processes` attackers one after the other; the total they report.
fn spawn_handle_attackers(
    socket: PathBuf,
    processes: usize,
    per_process: usize,
    progress: Arc<AtomicUsize>,
) -> Result<usize, String> {
    let mut total = 0;
    for _ in 0..processes {
        let args = [
            "handles".into(),
            "--per-process".into(),
            per_process.to_string(),
        ];
        let out = finish(attacker(&socket, &args)?)?;
        total += out
            .strip_prefix("attacker: ")
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| format!("attacker output {out:?}"))?;
        progress.store(total, Ordering::Relaxed);
    }
    Ok(total)
}

/// `--attack handles`: the fill, probed; then with everything pending, and
/// through the expiry.
fn handles(s: &Setup, o: &Options) -> Result<(), String> {
    let pending = o.processes.saturating_mul(o.per_process);
    let rss_before = vm_rss_kib(s.pid);
    let t0 = Instant::now();
    let over = Arc::new(AtomicBool::new(false));
    let spawner = {
        let (over, socket, progress) = (over.clone(), s.socket.clone(), s.progress.clone());
        let (processes, per_process) = (o.processes, o.per_process);
        std::thread::spawn(move || {
            let r = spawn_handle_attackers(socket, processes, per_process, progress);
            over.store(true, Ordering::Relaxed);
            r
        })
    };
    let attack = s.probe(|_| over.load(Ordering::Relaxed))?;
    let total = spawner.join().map_err(|_| "the spawner panicked")??;
    let attack_time = t0.elapsed();
    if total != pending {
        return Err(format!("{total} handles pending, wanted {pending}"));
    }
    let rss_after = vm_rss_kib(s.pid);
    let hold_until = Instant::now() + Duration::from_secs_f64(o.seconds.max(0.0));
    let hold = s.probe(|_| Instant::now() >= hold_until)?;
    // Every handle expires within 60 s of its export; a few seconds more
    // for the last maintenance ticks.
    let expiry = if o.expiry {
        let end = t0 + attack_time + HANDLE_EXPIRY + Duration::from_secs(3);
        Some(s.probe(|_| Instant::now() >= end)?)
    } else {
        None
    };
    println!(
        "fdflood handles: compositor {} headless, --pending-handles-per-client {} \
         --max-pending-handles {pending}",
        s.compositor.display(),
        o.per_process
    );
    println!(
        "fdflood handles: {total} handles left pending by {} processes in {:.2} s; \
         compositor VmRSS {rss_before} → {rss_after} KiB ({:.0} B per handle)",
        o.processes,
        attack_time.as_secs_f64(),
        (rss_after.saturating_sub(rss_before) * 1024) as f64 / total.max(1) as f64
    );
    println!(
        "fdflood handles: probe 2-buffer negotiation: {}; {}; {}{}",
        describe("idle", &s.idle),
        describe("during the attack", &attack),
        describe("with all pending", &hold),
        expiry
            .as_ref()
            .map(|e| format!("; {}", describe("through their expiry", e)))
            .unwrap_or_default()
    );
    let slowest: Vec<String> = attack
        .slowest(3)
        .iter()
        .map(|(ms, at)| format!("{ms:.1} ms at {at}"))
        .collect();
    println!(
        "fdflood handles: slowest probes during the attack, with the handles pending when \
         each started: {}",
        slowest.join(", ")
    );
    let worst = |x: &Samples| ratio(quantile(&x.ms, 1.0), quantile(&s.idle.ms, 1.0));
    println!(
        "fdflood handles worst_ratio_attack: {:.2} worst_ratio_pending: {:.2} \
         worst_ratio_expiry: {} median_ratio_attack: {:.2}",
        worst(&attack),
        worst(&hold),
        expiry
            .as_ref()
            .map_or_else(|| "-".to_owned(), |e| format!("{:.2}", worst(e))),
        ratio(median(&attack.ms), median(&s.idle.ms))
    );
    Ok(())
}
