//! P4 (issue 6): compositor CPU time and the client bytes the compositor
//! read (to compose) or copied per fullscreen frame, direct scanout against
//! forced composition, measured side by side on a
//! KMS device: runs A (direct) and B (`--no-direct-scanout`) alternately,
//! A B A B…, and prints medians and the pairwise ratio's median.
//! Each pair ends with the floor (`flip_floor`): as many page flips of
//! mode-sized dumb buffers by one thread with nothing else running, what
//! a direct frame costs the kernel (and, under QEMU, the emulated device)
//! with no compositor at all, against the pair's composited frame.
//! Run it in the real-kernel tier: `tests/vm/run --bench`.

use std::{process::ExitCode, time::Duration};

use accord_examples::cost::{alternate, list, median, ratios, PairArgs};
use accord_examples::flip_floor::{run_flip_floor, FloorReport};
use accord_examples::refcomp::Error;
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
    /// Skip the floor runs (bare page flips, no compositor).
    #[arg(long)]
    no_floor: bool,
}

struct Sample {
    cpu_us_per_frame: f64,
    /// The compositor thread's system (kernel) part, per frame.
    sys_us_per_frame: f64,
    /// The client thread's CPU per frame.
    client_us_per_frame: f64,
    bytes_per_frame: f64,
    direct: u64,
    composited: u64,
}

fn sample(r: ScanoutReport) -> Sample {
    let frames = f64::from(r.frames.max(1));
    Sample {
        cpu_us_per_frame: r.compositor_cpu.as_secs_f64() * 1e6 / frames,
        sys_us_per_frame: r.compositor_times.system.as_secs_f64() * 1e6 / frames,
        client_us_per_frame: r.client_cpu.as_secs_f64() * 1e6 / frames,
        bytes_per_frame: r.compositor_bytes() as f64 / frames,
        direct: r.delta.frames_direct,
        composited: r.delta.frames_composited,
    }
}

fn main() -> ExitCode {
    let args = <Args as clap::Parser>::parse();
    let PairArgs {
        card,
        pairs,
        frames,
    } = args.run;
    let mut direct = ScanoutRun::new(&card);
    direct.frames = frames;
    let mut composed = direct.clone();
    composed.direct_scanout = false;

    let run = |r: &ScanoutRun| run_scanout(r).map(sample);
    // Each pair: direct, composed, then the floor (bare flips), so the
    // three see the same load on the host.
    let floor_on = !args.no_floor;
    let composed_then_floor = || -> Result<(Sample, Option<FloorReport>), Error> {
        let b = run(&composed)?;
        let f = if floor_on {
            Some(run_flip_floor(&card, frames).map_err(|e| format!("floor run: {e}"))?)
        } else {
            None
        };
        Ok((b, f))
    };
    let (a, bf) = match alternate(pairs, || run(&direct), composed_then_floor) {
        Ok(v) => v,
        Err(err) => {
            eprintln!("accord-frame-cost: {err}");
            return ExitCode::FAILURE;
        }
    };
    let (b, floor): (Vec<Sample>, Vec<Option<FloorReport>>) = bf.into_iter().unzip();
    let floor: Vec<FloorReport> = floor.into_iter().flatten().collect();
    let cpu = |s: &Sample| s.cpu_us_per_frame;
    for (name, s) in [("direct scanout", &a), ("forced composition", &b)] {
        println!(
            "{name}: {pairs} runs x {frames} frames: compositor CPU/frame median {:.0} us \
             (runs: {}; in the kernel, stat ticks: {:.0} us; client thread {:.0} us), \
             bytes read or copied by the compositor/frame median {:.0}, frames direct/composited per run {:?}",
            median(s.iter().map(cpu).collect()),
            list(s.iter().map(cpu), 0),
            median(s.iter().map(|s| s.sys_us_per_frame).collect()),
            median(s.iter().map(|s| s.client_us_per_frame).collect()),
            median(s.iter().map(|s| s.bytes_per_frame).collect()),
            s.iter()
                .map(|s| (s.direct, s.composited))
                .collect::<Vec<_>>(),
        );
    }
    if let Some(first) = floor.first() {
        let per = |d: Duration, r: &FloorReport| d.as_secs_f64() * 1e6 / f64::from(r.flips.max(1));
        let floor_cpu = |r: &FloorReport| per(r.cpu, r);
        println!(
            "floor (bare atomic page flips of {}x{} dumb buffers, one thread, no compositor): \
             {} runs x {frames} flips: CPU/flip median {:.0} us (runs: {}; in the kernel, \
             stat ticks: {:.0} us); wall {:.1} ms/flip; pairwise floor/direct median {:.3}, \
             floor/composited median {:.3} (pairs: {})",
            first.size.0,
            first.size.1,
            floor.len(),
            median(floor.iter().map(floor_cpu).collect()),
            list(floor.iter().map(floor_cpu), 0),
            median(floor.iter().map(|r| per(r.times.system, r)).collect()),
            median(
                floor
                    .iter()
                    .map(|r| r.wall.as_secs_f64() * 1e3 / f64::from(r.flips.max(1)))
                    .collect()
            ),
            median(ratios(&floor, &a, floor_cpu, cpu)),
            median(ratios(&floor, &b, floor_cpu, cpu)),
            list(ratios(&floor, &b, floor_cpu, cpu), 3),
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
