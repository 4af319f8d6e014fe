//! The compositor under test, in its own process (`accord-bench serve`), so
//! its memory and CPU are measured apart from the clients'.
//!
//! It runs the integration tests' in-process compositor (`accord_tests::
//! TestServer`: the Accord module with the memfd backend, `wl_compositor`),
//! which `scale` (P5) uses, and, with `--shm`, the reference compositor
//! (`accord_examples::refcomp`, headless), which offers `wl_shm` and embeds
//! the Accord module: `e2e` runs both A and B against it, so that the two
//! sides of P2 are timed against the same server.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use accord_tests::waiting::within_every;

/// Body of `accord-bench serve [--shm]`: print the socket paths, serve
/// until stdin closes.
pub fn serve(shm: bool) -> Result<(), String> {
    let accord = accord_tests::TestServer::start();
    let refcomp_dir = accord_tests::RuntimeDir::new();
    let refcomp = if shm {
        // A tiny output at 1 Hz: the frame timer stays out of the way.
        let config = accord_examples::refcomp::Config {
            runtime_dir: Some(refcomp_dir.path().to_path_buf()),
            width: 16,
            height: 16,
            refresh_mhz: 1_000,
            renderer: accord_examples::refcomp::RendererKind::Pixman,
            ..Default::default()
        };
        Some(accord_examples::refcomp::spawn(config).map_err(|e| format!("refcomp: {e}"))?)
    } else {
        None
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "accord {}", accord.socket.display()).map_err(|e| e.to_string())?;
    if let Some(r) = &refcomp {
        writeln!(out, "shm {}", r.socket_path().display()).map_err(|e| e.to_string())?;
    }
    writeln!(out, "ready").map_err(|e| e.to_string())?;
    out.flush().map_err(|e| e.to_string())?;
    drop(out);
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop(refcomp);
    drop(accord);
    Ok(())
}

/// A running `accord-bench serve` child.
pub struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    pub accord_socket: PathBuf,
    pub shm_socket: Option<PathBuf>,
}

/// Resident memory of a process, from `/proc/<pid>/status`, in bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    pub rss: u64,
    pub anon: u64,
    pub shmem: u64,
}

impl Server {
    pub fn spawn(shm: bool) -> Result<Server, String> {
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let mut cmd = Command::new(exe);
        cmd.arg("serve");
        if shm {
            cmd.arg("--shm");
        }
        let mut child = cmd
            .env("RUST_LOG", "error")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawn the compositor process: {e}"))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut accord_socket = None;
        let mut shm_socket = None;
        for line in BufReader::new(stdout).lines() {
            let line = line.map_err(|e| format!("compositor process: {e}"))?;
            if let Some(p) = line.strip_prefix("accord ") {
                accord_socket = Some(PathBuf::from(p));
            } else if let Some(p) = line.strip_prefix("shm ") {
                shm_socket = Some(PathBuf::from(p));
            } else if line == "ready" {
                break;
            }
        }
        Ok(Server {
            child,
            stdin,
            accord_socket: accord_socket.ok_or("the compositor process printed no socket")?,
            shm_socket,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// [`wait_idle`](Self::wait_idle) for at most 100 ms; says so if not.
    pub fn settle(&self) {
        if !self.wait_idle(Duration::from_millis(100)) {
            eprintln!("accord-bench: the compositor did not go idle within 100 ms");
        }
    }

    /// Wait until every thread of the compositor process sleeps and its
    /// CPU time stops moving (at most `limit`), so that a run starts with
    /// the previous one's clean-up finished. Smithay's `wl_shm` drops a
    /// pool (unmaps it and closes the memfd, which frees its pages) on its
    /// own "Shm dropping" thread after answering the client: without this,
    /// B's 24 MB were freed during the next A run, on A's clock. Returns
    /// false on timeout.
    pub fn wait_idle(&self, limit: Duration) -> bool {
        let mut last = None;
        within_every(limit, Duration::from_micros(200), || {
            let busy = tasks_running(self.pid());
            let cpu = sched(self.pid()).cpu;
            let idle = !busy && last == Some(cpu);
            last = (!busy).then_some(cpu);
            idle
        })
        .is_ok()
    }

    pub fn memory(&self) -> Result<Memory, String> {
        let path = format!("/proc/{}/status", self.pid());
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
        let field = |name: &str| -> u64 {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|kb| kb.parse::<u64>().ok())
                .map_or(0, |kb| kb * 1024)
        };
        Ok(Memory {
            rss: field("VmRSS:"),
            anon: field("RssAnon:"),
            shmem: field("RssShmem:"),
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.stdin.take()); // EOF: the child stops its compositors
        let _ = self.child.wait();
    }
}

/// Scheduler figures of a process, summed over its threads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sched {
    /// On-CPU time, ns.
    pub cpu: u64,
    /// Time runnable but waiting for a CPU, ns.
    pub wait: u64,
    /// Times a thread blocked (`voluntary_ctxt_switches`): each one is
    /// woken up again.
    pub wakeups: u64,
    /// Times a thread was preempted (`nonvoluntary_ctxt_switches`).
    pub preempted: u64,
}

impl Sched {
    /// What happened between `earlier` and `self`.
    pub fn since(self, earlier: Sched) -> Sched {
        Sched {
            cpu: self.cpu.saturating_sub(earlier.cpu),
            wait: self.wait.saturating_sub(earlier.wait),
            wakeups: self.wakeups.saturating_sub(earlier.wakeups),
            preempted: self.preempted.saturating_sub(earlier.preempted),
        }
    }

    pub fn add(&mut self, d: Sched) {
        self.cpu += d.cpu;
        self.wait += d.wait;
        self.wakeups += d.wakeups;
        self.preempted += d.preempted;
    }
}

/// Scheduler figures of every thread of `pid` (`/proc/<pid>/task/*/
/// schedstat`: on-CPU time, time runnable but waiting for a CPU; `status`:
/// context switches). `pid` 0 is this process, whose on-CPU time comes from
/// `CLOCK_PROCESS_CPUTIME_ID`: `schedstat` of a running task lags by up to
/// a scheduler tick.
pub fn sched(pid: u32) -> Sched {
    let dir = if pid == 0 {
        "/proc/self/task".to_string()
    } else {
        format!("/proc/{pid}/task")
    };
    let Ok(tasks) = std::fs::read_dir(dir) else {
        return Sched::default();
    };
    let mut total = tasks
        .filter_map(|t| t.ok())
        .map(|t| {
            let read = |name| std::fs::read_to_string(t.path().join(name)).unwrap_or_default();
            let stat = read("schedstat");
            let mut f = stat.split_whitespace().map(|x| x.parse().unwrap_or(0));
            let status = read("status");
            let field = |name: &str| {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix(name))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0)
            };
            Sched {
                cpu: f.next().unwrap_or(0),
                wait: f.next().unwrap_or(0),
                wakeups: field("voluntary_ctxt_switches:"),
                preempted: field("nonvoluntary_ctxt_switches:"),
            }
        })
        .fold(Sched::default(), |mut a, b| {
            a.add(b);
            a
        });
    if pid == 0 {
        total.cpu = cpu_ns(rustix::time::ClockId::ProcessCPUTime);
    }
    total
}

/// Whether a thread of `pid` is running or runnable (state `R` in
/// `/proc/<pid>/task/*/stat`; the state follows the parenthesised name,
/// which may hold spaces).
fn tasks_running(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks
        .filter_map(|t| t.ok())
        .filter_map(|t| std::fs::read_to_string(t.path().join("stat")).ok())
        .any(|s| {
            s.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .is_some_and(|state| state == "R")
        })
}

/// On-CPU time of this process or thread, exact to the call.
pub fn cpu_ns(clock: rustix::time::ClockId) -> u64 {
    let t = rustix::time::clock_gettime(clock);
    (t.tv_sec as u64).saturating_mul(1_000_000_000) + t.tv_nsec as u64
}
