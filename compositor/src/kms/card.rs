use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use smithay::reexports::drm::control::Device as ControlDevice;
use smithay::reexports::drm::{ClientCapability, Device, DriverCapability};

/// An opened DRM node. The `drm` traits are implemented on it so that every
/// ioctl goes through one type.
#[derive(Debug)]
pub struct Card {
    fd: OwnedFd,
    path: PathBuf,
}

impl AsFd for Card {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Device for Card {}
impl ControlDevice for Card {}

impl Card {
    /// Open a DRM node read-write. For KMS use, enables universal planes and
    /// atomic (both are required to see primary/cursor planes and to run
    /// `TEST_ONLY` commits).
    pub fn open(path: impl AsRef<Path>) -> std::io::Result<Card> {
        let path = path.as_ref().to_path_buf();
        let fd = crate::backend::open_node(&path, rustix::fs::OFlags::RDWR)?;
        Ok(Card { fd, path })
    }

    /// Enable the client capabilities plane probing and atomic commits need.
    pub fn enable_atomic(&self) -> std::io::Result<()> {
        self.set_client_capability(ClientCapability::UniversalPlanes, true)?;
        self.set_client_capability(ClientCapability::Atomic, true)?;
        // Newer kernels hide virtual drivers' cursor planes from atomic clients
        // that do not promise hotspot handling; older ones reject the cap.
        let _ = self.set_client_capability(ClientCapability::CursorPlaneHotspot, true);
        Ok(())
    }

    /// `DRM_CAP_ADDFB2_MODIFIERS`: without it, framebuffers carry implicit
    /// modifiers only.
    pub fn supports_modifiers(&self) -> bool {
        self.get_driver_capability(DriverCapability::AddFB2Modifiers)
            .map(|v| v != 0)
            .unwrap_or(false)
    }

    /// The node's path, for logs and backend names.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The driver name ("virtio_gpu", "vgem", ...).
    pub fn driver_name(&self) -> String {
        self.get_driver()
            .map(|d| d.name().to_string_lossy().into_owned())
            .unwrap_or_else(|_| "unknown".into())
    }

    /// `dev_t` of the node, the engine's device identifier.
    pub fn dev(&self) -> std::io::Result<u64> {
        Ok(rustix::fs::fstat(&self.fd)?.st_rdev)
    }

    /// A second handle on the same open file description (shares DRM master
    /// state and GEM handles).
    pub fn try_clone(&self) -> std::io::Result<Card> {
        Ok(Card {
            fd: self.fd.try_clone()?,
            path: self.path.clone(),
        })
    }
}
