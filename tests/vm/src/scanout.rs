use accord_engine::{Constraints, Decision, Usage};
use accord_fd_census::FdCensus;
use accord_smithay::backend::{
    allocators_for_devices, card_for_device, CollectionAllocator, DumbBackend,
};
use accord_smithay::kms::{
    compositor_formats, confirm_scanout, probe_planes, test_only, Card, ScanoutTarget,
};

use crate::common::{exp_name, linear_decision, negotiate, participant, AR24, CARD0, CARD1, XR24};
use crate::ensure;
use crate::harness::{Outcome, TestResult};
use crate::probe::open_card0;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn mode_size(target: &ScanoutTarget) -> (u32, u32) {
    let (w, h) = target.mode.size();
    (w.into(), h.into())
}

/// The compositor's participant for a surface on `target`: Pixman's import
/// pairs (LINEAR ARGB8888, XRGB8888), marked scanout where the plane takes
/// them; one buffer on screen.
fn compositor_participant(card: &Card, target: &ScanoutTarget) -> Result<Constraints, String> {
    let planes = probe_planes(card, target.crtc).map_err(err)?;
    let plane = planes
        .iter()
        .find(|p| p.handle == target.plane)
        .ok_or("no target plane")?;
    let renderer = crate::common::pixman_renderer();
    let mut c = participant(
        "compositor",
        Usage::SCANOUT | Usage::SAMPLE,
        &[],
        mode_size(target),
        1,
    );
    c.formats = compositor_formats(plane, &renderer);
    Ok(c)
}

/// A client that renders into a fullscreen surface and asks for scanout;
/// prefers ARGB8888.
fn fullscreen_client(target: &ScanoutTarget) -> Constraints {
    participant(
        "client",
        Usage::RENDER | Usage::CPU_WRITE | Usage::SCANOUT,
        &[(AR24, true), (XR24, true)],
        mode_size(target),
        2,
    )
}

fn fullscreen(target: &ScanoutTarget, format: u32) -> Decision {
    let (w, h) = mode_size(target);
    linear_decision(format, w, h, 2, Usage::RENDER | Usage::SCANOUT)
}

fn card0_allocators(card: &Card) -> Result<Vec<Box<dyn CollectionAllocator>>, String> {
    Ok(vec![Box::new(DumbBackend::new(
        card.try_clone().map_err(err)?,
    ))])
}

fn try_one(
    card: &Card,
    target: &ScanoutTarget,
    alloc: &mut dyn CollectionAllocator,
    d: &Decision,
) -> Result<Result<(), String>, String> {
    let one = Decision {
        buffer_count: 1,
        ..d.clone()
    };
    let buf = alloc.allocate(&one).map_err(err)?.remove(0);
    Ok(test_only(card, target, &one, &buf).map_err(err))
}

fn print_attempts(choice: &accord_smithay::kms::ScanoutChoice) {
    for a in &choice.attempts {
        println!(
            "  try {} on {}: {:?}",
            accord_engine::formats::name(a.candidate.format),
            a.placement,
            a.result
        );
    }
}

pub fn accepts_xrgb8888() -> TestResult {
    let (card, target) = open_card0()?;
    let mut alloc = DumbBackend::new(card.try_clone().map_err(err)?);
    let r = try_one(&card, &target, &mut alloc, &fullscreen(&target, XR24))?;
    ensure!(r.is_ok(), "TEST_ONLY refused XRGB8888: {r:?}");
    Ok(Outcome::Passed)
}

pub fn rejects_argb8888() -> TestResult {
    let (card, target) = open_card0()?;
    let mut alloc = DumbBackend::new(card.try_clone().map_err(err)?);
    let r = try_one(&card, &target, &mut alloc, &fullscreen(&target, AR24))?;
    println!("  ARGB8888 on primary: {r:?}");
    ensure!(
        r.as_ref().is_err_and(|e| e.starts_with("atomic")),
        "expected an atomic rejection, got {r:?}"
    );
    Ok(Outcome::Passed)
}

pub fn rejects_scaling() -> TestResult {
    let (card, target) = open_card0()?;
    let mut alloc = DumbBackend::new(card.try_clone().map_err(err)?);
    let d = linear_decision(XR24, 320, 200, 1, Usage::SCANOUT);
    let r = try_one(&card, &target, &mut alloc, &d)?;
    println!("  320x200 stretched to {:?}: {r:?}", target.mode.size());
    ensure!(r.is_err(), "virtio-gpu accepted a scaled primary plane");
    Ok(Outcome::Passed)
}

/// Issue test 2+3: a client asking render|scanout and the compositor's
/// participant (probed planes + renderer) negotiate; the engine picks
/// XRGB8888 (the only pair both mark scanout); TEST_ONLY confirms it; the
/// buffers are dma-bufs on card0.
pub fn negotiated_scanout_on_card0() -> TestResult {
    let (card, target) = open_card0()?;
    let d = negotiate(&[
        fullscreen_client(&target),
        compositor_participant(&card, &target)?,
    ])?;
    println!(
        "  decision: {} {}x{} x{} scanout={} alternatives {:?}",
        accord_engine::formats::name(d.format),
        d.width,
        d.height,
        d.buffer_count,
        d.scanout,
        d.alternatives
            .iter()
            .map(|c| (accord_engine::formats::name(c.format), c.scanout))
            .collect::<Vec<_>>()
    );
    ensure!(
        d.format == XR24 && d.scanout,
        "engine chose {}",
        accord_engine::formats::name(d.format)
    );
    let card0 = card.dev().map_err(err)?;
    let mut allocs = allocators_for_devices(&[card0]);
    let choice = confirm_scanout(&card, &target, &d, &mut allocs);
    print_attempts(&choice);
    let placed = choice
        .placement
        .ok_or("TEST_ONLY rejected the negotiated XRGB8888")?;
    ensure!(
        choice.decision.format == XR24 && choice.decision.scanout,
        "confirmed {:?}",
        choice.decision
    );
    let bufs = allocs[placed].allocate(&choice.decision).map_err(err)?;
    ensure!(
        bufs.len() == choice.decision.buffer_count as usize && bufs.len() >= 3,
        "{} buffers",
        bufs.len()
    );
    for b in &bufs {
        let name = exp_name(&b.planes[0].fd).ok_or("not a dma-buf")?;
        ensure!(
            name == "virtio_gpu",
            "exported by {name}, not card0's driver"
        );
    }
    Ok(Outcome::Passed)
}

/// The device refuses the engine's first scanout candidate at TEST_ONLY
/// (here: a probe that over-claimed ARGB8888); the next candidate wins.
pub fn fallback_skips_rejected_candidate() -> TestResult {
    let (card, target) = open_card0()?;
    let mut compositor = compositor_participant(&card, &target)?;
    for f in &mut compositor.formats {
        f.scanout = true;
    }
    let d = negotiate(&[fullscreen_client(&target), compositor])?;
    ensure!(
        d.format == AR24 && d.alternatives.len() == 2,
        "engine chose {:?}",
        d.alternatives
    );
    let mut allocs = card0_allocators(&card)?;
    let choice = confirm_scanout(&card, &target, &d, &mut allocs);
    print_attempts(&choice);
    ensure!(choice.confirmed(), "nothing confirmed");
    ensure!(
        choice.decision.format == XR24 && choice.decision.scanout,
        "chose {:?}",
        choice.decision
    );
    ensure!(
        choice.decision.buffer_count == d.buffer_count,
        "buffer count {}",
        choice.decision.buffer_count
    );
    ensure!(
        choice.attempts.len() == 2 && choice.attempts[0].result.is_err(),
        "attempts {:?}",
        choice.attempts
    );
    Ok(Outcome::Passed)
}

/// A layout the plane cannot take (a window smaller than the mode: the
/// primary plane cannot scale) fails TEST_ONLY for every candidate; the
/// outcome falls back to a composited, renderer-only decision.
pub fn fallback_to_renderer_only() -> TestResult {
    let (card, target) = open_card0()?;
    let mut client = fullscreen_client(&target);
    client.min_size = (320, 200);
    client.max_size = (320, 200);
    let mut compositor = compositor_participant(&card, &target)?;
    compositor.min_size = (1, 1);
    compositor.max_size = (0, 0);
    let d = negotiate(&[client, compositor])?;
    ensure!(
        d.scanout && (d.width, d.height) == (320, 200),
        "decision {d:?}"
    );
    let mut allocs = card0_allocators(&card)?;
    let choice = confirm_scanout(&card, &target, &d, &mut allocs);
    print_attempts(&choice);
    ensure!(
        !choice.confirmed(),
        "a 320x200 buffer passed on a {:?} mode",
        target.mode.size()
    );
    ensure!(!choice.decision.scanout, "fallback still marked scanout");
    ensure!(
        !choice.attempts.is_empty() && choice.attempts.iter().all(|a| a.result.is_err()),
        "attempts {:?}",
        choice.attempts
    );
    println!(
        "  fallback: {} composited",
        accord_engine::formats::name(choice.decision.format)
    );
    Ok(Outcome::Passed)
}

pub fn vgem_does_not_import() -> TestResult {
    let (card, target) = open_card0()?;
    let mut vgem = DumbBackend::open(CARD1).map_err(err)?;
    let r = try_one(&card, &target, &mut vgem, &fullscreen(&target, XR24))?;
    println!("  vgem buffer on card0: {r:?}");
    let enodev = rustix::io::Errno::NODEV.to_string();
    ensure!(
        r.as_ref()
            .is_err_and(|e| e.starts_with("import") && e.contains(&enodev)),
        "expected import to fail with {enodev}, got {r:?}"
    );
    Ok(Outcome::Passed)
}

/// Issue test 4: a participant names the vgem device too; its placement is
/// tried first and rejected by TEST_ONLY, so the buffers land on card0.
pub fn vgem_placement_rejected() -> TestResult {
    let (card, target) = open_card0()?;
    let dev = |p: &str| {
        rustix::fs::stat(p)
            .map(|s| s.st_rdev)
            .map_err(|e| format!("{p}: {e}"))
    };
    let devices = [dev("/dev/dri/renderD129")?, dev(CARD0)?];
    ensure!(
        card_for_device(devices[0]).as_deref() == Some(std::path::Path::new(CARD1)),
        "renderD129 maps to {:?}",
        card_for_device(devices[0])
    );
    let mut client = fullscreen_client(&target);
    client.devices = vec![devices[0]];
    let mut compositor = compositor_participant(&card, &target)?;
    compositor.devices = vec![devices[1]];
    let d = negotiate(&[client, compositor])?;
    ensure!(d.devices.len() == 2, "devices {:?}", d.devices);
    // vgem first: the worst case for the display.
    let mut allocs = allocators_for_devices(&devices);
    let names: Vec<String> = allocs.iter().map(|a| a.name()).collect();
    ensure!(
        names.first().is_some_and(|n| n.ends_with("card1")),
        "placements {names:?}"
    );
    let choice = confirm_scanout(&card, &target, &d, &mut allocs);
    print_attempts(&choice);
    let placed = choice.placement.ok_or("no placement passed TEST_ONLY")?;
    ensure!(
        names[placed].ends_with("card0"),
        "placed on {}",
        names[placed]
    );
    ensure!(
        choice
            .attempts
            .iter()
            .any(|a| a.placement.ends_with("card1") && a.result.is_err()),
        "vgem was never rejected: {:?}",
        choice.attempts
    );
    let bufs = allocs[placed].allocate(&choice.decision).map_err(err)?;
    ensure!(
        bufs.len() == choice.decision.buffer_count as usize,
        "allocated {}",
        bufs.len()
    );
    Ok(Outcome::Passed)
}

/// Rejections and failed allocations release everything: no fd survives
/// a rejected TEST_ONLY, a failed import, or a layout the backend cannot meet
/// (the process's fd census, by kind: DRM nodes, dma-bufs, sockets, ...).
pub fn failures_leak_no_fds() -> TestResult {
    let before = FdCensus::of_self()?;
    for _ in 0..3 {
        fallback_to_renderer_only()?;
        vgem_does_not_import()?;
        let (card, target) = open_card0()?;
        let mut alloc = DumbBackend::new(card.try_clone().map_err(err)?);
        let mut d = fullscreen(&target, XR24);
        d.max_bytes = 4096; // far below the mode size x 4
        let r = alloc.allocate(&d);
        ensure!(
            matches!(
                r,
                Err(accord_smithay::backend::AllocError::LayoutMismatch(_))
            ),
            "allocation beyond max_bytes: {:?}",
            r.map(|b| b.len())
        );
    }
    let after = FdCensus::of_self()?;
    ensure!(
        after.same_counts(&before),
        "fds: {} (before {before}, after {after}); open now: {:?}",
        before.diff(&after),
        after.targets
    );
    println!("fds: {before} before, {after} after");
    Ok(Outcome::Passed)
}
