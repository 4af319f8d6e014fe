use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

use accord_engine::{Decision, Usage, MOD_LINEAR};
use accord_smithay::backend::{
    detect, AllocatedBuffer, BackendKind, CollectionAllocator, DmaHeapBackend, DumbBackend,
    GbmBackend, UdmabufBackend,
};
use accord_smithay::kms::{add_dmabuf_framebuffer, test_only, Card, DmabufPlane};
use smithay::reexports::drm::control::Device as ControlDevice;
use smithay::reexports::drm::CLOEXEC;

use crate::common::{exp_name, linear_decision, CARD0, CARD1, XR24};
use crate::ensure;
use crate::harness::{Outcome, TestResult};
use crate::probe::open_card0;

/// Two 128x64 XRGB8888 buffers from `alloc`, each a dma-buf (it has an
/// `exp_name`); prints the exporter, stride and size of each. The decision
/// comes back with them.
fn allocate_dmabufs(
    alloc: &mut dyn CollectionAllocator,
) -> Result<(Decision, Vec<AllocatedBuffer>), String> {
    let d = linear_decision(XR24, 128, 64, 2, Usage::CPU_WRITE | Usage::RENDER);
    let bufs = alloc.allocate(&d).map_err(|e| e.to_string())?;
    ensure!(bufs.len() == 2, "{} buffers", bufs.len());
    for b in &bufs {
        let name = exp_name(&b.planes[0].fd).ok_or("no exp_name: not a dma-buf")?;
        println!(
            "  {}: exp_name {name}, stride {}, {} bytes",
            alloc.name(),
            b.planes[0].stride,
            b.size_bytes
        );
    }
    Ok((d, bufs))
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

/// A byte backend's buffers, where its device node exists ("not available
/// here" otherwise, never passed): real dma-bufs named by their exporter
/// (`exp_name`), a pixel written through one writable mapping reads back
/// through another, and the devices' PRIME import is tried (see
/// [`import_into`]). vgem must take the memory; card0's answer is printed.
fn byte_backend<A: CollectionAllocator>(
    path: &str,
    open: fn(&str) -> std::io::Result<A>,
    exporter: &str,
) -> TestResult {
    if !Path::new(path).exists() {
        return Ok(Outcome::NotAvailable(format!("{path} missing")));
    }
    let mut alloc = open(path).map_err(|e| e.to_string())?;
    let (d, bufs) = allocate_dmabufs(&mut alloc)?;
    for b in &bufs {
        let name = exp_name(&b.planes[0].fd).ok_or("no exp_name: not a dma-buf")?;
        ensure!(name == exporter, "exported by {name}, not {exporter}");
        crate::dmabuf::write_and_read_pixel(b)?;
    }
    let mut took = Vec::new();
    for card in [CARD0, CARD1] {
        match import_into(card, &bufs[0], &d)? {
            Ok(what) => {
                println!("  {card}: took it: {what}");
                took.push(card);
            }
            Err(why) => println!("  {card}: refused it: {why}"),
        }
    }
    // vgem (shmem GEM) imports any exporter's pages through its sg table.
    ensure!(
        took.contains(&CARD1),
        "vgem ({CARD1}) did not import the {exporter} dma-buf"
    );
    Ok(Outcome::Passed)
}

/// What `card` does with `buf`'s dma-buf: `Ok(Ok(what))` when its PRIME
/// import takes it (the GEM handle, exported again, must be that same
/// dma-buf), then whether AddFB2 makes a framebuffer of it;
/// `Ok(Err(why))` when the import is refused. `Err` fails the test.
fn import_into(
    card: &str,
    buf: &AllocatedBuffer,
    d: &Decision,
) -> Result<Result<String, String>, String> {
    let dev = Card::open(card).map_err(|e| format!("{card}: {e}"))?;
    let driver = dev.driver_name();
    let plane = &buf.planes[0];
    let handle = match dev.prime_fd_to_buffer(plane.fd.as_fd()) {
        Ok(h) => h,
        Err(e) => return Ok(Err(format!("{driver}: PRIME import: {e}"))),
    };
    let again = dev.buffer_to_prime_fd(handle, CLOEXEC);
    let _ = dev.close_buffer(handle);
    let again = again.map_err(|e| format!("{driver}: export of the imported handle: {e}"))?;
    let ino = |fd: BorrowedFd<'_>| rustix::fs::fstat(fd).map(|s| s.st_ino);
    ensure!(
        ino(again.as_fd()).ok() == ino(plane.fd.as_fd()).ok(),
        "{driver}: the imported handle exports another dma-buf"
    );
    let planes = [DmabufPlane {
        fd: plane.fd.as_fd(),
        offset: plane.offset,
        stride: plane.stride,
    }];
    let fb = add_dmabuf_framebuffer(
        &dev,
        false,
        (d.width, d.height),
        d.format,
        MOD_LINEAR,
        &planes,
    );
    Ok(Ok(match fb {
        Ok(fb) => {
            let _ = dev.destroy_framebuffer(fb.fb);
            for h in fb.handles {
                let _ = dev.close_buffer(h);
            }
            format!("{driver}: PRIME import, and AddFB2 made a framebuffer of it")
        }
        Err(e) => format!("{driver}: PRIME import (same dma-buf), but AddFB2 refused: {e}"),
    }))
}

/// The system heap's dma-bufs: virtio-gpu (card0) refuses them (this
/// kernel's virtio-gpu imports only its own buffers, or blob resources,
/// which QEMU's default device lacks), vgem (card1) takes them.
pub fn dma_heap() -> TestResult {
    byte_backend(
        DmaHeapBackend::SYSTEM,
        |p| DmaHeapBackend::open(p),
        "system",
    )
}

/// udmabuf's dma-bufs (memfd pages): as the heap's.
pub fn udmabuf() -> TestResult {
    byte_backend(UdmabufBackend::PATH, |p| UdmabufBackend::open(p), "udmabuf")
}

/// Raw bytes (issue 12: a bitstream queue, no image format) from every
/// byte-making backend of this kernel: dumb buffers on card0, the system
/// heap, udmabuf. Each buffer is a dma-buf of one plane at offset 0 with
/// stride 0, at least the decided bytes, that the CPU writes and reads
/// back; GBM refuses raw bytes (`unsupported`).
pub fn raw_bytes() -> TestResult {
    let decoder = accord_engine::Constraints {
        name: "decoder".into(),
        usage: Usage::CPU_WRITE,
        min_size_bytes: 786_432,
        base_alignment: 4096,
        buffers: accord_engine::BufferCounts {
            camping: 2,
            ..Default::default()
        },
        ..Default::default()
    };
    let d = accord_engine::solve(&[decoder]).map_err(|f| f.message)?;
    ensure!(d.raw, "not a raw decision: {d:?}");
    let size = d.layout.as_ref().map_or(0, |l| l.size_bytes);
    let mut backends: Vec<Box<dyn CollectionAllocator>> = Vec::new();
    backends.push(Box::new(
        DumbBackend::open(CARD0).map_err(|e| e.to_string())?,
    ));
    for (path, open) in [
        (
            DmaHeapBackend::SYSTEM,
            (|p| DmaHeapBackend::open(p).map(|b| Box::new(b) as Box<dyn CollectionAllocator>))
                as fn(&str) -> std::io::Result<Box<dyn CollectionAllocator>>,
        ),
        (UdmabufBackend::PATH, |p| {
            UdmabufBackend::open(p).map(|b| Box::new(b) as Box<dyn CollectionAllocator>)
        }),
    ] {
        if Path::new(path).exists() {
            backends.push(open(path).map_err(|e| format!("{path}: {e}"))?);
        } else {
            println!("  {path} missing: not tried");
        }
    }
    for alloc in &mut backends {
        let bufs = alloc
            .allocate(&d)
            .map_err(|e| format!("{}: {e}", alloc.name()))?;
        ensure!(bufs.len() == 2, "{}: {} buffers", alloc.name(), bufs.len());
        for b in &bufs {
            let name = exp_name(&b.planes[0].fd).ok_or("no exp_name: not a dma-buf")?;
            ensure!(
                b.planes.len() == 1 && (b.planes[0].offset, b.planes[0].stride) == (0, 0),
                "{}: planes {:?}",
                alloc.name(),
                b.planes
            );
            ensure!(
                b.size_bytes >= size,
                "{}: {} bytes",
                alloc.name(),
                b.size_bytes
            );
            crate::dmabuf::write_and_read_pixel(b)?;
            println!(
                "  {}: raw, exp_name {name}, {} bytes for {size}",
                alloc.name(),
                b.size_bytes
            );
        }
    }
    if let Ok(mut gbm) = GbmBackend::open(CARD0) {
        match gbm.allocate(&d) {
            Err(accord_smithay::backend::AllocError::Unsupported(m)) => {
                println!("  gbm: refuses raw bytes: {m}")
            }
            other => return Err(format!("gbm on raw bytes: {other:?}")),
        }
    }
    Ok(Outcome::Passed)
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
