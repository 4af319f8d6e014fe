//! A V4L2 capture device as an Accord participant.
//!
//! A camera joins a collection like any client: its constraints are probed
//! from the kernel ([`Node::constraints`]: format, size, stride range,
//! buffer count, usage `capture`), committed with the others', and once the
//! compositor (or whoever allocates) has made the buffers, [`Capture`]
//! imports the collection's dma-bufs into the driver with
//! `V4L2_MEMORY_DMABUF`: the camera writes straight into the buffers the
//! display scans out. Nothing is copied, and a driver that will not take
//! the negotiated layout is an error naming the node, the field and both
//! values.
//!
//! ```no_run
//! use accord_v4l2::{fourcc::fourcc, Capture, Node};
//! # fn collection() -> accord_client::Collection { unimplemented!() }
//! let node = Node::open("/dev/video0")?;
//! let camera = node.constraints(fourcc(b"XR24"), (640, 480))?;
//! let collection = collection();
//! collection.commit(&camera.constraints);
//! let allocation = collection.wait_allocated().expect("allocated");
//! let mut capture = Capture::start(node, &camera, &allocation)?;
//! let frame = capture.dequeue(std::time::Duration::from_secs(2))?;
//! capture.queue(frame.index)?;
//! # Ok::<(), accord_v4l2::Error>(())
//! ```
//!
//! One format at a time: the vocabulary has no per-format constraints yet
//! (a camera's stride differs between `YUYV`, `NV12` and `XR24`), so a
//! camera is negotiated for the one format the application picked.
//!
//! # The V4L2 crate: `v4l2r`
//!
//! Compared with `v4l` (0.14, the other maintained V4L2 crate):
//! - **dma-buf import**: `v4l2r` queues `V4L2_MEMORY_DMABUF` buffers
//!   (`DmaBufHandle` over any fd) in its safe `ioctl` layer; `v4l` knows
//!   the memory type's number but has only `MMAP` and `USERPTR` streams,
//!   so importing would mean our own unsafe ioctls.
//! - **maintenance**: `v4l2r` is developed for the ChromeOS / crosvm video
//!   stacks (stateful decoder and encoder abstractions, a C FFI) and keeps
//!   up with new kernel headers (0.0.7+ follow Linux 6.5's AV1 controls);
//!   `v4l` (latest 0.14) targets webcam capture through `MMAP`/`USERPTR`.
//! - **safety**: `v4l2r`'s `ioctl` module is one safe function per ioctl
//!   with typed inputs and validated outputs (`Format`, `V4l2Buffer`,
//!   `FrmSizeTypes`); its `qbuf` documents the aliasing rule we follow (the
//!   collection's fds are not written by this process while queued).
//!
//! Its cost: bindgen at build time (`libclang-dev`, in `scripts/deps.sh`).

mod capture;
pub mod constraints;
pub mod fourcc;
mod node;

pub use capture::{implied_planes, Capture, Frame};
pub use constraints::{CameraConstraints, CampingSource, DEFAULT_CAMPING};
pub use node::{probe_all, video_nodes, FormatInfo, FrameSizes, Node, NodeInfo};

use std::fmt;
use std::path::{Path, PathBuf};

/// What went wrong, always naming the node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The node cannot be used as asked.
    Node { node: PathBuf, message: String },
    /// The driver answered a value other than the decision's.
    Mismatch {
        node: PathBuf,
        field: &'static str,
        decided: String,
        driver: String,
    },
}

impl Error {
    pub(crate) fn node(node: &Path, message: impl Into<String>) -> Error {
        Error::Node {
            node: node.to_owned(),
            message: message.into(),
        }
    }

    pub(crate) fn mismatch(
        node: &Path,
        field: &'static str,
        decided: String,
        driver: String,
    ) -> Error {
        Error::Mismatch {
            node: node.to_owned(),
            field,
            decided,
            driver,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Node { node, message } => write!(f, "{}: {message}", node.display()),
            Error::Mismatch {
                node,
                field,
                decided,
                driver,
            } => write!(
                f,
                "{}: {field}: the decision is {decided}, the driver answered {driver}",
                node.display()
            ),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::Error;

    #[test]
    fn a_mismatch_names_node_field_and_both_values() {
        let e = Error::mismatch(
            std::path::Path::new("/dev/video0"),
            "S_FMT bytesperline",
            "2816".into(),
            "2560".into(),
        );
        assert_eq!(
            e.to_string(),
            "/dev/video0: S_FMT bytesperline: the decision is 2816, the driver answered 2560"
        );
    }
}
