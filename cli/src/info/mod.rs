//! `accord info`: what this machine offers Accord, in `drm_info`'s layout.
//! Probing uses `accord-smithay`'s KMS and backend code (the compositor's
//! own view) and `accord-v4l2`'s node listing (cameras); this module gathers a [`Report`] and prints it as a tree
//! ([`text`]) or as one JSON object ([`json`]). A node that cannot be read
//! is reported with its error; the listing goes on.

mod json;
mod probe;
pub mod renderers;
mod text;
mod v4l2;

use std::path::PathBuf;
use std::process::ExitCode;

use accord_engine::FormatModifier;
use accord_smithay::backend::{detect, drm_nodes, Detected};
use accord_smithay::kms::{PlaneKind, ScanoutPlane};
use renderers::RendererReport;

/// Everything `accord info` prints.
pub struct Report {
    pub nodes: Vec<Node>,
    /// The reference compositor's renderers, live: what each imports.
    pub renderers: Vec<RendererReport>,
    pub backends: Vec<Detected>,
    /// `/dev/video*` nodes: what each offers, or why it cannot be read.
    pub v4l2: Vec<V4l2Node>,
}

/// A V4L2 node's path and listing.
pub type V4l2Node = (PathBuf, Result<accord_v4l2::NodeInfo, accord_v4l2::Error>);

/// One `/dev/dri` node.
pub struct Node {
    pub path: PathBuf,
    /// A `renderD*` node (no KMS, no client caps).
    pub render: bool,
    /// `Err` when the node cannot be opened.
    pub info: Result<NodeInfo, String>,
}

pub struct NodeInfo {
    pub driver: Result<Driver, String>,
    /// Bus and bus id from sysfs (`pci`, `0000:00:02.0`), when known.
    pub device: Option<(String, String)>,
    /// `DRM_CAP_*` by name (without prefix), or why the kernel did not
    /// report it (`EINVAL`: unknown to this kernel; `EOPNOTSUPP`: a KMS cap
    /// asked of a driver without KMS).
    pub caps: Vec<(&'static str, Result<u64, String>)>,
    /// `DRM_CLIENT_CAP_*` by name: whether the kernel accepted it.
    pub client_caps: Vec<(&'static str, bool)>,
    /// `None` for render nodes; `Err` when the KMS resources cannot be read.
    pub kms: Option<Result<Kms, String>>,
}

pub struct Driver {
    pub name: String,
    pub description: String,
    pub date: String,
    pub version: (i32, i32, i32),
}

pub struct Kms {
    pub fb_min: (u32, u32),
    pub fb_max: (u32, u32),
    pub connectors: Vec<Connector>,
    pub crtcs: Vec<Crtc>,
}

pub struct Connector {
    pub id: u32,
    /// `Virtual-1`, `HDMI-A-1`, ...
    pub name: String,
    pub status: &'static str,
    /// Modes as `WxH@Hz`, the preferred one first.
    pub modes: Vec<String>,
    pub error: Option<String>,
}

pub struct Crtc {
    pub id: u32,
    /// The current mode (`WxH@Hz`) when the CRTC is on.
    pub mode: Option<String>,
    /// The planes that can show content on this CRTC.
    pub planes: Result<Vec<ScanoutPlane>, String>,
}

impl Report {
    /// Probe every DRM node, the renderers `args` names and the
    /// allocation backends.
    pub fn gather(args: &Args) -> Report {
        Report {
            nodes: drm_nodes().into_iter().map(probe::node).collect(),
            renderers: renderers::probe(&args.renderer, args.gles_device.as_deref()),
            backends: detect(),
            v4l2: accord_v4l2::probe_all(),
        }
    }
}

/// List the DRM nodes (driver, capabilities, planes per CRTC with formats
/// and modifiers), the reference compositor's renderers live (the dma-buf
/// pairs each imports, external-only ones marked, and its wl_shm formats),
/// the allocation backends available here and the V4L2 nodes (capture
/// formats with their DRM names, frame sizes).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print one JSON object instead of the tree.
    #[arg(long)]
    json: bool,
    /// List this renderer (repeat for both; default: both).
    #[arg(long, value_enum, value_name = "gles|pixman")]
    renderer: Vec<renderers::Which>,
    /// Bring GLES up on this card's GBM device, as `accord-compositor
    /// --drm` does (default: EGL's software device, as headless).
    #[arg(long, value_name = "/dev/dri/cardN")]
    gles_device: Option<PathBuf>,
}

pub fn run(args: &Args) -> ExitCode {
    let as_json = args.json;
    let report = Report::gather(args);
    if as_json {
        println!("{}", json::report(&report));
    } else {
        print!("{}", text::report(&report));
    }
    ExitCode::SUCCESS
}

/// `DRM_PLANE_TYPE_*` in lower case, as `drm_info` prints it.
pub fn kind_name(kind: PlaneKind) -> &'static str {
    match kind {
        PlaneKind::Primary => "primary",
        PlaneKind::Cursor => "cursor",
        PlaneKind::Overlay => "overlay",
    }
}

/// Pairs grouped by format in first-seen order: the shape planes report.
pub fn group_by_format(pairs: &[FormatModifier]) -> Vec<(u32, Vec<u64>)> {
    let mut out: Vec<(u32, Vec<u64>)> = Vec::new();
    for p in pairs {
        match out.iter_mut().find(|(f, _)| *f == p.format) {
            Some((_, mods)) => mods.push(p.modifier),
            None => out.push((p.format, vec![p.modifier])),
        }
    }
    out
}

/// What a placement serves, for people: its traits, and which collections
/// it can take (`accord_engine::placements`' rules).
pub(crate) fn placement_line(p: &accord_engine::placements::Source) -> String {
    let whom = if !p.device.is_empty() {
        let ids: Vec<String> = p.device.iter().map(|d| format!("{d:#x}")).collect();
        format!(
            "collections whose named devices are all this device ({}), and scanout on it",
            ids.join(", ")
        )
    } else if p.dmabuf {
        "collections whatever devices they name (system memory), not scanout on a named display"
            .to_string()
    } else {
        "collections no device or scanout needs a dma-buf for".to_string()
    };
    format!("serves: {}; {whom}", p.describe())
}

#[cfg(test)]
mod tests {
    use super::*;
    use accord_engine::{MOD_INVALID, MOD_LINEAR};
    use accord_smithay::backend::BackendKind;
    use smithay::reexports::drm::control::from_u32;

    const XR24: u32 = u32::from_le_bytes(*b"XR24");
    const AR24: u32 = u32::from_le_bytes(*b"AR24");
    const NV12: u32 = u32::from_le_bytes(*b"NV12");

    /// A node that cannot be opened, then a KMS card with an implicit
    /// primary plane and an IN_FORMATS cursor plane.
    fn fixture() -> Report {
        let planes = vec![
            ScanoutPlane {
                handle: from_u32(31).unwrap(),
                kind: PlaneKind::Primary,
                formats: vec![(XR24, vec![MOD_INVALID])],
                has_in_formats: false,
            },
            ScanoutPlane {
                handle: from_u32(32).unwrap(),
                kind: PlaneKind::Cursor,
                formats: vec![(AR24, vec![MOD_LINEAR, 0x0100_0000_0000_0002])],
                has_in_formats: true,
            },
        ];
        let card = NodeInfo {
            driver: Ok(Driver {
                name: "virtio_gpu".into(),
                description: "virtio GPU".into(),
                date: "0".into(),
                version: (0, 1, 0),
            }),
            device: Some(("pci".into(), "0000:00:02.0".into())),
            caps: vec![
                ("DUMB_BUFFER", Ok(1)),
                ("PRIME", Ok(3)),
                ("SYNCOBJ", Err("Invalid argument (os error 22)".into())),
            ],
            client_caps: vec![("ATOMIC", true), ("STEREO_3D", false)],
            kms: Some(Ok(Kms {
                fb_min: (16, 16),
                fb_max: (8192, 8192),
                connectors: vec![Connector {
                    id: 35,
                    name: "Virtual-1".into(),
                    status: "connected",
                    modes: vec!["1280x800@60".into(), "1024x768@60".into()],
                    error: None,
                }],
                crtcs: vec![Crtc {
                    id: 33,
                    mode: None,
                    planes: Ok(planes),
                }],
            })),
        };
        Report {
            nodes: vec![
                Node {
                    path: "/dev/dri/card0".into(),
                    render: false,
                    info: Err("cannot open /dev/dri/card0: Permission denied (os error 13)".into()),
                },
                Node {
                    path: "/dev/dri/card1".into(),
                    render: false,
                    info: Ok(card),
                },
            ],
            renderers: vec![
                RendererReport {
                    name: "pixman",
                    device: "the CPU".into(),
                    formats: Ok(renderers::RendererFormats {
                        dmabuf: vec![FormatModifier {
                            format: XR24,
                            modifier: MOD_LINEAR,
                            scanout: false,
                        }],
                        external_only: vec![],
                        shm: vec![AR24, XR24],
                    }),
                },
                RendererReport {
                    name: "gles",
                    device: "EGL on /dev/dri/card1's GBM device: llvmpipe".into(),
                    formats: Ok(renderers::RendererFormats {
                        dmabuf: vec![
                            FormatModifier {
                                format: XR24,
                                modifier: MOD_INVALID,
                                scanout: false,
                            },
                            FormatModifier {
                                format: NV12,
                                modifier: MOD_INVALID,
                                scanout: false,
                            },
                        ],
                        external_only: vec![(NV12, MOD_INVALID)],
                        shm: vec![AR24],
                    }),
                },
                RendererReport {
                    name: "gles",
                    device: "EGL on Mesa's software device".into(),
                    formats: Err("EGL: no software device".into()),
                },
            ],
            backends: vec![Detected {
                kind: BackendKind::Memfd,
                path: None,
                status: Ok("sealed memfd".into()),
            }],
            v4l2: vec![
                (
                    "/dev/video0".into(),
                    Ok(accord_v4l2::NodeInfo {
                        path: "/dev/video0".into(),
                        driver: "vivid".into(),
                        card: "vivid".into(),
                        bus_info: "platform:vivid-000".into(),
                        version: (6, 1, 0),
                        capabilities: vec!["VIDEO_CAPTURE", "STREAMING"],
                        formats: vec![
                            accord_v4l2::FormatInfo {
                                v4l2: XR24,
                                drm: Some(XR24),
                                description: "32-bit BGRX 8-8-8-8".into(),
                                compressed: false,
                                sizes: accord_v4l2::FrameSizes::Discrete(vec![
                                    (640, 480),
                                    (1280, 720),
                                ]),
                            },
                            accord_v4l2::FormatInfo {
                                v4l2: u32::from_le_bytes(*b"MJPG"),
                                drm: None,
                                description: "Motion-JPEG".into(),
                                compressed: true,
                                sizes: accord_v4l2::FrameSizes::Stepwise {
                                    min: (16, 16),
                                    max: (1920, 1080),
                                    step: (16, 8),
                                },
                            },
                        ],
                    }),
                ),
                (
                    "/dev/video1".into(),
                    Err(accord_v4l2::Error::Node {
                        node: "/dev/video1".into(),
                        message: "cannot open: Device or resource busy (os error 16)".into(),
                    }),
                ),
            ],
        }
    }

    #[test]
    fn text_reports_a_node_error_and_goes_on() {
        let text = text::report(&fixture());
        let want = "\
Node: /dev/dri/card0 (primary)
└───Error: cannot open /dev/dri/card0: Permission denied (os error 13)
Node: /dev/dri/card1 (primary)
├───Driver: virtio_gpu (virtio GPU) version 0.1.0 (0)
│   ├───DRM_CLIENT_CAP_ATOMIC supported
│   ├───DRM_CLIENT_CAP_STEREO_3D not supported
│   ├───DRM_CAP_DUMB_BUFFER = 1
│   ├───DRM_CAP_PRIME = 3 (import, export)
│   └───DRM_CAP_SYNCOBJ not reported: Invalid argument (os error 22)
├───Device: pci 0000:00:02.0
├───Framebuffer size
│   ├───Width: [16, 8192]
│   └───Height: [16, 8192]
├───Connectors
│   └───Connector 0
│       ├───Object ID: 35
│       ├───Name: Virtual-1
│       ├───Status: connected
│       └───Modes: 1280x800@60, 1024x768@60
└───CRTCs
    └───CRTC 0
        ├───Object ID: 33
        ├───Mode: off
        └───Planes
            ├───Plane 0
            │   ├───Object ID: 31
            │   ├───Type: primary
            │   └───Formats (no IN_FORMATS: implicit modifiers only)
            │       └───XRGB8888 (0x34325258): implicit
            └───Plane 1
                ├───Object ID: 32
                ├───Type: cursor
                └───Formats (IN_FORMATS)
                    └───ARGB8888 (0x34325241): LINEAR, 0x0100000000000002 (I915_Y_TILED)

Renderer: pixman (the CPU)
├───dma-buf import formats
│   └───XRGB8888 (0x34325258): LINEAR
└───shm formats (memory it draws): ARGB8888, XRGB8888

Renderer: gles (EGL on /dev/dri/card1's GBM device: llvmpipe)
├───dma-buf import formats
│   ├───XRGB8888 (0x34325258): implicit
│   └───NV12 (0x3231564e): implicit external-only
└───shm formats (memory it draws): ARGB8888

Renderer: gles (EGL on Mesa's software device)
└───Error: EGL: no software device

Allocation backends (the placements each serves)
└───memfd: available (sealed memfd)
    └───serves: not a dma-buf, mappable, linear layouts of known formats; collections no device or scanout needs a dma-buf for

V4L2 nodes
├───/dev/video0
│   ├───Driver: vivid version 6.1.0
│   ├───Card: vivid
│   ├───Bus: platform:vivid-000
│   ├───Capabilities: VIDEO_CAPTURE STREAMING
│   └───Capture formats
│       ├───XR24 (DRM XRGB8888): 32-bit BGRX 8-8-8-8
│       │   └───Sizes: 640x480, 1280x720
│       └───MJPG (no DRM format, compressed): Motion-JPEG
│           └───Sizes: 16x16 to 1920x1080 in steps of 16x8
└───/dev/video1
    └───Error: /dev/video1: cannot open: Device or resource busy (os error 16)
";
        assert_eq!(text, want);
    }

    #[test]
    fn json_carries_the_same_data() {
        let v = json::report(&fixture());
        let nodes = v["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), 2);
        assert_eq!(
            nodes[0]["error"],
            "cannot open /dev/dri/card0: Permission denied (os error 13)"
        );
        assert_eq!(nodes[0]["driver"], serde_json::Value::Null);
        let card = &nodes[1];
        assert_eq!(card["error"], serde_json::Value::Null);
        assert_eq!(card["driver"]["name"], "virtio_gpu");
        assert_eq!(card["driver"]["version"], "0.1.0");
        assert_eq!(
            card["device"],
            serde_json::json!({"bus": "pci", "id": "0000:00:02.0"})
        );
        assert_eq!(card["caps"]["PRIME"], 3);
        assert_eq!(card["caps"]["SYNCOBJ"], serde_json::Value::Null);
        assert_eq!(card["client_caps"]["ATOMIC"], true);
        let kms = &card["kms"];
        assert_eq!(kms["fb_max"], serde_json::json!([8192, 8192]));
        assert_eq!(kms["connectors"][0]["name"], "Virtual-1");
        let planes = &kms["crtcs"][0]["planes"];
        assert_eq!(
            planes[0],
            serde_json::json!({
                "id": 31, "type": "primary", "in_formats": false,
                "formats": [{"format": "XRGB8888", "fourcc": "0x34325258",
                    "modifiers": [{"modifier": "0x00ffffffffffffff", "name": "INVALID"}]}]
            })
        );
        assert_eq!(planes[1]["type"], "cursor");
        assert_eq!(
            planes[1]["formats"][0]["modifiers"][1]["name"],
            "0x0100000000000002 (I915_Y_TILED)"
        );
        let renderers = v["renderers"].as_array().unwrap();
        assert_eq!(renderers.len(), 3);
        assert_eq!(renderers[0]["name"], "pixman");
        assert_eq!(renderers[0]["device"], "the CPU");
        assert_eq!(renderers[0]["error"], serde_json::Value::Null);
        assert_eq!(
            renderers[0]["shm"],
            serde_json::json!([{"format": "ARGB8888", "fourcc": "0x34325241"},
                {"format": "XRGB8888", "fourcc": "0x34325258"}])
        );
        assert_eq!(
            renderers[1]["formats"][1],
            serde_json::json!({"format": "NV12", "fourcc": "0x3231564e",
                "modifiers": [{"modifier": "0x00ffffffffffffff", "name": "INVALID",
                    "external_only": true}]})
        );
        assert_eq!(
            renderers[1]["formats"][0]["modifiers"][0]["external_only"],
            false
        );
        assert_eq!(renderers[2]["error"], "EGL: no software device");
        assert_eq!(renderers[2]["formats"], serde_json::json!([]));
        assert_eq!(v["backends"][0]["kind"], "memfd");
        let video = &v["v4l2"];
        assert_eq!(video[0]["driver"], "vivid");
        assert_eq!(video[0]["error"], serde_json::Value::Null);
        assert_eq!(
            video[0]["formats"][0],
            serde_json::json!({
                "fourcc": "XR24", "code": "0x34325258", "description": "32-bit BGRX 8-8-8-8",
                "compressed": false, "drm": "XRGB8888", "drm_fourcc": "0x34325258",
                "sizes": {"type": "discrete", "sizes": [[640, 480], [1280, 720]]}
            })
        );
        assert_eq!(video[0]["formats"][1]["drm"], serde_json::Value::Null);
        assert_eq!(
            video[0]["formats"][1]["sizes"]["step"],
            serde_json::json!([16, 8])
        );
        assert_eq!(
            video[1]["error"],
            "/dev/video1: cannot open: Device or resource busy (os error 16)"
        );
        assert_eq!(video[1]["formats"], serde_json::json!([]));
    }

    #[test]
    fn grouping_keeps_first_seen_order() {
        let pair = |format, modifier| FormatModifier {
            format,
            modifier,
            scanout: false,
        };
        let got = group_by_format(&[pair(AR24, 0), pair(XR24, 0), pair(AR24, 5)]);
        assert_eq!(got, vec![(AR24, vec![0, 5]), (XR24, vec![0])]);
    }
}
