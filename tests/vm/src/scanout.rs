use accord_engine::{Candidate, Decision, Usage, MOD_LINEAR};
use accord_smithay::backend::{allocators_for_devices, card_for_device, Allocator, DumbAllocator};
use accord_smithay::kms::{confirm_scanout, test_only, Card, ScanoutTarget};

use crate::common::{linear_decision, AR24, CARD0, CARD1, XR24};
use crate::ensure;
use crate::harness::{Outcome, TestResult};
use crate::probe::open_card0;

/// The decision the engine would make for a fullscreen buffer of `format`.
fn fullscreen(target: &ScanoutTarget, format: u32) -> Decision {
    let (w, h) = target.mode.size();
    linear_decision(
        format,
        w.into(),
        h.into(),
        2,
        Usage::RENDER | Usage::SCANOUT,
    )
}

fn try_one(
    card: &Card,
    target: &ScanoutTarget,
    alloc: &mut dyn Allocator,
    d: &Decision,
) -> Result<Result<(), String>, String> {
    let one = Decision {
        buffer_count: 1,
        ..d.clone()
    };
    let buf = alloc.allocate(&one).map_err(|e| e.to_string())?.remove(0);
    Ok(test_only(card, target, &one, &buf).map_err(|e| e.to_string()))
}

pub fn accepts_xrgb8888() -> TestResult {
    let (card, target) = open_card0()?;
    let mut alloc = DumbAllocator::new(card.try_clone().map_err(|e| e.to_string())?);
    let r = try_one(&card, &target, &mut alloc, &fullscreen(&target, XR24))?;
    ensure!(r.is_ok(), "TEST_ONLY refused XRGB8888: {r:?}");
    Ok(Outcome::Passed)
}

pub fn rejects_argb8888() -> TestResult {
    let (card, target) = open_card0()?;
    let mut alloc = DumbAllocator::new(card.try_clone().map_err(|e| e.to_string())?);
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
    let mut alloc = DumbAllocator::new(card.try_clone().map_err(|e| e.to_string())?);
    let d = linear_decision(XR24, 320, 200, 1, Usage::SCANOUT);
    let r = try_one(&card, &target, &mut alloc, &d)?;
    println!("  320x200 stretched to {:?}: {r:?}", target.mode.size());
    ensure!(r.is_err(), "virtio-gpu accepted a scaled primary plane");
    Ok(Outcome::Passed)
}

/// What `Decision::for_candidate` does for these linear candidates.
fn for_candidate(base: &Decision) -> impl Fn(&Candidate) -> Option<Decision> + '_ {
    move |c| {
        Some(Decision {
            format: c.format,
            modifier: c.modifier,
            scanout: c.scanout,
            ..base.clone()
        })
    }
}

pub fn fallback_skips_rejected_format() -> TestResult {
    let (card, target) = open_card0()?;
    let dumb = DumbAllocator::new(card.try_clone().map_err(|e| e.to_string())?);
    let mut allocs: Vec<Box<dyn Allocator>> = vec![Box::new(dumb)];
    let mut d = fullscreen(&target, AR24);
    // A participant claimed ARGB8888 scanout; the plane only has XRGB8888.
    d.alternatives = vec![
        Candidate {
            format: AR24,
            modifier: MOD_LINEAR,
            scanout: true,
        },
        Candidate {
            format: XR24,
            modifier: MOD_LINEAR,
            scanout: true,
        },
    ];
    let choice = confirm_scanout(&card, &target, &d, &mut allocs, for_candidate(&d));
    for a in &choice.attempts {
        println!(
            "  try {:#010x} on {}: {:?}",
            a.candidate.format, a.placement, a.result
        );
    }
    ensure!(choice.confirmed(), "nothing confirmed");
    ensure!(
        choice.decision.format == XR24 && choice.decision.scanout,
        "chose {:?}",
        choice.decision
    );
    ensure!(
        choice.decision.buffer_count == 2,
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

pub fn fallback_to_renderer_only() -> TestResult {
    let (card, target) = open_card0()?;
    let dumb = DumbAllocator::new(card.try_clone().map_err(|e| e.to_string())?);
    let mut allocs: Vec<Box<dyn Allocator>> = vec![Box::new(dumb)];
    let mut d = fullscreen(&target, AR24);
    d.alternatives = vec![
        Candidate {
            format: AR24,
            modifier: MOD_LINEAR,
            scanout: true,
        },
        Candidate {
            format: AR24,
            modifier: MOD_LINEAR,
            scanout: false,
        },
    ];
    let choice = confirm_scanout(&card, &target, &d, &mut allocs, for_candidate(&d));
    ensure!(!choice.confirmed(), "ARGB8888 confirmed on primary");
    ensure!(
        !choice.decision.scanout && choice.decision.format == AR24,
        "fallback {:?}",
        choice.decision
    );
    ensure!(choice.attempts.len() == 1, "attempts {:?}", choice.attempts);
    Ok(Outcome::Passed)
}

pub fn vgem_does_not_import() -> TestResult {
    let (card, target) = open_card0()?;
    let mut vgem = DumbAllocator::open(CARD1).map_err(|e| e.to_string())?;
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

pub fn vgem_placement_rejected() -> TestResult {
    let (card, target) = open_card0()?;
    let dev = |p: &str| {
        rustix::fs::stat(p)
            .map(|s| s.st_rdev)
            .map_err(|e| format!("{p}: {e}"))
    };
    // A participant named vgem's render node first, the display second.
    let devices = [dev("/dev/dri/renderD129")?, dev(CARD0)?];
    ensure!(
        card_for_device(devices[0]).as_deref() == Some(std::path::Path::new(CARD1)),
        "renderD129 maps to {:?}",
        card_for_device(devices[0])
    );
    let mut allocs = allocators_for_devices(&devices);
    let names: Vec<String> = allocs.iter().map(|a| a.name()).collect();
    ensure!(
        names.first().is_some_and(|n| n.ends_with("card1")),
        "placements {names:?}"
    );
    let d = fullscreen(&target, XR24);
    let choice = confirm_scanout(&card, &target, &d, &mut allocs, for_candidate(&d));
    for a in &choice.attempts {
        println!("  try on {}: {:?}", a.placement, a.result);
    }
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
    let bufs = allocs[placed]
        .allocate(&choice.decision)
        .map_err(|e| e.to_string())?;
    ensure!(bufs.len() == 2, "allocated {}", bufs.len());
    Ok(Outcome::Passed)
}
