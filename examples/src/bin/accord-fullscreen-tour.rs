//! Issue 15's benchmark: renegotiation's trigger 1 on a KMS card. A
//! producer (`accord_examples::fullscreen_tour`) starts fullscreen on the
//! first output, then toggles `--toggles` times between windowed and
//! fullscreen (on each output in turn when there are several), presenting
//! `--frames` frames after each switch. Prints each step, then the time
//! from the trigger (the request) to the first frame of the new
//! generation on screen, in milliseconds and in frame periods of the
//! first output's mode, and the frames dropped (rendered but not read
//! back from the output); and in page flips of the window's output, the
//! count ROUND2 checks the frame-period goal with (virtio-gpu has no
//! vblank under TCG). Then, per window size, the kernel's floor: the
//! same dumb-buffer backend allocating that generation's buffers with no
//! compositor, no protocol and no display test (`bare allocation`), so the
//! rest of each switch is what Accord and the producer spend. Run it in
//! the real-kernel tier:
//! `tests/vm/run --icount --gpu max_outputs=2,xres=1280,yres=720
//! --kernel-arg video=Virtual-2:1024x768e --demo accord-fullscreen-tour`.

use std::{path::PathBuf, process::ExitCode};

use accord_examples::{
    fullscreen_tour::{run_tour, Step},
    refcomp::RendererKind,
};
use accord_smithay::backend::{CollectionAllocator, DumbBackend};
use std::time::{Duration, Instant};

#[derive(clap::Parser, Debug)]
#[command(name = "accord-fullscreen-tour")]
struct Args {
    /// The KMS card.
    #[arg(long, default_value = "/dev/dri/card0")]
    card: PathBuf,
    /// Changes of the window (windowed ↔ fullscreen).
    #[arg(long, default_value_t = 20)]
    toggles: usize,
    /// Frames presented after each change.
    #[arg(long, default_value_t = 3)]
    frames: u32,
    /// What composes: pixman or gles.
    #[arg(long, default_value = "pixman")]
    renderer: RendererKind,
}

fn main() -> ExitCode {
    let args = <Args as clap::Parser>::parse();
    accord_examples::logging::init("warn");
    let outputs = accord_examples::kms_run::connected_heads(&args.card);
    // Windowed, fullscreen on the next output, windowed, ...
    let steps: Vec<Step> = (0..args.toggles)
        .map(|i| match i % 2 {
            0 => Step::Windowed,
            _ => Step::Fullscreen((i / 2 + 1) % outputs),
        })
        .collect();
    let report = match run_tour(&args.card, args.renderer, &steps, args.frames.max(1), false) {
        Ok(r) => r,
        Err(err) => {
            eprintln!("accord-fullscreen-tour: {err}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "outputs {:?}, first at {} mHz, renderer {}",
        report.outputs,
        report.refresh_mhz,
        args.renderer.name()
    );
    println!("start  {}", report.first.line(report.refresh_mhz));
    for (i, s) in report.steps.iter().enumerate() {
        println!("{:>5}  {}", i + 1, s.line(report.refresh_mhz));
    }
    let period = 1e3 / (f64::from(report.refresh_mhz.max(1)) / 1e3);
    let mut ms: Vec<f64> = report
        .steps
        .iter()
        .map(|s| s.switch_time.as_secs_f64() * 1e3)
        .collect();
    ms.sort_by(f64::total_cmp);
    let mut gen_ms: Vec<f64> = report
        .steps
        .iter()
        .map(|s| s.generation_time.as_secs_f64() * 1e3)
        .collect();
    gen_ms.sort_by(f64::total_cmp);
    let gen_median = gen_ms.get(gen_ms.len() / 2).copied().unwrap_or(0.0);
    let median = ms.get(ms.len() / 2).copied().unwrap_or(0.0);
    let max = ms.last().copied().unwrap_or(0.0);
    let all = std::iter::once(&report.first).chain(&report.steps);
    let rendered: u32 = all.clone().map(|s| s.frames_rendered).sum();
    let seen: u32 = all.map(|s| s.frames_seen).sum();
    println!(
        "fds after: {}; charged bytes: {}",
        match &report.fds_after {
            Ok(_) => "back at the baseline".to_owned(),
            Err(e) => e.clone(),
        },
        report.charged
    );
    println!(
        "trigger to first new-generation frame over {} toggles: median {median:.1} ms = {:.1} frame periods (of which the new generation in hand: {gen_median:.1} ms), max {max:.1} ms = {:.1}; frames dropped: {} of {rendered}",
        report.steps.len(),
        median / period,
        max / period,
        rendered - seen,
    );
    let mut flips: Vec<u64> = report.steps.iter().map(|s| s.switch_flips).collect();
    flips.sort();
    println!(
        "page flips of the window's output from trigger to first new-generation frame (its flip included): median {}, max {} (goal: at most 2)",
        flips.get(flips.len() / 2).copied().unwrap_or(0),
        flips.last().copied().unwrap_or(0),
    );
    breakdown(&args.card, &report.steps, period);
    if rendered == seen {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Per window size: the median switch, split into the new generation in
/// hand and the first frame after it, beside the kernel's floor for that
/// generation (the median of 3 bare allocations of its buffers).
fn breakdown(
    card: &std::path::Path,
    steps: &[accord_examples::fullscreen_tour::StepReport],
    period: f64,
) {
    let mut sizes: Vec<((u32, u32), usize)> = steps.iter().map(|s| (s.size, s.buffers)).collect();
    sizes.sort();
    sizes.dedup();
    for (size, buffers) in sizes {
        let of_size: Vec<_> = steps.iter().filter(|s| s.size == size).collect();
        let median = |f: &dyn Fn(&accord_examples::fullscreen_tour::StepReport) -> Duration| {
            let mut v: Vec<f64> = of_size.iter().map(|s| f(s).as_secs_f64() * 1e3).collect();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let switch = median(&|s| s.switch_time);
        let generation = median(&|s| s.generation_time);
        let draw = median(&|s| s.switch_time.saturating_sub(s.generation_time));
        match bare_allocation(card, size, buffers) {
            Ok(bare) => println!(
                "{}x{} ({} steps, {buffers} buffers): switch {switch:.1} ms = {:.1} periods; generation in hand {generation:.1} ms, then first frame {draw:.1} ms; bare allocation of {buffers} buffers {bare:.1} ms; switch without it {:.1} ms = {:.1} periods",
                size.0,
                size.1,
                of_size.len(),
                switch / period,
                switch - bare,
                (switch - bare) / period,
            ),
            Err(e) => println!("{}x{}: bare allocation failed: {e}", size.0, size.1),
        }
    }
}

/// Milliseconds for the dumb-buffer backend alone to allocate `count`
/// XRGB8888 buffers of `size` (median of 3), freed after each run.
fn bare_allocation(card: &std::path::Path, size: (u32, u32), count: usize) -> Result<f64, String> {
    let wants = accord_engine::Constraints {
        formats: vec![accord_engine::FormatModifier {
            format: u32::from_le_bytes(*b"XR24"),
            modifier: accord_engine::MOD_LINEAR,
            scanout: true,
        }],
        min_size: size,
        usage: accord_engine::Usage::SCANOUT,
        ..Default::default()
    };
    let mut decision = accord_engine::solve(&[wants]).map_err(|f| f.message)?;
    decision.buffer_count = u32::try_from(count).map_err(|e| e.to_string())?;
    let mut dumb = DumbBackend::open(card).map_err(|e| e.to_string())?;
    let mut ms: Vec<f64> = (0..3)
        .map(|_| {
            let start = Instant::now();
            let buffers = dumb.allocate(&decision).map_err(|e| e.to_string())?;
            let took = start.elapsed().as_secs_f64() * 1e3;
            drop(buffers);
            Ok(took)
        })
        .collect::<Result<_, String>>()?;
    ms.sort_by(f64::total_cmp);
    Ok(ms[1])
}
