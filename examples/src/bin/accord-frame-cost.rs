//! P4 (issue 6): compositor CPU time and the client bytes the compositor
//! read (to compose) or copied per fullscreen frame, direct scanout against
//! forced composition, measured side by side on a
//! KMS device: runs A (direct) and B (`--no-direct-scanout`) alternately,
//! A B A B…, and prints medians and the pairwise ratio's median.
//! Run it in the real-kernel tier: `tests/vm/run --bench`.

use std::process::ExitCode;

use accord_examples::cost::{alternate, list, median, ratios, PairArgs};
use accord_examples::scanout_run::{run_scanout, ScanoutReport, ScanoutRun};

/// Alternates direct-scanout and forced-composition runs of a fullscreen
/// dma-buf client (after one warm-up pair) and prints per-frame medians.
/// Last line: `frame cost direct/composited cpu ratio: <float> bytes/frame
/// direct: <int> composited: <int>`.
#[derive(clap::Parser, Debug)]
#[command(name = "accord-frame-cost")]
struct Args {
    #[command(flatten)]
    run: PairArgs,
}

struct Sample {
    cpu_us_per_frame: f64,
    bytes_per_frame: f64,
    direct: u64,
    composited: u64,
}

fn sample(r: ScanoutReport) -> Sample {
    let frames = f64::from(r.frames.max(1));
    Sample {
        cpu_us_per_frame: r.compositor_cpu.as_secs_f64() * 1e6 / frames,
        bytes_per_frame: r.compositor_bytes() as f64 / frames,
        direct: r.delta.frames_direct,
        composited: r.delta.frames_composited,
    }
}

fn main() -> ExitCode {
    let PairArgs {
        card,
        pairs,
        frames,
    } = <Args as clap::Parser>::parse().run;
    let mut direct = ScanoutRun::new(&card);
    direct.frames = frames;
    let mut composed = direct.clone();
    composed.direct_scanout = false;

    let run = |r: &ScanoutRun| run_scanout(r).map(sample);
    let (a, b) = match alternate(pairs, || run(&direct), || run(&composed)) {
        Ok(v) => v,
        Err(err) => {
            eprintln!("accord-frame-cost: {err}");
            return ExitCode::FAILURE;
        }
    };
    let cpu = |s: &Sample| s.cpu_us_per_frame;
    for (name, s) in [("direct scanout", &a), ("forced composition", &b)] {
        println!(
            "{name}: {pairs} runs x {frames} frames: compositor CPU/frame median {:.0} us \
             (runs: {}), bytes read or copied by the compositor/frame median {:.0}, frames direct/composited per run {:?}",
            median(s.iter().map(cpu).collect()),
            list(s.iter().map(cpu), 0),
            median(s.iter().map(|s| s.bytes_per_frame).collect()),
            s.iter()
                .map(|s| (s.direct, s.composited))
                .collect::<Vec<_>>(),
        );
    }
    println!(
        "frame cost direct/composited cpu ratio: {:.3} bytes/frame direct: {:.0} composited: {:.0}",
        median(ratios(&a, &b, cpu, cpu)),
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
