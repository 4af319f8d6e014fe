use std::os::fd::AsFd;

use accord_engine::Usage;
use accord_smithay::backend::{AllocatedBuffer, CollectionAllocator, DumbBackend, MemoryKind};

use crate::common::{exp_name, linear_decision, CARD0, CARD1, XR24};
use crate::ensure;
use crate::harness::{Outcome, TestResult};

fn dumb_are_dmabufs(path: &str) -> TestResult {
    let mut alloc = DumbBackend::open(path).map_err(|e| e.to_string())?;
    ensure!(
        alloc.memory_kind() == MemoryKind::DmaBuf,
        "dumb is not a dma-buf backend"
    );
    let d = linear_decision(XR24, 256, 128, 3, Usage::RENDER | Usage::SCANOUT);
    let bufs = alloc.allocate(&d).map_err(|e| e.to_string())?;
    ensure!(bufs.len() == 3, "{} buffers", bufs.len());
    for b in &bufs {
        let name = exp_name(&b.planes[0].fd).ok_or("fdinfo has no exp_name: not a dma-buf")?;
        println!(
            "  {path}: exp_name {name}, stride {}, {} bytes",
            b.planes[0].stride, b.size_bytes
        );
        ensure!(b.planes[0].stride >= 1024, "stride {}", b.planes[0].stride);
        ensure!(b.size_bytes >= 1024 * 128, "size {}", b.size_bytes);
    }
    Ok(Outcome::Passed)
}

pub fn dumb_card0_are_dmabufs() -> TestResult {
    dumb_are_dmabufs(CARD0)
}

pub fn dumb_vgem_are_dmabufs() -> TestResult {
    let card = accord_smithay::kms::Card::open(CARD1).map_err(|e| e.to_string())?;
    ensure!(
        card.driver_name() == "vgem",
        "card1 driver {}",
        card.driver_name()
    );
    dumb_are_dmabufs(CARD1)
}

/// `DMA_BUF_IOCTL_SYNC` brackets CPU access, as any client must.
fn dmabuf_sync(fd: impl AsFd, flags: u64) -> Result<(), String> {
    const SYNC: rustix::ioctl::Opcode = rustix::ioctl::opcode::write::<u64>(b'b', 0);
    // SAFETY: `struct dma_buf_sync { __u64 flags; }`.
    unsafe { rustix::ioctl::ioctl(fd, rustix::ioctl::Setter::<SYNC, u64>::new(flags)) }
        .map_err(|e| format!("DMA_BUF_IOCTL_SYNC: {e}"))
}

pub fn mmap_pixel_reads_back() -> TestResult {
    let mut alloc = DumbBackend::open(CARD0).map_err(|e| e.to_string())?;
    let d = linear_decision(XR24, 64, 64, 1, Usage::CPU_WRITE | Usage::SCANOUT);
    let buf = alloc.allocate(&d).map_err(|e| e.to_string())?.remove(0);
    write_and_read_pixel(&buf)?;
    Ok(Outcome::Passed)
}

/// Write a pixel through one writable shared mapping of plane 0's dma-buf and
/// read it through a second one, bracketed by `DMA_BUF_IOCTL_SYNC`. Fails if
/// the fd was exported read-only (mmap with PROT_WRITE is refused).
pub fn write_and_read_pixel(buf: &AllocatedBuffer) -> Result<(), String> {
    use rustix::mm::{mmap, munmap, MapFlags, ProtFlags};
    const START: u64 = 0;
    const END: u64 = 4;
    const RW: u64 = 3;
    let plane = &buf.planes[0];
    let len = buf.size_bytes as usize;
    let at = plane.offset as usize + (2 * plane.stride + 3 * 4) as usize;
    ensure!(at + 4 <= len, "buffer of {len} bytes too small");
    let map = |fd| unsafe {
        mmap(
            std::ptr::null_mut(),
            len,
            ProtFlags::READ | ProtFlags::WRITE,
            MapFlags::SHARED,
            fd,
            0,
        )
    };
    let a = map(&plane.fd).map_err(|e| format!("writable mmap of the dma-buf: {e}"))?;
    let b = map(&plane.fd).map_err(|e| format!("second mmap: {e}"))?;
    dmabuf_sync(&plane.fd, START | RW)?;
    unsafe { (a.cast::<u8>().add(at) as *mut u32).write_volatile(0xff11_2233) };
    dmabuf_sync(&plane.fd, END | RW)?;
    dmabuf_sync(&plane.fd, START | RW)?;
    let got = unsafe { (b.cast::<u8>().add(at) as *const u32).read_volatile() };
    dmabuf_sync(&plane.fd, END | RW)?;
    unsafe {
        let _ = munmap(a, len);
        let _ = munmap(b, len);
    }
    ensure!(got == 0xff11_2233, "read back {got:#x}");
    Ok(())
}

pub fn stride_alignment() -> TestResult {
    let mut alloc = DumbBackend::open(CARD0).map_err(|e| e.to_string())?;
    let mut d = linear_decision(XR24, 100, 10, 1, Usage::RENDER);
    d.stride_alignment = 256;
    let buf = alloc.allocate(&d).map_err(|e| e.to_string())?.remove(0);
    let stride = buf.planes[0].stride;
    ensure!(
        stride >= 400 && stride % 256 == 0,
        "stride {stride} for 100 px at alignment 256"
    );
    Ok(Outcome::Passed)
}

/// A two-plane format through a dumb buffer: the engine's plane offsets and
/// strides, both planes on one dma-buf.
pub fn nv12_engine_layout() -> TestResult {
    let mut alloc = DumbBackend::open(CARD0).map_err(|e| e.to_string())?;
    let d = linear_decision(crate::common::NV12, 64, 48, 1, Usage::CPU_WRITE);
    let layout = d.layout.clone().ok_or("engine gave NV12 no layout")?;
    let buf = alloc.allocate(&d).map_err(|e| e.to_string())?.remove(0);
    ensure!(buf.planes.len() == 2, "{} planes", buf.planes.len());
    for (got, want) in buf.planes.iter().zip(&layout.planes) {
        ensure!(
            got.offset == want.offset && got.stride == want.stride,
            "plane {}/{} vs {}/{}",
            got.offset,
            got.stride,
            want.offset,
            want.stride
        );
    }
    ensure!(
        exp_name(&buf.planes[1].fd).is_some(),
        "plane 1 fd is not a dma-buf"
    );
    Ok(Outcome::Passed)
}
