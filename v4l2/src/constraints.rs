//! A capture node's needs as an Accord participant's constraints, for one
//! format at a time.
//!
//! The algorithm, for a V4L2 format `F` and a frame size `W`×`H`:
//! 1. `F` needs a DRM twin ([`crate::fourcc`]); the modifier is LINEAR
//!    (V4L2 has no modifiers: a dma-buf it imports is a linear image).
//! 2. `W`×`H` must be a size `VIDIOC_ENUM_FRAMESIZES` lists for `F`; then
//!    `VIDIOC_TRY_FMT(F, W, H, bytesperline 0)` must answer `F`, `W`×`H`
//!    and one memory plane. Its `bytesperline` is the minimum stride and
//!    its `sizeimage` the bytes one frame needs.
//! 3. The stride range: `TRY_FMT` with a huge `bytesperline` answers the
//!    driver's maximum (a driver that ignores the request answers the
//!    minimum again: the stride is fixed). When the range is not a single
//!    value, `TRY_FMT` with minimum + 1 tells the alignment: a driver that
//!    takes it has none (1); one that rounds it up to `B` aligns to
//!    gcd(minimum, `B`).
//! 4. The buffers the driver keeps queued ("camping"):
//!    `V4L2_CID_MIN_BUFFERS_FOR_CAPTURE` when the driver has it, else what
//!    `VIDIOC_REQBUFS(1, DMABUF)` raises the count to (vb2 raises it to the
//!    queue's minimum; the request is released at once), else
//!    [`DEFAULT_CAMPING`]. `REQBUFS` also tells whether the queue imports
//!    dma-bufs at all: without `V4L2_BUF_CAP_SUPPORTS_DMABUF` the camera
//!    cannot take part.
//!
//! The result fixes the size (`min_size` = `max_size` = `W`×`H`): a V4L2
//! stream has one size, and the stride and byte figures hold for it only.
//! `sizeimage` has no constraint of its own in the vocabulary (there is no
//! minimum byte size): for the formats of the table it equals what the
//! stride and height imply, and [`crate::Capture::start`] checks every
//! buffer holds it.
//!
//! Per-format constraints do not exist in the vocabulary yet (the engine
//! issue): a device whose stride or sizes differ per format is negotiated
//! one format at a time: call [`crate::Node::constraints`] per format and
//! commit the one you want.

use accord_client::{Constraints, Usage, MOD_LINEAR};
use v4l2r::ioctl::{self, BufferCapabilities};
use v4l2r::memory::MemoryType;
use v4l2r::{Format, PlaneLayout};

use crate::fourcc::{by_v4l2, fourcc_str};
use crate::node::{FrameSizes, Node};
use crate::Error;

/// `V4L2_CID_MIN_BUFFERS_FOR_CAPTURE` (`V4L2_CID_BASE + 39`); a macro
/// expression bindgen does not evaluate.
pub const V4L2_CID_MIN_BUFFERS_FOR_CAPTURE: u32 = 0x0098_0900 + 39;

/// Camping buffers when the driver tells nothing: two, the minimum vb2's
/// capture drivers stream with (one being filled, one queued next).
pub const DEFAULT_CAMPING: u32 = 2;

/// The most buffers one V4L2 queue holds (`VB2_MAX_FRAME` on Linux 6.1):
/// the collection's maximum count.
pub const MAX_BUFFERS: u32 = 32;

/// Where the camping count came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CampingSource {
    /// `V4L2_CID_MIN_BUFFERS_FOR_CAPTURE`.
    Control,
    /// `VIDIOC_REQBUFS(1)` answered this many.
    Reqbufs,
    /// [`DEFAULT_CAMPING`].
    Default,
}

/// What the driver reported for one format and size, and the constraints
/// made from it.
#[derive(Clone, Debug)]
pub struct CameraConstraints {
    /// `V4L2_PIX_FMT_*`.
    pub v4l2_format: u32,
    /// Its DRM twin.
    pub drm_format: u32,
    pub size: (u32, u32),
    /// `TRY_FMT`'s answer with no stride asked.
    pub bytesperline: u32,
    pub sizeimage: u32,
    pub min_stride: u32,
    pub max_stride: u32,
    pub stride_alignment: u32,
    pub camping: u32,
    pub camping_source: CampingSource,
    /// The participant's constraints, ready to commit.
    pub constraints: Constraints,
}

impl std::fmt::Display for CameraConstraints {
    /// `XR24 at 1280x720: bytesperline 5120, sizeimage 3686400, stride
    /// range [5120, 65536] aligned 1, 2 buffers camping (Reqbufs)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} at {}x{}: bytesperline {}, sizeimage {}, stride range [{}, {}] aligned {}, {} buffers camping ({:?})",
            fourcc_str(self.v4l2_format),
            self.size.0,
            self.size.1,
            self.bytesperline,
            self.sizeimage,
            self.min_stride,
            self.max_stride,
            self.stride_alignment,
            self.camping,
            self.camping_source
        )
    }
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

impl Node {
    /// `TRY_FMT` on the capture queue.
    pub(crate) fn try_fmt(
        &self,
        format: u32,
        size: (u32, u32),
        bytesperline: u32,
    ) -> Result<Format, Error> {
        let queue = self.capture_queue()?;
        let want = Format {
            width: size.0,
            height: size.1,
            pixelformat: format.into(),
            plane_fmt: vec![PlaneLayout {
                sizeimage: 0,
                bytesperline,
            }],
        };
        ioctl::try_fmt::<_, Format>(&self.file, (queue, &want)).map_err(|e| {
            Error::node(
                &self.path,
                format!(
                    "VIDIOC_TRY_FMT {} {}x{} bytesperline {bytesperline}: {e}",
                    fourcc_str(format),
                    size.0,
                    size.1
                ),
            )
        })
    }

    /// The constraints of this camera capturing `v4l2_format` at `size`
    /// (module comment: how each figure is found).
    pub fn constraints(
        &self,
        v4l2_format: u32,
        size: (u32, u32),
    ) -> Result<CameraConstraints, Error> {
        let queue = self.capture_queue()?;
        let name = fourcc_str(v4l2_format);
        let pair = by_v4l2(v4l2_format).ok_or_else(|| {
            Error::node(
                &self.path,
                format!("V4L2 format {name} has no DRM twin (accord_v4l2::fourcc::TABLE)"),
            )
        })?;
        let sizes = self.frame_sizes(v4l2_format);
        if !sizes.contains(size) {
            return Err(Error::node(
                &self.path,
                format!(
                    "{name} at {}x{} is not a size the driver offers ({})",
                    size.0,
                    size.1,
                    if sizes == FrameSizes::Discrete(Vec::new()) {
                        "none".to_string()
                    } else {
                        sizes.to_string()
                    }
                ),
            ));
        }
        let base = self.try_fmt(v4l2_format, size, 0)?;
        let answered = u32::from(base.pixelformat);
        if answered != v4l2_format {
            return Err(Error::mismatch(
                &self.path,
                "TRY_FMT pixelformat",
                name.clone(),
                fourcc_str(answered),
            ));
        }
        if (base.width, base.height) != size {
            return Err(Error::mismatch(
                &self.path,
                "TRY_FMT size",
                format!("{}x{}", size.0, size.1),
                format!("{}x{}", base.width, base.height),
            ));
        }
        if base.plane_fmt.len() != 1 {
            return Err(Error::node(
                &self.path,
                format!(
                    "{name} uses {} memory planes; only single-buffer formats are supported",
                    base.plane_fmt.len()
                ),
            ));
        }
        let PlaneLayout {
            bytesperline,
            sizeimage,
        } = base.plane_fmt[0].clone();
        if bytesperline == 0 || sizeimage == 0 {
            return Err(Error::node(
                &self.path,
                format!(
                    "TRY_FMT {name} answered bytesperline {bytesperline}, sizeimage {sizeimage}"
                ),
            ));
        }
        // Stride range and alignment (module comment, step 3).
        let bpl_of = |f: Format| f.plane_fmt.first().map_or(0, |p| p.bytesperline);
        let hi = bpl_of(self.try_fmt(v4l2_format, size, 1 << 30)?);
        let (max_stride, stride_alignment) = if hi <= bytesperline {
            (bytesperline, 1)
        } else {
            let one = bpl_of(self.try_fmt(v4l2_format, size, bytesperline.saturating_add(1))?);
            let align = if one == bytesperline.saturating_add(1) {
                1
            } else if one > bytesperline {
                gcd(bytesperline, one)
            } else {
                gcd(bytesperline, hi)
            };
            (hi, align)
        };
        let (camping, camping_source) = self.camping(queue)?;
        let constraints = Constraints::new()
            .usage(Usage::Capture)
            .format(pair.drm, MOD_LINEAR)
            .min_size(size.0, size.1)
            .max_size(size.0, size.1)
            .stride_range(bytesperline, max_stride)
            .stride_alignment(stride_alignment)
            .buffer_counts(camping, 0, 0, 0, MAX_BUFFERS);
        Ok(CameraConstraints {
            v4l2_format,
            drm_format: pair.drm,
            size,
            bytesperline,
            sizeimage,
            min_stride: bytesperline,
            max_stride,
            stride_alignment,
            camping,
            camping_source,
            constraints,
        })
    }

    /// Camping count and where it came from (module comment, step 4).
    fn camping(&self, queue: v4l2r::QueueType) -> Result<(u32, CampingSource), Error> {
        let caps: BufferCapabilities = ioctl::reqbufs(&self.file, queue, MemoryType::DmaBuf, 0)
            .map_err(|e| Error::node(&self.path, format!("VIDIOC_REQBUFS(0, DMABUF): {e}")))?;
        if !caps.contains(BufferCapabilities::SUPPORTS_DMABUF) {
            return Err(Error::node(
                &self.path,
                format!(
                    "the capture queue does not import dma-bufs (buffer capabilities {caps:?})"
                ),
            ));
        }
        if let Ok(n) = ioctl::g_ctrl(&self.file, V4L2_CID_MIN_BUFFERS_FOR_CAPTURE) {
            // A driver's number, bounded like any other input.
            match u32::try_from(n) {
                Ok(n @ 1..=MAX_BUFFERS) => return Ok((n, CampingSource::Control)),
                Ok(0) => {}
                _ => {
                    return Err(Error::node(
                        &self.path,
                        format!(
                            "V4L2_CID_MIN_BUFFERS_FOR_CAPTURE is {n}; a V4L2 queue holds 1 to {MAX_BUFFERS}"
                        ),
                    ))
                }
            }
        }
        let asked: Result<usize, _> = ioctl::reqbufs(&self.file, queue, MemoryType::DmaBuf, 1);
        let _ = ioctl::reqbufs::<()>(&self.file, queue, MemoryType::DmaBuf, 0);
        match asked {
            Ok(n) if n >= 1 && n as u32 <= MAX_BUFFERS => Ok((n as u32, CampingSource::Reqbufs)),
            _ => Ok((DEFAULT_CAMPING, CampingSource::Default)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::gcd;

    #[test]
    fn alignment_from_a_rounded_answer() {
        // A driver aligning to 64: min 2560, min+1 rounded to 2624.
        assert_eq!(gcd(2560, 2624), 64);
        assert_eq!(gcd(2560, 2560), 2560);
    }
}
