//! The V4L2 section of `accord info`: every `/dev/video*` node with its
//! driver, card, capabilities, capture formats (with their DRM twins from
//! `accord_v4l2::fourcc`) and frame sizes, as a tree and as JSON.

use accord_engine::formats::name;
use accord_v4l2::fourcc::fourcc_str;
use accord_v4l2::{FormatInfo, FrameSizes, NodeInfo};
use serde_json::{json, Value};

use super::text::{branch, leaf, Tree};
use super::V4l2Node;

pub fn tree(nodes: &[V4l2Node]) -> Tree {
    if nodes.is_empty() {
        return leaf("V4L2 nodes: none (no /dev/video* node)");
    }
    branch("V4L2 nodes", nodes.iter().map(node_tree).collect())
}

fn node_tree((path, info): &V4l2Node) -> Tree {
    let label = path.display().to_string();
    let info = match info {
        Err(e) => return branch(label, vec![leaf(format!("Error: {e}"))]),
        Ok(i) => i,
    };
    let (ma, mi, pa) = info.version;
    let formats = if info.formats.is_empty() {
        leaf("Capture formats: none")
    } else {
        branch(
            "Capture formats",
            info.formats.iter().map(format_tree).collect(),
        )
    };
    branch(
        label,
        vec![
            leaf(format!("Driver: {} version {ma}.{mi}.{pa}", info.driver)),
            leaf(format!("Card: {}", info.card)),
            leaf(format!("Bus: {}", info.bus_info)),
            leaf(format!("Capabilities: {}", info.capabilities.join(" "))),
            formats,
        ],
    )
}

fn format_tree(f: &FormatInfo) -> Tree {
    let drm = match f.drm {
        Some(d) => format!("DRM {}", name(d)),
        None => "no DRM format".into(),
    };
    let compressed = if f.compressed { ", compressed" } else { "" };
    branch(
        format!(
            "{} ({drm}{compressed}): {}",
            fourcc_str(f.v4l2),
            f.description
        ),
        vec![leaf(format!("Sizes: {}", f.sizes))],
    )
}

/// `"v4l2": [...]`, one object per node; every key always present.
pub fn json(nodes: &[V4l2Node]) -> Value {
    nodes
        .iter()
        .map(|(path, info)| {
            let mut v = json!({
                "path": path.display().to_string(),
                "error": null, "driver": null, "card": null, "bus_info": null,
                "version": null, "capabilities": [], "formats": [],
            });
            match info {
                Err(e) => v["error"] = json!(e.to_string()),
                Ok(i) => fill(&mut v, i),
            }
            v
        })
        .collect()
}

fn fill(v: &mut Value, i: &NodeInfo) {
    let (ma, mi, pa) = i.version;
    v["driver"] = json!(i.driver);
    v["card"] = json!(i.card);
    v["bus_info"] = json!(i.bus_info);
    v["version"] = json!(format!("{ma}.{mi}.{pa}"));
    v["capabilities"] = json!(i.capabilities);
    v["formats"] = i
        .formats
        .iter()
        .map(|f| {
            json!({
                "fourcc": fourcc_str(f.v4l2),
                "code": format!("{:#010x}", f.v4l2),
                "description": f.description,
                "compressed": f.compressed,
                "drm": f.drm.map(name),
                "drm_fourcc": f.drm.map(|d| format!("{d:#010x}")),
                "sizes": sizes(&f.sizes),
            })
        })
        .collect();
}

fn sizes(s: &FrameSizes) -> Value {
    match s {
        FrameSizes::Discrete(list) => json!({"type": "discrete", "sizes": list}),
        FrameSizes::Stepwise { min, max, step } => {
            json!({"type": "stepwise", "min": min, "max": max, "step": step})
        }
        FrameSizes::Unknown => json!({"type": "unknown"}),
    }
}
