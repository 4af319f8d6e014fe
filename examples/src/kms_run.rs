//! The reference compositor on a KMS card for one run of a demo or test
//! (`scanout_run`, `camera_run`, `camera_copy`, `camera_pair`): its own
//! runtime directory, the compositor on its thread, settled (its own
//! frames drawn, so its fds exist) before the run's baseline is taken,
//! stopped and the directory removed after.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use accord_fd_census::FdCensus;

use crate::refcomp::{
    spawn_with, Compositor, Config, CounterSnapshot, DrmOptions, Error, RendererKind, Running,
};

/// What the compositor holds before the run's clients come.
#[derive(Debug, Clone)]
pub struct Baseline {
    /// This process's fd census (the compositor's thread and an in-process
    /// client together).
    pub fds: FdCensus,
    /// The module's charged bytes.
    pub charged: u64,
}

/// The reference compositor's charged bytes (Accord allocations) around a
/// run.
#[derive(Debug, Clone)]
pub struct Charged {
    pub before: u64,
    pub during: u64,
    pub after: Result<u64, String>,
}

impl std::fmt::Display for Charged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.after {
            Ok(after) => write!(
                f,
                "{} before, {} while showing, {after} after",
                self.before, self.during
            ),
            Err(e) => write!(
                f,
                "{} before, {} while showing; {e}",
                self.before, self.during
            ),
        }
    }
}

/// Waits (at most 5 s) until the compositor's charged bytes are back at
/// `before` (the gauge follows at the next frame tick).
pub fn charged_back(compositor: &crate::refcomp::Running, before: u64) -> Result<u64, String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = compositor.charged_bytes();
        if now == before {
            return Ok(now);
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "charged bytes {now} 5 s after the clients left, {before} before"
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

impl Baseline {
    /// Once the run's clients are gone: the fd census (`Ok` once every
    /// kind is back, waited up to 5 s) and the charged bytes, `before`,
    /// `during` as given and back at `before` (waited up to 5 s).
    pub fn back(&self, compositor: &Running, during: u64) -> (Result<FdCensus, String>, Charged) {
        let fds = accord_fd_census::wait_for(&self.fds, Duration::from_secs(5), FdCensus::of_self);
        let charged = Charged {
            before: self.charged,
            during,
            after: charged_back(compositor, self.charged),
        };
        (fds, charged)
    }
}

/// Runs `f` with the compositor on `options.path` composing with
/// `renderer`, its socket in
/// `parent/accord-<tag>-<pid>`, and the baseline taken once it settled;
/// the compositor stops before this returns.
pub fn with_compositor<T>(
    parent: &Path,
    tag: &str,
    renderer: RendererKind,
    options: DrmOptions,
    f: impl FnOnce(&Running, Baseline) -> Result<T, Error>,
) -> Result<T, Error> {
    let runtime_dir = parent.join(format!("accord-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&runtime_dir)?;
    let result = (|| {
        let config = Config {
            runtime_dir: Some(runtime_dir.clone()),
            renderer,
            ..Config::default()
        };
        let heads = connected_heads(&options.path);
        let compositor = spawn_with(config, move |config| Compositor::drm(config, &options))?;
        settle_frames(&compositor, STARTUP_FRAMES * heads as u64);
        let baseline = Baseline {
            fds: FdCensus::of_self()?,
            charged: compositor.charged_bytes(),
        };
        let out = f(&compositor, baseline)?;
        compositor.stop()?;
        Ok(out)
    })();
    let _ = std::fs::remove_dir_all(&runtime_dir);
    result
}

/// Waits until the compositor's start-up frames are done, so a baseline
/// taken now holds what it keeps for its life: on KMS it composes the
/// background into one swapchain slot, then, a refresh later, into the
/// other (`repaint.rs`), and each slot's dma-buf export stays open from
/// then on. So: at least [`STARTUP_FRAMES`] frames, then 150 ms without
/// one (10 s at most: GLES's first frames compile shaders, about a
/// second each under TCG).
pub fn settle(compositor: &Running) {
    settle_frames(compositor, STARTUP_FRAMES);
}

/// [`settle`] with `frames` start-up frames: [`STARTUP_FRAMES`] per head
/// of a compositor with several (each head composes its own two slots;
/// the counters add them up).
pub fn settle_frames(compositor: &Running, frames: u64) {
    let presented = |c: CounterSnapshot| c.frames_direct + c.frames_composited;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = presented(compositor.counters());
    let mut quiet_since = Instant::now();
    while Instant::now() < deadline
        && (last < frames || quiet_since.elapsed() < Duration::from_millis(150))
    {
        std::thread::sleep(Duration::from_millis(10));
        let now = presented(compositor.counters());
        if now != last {
            last = now;
            quiet_since = Instant::now();
        }
    }
}

/// The heads the reference compositor will drive on `card`: its connected
/// connectors with a primary plane (1 when it cannot tell).
pub fn connected_heads(card: &Path) -> usize {
    use accord_smithay::kms::{Card, PlaneKind, ScanoutTarget};
    Card::open(card)
        .and_then(|card| {
            card.enable_atomic()?;
            ScanoutTarget::connected_with(&card, PlaneKind::Primary)
        })
        .map_or(1, |t| t.len().max(1))
}

/// Frames a KMS compositor draws at start-up with no client, per head
/// (see [`settle`]).
pub const STARTUP_FRAMES: u64 = 2;
