//! `accord-compositor --drm` without `--renderer` (issue 16): GLES where EGL
//! comes up. On the guest's virtio-gpu card, EGL comes up on the card's GBM
//! device (Mesa's `kms_swrast`, llvmpipe), so the default is GLES, and it
//! composes frames. (The fallback to Pixman when EGL fails is checked on
//! the host, `examples/tests/refcomp_default_renderer.rs`.)

use std::sync::mpsc;
use std::time::Duration;

use accord_examples::refcomp::{spawn_with, Chosen, Compositor, Config, DrmOptions, RendererKind};

use crate::common::CARD0;
use crate::ensure;
use crate::harness::{Outcome, TestResult};

pub fn kms_default_is_gles() -> TestResult {
    let runtime_dir = std::env::temp_dir().join(format!("accord-rdef-{}", std::process::id()));
    std::fs::create_dir_all(&runtime_dir).map_err(|e| e.to_string())?;
    let (tx, chosen) = mpsc::channel::<(Chosen, Vec<accord_engine::FormatModifier>)>();
    let config = Config {
        runtime_dir: Some(runtime_dir.clone()),
        // Ignored by `with_renderer`: the choice is its.
        renderer: RendererKind::Pixman,
        ..Config::default()
    };
    let result = spawn_with(config, move |config| {
        let (mut compositor, why) =
            Compositor::with_renderer(config, Some(&DrmOptions::new(CARD0)), None)?;
        // The compositor participant's pairs, from the live renderer.
        let offered = compositor.state_mut().accord_renderer_formats.clone();
        let _ = tx.send((why, offered));
        Ok(compositor)
    })
    .map_err(|e| format!("compositor on {CARD0}: {e}"))
    .and_then(|compositor| {
        let (chosen, offered) = chosen.recv().map_err(|e| e.to_string())?;
        println!(
            "renderer: {chosen}; the compositor participant offers {} pairs",
            offered.len()
        );
        // kms_swrast imports YUV; Pixman draws 32-bit RGB only.
        let nv12 = u32::from_le_bytes(*b"NV12");
        ensure!(
            offered.iter().any(|p| p.format == nv12),
            "the compositor participant offers no NV12: not GLES: {offered:?}"
        );
        ensure!(chosen.kind == RendererKind::Gles, "chose {chosen}");
        ensure!(
            chosen.why == format!("EGL on {CARD0}'s GBM device"),
            "why: {chosen}"
        );
        let (now, done) = compositor.wait_for(Duration::from_secs(60), |c| c.frames_rendered >= 1);
        ensure!(done, "no frame rendered with GLES: {now}");
        Ok(Outcome::Passed)
    });
    let _ = std::fs::remove_dir_all(&runtime_dir);
    result
}
