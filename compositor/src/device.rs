//! Device nodes: opening one close-on-exec, and [`Card`], a DRM device
//! (KMS or render node) shared by the KMS probes (`kms/`) and the GBM and
//! dumb-buffer backends (`backend/`), so neither depends on the other.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use smithay::reexports::drm::control::Device as ControlDevice;
use smithay::reexports::drm::{ClientCapability, Device, DriverCapability};

/// An opened DRM node. The `drm` traits are implemented on it so that every
/// ioctl goes through one type.
///
/// ```no_run
/// use accord_smithay::kms::Card;
/// let card = Card::open("/dev/dri/card0")?;
/// card.enable_atomic()?;
/// println!("{} ({}), modifiers: {}", card.path().display(), card.driver_name(), card.supports_modifiers());
/// # Ok::<(), std::io::Error>(())
/// ```
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
    ///
    /// ```no_run
    /// use accord_smithay::kms::Card;
    /// let card = Card::open("/dev/dri/card0")?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> std::io::Result<Card> {
        let path = path.as_ref().to_path_buf();
        let fd = open_node(&path, rustix::fs::OFlags::RDWR)?;
        Ok(Card { fd, path })
    }

    /// Wrap an already open DRM node, e.g. a duplicate of a compositor's
    /// master fd: atomic commits (`TEST_ONLY` included) need DRM master,
    /// which belongs to the open file description, not to the path.
    ///
    /// ```no_run
    /// use accord_smithay::kms::Card;
    /// # fn demo(master: &std::os::fd::OwnedFd) -> std::io::Result<()> {
    /// let card = Card::from_fd(master.try_clone()?, "/dev/dri/card0");
    /// card.enable_atomic()?;
    /// # Ok(()) }
    /// ```
    pub fn from_fd(fd: OwnedFd, path: impl AsRef<Path>) -> Card {
        Card {
            fd,
            path: path.as_ref().to_path_buf(),
        }
    }

    /// Enable the client capabilities plane probing and atomic commits need.
    ///
    /// ```no_run
    /// use accord_smithay::kms::Card;
    /// let card = Card::open("/dev/dri/card0")?;
    /// card.enable_atomic()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
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
    ///
    /// ```no_run
    /// use accord_smithay::kms::Card;
    /// let card = Card::open("/dev/dri/card0")?;
    /// if !card.supports_modifiers() {
    ///     // planes take implicit modifiers only
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn supports_modifiers(&self) -> bool {
        self.get_driver_capability(DriverCapability::AddFB2Modifiers)
            .map(|v| v != 0)
            .unwrap_or(false)
    }

    /// The node's path, for logs and backend names.
    ///
    /// ```no_run
    /// use accord_smithay::kms::Card;
    /// let card = Card::open("/dev/dri/card0")?;
    /// assert_eq!(card.path(), std::path::Path::new("/dev/dri/card0"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The driver name ("virtio_gpu", "vgem", ...).
    ///
    /// ```no_run
    /// use accord_smithay::kms::Card;
    /// let card = Card::open("/dev/dri/card0")?;
    /// println!("driver {}", card.driver_name());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn driver_name(&self) -> String {
        self.get_driver()
            .map(|d| d.name().to_string_lossy().into_owned())
            .unwrap_or_else(|_| "unknown".into())
    }

    /// `dev_t` of the node, the engine's device identifier.
    ///
    /// ```no_run
    /// use accord_smithay::kms::Card;
    /// let card = Card::open("/dev/dri/card0")?;
    /// let device_for_constraints = card.dev()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn dev(&self) -> std::io::Result<u64> {
        Ok(rustix::fs::fstat(&self.fd)?.st_rdev)
    }

    /// A second handle on the same open file description (shares DRM master
    /// state and GEM handles).
    ///
    /// ```no_run
    /// use accord_smithay::kms::Card;
    /// let card = Card::open("/dev/dri/card0")?;
    /// let for_gbm = card.try_clone()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_clone(&self) -> std::io::Result<Card> {
        Ok(Card {
            fd: self.fd.try_clone()?,
            path: self.path.clone(),
        })
    }
}

/// Open a device node close-on-exec; errors name the path.
pub(crate) fn open_node(path: &Path, flags: rustix::fs::OFlags) -> std::io::Result<OwnedFd> {
    rustix::fs::open(
        path,
        flags | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}
