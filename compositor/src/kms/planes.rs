use accord_engine::{FormatModifier, MOD_INVALID, MOD_LINEAR};
use smithay::reexports::drm::control::{crtc, plane, Device as ControlDevice, ResourceHandle};

use super::{parse_in_formats, Card};

/// `DRM_PLANE_TYPE_*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlaneKind {
    Overlay,
    Primary,
    Cursor,
}

/// One plane that can show content on a CRTC.
#[derive(Clone, Debug)]
pub struct PlaneInfo {
    pub handle: plane::Handle,
    pub kind: PlaneKind,
    /// Formats with their modifiers. A plane without `IN_FORMATS` (or a
    /// device without `ADDFB2_MODIFIERS`) takes implicit modifiers only,
    /// listed as [`MOD_INVALID`].
    pub formats: Vec<(u32, Vec<u64>)>,
    /// The plane carried an `IN_FORMATS` blob that was used.
    pub has_in_formats: bool,
}

impl PlaneInfo {
    /// The plane scans out `format` with `modifier`. An implicit-only plane
    /// takes LINEAR too: without modifiers, a framebuffer's layout is the
    /// buffer's own, and a dumb or linear buffer is linear.
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
pub fn probe_planes(card: &Card, crtc: crtc::Handle) -> std::io::Result<Vec<PlaneInfo>> {
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
        out.push(PlaneInfo {
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
pub fn compositor_formats(plane: &PlaneInfo, renderer: &[FormatModifier]) -> Vec<FormatModifier> {
    renderer
        .iter()
        .map(|fm| FormatModifier {
            scanout: plane.supports(fm.format, fm.modifier),
            ..*fm
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
        let plane = PlaneInfo {
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
}
