//! An atomic `TEST_ONLY` commit of one framebuffer on the target plane: the
//! device's own answer to "would this buffer scan out", and at which step
//! it refused.

use std::os::fd::AsFd;

use accord_engine::Decision;
use smithay::reexports::drm::control::{
    atomic::AtomicModeReq, property, AtomicCommitFlags, Device as ControlDevice, ResourceHandle,
};

use super::planes::property;
use super::{add_dmabuf_framebuffer, Card, DmabufPlane, ScanoutTarget};
use crate::backend::AllocatedBuffer;

/// Why the device refused a buffer on the target plane, and at which step.
///
/// ```
/// let r = accord_smithay::kms::Rejected { stage: "addfb2", message: "EINVAL".into() };
/// assert_eq!(r.to_string(), "addfb2 rejected: EINVAL");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// "import" (PRIME fd to handle), "addfb2" or "atomic" (TEST_ONLY).
    pub stage: &'static str,
    /// What the device said.
    pub message: String,
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} rejected: {}", self.stage, self.message)
    }
}

impl std::error::Error for Rejected {}

fn rejected(stage: &'static str, message: impl std::fmt::Display) -> Rejected {
    Rejected {
        stage,
        message: message.to_string(),
    }
}

/// GEM handles and KMS objects created for one test; released on drop, so
/// every early return cleans up.
struct Scratch<'a> {
    card: &'a Card,
    handles: Vec<smithay::reexports::drm::buffer::Handle>,
    fb: Option<smithay::reexports::drm::control::framebuffer::Handle>,
    blob: Option<u64>,
}

impl Drop for Scratch<'_> {
    fn drop(&mut self) {
        if let Some(fb) = self.fb.take() {
            let _ = self.card.destroy_framebuffer(fb);
        }
        if let Some(blob) = self.blob.take() {
            let _ = self.card.destroy_property_blob(blob);
        }
        for h in self.handles.drain(..) {
            let _ = self.card.close_buffer(h);
        }
    }
}

fn prop_handle<H: ResourceHandle>(
    card: &Card,
    obj: H,
    name: &str,
) -> Result<property::Handle, Rejected> {
    match property(card, obj, name) {
        Ok(Some((h, _))) => Ok(h),
        Ok(None) => Err(rejected("atomic", format!("no {name} property"))),
        Err(e) => Err(rejected("atomic", e)),
    }
}

/// Atomic `TEST_ONLY` commit of `buf` (allocated for `decision`) on the
/// target plane, shown fullscreen on the target CRTC, with a mode-set when
/// the CRTC is inactive (that needs `card` to be DRM master, as a
/// compositor's fd is). Nothing reaches the screen. The buffer is imported
/// through PRIME, so a buffer the display device cannot reach (another
/// device's memory) fails at "import".
///
/// ```no_run
/// use accord_smithay::backend::{CollectionAllocator, DumbBackend};
/// use accord_smithay::kms::{test_only, ScanoutTarget};
/// # fn demo(decision: &accord_engine::Decision) -> std::io::Result<()> {
/// let mut dumb = DumbBackend::open("/dev/dri/card0")?;
/// let card = dumb.card().try_clone()?;
/// card.enable_atomic()?;
/// let target = ScanoutTarget::first_connected(&card)?;
/// let one = accord_engine::Decision { buffer_count: 1, ..decision.clone() };
/// if let Ok(buffers) = dumb.allocate(&one) {
///     match test_only(&card, &target, &one, &buffers[0]) {
///         Ok(()) => println!("scanout confirmed"),
///         Err(rejected) => println!("{rejected}"),
///     }
/// }
/// # Ok(()) }
/// ```
pub fn test_only(
    card: &Card,
    target: &ScanoutTarget,
    decision: &Decision,
    buf: &AllocatedBuffer,
) -> Result<(), Rejected> {
    let mut scratch = Scratch {
        card,
        handles: Vec::new(),
        fb: None,
        blob: None,
    };
    let planes: Vec<DmabufPlane<'_>> = buf
        .planes
        .iter()
        .map(|p| DmabufPlane {
            fd: p.fd.as_fd(),
            offset: p.offset,
            stride: p.stride,
        })
        .collect();
    let added = add_dmabuf_framebuffer(
        card,
        card.supports_modifiers(),
        (decision.width, decision.height),
        decision.format,
        buf.modifier,
        &planes,
    )
    .map_err(|r| match r.stage {
        "import" => rejected(
            "import",
            format!("{}: {}", card.path().display(), r.message),
        ),
        _ => r,
    })?;
    scratch.handles = added.handles;
    let fb_handle = added.fb;
    scratch.fb = Some(fb_handle);

    let (mw, mh) = target.mode.size();
    let (dw, dh) = (u64::from(mw), u64::from(mh));
    let mut req = AtomicModeReq::new();
    let p = target.plane;
    req.add_raw_property(
        p.into(),
        prop_handle(card, p, "FB_ID")?,
        u64::from(u32::from(fb_handle)),
    );
    req.add_raw_property(
        p.into(),
        prop_handle(card, p, "CRTC_ID")?,
        u64::from(u32::from(target.crtc)),
    );
    req.add_raw_property(p.into(), prop_handle(card, p, "SRC_X")?, 0);
    req.add_raw_property(p.into(), prop_handle(card, p, "SRC_Y")?, 0);
    req.add_raw_property(
        p.into(),
        prop_handle(card, p, "SRC_W")?,
        u64::from(decision.width) << 16,
    );
    req.add_raw_property(
        p.into(),
        prop_handle(card, p, "SRC_H")?,
        u64::from(decision.height) << 16,
    );
    req.add_raw_property(p.into(), prop_handle(card, p, "CRTC_X")?, 0);
    req.add_raw_property(p.into(), prop_handle(card, p, "CRTC_Y")?, 0);
    req.add_raw_property(p.into(), prop_handle(card, p, "CRTC_W")?, dw);
    req.add_raw_property(p.into(), prop_handle(card, p, "CRTC_H")?, dh);
    let mut commit_flags = AtomicCommitFlags::TEST_ONLY;
    let active = property(card, target.crtc, "ACTIVE")
        .map_err(|e| rejected("atomic", e))?
        .map(|(_, v)| v != 0)
        .unwrap_or(false);
    if !active {
        let blob = card
            .create_property_blob(&target.mode)
            .map_err(|e| rejected("atomic", format!("mode blob: {e}")))?;
        let blob_id = match blob {
            property::Value::Blob(id) => id,
            _ => return Err(rejected("atomic", "mode blob has no id")),
        };
        scratch.blob = Some(blob_id);
        let c = target.crtc;
        req.add_raw_property(c.into(), prop_handle(card, c, "MODE_ID")?, blob_id);
        req.add_raw_property(c.into(), prop_handle(card, c, "ACTIVE")?, 1);
        let conn = target.connector;
        req.add_raw_property(
            conn.into(),
            prop_handle(card, conn, "CRTC_ID")?,
            u64::from(u32::from(c)),
        );
        commit_flags |= AtomicCommitFlags::ALLOW_MODESET;
    }
    card.atomic_commit(commit_flags, req)
        .map_err(|e| rejected("atomic", e))?;
    Ok(())
}
