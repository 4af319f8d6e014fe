//! Issue 13's benchmark: CPU and bytes copied per camera frame, camera
//! client + compositor, for (a) the zero-copy pipeline (`camera_run`: vivid
//! captures into Accord collection buffers that the primary plane scans
//! out) against (b) the copy pipeline (`camera_copy`: vivid's own MMAP
//! buffers copied by the CPU into `wl_shm` buffers the compositor
//! composites). Runs A and B alternately, A B A B…, after one warm-up
//! pair, and prints medians and the median of the pairwise CPU ratios.
//! Run it in the real-kernel tier: `tests/vm/run --demo camera-cost`.

use std::process::ExitCode;

use std::time::{Duration, Instant};

use accord_examples::camera_copy::run_copy;
use accord_examples::camera_run::{run_camera, CameraRun};
use accord_examples::cost::{
    alternate, list, median, ratios, thread_cpu, PairArgs, COMPOSITOR_THREAD,
};
use accord_examples::refcomp::{spawn_with, Compositor, Config, DrmOptions, RendererKind};

/// Alternates zero-copy and copy runs of vivid at the mode's size and
/// prints per-frame medians, the line `camera cost zero-copy/copy cpu
/// ratio: <float> bytes copied/frame zero-copy: <int> copy: <int>`, and
/// last the compositor's idle CPU and the ratio net of it.
#[derive(clap::Parser, Debug)]
#[command(name = "camera-cost")]
struct Args {
    #[command(flatten)]
    run: PairArgs,
    /// The V4L2 capture node.
    #[arg(long, value_name = "PATH", default_value = "/dev/video0")]
    video: String,
}

/// One run, per frame.
struct Sample {
    client_us: f64,
    compositor_us: f64,
    /// Bytes the CPU copied: the client's copies + the compositor's
    /// (`bytes_copied`, read-backs and copying imports).
    copied: f64,
    /// Client bytes the compositor read to compose the output.
    composed: f64,
    direct: u64,
    composited: u64,
    wall_ms: f64,
    /// System (kernel) share of the client's and the compositor's CPU,
    /// per frame (`stat` ticks).
    client_sys_us: f64,
    compositor_sys_us: f64,
}

impl Sample {
    fn total_us(&self) -> f64 {
        self.client_us + self.compositor_us
    }
}

fn print(name: &str, s: &[Sample]) {
    let m = |f: fn(&Sample) -> f64| median(s.iter().map(f).collect());
    println!(
        "{name}: {} runs: CPU/frame median client {:.0} us + compositor {:.0} us = {:.0} us \
         (sums per run: {}); bytes copied/frame {:.0}, read to compose/frame {:.0}; \
         frames direct/composited per run {:?}; wall {:.1} ms/frame; \
         of the CPU/frame in the kernel (stat ticks): client {:.0} us, compositor {:.0} us",
        s.len(),
        m(|s| s.client_us),
        m(|s| s.compositor_us),
        m(Sample::total_us),
        list(s.iter().map(Sample::total_us), 0),
        m(|s| s.copied),
        m(|s| s.composed),
        s.iter()
            .map(|s| (s.direct, s.composited))
            .collect::<Vec<_>>(),
        m(|s| s.wall_ms),
        m(|s| s.client_sys_us),
        m(|s| s.compositor_sys_us),
    );
}

/// The compositor's CPU per second with no client (its 60 Hz frame tick
/// finding nothing to do), over `span` after a 300 ms settle.
fn idle_cpu_per_second(card: &str, span: Duration) -> Result<f64, String> {
    let dir = std::env::temp_dir().join(format!("accord-idle-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let options = DrmOptions::new(card);
    let config = Config {
        runtime_dir: Some(dir.clone()),
        renderer: RendererKind::Pixman,
        ..Config::default()
    };
    let result = (|| {
        let compositor =
            spawn_with(config, move |c| Compositor::drm(c, &options)).map_err(|e| e.to_string())?;
        std::thread::sleep(Duration::from_millis(300));
        let before = thread_cpu(COMPOSITOR_THREAD).unwrap_or_default();
        let start = Instant::now();
        std::thread::sleep(span);
        let cpu = thread_cpu(COMPOSITOR_THREAD)
            .unwrap_or_default()
            .saturating_sub(before);
        let wall = start.elapsed();
        compositor.stop().map_err(|e| e.to_string())?;
        Ok(cpu.as_secs_f64() / wall.as_secs_f64())
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn main() -> ExitCode {
    accord_examples::logging::init("warn");
    let Args { run, video } = <Args as clap::Parser>::parse();
    let mut zero = CameraRun::new(&run.card, &video);
    zero.frames = run.frames;
    let frames = f64::from(run.frames);
    let per_frame = |d: Duration| d.as_secs_f64() * 1e6 / frames;
    let sample = |cost: &accord_examples::cost::Measured, client_copied: u64| Sample {
        client_us: per_frame(cost.client_cpu),
        compositor_us: per_frame(cost.compositor_cpu),
        copied: (client_copied + cost.delta.bytes_copied) as f64 / frames,
        composed: cost.delta.bytes_composited as f64 / frames,
        direct: cost.delta.frames_direct,
        composited: cost.delta.frames_composited,
        wall_ms: cost.wall.as_secs_f64() * 1e3 / frames,
        client_sys_us: per_frame(cost.client_times.system),
        compositor_sys_us: per_frame(cost.compositor_times.system),
    };
    let zero_copy = || {
        run_camera(&zero)
            .map(|r| sample(&r.cost, 0))
            .map_err(|e| format!("zero-copy run: {e}"))
    };
    // The copy run, then the compositor alone for 3 s: its idle CPU.
    let copy = || -> Result<(Sample, f64), String> {
        let r = run_copy(run.card.as_ref(), video.as_ref(), run.frames)
            .map_err(|e| format!("copy run: {e}"))?;
        let idle = idle_cpu_per_second(&run.card, Duration::from_secs(3))
            .map_err(|e| format!("idle run: {e}"))?;
        Ok((sample(&r.cost, r.client_bytes_copied), idle))
    };
    let (a, b) = match alternate(run.pairs, zero_copy, copy) {
        Ok(v) => v,
        Err(err) => {
            eprintln!("camera-cost: {err}");
            return ExitCode::FAILURE;
        }
    };
    let (b, idle): (Vec<Sample>, Vec<f64>) = b.into_iter().unzip();
    print("(a) zero-copy (DMABUF capture → primary plane)", &a);
    print(
        "(b) copy (MMAP capture → CPU copy → wl_shm → composited)",
        &b,
    );
    let pairwise = ratios(&a, &b, Sample::total_us, Sample::total_us);
    println!(
        "pairwise CPU ratios (a)/(b): {}",
        list(pairwise.iter().copied(), 3)
    );
    println!(
        "camera cost zero-copy/copy cpu ratio: {:.3} bytes copied/frame zero-copy: {:.0} copy: {:.0}",
        median(pairwise),
        median(a.iter().map(|s| s.copied + s.composed).collect()),
        median(b.iter().map(|s| s.copied).collect()),
    );
    // What the compositor spends per frame without any client, at each
    // pipeline's frame time: the same in both, and the larger the share
    // the slower the frames (TCG). Subtracted, for the ratio of what the
    // pipelines themselves cost.
    let idle_s = median(idle.clone());
    let net = |s: &Sample| s.total_us() - idle_s * s.wall_ms * 1e3;
    let net_ratios = ratios(&a, &b, net, net);
    println!(
        "compositor idle: {:.1} ms CPU per second (runs: {}); per frame (a) {:.0} us (b) {:.0} us; \
         net of idle CPU/frame (a) {:.0} us (b) {:.0} us, ratio median {:.3} (pairs: {})",
        idle_s * 1e3,
        list(idle.iter().map(|v| v * 1e3), 1),
        idle_s * median(a.iter().map(|s| s.wall_ms).collect()) * 1e3,
        idle_s * median(b.iter().map(|s| s.wall_ms).collect()) * 1e3,
        median(a.iter().map(net).collect()),
        median(b.iter().map(net).collect()),
        median(net_ratios.clone()),
        list(net_ratios, 3)
    );
    let zero_ok = a
        .iter()
        .all(|s| s.direct == u64::from(run.frames) && s.copied == 0.0 && s.composed == 0.0);
    if zero_ok {
        ExitCode::SUCCESS
    } else {
        eprintln!("camera-cost: a zero-copy run composed or copied");
        ExitCode::FAILURE
    }
}
