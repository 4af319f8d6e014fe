//! The module's `TEST_ONLY` confirmation through the real Wayland path:
//! `accord-compositor --drm /dev/dri/card0` in-process, a client with
//! `render|scanout` usage and an `attach_surface` participant. The
//! compositor's `confirm_scanout` hook (`kms::confirm_scanout` on its
//! master fd) runs before the collection is allocated.

use accord_client::{Accord, Allocation, Constraints, MemoryKind, Usage, MOD_LINEAR};
use accord_smithay::backend::{CollectionAllocator, DumbBackend};
use wayland_client::protocol::wl_surface::WlSurface;

use crate::{
    common::{
        exp_name, linear_decision, surface_client, with_drm_compositor, AR24, CARD0, MODE, XR24,
    },
    ensure,
    harness::{Outcome, TestResult},
};

/// A collection of exactly `size`, ARGB8888 then XRGB8888 (both offered for
/// scanout by the client), negotiated with the compositor attached to
/// `surface`.
fn negotiate(accord: &Accord, surface: &WlSurface, size: (u32, u32)) -> Result<Allocation, String> {
    let token = accord.create_collection();
    token.set_name("confirm test");
    token.duplicate().attach_to_surface(surface);
    let collection = token.bind();
    collection.commit(
        &Constraints::new()
            .usage(Usage::Render | Usage::Scanout)
            .scanout_format(AR24, MOD_LINEAR)
            .scanout_format(XR24, MOD_LINEAR)
            .min_size(size.0, size.1)
            .max_size(size.0, size.1)
            .buffers(2),
    );
    collection
        .wait_allocated()
        .map_err(|e| format!("{}x{}: the collection failed: {e}", size.0, size.1))
}

fn name(format: u32) -> String {
    accord_engine::formats::name(format)
}

/// Every buffer is a dma-buf from the same exporter as card0's own PRIME
/// export of a dumb buffer (virtio-gpu's).
fn on_card0(a: &Allocation, card0_exporter: &str) -> TestResult {
    ensure!(a.memory == MemoryKind::DmaBuf, "memory {:?}", a.memory);
    ensure!(a.buffers.len() == 2, "{} buffers", a.buffers.len());
    for b in &a.buffers {
        let plane = b.planes.first().ok_or("a buffer without planes")?;
        let exp = exp_name(&plane.fd).ok_or("no exp_name: not a dma-buf")?;
        ensure!(
            exp == card0_exporter,
            "buffer {} exported by {exp}, card0's exporter is {card0_exporter}",
            b.index
        );
    }
    Ok(Outcome::Passed)
}

/// Issue 4, TEST_ONLY confirmation on the module's allocation path.
///
/// The compositor participant marks only XRGB8888 (the primary plane's one
/// format) for scanout, so the engine ranks XRGB8888 first for both
/// collections. At the mode's size (`MODE`) `TEST_ONLY` passes and XRGB8888 is
/// allocated. At 640x480 the plane would have to scale it to the mode,
/// which virtio-gpu's primary plane cannot: `TEST_ONLY` fails, no other
/// candidate scans out, and the collection falls back to the renderer-only
/// ARGB8888 (composited), which the client sees. Both are dumb dma-bufs on
/// card0.
pub fn rejected_scanout_falls_back_through_wayland() -> TestResult {
    let card0_exporter = {
        let mut dumb = DumbBackend::open(CARD0).map_err(|e| e.to_string())?;
        let d = linear_decision(XR24, 64, 64, 1, accord_engine::Usage::CPU_WRITE);
        let bufs = dumb.allocate(&d).map_err(|e| e.to_string())?;
        let fd = &bufs.first().ok_or("no buffer")?.planes[0].fd;
        exp_name(fd).ok_or("card0's PRIME export has no exp_name")?
    };
    println!("  card0 dma-buf exporter: {card0_exporter}");
    ensure!(
        card0_exporter == "virtio_gpu",
        "card0's dumb buffers are exported by {card0_exporter}, expected virtio_gpu"
    );

    with_drm_compositor("confirm", |compositor| {
        let client = surface_client(compositor)?;
        let (accord, surface) = (&client.accord, &client.surface);
        let full = negotiate(accord, surface, MODE)?;
        println!(
            "  {}x{}: {} modifier {:#x}",
            MODE.0,
            MODE.1,
            name(full.format),
            full.modifier
        );
        ensure!(
            (full.format, full.modifier) == (XR24, MOD_LINEAR),
            "at the mode's size XRGB8888 passes TEST_ONLY; got {}",
            name(full.format)
        );
        on_card0(&full, &card0_exporter)?;

        let small = negotiate(accord, surface, (640, 480))?;
        println!(
            "  640x480: {} modifier {:#x}",
            name(small.format),
            small.modifier
        );
        ensure!(
            (small.format, small.modifier) == (AR24, MOD_LINEAR),
            "640x480 cannot be shown on the {}x{} primary plane without scaling: \
             expected the renderer-only ARGB8888 fallback, got {}",
            MODE.0,
            MODE.1,
            name(small.format)
        );
        ensure!(
            (small.width, small.height) == (640, 480),
            "fallback size {}x{}",
            small.width,
            small.height
        );
        on_card0(&small, &card0_exporter)
    })
}
