//! Issue 15's benchmark: renegotiation's trigger 1 on a KMS card. A
//! producer (`accord_examples::fullscreen_tour`) starts fullscreen on the
//! first output, then toggles `--toggles` times between windowed and
//! fullscreen (on each output in turn when there are several), presenting
//! `--frames` frames after each switch. Prints each step, then the time
//! from the trigger (the request) to the first frame of the new
//! generation on screen, in milliseconds and in frame periods of the
//! first output's mode, and the frames dropped (rendered but not read
//! back from the output). Run it in the real-kernel tier:
//! `tests/vm/run --icount --gpu max_outputs=2,xres=1280,yres=720
//! --kernel-arg video=Virtual-2:1024x768e --demo accord-fullscreen-tour`.

use std::{path::PathBuf, process::ExitCode};

use accord_examples::{
    fullscreen_tour::{run_tour, Step},
    refcomp::RendererKind,
};
use accord_smithay::kms::{Card, PlaneKind, ScanoutTarget};

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
    let outputs = Card::open(&args.card)
        .and_then(|card| {
            card.enable_atomic()?;
            ScanoutTarget::connected_with(&card, PlaneKind::Primary)
        })
        .map(|t| t.len().max(1))
        .unwrap_or(1);
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
    if rendered == seen {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
