use std::os::fd::AsFd;

use accord_engine::{Decision, MOD_INVALID, MOD_LINEAR};
use smithay::reexports::drm::buffer::{self, DrmFourcc, DrmModifier, PlanarBuffer};
use smithay::reexports::drm::control::{
    atomic::AtomicModeReq, property, AtomicCommitFlags, Device as ControlDevice, FbCmd2Flags,
    ResourceHandle,
};

use super::planes::property;
use super::{Card, ScanoutTarget};
use crate::backend::AllocatedBuffer;

/// Why the device refused a buffer on the target plane, and at which step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// "import" (PRIME fd to handle), "addfb2" or "atomic" (TEST_ONLY).
    pub stage: &'static str,
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

/// The framebuffer description AddFB2 takes.
struct Fb {
    size: (u32, u32),
    format: DrmFourcc,
    modifier: Option<DrmModifier>,
    handles: [Option<buffer::Handle>; 4],
    pitches: [u32; 4],
    offsets: [u32; 4],
}

impl PlanarBuffer for Fb {
    fn size(&self) -> (u32, u32) {
        self.size
    }
    fn format(&self) -> DrmFourcc {
        self.format
    }
    fn modifier(&self) -> Option<DrmModifier> {
        self.modifier
    }
    fn pitches(&self) -> [u32; 4] {
        self.pitches
    }
    fn handles(&self) -> [Option<buffer::Handle>; 4] {
        self.handles
    }
    fn offsets(&self) -> [u32; 4] {
        self.offsets
    }
}

/// GEM handles and KMS objects created for one test; released on drop, so
/// every early return cleans up.
struct Scratch<'a> {
    card: &'a Card,
    handles: Vec<buffer::Handle>,
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
pub fn test_only(
    card: &Card,
    target: &ScanoutTarget,
    decision: &Decision,
    buf: &AllocatedBuffer,
) -> Result<(), Rejected> {
    let format = DrmFourcc::try_from(decision.format)
        .map_err(|_| rejected("addfb2", format!("unknown fourcc {:#x}", decision.format)))?;
    if buf.planes.len() > 4 {
        return Err(rejected("addfb2", format!("{} planes", buf.planes.len())));
    }
    let mut scratch = Scratch {
        card,
        handles: Vec::new(),
        fb: None,
        blob: None,
    };
    let mut fb = Fb {
        size: (decision.width, decision.height),
        format,
        modifier: None,
        handles: [None; 4],
        pitches: [0; 4],
        offsets: [0; 4],
    };
    for (i, plane) in buf.planes.iter().enumerate() {
        let handle = card
            .prime_fd_to_buffer(plane.fd.as_fd())
            .map_err(|e| rejected("import", format!("{}: {e}", card.path().display())))?;
        // Planes sharing one dma-buf import to the same handle: close it once.
        if !scratch.handles.contains(&handle) {
            scratch.handles.push(handle);
        }
        fb.handles[i] = Some(handle);
        fb.pitches[i] = plane.stride;
        fb.offsets[i] = u32::try_from(plane.offset).map_err(|_| {
            rejected(
                "addfb2",
                format!("plane {i} offset {} beyond u32", plane.offset),
            )
        })?;
    }
    let mut flags = FbCmd2Flags::empty();
    if buf.modifier != MOD_INVALID {
        if card.supports_modifiers() {
            fb.modifier = Some(DrmModifier::from(buf.modifier));
            flags |= FbCmd2Flags::MODIFIERS;
        } else if buf.modifier != MOD_LINEAR {
            return Err(rejected(
                "addfb2",
                format!(
                    "modifier {:#x} on a device without ADDFB2_MODIFIERS",
                    buf.modifier
                ),
            ));
        }
    }
    let fb_handle = card
        .add_planar_framebuffer(&fb, flags)
        .map_err(|e| rejected("addfb2", e))?;
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
