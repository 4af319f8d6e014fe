//! Zero-copy scanout demo: the reference compositor on a KMS card and a
//! client whose fullscreen dma-bufs go on the primary plane as they are.
//! Run it in the real-kernel tier: `tests/vm/run --demo zero-copy-scanout`.
//!
//! The buffers come from an Accord buffer collection: the client and the
//! compositor (through `attach_to_surface`) negotiate, the compositor
//! allocates on its card, the client maps and draws. `--dumb` shows the
//! linux-dmabuf baseline instead (the client allocates dumb buffers itself).

use std::process::ExitCode;

use accord_examples::scanout_run::{run_scanout, ScanoutReport, ScanoutRun};

/// Starts the reference compositor on the card (as root), shows N frames of
/// a fullscreen dma-buf client, and prints the format used and
/// `direct scanout: N/N frames, 0 bytes read by the compositor`. Exits 1
/// unless every frame was scanned out directly with nothing read or copied
/// (or, with --windowed/--no-direct-scanout, unless every frame was
/// composited). The buffers come from an Accord collection negotiated with
/// the compositor; --dumb uses the client's own dumb buffers (linux-dmabuf
/// only) instead.
#[derive(clap::Parser, Debug)]
#[command(name = "zero-copy-scanout")]
struct Args {
    /// The KMS device.
    #[arg(long, value_name = "PATH", default_value = "/dev/dri/card0")]
    card: String,
    /// Frames to show.
    #[arg(long, value_name = "N", default_value_t = 60,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    frames: u32,
    /// Show the client in a window (composited) instead of fullscreen.
    #[arg(long)]
    windowed: bool,
    /// Composite even a fullscreen client (no direct scanout).
    #[arg(long)]
    no_direct_scanout: bool,
    /// The client's own dumb buffers through linux-dmabuf, no collection.
    #[arg(long)]
    dumb: bool,
}

fn fourcc(code: u32) -> String {
    code.to_le_bytes().iter().map(|&b| b as char).collect()
}

fn modifier(m: u64) -> String {
    match m {
        0 => "LINEAR".into(),
        0x00ff_ffff_ffff_ffff => "INVALID (implicit)".into(),
        m => format!("{m:#x}"),
    }
}

fn dev(d: u64) -> String {
    format!("{}:{}", rustix::fs::major(d), rustix::fs::minor(d))
}

fn print(report: &ScanoutReport, run: &ScanoutRun) {
    let fb = &report.feedback;
    println!("buffers: from {}", report.buffers_from);
    if let Some(c) = &report.collection {
        println!(
            "negotiated (Accord): {} modifier {}, {}x{}, stride {}, {}",
            fourcc(c.format),
            modifier(c.modifier),
            c.width,
            c.height,
            c.stride,
            if c.dmabuf { "dma-buf" } else { "memfd" }
        );
    }
    for t in &fb.tranches {
        let pairs: Vec<String> = t
            .formats
            .iter()
            .filter(|(f, _)| *f == report.choice.format)
            .map(|(f, m)| format!("{}/{}", fourcc(*f), modifier(*m)))
            .collect();
        println!(
            "feedback: main device {}, tranche on {}{}: {} formats ({})",
            dev(fb.main_device),
            dev(t.target_device),
            if t.scanout { " [scanout]" } else { "" },
            t.formats.len(),
            pairs.join(", ")
        );
    }
    let c = &report.choice;
    println!(
        "linux-dmabuf feedback choice: {} modifier {} on device {}{}, {}x{}, {} buffers",
        fourcc(c.format),
        modifier(c.modifier),
        dev(c.device),
        if c.scanout { " (scanout tranche)" } else { "" },
        report.size.0,
        report.size.1,
        run.buffers
    );
    println!(
        "scanned out: {}; the client's own buffer: {}; pixel written after the last commit at {:?}: wrote {:?}, read {:?}",
        report.scanout_format,
        if report.scanout_is_client_buffer { "yes" } else { "no" },
        report.pixel.at,
        report.pixel.written,
        report.pixel.read
    );
    let d = &report.delta;
    let per_frame = report.compositor_cpu.as_micros() / u128::from(report.frames.max(1));
    println!(
        "counters over the client's frames: {d}; compositor CPU {} us ({per_frame} us/frame), wall {} ms",
        report.compositor_cpu.as_micros(),
        report.wall.as_millis()
    );
    println!(
        "{}/{} frames scanned out directly, {} composited; {} bytes read by the compositor, {} bytes copied",
        d.frames_direct,
        report.frames,
        d.frames_composited,
        d.bytes_composited,
        d.bytes_copied
    );
    match &report.fds_after {
        Ok(after) => println!(
            "fds of this process (compositor and client): {} before the client, {after} after it left",
            report.fds_before
        ),
        Err(err) => println!("fds: {err}"),
    }
}

fn main() -> ExitCode {
    accord_examples::logging::init("warn");
    let args = <Args as clap::Parser>::parse();
    let mut run = ScanoutRun::new(&args.card);
    run.frames = args.frames;
    run.fullscreen = !args.windowed;
    run.direct_scanout = !args.no_direct_scanout;
    run.collection = !args.dumb;
    let report = match run_scanout(&run) {
        Ok(r) => r,
        Err(err) => {
            eprintln!("zero-copy-scanout: {err}");
            return ExitCode::FAILURE;
        }
    };
    print(&report, &run);
    let d = &report.delta;
    let ok = report.fds_after.is_ok()
        && if run.fullscreen && run.direct_scanout {
            d.frames_direct == u64::from(report.frames)
                && d.frames_composited == 0
                && report.compositor_bytes() == 0
                && report.scanout_is_client_buffer
                && report.pixel.read == report.pixel.written
        } else {
            d.frames_composited == u64::from(report.frames)
                && d.frames_direct == 0
                && d.bytes_composited > 0
        };
    if ok {
        ExitCode::SUCCESS
    } else {
        eprintln!("zero-copy-scanout: the frames did not reach the screen as expected");
        ExitCode::FAILURE
    }
}
