//! Placement on the guest's real backends (issue 14): the module's table
//! resolves collections on every backend detected here
//! (`Placements::detect`: GBM and dumb on card0, dumb on vgem, the system
//! DMA-BUF heap and udmabuf on the 6.12 kernel, memfd), and each lands
//! where its participants' devices and usage call for. The memory is
//! checked for what it is (its dma-buf exporter, `exp_name`), not only for
//! what the outcome says.

use std::os::fd::AsFd;

use accord_engine::placements::SourceKind;
use accord_engine::Usage;
use accord_smithay::backend::{MemoryKind, Placements};
use accord_smithay::collections::{Allocation, Collections, FailureReason, Outcome};

use crate::common::{exp_name, participant, CARD0, CARD1, XR24};
use crate::ensure;
use crate::harness::{Outcome as TestOutcome, TestResult};

fn dev(path: &str) -> Result<u64, String> {
    rustix::fs::stat(path)
        .map(|st| st.st_rdev)
        .map_err(|e| format!("{path}: {e}"))
}

/// One participant named `name` with `usage`, `devices` and `contiguous`,
/// 256x128 XRGB8888 LINEAR, 2 buffers, owned by `owner`; its outcome.
fn resolve(
    table: &mut Collections<u32>,
    placements: &mut Placements,
    owner: u32,
    name: &str,
    usage: Usage,
    devices: Vec<u64>,
    contiguous: bool,
) -> Result<Outcome, String> {
    let slot = table.create(format!("pid {owner}"), owner);
    table.set_name(slot, name.into());
    table.bind(slot);
    let mut c = participant(name, usage, &[(XR24, false)], (256, 128), 2);
    c.devices = devices;
    c.contiguous = contiguous;
    table.commit(slot, c);
    let mut res = table.resolve_placed(placements, &mut ());
    ensure!(res.len() == 1, "{} resolutions", res.len());
    Ok(res.remove(0).outcome)
}

fn allocated(o: Outcome) -> Result<std::sync::Arc<Allocation>, String> {
    match o {
        Outcome::Allocated(a) => Ok(a),
        Outcome::Failed(f) => Err(format!("failed: {f}")),
        other => Err(format!("a first solve answered {other:?}")),
    }
}

/// Every buffer is a dma-buf whose exporter is one of `exporter` (a
/// prefix: `virtio`, `vgem`, `drm` for DRM core's PRIME helpers, `system`,
/// `udmabuf`).
fn exported_by(a: &Allocation, exporter: &[&str]) -> Result<(), String> {
    for b in &a.buffers {
        let name = exp_name(&b.planes[0].fd.as_fd()).ok_or("not a dma-buf")?;
        ensure!(
            exporter.iter().any(|e| name.starts_with(e)),
            "{}: exporter {name}, expected one of {exporter:?}",
            a.placement.name
        );
    }
    Ok(())
}

pub fn naming_card0_lands_on_card0() -> TestResult {
    let mut set = Placements::detect();
    let mut table = Collections::new();
    let card0 = dev(CARD0)?;
    let a = allocated(resolve(
        &mut table,
        &mut set,
        1,
        "gl on card0",
        Usage::RENDER,
        vec![card0],
        false,
    )?)?;
    ensure!(
        matches!(a.placement.kind, SourceKind::Gbm | SourceKind::Dumb)
            && a.placement.device == Some(card0),
        "placed on {:?}",
        a.placement
    );
    exported_by(&a, &["virtio", "drm"])?;
    println!(
        "  naming card0: {} ({})",
        a.placement.name,
        a.memory.as_str()
    );
    Ok(TestOutcome::Passed)
}

pub fn naming_only_vgem_lands_on_vgem() -> TestResult {
    let mut set = Placements::detect();
    let mut table = Collections::new();
    let vgem = dev(CARD1)?;
    let a = allocated(resolve(
        &mut table,
        &mut set,
        1,
        "vgem user",
        Usage::RENDER,
        vec![vgem],
        false,
    )?)?;
    ensure!(
        a.placement.device == Some(vgem) && a.placement.name.contains(CARD1),
        "placed on {:?}",
        a.placement
    );
    // Dumb buffers are exported by vgem itself; GBM's through DRM core's
    // PRIME helpers ("drm"), on the node the placement names.
    exported_by(&a, &["vgem", "drm"])?;
    println!("  naming vgem: {}", a.placement.name);
    Ok(TestOutcome::Passed)
}

/// CPU-only usage names no device: the system heap, or udmabuf, never
/// device memory, and (both existing on 6.12) never memfd.
pub fn cpu_only_lands_on_system_memory() -> TestResult {
    let mut set = Placements::detect();
    let names = set.names();
    if !names
        .iter()
        .any(|n| n.starts_with("dma-heap:") || n.starts_with("udmabuf:"))
    {
        return Ok(TestOutcome::NotAvailable(format!(
            "no DMA-BUF heap or udmabuf on this kernel: {names:?}"
        )));
    }
    let mut table = Collections::new();
    let a = allocated(resolve(
        &mut table,
        &mut set,
        1,
        "cpu",
        Usage::CPU_READ | Usage::CPU_WRITE,
        Vec::new(),
        false,
    )?)?;
    ensure!(
        matches!(a.placement.kind, SourceKind::DmaHeap | SourceKind::Udmabuf)
            && a.memory == MemoryKind::DmaBuf
            && a.placement.device.is_none(),
        "placed on {:?}",
        a.placement
    );
    ensure!(
        a.placement.kind == SourceKind::DmaHeap
            || !names.iter().any(|n| n.starts_with("dma-heap:")),
        "a heap is there and ranks before udmabuf: {:?}",
        a.placement
    );
    exported_by(&a, &["system", "udmabuf"])?;
    println!("  CPU only: {}", a.placement.name);
    Ok(TestOutcome::Passed)
}

/// `contiguous` with no contiguous backend (Debian's kernels have no CMA
/// heap) fails `unsupported` naming who asked, and nothing is allocated;
/// with one, it lands there.
pub fn contiguous_fails_clearly_without_a_contiguous_backend() -> TestResult {
    let mut set = Placements::detect();
    let contiguous: Vec<String> = set
        .placing()
        .sources
        .iter()
        .filter(|s| s.contiguous)
        .map(|s| s.name.clone())
        .collect();
    let mut table = Collections::new();
    let outcome = resolve(
        &mut table,
        &mut set,
        1,
        "isp",
        Usage::RENDER,
        Vec::new(),
        true,
    )?;
    match (outcome, contiguous.is_empty()) {
        (Outcome::Failed(f), true) => {
            ensure!(f.reason == FailureReason::Unsupported, "{f}");
            ensure!(
                f.message
                    .starts_with("no placement provides contiguous memory, which 'isp' asked for"),
                "{f}"
            );
            ensure!(
                table.total_usage().bytes == 0,
                "bytes charged for a failure"
            );
            println!("  {}", f.message);
        }
        (Outcome::Allocated(a), false) => {
            ensure!(contiguous.contains(&a.placement.name), "{:?}", a.placement)
        }
        (o, _) => return Err(format!("contiguous backends {contiguous:?}, outcome {o:?}")),
    }
    Ok(TestOutcome::Passed)
}

/// One client's collections on card0, on vgem and in system memory: the
/// ledger books each at the size its backend allocated, per backend, and
/// every backend comes back to zero when the buffers are gone.
pub fn quota_per_backend_returns_to_zero() -> TestResult {
    let mut set = Placements::detect();
    let mut table = Collections::new();
    let (card0, vgem) = (dev(CARD0)?, dev(CARD1)?);
    let mut held = Vec::new();
    for (name, devices) in [
        ("on card0", vec![card0]),
        ("on vgem", vec![vgem]),
        ("cpu", vec![]),
    ] {
        let a = allocated(resolve(
            &mut table,
            &mut set,
            7,
            name,
            Usage::CPU_WRITE,
            devices,
            false,
        )?)?;
        held.push(a);
    }
    let mut want: Vec<(String, u64)> = Vec::new();
    for a in &held {
        let bytes: u64 = a.buffers.iter().map(|b| b.size_bytes).sum();
        match want.iter_mut().find(|(n, _)| *n == a.placement.name) {
            Some((_, b)) => *b += bytes,
            None => want.push((a.placement.name.clone(), bytes)),
        }
    }
    want.sort();
    let got: Vec<(String, u64)> = table
        .usage_by_backend(&7)
        .into_iter()
        .map(|(n, u)| (n, u.bytes))
        .collect();
    ensure!(got == want, "booked {got:?}, allocated {want:?}");
    ensure!(got.len() == 3, "three backends: {got:?}");
    print!("{}", table.ledger_dump());
    drop(held);
    table.live(); // the table learns the buffers are gone
    ensure!(
        table.usage_by_backend(&7).is_empty() && table.backend_usage().is_empty(),
        "left: {:?}",
        table.backend_usage()
    );
    ensure!(table.total_usage().bytes == 0, "{:?}", table.total_usage());
    Ok(TestOutcome::Passed)
}
