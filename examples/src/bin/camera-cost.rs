//! Issue 13's benchmark: CPU and bytes copied per camera frame, camera
//! client + compositor, for (a) the zero-copy pipeline (`camera_run`: vivid
//! captures into Accord collection buffers that the primary plane scans
//! out) against (b) the copy pipeline (`camera_copy`: vivid's own MMAP
//! buffers copied by the CPU into `wl_shm` buffers the compositor
//! composites). Runs A and B alternately, A B A B…, after one warm-up
//! pair, and prints medians and the median of the pairwise CPU ratios.
//! Run it in the real-kernel tier: `tests/vm/run --demo camera-cost`.

use std::process::ExitCode;

use accord_examples::camera_copy::run_copy;
use accord_examples::camera_run::{run_camera, CameraRun};

/// Alternates zero-copy and copy runs of vivid at the mode's size and
/// prints per-frame medians. Last line: `camera cost zero-copy/copy cpu
/// ratio: <float> bytes copied/frame zero-copy: <int> copy: <int>`.
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

fn main() -> ExitCode {
    accord_examples::logging::init("warn");
    let args = <Args as clap::Parser>::parse();
    let mut zero = CameraRun::new(&args.card, &args.video);
    zero.frames = args.frames;
    let per_frame = |d: std::time::Duration| d.as_secs_f64() * 1e6 / f64::from(args.frames);

    let (mut a, mut b) = (Vec::new(), Vec::new());
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
