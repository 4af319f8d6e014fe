//! P4 (issue 6): compositor CPU time and the client bytes the compositor
//! read (to compose) or copied per fullscreen frame, direct scanout against
//! forced composition, measured side by side on a
//! KMS device: runs A (direct) and B (`--no-direct-scanout`) alternately,
//! A B A B…, and prints medians and the pairwise ratio's median.
//! Run it in the real-kernel tier: `tests/vm/run --bench`.

use std::process::ExitCode;

use accord_examples::scanout_run::{run_scanout, ScanoutReport, ScanoutRun};

/// Alternates direct-scanout and forced-composition runs of a fullscreen
/// dma-buf client (after one warm-up pair) and prints per-frame medians.
/// Last line: `frame cost direct/composited cpu ratio: <float> bytes/frame
/// direct: <int> composited: <int>`.
#[derive(clap::Parser, Debug)]
#[command(name = "accord-frame-cost")]
struct Args {
    /// The KMS device.
    #[arg(long, value_name = "PATH", default_value = "/dev/dri/card0")]
    card: String,
    /// Measured pairs of runs (direct, composited).
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

struct Sample {
    cpu_us_per_frame: f64,
    bytes_per_frame: f64,
    direct: u64,
    composited: u64,
}

fn sample(r: &ScanoutReport) -> Sample {
    let frames = f64::from(r.frames.max(1));
    Sample {
        cpu_us_per_frame: r.compositor_cpu.as_secs_f64() * 1e6 / frames,
        bytes_per_frame: r.compositor_bytes() as f64 / frames,
        direct: r.delta.frames_direct,
        composited: r.delta.frames_composited,
    }
}

fn main() -> ExitCode {
    let args = <Args as clap::Parser>::parse();
    let (card, pairs, frames) = (args.card, usize::from(args.pairs), args.frames);
    let mut direct = ScanoutRun::new(&card);
    direct.frames = frames;
    let mut composed = direct.clone();
    composed.direct_scanout = false;

    let mut a = Vec::new();
    let mut b = Vec::new();
    // Pair 0 warms up (page cache, first modeset) and is not counted.
    for pair in 0..=pairs {
        for (run, out) in [(&direct, &mut a), (&composed, &mut b)] {
            match run_scanout(run) {
                Ok(r) if pair > 0 => out.push(sample(&r)),
                Ok(_) => {}
                Err(err) => {
                    eprintln!("accord-frame-cost: {err}");
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    let ratios: Vec<f64> = a
        .iter()
        .zip(&b)
        .map(|(a, b)| a.cpu_us_per_frame / b.cpu_us_per_frame)
        .collect();
    for (name, s) in [("direct scanout", &a), ("forced composition", &b)] {
        println!(
            "{name}: {pairs} runs x {frames} frames: compositor CPU/frame median {:.0} us \
             (runs: {}), bytes read or copied by the compositor/frame median {:.0}, frames direct/composited per run {:?}",
            median(s.iter().map(|s| s.cpu_us_per_frame).collect()),
            s.iter()
                .map(|s| format!("{:.0}", s.cpu_us_per_frame))
                .collect::<Vec<_>>()
                .join(" "),
            median(s.iter().map(|s| s.bytes_per_frame).collect()),
            s.iter()
                .map(|s| (s.direct, s.composited))
                .collect::<Vec<_>>(),
        );
    }
    println!(
        "frame cost direct/composited cpu ratio: {:.3} bytes/frame direct: {:.0} composited: {:.0}",
        median(ratios),
        median(a.iter().map(|s| s.bytes_per_frame).collect()),
        median(b.iter().map(|s| s.bytes_per_frame).collect()),
    );
    let all_direct = a
        .iter()
        .all(|s| s.direct == u64::from(frames) && s.bytes_per_frame == 0.0);
    if all_direct {
        ExitCode::SUCCESS
    } else {
        eprintln!("accord-frame-cost: a direct-scanout run composed or copied (P4 goal: 0 bytes)");
        ExitCode::FAILURE
    }
}
