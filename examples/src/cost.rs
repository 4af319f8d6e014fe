//! What a run costs, one way for every run and benchmark: CPU time from the
//! kernel's per-thread `sum_exec_runtime` (`schedstat`, ns, user +
//! system), the compositor's counters over the same span ([`Span`]), and
//! the A/B alternation with a warm-up pair and medians that the frame-cost
//! (P4) and camera-cost benchmarks share ([`alternate`], [`median`],
//! [`ratios`]).

use std::time::{Duration, Instant};

use crate::refcomp::{CounterSnapshot, Running};

/// The reference compositor's event-loop thread (`refcomp::spawn_with`).
pub const COMPOSITOR_THREAD: &str = "accord-compositor";

/// CPU time of this process's thread named `name` (`/proc/self/task/*`),
/// from `schedstat` (ns) when present, else `stat` (clock ticks).
pub fn thread_cpu(name: &str) -> Option<Duration> {
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let dir = task.ok()?.path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        // comm is cut at 15 bytes.
        if !name.starts_with(comm.trim()) || comm.trim().is_empty() {
            continue;
        }
        if let Ok(s) = std::fs::read_to_string(dir.join("schedstat")) {
            if let Some(ns) = s.split_whitespace().next().and_then(|v| v.parse().ok()) {
                return Some(Duration::from_nanos(ns));
            }
        }
        let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
        let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
        let ticks: u64 =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        return Some(Duration::from_millis(ticks * 10));
    }
    None
}

/// CPU time of the calling thread so far (`/proc/thread-self/schedstat`).
pub fn this_thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map(Duration::from_nanos)
        .unwrap_or_default()
}

/// CPU time of this process so far: the sum of its threads'
/// `sum_exec_runtime` (`/proc/self/task/*/schedstat`).
pub fn process_cpu() -> Duration {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map(Duration::from_nanos)
        .sum()
}

/// A measured span of a run: started before the first frame, finished
/// after the last.
pub struct Span {
    counters: CounterSnapshot,
    compositor: Duration,
    client: Duration,
    start: Instant,
}

/// What a [`Span`] measured.
#[derive(Debug, Clone)]
pub struct Measured {
    /// The compositor's counters over the span.
    pub delta: CounterSnapshot,
    /// CPU of the compositor's thread.
    pub compositor_cpu: Duration,
    /// CPU of the thread that started and finished the span (the client).
    pub client_cpu: Duration,
    pub wall: Duration,
}

impl Span {
    pub fn start(compositor: &Running) -> Self {
        Self {
            counters: compositor.counters(),
            compositor: thread_cpu(COMPOSITOR_THREAD).unwrap_or_default(),
            client: this_thread_cpu(),
            start: Instant::now(),
        }
    }

    /// Call on the thread that started the span.
    pub fn finish(self, compositor: &Running) -> Measured {
        let wall = self.start.elapsed();
        let client_cpu = this_thread_cpu().saturating_sub(self.client);
        let compositor_cpu = thread_cpu(COMPOSITOR_THREAD)
            .unwrap_or_default()
            .saturating_sub(self.compositor);
        Measured {
            delta: compositor.counters().since(&self.counters),
            compositor_cpu,
            client_cpu,
            wall,
        }
    }
}

/// The options both A/B benchmarks take.
#[derive(clap::Args, Debug, Clone)]
pub struct PairArgs {
    /// The KMS device.
    #[arg(long, value_name = "PATH", default_value = "/dev/dri/card0")]
    pub card: String,
    /// Measured pairs of runs (A, B).
    #[arg(long, value_name = "N", default_value_t = 5,
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub pairs: u16,
    /// Frames per run.
    #[arg(long, value_name = "N", default_value_t = 60,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub frames: u32,
}

/// Runs `a` then `b`, `pairs + 1` times; the first pair warms up (page
/// cache, first modeset) and is not kept. Stops at the first error.
pub fn alternate<A, B, E>(
    pairs: u16,
    mut a: impl FnMut() -> Result<A, E>,
    mut b: impl FnMut() -> Result<B, E>,
) -> Result<(Vec<A>, Vec<B>), E> {
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for pair in 0..=pairs {
        let (x, y) = (a()?, b()?);
        if pair > 0 {
            xs.push(x);
            ys.push(y);
        }
    }
    Ok((xs, ys))
}

/// The median (NaN for none).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// `f(a) / f(b)` of each pair.
pub fn ratios<A, B>(a: &[A], b: &[B], fa: impl Fn(&A) -> f64, fb: impl Fn(&B) -> f64) -> Vec<f64> {
    a.iter().zip(b).map(|(a, b)| fa(a) / fb(b)).collect()
}

/// Numbers as text with `decimals`, space separated.
pub fn list(v: impl IntoIterator<Item = f64>, decimals: usize) -> String {
    v.into_iter()
        .map(|x| format!("{x:.decimals$}"))
        .collect::<Vec<_>>()
        .join(" ")
}
