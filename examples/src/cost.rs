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

/// User and system CPU of one thread, from its `stat` (`utime`, `stime`:
/// clock ticks of 10 ms; the kernel splits the thread's exact runtime by
/// the proportion of ticks that found it in user or kernel mode, so over
/// many frames the split is as good as the tick sampling).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ThreadTimes {
    pub user: Duration,
    pub system: Duration,
}

impl ThreadTimes {
    /// What was spent since `earlier`.
    pub fn since(&self, earlier: &ThreadTimes) -> ThreadTimes {
        ThreadTimes {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
        }
    }

    /// From a `/proc/.../stat` line (fields 14 and 15, after the command
    /// name, which may hold spaces and parentheses).
    ///
    /// ```
    /// # use accord_examples::cost::ThreadTimes;
    /// # use std::time::Duration;
    /// let line = "42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 2 0";
    /// let t = ThreadTimes::parse(line).unwrap();
    /// assert_eq!((t.user, t.system), (Duration::from_millis(70), Duration::from_millis(30)));
    /// assert!(ThreadTimes::parse("42 (x) S 1").is_none());
    /// ```
    pub fn parse(stat: &str) -> Option<ThreadTimes> {
        let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
        let tick = |i: usize| -> Option<Duration> {
            Some(Duration::from_millis(
                fields.get(i)?.parse::<u64>().ok()? * 10,
            ))
        };
        Some(ThreadTimes {
            user: tick(11)?,
            system: tick(12)?,
        })
    }
}

/// User and system CPU of the calling thread (`/proc/thread-self/stat`).
pub fn this_thread_times() -> ThreadTimes {
    std::fs::read_to_string("/proc/thread-self/stat")
        .ok()
        .and_then(|s| ThreadTimes::parse(&s))
        .unwrap_or_default()
}

/// User and system CPU of this process's thread named `name`.
pub fn thread_times(name: &str) -> Option<ThreadTimes> {
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let dir = task.ok()?.path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if comm.trim().is_empty() || !name.starts_with(comm.trim()) {
            continue;
        }
        return ThreadTimes::parse(&std::fs::read_to_string(dir.join("stat")).ok()?);
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
    loop_iterations: u64,
    compositor: Duration,
    client: Duration,
    compositor_times: ThreadTimes,
    client_times: ThreadTimes,
    start: Instant,
}

/// What a [`Span`] measured.
#[derive(Debug, Clone)]
pub struct Measured {
    /// The compositor's counters over the span.
    pub delta: CounterSnapshot,
    /// The compositor's event-loop iterations (wake-ups) over the span.
    pub loop_iterations: u64,
    /// CPU of the compositor's thread.
    pub compositor_cpu: Duration,
    /// CPU of the thread that started and finished the span (the client).
    pub client_cpu: Duration,
    /// The compositor thread's user/system split.
    pub compositor_times: ThreadTimes,
    /// The client thread's user/system split.
    pub client_times: ThreadTimes,
    pub wall: Duration,
}

impl Span {
    pub fn start(compositor: &Running) -> Self {
        Self {
            counters: compositor.counters(),
            loop_iterations: compositor.loop_iterations(),
            compositor: thread_cpu(COMPOSITOR_THREAD).unwrap_or_default(),
            client: this_thread_cpu(),
            compositor_times: thread_times(COMPOSITOR_THREAD).unwrap_or_default(),
            client_times: this_thread_times(),
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
            loop_iterations: compositor
                .loop_iterations()
                .saturating_sub(self.loop_iterations),
            compositor_cpu,
            client_cpu,
            compositor_times: thread_times(COMPOSITOR_THREAD)
                .unwrap_or_default()
                .since(&self.compositor_times),
            client_times: this_thread_times().since(&self.client_times),
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
