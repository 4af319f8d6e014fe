//! The copy baseline of the camera benchmark (issue 13): the pipeline
//! people use today. The camera captures into its driver's own buffers
//! (`V4L2_MEMORY_MMAP`, mapped by the client), the client copies each frame
//! with the CPU into a `wl_shm` buffer (two, alternately) and the
//! compositor composites it into the output. Same compositor, card,
//! window and frame pacing as `camera_run` (the zero-copy pipeline): one
//! frame callback per frame, the capture buffer queued again once its
//! frame is copied.
//!
//! Measured over the frames: the client thread's CPU (the capture loop,
//! the copy, the Wayland requests), the compositor thread's CPU, the bytes
//! the client copied and the compositor's counters.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use v4l2r::{
    ioctl::{self, QBufPlane, QBuffer, QueryBuffer, V4l2Buffer},
    memory::{MemoryType, MmapHandle},
    Format, PlaneLayout, QueueType,
};

use crate::{
    cost::{Measured, Span},
    dmabuf_client::DmabufClient,
    kms_run::{settle, with_compositor},
    refcomp::{DrmOptions, Error, Running},
};

/// vivid's capture buffers: enough for the driver to keep filling while
/// the client copies one.
const MMAP_BUFFERS: u32 = 3;

/// The outcome of a copy run.
#[derive(Debug, Clone)]
pub struct CopyReport {
    pub frames: u32,
    pub size: (u32, u32),
    /// Bytes the client copied from capture buffers to `wl_shm` buffers.
    pub client_bytes_copied: u64,
    /// The compositor's counters, its thread's CPU and the client
    /// thread's over the frames.
    pub cost: Measured,
}

/// Runs the compositor on `card` and the copying client on `video` for
/// `frames` frames; the compositor stops before this returns.
pub fn run_copy(card: &Path, video: &Path, frames: u32) -> Result<CopyReport, Error> {
    let options = DrmOptions::new(card);
    let pixman = crate::refcomp::RendererKind::Pixman;
    with_compositor(
        &std::env::temp_dir(),
        "copy",
        pixman,
        options,
        |compositor, _| run_client(compositor, video, frames),
    )
}

/// vivid's MMAP queue, mapped; streaming until dropped.
struct MmapCapture {
    file: std::fs::File,
    maps: Vec<ioctl::PlaneMapping>,
    path: PathBuf,
}

impl MmapCapture {
    fn start(path: &Path, size: (u32, u32)) -> Result<Self, Error> {
        let node = |what: String| format!("{}: {what}", path.display());
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| node(e.to_string()))?;
        let queue = QueueType::VideoCapture;
        let want = Format {
            width: size.0,
            height: size.1,
            pixelformat: accord_v4l2::fourcc::fourcc(b"XR24").into(),
            plane_fmt: vec![PlaneLayout {
                sizeimage: 0,
                bytesperline: size.0 * 4,
            }],
        };
        let got: Format = ioctl::s_fmt(&mut file, (queue, &want))
            .map_err(|e| node(format!("VIDIOC_S_FMT: {e}")))?;
        let bpl = got.plane_fmt.first().map_or(0, |p| p.bytesperline);
        if (got.width, got.height, bpl) != (size.0, size.1, size.0 * 4) {
            return Err(node(format!(
                "S_FMT answered {}x{} bytesperline {bpl}, asked {}x{} bytesperline {}",
                got.width,
                got.height,
                size.0,
                size.1,
                size.0 * 4
            ))
            .into());
        }
        let n: usize = ioctl::reqbufs(&file, queue, MemoryType::Mmap, MMAP_BUFFERS)
            .map_err(|e| node(format!("VIDIOC_REQBUFS(MMAP): {e}")))?;
        let mut maps = Vec::with_capacity(n);
        for i in 0..n.min(32) {
            let q: QueryBuffer = ioctl::querybuf(&file, queue, i)
                .map_err(|e| node(format!("VIDIOC_QUERYBUF({i}): {e}")))?;
            let plane = q.planes.first().ok_or_else(|| node("no plane".into()))?;
            maps.push(
                ioctl::mmap(&file, plane.mem_offset, plane.length)
                    .map_err(|e| node(format!("mmap buffer {i}: {e}")))?,
            );
        }
        let capture = Self {
            file,
            maps,
            path: path.to_owned(),
        };
        for i in 0..capture.maps.len() as u32 {
            capture.queue(i)?;
        }
        ioctl::streamon(&capture.file, queue).map_err(|e| node(format!("VIDIOC_STREAMON: {e}")))?;
        Ok(capture)
    }

    fn queue(&self, index: u32) -> Result<(), Error> {
        let mut q = QBuffer::<MmapHandle>::new(QueueType::VideoCapture, index);
        q.planes.push(QBufPlane::new_from_handle(&MmapHandle, 0));
        ioctl::qbuf::<_, ()>(&self.file, q)
            .map_err(|e| format!("{}: VIDIOC_QBUF({index}): {e}", self.path.display()))?;
        Ok(())
    }

    /// The next filled buffer's index and bytes used (waits up to 10 s):
    /// poll, then DQBUF, as `accord_v4l2::Capture::dequeue` does.
    fn dequeue(&self) -> Result<(u32, usize), Error> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut fds = [rustix::event::PollFd::new(
                &self.file,
                rustix::event::PollFlags::IN,
            )];
            let wait = rustix::event::Timespec {
                tv_sec: 1,
                tv_nsec: 0,
            };
            match rustix::event::poll(&mut fds, Some(&wait)) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(format!("poll: {e}").into()),
            }
            match ioctl::dqbuf::<V4l2Buffer>(&self.file, QueueType::VideoCapture) {
                Ok(b) => return Ok((b.index(), *b.get_first_plane().bytesused as usize)),
                Err(ioctl::DqBufError::IoctlError(ioctl::DqBufIoctlError::NotReady)) => {}
                Err(e) => return Err(format!("{}: VIDIOC_DQBUF: {e}", self.path.display()).into()),
            }
            if Instant::now() > deadline {
                return Err(format!("{}: no frame within 10 s", self.path.display()).into());
            }
        }
    }
}

impl Drop for MmapCapture {
    fn drop(&mut self) {
        let _ = ioctl::streamoff(&self.file, QueueType::VideoCapture);
        self.maps.clear();
        let _ = ioctl::reqbufs::<()>(&self.file, QueueType::VideoCapture, MemoryType::Mmap, 0);
    }
}

fn run_client(compositor: &Running, video: &Path, frames: u32) -> Result<CopyReport, Error> {
    let mut client = DmabufClient::connect(compositor.socket_path())?;
    let size = client.open_window(true, (640, 480))?;
    let mut shm = client.allocate_shm(size, 2)?;
    let capture = MmapCapture::start(video, size)?;
    let frame_bytes = (size.0 as usize) * 4 * (size.1 as usize);

    settle(compositor);
    let span = Span::start(compositor);
    let mut copied = 0u64;
    for n in 0..frames {
        let (index, used) = capture.dequeue()?;
        let src = capture
            .maps
            .get(index as usize)
            .ok_or_else(|| format!("the driver returned buffer {index}"))?;
        if used < frame_bytes || src.len() < frame_bytes {
            return Err(format!("frame of {used} bytes, expected {frame_bytes}").into());
        }
        let dst = &mut shm[(n % 2) as usize];
        dst.pixels_mut()[..frame_bytes].copy_from_slice(&src[..frame_bytes]);
        copied += frame_bytes as u64;
        capture.queue(index)?;
        client.present(dst)?;
    }
    let cost = span.finish(compositor);
    drop(capture);
    drop(shm);
    drop(client);
    Ok(CopyReport {
        frames,
        size,
        client_bytes_copied: copied,
        cost,
    })
}
