//! The reference compositor as a process. See `--help`.

use std::{path::PathBuf, process::ExitCode};

use accord_examples::cli::{parse_size, Size};
use accord_examples::refcomp::{
    Compositor, Config, DrmOptions, Error, RendererKind, ScreenshotRequest, XDG_SHELL_VERSION,
};
use accord_smithay::collections as budgets;
use clap::Parser;
use smithay::reexports::calloop::signals::{Signal, Signals};

/// A Wayland compositor (Smithay, Pixman or GLES, one output): headless by
/// default, or on a KMS device with --drm, where a fullscreen client's
/// dma-buf goes on the primary plane as it is (direct scanout).
///
/// It serves the Accord global (wp_buffer_collection_manager_v1; memfd
/// allocator headless, dumb buffers on the card with --drm). It prints
/// `accord-compositor: listening on WAYLAND_DISPLAY=<name>` once clients can
/// connect, and `accord-compositor: counters frames_rendered=..
/// surface_commits=.. bytes_copied=.. foreign_frames_shown=.. frames_direct=..
/// frames_direct_opaque=.. frames_composited=.. bytes_composited=..
/// frames_presented=.. frames_discarded=.. frames_zero_copy=..
/// frames_scaled_direct=.. frames_scaled_composited=..` when it exits
/// (SIGINT, SIGTERM, or a limit below). SIGUSR1 prints the same line while
/// it runs, after one `accord-compositor: surface <client>/wl_surface@<id>
/// presented=.. discarded=.. zero_copy=..` line per live surface that got
/// presentation feedback.
#[derive(Parser, Debug)]
#[command(
    name = "accord-compositor",
    after_help = "RUST_LOG sets the log filter (default: info)."
)]
struct Cli {
    /// Run on this KMS device (as root; first connected connector, preferred
    /// mode; --size is ignored).
    #[arg(long, value_name = "/dev/dri/cardN")]
    drm: Option<PathBuf>,
    /// With --drm: compose every frame (no direct scanout).
    #[arg(long, requires = "drm")]
    no_direct_scanout: bool,
    /// Socket name in $XDG_RUNTIME_DIR (default: the first free wayland-N).
    #[arg(long, value_name = "NAME")]
    socket: Option<String>,
    /// Output size, headless.
    #[arg(long, value_name = "WxH", value_parser = parse_size, default_value_t = default_size())]
    size: Size,
    /// Write the output as PNG after --frames frames.
    #[arg(long, value_name = "FILE.png")]
    screenshot: Option<PathBuf>,
    /// Frames to render before the screenshot.
    #[arg(long, value_name = "N", value_parser = parse_count, default_value_t = 1)]
    frames: u64,
    /// Stop once the screenshot is written.
    #[arg(long, requires = "screenshot")]
    exit_after_screenshot: bool,
    /// Stop after N rendered frames.
    #[arg(long, value_name = "N", value_parser = parse_count)]
    frames_limit: Option<u64>,
    /// Open connections one client (a process, or a sandboxed app through
    /// wp_security_context_v1) may hold; further ones are closed at once.
    #[arg(long, value_name = "N", value_parser = parse_connections,
        default_value_t = accord_smithay::DEFAULT_MAX_CONNECTIONS_PER_IDENTITY)]
    max_connections_per_client: usize,
    /// Exported handles one client (process or app) may leave pending,
    /// its connections together, closed ones included; an export beyond
    /// fails `quota_exceeded` ("pending handle budget"). 1 to 1,000,000;
    /// each costs the compositor about 600 B (a handle holds its
    /// collection open: raise --collections-per-client with it).
    #[arg(long, value_name = "N", value_parser = parse_budget,
        default_value_t = budgets::DEFAULT_PENDING_HANDLES_PER_CLIENT)]
    pending_handles_per_client: usize,
    /// Live collections one client (process or app) may have created; one
    /// beyond fails `quota_exceeded` ("collection budget"). 1 to 1,000,000.
    #[arg(long, value_name = "N", value_parser = parse_budget,
        default_value_t = budgets::DEFAULT_COLLECTIONS_PER_CLIENT)]
    collections_per_client: usize,
    /// Pending exported handles of all clients together; an export beyond
    /// fails `quota_exceeded`. 1 to 1,000,000 (about 600 B each).
    #[arg(long, value_name = "N", value_parser = parse_budget,
        default_value_t = budgets::DEFAULT_MAX_PENDING_HANDLES)]
    max_pending_handles: usize,
    /// The xdg_wm_base version to advertise, 1 to 6 (6: smithay's). Clients
    /// built against older xdg-shell that bind whatever version is offered
    /// need a lower one: weston 10's demo clients abort on version 4's
    /// xdg_toplevel.configure_bounds ("listener function for opcode 2 of
    /// xdg_toplevel is NULL"); 3 serves them.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=i64::from(XDG_SHELL_VERSION)),
        default_value_t = XDG_SHELL_VERSION)]
    xdg_shell_version: u32,
    /// What composes the output: gles (EGL; headless on Mesa's software
    /// device, llvmpipe, which imports no dma-buf, so client buffers are
    /// uploaded and counted in bytes_copied; with --drm on the card's GBM
    /// device) or pixman (the CPU). Default: gles where EGL comes up,
    /// pixman otherwise; the log says which and why (`renderer: gles (EGL
    /// on ...)`, `renderer: pixman (GLES failed: ...)`). A renderer named
    /// here never falls back.
    #[arg(long, value_name = "gles|pixman")]
    renderer: Option<RendererKind>,
}

/// The largest value a budget flag takes: 10⁶ pending handles are about
/// 600 MB of compositor memory.
const MAX_BUDGET: usize = 1_000_000;

/// `Config::default()`'s output size.
fn default_size() -> Size {
    let config = Config::default();
    Size {
        width: config.width.unsigned_abs(),
        height: config.height.unsigned_abs(),
    }
}

/// A whole number >= 1 (frame counts).
fn parse_count(v: &str) -> Result<u64, String> {
    match v.parse::<u64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("expected a whole number >= 1".to_owned()),
    }
}

/// A whole number >= 1 (a connection budget of 0 would refuse everyone).
fn parse_connections(v: &str) -> Result<usize, String> {
    match v.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("expected a whole number >= 1".to_owned()),
    }
}

/// A budget from 1 to [`MAX_BUDGET`] (0 would refuse every request; a
/// larger one no longer bounds the compositor's memory).
fn parse_budget(v: &str) -> Result<usize, String> {
    match v.parse::<usize>() {
        Ok(n) if (1..=MAX_BUDGET).contains(&n) => Ok(n),
        _ => Err(format!("expected a whole number from 1 to {MAX_BUDGET}")),
    }
}

impl Cli {
    /// The compositor's configuration, the KMS options with --drm, and the
    /// renderer asked for (`None`: the default).
    fn into_config(self) -> (Config, Option<DrmOptions>, Option<RendererKind>) {
        let drm = self.drm.map(|path| DrmOptions {
            direct_scanout: !self.no_direct_scanout,
            ..DrmOptions::new(path)
        });
        // parse_size keeps both sides within i32.
        let side = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
        let config = Config {
            socket_name: self.socket,
            width: side(self.size.width),
            height: side(self.size.height),
            frames_limit: self.frames_limit,
            max_connections_per_client: self.max_connections_per_client,
            pending_handles_per_client: Some(self.pending_handles_per_client),
            collections_per_client: Some(self.collections_per_client),
            max_pending_handles: Some(self.max_pending_handles),
            xdg_shell_version: self.xdg_shell_version,
            screenshot: self.screenshot.map(|path| ScreenshotRequest {
                path,
                after_frames: self.frames,
                exit_after: self.exit_after_screenshot,
            }),
            ..Config::default()
        };
        (config, drm, self.renderer)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    accord_examples::logging::init("info");
    match run(cli.into_config()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("accord-compositor: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(
    (config, drm, renderer): (Config, Option<DrmOptions>, Option<RendererKind>),
) -> Result<(), Error> {
    let (compositor, chosen) = Compositor::with_renderer(config, drm.as_ref(), renderer)?;
    tracing::info!("renderer: {chosen}");
    let signals = Signals::new(&[Signal::SIGINT, Signal::SIGTERM, Signal::SIGUSR1])?;
    compositor
        .loop_handle()
        .insert_source(signals, |event, _, state| {
            if event.signal() == Signal::SIGUSR1 {
                // The counters while running: per surface, then the totals.
                for (surface, f) in state.counters.surfaces() {
                    say(format_args!(
                        "accord-compositor: surface {surface} presented={} discarded={} \
                         zero_copy={}",
                        f.presented, f.discarded, f.zero_copy
                    ));
                }
                say(format_args!(
                    "accord-compositor: counters {}",
                    state.counters.snapshot()
                ));
                return;
            }
            tracing::info!(signal = ?event.signal(), "stopping");
            state.loop_signal.stop();
        })
        .map_err(|e| e.error)?;
    say(format_args!(
        "accord-compositor: listening on WAYLAND_DISPLAY={}",
        compositor.socket_name()
    ));
    let counters = compositor.run()?;
    say(format_args!("accord-compositor: counters {counters}"));
    Ok(())
}

/// One line on stdout. Whoever started us may have closed it (`println!`
/// would panic on EPIPE): the compositor runs on without the line.
fn say(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}
