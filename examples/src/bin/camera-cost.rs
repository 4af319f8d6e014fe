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
use accord_examples::refcomp::{spawn_with, Compositor, Config, DrmOptions};
use accord_examples::scanout_run::thread_cpu;

/// Alternates zero-copy and copy runs of vivid at the mode's size and
/// prints per-frame medians, the line `camera cost zero-copy/copy cpu
/// ratio: <float> bytes copied/frame zero-copy: <int> copy: <int>`, and
/// last the compositor's idle CPU and the ratio net of it.
#[derive(clap::Parser, Debug)]
#[command(name = "camera-cost")]
struct Args {
    /// The KMS device.
    #[arg(long, value_name = "PATH", default_value = "/dev/dri/card0")]
    card: String,
    /// The V4L2 capture node.
    #[arg(long, value_name = "PATH", default_value = "/dev/video0")]
    video: String,
    /// Measured pairs of runs (zero-copy, copy).
    #[arg(long, value_name = "N", default_value_t = 5,
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pairs: u16,
    /// Frames per run.
    #[arg(long, value_name = "N", default_value_t = 60,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    frames: u32,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
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
         frames direct/composited per run {:?}; wall {:.1} ms/frame",
        s.len(),
        m(|s| s.client_us),
        m(|s| s.compositor_us),
        m(Sample::total_us),
        s.iter()
            .map(|s| format!("{:.0}", s.total_us()))
            .collect::<Vec<_>>()
            .join(" "),
        m(|s| s.copied),
        m(|s| s.composed),
        s.iter()
            .map(|s| (s.direct, s.composited))
            .collect::<Vec<_>>(),
        m(|s| s.wall_ms),
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
        ..Config::default()
    };
    let result = (|| {
        let compositor =
            spawn_with(config, move |c| Compositor::drm(c, &options)).map_err(|e| e.to_string())?;
        std::thread::sleep(Duration::from_millis(300));
        let before = thread_cpu("accord-compositor").unwrap_or_default();
        let start = Instant::now();
        std::thread::sleep(span);
        let cpu = thread_cpu("accord-compositor")
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
    let args = <Args as clap::Parser>::parse();
    let mut zero = CameraRun::new(&args.card, &args.video);
    zero.frames = args.frames;
    let per_frame = |d: std::time::Duration| d.as_secs_f64() * 1e6 / f64::from(args.frames);

    let (mut a, mut b) = (Vec::new(), Vec::new());
    let mut idle = Vec::new();
    // Pair 0 warms up (page cache, first modeset) and is not counted.
    for pair in 0..=args.pairs {
        let ra = match run_camera(&zero) {
            Ok(r) => r,
            Err(err) => {
                eprintln!("camera-cost: zero-copy run: {err}");
                return ExitCode::FAILURE;
            }
        };
        let rb = match run_copy(args.card.as_ref(), args.video.as_ref(), args.frames) {
            Ok(r) => r,
            Err(err) => {
                eprintln!("camera-cost: copy run: {err}");
                return ExitCode::FAILURE;
            }
        };
        if pair == 0 {
            continue;
        }
        match idle_cpu_per_second(&args.card, Duration::from_secs(3)) {
            Ok(v) => idle.push(v),
            Err(err) => {
                eprintln!("camera-cost: idle run: {err}");
                return ExitCode::FAILURE;
            }
        }
        let frames = f64::from(args.frames);
        a.push(Sample {
            client_us: per_frame(ra.client_cpu),
            compositor_us: per_frame(ra.compositor_cpu),
            copied: ra.delta.bytes_copied as f64 / frames,
            composed: ra.delta.bytes_composited as f64 / frames,
            direct: ra.delta.frames_direct,
            composited: ra.delta.frames_composited,
            wall_ms: ra.wall.as_secs_f64() * 1e3 / frames,
        });
        b.push(Sample {
            client_us: per_frame(rb.client_cpu),
            compositor_us: per_frame(rb.compositor_cpu),
            copied: (rb.client_bytes_copied + rb.delta.bytes_copied) as f64 / frames,
            composed: rb.delta.bytes_composited as f64 / frames,
            direct: rb.delta.frames_direct,
            composited: rb.delta.frames_composited,
            wall_ms: rb.wall.as_secs_f64() * 1e3 / frames,
        });
    }
    print("(a) zero-copy (DMABUF capture → primary plane)", &a);
    print(
        "(b) copy (MMAP capture → CPU copy → wl_shm → composited)",
        &b,
    );
    let ratios: Vec<f64> = a
        .iter()
        .zip(&b)
        .map(|(a, b)| a.total_us() / b.total_us())
        .collect();
    println!(
        "pairwise CPU ratios (a)/(b): {}",
        ratios
            .iter()
            .map(|r| format!("{r:.3}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "camera cost zero-copy/copy cpu ratio: {:.3} bytes copied/frame zero-copy: {:.0} copy: {:.0}",
        median(ratios),
        median(a.iter().map(|s| s.copied + s.composed).collect()),
        median(b.iter().map(|s| s.copied).collect()),
    );
    // What the compositor spends per frame without any client, at each
    // pipeline's frame time: the same in both, and the larger the share
    // the slower the frames (TCG). Subtracted, for the ratio of what the
    // pipelines themselves cost.
    let idle_s = median(idle.clone());
    let net = |s: &Sample| s.total_us() - idle_s * s.wall_ms * 1e3;
    let net_ratios: Vec<f64> = a.iter().zip(&b).map(|(a, b)| net(a) / net(b)).collect();
    println!(
        "compositor idle: {:.1} ms CPU per second (runs: {}); per frame (a) {:.0} us (b) {:.0} us; \
         net of idle CPU/frame (a) {:.0} us (b) {:.0} us, ratio median {:.3} (pairs: {})",
        idle_s * 1e3,
        idle.iter()
            .map(|v| format!("{:.1}", v * 1e3))
            .collect::<Vec<_>>()
            .join(" "),
        idle_s * median(a.iter().map(|s| s.wall_ms).collect()) * 1e3,
        idle_s * median(b.iter().map(|s| s.wall_ms).collect()) * 1e3,
        median(a.iter().map(net).collect()),
        median(b.iter().map(net).collect()),
        median(net_ratios.clone()),
        net_ratios
            .iter()
            .map(|r| format!("{r:.3}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let zero_ok = a
        .iter()
        .all(|s| s.direct == u64::from(args.frames) && s.copied == 0.0 && s.composed == 0.0);
    if zero_ok {
        ExitCode::SUCCESS
    } else {
        eprintln!("camera-cost: a zero-copy run composed or copied");
        ExitCode::FAILURE
    }
}
