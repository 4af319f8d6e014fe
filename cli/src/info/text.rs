//! The human-readable listing: one tree per section, drawn like `drm_info`.

use std::fmt::Write;

use accord_engine::formats::{modifier_name, name};
use accord_engine::MOD_INVALID;
use accord_smithay::kms::ScanoutPlane;

use super::{renderers::RendererReport, Kms, Node, NodeInfo, Report};

/// A labelled node with children, drawn with box-drawing characters.
pub struct Tree {
    label: String,
    children: Vec<Tree>,
}

pub fn leaf(label: impl Into<String>) -> Tree {
    Tree {
        label: label.into(),
        children: Vec::new(),
    }
}

pub fn branch(label: impl Into<String>, children: Vec<Tree>) -> Tree {
    Tree {
        label: label.into(),
        children,
    }
}

impl Tree {
    fn draw(&self, out: &mut String) {
        let _ = writeln!(out, "{}", self.label);
        self.draw_children("", out);
    }

    fn draw_children(&self, prefix: &str, out: &mut String) {
        for (i, child) in self.children.iter().enumerate() {
            let last = i + 1 == self.children.len();
            let (head, tail) = if last {
                ("└───", "    ")
            } else {
                ("├───", "│   ")
            };
            let _ = writeln!(out, "{prefix}{head}{}", child.label);
            child.draw_children(&format!("{prefix}{tail}"), out);
        }
    }
}

pub fn report(r: &Report) -> String {
    let mut out = String::new();
    if r.nodes.is_empty() {
        let _ = writeln!(
            out,
            "DRM nodes: no DRM devices found (no card* or renderD* node under /dev/dri)"
        );
    }
    for node in &r.nodes {
        node_tree(node).draw(&mut out);
    }
    out.push('\n');
    for renderer in &r.renderers {
        renderer_tree(renderer).draw(&mut out);
        out.push('\n');
    }
    branch(
        "Allocation backends (the placements each serves)",
        r.backends
            .iter()
            .map(|d| match d.placement() {
                Some(p) => branch(d.to_string(), vec![leaf(super::placement_line(&p))]),
                None => leaf(d.to_string()),
            })
            .collect(),
    )
    .draw(&mut out);
    out.push('\n');
    super::v4l2::tree(&r.v4l2).draw(&mut out);
    out
}

fn node_tree(node: &Node) -> Tree {
    let kind = if node.render { "render" } else { "primary" };
    let label = format!("Node: {} ({kind})", node.path.display());
    match &node.info {
        Ok(info) => branch(label, node_children(info, node.render)),
        Err(e) => branch(label, vec![leaf(format!("Error: {e}"))]),
    }
}

fn node_children(info: &NodeInfo, render: bool) -> Vec<Tree> {
    let mut caps: Vec<Tree> = info
        .client_caps
        .iter()
        .map(|(n, ok)| {
            let word = if *ok { "supported" } else { "not supported" };
            leaf(format!("DRM_CLIENT_CAP_{n} {word}"))
        })
        .collect();
    caps.extend(info.caps.iter().map(|(n, v)| match (n, v) {
        (_, Err(e)) => leaf(format!("DRM_CAP_{n} not reported: {e}")),
        (&"PRIME", Ok(v)) => {
            let mut what = Vec::new();
            if v & 1 != 0 {
                what.push("import");
            }
            if v & 2 != 0 {
                what.push("export");
            }
            leaf(format!("DRM_CAP_PRIME = {v} ({})", what.join(", ")))
        }
        (_, Ok(v)) => leaf(format!("DRM_CAP_{n} = {v}")),
    }));
    let driver = match &info.driver {
        Ok(d) => {
            let (ma, mi, pa) = d.version;
            format!(
                "Driver: {} ({}) version {ma}.{mi}.{pa} ({})",
                d.name, d.description, d.date
            )
        }
        Err(e) => format!("Driver: error: {e}"),
    };
    let mut children = vec![branch(driver, caps)];
    if let Some((bus, id)) = &info.device {
        children.push(leaf(format!("Device: {bus} {id}")));
    }
    match &info.kms {
        None if render => {}
        None => children.push(leaf("KMS: none (render-only driver)")),
        Some(Err(e)) => children.push(leaf(format!("KMS: error: {e}"))),
        Some(Ok(kms)) => children.extend(kms_trees(kms)),
    }
    children
}

fn kms_trees(kms: &Kms) -> Vec<Tree> {
    let fb = branch(
        "Framebuffer size",
        vec![
            leaf(format!("Width: [{}, {}]", kms.fb_min.0, kms.fb_max.0)),
            leaf(format!("Height: [{}, {}]", kms.fb_min.1, kms.fb_max.1)),
        ],
    );
    let connectors = kms
        .connectors
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut rows = vec![leaf(format!("Object ID: {}", c.id))];
            match &c.error {
                Some(e) => rows.push(leaf(format!("Error: {e}"))),
                None => {
                    rows.push(leaf(format!("Name: {}", c.name)));
                    rows.push(leaf(format!("Status: {}", c.status)));
                    if !c.modes.is_empty() {
                        rows.push(leaf(format!("Modes: {}", c.modes.join(", "))));
                    }
                }
            }
            branch(format!("Connector {i}"), rows)
        })
        .collect();
    let crtcs = kms
        .crtcs
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mode = c.mode.as_deref().unwrap_or("off");
            let planes = match &c.planes {
                Ok(planes) => branch(
                    "Planes",
                    planes
                        .iter()
                        .enumerate()
                        .map(|(j, p)| plane_tree(j, p))
                        .collect(),
                ),
                Err(e) => leaf(format!("Planes: error: {e}")),
            };
            branch(
                format!("CRTC {i}"),
                vec![
                    leaf(format!("Object ID: {}", c.id)),
                    leaf(format!("Mode: {mode}")),
                    planes,
                ],
            )
        })
        .collect();
    vec![fb, branch("Connectors", connectors), branch("CRTCs", crtcs)]
}

fn plane_tree(index: usize, p: &ScanoutPlane) -> Tree {
    let source = if p.has_in_formats {
        "IN_FORMATS"
    } else {
        "no IN_FORMATS: implicit modifiers only"
    };
    let formats = p
        .formats
        .iter()
        .map(|(f, mods)| leaf(format_line(*f, mods)))
        .collect();
    branch(
        format!("Plane {index}"),
        vec![
            leaf(format!("Object ID: {}", u32::from(p.handle))),
            leaf(format!("Type: {}", super::kind_name(p.kind))),
            branch(format!("Formats ({source})"), formats),
        ],
    )
}

/// `XRGB8888 (0x34325258): LINEAR, 0x0100000000000002 (I915_Y_TILED)`;
/// an implicit modifier prints as `implicit`.
/// A modifier's name; `implicit` for `INVALID`.
fn modifier_label(m: u64) -> String {
    if m == MOD_INVALID {
        "implicit".to_string()
    } else {
        modifier_name(m)
    }
}

fn format_line(format: u32, modifiers: &[u64]) -> String {
    let mods: Vec<String> = modifiers.iter().map(|&m| modifier_label(m)).collect();
    format!("{} ({format:#010x}): {}", name(format), mods.join(", "))
}

/// One renderer of the reference compositor: its dma-buf pairs (external-only
/// ones marked) and its `wl_shm` formats.
fn renderer_tree(r: &RendererReport) -> Tree {
    let label = format!("Renderer: {} ({})", r.name, r.device);
    let f = match &r.formats {
        Ok(f) => f,
        Err(e) => return branch(label, vec![leaf(format!("Error: {e}"))]),
    };
    let dmabuf = if f.dmabuf.is_empty() {
        leaf("dma-buf import formats: none (the renderer imports no dma-buf)")
    } else {
        let lines = super::group_by_format(&f.dmabuf)
            .iter()
            .map(|(format, mods)| {
                let mods: Vec<String> = mods
                    .iter()
                    .map(|&m| {
                        let mut s = modifier_label(m);
                        if f.is_external_only(*format, m) {
                            s.push_str(" external-only");
                        }
                        s
                    })
                    .collect();
                leaf(format!(
                    "{} ({format:#010x}): {}",
                    name(*format),
                    mods.join(", ")
                ))
            })
            .collect();
        branch("dma-buf import formats", lines)
    };
    let shm: Vec<String> = f.shm.iter().map(|&c| name(c)).collect();
    let shm = leaf(format!("shm formats (memory it draws): {}", shm.join(", ")));
    branch(label, vec![dmabuf, shm])
}
