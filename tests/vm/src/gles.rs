//! Issue 16 on card0 (virtio-gpu, Mesa's `kms_swrast`: llvmpipe on dumb
//! buffers): what GLES imports there, NV12 collections composited by GLES
//! in the colour space they negotiated (colour bars read back), the
//! renderer's device in placement, and `weston-simple-dmabuf-egl` against
//! the GLES compositor.

use std::{
    io::Read,
    os::fd::OwnedFd,
    path::Path,
    process::{Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use accord_client::ColorSpace;
use accord_examples::{
    refcomp::{
        card_renderer, spawn_with, Compositor, Config, DrmOptions, RendererKind, BACKGROUND,
    },
    yuv_run::{decode, run_yuv, YuvReport, YuvRun},
};
use accord_smithay::kms::{gles_external_only, renderer_import_formats};
use smithay::{backend::drm::DrmDeviceFd, utils::DeviceFd};

use crate::{
    common::{CARD0, CARD1, NV12},
    ensure,
    harness::{Outcome, TestResult},
};

const R8: u32 = u32::from_le_bytes(*b"R8  ");
const GR88: u32 = u32::from_le_bytes(*b"GR88");

/// Largest difference per channel between a bar's RGB and the screen:
/// rounding to 8-bit codes (about 1.5 RGB steps through the matrix) and
/// llvmpipe's texture filtering.
const TOLERANCE: u8 = 4;

/// EGL on card0's GBM device, as the compositor's KMS GLES path makes it:
/// the pairs it imports (the compositor participant's) include NV12 and the
/// formats the compositor's YUV conversion imports NV12's planes as (R8,
/// GR88). Printed: every pair, and the ones EGL imports only as external
/// textures (with the implicit modifier only, EGL has no such flag).
pub fn card0_imports_nv12() -> TestResult {
    use rustix::fs::{Mode, OFlags};
    let fd: OwnedFd = rustix::fs::open(CARD0, OFlags::RDWR | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| format!("{CARD0}: {e}"))?;
    let renderer =
        card_renderer(DrmDeviceFd::new(DeviceFd::from(fd))).map_err(|e| e.to_string())?;
    let pairs = renderer_import_formats(&renderer);
    let external = gles_external_only(&renderer);
    let name = |p: &accord_engine::FormatModifier| {
        format!(
            "{}/{:#x}",
            accord_engine::formats::name(p.format),
            p.modifier
        )
    };
    println!(
        "GLES on {CARD0} imports {} pairs: {}",
        pairs.len(),
        pairs.iter().map(name).collect::<Vec<_>>().join(" ")
    );
    println!(
        "external only: {} pairs: {}",
        external.len(),
        external.iter().map(name).collect::<Vec<_>>().join(" ")
    );
    for (format, why) in [
        (NV12, "NV12 collections"),
        (R8, "NV12's luma plane"),
        (GR88, "NV12's chroma plane"),
    ] {
        ensure!(
            pairs.iter().any(|p| p.format == format),
            "GLES on {CARD0} does not import {} ({why})",
            accord_engine::formats::name(format)
        );
    }
    Ok(Outcome::Passed)
}

fn nv12_run(cs: ColorSpace, configure: impl FnOnce(&mut YuvRun)) -> Result<YuvReport, String> {
    let mut run = YuvRun::new(CARD0, cs);
    configure(&mut run);
    run_yuv(&run).map_err(|e| format!("NV12 run: {e}"))
}

fn print_report(label: &str, r: &YuvReport) {
    println!(
        "{label}: {} {:#x} colour space {:?} placed on {:?} (card0's PRIME import: {:?}); {}",
        accord_engine::formats::name(r.format),
        r.modifier,
        r.color_space,
        r.placement,
        r.card_import,
        r.delta
    );
    for b in &r.bars {
        println!(
            "  bar rgb {:?} ycbcr {:?} at {:?}: read {:?} (error {})",
            b.rgb,
            b.ycbcr,
            b.at,
            b.read,
            b.error()
        );
    }
}

/// An NV12 collection buffer of colour bars encoded in `cs` (the colour
/// space the client lists, so the one negotiated), in a window, is
/// composited by GLES (the client accepts NV12 only, so the collection's
/// allocating at all shows the compositor participant offers NV12): every bar's centre on screen is its RGB within
/// [`TOLERANCE`]; the same codes decoded with `other` would miss by more
/// (so a wrong matrix or range fails); no frame is scanned out, the
/// composition reads the buffer and copies nothing; fds back.
fn colour_bars(cs: ColorSpace, other: ColorSpace) -> TestResult {
    let r = nv12_run(cs, |_| {})?;
    print_report(&format!("NV12 {cs:?}"), &r);
    ensure!(
        r.format == NV12 && r.color_space == Some(cs),
        "negotiated {} {:?}, expected NV12 {cs:?}",
        accord_engine::formats::name(r.format),
        r.color_space
    );
    ensure!(
        r.placement.as_deref() == Some("dumb:/dev/dri/card0"),
        "placed on {:?}: expected card0's dumb buffers (the GLES renderer's device)",
        r.placement
    );
    ensure!(
        r.delta.frames_direct == 0
            && r.delta.frames_composited >= 1
            && r.delta.bytes_composited > 0,
        "expected composited frames reading the buffer: {}",
        r.delta
    );
    ensure!(
        r.delta.bytes_copied == 0,
        "{} bytes copied",
        r.delta.bytes_copied
    );
    let worst = r.bars.iter().map(|b| b.error()).max().unwrap_or(0);
    ensure!(
        worst <= TOLERANCE,
        "a bar is off by {worst} (tolerance {TOLERANCE}): {:?}",
        r.bars
    );
    let apart = r
        .bars
        .iter()
        .map(|b| {
            let wrong = decode(b.ycbcr, other);
            (0..3)
                .map(|i| wrong[i].abs_diff(b.rgb[i]))
                .max()
                .unwrap_or(0)
        })
        .max()
        .unwrap_or(0);
    ensure!(
        apart > 2 * TOLERANCE,
        "decoding with {other:?} misses by {apart} at most: the bars cannot tell {cs:?} from it"
    );
    println!("NV12 {cs:?}: worst bar error {worst} (tolerance {TOLERANCE}); decoded as {other:?} the bars would miss by up to {apart}");
    r.fds_after
        .as_ref()
        .map_err(|e| format!("compositor fds: {e}"))?;
    Ok(Outcome::Passed)
}

pub fn nv12_bt601_colour_bars() -> TestResult {
    colour_bars(ColorSpace::BT601, ColorSpace::BT709)
}

pub fn nv12_bt709_colour_bars() -> TestResult {
    colour_bars(ColorSpace::BT709, ColorSpace::BT601)
}

pub fn nv12_bt709_full_range_colour_bars() -> TestResult {
    colour_bars(ColorSpace::BT709_FULL, ColorSpace::BT709)
}

/// The GLES screen names its renderer's device (card0) in the compositor
/// participant: a client that names vgem (card1) for an NV12 collection
/// the compositor composites gets memory both devices reach (system
/// memory), not vgem's dumb buffers, which card0 cannot import (the test
/// `vgem_buffer_does_not_import_into_card0`). Whether the composition then
/// shows the bars is printed, not checked: it is what llvmpipe on
/// virtio-gpu imports (the compositor's warnings go to stderr from here
/// on).
pub fn nv12_placement_reaches_the_renderer_device() -> TestResult {
    // The compositor's warnings (a failed import) are the evidence of
    // what the renderer could not read.
    accord_examples::logging::try_init("warn");
    let card1 = rustix::fs::stat(CARD1).map_err(|e| e.to_string())?.st_rdev;
    let r = nv12_run(ColorSpace::BT601, |run| run.device = Some(card1))?;
    print_report("NV12 with the client naming card1", &r);
    let placed = r.placement.clone().unwrap_or_default();
    ensure!(
        placed.starts_with("dma-heap") || placed.starts_with("udmabuf"),
        "placed on {placed:?}: expected system memory that card0 (the renderer) and card1 \
         (the client) both reach"
    );
    let worst = r.bars.iter().map(|b| b.error()).max().unwrap_or(0);
    println!(
        "composited from {placed}: worst bar error {worst} ({})",
        if worst <= TOLERANCE {
            "the bars show"
        } else {
            "the bars do not show: see the compositor's log"
        }
    );
    Ok(Outcome::Passed)
}

/// The contrast: under Pixman (LINEAR RGB only) the compositor
/// participant on card0 offers no NV12, so the same collection fails with
/// `no_common_format`: the pairs follow the live renderer.
pub fn pixman_nv12_fails_no_common_format() -> TestResult {
    let r = nv12_run(ColorSpace::BT601, |run| run.renderer = RendererKind::Pixman);
    println!("NV12 under Pixman: {:?}", r.as_ref().map(|r| &r.placement));
    ensure!(
        r.as_ref().is_err_and(|e| e.contains("no_common_format")),
        "expected the NV12 collection to fail with no_common_format under Pixman: {:?}",
        r.map(|r| r.format)
    );
    Ok(Outcome::Passed)
}

const DMABUF_EGL: &str = "/usr/bin/weston-simple-dmabuf-egl";
/// Frames the client must have committed and the compositor composited.
const EGL_FRAMES: u64 = 100;
const EGL_TIMEOUT: Duration = Duration::from_secs(240);
/// The client's window size (`-s`): small, so llvmpipe draws fast.
const EGL_SIZE: u32 = 64;

/// `weston-simple-dmabuf-egl -d /dev/dri/card0` (GBM on card0: dumb
/// buffers, the implicit modifier) against the GLES compositor on card0:
/// 100+ frames committed and composited with no protocol error, then its
/// window is found on screen (pixels other than the background inside
/// its window, the background outside).
pub fn weston_simple_dmabuf_egl_100_frames() -> TestResult {
    ensure!(
        Path::new(DMABUF_EGL).exists(),
        "{DMABUF_EGL} missing: install Debian's weston package (scripts/deps.sh lists it)"
    );
    let dir = std::env::temp_dir().join(format!("accord-dmabuf-egl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let result = dmabuf_egl_in(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn dmabuf_egl_in(dir: &Path) -> TestResult {
    let config = Config {
        runtime_dir: Some(dir.to_owned()),
        renderer: RendererKind::Gles,
        ..Config::default()
    };
    let compositor = spawn_with(config, |config| {
        Compositor::drm(config, &DrmOptions::new(CARD0))
    })
    .map_err(|e| format!("compositor on {CARD0}: {e}"))?;
    let before = compositor.counters();
    let mut child = Command::new(DMABUF_EGL)
        .args(["-d", CARD0, "-s", &EGL_SIZE.to_string(), "-e", "0"])
        .envs(compositor.client_env().iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {DMABUF_EGL}: {e}"))?;
    let mut stderr = child.stderr.take().ok_or("no stderr pipe")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        let _ = tx.send(text);
    });
    let start = Instant::now();
    let mut exited = None;
    while start.elapsed() < EGL_TIMEOUT {
        let c = compositor.counters();
        if c.surface_commits - before.surface_commits >= EGL_FRAMES
            && c.frames_composited - before.frames_composited >= EGL_FRAMES
        {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            exited = Some(status);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let during = compositor.counters();
    let shot = compositor.screenshot();
    let still_running = exited.is_none() && matches!(child.try_wait(), Ok(None));
    let _ = child.kill();
    let _ = child.wait();
    let text = rx.recv_timeout(Duration::from_secs(10)).unwrap_or_default();
    let counters = compositor.stop().map_err(|e| e.to_string())?;
    let commits = during.surface_commits - before.surface_commits;
    let composited = during.frames_composited - before.frames_composited;
    println!(
        "weston-simple-dmabuf-egl: {commits} commits, {composited} frames composited in {} ms; \
         compositor: {counters}; stderr: {:?}",
        start.elapsed().as_millis(),
        text.lines().rev().take(8).collect::<Vec<_>>()
    );
    ensure!(
        still_running,
        "{DMABUF_EGL} exited ({exited:?}) before {EGL_FRAMES} frames: {text}"
    );
    ensure!(
        !text.contains("error"),
        "{DMABUF_EGL} reported an error: {text}"
    );
    ensure!(
        commits >= EGL_FRAMES && composited >= EGL_FRAMES,
        "{commits} commits and {composited} frames composited in {EGL_TIMEOUT:?}, \
         expected {EGL_FRAMES}+"
    );
    let shot = shot.map_err(|e| format!("read-back: {e}"))?;
    let bg = BACKGROUND;
    let inside = (0..EGL_SIZE)
        .flat_map(|y| (0..EGL_SIZE).map(move |x| (x, y)))
        .filter(|&(x, y)| shot.pixel(x, y).is_some_and(|p| p[..3] != bg[..3]))
        .count();
    let outside = shot.pixel(EGL_SIZE + 16, EGL_SIZE + 16);
    println!(
        "read-back: {inside} of {} pixels in the client's window differ from the background; \
         outside it {outside:?}",
        EGL_SIZE * EGL_SIZE
    );
    ensure!(
        inside >= (EGL_SIZE * EGL_SIZE / 4) as usize,
        "the client's drawing is not on screen: {inside} pixels differ from the background"
    );
    ensure!(
        outside.is_some_and(|p| p[..3] == bg[..3]),
        "outside the window the screen shows {outside:?}, not the background"
    );
    Ok(Outcome::Passed)
}
