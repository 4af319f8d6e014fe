//! Camera to scanout, shared by the `camera-to-scanout` demo and the
//! real-kernel test: the reference compositor on a KMS card (its own
//! thread) and a client (this thread) that opens a fullscreen window,
//! creates one Accord collection with two participants — the compositor,
//! through a token attached to the surface (it joins with the primary
//! plane's scanout formats), and the camera, with the constraints
//! `accord_v4l2` probes from its node at the window's size — and then, for
//! each frame the camera captures into a collection buffer, attaches that
//! buffer's `wl_buffer`. The client never maps a buffer.
//!
//! A buffer goes back to the camera once the next frame is on screen (its
//! frame callback has come: the flip that replaced it is done), so the
//! camera never writes into the buffer the display scans out. The
//! compositor's surface participant camps two buffers (on screen, queued
//! for the flip), so the camera keeps its minimum queued meanwhile.

use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::time::Duration;

use accord_client::{Accord, Allocation, MemoryKind};
use accord_fd_census::FdCensus;
use accord_smithay::kms::{Card, ScanoutTarget};
use accord_v4l2::{fourcc::fourcc, CameraConstraints, Capture, Node};
use wayland_client::protocol::wl_buffer::WlBuffer;

use crate::{
    cost::{Measured, Span},
    dmabuf_client::DmabufClient,
    kms_run::{settle, with_compositor, Baseline, Charged},
    refcomp::{scanned_out, DrmOptions, Error, Running},
};

/// What to run.
#[derive(Debug, Clone)]
pub struct CameraRun {
    pub card: PathBuf,
    pub video: PathBuf,
    /// `V4L2_PIX_FMT_*` to capture (its DRM twin is negotiated).
    pub v4l2_format: u32,
    pub frames: u32,
    /// Where the socket goes (the run makes and removes a directory in it).
    pub runtime_parent: PathBuf,
    /// Frames (0-based) at which the test reads the primary plane's
    /// framebuffer back and compares it with the collection buffer the
    /// camera filled (mapped for that, read only). Empty for the demo,
    /// which never maps a buffer.
    pub check_frames: Vec<u32>,
}

impl CameraRun {
    pub fn new(card: impl Into<PathBuf>, video: impl Into<PathBuf>) -> Self {
        Self {
            card: card.into(),
            video: video.into(),
            v4l2_format: fourcc(b"XR24"),
            frames: 60,
            runtime_parent: std::env::temp_dir(),
            check_frames: Vec::new(),
        }
    }
}

/// The negotiated collection as the client received it.
#[derive(Debug, Clone)]
pub struct Negotiated {
    pub format: u32,
    pub modifier: u64,
    pub width: u32,
    pub height: u32,
    pub stride: u32,
    pub buffer_size: u64,
    pub buffers: usize,
    pub dmabuf: bool,
    /// `exp_name` of buffer 0's fd (`virtio_gpu` for card0's dumb buffers).
    pub exporter: Option<String>,
}

/// One read-back: the plane's framebuffer against the buffer the camera
/// wrote.
#[derive(Debug, Clone)]
pub struct PixelSample {
    pub frame: u32,
    pub sequence: u32,
    pub buffer: u32,
    /// The framebuffer is that collection buffer (same dma-buf inode).
    pub same_buffer: bool,
    pub pixels: usize,
    /// Pixels whose R, G, B differ between the two.
    pub mismatched: usize,
    /// Distinct colours among every 16th pixel of the camera's frame: a
    /// real picture, not a blank buffer compared with a blank screen.
    pub colours: usize,
}

/// The outcome of a run.
#[derive(Debug, Clone)]
pub struct CameraReport {
    pub camera: CameraConstraints,
    pub negotiated: Negotiated,
    pub frames: u32,
    /// The camera's frame counter of the first and last frame shown.
    pub sequences: (u32, u32),
    /// Counters, the compositor thread's CPU and the client thread's CPU
    /// (capture loop and Wayland requests) over the shown frames (first
    /// attach to last callback).
    pub cost: Measured,
    /// The primary plane's framebuffer is the last frame's collection
    /// buffer itself (same dma-buf inode).
    pub scanout_is_camera_buffer: bool,
    pub scanout_format: String,
    pub samples: Vec<PixelSample>,
    pub fds_before: FdCensus,
    /// `Ok` once every fd kind is back at `fds_before` (waited up to 5 s).
    pub fds_after: Result<FdCensus, String>,
    /// The module's charged bytes before the client came, while the frames
    /// were shown, and `Ok` once back at the first (waited up to 5 s).
    pub charged: Charged,
}

/// `/proc/self/fdinfo/<fd>`'s `exp_name`, present only for dma-bufs.
pub(crate) fn exp_name(fd: &impl AsRawFd) -> Option<String> {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())).ok()?;
    info.lines()
        .find_map(|l| l.strip_prefix("exp_name:"))
        .map(|v| v.trim().to_string())
}

/// Runs the compositor on `run.card` and the camera client; the compositor
/// stops before this returns.
pub fn run_camera(run: &CameraRun) -> Result<CameraReport, Error> {
    let options = DrmOptions::new(&run.card);
    with_compositor(
        &run.runtime_parent,
        "camera",
        crate::refcomp::RendererKind::Pixman,
        options,
        |compositor, baseline| run_client(run, compositor, baseline),
    )
}

/// The camera's participant name: the node and its driver, for failure
/// messages, cut to the protocol's 63 bytes.
pub(crate) fn participant_name(video: &std::path::Path, driver: &str) -> String {
    let mut name = format!("camera {} ({driver})", video.display());
    let mut end = name.len().min(63);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name.truncate(end);
    name
}

/// A fullscreen window whose surface takes part in a collection, and the
/// collection as this client holds it: the camera client's and the
/// player's side of the demo.
/// Fields drop in this order: the buffers' objects before the
/// connection.
pub(crate) struct CollectionWindow {
    /// One per buffer, in index order.
    pub wl_buffers: Vec<WlBuffer>,
    pub allocation: Allocation,
    /// Held: the client's participation and its connection's Accord state.
    _collection: accord_client::Collection,
    _accord: Accord,
    pub client: DmabufClient,
}

impl CollectionWindow {
    /// Connects and opens a fullscreen window; its configured size.
    pub fn open(socket: &std::path::Path) -> Result<(DmabufClient, (u32, u32)), Error> {
        let mut client = DmabufClient::connect(socket)?;
        let size = client.open_window(true, (640, 480))?;
        Ok((client, size))
    }

    /// Names `token` (from `accord`, on `client`'s connection), attaches a
    /// duplicate to the window's surface (the compositor joins for it),
    /// binds it with `constraints` and waits for the allocation.
    pub fn join(
        client: DmabufClient,
        accord: Accord,
        token: accord_client::Token,
        name: &str,
        constraints: &accord_client::Constraints,
    ) -> Result<Self, Error> {
        let surface = client.surface.clone().ok_or("no surface")?;
        let (collection, allocation, wl_buffers) =
            crate::dmabuf_client::join_attached(&surface, token, name, constraints)?;
        Ok(Self {
            wl_buffers,
            allocation,
            _collection: collection,
            _accord: accord,
            client,
        })
    }
}

fn run_client(
    run: &CameraRun,
    compositor: &Running,
    baseline: Baseline,
) -> Result<CameraReport, Error> {
    let (client, size) = CollectionWindow::open(compositor.socket_path())?;
    let node = Node::open(&run.video)?;
    let camera_driver = node.driver().to_owned();
    // The frame on screen is camped by the compositor's surface
    // participant (2 when planes are offered), so the camera asks only for
    // what it keeps queued.
    let camera = node.constraints(run.v4l2_format, size)?;
    let accord = Accord::new(client.connection()).map_err(|e| format!("Accord: {e}"))?;
    let token = accord.create_collection();
    let name = participant_name(&run.video, &camera_driver);
    let mut window = CollectionWindow::join(client, accord, token, &name, &camera.constraints)?;
    let allocation = &window.allocation;
    let first = allocation.buffers.first().ok_or("no buffers")?;
    let negotiated = Negotiated {
        format: allocation.format,
        modifier: allocation.modifier,
        width: allocation.width,
        height: allocation.height,
        stride: first.planes.first().map_or(0, |p| p.stride),
        buffer_size: first.size,
        buffers: allocation.buffers.len(),
        dmabuf: allocation.memory == MemoryKind::DmaBuf,
        exporter: first.planes.first().and_then(|p| exp_name(&p.fd)),
    };
    let mut capture = Capture::start(node, &camera, allocation)?;

    // The card for the read-backs, opened before the measured span:
    // setup, not a frame's cost (the copy pipeline opens nothing).
    let card = Card::open(&run.card)?;
    card.enable_atomic()?;
    let plane = ScanoutTarget::first_connected(&card)?.plane;
    settle(compositor);
    let span = Span::start(compositor);
    let mut samples = Vec::new();
    let mut on_screen: Option<u32> = None;
    let mut sequences = (0, 0);
    for n in 0..run.frames {
        let frame = capture.dequeue(Duration::from_secs(10))?;
        if frame.error {
            return Err(format!("the camera flagged frame {} as corrupt", frame.sequence).into());
        }
        if n == 0 {
            sequences.0 = frame.sequence;
        }
        sequences.1 = frame.sequence;
        window
            .client
            .present_wl_buffer(&window.wl_buffers[frame.index as usize])?;
        if run.check_frames.contains(&n) {
            let b = &window.allocation.buffers[frame.index as usize];
            samples.push(sample(&card, plane, b, n, frame.sequence)?);
        }
        // The frame that was on screen before is off it now.
        if let Some(previous) = on_screen.replace(frame.index) {
            capture.queue(previous)?;
        }
    }
    let cost = span.finish(compositor);
    let charged_during = compositor.charged_bytes();

    let shown = scanned_out(&card, plane)?;
    let shown_inode = rustix::fs::fstat(&shown.dmabuf)?.st_ino;
    let last = on_screen.ok_or("no frame shown")? as usize;
    let scanout_is_camera_buffer = shown_inode == window.allocation.buffers[last].inode()?.1;
    let scanout_format = format!(
        "{:?} {}x{} pitch {}",
        shown.format, shown.width, shown.height, shown.pitch
    );
    drop(shown);
    drop(card);
    drop(capture);
    drop(window);
    let (fds_after, charged) = baseline.back(compositor, charged_during);
    Ok(CameraReport {
        camera,
        negotiated,
        frames: run.frames,
        sequences,
        cost,
        scanout_is_camera_buffer,
        scanout_format,
        samples,
        fds_before: baseline.fds,
        fds_after,
        charged,
    })
}

/// Reads the plane's framebuffer back and compares it with `buffer`, the
/// frame on screen (not queued to the camera: nothing writes it meanwhile).
pub(crate) fn sample(
    card: &Card,
    plane: smithay::reexports::drm::control::plane::Handle,
    buffer: &accord_client::Buffer,
    frame: u32,
    sequence: u32,
) -> Result<PixelSample, Error> {
    let shown = scanned_out(card, plane)?;
    let same_buffer = rustix::fs::fstat(&shown.dmabuf)?.st_ino == buffer.inode()?.1;
    let shot = shown.read_rgba()?;
    let stride = buffer.planes.first().ok_or("no plane")?.stride as usize;
    let (w, h) = (buffer.width as usize, buffer.height as usize);
    if (shot.width as usize, shot.height as usize) != (w, h) {
        return Err(format!(
            "the plane shows {}x{}, the buffer is {w}x{h}",
            shot.width, shot.height
        )
        .into());
    }
    let bytes = buffer.map()?;
    let mut mismatched = 0;
    let mut colours = std::collections::HashSet::new();
    for y in 0..h {
        for x in 0..w {
            // XRGB8888: B, G, R, X in memory; the read-back is RGBA.
            let px = &bytes[y * stride + x * 4..y * stride + x * 4 + 3];
            let rgb = [px[2], px[1], px[0]];
            let at = (y * w + x) * 4;
            if shot.rgba[at..at + 3] != rgb {
                mismatched += 1;
            }
            if (y * w + x) % 16 == 0 {
                colours.insert(rgb);
            }
        }
    }
    Ok(PixelSample {
        frame,
        sequence,
        buffer: buffer.index,
        same_buffer,
        pixels: w * h,
        mismatched,
        colours: colours.len(),
    })
}
