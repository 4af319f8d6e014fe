//! The KMS planes of a CRTC and what each scans out: `IN_FORMATS` (or the
//! implicit-modifier format list), the plane's kind, and the pairs the
//! compositor participant offers for a surface (the renderer's formats,
//! scanout-marked where the plane takes them).

use accord_engine::{FormatModifier, MOD_INVALID, MOD_LINEAR};
use smithay::{
    backend::allocator::{format::get_opaque, Fourcc},
    reexports::drm::control::{crtc, plane, Device as ControlDevice, ResourceHandle},
};

use super::{parse_in_formats, Card};

/// `DRM_PLANE_TYPE_*`.
///
/// ```no_run
/// use accord_smithay::kms::Card;
/// let card = Card::open("/dev/dri/card0")?;
/// use accord_smithay::kms::{probe_planes, PlaneKind, ScanoutTarget};
/// card.enable_atomic()?;
/// let target = ScanoutTarget::first_connected(&card)?;
/// let planes = probe_planes(&card, target.crtc)?;
/// let primary = planes.iter().find(|p| p.kind == PlaneKind::Primary);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlaneKind {
    /// An overlay plane.
    Overlay,
    /// The CRTC's primary plane.
    Primary,
    /// A cursor plane.
    Cursor,
}

/// One plane that can show content on a CRTC.
///
/// ```no_run
/// use accord_smithay::kms::Card;
/// let card = Card::open("/dev/dri/card0")?;
/// use accord_smithay::kms::{probe_planes, ScanoutTarget};
/// card.enable_atomic()?;
/// let target = ScanoutTarget::first_connected(&card)?;
/// for plane in probe_planes(&card, target.crtc)? {
///     println!("{:?} {:?}: {} formats", plane.kind, plane.handle, plane.formats.len());
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct ScanoutPlane {
    /// The plane's KMS handle.
    pub handle: plane::Handle,
    /// Primary, overlay or cursor.
    pub kind: PlaneKind,
    /// Formats with their modifiers. A plane without `IN_FORMATS` (or a
    /// device without `ADDFB2_MODIFIERS`) takes implicit modifiers only,
    /// listed as [`MOD_INVALID`].
    pub formats: Vec<(u32, Vec<u64>)>,
    /// The plane carried an `IN_FORMATS` blob that was used.
    pub has_in_formats: bool,
}

impl ScanoutPlane {
    /// The plane scans out `format` with `modifier`. An implicit-only plane
    /// takes LINEAR too: without modifiers, a framebuffer's layout is the
    /// buffer's own, and a dumb or linear buffer is linear.
    ///
    /// ```no_run
    /// # fn demo(plane: &accord_smithay::kms::ScanoutPlane) {
    /// let xrgb8888 = u32::from_le_bytes(*b"XR24");
    /// if plane.supports(xrgb8888, accord_engine::MOD_LINEAR) {
    ///     // a linear XRGB8888 buffer can go on this plane
    /// }
    /// # }
    /// ```
    pub fn supports(&self, format: u32, modifier: u64) -> bool {
        self.formats.iter().any(|(f, mods)| {
            *f == format
                && mods
                    .iter()
                    .any(|&m| m == modifier || (m == MOD_INVALID && (modifier == MOD_LINEAR)))
        })
    }
}

/// Find a property's handle and current value on a KMS object by name.
pub(super) fn property<H: ResourceHandle>(
    card: &Card,
    handle: H,
    name: &str,
) -> std::io::Result<Option<(smithay::reexports::drm::control::property::Handle, u64)>> {
    let props = card.get_properties(handle)?;
    for (prop, value) in props.iter() {
        let info = card.get_property(*prop)?;
        if info.name().to_bytes() == name.as_bytes() {
            return Ok(Some((*prop, *value)));
        }
    }
    Ok(None)
}

/// Every plane that can be attached to `crtc`, with its type and formats.
/// The card must have universal planes enabled ([`Card::enable_atomic`]).
///
/// ```no_run
/// use accord_smithay::kms::Card;
/// let card = Card::open("/dev/dri/card0")?;
/// use accord_smithay::kms::{probe_planes, ScanoutTarget};
/// card.enable_atomic()?;
/// let target = ScanoutTarget::first_connected(&card)?;
/// let planes = probe_planes(&card, target.crtc)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn probe_planes(card: &Card, crtc: crtc::Handle) -> std::io::Result<Vec<ScanoutPlane>> {
    let resources = card.resource_handles()?;
    let modifiers_cap = card.supports_modifiers();
    let mut out = Vec::new();
    for handle in card.plane_handles()? {
        let info = card.get_plane(handle)?;
        if !resources
            .filter_crtcs(info.possible_crtcs())
            .contains(&crtc)
        {
            continue;
        }
        let kind = match property(card, handle, "type")?.map(|(_, v)| v) {
            Some(1) => PlaneKind::Primary,
            Some(2) => PlaneKind::Cursor,
            _ => PlaneKind::Overlay,
        };
        let mut formats: Vec<(u32, Vec<u64>)> = info
            .formats()
            .iter()
            .map(|&f| (f, vec![MOD_INVALID]))
            .collect();
        let mut has_in_formats = false;
        if modifiers_cap {
            if let Some((_, blob_id)) = property(card, handle, "IN_FORMATS")? {
                if blob_id != 0 {
                    let blob = card.get_property_blob(blob_id)?;
                    match parse_in_formats(&blob) {
                        Ok(parsed) => {
                            formats = parsed;
                            has_in_formats = true;
                        }
                        Err(e) => tracing::warn!(plane = ?handle, "ignoring IN_FORMATS: {e}"),
                    }
                }
            }
        }
        out.push(ScanoutPlane {
            handle,
            kind,
            formats,
            has_in_formats,
        });
    }
    Ok(out)
}

/// The compositor participant's pairs for a surface shown through `plane`:
/// the renderer's import pairs in the renderer's order (composition must
/// always remain possible), each marked `scanout` when the plane takes it.
/// Plane pairs the renderer cannot import are left out, so scanout
/// candidates stay a subset of the renderer's.
///
/// ```no_run
/// # use accord_engine::FormatModifier;
/// # fn demo(primary: &accord_smithay::kms::ScanoutPlane, renderer: &[FormatModifier]) {
/// let pairs = accord_smithay::kms::compositor_formats(primary, renderer);
/// assert_eq!(pairs.len(), renderer.len(), "every renderer pair stays, some marked scanout");
/// # }
/// ```
pub fn compositor_formats(
    plane: &ScanoutPlane,
    renderer: &[FormatModifier],
) -> Vec<FormatModifier> {
    renderer
        .iter()
        .map(|fm| FormatModifier {
            scanout: plane.supports(fm.format, fm.modifier),
            ..*fm
        })
        .collect()
}

/// Alpha formats the primary plane scans out through their opaque twin:
/// the renderer's pairs whose format has an alpha channel the plane does not
/// take, while it takes the alpha-less twin with the same modifier
/// (ARGB8888 memory shown through an XRGB8888 framebuffer: the same layout,
/// alpha ignored). This is exact only where nothing lies below the buffer:
/// a surface that covers the CRTC on its bottom plane with an opaque region
/// over all of it (or a black CRTC background). Weston calls this the
/// format's `opaque_substitute`; smithay's `DrmCompositor` exports primary
/// plane framebuffers this way. Other plane kinds get nothing.
///
/// ```no_run
/// # fn demo(primary: &accord_smithay::kms::ScanoutPlane, renderer: &[accord_engine::FormatModifier]) {
/// // On virtio-gpu (primary plane: XRGB8888 only) this is ARGB8888.
/// let extra = accord_smithay::kms::opaque_substitutes(primary, renderer);
/// # }
/// ```
pub fn opaque_substitutes(
    plane: &ScanoutPlane,
    renderer: &[FormatModifier],
) -> Vec<FormatModifier> {
    if plane.kind != PlaneKind::Primary {
        return Vec::new();
    }
    renderer
        .iter()
        .filter(|fm| !plane.supports(fm.format, fm.modifier))
        .filter_map(|fm| {
            let opaque = get_opaque(Fourcc::try_from(fm.format).ok()?)? as u32;
            plane
                .supports(opaque, fm.modifier)
                .then_some(FormatModifier {
                    scanout: true,
                    ..*fm
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const XR24: u32 = u32::from_le_bytes(*b"XR24");
    const AR24: u32 = u32::from_le_bytes(*b"AR24");

    #[test]
    fn implicit_planes_scan_out_linear_and_only_their_formats() {
        let plane = ScanoutPlane {
            handle: smithay::reexports::drm::control::from_u32(1).unwrap(),
            kind: PlaneKind::Primary,
            formats: vec![(XR24, vec![MOD_INVALID])],
            has_in_formats: false,
        };
        let renderer = [
            FormatModifier {
                format: AR24,
                modifier: MOD_LINEAR,
                scanout: false,
            },
            FormatModifier {
                format: XR24,
                modifier: MOD_LINEAR,
                scanout: false,
            },
        ];
        let out = compositor_formats(&plane, &renderer);
        assert_eq!(out.len(), 2);
        assert!(!out[0].scanout, "the plane lacks ARGB8888");
        assert!(out[1].scanout, "implicit XRGB8888 takes a linear buffer");
        assert!(
            !plane.supports(XR24, 0x0100_0000_0000_0001),
            "vendor modifier on an implicit plane"
        );
    }

    #[test]
    fn alpha_formats_substitute_their_opaque_twin_on_the_primary_plane_only() {
        const AB24: u32 = u32::from_le_bytes(*b"AB24");
        const NV12: u32 = u32::from_le_bytes(*b"NV12");
        let mut plane = ScanoutPlane {
            handle: smithay::reexports::drm::control::from_u32(1).unwrap(),
            kind: PlaneKind::Primary,
            formats: vec![(XR24, vec![MOD_INVALID])],
            has_in_formats: false,
        };
        let linear = |format| FormatModifier {
            format,
            modifier: MOD_LINEAR,
            scanout: false,
        };
        let renderer = [linear(AR24), linear(XR24), linear(AB24), linear(NV12)];
        assert_eq!(
            opaque_substitutes(&plane, &renderer),
            vec![FormatModifier {
                scanout: true,
                ..linear(AR24)
            }],
            "ARGB8888 through XRGB8888; ABGR8888's twin XBGR8888 is not on the plane; \
             XRGB8888 and NV12 have no alpha"
        );
        let vendor = FormatModifier {
            modifier: 0x0100_0000_0000_0001,
            ..linear(AR24)
        };
        assert!(
            opaque_substitutes(&plane, &[vendor]).is_empty(),
            "the twin must be taken with the same modifier"
        );
        plane.formats.push((AR24, vec![MOD_INVALID]));
        assert!(
            opaque_substitutes(&plane, &renderer).is_empty(),
            "a plane that takes ARGB8888 as it is needs no substitute"
        );
        plane.formats.pop();
        plane.kind = PlaneKind::Overlay;
        assert!(
            opaque_substitutes(&plane, &renderer).is_empty(),
            "an overlay has planes below it"
        );
    }
}
