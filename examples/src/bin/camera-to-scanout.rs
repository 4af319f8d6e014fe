//! Camera to scanout with no copy: a V4L2 camera captures into Accord
//! collection buffers that the display scans out as they are.
//! Run it in the real-kernel tier (vivid is the camera):
//! `tests/vm/run --demo camera-to-scanout`; with `--two-process`, a
//! camera process and a player process (`accord_examples::camera_pair`).

use std::process::ExitCode;

use accord_examples::camera_pair::{role_main, run_pair, PairRun, ROLE_FLAG};
use accord_examples::camera_run::{run_camera, CameraReport, CameraRun};
use accord_v4l2::fourcc::{fourcc_str, FOURCC_LEN};

/// Starts the reference compositor on the card (as root), opens a
/// fullscreen window, negotiates one Accord collection between the
/// compositor (a token attached to the window) and the camera (its
/// constraints probed from the V4L2 node at the window's size), and shows
/// every captured frame by attaching its buffer's `wl_buffer`; the client
/// never maps a buffer. Prints the decision and `camera → scanout: N/N
/// frames direct, 0 bytes copied` from the compositor's counters. Exits 1
/// unless every frame was scanned out directly with nothing composited or
/// copied.
#[derive(clap::Parser, Debug)]
#[command(name = "camera-to-scanout")]
struct Args {
    /// The KMS device.
    #[arg(long, value_name = "PATH", default_value = "/dev/dri/card0")]
    card: String,
    /// The V4L2 capture node.
    #[arg(long, value_name = "PATH", default_value = "/dev/video0")]
    video: String,
    /// The V4L2 pixel format to capture (its DRM twin is negotiated).
    #[arg(long, value_name = "FOURCC", default_value = "XR24",
          value_parser = parse_fourcc)]
    format: u32,
    /// Frames to show.
    #[arg(long, value_name = "N", default_value_t = 60,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    frames: u32,
    /// Run the camera and the player as two processes (this program run
    /// again as each): the camera process owns the node and exports the
    /// collection, the player imports it and presents.
    #[arg(long)]
    two_process: bool,
}

fn parse_fourcc(s: &str) -> Result<u32, String> {
    let b = s.as_bytes();
    if b.len() != FOURCC_LEN || !b.iter().all(|c| c.is_ascii_graphic() || *c == b' ') {
        return Err(format!("{s:?}: expected four characters, e.g. XR24"));
    }
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn print(r: &CameraReport) {
    println!("camera: {}", r.camera);
    let n = &r.negotiated;
    println!(
        "decision: {} modifier {:#x} (LINEAR), {}x{}, stride {}, {} bytes per buffer, {} buffers, {} exported by {}",
        fourcc_str(n.format),
        n.modifier,
        n.width,
        n.height,
        n.stride,
        n.buffer_size,
        n.buffers,
        if n.dmabuf { "dma-bufs" } else { "memfds" },
        n.exporter.as_deref().unwrap_or("?")
    );
    let d = &r.cost.delta;
    println!(
        "frames: camera sequence {}..{}, compositor CPU {} us/frame, wall {} ms/frame",
        r.sequences.0,
        r.sequences.1,
        r.cost.compositor_cpu.as_micros() / u128::from(r.frames.max(1)),
        r.cost.wall.as_millis() / u128::from(r.frames.max(1))
    );
    println!(
        "scanned out: {}; the camera's own buffer: {}",
        r.scanout_format,
        if r.scanout_is_camera_buffer {
            "yes"
        } else {
            "no"
        }
    );
    println!("counters over the camera's frames: {d}");
    match &r.fds_after {
        Ok(after) => println!("fds: {} before, {after} after", r.fds_before),
        Err(err) => println!("fds: {err}"),
    }
    println!("charged bytes: {}", r.charged);
    println!(
        "camera → scanout: {}/{} frames direct, {} bytes copied",
        d.frames_direct,
        r.frames,
        d.bytes_copied + d.bytes_composited
    );
}

fn main() -> ExitCode {
    accord_examples::logging::init("warn");
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some(ROLE_FLAG) {
        return role_main(&argv[2..]);
    }
    let args = <Args as clap::Parser>::parse();
    if args.two_process {
        return two_process(&args);
    }
    let mut run = CameraRun::new(&args.card, &args.video);
    run.frames = args.frames;
    run.v4l2_format = args.format;
    let report = match run_camera(&run) {
        Ok(r) => r,
        Err(err) => {
            eprintln!("camera-to-scanout: {err}");
            return ExitCode::FAILURE;
        }
    };
    print(&report);
    let d = &report.cost.delta;
    if report.fds_after.is_ok()
        && report.charged.after.is_ok()
        && d.frames_direct == u64::from(report.frames)
        && d.frames_composited == 0
        && d.bytes_copied == 0
        && d.bytes_composited == 0
        && report.scanout_is_camera_buffer
    {
        ExitCode::SUCCESS
    } else {
        eprintln!("camera-to-scanout: the camera's frames did not all reach the screen directly");
        ExitCode::FAILURE
    }
}

/// `--two-process`: the compositor here, the camera and the player as
/// this program run again.
fn two_process(args: &Args) -> ExitCode {
    if args.format != u32::from_le_bytes(*b"XR24") {
        eprintln!("camera-to-scanout: --two-process captures XR24 only");
        return ExitCode::FAILURE;
    }
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(err) => {
            eprintln!("camera-to-scanout: cannot find this program: {err}");
            return ExitCode::FAILURE;
        }
    };
    let mut run = PairRun::new(&args.card, &args.video);
    run.frames = args.frames;
    let r = match run_pair(&run, &exe) {
        Ok(r) => r,
        Err(err) => {
            eprintln!("camera-to-scanout: {err}");
            return ExitCode::FAILURE;
        }
    };
    let d = &r.delta;
    println!("camera process: {}", r.camera);
    println!("player process: {}", r.player);
    println!("counters over the camera's frames: {d}");
    match &r.fds_after {
        Ok(after) => println!("compositor fds: {} before, {after} after", r.fds_before),
        Err(err) => println!("compositor fds: {err}"),
    }
    println!("charged bytes: {}", r.charged);
    println!(
        "charged bytes once the camera process left, the player holding the buffers: {}",
        r.charged_camera_gone
    );
    println!(
        "camera → scanout (two processes): {}/{} frames direct, {} bytes copied",
        d.frames_direct,
        r.frames,
        d.bytes_copied + d.bytes_composited
    );
    if r.fds_after.is_ok()
        && r.charged.after.is_ok()
        && d.frames_direct == u64::from(r.frames)
        && d.frames_composited == 0
        && d.bytes_copied == 0
        && d.bytes_composited == 0
        && r.player.get("last_is_camera_buffer") == "1"
    {
        ExitCode::SUCCESS
    } else {
        eprintln!("camera-to-scanout: the camera's frames did not all reach the screen directly");
        ExitCode::FAILURE
    }
}
