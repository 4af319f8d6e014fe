//! One zero-copy scanout run, shared by the `zero-copy-scanout` demo and the
//! real-kernel test: the reference compositor on a KMS card (its own
//! thread), a dma-buf client (this thread) showing N frames, the counters
//! over those frames, the compositor thread's CPU time, a read-back of
//! the framebuffer the primary plane scans out, and the process's fd census
//! (`accord_fd_census`) before the client connects and after it leaves.

use std::{path::PathBuf, time::Duration};

use accord_fd_census::FdCensus;
use accord_smithay::kms::{Card, ScanoutTarget};

use crate::{
    cost::{Span, ThreadTimes},
    dmabuf_client::{Choice, CollectionOutcome, DmabufClient, Feedback},
    feedback_log::FeedbackSummary,
    kms_run::{settle, with_compositor},
    refcomp::{scanned_out, CounterSnapshot, DrmOptions, Error, RendererKind, Running},
};

/// What to run.
#[derive(Debug, Clone)]
pub struct ScanoutRun {
    pub card: PathBuf,
    pub frames: u32,
    pub buffers: usize,
    pub fullscreen: bool,
    /// `false`: the compositor composes every frame (`--no-direct-scanout`).
    pub direct_scanout: bool,
    /// Where the socket goes (the run makes and removes a directory in it).
    pub runtime_parent: PathBuf,
    /// Take the buffers from an Accord collection negotiated with the
    /// compositor; `false`: the client's own dumb buffers (the linux-dmabuf
    /// baseline).
    pub collection: bool,
    /// A `wp_viewport` on the surface, set before the first frame.
    pub viewport: Option<Viewport>,
    /// What composes (and drives the KMS output).
    pub renderer: RendererKind,
}

/// A surface's `wp_viewport`.
#[derive(Debug, Clone, Copy)]
pub struct Viewport {
    /// Source crop: x, y, width, height in surface coordinates.
    pub src: (f64, f64, f64, f64),
    /// Destination size.
    pub dst: (i32, i32),
}

impl ScanoutRun {
    pub fn new(card: impl Into<PathBuf>) -> Self {
        Self {
            card: card.into(),
            frames: 60,
            buffers: 3,
            fullscreen: true,
            direct_scanout: true,
            runtime_parent: std::env::temp_dir(),
            collection: true,
            viewport: None,
            renderer: RendererKind::Pixman,
        }
    }
}

/// A pixel checked through the scanned-out framebuffer.
#[derive(Debug, Clone, Copy)]
pub struct PixelCheck {
    pub at: (u32, u32),
    /// What the client wrote through its mapping (RGBA), after its last
    /// commit: it shows only if the display reads the client's memory.
    pub written: [u8; 4],
    pub read: [u8; 4],
}

/// The outcome of a run.
#[derive(Debug, Clone)]
pub struct ScanoutReport {
    pub feedback: Feedback,
    pub choice: Choice,
    pub size: (u32, u32),
    pub frames: u32,
    /// Counters over the client's frames only (first attach to last callback).
    pub delta: CounterSnapshot,
    /// The compositor's event-loop iterations (wake-ups) over those frames.
    pub loop_iterations: u64,
    /// CPU time of the compositor thread over those frames.
    pub compositor_cpu: Duration,
    /// CPU time of the client thread over those frames.
    pub client_cpu: Duration,
    /// User/system split of the compositor's and the client's CPU.
    pub compositor_times: ThreadTimes,
    pub client_times: ThreadTimes,
    pub wall: Duration,
    pub pixel: PixelCheck,
    /// The primary plane's framebuffer is the client's last buffer itself
    /// (same dma-buf inode).
    pub scanout_is_client_buffer: bool,
    pub scanout_format: String,
    /// Where the buffers came from, for people.
    pub buffers_from: String,
    /// The Accord outcome, when the buffers came from a collection.
    pub collection: Option<CollectionOutcome>,
    /// This process's fd census (the compositor's thread and the client)
    /// once the compositor has drawn its first frames, before the client
    /// connects.
    pub fds_before: FdCensus,
    /// The presentation feedback of the client's frames (each asks for one).
    pub presentation: FeedbackSummary,
    /// Their timestamps and sequences increase
    /// ([`check_timestamps_from`](crate::feedback_log::FeedbackLog::check_timestamps_from), without the spacing check:
    /// virtio-gpu under TCG keeps no vblank).
    pub presentation_timestamps: Result<(), String>,
    /// After the client disconnected and dropped its buffers, with the
    /// compositor still running: `Ok` once every kind is back at
    /// `fds_before` (waited for up to 5 s), else what differs.
    pub fds_after: Result<FdCensus, String>,
}

impl ScanoutReport {
    /// Bytes of client buffers the compositor read to compose the frames
    /// plus bytes it copied with the CPU (0 when every frame was scanned
    /// out directly).
    pub fn compositor_bytes(&self) -> u64 {
        self.delta.bytes_composited + self.delta.bytes_copied
    }
}

/// Runs the compositor on `run.card` and a client showing `run.frames`
/// frames; the compositor stops before this returns.
pub fn run_scanout(run: &ScanoutRun) -> Result<ScanoutReport, Error> {
    let mut options = DrmOptions::new(&run.card);
    options.direct_scanout = run.direct_scanout;
    with_compositor(
        &run.runtime_parent,
        "scanout",
        run.renderer,
        options,
        |compositor, baseline| run_client(run, compositor, baseline.fds),
    )
}

fn run_client(
    run: &ScanoutRun,
    compositor: &Running,
    fds_before: FdCensus,
) -> Result<ScanoutReport, Error> {
    let mut client = DmabufClient::connect(compositor.socket_path())?;
    let feedback = client.default_feedback()?;
    let choice = feedback
        .choose_xrgb8888_linear()
        .ok_or("the dmabuf feedback offers no XRGB8888 with LINEAR")?;
    let size = client.open_window(run.fullscreen, (640, 480))?;
    if let Some(v) = run.viewport {
        client.set_viewport(Some(v.src), Some(v.dst))?;
    }
    let count = run.buffers.clamp(1, 16);
    let (mut buffers, collection, buffers_from) = if run.collection {
        let (outcome, buffers) = client.allocate_collection(size, count as u32)?;
        let from = format!(
            "an Accord collection ({}, allocated by the compositor)",
            if outcome.dmabuf { "dma-bufs" } else { "memfd" }
        );
        (buffers, Some(outcome), from)
    } else {
        let buffers = client.allocate(&run.card, size, count, &choice)?;
        let from = format!(
            "the client's own dumb buffers on {} (PRIME, linux-dmabuf)",
            run.card.display()
        );
        (buffers, None, from)
    };
    for (i, b) in buffers.iter_mut().enumerate() {
        b.fill((0, 0, size.0, size.1), size.0, 0x0020_4060 + i as u32);
    }

    // Let the compositor finish what it draws before the client's first
    // buffer (smithay may still redraw older swapchain slots of the
    // background), so the counters below cover the client's frames only.
    settle(compositor);
    client.request_feedback()?;
    let span = Span::start(compositor);
    let count = buffers.len();
    for frame in 0..run.frames {
        let buffer = &mut buffers[frame as usize % count];
        // A moving square: the frame's content really changes.
        let x = (frame * 8) % size.0.saturating_sub(32).max(1);
        buffer.fill((x, 16, 32, 32), size.0, 0x00ff_ff00);
        client.present(&buffers[frame as usize % count])?;
    }
    // The last frame's feedback comes with its page flip.
    client.wait_for_feedback()?;
    let cost = span.finish(compositor);
    let presentation = client.feedback().summary_from(0);
    let presentation_timestamps = client.feedback().check_timestamps_from(0, false);

    // Write a pixel into the buffer on screen, without committing: the
    // scanned-out memory shows it only if it is the client's memory.
    let last = (run.frames.max(1) - 1) as usize % count;
    let at = (size.0 / 2, size.1 / 2);
    buffers[last].fill((at.0, at.1, 1, 1), size.0, 0x00c0_ffee);
    let written = [0xc0, 0xff, 0xee, 0xff];
    let card = Card::open(&run.card)?;
    card.enable_atomic()?;
    let plane = ScanoutTarget::first_connected(&card)?.plane;
    let shown = scanned_out(&card, plane)?;
    let shot = shown.read_rgba()?;
    let read = shot
        .pixel(at.0, at.1)
        .ok_or("the read-back framebuffer is smaller than the window")?;
    let shown_inode = rustix::fs::fstat(&shown.dmabuf)?.st_ino;
    let scanout_is_client_buffer = shown_inode == buffers[last].inode()?;
    let scanout_format = format!(
        "{:?} {}x{} pitch {}",
        shown.format, shown.width, shown.height, shown.pitch
    );
    drop(buffers);
    drop(client);
    drop(shown);
    drop(card);
    let fds_after =
        accord_fd_census::wait_for(&fds_before, Duration::from_secs(5), FdCensus::of_self);
    Ok(ScanoutReport {
        feedback,
        choice,
        size,
        frames: run.frames,
        delta: cost.delta,
        loop_iterations: cost.loop_iterations,
        compositor_cpu: cost.compositor_cpu,
        client_cpu: cost.client_cpu,
        compositor_times: cost.compositor_times,
        client_times: cost.client_times,
        wall: cost.wall,
        pixel: PixelCheck { at, written, read },
        scanout_is_client_buffer,
        scanout_format,
        buffers_from,
        collection,
        presentation,
        presentation_timestamps,
        fds_before,
        fds_after,
    })
}
