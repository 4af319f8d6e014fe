use std::path::Path;

use accord_engine::Usage;
use accord_smithay::backend::{
    detect, BackendKind, CollectionAllocator, DmaHeapBackend, GbmBackend, UdmabufBackend,
};
use accord_smithay::kms::test_only;

use crate::common::{exp_name, linear_decision, CARD0, XR24};
use crate::ensure;
use crate::harness::{Outcome, TestResult};
use crate::probe::open_card0;

fn allocate_dmabufs(alloc: &mut dyn CollectionAllocator) -> Result<(), String> {
    let d = linear_decision(XR24, 128, 64, 2, Usage::CPU_WRITE | Usage::RENDER);
    let bufs = alloc.allocate(&d).map_err(|e| e.to_string())?;
    ensure!(bufs.len() == 2, "{} buffers", bufs.len());
    for b in &bufs {
        let name = exp_name(&b.planes[0].fd).ok_or("no exp_name: not a dma-buf")?;
        println!(
            "  {}: exp_name {name}, stride {}",
            alloc.name(),
            b.planes[0].stride
        );
    }
    Ok(())
}

pub fn gbm_card0() -> TestResult {
    // One open file description: it is DRM master, which a mode-setting
    // TEST_ONLY needs, and GBM's GEM handles live on it.
    let (card, target) = open_card0()?;
    let mut gbm = match card.try_clone().and_then(GbmBackend::new) {
        Ok(g) => g,
        Err(e) => {
            return Ok(Outcome::NotAvailable(format!(
                "gbm_create_device on {CARD0}: {e}"
            )))
        }
    };
    let (w, h) = target.mode.size();
    let d = linear_decision(XR24, w.into(), h.into(), 1, Usage::SCANOUT | Usage::RENDER);
    let buf = match gbm.allocate(&d) {
        Ok(mut b) => b.remove(0),
        Err(e) => return Err(format!("GBM device opened but allocation failed: {e}")),
    };
    ensure!(
        exp_name(&buf.planes[0].fd).is_some(),
        "GBM fd is not a dma-buf"
    );
    // Exported RDWR through the card, not by gbm_bo_get_fd (read-only).
    crate::dmabuf::write_and_read_pixel(&buf)?;
    test_only(&card, &target, &d, &buf).map_err(|e| format!("GBM scanout buffer: {e}"))?;
    Ok(Outcome::Passed)
}

/// A byte backend where its device node exists; "not available here"
/// otherwise (never passed).
fn byte_backend<A: CollectionAllocator>(
    path: &str,
    open: fn(&str) -> std::io::Result<A>,
) -> TestResult {
    if !Path::new(path).exists() {
        return Ok(Outcome::NotAvailable(format!("{path} missing")));
    }
    let mut alloc = open(path).map_err(|e| e.to_string())?;
    allocate_dmabufs(&mut alloc)?;
    Ok(Outcome::Passed)
}

pub fn dma_heap() -> TestResult {
    byte_backend(DmaHeapBackend::SYSTEM, |p| DmaHeapBackend::open(p))
}

pub fn udmabuf() -> TestResult {
    byte_backend(UdmabufBackend::PATH, |p| UdmabufBackend::open(p))
}

pub fn detect_lists() -> TestResult {
    let found = detect();
    for d in &found {
        println!("  {d}");
    }
    let dumb: Vec<_> = found
        .iter()
        .filter(|d| d.kind == BackendKind::Dumb && d.available())
        .collect();
    ensure!(dumb.len() == 2, "dumb available on {} cards", dumb.len());
    for d in &found {
        let exists = d.path.as_ref().is_some_and(|p| p.exists());
        if matches!(d.kind, BackendKind::DmaHeap | BackendKind::Udmabuf) && !exists {
            ensure!(
                d.status
                    .as_ref()
                    .is_err_and(|e| e.starts_with("not available here")),
                "{} absent but {:?}",
                d.name(),
                d.status
            );
        }
    }
    let first_dumb = dumb[0];
    let mut opened = first_dumb
        .open()
        .ok_or("dumb entry does not open")?
        .map_err(|e| e.to_string())?;
    allocate_dmabufs(opened.as_mut())?;
    Ok(Outcome::Passed)
}
