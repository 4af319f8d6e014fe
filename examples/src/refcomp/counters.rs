//! Counters shared between the compositor thread and whoever watches it.

use super::target::FrameOutcome;

use std::{
    collections::BTreeMap,
    fmt,
    sync::{
        atomic::{AtomicU64, Ordering},
        Mutex,
    },
};

/// Live counters, updated by the compositor's event loop.
#[derive(Debug, Default)]
pub struct Counters {
    frames_rendered: AtomicU64,
    surface_commits: AtomicU64,
    bytes_copied: AtomicU64,
    frames_direct: AtomicU64,
    frames_direct_opaque: AtomicU64,
    frames_composited: AtomicU64,
    bytes_composited: AtomicU64,
    foreign_frames_shown: AtomicU64,
    frames_presented: AtomicU64,
    frames_discarded: AtomicU64,
    frames_zero_copy: AtomicU64,
    frames_scaled_direct: AtomicU64,
    frames_scaled_composited: AtomicU64,
    /// Content updates per live surface (`presentation::surface_key`),
    /// forgotten when the surface is destroyed.
    surfaces: Mutex<BTreeMap<String, SurfaceFrames>>,
    /// A gauge, not a counter: `BufferCollectionState::total_charged_bytes`
    /// at the last frame tick (bytes of live Accord allocations, all
    /// clients). Outside the snapshot, whose fields only grow.
    charged_bytes: AtomicU64,
    /// Event-loop iterations (each a wake-up or a timeout of the loop's
    /// wait): the cost per frame that does not show in the frame counters.
    /// Outside the snapshot, whose printed form tests parse.
    loop_iterations: AtomicU64,
    /// Collections told to re-solve because how their surface is shown
    /// changed (fullscreen, windowed, another output: renegotiation's
    /// trigger 1, `fullscreen.rs`). Outside the snapshot, like
    /// `loop_iterations`.
    surface_re_solves: AtomicU64,
    /// Per output (index = head): its frames by outcome and its page
    /// flips. Outside the snapshot, like `loop_iterations`.
    outputs: Mutex<Vec<OutputFrames>>,
}

/// One output's frames: how many were scanned out directly or composed
/// (`frames_direct` and `frames_composited` of that output alone), and
/// the page flips completed on it (KMS): frame periods as the display
/// counts them (virtio-gpu has no vblank under TCG, so renegotiation's
/// frame-period goal counts flips, ROUND2).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct OutputFrames {
    pub direct: u64,
    pub composited: u64,
    pub flips: u64,
}

impl OutputFrames {
    /// The frames since `before` (an earlier reading of the same output).
    pub fn since(&self, before: &OutputFrames) -> OutputFrames {
        OutputFrames {
            direct: self.direct.saturating_sub(before.direct),
            composited: self.composited.saturating_sub(before.composited),
            flips: self.flips.saturating_sub(before.flips),
        }
    }
}

/// A copy of the counters at one moment.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CounterSnapshot {
    /// Frames composited into the output (one per frame tick).
    pub frames_rendered: u64,
    /// `wl_surface.commit` requests handled, from all clients.
    pub surface_commits: u64,
    /// Bytes the compositor copied with the CPU: every read-back of the
    /// output (screenshots, `Running::screenshot`, `--screenshot`) adds the
    /// bytes it copies (width × height × 4). Showing a client buffer copies
    /// nothing with Pixman: both import paths wrap client memory in place
    /// (smithay 0.7, `PixmanRenderer::import_shm_buffer` builds an image over
    /// the shm pool pointer with `Image::from_raw_mut`; `import_dmabuf` mmaps
    /// the dma-buf; memfd collection buffers are wrapped by `foreign.rs`). A
    /// path that copies (a GLES texture upload of shm or memfd, a shadow
    /// buffer) must add its bytes here.
    pub bytes_copied: u64,
    /// Frames whose primary plane showed a client buffer itself (direct
    /// scanout: no composition, no copy). Only a KMS target has these.
    pub frames_direct: u64,
    /// Of `frames_direct`, those whose client buffer has an alpha channel
    /// and was shown through a framebuffer of its opaque twin (ARGB8888
    /// memory as XRGB8888: opaque substitution on the bottom plane).
    pub frames_direct_opaque: u64,
    /// Frames the renderer composed into an output buffer.
    pub frames_composited: u64,
    /// Bytes of client buffers the renderer read to compose output frames:
    /// for each element drawn, its damaged area in source pixels times the
    /// buffer's bytes per pixel (counted in `render.rs`'s `Counted::draw`, so
    /// a redraw of an older swapchain slot's damage counts too). Direct
    /// scanout reads nothing; the background fill reads no client memory.
    pub bytes_composited: u64,
    /// Client frames shown through the `ForeignBuffers` hook (Accord's memfd
    /// buffers): each commit of a foreign buffer counts once, when it is
    /// first composited into the output; a commit replaced before the next
    /// frame is not counted.
    pub foreign_frames_shown: u64,
    /// Content updates (commits attaching a buffer or adding damage) that
    /// reached the screen, all surfaces together: counted at the repaint
    /// (headless) or page flip (KMS) that first showed them, when their
    /// `wp_presentation_feedback` says `presented`.
    pub frames_presented: u64,
    /// Content updates replaced by the next before they were shown, or
    /// whose frame was dropped (their feedback says `discarded`).
    pub frames_discarded: u64,
    /// Of `frames_presented`, those scanned out directly (feedback with
    /// `ZERO_COPY`).
    pub frames_zero_copy: u64,
    /// KMS frames whose fullscreen top surface is scaled (a viewport, or a
    /// buffer of another size than the output) and was scanned out
    /// directly: the plane scaled it.
    pub frames_scaled_direct: u64,
    /// KMS frames whose fullscreen top surface is scaled and was composed
    /// instead, because the plane cannot scale it (virtio-gpu's primary
    /// plane cannot) or direct scanout is off.
    pub frames_scaled_composited: u64,
}

/// One surface's content updates so far (as `frames_presented`,
/// `frames_discarded`, `frames_zero_copy`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SurfaceFrames {
    pub presented: u64,
    pub discarded: u64,
    pub zero_copy: u64,
}

impl Counters {
    pub fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            frames_rendered: self.frames_rendered.load(Ordering::Relaxed),
            surface_commits: self.surface_commits.load(Ordering::Relaxed),
            bytes_copied: self.bytes_copied.load(Ordering::Relaxed),
            frames_direct: self.frames_direct.load(Ordering::Relaxed),
            frames_direct_opaque: self.frames_direct_opaque.load(Ordering::Relaxed),
            frames_composited: self.frames_composited.load(Ordering::Relaxed),
            bytes_composited: self.bytes_composited.load(Ordering::Relaxed),
            foreign_frames_shown: self.foreign_frames_shown.load(Ordering::Relaxed),
            frames_presented: self.frames_presented.load(Ordering::Relaxed),
            frames_discarded: self.frames_discarded.load(Ordering::Relaxed),
            frames_zero_copy: self.frames_zero_copy.load(Ordering::Relaxed),
            frames_scaled_direct: self.frames_scaled_direct.load(Ordering::Relaxed),
            frames_scaled_composited: self.frames_scaled_composited.load(Ordering::Relaxed),
        }
    }

    /// Presentation feedback per live surface, by surface key.
    pub fn surfaces(&self) -> Vec<(String, SurfaceFrames)> {
        self.surfaces_map()
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    fn surfaces_map(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, SurfaceFrames>> {
        self.surfaces.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `n` feedbacks of `surface` sent `presented`.
    pub(crate) fn frames_presented(&self, surface: &str, n: u64, zero_copy: bool) {
        self.frames_presented.fetch_add(n, Ordering::Relaxed);
        let mut map = self.surfaces_map();
        let entry = map.entry(surface.to_owned()).or_default();
        entry.presented = entry.presented.saturating_add(n);
        if zero_copy {
            self.frames_zero_copy.fetch_add(n, Ordering::Relaxed);
            entry.zero_copy = entry.zero_copy.saturating_add(n);
        }
    }

    /// `n` feedbacks of `surface` sent `discarded`.
    pub(crate) fn frames_discarded(&self, surface: &str, n: u64) {
        self.frames_discarded.fetch_add(n, Ordering::Relaxed);
        let mut map = self.surfaces_map();
        let entry = map.entry(surface.to_owned()).or_default();
        entry.discarded = entry.discarded.saturating_add(n);
    }

    pub(crate) fn forget_surface(&self, surface: &str) {
        self.surfaces_map().remove(surface);
    }

    /// A frame whose fullscreen top surface needs scaling: scanned out
    /// (`direct`) or composed.
    pub(crate) fn scaled_frame(&self, direct: bool) {
        let counter = if direct {
            &self.frames_scaled_direct
        } else {
            &self.frames_scaled_composited
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Bytes of live Accord allocations at the last frame tick: back to its
    /// value before a client came once that client's buffers are released.
    pub fn charged_bytes(&self) -> u64 {
        self.charged_bytes.load(Ordering::Relaxed)
    }

    /// Event-loop iterations so far.
    pub fn loop_iterations(&self) -> u64 {
        self.loop_iterations.load(Ordering::Relaxed)
    }

    pub(crate) fn loop_iteration(&self) {
        self.loop_iterations.fetch_add(1, Ordering::Relaxed);
    }

    /// Collections re-solved for their surface's display so far.
    pub fn surface_re_solves(&self) -> u64 {
        self.surface_re_solves.load(Ordering::Relaxed)
    }

    /// Output `head`'s frames so far.
    pub fn output_frames(&self, head: usize) -> OutputFrames {
        let outputs = self.outputs.lock().unwrap_or_else(|e| e.into_inner());
        outputs.get(head).copied().unwrap_or_default()
    }

    fn count_output(&self, head: usize, count: impl FnOnce(&mut OutputFrames)) {
        let mut outputs = self.outputs.lock().unwrap_or_else(|e| e.into_inner());
        if outputs.len() <= head {
            outputs.resize(head + 1, OutputFrames::default());
        }
        count(&mut outputs[head]);
    }

    pub(crate) fn page_flipped(&self, head: usize) {
        self.count_output(head, |o| o.flips += 1);
    }

    pub(crate) fn add_surface_re_solves(&self, collections: usize) {
        self.surface_re_solves
            .fetch_add(collections as u64, Ordering::Relaxed);
    }

    pub(crate) fn set_charged_bytes(&self, bytes: u64) {
        self.charged_bytes.store(bytes, Ordering::Relaxed);
    }

    pub(crate) fn frame_rendered(&self) -> u64 {
        self.frames_rendered.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub(crate) fn surface_committed(&self) {
        self.surface_commits.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one frame of output `head` by how it reached the screen.
    pub(crate) fn frame_presented(&self, head: usize, outcome: FrameOutcome) {
        match outcome {
            FrameOutcome::Direct { opaque_substitute } => {
                self.count_output(head, |o| o.direct += 1);
                self.frames_direct.fetch_add(1, Ordering::Relaxed);
                if opaque_substitute {
                    self.frames_direct_opaque.fetch_add(1, Ordering::Relaxed);
                }
            }
            FrameOutcome::Composited => {
                self.count_output(head, |o| o.composited += 1);
                self.frames_composited.fetch_add(1, Ordering::Relaxed);
            }
            FrameOutcome::Unchanged | FrameOutcome::Busy => {}
        }
    }

    pub(crate) fn foreign_frame_shown(&self) {
        self.foreign_frames_shown.fetch_add(1, Ordering::Relaxed);
    }

    /// Bytes of client buffers read while drawing an output frame.
    pub(crate) fn add_bytes_composited(&self, bytes: u64) {
        self.bytes_composited.fetch_add(bytes, Ordering::Relaxed);
    }

    /// A CPU copy of pixels (the output read back; a copying import).
    pub(crate) fn add_bytes_copied(&self, bytes: u64) {
        self.bytes_copied.fetch_add(bytes, Ordering::Relaxed);
    }
}

impl fmt::Display for CounterSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "frames_rendered={} surface_commits={} bytes_copied={} foreign_frames_shown={} \
             frames_direct={} frames_direct_opaque={} frames_composited={} bytes_composited={} \
             frames_presented={} frames_discarded={} frames_zero_copy={} \
             frames_scaled_direct={} frames_scaled_composited={}",
            self.frames_rendered,
            self.surface_commits,
            self.bytes_copied,
            self.foreign_frames_shown,
            self.frames_direct,
            self.frames_direct_opaque,
            self.frames_composited,
            self.bytes_composited,
            self.frames_presented,
            self.frames_discarded,
            self.frames_zero_copy,
            self.frames_scaled_direct,
            self.frames_scaled_composited
        )
    }
}

impl CounterSnapshot {
    /// What happened between `before` and `self`.
    pub fn since(&self, before: &CounterSnapshot) -> CounterSnapshot {
        CounterSnapshot {
            frames_rendered: self.frames_rendered.saturating_sub(before.frames_rendered),
            surface_commits: self.surface_commits.saturating_sub(before.surface_commits),
            bytes_copied: self.bytes_copied.saturating_sub(before.bytes_copied),
            frames_direct: self.frames_direct.saturating_sub(before.frames_direct),
            frames_direct_opaque: self
                .frames_direct_opaque
                .saturating_sub(before.frames_direct_opaque),
            frames_composited: self
                .frames_composited
                .saturating_sub(before.frames_composited),
            bytes_composited: self
                .bytes_composited
                .saturating_sub(before.bytes_composited),
            foreign_frames_shown: self
                .foreign_frames_shown
                .saturating_sub(before.foreign_frames_shown),
            frames_presented: self
                .frames_presented
                .saturating_sub(before.frames_presented),
            frames_discarded: self
                .frames_discarded
                .saturating_sub(before.frames_discarded),
            frames_zero_copy: self
                .frames_zero_copy
                .saturating_sub(before.frames_zero_copy),
            frames_scaled_direct: self
                .frames_scaled_direct
                .saturating_sub(before.frames_scaled_direct),
            frames_scaled_composited: self
                .frames_scaled_composited
                .saturating_sub(before.frames_scaled_composited),
        }
    }

    /// Parses the `key=value` line written by [`fmt::Display`]. The first
    /// eight fields are required; the presentation ones (added later) read
    /// as 0 when absent, so lines of older builds (a benchmark's baseline)
    /// parse too.
    pub fn parse(line: &str) -> Option<Self> {
        let mut snapshot = Self::default();
        let mut seen = 0;
        for pair in line.split_whitespace() {
            let Some((key, value)) = pair.split_once('=') else {
                continue;
            };
            let field = match key {
                "frames_rendered" => &mut snapshot.frames_rendered,
                "surface_commits" => &mut snapshot.surface_commits,
                "bytes_copied" => &mut snapshot.bytes_copied,
                "frames_direct" => &mut snapshot.frames_direct,
                "frames_direct_opaque" => &mut snapshot.frames_direct_opaque,
                "frames_composited" => &mut snapshot.frames_composited,
                "bytes_composited" => &mut snapshot.bytes_composited,
                "foreign_frames_shown" => &mut snapshot.foreign_frames_shown,
                "frames_presented" => &mut snapshot.frames_presented,
                "frames_discarded" => &mut snapshot.frames_discarded,
                "frames_zero_copy" => &mut snapshot.frames_zero_copy,
                "frames_scaled_direct" => &mut snapshot.frames_scaled_direct,
                "frames_scaled_composited" => &mut snapshot.frames_scaled_composited,
                _ => continue,
            };
            let required = !key.starts_with("frames_")
                || matches!(
                    key,
                    "frames_rendered"
                        | "frames_direct"
                        | "frames_direct_opaque"
                        | "frames_composited"
                );
            *field = value.parse().ok()?;
            seen += usize::from(required);
        }
        (seen == 8).then_some(snapshot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_parse_round_trip() {
        let counters = Counters::default();
        counters.frame_rendered();
        counters.frame_rendered();
        counters.surface_committed();
        counters.add_bytes_copied(7);
        counters.frame_presented(
            0,
            FrameOutcome::Direct {
                opaque_substitute: false,
            },
        );
        counters.frame_presented(
            0,
            FrameOutcome::Direct {
                opaque_substitute: true,
            },
        );
        counters.frame_presented(0, FrameOutcome::Composited);
        counters.frame_presented(0, FrameOutcome::Composited);
        counters.add_bytes_composited(16);
        counters.add_bytes_composited(4);
        counters.frame_presented(0, FrameOutcome::Unchanged);
        counters.foreign_frame_shown();
        counters.frames_presented("a", 3, true);
        counters.frames_presented("a", 1, false);
        counters.frames_discarded("b", 2);
        counters.scaled_frame(false);
        let snapshot = counters.snapshot();
        let line = snapshot.to_string();
        assert_eq!(
            line,
            "frames_rendered=2 surface_commits=1 bytes_copied=7 foreign_frames_shown=1 \
             frames_direct=2 frames_direct_opaque=1 frames_composited=2 bytes_composited=20 \
             frames_presented=4 frames_discarded=2 frames_zero_copy=3 \
             frames_scaled_direct=0 frames_scaled_composited=1"
        );
        assert_eq!(CounterSnapshot::parse(&line), Some(snapshot));
        let old = "frames_rendered=2 surface_commits=1 bytes_copied=7 foreign_frames_shown=1 \
             frames_direct=2 frames_direct_opaque=1 frames_composited=2 bytes_composited=20";
        assert_eq!(
            CounterSnapshot::parse(old).map(|s| s.frames_composited),
            Some(2),
            "a line of an older build parses"
        );
        let surfaces = counters.surfaces();
        assert_eq!(
            surfaces,
            vec![
                (
                    "a".to_owned(),
                    SurfaceFrames {
                        presented: 4,
                        discarded: 0,
                        zero_copy: 3
                    }
                ),
                (
                    "b".to_owned(),
                    SurfaceFrames {
                        presented: 0,
                        discarded: 2,
                        zero_copy: 0
                    }
                )
            ]
        );
        counters.forget_surface("a");
        assert_eq!(counters.surfaces().len(), 1);
    }

    #[test]
    fn parse_rejects_missing_or_bad_fields() {
        assert_eq!(
            CounterSnapshot::parse("frames_rendered=2 surface_commits=1 bytes_copied=0"),
            None
        );
        assert_eq!(
            CounterSnapshot::parse("frames_rendered=x surface_commits=1 bytes_copied=0"),
            None
        );
    }
}
