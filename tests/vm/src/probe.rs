use accord_engine::{MOD_INVALID, MOD_LINEAR};
use accord_smithay::kms::{compositor_formats, probe_planes, Card, PlaneKind, ScanoutTarget};

use crate::common::{AR24, CARD0, XR24};
use crate::ensure;
use crate::harness::{Outcome, TestResult};

pub fn open_card0() -> Result<(Card, ScanoutTarget), String> {
    let card = Card::open(CARD0).map_err(|e| e.to_string())?;
    card.enable_atomic().map_err(|e| format!("atomic: {e}"))?;
    let target = ScanoutTarget::first_connected(&card).map_err(|e| e.to_string())?;
    Ok((card, target))
}

pub fn virtio_gpu_planes() -> TestResult {
    let (card, target) = open_card0()?;
    ensure!(
        card.driver_name() == "virtio_gpu",
        "card0 driver {}",
        card.driver_name()
    );
    ensure!(
        !card.supports_modifiers(),
        "virtio-gpu reports ADDFB2_MODIFIERS"
    );
    let planes = probe_planes(&card, target.crtc).map_err(|e| e.to_string())?;
    println!("  mode {:?}, planes: {planes:?}", target.mode.size());
    let primary = planes
        .iter()
        .find(|p| p.kind == PlaneKind::Primary)
        .ok_or("no primary plane")?;
    ensure!(
        primary.handle == target.plane,
        "target is not the primary plane"
    );
    ensure!(!primary.has_in_formats, "virtio-gpu primary has IN_FORMATS");
    ensure!(
        primary.formats.contains(&(XR24, vec![MOD_INVALID])),
        "primary formats {:?} lack implicit XRGB8888",
        primary.formats
    );
    ensure!(
        !primary.supports(AR24, MOD_LINEAR),
        "primary claims ARGB8888"
    );
    let cursor = planes
        .iter()
        .find(|p| p.kind == PlaneKind::Cursor)
        .ok_or("no cursor plane")?;
    ensure!(
        cursor.supports(AR24, MOD_INVALID),
        "cursor formats {:?} lack ARGB8888",
        cursor.formats
    );
    Ok(Outcome::Passed)
}

pub fn compositor_formats_mark_scanout() -> TestResult {
    let (card, target) = open_card0()?;
    let planes = probe_planes(&card, target.crtc).map_err(|e| e.to_string())?;
    let primary = planes
        .iter()
        .find(|p| p.handle == target.plane)
        .ok_or("no target plane")?;
    // Pixman imports LINEAR only.
    let renderer = crate::common::pixman_renderer();
    let pairs = compositor_formats(primary, &renderer);
    ensure!(pairs.len() == 2, "renderer pairs dropped: {pairs:?}");
    ensure!(
        !pairs[0].scanout && pairs[1].scanout,
        "scanout marks wrong: {pairs:?}"
    );
    Ok(Outcome::Passed)
}
