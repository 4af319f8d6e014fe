//! Probe one DRM node. Every query's failure lands in the report next to
//! what it concerns; nothing here aborts the listing.

use std::ops::{Bound, RangeBounds};
use std::path::{Path, PathBuf};

use accord_smithay::kms::{probe_planes, Card};
use smithay::reexports::drm::control::{connector, Device as ControlDevice, Mode, ModeTypeFlags};
use smithay::reexports::drm::{ClientCapability, Device, DriverCapability};

use super::{Connector, Crtc, Driver, Kms, Node, NodeInfo};

const CAPS: &[(&str, DriverCapability)] = &[
    ("DUMB_BUFFER", DriverCapability::DumbBuffer),
    ("VBLANK_HIGH_CRTC", DriverCapability::VBlankHighCRTC),
    ("DUMB_PREFERRED_DEPTH", DriverCapability::DumbPreferredDepth),
    ("DUMB_PREFER_SHADOW", DriverCapability::DumbPreferShadow),
    ("PRIME", DriverCapability::Prime),
    ("TIMESTAMP_MONOTONIC", DriverCapability::MonotonicTimestamp),
    ("ASYNC_PAGE_FLIP", DriverCapability::ASyncPageFlip),
    (
        "ATOMIC_ASYNC_PAGE_FLIP",
        DriverCapability::AtomicASyncPageFlip,
    ),
    ("CURSOR_WIDTH", DriverCapability::CursorWidth),
    ("CURSOR_HEIGHT", DriverCapability::CursorHeight),
    ("ADDFB2_MODIFIERS", DriverCapability::AddFB2Modifiers),
    ("PAGE_FLIP_TARGET", DriverCapability::PageFlipTarget),
    ("CRTC_IN_VBLANK_EVENT", DriverCapability::CRTCInVBlankEvent),
    ("SYNCOBJ", DriverCapability::SyncObj),
    ("SYNCOBJ_TIMELINE", DriverCapability::TimelineSyncObj),
];

/// In the order the kernel needs them: ATOMIC requires UNIVERSAL_PLANES,
/// and WRITEBACK_CONNECTORS and CURSOR_PLANE_HOTSPOT require ATOMIC. Setting
/// them is what lets us see every plane (virtual drivers hide their cursor
/// plane from atomic clients without CURSOR_PLANE_HOTSPOT).
const CLIENT_CAPS: &[(&str, ClientCapability)] = &[
    ("STEREO_3D", ClientCapability::Stereo3D),
    ("UNIVERSAL_PLANES", ClientCapability::UniversalPlanes),
    ("ATOMIC", ClientCapability::Atomic),
    ("ASPECT_RATIO", ClientCapability::AspectRatio),
    (
        "WRITEBACK_CONNECTORS",
        ClientCapability::WritebackConnectors,
    ),
    ("CURSOR_PLANE_HOTSPOT", ClientCapability::CursorPlaneHotspot),
];

pub fn node(path: PathBuf) -> Node {
    let render = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("renderD"));
    let info = Card::open(&path)
        .map(|card| node_info(&card, render))
        .map_err(|e| format!("cannot open {}: {e}", path.display()));
    Node { path, render, info }
}

fn node_info(card: &Card, render: bool) -> NodeInfo {
    let driver = card
        .get_driver()
        .map(|d| Driver {
            name: d.name().to_string_lossy().into_owned(),
            description: d.description().to_string_lossy().into_owned(),
            date: d.date().to_string_lossy().into_owned(),
            version: d.version,
        })
        .map_err(|e| format!("DRM_IOCTL_VERSION: {e}"));
    let caps = CAPS
        .iter()
        .map(|&(name, cap)| {
            let value = card.get_driver_capability(cap).map_err(|e| e.to_string());
            (name, value)
        })
        .collect();
    // Render nodes refuse SET_CLIENT_CAP and every KMS ioctl.
    let (client_caps, kms) = if render {
        (Vec::new(), None)
    } else {
        let client_caps = CLIENT_CAPS
            .iter()
            .map(|&(name, cap)| (name, card.set_client_capability(cap, true).is_ok()))
            .collect();
        (client_caps, kms(card))
    };
    NodeInfo {
        driver,
        device: card.dev().ok().and_then(sysfs_device),
        caps,
        client_caps,
        kms,
    }
}

/// `(bus, id)` of the device behind the node `dev`, from sysfs.
fn sysfs_device(dev: u64) -> Option<(String, String)> {
    let base = PathBuf::from(format!(
        "/sys/dev/char/{}:{}/device",
        rustix::fs::major(dev),
        rustix::fs::minor(dev)
    ));
    let last = |p: &Path| {
        let p = std::fs::canonicalize(p).ok()?;
        Some(p.file_name()?.to_string_lossy().into_owned())
    };
    Some((last(&base.join("subsystem"))?, last(&base)?))
}

/// `None` when the driver has no KMS (render-only drivers such as vgem).
fn kms(card: &Card) -> Option<Result<Kms, String>> {
    let res = match card.resource_handles() {
        Ok(r) => r,
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::OPNOTSUPP.raw_os_error()) => {
            return None
        }
        Err(e) => return Some(Err(format!("DRM_IOCTL_MODE_GETRESOURCES: {e}"))),
    };
    let (w, h) = (res.supported_fb_width(), res.supported_fb_height());
    let connectors = res
        .connectors()
        .iter()
        .map(|&c| connector(card, c))
        .collect();
    let crtcs = res
        .crtcs()
        .iter()
        .map(|&handle| Crtc {
            id: handle.into(),
            mode: card
                .get_crtc(handle)
                .ok()
                .and_then(|i| i.mode())
                .map(|m| mode_name(&m)),
            planes: probe_planes(card, handle).map_err(|e| format!("planes: {e}")),
        })
        .collect();
    Some(Ok(Kms {
        fb_min: (bound(w.start_bound()), bound(h.start_bound())),
        fb_max: (bound(w.end_bound()), bound(h.end_bound())),
        connectors,
        crtcs,
    }))
}

fn bound(b: Bound<&u32>) -> u32 {
    match b {
        Bound::Included(&v) | Bound::Excluded(&v) => v,
        Bound::Unbounded => 0,
    }
}

fn connector(card: &Card, handle: connector::Handle) -> Connector {
    let id = handle.into();
    match card.get_connector(handle, false) {
        Ok(info) => {
            let mut modes: Vec<&Mode> = info.modes().iter().collect();
            // Preferred first; the sort is stable, so the rest keep the
            // kernel's order.
            modes.sort_by_key(|m| !m.mode_type().contains(ModeTypeFlags::PREFERRED));
            Connector {
                id,
                name: format!("{}-{}", info.interface().as_str(), info.interface_id()),
                status: match info.state() {
                    connector::State::Connected => "connected",
                    connector::State::Disconnected => "disconnected",
                    connector::State::Unknown => "unknown",
                },
                modes: modes.into_iter().map(mode_name).collect(),
                error: None,
            }
        }
        Err(e) => Connector {
            id,
            name: String::new(),
            status: "unknown",
            modes: Vec::new(),
            error: Some(format!("DRM_IOCTL_MODE_GETCONNECTOR: {e}")),
        },
    }
}

fn mode_name(m: &Mode) -> String {
    let (w, h) = m.size();
    format!("{w}x{h}@{}", m.vrefresh())
}
