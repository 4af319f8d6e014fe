//! The floor under a direct-scanout frame: what one page flip costs the
//! thread that asks for it when nothing else runs — no Wayland, no scene, no
//! compositor — so the P4 benchmark (`accord-frame-cost`) can say which part
//! of the reference compositor's direct frame is the kernel's (and, in the
//! real-kernel tier, QEMU's) and which is userspace's.
//!
//! How: three dumb buffers of the mode's size on the card's primary plane,
//! shown in turn, each by one nonblocking atomic commit with a page-flip
//! event that sets the same plane properties smithay's `DrmCompositor`
//! sets (FB_ID, CRTC_ID, source and destination rectangles), then a
//! `poll` on the card and a `read` of the event: the system calls a
//! compositor cannot avoid for a direct frame, and its one wakeup from the
//! display. The buffers rotate like a client's swapchain, so virtio-gpu
//! transfers each whole buffer to the host on every flip as it does for a
//! client buffer (it ignores damage clips when the framebuffer changes).
//! The calling thread's CPU (`schedstat`) and its user/system split
//! (`/proc/thread-self/stat`) are taken over the measured flips.

use std::{os::fd::AsFd, time::Duration};

use accord_smithay::kms::{Card, ScanoutTarget};
use smithay::reexports::drm::{
    buffer::DrmFourcc,
    control::{
        atomic::AtomicModeReq, dumbbuffer::DumbBuffer, framebuffer, property, AtomicCommitFlags,
        Device as _, Event, ResourceHandle,
    },
};

use crate::cost::{this_thread_cpu, this_thread_times, ThreadTimes};
use crate::refcomp::Error;

/// What a floor run measured.
#[derive(Debug, Clone)]
pub struct FloorReport {
    pub flips: u32,
    /// CPU of the flipping thread over the measured flips.
    pub cpu: Duration,
    /// Its user/system split (clock ticks, scaled by the kernel).
    pub times: ThreadTimes,
    pub wall: Duration,
    /// Mode size flipped.
    pub size: (u16, u16),
}

fn prop<H: ResourceHandle>(card: &Card, obj: H, name: &str) -> Result<property::Handle, Error> {
    let props = card.get_properties(obj)?;
    for (&handle, _) in props.iter() {
        if card.get_property(handle)?.name().to_bytes() == name.as_bytes() {
            return Ok(handle);
        }
    }
    Err(format!("no {name} property").into())
}

/// Dumb buffers and their framebuffers, removed on drop.
struct Buffers<'a> {
    card: &'a Card,
    dumb: Vec<DumbBuffer>,
    fbs: Vec<framebuffer::Handle>,
}

impl Drop for Buffers<'_> {
    fn drop(&mut self) {
        for fb in self.fbs.drain(..) {
            let _ = self.card.destroy_framebuffer(fb);
        }
        for b in self.dumb.drain(..) {
            let _ = self.card.destroy_dumb_buffer(b);
        }
    }
}

/// Shows `flips` frames (after 5 warm-up flips) on `path`'s first connected
/// connector. Needs DRM master: run it while no compositor holds the card.
pub fn run_flip_floor(path: &str, flips: u32) -> Result<FloorReport, Error> {
    const WARM_UP: u32 = 5;
    let card = Card::open(path)?;
    card.enable_atomic()?;
    let target = ScanoutTarget::first_connected(&card)?;
    let (w, h) = target.mode.size();
    let mut bufs = Buffers {
        card: &card,
        dumb: Vec::new(),
        fbs: Vec::new(),
    };
    for _ in 0..3 {
        let b = card.create_dumb_buffer((u32::from(w), u32::from(h)), DrmFourcc::Xrgb8888, 32)?;
        bufs.dumb.push(b);
        let fb = card.add_framebuffer(bufs.dumb.last().ok_or("no buffer")?, 24, 32)?;
        bufs.fbs.push(fb);
    }
    let p = target.plane;
    let names = [
        "FB_ID", "CRTC_ID", "SRC_X", "SRC_Y", "SRC_W", "SRC_H", "CRTC_X", "CRTC_Y", "CRTC_W",
        "CRTC_H",
    ];
    let handles = names
        .iter()
        .map(|n| prop(&card, p, n))
        .collect::<Result<Vec<_>, _>>()?;
    let crtc = u64::from(u32::from(target.crtc));
    let (w64, h64) = (u64::from(w), u64::from(h));
    let request = |fb: framebuffer::Handle| {
        let values = [
            u64::from(u32::from(fb)),
            crtc,
            0,
            0,
            w64 << 16,
            h64 << 16,
            0,
            0,
            w64,
            h64,
        ];
        let mut req = AtomicModeReq::new();
        for (&h, v) in handles.iter().zip(values) {
            req.add_raw_property(p.into(), h, v);
        }
        req
    };
    // The first frame sets the mode (blocking).
    let mut first = request(bufs.fbs[0]);
    let mode_blob = card.create_property_blob(&target.mode)?;
    let blob_id = match mode_blob {
        property::Value::Blob(id) => id,
        _ => return Err("the mode blob has no id".into()),
    };
    let c = target.crtc;
    first.add_raw_property(c.into(), prop(&card, c, "MODE_ID")?, blob_id);
    first.add_raw_property(c.into(), prop(&card, c, "ACTIVE")?, 1);
    let conn = target.connector;
    first.add_raw_property(conn.into(), prop(&card, conn, "CRTC_ID")?, crtc);
    let modeset = card.atomic_commit(AtomicCommitFlags::ALLOW_MODESET, first);
    let _ = card.destroy_property_blob(blob_id);
    modeset?;

    let flip = |i: u32| -> Result<(), Error> {
        let fb = bufs.fbs[i as usize % bufs.fbs.len()];
        card.atomic_commit(
            AtomicCommitFlags::NONBLOCK | AtomicCommitFlags::PAGE_FLIP_EVENT,
            request(fb),
        )?;
        // Wait for the flip's event, as a compositor's event loop does.
        let fd = card.as_fd();
        loop {
            let mut fds = [rustix::event::PollFd::new(
                &fd,
                rustix::event::PollFlags::IN,
            )];
            rustix::event::poll(&mut fds, None)?;
            if card
                .receive_events()?
                .any(|e| matches!(e, Event::PageFlip(_)))
            {
                return Ok(());
            }
        }
    };
    for i in 0..WARM_UP {
        flip(i + 1)?;
    }
    let (cpu0, times0, start) = (
        this_thread_cpu(),
        this_thread_times(),
        std::time::Instant::now(),
    );
    for i in 0..flips {
        flip(WARM_UP + 1 + i)?;
    }
    let report = FloorReport {
        flips,
        cpu: this_thread_cpu().saturating_sub(cpu0),
        times: this_thread_times().since(&times0),
        wall: start.elapsed(),
        size: (w, h),
    };
    drop(bufs);
    Ok(report)
}
