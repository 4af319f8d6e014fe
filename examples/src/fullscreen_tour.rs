//! A producer's tour of the reference compositor's outputs on a KMS card,
//! shared by the real-kernel test and `accord-fullscreen-tour` (the
//! benchmark of renegotiation's trigger 1).
//!
//! The producer is a real Wayland client: an xdg toplevel whose buffers
//! come from an Accord collection with the compositor attached to its
//! surface (`attach_to_surface`), each frame drawn with the demo pattern
//! (its number in the header cells). It goes through the steps given:
//! fullscreen on an output (`set_fullscreen` with that `wl_output`), or
//! windowed at [`WINDOWED`] where it is. Each step is a trigger: the compositor
//! re-derives its participant (the plane of the output it is fullscreen
//! on, none while windowed) and the producer re-commits its own size
//! (the configure's). The producer then waits for the generation of the
//! new size, switches to it at its frame boundary, releases the older
//! generations, and presents frames from it. After every frame it reads
//! back the framebuffer the output's primary plane scans out (its own
//! handle on the card: nothing the compositor counts) and decodes the
//! frame number there, so every frame it rendered is checked to have been
//! presented. The counters over each step's frames say how they reached
//! the screen.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use accord_client::{
    Accord, Allocation, Collection, Constraints, Renegotiation, Usage, MOD_LINEAR,
};
use accord_fd_census::FdCensus;
use accord_smithay::kms::{Card, PlaneKind, ScanoutTarget};
use smithay::reexports::drm::control::plane;
use wayland_client::{protocol::wl_buffer::WlBuffer, Connection};

use crate::{
    demo::{pattern, window::Window, XRGB8888},
    kms_run::{with_compositor, Charged},
    refcomp::{
        scanned_out, CounterSnapshot, DrmOptions, Error, OutputFrames, RendererKind, Running,
    },
};

/// The windowed size: smaller than any output, so a windowed frame is
/// composed (a buffer covering the output would go on its plane).
pub const WINDOWED: (u32, u32) = (640, 480);

/// Where the producer's window goes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Fullscreen on output N (0 is the first).
    Fullscreen(usize),
    /// Windowed at [`WINDOWED`].
    Windowed,
}

/// One step's outcome.
#[derive(Debug, Clone)]
pub struct StepReport {
    pub step: Step,
    /// The size the configure gave (fullscreen: the output's mode).
    pub size: (u32, u32),
    /// The generation the frames came from, and its buffer count.
    pub generation: u32,
    pub buffers: usize,
    /// Generations received during the switch (intermediate ones, for an
    /// older size, are released unused).
    pub generations_received: u32,
    /// From the request to the moment the producer had the generation of
    /// its new size (configure, re-commit, re-solves, allocation).
    pub generation_time: Duration,
    /// From the request (`set_fullscreen`/`unset_fullscreen`) to the frame
    /// callback of the first frame from the new generation (with
    /// `settle`, the quiet wait before that frame included).
    pub switch_time: Duration,
    /// Page flips of the output the window is on after the step, from the
    /// request to that first frame's callback, its own flip included: the
    /// switch in frame periods as the display counts them (ROUND2:
    /// virtio-gpu has no vblank under TCG, so the goal counts flips).
    pub switch_flips: u64,
    /// Frames rendered from the new generation, and those of them read
    /// back from the output with their own number.
    pub frames_rendered: u32,
    pub frames_seen: u32,
    /// The first frames whose read-back showed something else.
    pub mismatches: Vec<String>,
    /// The counters over those frames (all outputs).
    pub delta: CounterSnapshot,
    /// The frames of the output the window is on over those frames (the
    /// output it left may compose meanwhile: the window is gone from it).
    pub on_output: OutputFrames,
}

/// The whole tour.
#[derive(Debug, Clone)]
pub struct TourReport {
    /// The outputs' sizes, in the compositor's order.
    pub outputs: Vec<(u32, u32)>,
    /// The first output's refresh in mHz (frame periods are of it).
    pub refresh_mhz: u32,
    pub first: StepReport,
    pub steps: Vec<StepReport>,
    /// Once the producer left: the fd census against the baseline taken
    /// before it came, and the charged bytes.
    pub fds_after: Result<FdCensus, String>,
    pub charged: Charged,
}

/// The producer's constraints at `size`: it writes with the CPU and would
/// like its buffers scanned out.
fn constraints(size: (u32, u32)) -> Constraints {
    Constraints::new()
        .usage(Usage::CpuWrite | Usage::Scanout)
        .scanout_format(XRGB8888, MOD_LINEAR)
        .min_size(size.0, size.1)
        .max_size(size.0, size.1)
        .buffers(2)
}

struct Producer<'a> {
    compositor: &'a Running,
    window: Window,
    accord: Accord,
    collection: Collection,
    /// The generation shown, its buffers and their `wl_buffer`s.
    current: Allocation,
    wl: Vec<WlBuffer>,
    /// Generations received and not released (the current one included).
    held: Vec<u32>,
    next: usize,
    frame: u32,
    /// Read-back: the card and each output's primary plane.
    card: Card,
    planes: Vec<plane::Handle>,
    /// The output the window is on.
    on: usize,
    /// Let the compositor go quiet before the first frame of each step.
    settle: bool,
    /// When the last frame's callback came (before its read-back), and
    /// the page flips of its output then.
    shown_at: Instant,
    flips_at_shown: u64,
}

impl Producer<'_> {
    /// Draws the next frame into a free buffer of the current generation,
    /// presents it, and reads it back from the output: whether the output
    /// shows that frame (else what it shows).
    fn present(&mut self) -> Result<Result<(), String>, Error> {
        self.frame = self.frame.wrapping_add(1);
        let frame = self.frame;
        let index = self.window.free_buffer(self.next)?;
        self.next = index + 1;
        let buffer = &self.current.buffers[index];
        let layout = pattern::Layout::of(buffer).ok_or("a buffer without planes")?;
        pattern::draw(frame, layout, &mut buffer.map()?)
            .map_err(|e| format!("drawing frame {frame}: {e:?}"))?;
        self.window.present(&self.wl, index)?;
        self.shown_at = Instant::now();
        // Before the read-back, which takes long enough under TCG for the
        // compositor to flip again (the draw of the older swapchain slot
        // one period after a composed frame, `repaint.rs`).
        self.flips_at_shown = self.compositor.output_frames(self.on).flips;
        let plane = *self.planes.get(self.on).ok_or("no such output")?;
        let shot = scanned_out(&self.card, plane)?.read_rgba()?;
        let seen = pattern::decode(self.current.width, |x, y| {
            shot.pixel(x, y).map(|p| [p[0], p[1], p[2]])
        });
        Ok(match seen {
            Some(f) if f == frame => Ok(()),
            other => Err(format!(
                "frame {frame} on output {}: the output shows {other:?}",
                self.on + 1
            )),
        })
    }

    /// Waits (20 s at most) for a generation of `size`, switches to it,
    /// releases the older ones; returns how many generations came.
    fn switch_to(&mut self, size: (u32, u32)) -> Result<u32, Error> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut received = 0;
        loop {
            self.accord.roundtrip()?;
            let mut chosen = None;
            while let Some(outcome) = self.collection.poll_renegotiation() {
                match outcome {
                    Renegotiation::Generation(a) => {
                        received += 1;
                        self.held.push(a.generation);
                        if (a.width, a.height) == size {
                            chosen = Some(a);
                        }
                    }
                    Renegotiation::Kept { .. } => {}
                    Renegotiation::Failed { failure, .. } => {
                        return Err(format!("the renegotiation failed: {failure}").into())
                    }
                }
            }
            if let Some(next) = chosen {
                let count = next.buffers.len() as u32;
                let wl = self
                    .window
                    .generation_buffers(&self.collection, next.generation, count);
                let old_wl = std::mem::replace(&mut self.wl, wl);
                self.current = next;
                self.next = 0;
                // The old buffers' holds end: their wl_buffers (the one on
                // screen until the next frame replaces it stays readable
                // by the display: the framebuffer holds its memory), and
                // every older generation.
                for b in old_wl {
                    b.destroy();
                }
                let newest = self.held.iter().copied().max();
                for g in std::mem::take(&mut self.held) {
                    if Some(g) == newest {
                        self.held.push(g);
                    } else {
                        self.collection.release_generation(g)?;
                    }
                }
                return Ok(received);
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "no generation of {}x{} within 20 s ({received} received)",
                    size.0, size.1
                )
                .into());
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// `frames` frames from the current generation: the report's frame
    /// fields and counters (from the first frame's start).
    fn frames(&mut self, frames: u32, report: &mut StepReport) -> Result<(), Error> {
        let before = self.compositor.counters();
        let on_before = self.compositor.output_frames(self.on);
        for _ in 0..frames {
            report.frames_rendered += 1;
            match self.present()? {
                Ok(()) => report.frames_seen += 1,
                Err(e) if report.mismatches.len() < 5 => report.mismatches.push(e),
                Err(_) => {}
            }
        }
        report.delta = self.compositor.counters().since(&before);
        report.on_output = self.compositor.output_frames(self.on).since(&on_before);
        Ok(())
    }

    /// One step: the request, the re-commit of the configured size, the
    /// switch to the new generation, then `frames` frames.
    fn step(&mut self, step: Step, frames: u32) -> Result<StepReport, Error> {
        let start = Instant::now();
        let target = match step {
            Step::Fullscreen(o) => o,
            Step::Windowed => self.on,
        };
        let flips_before = self.compositor.output_frames(target).flips;
        let size = match step {
            Step::Fullscreen(o) => {
                let output = self
                    .window
                    .outputs
                    .get(o)
                    .cloned()
                    .ok_or_else(|| format!("the compositor has no output {}", o + 1))?;
                let (w, h) = self.window.set_fullscreen(Some(&output))?;
                self.on = o;
                (u32::try_from(w)?, u32::try_from(h)?)
            }
            // It stays where it was (the output it was fullscreen on).
            Step::Windowed => {
                self.window.unset_fullscreen()?;
                WINDOWED
            }
        };
        self.collection.recommit(&constraints(size))?;
        let generations_received = self.switch_to(size)?;
        let generation_time = start.elapsed();
        let mut report = StepReport {
            step,
            size,
            generation: self.current.generation,
            buffers: self.current.buffers.len(),
            generations_received,
            generation_time,
            switch_time: Duration::ZERO,
            switch_flips: 0,
            frames_rendered: 0,
            frames_seen: 0,
            mismatches: Vec::new(),
            delta: CounterSnapshot::default(),
            on_output: OutputFrames::default(),
        };
        // The first frame of the new generation ends the switch.
        if self.settle {
            // The compositor finishes what it still had to draw (the
            // second swapchain slot after a composed frame, `repaint.rs`)
            // before the new generation's frames, so the step's counters
            // are theirs alone.
            crate::kms_run::settle(self.compositor);
        }
        let before = self.compositor.counters();
        let on_before = self.compositor.output_frames(self.on);
        report.frames_rendered += 1;
        match self.present()? {
            Ok(()) => report.frames_seen += 1,
            Err(e) => report.mismatches.push(e),
        }
        report.switch_time = self.shown_at.saturating_duration_since(start);
        report.switch_flips = self.flips_at_shown.saturating_sub(flips_before);
        self.frames(frames.saturating_sub(1), &mut report)?;
        // The step's counters from its first frame on, in one reading.
        report.delta = self.compositor.counters().since(&before);
        report.on_output = self.compositor.output_frames(self.on).since(&on_before);
        Ok(report)
    }
}

/// Runs the compositor on `card` (composing with `renderer`) and the
/// producer through `steps` after starting fullscreen on the first output,
/// `frames` frames per step; with `settle`, each step's frames wait until
/// the compositor has drawn what the change itself needed (the test's
/// counters), else they follow at once (the benchmark's timing).
pub fn run_tour(
    card: &Path,
    renderer: RendererKind,
    steps: &[Step],
    frames: u32,
    settle: bool,
) -> Result<TourReport, Error> {
    with_compositor(
        &std::env::temp_dir(),
        "tour",
        renderer,
        DrmOptions::new(card),
        |compositor, baseline| {
            let kms = Card::open(card)?;
            kms.enable_atomic()?;
            let targets = ScanoutTarget::connected_with(&kms, PlaneKind::Primary)?;
            let outputs: Vec<(u32, u32)> = targets
                .iter()
                .map(|t| {
                    let (w, h) = t.mode.size();
                    (u32::from(w), u32::from(h))
                })
                .collect();
            let refresh_mhz = targets.first().map_or(60_000, |t| t.mode.vrefresh() * 1000);
            let planes = targets.iter().map(|t| t.plane).collect();
            let (report, during) = tour(compositor, kms, planes, steps, frames, settle)?;
            let (fds_after, charged) = baseline.back(compositor, during);
            Ok(TourReport {
                outputs,
                refresh_mhz,
                first: report.0,
                steps: report.1,
                fds_after,
                charged,
            })
        },
    )
}

type Steps = (StepReport, Vec<StepReport>);

/// The producer's part; it has left (connection closed, buffers dropped)
/// when this returns. Also returns the charged bytes while it showed.
fn tour(
    compositor: &Running,
    card: Card,
    planes: Vec<plane::Handle>,
    steps: &[Step],
    frames: u32,
    settle: bool,
) -> Result<(Steps, u64), Error> {
    let stream = std::os::unix::net::UnixStream::connect(compositor.socket_path())?;
    let conn = Connection::from_socket(stream)?;
    let mut window = Window::open(&conn, "accord fullscreen tour")?;
    let first_output = window.outputs.first().cloned().ok_or("no wl_output")?;
    let (w, h) = window.set_fullscreen(Some(&first_output))?;
    let size = (u32::try_from(w)?, u32::try_from(h)?);
    let accord = Accord::new(&conn)?;
    let token = accord.create_collection();
    token.set_name("fullscreen tour");
    token.duplicate().attach_to_surface(&window.surface);
    let collection = token.bind();
    collection.commit(&constraints(size));
    let current = collection
        .wait_allocated()
        .map_err(|e| format!("the collection failed: {e}"))?;
    let wl = window.buffers(&collection, current.buffers.len() as u32);
    crate::kms_run::settle(compositor);
    let mut p = Producer {
        compositor,
        window,
        accord,
        collection,
        held: vec![current.generation],
        current,
        wl,
        next: 0,
        frame: 0,
        card,
        planes,
        on: 0,
        settle,
        shown_at: Instant::now(),
        flips_at_shown: 0,
    };
    let mut first = StepReport {
        step: Step::Fullscreen(0),
        size,
        generation: p.current.generation,
        buffers: p.current.buffers.len(),
        generations_received: 1,
        generation_time: Duration::ZERO,
        switch_time: Duration::ZERO,
        switch_flips: 0,
        frames_rendered: 0,
        frames_seen: 0,
        mismatches: Vec::new(),
        delta: CounterSnapshot::default(),
        on_output: OutputFrames::default(),
    };
    p.frames(frames, &mut first)?;
    let mut reports = Vec::with_capacity(steps.len());
    for &step in steps {
        reports.push(p.step(step, frames)?);
    }
    let during = compositor.charged_bytes();
    drop(p);
    drop(conn);
    Ok(((first, reports), during))
}

impl StepReport {
    /// For people: one line.
    pub fn line(&self, refresh_mhz: u32) -> String {
        let period = Duration::from_micros(1_000_000_000 / u64::from(refresh_mhz.max(1)));
        format!(
            "{:<16} {}x{} gen {} ({} buffers, {} generation(s) received): generation in {:.1} ms, switch {:.1} ms = {:.1} frame periods, {} flips; {}/{} frames seen; direct {} composited {} bytes_copied {} bytes_composited {}; on its output direct {} composited {}",
            match self.step {
                Step::Fullscreen(o) => format!("fullscreen on {}", o + 1),
                Step::Windowed => "windowed".to_owned(),
            },
            self.size.0,
            self.size.1,
            self.generation,
            self.buffers,
            self.generations_received,
            self.generation_time.as_secs_f64() * 1e3,
            self.switch_time.as_secs_f64() * 1e3,
            self.switch_time.as_secs_f64() / period.as_secs_f64(),
            self.switch_flips,
            self.frames_seen,
            self.frames_rendered,
            self.delta.frames_direct,
            self.delta.frames_composited,
            self.delta.bytes_copied,
            self.delta.bytes_composited,
            self.on_output.direct,
            self.on_output.composited,
        )
    }
}
