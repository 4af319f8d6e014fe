//! A V4L2 video node and what it offers: `VIDIOC_QUERYCAP`, the capture
//! queue's formats (`VIDIOC_ENUM_FMT`) and each format's frame sizes
//! (`VIDIOC_ENUM_FRAMESIZES`). This is what `accord info` lists and what
//! [`crate::constraints`] starts from. Nothing here changes the device's
//! state.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use v4l2r::ioctl::{self, Capabilities, Capability, FmtDesc, FrmSizeTypes};
use v4l2r::QueueType;

use crate::fourcc::{fourcc_str, v4l2_to_drm};
use crate::Error;

/// At most this many formats and frame sizes are read per node: a
/// misbehaving driver cannot make a listing endless.
pub const MAX_ENUM: u32 = 256;

/// `/dev/video*`, sorted by number.
pub fn video_nodes() -> Vec<PathBuf> {
    let mut nodes: Vec<(u32, PathBuf)> = std::fs::read_dir("/dev")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let n = name.strip_prefix("video")?.parse().ok()?;
            Some((n, e.path()))
        })
        .collect();
    nodes.sort();
    nodes.into_iter().map(|(_, p)| p).collect()
}

/// An open video node with its capture queue.
pub struct Node {
    pub(crate) path: PathBuf,
    pub(crate) file: File,
    pub(crate) cap: Capability,
    /// `VideoCapture` or `VideoCaptureMplane`; `None`: no capture queue.
    pub(crate) queue: Option<QueueType>,
}

/// Sizes the driver offers for one format (`VIDIOC_ENUM_FRAMESIZES`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameSizes {
    /// A list of exact sizes.
    Discrete(Vec<(u32, u32)>),
    /// Any size from `min` to `max` in steps of `step` (`step` (1, 1) for
    /// `V4L2_FRMSIZE_TYPE_CONTINUOUS`).
    Stepwise {
        min: (u32, u32),
        max: (u32, u32),
        step: (u32, u32),
    },
    /// The driver does not enumerate sizes (`ENUM_FRAMESIZES` fails):
    /// only `VIDIOC_TRY_FMT` tells.
    Unknown,
}

impl FrameSizes {
    /// Whether `size` is one the driver lists (always true for `Unknown`).
    pub fn contains(&self, (w, h): (u32, u32)) -> bool {
        match self {
            FrameSizes::Discrete(list) => list.contains(&(w, h)),
            FrameSizes::Stepwise { min, max, step } => {
                let on = |v: u32, lo: u32, hi: u32, s: u32| {
                    v >= lo && v <= hi && (v - lo).is_multiple_of(s.max(1))
                };
                on(w, min.0, max.0, step.0) && on(h, min.1, max.1, step.1)
            }
            FrameSizes::Unknown => true,
        }
    }
}

/// One capture format.
#[derive(Clone, Debug)]
pub struct FormatInfo {
    /// `V4L2_PIX_FMT_*`.
    pub v4l2: u32,
    /// The DRM twin from [`crate::fourcc::TABLE`], if any.
    pub drm: Option<u32>,
    /// The driver's description (`"32-bit BGRX 8-8-8-8"`).
    pub description: String,
    pub compressed: bool,
    pub sizes: FrameSizes,
}

/// What `accord info` prints for a node.
#[derive(Clone, Debug)]
pub struct NodeInfo {
    pub path: PathBuf,
    pub driver: String,
    pub card: String,
    pub bus_info: String,
    /// Kernel version the driver reports (`major.minor.patch`).
    pub version: (u32, u32, u32),
    /// The node's capabilities (`device_caps`), by name.
    pub capabilities: Vec<&'static str>,
    /// Capture formats; empty for nodes without a capture queue.
    pub formats: Vec<FormatInfo>,
}

/// `V4L2_CAP_*` names, in the kernel header's order.
const CAP_NAMES: &[(Capabilities, &str)] = &[
    (Capabilities::VIDEO_CAPTURE, "VIDEO_CAPTURE"),
    (Capabilities::VIDEO_OUTPUT, "VIDEO_OUTPUT"),
    (Capabilities::VIDEO_OVERLAY, "VIDEO_OVERLAY"),
    (Capabilities::VBI_CAPTURE, "VBI_CAPTURE"),
    (Capabilities::VBI_OUTPUT, "VBI_OUTPUT"),
    (Capabilities::SLICED_VBI_CAPTURE, "SLICED_VBI_CAPTURE"),
    (Capabilities::SLICED_VBI_OUTPUT, "SLICED_VBI_OUTPUT"),
    (Capabilities::RDS_CAPTURE, "RDS_CAPTURE"),
    (Capabilities::VIDEO_OUTPUT_OVERLAY, "VIDEO_OUTPUT_OVERLAY"),
    (Capabilities::HW_FREQ_SEEK, "HW_FREQ_SEEK"),
    (Capabilities::RDS_OUTPUT, "RDS_OUTPUT"),
    (Capabilities::VIDEO_CAPTURE_MPLANE, "VIDEO_CAPTURE_MPLANE"),
    (Capabilities::VIDEO_OUTPUT_MPLANE, "VIDEO_OUTPUT_MPLANE"),
    (Capabilities::VIDEO_M2M_MPLANE, "VIDEO_M2M_MPLANE"),
    (Capabilities::VIDEO_M2M, "VIDEO_M2M"),
    (Capabilities::TUNER, "TUNER"),
    (Capabilities::AUDIO, "AUDIO"),
    (Capabilities::RADIO, "RADIO"),
    (Capabilities::MODULATOR, "MODULATOR"),
    (Capabilities::SDR_CAPTURE, "SDR_CAPTURE"),
    (Capabilities::EXT_PIX_FORMAT, "EXT_PIX_FORMAT"),
    (Capabilities::SDR_OUTPUT, "SDR_OUTPUT"),
    (Capabilities::META_CAPTURE, "META_CAPTURE"),
    (Capabilities::READWRITE, "READWRITE"),
    (Capabilities::STREAMING, "STREAMING"),
    (Capabilities::META_OUTPUT, "META_OUTPUT"),
    (Capabilities::TOUCH, "TOUCH"),
];

impl Node {
    /// Opens `path` read-write and non-blocking (`DQBUF` is waited for
    /// with `poll` and a timeout, never blocked on).
    pub fn open(path: impl AsRef<Path>) -> Result<Node, Error> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = path.as_ref().to_owned();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
            .open(&path)
            .map_err(|e| Error::node(&path, format!("cannot open: {e}")))?;
        let cap: Capability = ioctl::querycap(&file)
            .map_err(|e| Error::node(&path, format!("VIDIOC_QUERYCAP: {e}")))?;
        let caps = cap.device_caps();
        // Single-planar first: its formats keep every plane in one buffer.
        let queue = if caps.contains(Capabilities::VIDEO_CAPTURE) {
            Some(QueueType::VideoCapture)
        } else if caps.contains(Capabilities::VIDEO_CAPTURE_MPLANE) {
            Some(QueueType::VideoCaptureMplane)
        } else {
            None
        };
        Ok(Node {
            path,
            file,
            cap,
            queue,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn driver(&self) -> &str {
        &self.cap.driver
    }

    pub fn card(&self) -> &str {
        &self.cap.card
    }

    /// The node's fd, e.g. for `poll`.
    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.file.as_fd()
    }

    /// The capture queue, or an error naming the node.
    pub(crate) fn capture_queue(&self) -> Result<QueueType, Error> {
        self.queue.ok_or_else(|| {
            Error::node(
                &self.path,
                format!(
                    "not a capture node (driver {}, capabilities {})",
                    self.cap.driver,
                    self.capability_names().join(" ")
                ),
            )
        })
    }

    /// The node's capability names (`device_caps`).
    pub fn capability_names(&self) -> Vec<&'static str> {
        let caps = self.cap.device_caps();
        CAP_NAMES
            .iter()
            .filter(|(c, _)| caps.contains(*c))
            .map(|&(_, n)| n)
            .collect()
    }

    /// The capture queue's formats in the driver's order (empty without
    /// a capture queue).
    pub fn formats(&self) -> Vec<FormatInfo> {
        let Some(queue) = self.queue else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for index in 0..MAX_ENUM {
            let Ok(desc) = ioctl::enum_fmt::<FmtDesc>(&self.file, queue, index) else {
                break;
            };
            let v4l2 = u32::from(desc.pixelformat);
            out.push(FormatInfo {
                v4l2,
                drm: v4l2_to_drm(v4l2),
                description: desc.description,
                compressed: desc.flags.contains(ioctl::FormatFlags::COMPRESSED),
                sizes: self.frame_sizes(v4l2),
            });
        }
        out
    }

    /// `VIDIOC_ENUM_FRAMESIZES` for `format`.
    pub fn frame_sizes(&self, format: u32) -> FrameSizes {
        let mut discrete = Vec::new();
        for index in 0..MAX_ENUM {
            let Ok(e) = ioctl::enum_frame_sizes::<v4l2r::bindings::v4l2_frmsizeenum>(
                &self.file,
                index,
                format.into(),
            ) else {
                break;
            };
            match e.size() {
                Some(FrmSizeTypes::Discrete(d)) => discrete.push((d.width, d.height)),
                Some(FrmSizeTypes::StepWise(s)) => {
                    return FrameSizes::Stepwise {
                        min: (s.min_width, s.min_height),
                        max: (s.max_width, s.max_height),
                        step: (s.step_width.max(1), s.step_height.max(1)),
                    }
                }
                None => break,
            }
        }
        if discrete.is_empty() {
            FrameSizes::Unknown
        } else {
            FrameSizes::Discrete(discrete)
        }
    }

    /// Everything `accord info` prints about this node.
    pub fn info(&self) -> NodeInfo {
        let v = self.cap.version;
        NodeInfo {
            path: self.path.clone(),
            driver: self.cap.driver.clone(),
            card: self.cap.card.clone(),
            bus_info: self.cap.bus_info.clone(),
            version: (v >> 16, (v >> 8) & 0xff, v & 0xff),
            capabilities: self.capability_names(),
            formats: self.formats(),
        }
    }
}

/// Every `/dev/video*` node: its listing, or why it cannot be read.
pub fn probe_all() -> Vec<(PathBuf, Result<NodeInfo, Error>)> {
    video_nodes()
        .into_iter()
        .map(|p| {
            let info = Node::open(&p).map(|n| n.info());
            (p, info)
        })
        .collect()
}

impl std::fmt::Display for FrameSizes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameSizes::Discrete(list) => {
                let s: Vec<String> = list.iter().map(|(w, h)| format!("{w}x{h}")).collect();
                f.write_str(&s.join(", "))
            }
            FrameSizes::Stepwise { min, max, step } => write!(
                f,
                "{}x{} to {}x{} in steps of {}x{}",
                min.0, min.1, max.0, max.1, step.0, step.1
            ),
            FrameSizes::Unknown => f.write_str("not enumerated"),
        }
    }
}

impl FormatInfo {
    /// `XR24 (DRM XRGB8888)` / `MJPG (no DRM format)`.
    pub fn label(&self) -> String {
        match crate::fourcc::by_v4l2(self.v4l2) {
            Some(p) => format!("{} (DRM {})", fourcc_str(self.v4l2), p.drm_name),
            None => format!("{} (no DRM format)", fourcc_str(self.v4l2)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stepwise_contains_only_sizes_on_the_step() {
        let s = FrameSizes::Stepwise {
            min: (16, 16),
            max: (1920, 1080),
            step: (16, 8),
        };
        assert!(s.contains((640, 480)));
        assert!(!s.contains((641, 480)));
        assert!(!s.contains((1936, 480)));
        assert!(!s.contains((8, 8)));
        let d = FrameSizes::Discrete(vec![(640, 480), (1280, 720)]);
        assert!(d.contains((1280, 720)) && !d.contains((1280, 800)));
        assert_eq!(d.to_string(), "640x480, 1280x720");
    }
}
