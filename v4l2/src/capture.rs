//! Capturing into the collection's buffers.
//!
//! [`Capture::start`] takes the negotiated allocation and:
//! 1. checks the decision is one this camera can take (format, LINEAR,
//!    size, the planes' layout V4L2 implies for the format);
//! 2. `VIDIOC_S_FMT` with the decided format, size and stride as
//!    `bytesperline`, and checks every field of the driver's answer against
//!    the decision (a driver is free to change what it is given; a changed
//!    field is an error naming the node, the field and both values — never
//!    a silent copy into a layout the driver prefers);
//! 3. `VIDIOC_REQBUFS(n, DMABUF)` for the collection's n buffers (the
//!    driver's count must be n), `VIDIOC_QBUF` of each buffer's dma-buf,
//!    `VIDIOC_STREAMON`.
//!
//! Then [`Capture::dequeue`] waits (poll, with a timeout) for a filled
//! buffer and [`Capture::queue`] gives it back. Dropping the capture stops
//! the stream and releases the driver's references to the dma-bufs
//! (`STREAMOFF`, `REQBUFS(0)`).

use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use accord_client::{Allocation, MOD_LINEAR};
use v4l2r::ioctl::{self, BufferFlags, QBufPlane, QBuffer, V4l2Buffer};
use v4l2r::memory::{DmaBufHandle, DmaBufSource, MemoryType};
use v4l2r::{Format, PlaneLayout, QueueType};

use crate::constraints::CameraConstraints;
use crate::fourcc::{fourcc_str, v4l2_to_drm};
use crate::node::Node;
use crate::Error;

/// A dma-buf the driver imports: our own duplicate of the collection's fd,
/// with the buffer's size (the `length` V4L2 checks against `sizeimage`).
#[derive(Debug)]
struct Imported {
    fd: OwnedFd,
    len: u64,
}

impl AsRawFd for Imported {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for Imported {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl DmaBufSource for Imported {
    fn len(&self) -> u64 {
        self.len
    }
}

/// One captured frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The collection's buffer index (= the V4L2 buffer index).
    pub index: u32,
    /// The driver's frame counter.
    pub sequence: u32,
    /// Bytes the driver wrote.
    pub bytesused: u32,
    /// `V4L2_BUF_FLAG_ERROR`: the frame may be corrupt.
    pub error: bool,
}

/// A streaming capture into an allocation's buffers.
pub struct Capture {
    node: Node,
    queue: QueueType,
    buffers: Vec<DmaBufHandle<Imported>>,
    queued: Vec<bool>,
    /// The format the driver took (equal to the decision).
    format: Format,
}

/// Plane (offset, stride) V4L2 implies for a single-buffer format with
/// `bytesperline` and `height`: V4L2 packs the chroma planes right after
/// luma with no padding (`pixfmt-yuv-planar.rst`).
pub fn implied_planes(v4l2_format: u32, bytesperline: u32, height: u32) -> Vec<(u64, u32)> {
    let s = u64::from(bytesperline);
    let h = u64::from(height);
    let luma = s * h;
    match &v4l2_format.to_le_bytes() {
        b"NV12" | b"NV21" | b"NV16" | b"NV61" => vec![(0, bytesperline), (luma, bytesperline)],
        b"NV24" | b"NV42" => vec![(0, bytesperline), (luma, bytesperline * 2)],
        b"YU12" | b"YV12" => {
            let c = (s / 2) * h.div_ceil(2);
            vec![
                (0, bytesperline),
                (luma, bytesperline / 2),
                (luma + c, bytesperline / 2),
            ]
        }
        b"422P" => {
            let c = (s / 2) * h;
            vec![
                (0, bytesperline),
                (luma, bytesperline / 2),
                (luma + c, bytesperline / 2),
            ]
        }
        _ => vec![(0, bytesperline)],
    }
}

impl Capture {
    /// Sets the decided format on `node` and queues every buffer of
    /// `allocation` (module comment: the checks).
    pub fn start(
        mut node: Node,
        camera: &CameraConstraints,
        allocation: &Allocation,
    ) -> Result<Capture, Error> {
        let queue = node.capture_queue()?;
        let path = node.path.clone();
        let mismatch = |field: &'static str, decided: String, driver: String| {
            Error::mismatch(&path, field, decided, driver)
        };
        // 1. The decision against what this camera can take.
        if v4l2_to_drm(camera.v4l2_format) != Some(allocation.format) {
            return Err(mismatch(
                "format",
                fourcc_str(allocation.format),
                format!(
                    "{} (DRM {})",
                    fourcc_str(camera.v4l2_format),
                    fourcc_str(camera.drm_format)
                ),
            ));
        }
        if allocation.modifier != MOD_LINEAR {
            return Err(mismatch(
                "modifier",
                format!("{:#x}", allocation.modifier),
                "LINEAR (0x0)".into(),
            ));
        }
        let size = (allocation.width, allocation.height);
        if size != camera.size {
            return Err(mismatch(
                "size",
                format!("{}x{}", size.0, size.1),
                format!("{}x{}", camera.size.0, camera.size.1),
            ));
        }
        let first = allocation
            .buffers
            .first()
            .ok_or_else(|| Error::node(&path, "the allocation has no buffers"))?;
        let stride = first.planes.first().map_or(0, |p| p.stride);
        let want_planes = implied_planes(camera.v4l2_format, stride, size.1);
        for b in &allocation.buffers {
            let got: Vec<(u64, u32)> = b.planes.iter().map(|p| (p.offset, p.stride)).collect();
            if got != want_planes {
                return Err(mismatch(
                    "plane layout (offset, stride)",
                    format!("buffer {}: {got:?}", b.index),
                    format!("{want_planes:?}"),
                ));
            }
            let first_ino = rustix::fs::fstat(&b.planes[0].fd).map(|s| s.st_ino).ok();
            for p in &b.planes[1..] {
                if rustix::fs::fstat(&p.fd).map(|s| s.st_ino).ok() != first_ino {
                    return Err(Error::node(
                        &path,
                        format!(
                            "buffer {}: planes in separate memory objects; V4L2 {} needs one buffer",
                            b.index,
                            fourcc_str(camera.v4l2_format)
                        ),
                    ));
                }
            }
        }

        // 2. S_FMT with the decided layout; every field of the answer checked.
        let want = Format {
            width: size.0,
            height: size.1,
            pixelformat: camera.v4l2_format.into(),
            plane_fmt: vec![PlaneLayout {
                sizeimage: 0,
                bytesperline: stride,
            }],
        };
        let got: Format = ioctl::s_fmt(&mut node.file, (queue, &want))
            .map_err(|e| Error::node(&path, format!("VIDIOC_S_FMT: {e}")))?;
        if u32::from(got.pixelformat) != camera.v4l2_format {
            return Err(mismatch(
                "S_FMT pixelformat",
                fourcc_str(camera.v4l2_format),
                fourcc_str(got.pixelformat.into()),
            ));
        }
        if (got.width, got.height) != size {
            return Err(mismatch(
                "S_FMT size",
                format!("{}x{}", size.0, size.1),
                format!("{}x{}", got.width, got.height),
            ));
        }
        let plane = got
            .plane_fmt
            .first()
            .cloned()
            .ok_or_else(|| Error::node(&path, "S_FMT answered no plane"))?;
        if got.plane_fmt.len() != 1 {
            return Err(mismatch(
                "S_FMT memory planes",
                "1".into(),
                got.plane_fmt.len().to_string(),
            ));
        }
        if plane.bytesperline != stride {
            return Err(mismatch(
                "S_FMT bytesperline",
                stride.to_string(),
                plane.bytesperline.to_string(),
            ));
        }
        for b in &allocation.buffers {
            if u64::from(plane.sizeimage) > b.size {
                return Err(mismatch(
                    "S_FMT sizeimage (bytes per frame) against the buffer size",
                    format!("buffer {}: {} bytes", b.index, b.size),
                    format!("{} bytes", plane.sizeimage),
                ));
            }
        }

        // 3. REQBUFS, QBUF every dma-buf, STREAMON.
        let n = allocation.buffers.len() as u32;
        let granted: usize = ioctl::reqbufs(&node.file, queue, MemoryType::DmaBuf, n)
            .map_err(|e| Error::node(&path, format!("VIDIOC_REQBUFS({n}, DMABUF): {e}")))?;
        let mut capture = Capture {
            node,
            queue,
            buffers: Vec::new(),
            queued: vec![false; n as usize],
            format: got,
        };
        if granted != n as usize {
            return Err(mismatch(
                "REQBUFS count",
                n.to_string(),
                granted.to_string(),
            ));
        }
        for b in &allocation.buffers {
            let fd = b.planes[0]
                .fd
                .try_clone()
                .map_err(|e| Error::node(&path, format!("dup of buffer {}: {e}", b.index)))?;
            capture
                .buffers
                .push(DmaBufHandle(Imported { fd, len: b.size }));
        }
        for index in 0..n {
            capture.queue(index)?;
        }
        ioctl::streamon(&capture.node.file, queue)
            .map_err(|e| Error::node(&path, format!("VIDIOC_STREAMON: {e}")))?;
        Ok(capture)
    }

    /// The format the driver took.
    pub fn format(&self) -> &Format {
        &self.format
    }

    pub fn node(&self) -> &Node {
        &self.node
    }

    /// Gives buffer `index` back to the driver.
    pub fn queue(&mut self, index: u32) -> Result<(), Error> {
        let i = index as usize;
        let handle = self.buffers.get(i).ok_or_else(|| {
            Error::node(
                &self.node.path,
                format!("no buffer {index} (the capture has {})", self.buffers.len()),
            )
        })?;
        if self.queued[i] {
            return Err(Error::node(
                &self.node.path,
                format!("buffer {index} is already queued"),
            ));
        }
        let mut q = QBuffer::<DmaBufHandle<Imported>>::new(self.queue, index);
        q.planes.push(QBufPlane::new_from_handle(handle, 0));
        ioctl::qbuf::<_, ()>(&self.node.file, q)
            .map_err(|e| Error::node(&self.node.path, format!("VIDIOC_QBUF({index}): {e}")))?;
        self.queued[i] = true;
        Ok(())
    }

    /// Waits up to `timeout` for a filled buffer and takes it from the
    /// driver; the caller gives it back with [`Capture::queue`].
    pub fn dequeue(&mut self, timeout: Duration) -> Result<Frame, Error> {
        let deadline = Instant::now() + timeout;
        let mut left = timeout;
        loop {
            // Wait first: a camera client calls this before the next frame
            // is due, so a DQBUF first would mostly answer EAGAIN.
            let mut fds = [rustix::event::PollFd::new(
                &self.node.file,
                rustix::event::PollFlags::IN,
            )];
            let ts = rustix::event::Timespec {
                tv_sec: left.as_secs() as i64,
                tv_nsec: i64::from(left.subsec_nanos()),
            };
            match rustix::event::poll(&mut fds, Some(&ts)) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(Error::node(&self.node.path, format!("poll: {e}"))),
            }
            match ioctl::dqbuf::<V4l2Buffer>(&self.node.file, self.queue) {
                Ok(b) => {
                    let index = b.index();
                    if let Some(q) = self.queued.get_mut(index as usize) {
                        *q = false;
                    }
                    return Ok(Frame {
                        index,
                        sequence: b.sequence(),
                        bytesused: *b.get_first_plane().bytesused,
                        error: b.flags().contains(BufferFlags::ERROR),
                    });
                }
                Err(ioctl::DqBufError::IoctlError(ioctl::DqBufIoctlError::NotReady)) => {}
                Err(e) => return Err(Error::node(&self.node.path, format!("VIDIOC_DQBUF: {e}"))),
            }
            left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::node(
                    &self.node.path,
                    format!("no frame within {} ms", timeout.as_millis()),
                ));
            }
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = ioctl::streamoff(&self.node.file, self.queue);
        let _ = ioctl::reqbufs::<()>(&self.node.file, self.queue, MemoryType::DmaBuf, 0);
    }
}

impl fmt::Debug for Capture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Capture")
            .field("node", &self.node.path)
            .field("format", &self.format)
            .field("buffers", &self.buffers.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::implied_planes;
    use crate::fourcc::fourcc;

    #[test]
    fn chroma_follows_luma_without_padding() {
        assert_eq!(implied_planes(fourcc(b"XR24"), 2560, 480), vec![(0, 2560)]);
        assert_eq!(
            implied_planes(fourcc(b"NV12"), 640, 480),
            vec![(0, 640), (640 * 480, 640)]
        );
        assert_eq!(
            implied_planes(fourcc(b"YU12"), 640, 480),
            vec![(0, 640), (307_200, 320), (307_200 + 76_800, 320)]
        );
    }
}
