//! One NV12 composition run (issue 16), for the real-kernel tier: the
//! reference compositor on a KMS card under GLES, and a client showing an
//! Accord NV12 collection buffer in a window, so that it is composited
//! (the NV12 pairs are the renderer's, not the plane's: virtio-gpu's
//! primary plane takes XRGB8888 only).
//!
//! The client lists one colour space; the collection negotiates it, and
//! the compositor converts with it (`refcomp/yuv.rs`). The buffer holds
//! vertical colour bars of known RGB, encoded to YCbCr here with the
//! colour space's forward equations (written independently of the
//! compositor's decoder); the test reads back the framebuffer the primary
//! plane scans out and compares each bar's centre with the bar's RGB.

use std::{os::fd::AsFd, path::PathBuf, time::Duration};

use accord_client::{ColorSpace, Constraints, Usage};
use accord_fd_census::FdCensus;
use accord_smithay::kms::{Card, ScanoutTarget};
use smithay::reexports::drm::control::Device as _;

use crate::{
    cost::Span,
    dmabuf_client::DmabufClient,
    kms_run::{settle, with_compositor},
    refcomp::{scanned_out, CounterSnapshot, DrmOptions, Error, RendererKind},
};

const NV12: u32 = u32::from_le_bytes(*b"NV12");

/// The bars: ITU-R BT.801's 75% colour bars (white, yellow, cyan, green,
/// magenta, red, blue, black).
pub const BARS: [[u8; 3]; 8] = [
    [191, 191, 191],
    [191, 191, 0],
    [0, 191, 191],
    [0, 191, 0],
    [191, 0, 191],
    [191, 0, 0],
    [0, 0, 191],
    [0, 0, 0],
];

/// Width of one bar in pixels (even: a chroma sample never straddles two).
pub const BAR_WIDTH: u32 = 40;
/// The window: the bars side by side, 64 rows.
pub const SIZE: (u32, u32) = (BAR_WIDTH * BARS.len() as u32, 64);

/// What to run.
#[derive(Debug, Clone)]
pub struct YuvRun {
    pub card: PathBuf,
    pub color_space: ColorSpace,
    /// Frames shown (the same bars each time).
    pub frames: u32,
    pub runtime_parent: PathBuf,
    /// A device (`dev_t`) the client names as its own (`Constraints::device`).
    pub device: Option<u64>,
    /// What composes: GLES (default); Pixman imports no YUV, so there the
    /// collection fails.
    pub renderer: RendererKind,
}

impl YuvRun {
    pub fn new(card: impl Into<PathBuf>, color_space: ColorSpace) -> Self {
        Self {
            card: card.into(),
            color_space,
            frames: 10,
            runtime_parent: std::env::temp_dir(),
            device: None,
            renderer: RendererKind::Gles,
        }
    }
}

/// One bar as written and as read back.
#[derive(Debug, Clone, Copy)]
pub struct Bar {
    pub rgb: [u8; 3],
    /// Its Y, Cb, Cr codes in the buffer.
    pub ycbcr: [u8; 3],
    pub at: (u32, u32),
    /// RGBA read back from the screen.
    pub read: [u8; 4],
}

impl Bar {
    /// The largest difference of a channel between written and read RGB.
    pub fn error(&self) -> u8 {
        (0..3)
            .map(|i| self.rgb[i].abs_diff(self.read[i]))
            .max()
            .unwrap_or(0)
    }
}

/// The outcome of a run.
#[derive(Debug, Clone)]
pub struct YuvReport {
    pub format: u32,
    pub modifier: u64,
    pub color_space: Option<ColorSpace>,
    /// The placement event's name (`dumb:/dev/dri/card0`, ...).
    pub placement: Option<String>,
    pub bars: Vec<Bar>,
    /// The buffer's PRIME import into the card, done by the test.
    pub card_import: Result<(), String>,
    /// Counters over the client's frames.
    pub delta: CounterSnapshot,
    pub fds_before: FdCensus,
    pub fds_after: Result<FdCensus, String>,
}

/// `rgb` encoded to 8-bit YCbCr with `cs`'s matrix and range (BT.601,
/// BT.709 or BT.2020; limited or full), rounded: Y' = Kr R + Kg G + Kb B,
/// Cb = (B - Y') / (2 (1 - Kb)), Cr = (R - Y') / (2 (1 - Kr)); limited
/// range maps Y' to 16..235 and Cb, Cr to 16..240, full range to 0..255.
pub fn encode(rgb: [u8; 3], cs: ColorSpace) -> [u8; 3] {
    let ((kr, kb), full) = coefficients(cs);
    let [r, g, b] = rgb.map(|c| f64::from(c) / 255.0);
    let y = kr * r + (1.0 - kr - kb) * g + kb * b;
    let cb = (b - y) / (2.0 * (1.0 - kb));
    let cr = (r - y) / (2.0 * (1.0 - kr));
    let (ys, cs_, y0) = if full {
        (255.0, 255.0, 0.0)
    } else {
        (219.0, 224.0, 16.0)
    };
    let code = |v: f64| v.round().clamp(0.0, 255.0) as u8;
    [
        code(y0 + ys * y),
        code(128.0 + cs_ * cb),
        code(128.0 + cs_ * cr),
    ]
}

/// 8-bit YCbCr decoded with `cs` (the inverse of [`encode`]), clamped:
/// what a compositor using `cs` shows; a test compares colour spaces with
/// it (a wrong matrix must be told apart).
pub fn decode(ycbcr: [u8; 3], cs: ColorSpace) -> [u8; 3] {
    let ((kr, kb), full) = coefficients(cs);
    let [y, cb, cr] = ycbcr.map(f64::from);
    let (y, cb, cr) = if full {
        (y / 255.0, (cb - 128.0) / 255.0, (cr - 128.0) / 255.0)
    } else {
        (
            (y - 16.0) / 219.0,
            (cb - 128.0) / 224.0,
            (cr - 128.0) / 224.0,
        )
    };
    let r = y + 2.0 * (1.0 - kr) * cr;
    let b = y + 2.0 * (1.0 - kb) * cb;
    let g = (y - kr * r - kb * b) / (1.0 - kr - kb);
    [r, g, b].map(|v| (v * 255.0).round().clamp(0.0, 255.0) as u8)
}

fn coefficients(cs: ColorSpace) -> ((f64, f64), bool) {
    const BT601: (f64, f64) = (0.299, 0.114);
    const BT709: (f64, f64) = (0.2126, 0.0722);
    const BT2020: (f64, f64) = (0.2627, 0.0593);
    match cs {
        ColorSpace::BT601_FULL => (BT601, true),
        ColorSpace::BT709 => (BT709, false),
        ColorSpace::BT709_FULL => (BT709, true),
        ColorSpace::BT2020 => (BT2020, false),
        ColorSpace::BT2020_FULL => (BT2020, true),
        _ => (BT601, false),
    }
}

/// Runs the compositor (`run.renderer`) on `run.card` and the NV12
/// client; the compositor stops before this returns.
pub fn run_yuv(run: &YuvRun) -> Result<YuvReport, Error> {
    with_compositor(
        &run.runtime_parent,
        "yuv",
        run.renderer,
        DrmOptions::new(&run.card),
        |compositor, baseline| {
            let mut client = DmabufClient::connect(compositor.socket_path())?;
            client.open_window(false, (SIZE.0 as i32, SIZE.1 as i32))?;
            let mut constraints = Constraints::new()
                .usage(Usage::CpuWrite)
                .format(NV12, accord_engine::MOD_LINEAR)
                .min_size(SIZE.0, SIZE.1)
                .max_size(SIZE.0, SIZE.1)
                .color_space(run.color_space)
                .buffers(1);
            if let Some(dev) = run.device {
                constraints = constraints.device(dev);
            }
            let (allocation, wl_buffers) =
                client.negotiate_collection("nv12 colour bars", &constraints)?;
            let buffer = allocation.buffers.first().ok_or("no buffer")?;
            let cs = allocation.color_space.unwrap_or(run.color_space);
            let ycbcr: Vec<[u8; 3]> = BARS.iter().map(|&rgb| encode(rgb, cs)).collect();
            fill_bars(buffer, &ycbcr)?;
            settle(compositor);
            let span = Span::start(compositor);
            for _ in 0..run.frames {
                client.present_wl_buffer(&wl_buffers[0])?;
            }
            let cost = span.finish(compositor);
            // The last frame's flip may still be under way.
            std::thread::sleep(Duration::from_millis(200));
            // The read-back's card fd is closed before the fd census below.
            let (bars, card_import) = {
                let card = Card::open(&run.card)?;
                card.enable_atomic()?;
                // Whether the card itself takes the buffer (PRIME import),
                // the first thing its EGL does with a dma-buf.
                let card_import = card
                    .prime_fd_to_buffer(buffer.planes[0].fd.as_fd())
                    .map(|handle| {
                        let _ = card.close_buffer(handle);
                    })
                    .map_err(|e| format!("PRIME import into {}: {e}", run.card.display()));
                let plane = ScanoutTarget::first_connected(&card)?.plane;
                let shot = scanned_out(&card, plane)?.read_rgba()?;
                let bars = BARS
                    .iter()
                    .zip(&ycbcr)
                    .enumerate()
                    .map(|(i, (&rgb, &ycbcr))| {
                        let at = (i as u32 * BAR_WIDTH + BAR_WIDTH / 2, SIZE.1 / 2);
                        let read = shot
                            .pixel(at.0, at.1)
                            .ok_or("read-back smaller than the window")?;
                        Ok(Bar {
                            rgb,
                            ycbcr,
                            at,
                            read,
                        })
                    })
                    .collect::<Result<Vec<_>, Error>>()?;
                (bars, card_import)
            };
            let report = YuvReport {
                format: allocation.format,
                modifier: allocation.modifier,
                color_space: allocation.color_space,
                placement: allocation.placement.as_ref().map(|p| p.name.clone()),
                bars,
                card_import,
                delta: cost.delta,
                fds_before: baseline.fds.clone(),
                fds_after: Err(String::new()),
            };
            drop(wl_buffers);
            drop(allocation);
            drop(client);
            let fds_after = accord_fd_census::wait_for(
                &baseline.fds,
                Duration::from_secs(5),
                FdCensus::of_self,
            );
            Ok(YuvReport {
                fds_after,
                ..report
            })
        },
    )
}

/// Writes the bars into `buffer` (NV12: a Y plane, then interleaved Cb, Cr
/// at half resolution) through a shared mapping of its memory.
fn fill_bars(buffer: &accord_client::Buffer, ycbcr: &[[u8; 3]]) -> Result<(), Error> {
    let [y_plane, uv_plane] = buffer.planes.as_slice() else {
        return Err(format!("NV12 buffer with {} planes", buffer.planes.len()).into());
    };
    let same = |a: &accord_client::Plane, b: &accord_client::Plane| -> Result<bool, Error> {
        Ok(rustix::fs::fstat(&a.fd)?.st_ino == rustix::fs::fstat(&b.fd)?.st_ino)
    };
    if !same(y_plane, uv_plane)? {
        return Err("the NV12 planes are in two memory objects".into());
    }
    let len = usize::try_from(buffer.size)?;
    // SAFETY: a fresh shared mapping of the buffer's memory, unmapped below.
    let ptr = unsafe {
        rustix::mm::mmap(
            std::ptr::null_mut(),
            len,
            rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
            rustix::mm::MapFlags::SHARED,
            y_plane.fd.as_fd(),
            0,
        )?
    };
    // SAFETY: `len` bytes mapped above, the only view of them until munmap.
    let mem = unsafe { std::slice::from_raw_parts_mut(ptr.cast::<u8>(), len) };
    let (w, h) = (buffer.width as usize, buffer.height as usize);
    let bar = |x: usize| ycbcr[(x / BAR_WIDTH as usize).min(ycbcr.len() - 1)];
    let mut result = Ok(());
    let (yo, ys) = (y_plane.offset as usize, y_plane.stride as usize);
    let (uo, us) = (uv_plane.offset as usize, uv_plane.stride as usize);
    if yo + ys * h > len || uo + us * h.div_ceil(2) > len || ys < w || us < w.div_ceil(2) * 2 {
        result = Err(format!("NV12 layout outside the {len}-byte buffer").into());
    } else {
        for row in 0..h {
            for x in 0..w {
                mem[yo + row * ys + x] = bar(x)[0];
            }
        }
        for row in 0..h.div_ceil(2) {
            for cx in 0..w.div_ceil(2) {
                let [_, cb, cr] = bar(cx * 2);
                mem[uo + row * us + cx * 2] = cb;
                mem[uo + row * us + cx * 2 + 1] = cr;
            }
        }
    }
    // SAFETY: unmapping exactly what was mapped.
    unsafe { rustix::mm::munmap(ptr, len)? };
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The encoder against published values: BT.601 limited 75% red is
    /// (65, 100, 212) (BT.801), BT.709 limited 75% red (51, 109, 212).
    #[test]
    fn encoder_matches_published_bars() {
        assert_eq!(encode([191, 0, 0], ColorSpace::BT601), [65, 100, 212]);
        assert_eq!(encode([191, 0, 0], ColorSpace::BT709), [51, 109, 212]);
        assert_eq!(encode([191, 191, 191], ColorSpace::BT709), [180, 128, 128]);
        for cs in [ColorSpace::BT601, ColorSpace::BT709, ColorSpace::BT709_FULL] {
            for rgb in BARS {
                let back = decode(encode(rgb, cs), cs);
                assert!(
                    (0..3).all(|i| back[i].abs_diff(rgb[i]) <= 2),
                    "{cs:?} {rgb:?} -> {back:?}"
                );
            }
        }
    }
}
