//! `accord info --json`: the same report as one JSON object. The keys are
//! documented in the README ("accord info"); every key is always present
//! (`null` when unknown or not applicable), so scripts can index blindly.

use accord_engine::formats::{modifier_name, name};
use accord_smithay::backend::Detected;
use accord_smithay::kms::ScanoutPlane;
use serde_json::{json, Map, Value};

use super::{renderers::RendererReport, Kms, Node, NodeInfo, Report};

pub fn report(r: &Report) -> Value {
    json!({
        "nodes": r.nodes.iter().map(node).collect::<Vec<_>>(),
        "renderers": r.renderers.iter().map(renderer).collect::<Vec<_>>(),
        "backends": r.backends.iter().map(backend).collect::<Vec<_>>(),
        "v4l2": super::v4l2::json(&r.v4l2),
    })
}

fn node(n: &Node) -> Value {
    let mut v = json!({
        "path": n.path.display().to_string(),
        "type": if n.render { "render" } else { "primary" },
        "error": null,
        "driver": null,
        "device": null,
        "caps": {},
        "client_caps": {},
        "kms": null,
    });
    match &n.info {
        Err(e) => v["error"] = json!(e),
        Ok(info) => fill(&mut v, info),
    }
    v
}

fn fill(v: &mut Value, info: &NodeInfo) {
    match &info.driver {
        Ok(d) => {
            let (ma, mi, pa) = d.version;
            v["driver"] = json!({
                "name": d.name,
                "description": d.description,
                "date": d.date,
                "version": format!("{ma}.{mi}.{pa}"),
            });
        }
        Err(e) => v["error"] = json!(e),
    }
    if let Some((bus, id)) = &info.device {
        v["device"] = json!({"bus": bus, "id": id});
    }
    let caps: Map<String, Value> = info
        .caps
        .iter()
        .map(|(n, val)| (n.to_string(), json!(val.as_ref().ok())))
        .collect();
    v["caps"] = Value::Object(caps);
    let client: Map<String, Value> = info
        .client_caps
        .iter()
        .map(|(n, ok)| (n.to_string(), json!(ok)))
        .collect();
    v["client_caps"] = Value::Object(client);
    v["kms"] = match &info.kms {
        None => Value::Null,
        Some(Err(e)) => {
            json!({"error": e, "fb_min": null, "fb_max": null, "connectors": [], "crtcs": []})
        }
        Some(Ok(k)) => kms(k),
    };
}

fn kms(k: &Kms) -> Value {
    let connectors: Vec<Value> = k
        .connectors
        .iter()
        .map(|c| {
            json!({
                "id": c.id,
                "name": c.name,
                "status": c.status,
                "modes": c.modes,
                "error": c.error,
            })
        })
        .collect();
    let crtcs: Vec<Value> = k
        .crtcs
        .iter()
        .map(|c| {
            let (planes, error) = match &c.planes {
                Ok(p) => (p.iter().map(plane).collect(), Value::Null),
                Err(e) => (Vec::new(), json!(e)),
            };
            json!({"id": c.id, "mode": c.mode, "planes": planes, "error": error})
        })
        .collect();
    json!({
        "error": null,
        "fb_min": [k.fb_min.0, k.fb_min.1],
        "fb_max": [k.fb_max.0, k.fb_max.1],
        "connectors": connectors,
        "crtcs": crtcs,
    })
}

fn plane(p: &ScanoutPlane) -> Value {
    json!({
        "id": u32::from(p.handle),
        "type": super::kind_name(p.kind),
        "in_formats": p.has_in_formats,
        "formats": formats(&p.formats),
    })
}

/// `[{"format": "XRGB8888", "fourcc": "0x34325258", "modifiers":
/// [{"modifier": "0x0000000000000000", "name": "LINEAR"}]}]`.
fn formats(list: &[(u32, Vec<u64>)]) -> Value {
    list.iter()
        .map(|(f, mods)| {
            let mods: Vec<Value> = mods
                .iter()
                .map(|&m| json!({"modifier": format!("{m:#018x}"), "name": modifier_name(m)}))
                .collect();
            json!({"format": name(*f), "fourcc": format!("{f:#010x}"), "modifiers": mods})
        })
        .collect()
}

/// `formats` as planes list them, each modifier with `external_only`; and
/// `shm`, the `wl_shm` formats.
fn renderer(r: &RendererReport) -> Value {
    let (formats, shm, error) = match &r.formats {
        Ok(f) => {
            let formats: Vec<Value> = super::group_by_format(&f.dmabuf)
                .iter()
                .map(|(format, mods)| {
                    let mods: Vec<Value> = mods
                        .iter()
                        .map(|&m| {
                            json!({"modifier": format!("{m:#018x}"), "name": modifier_name(m),
                                "external_only": f.is_external_only(*format, m)})
                        })
                        .collect();
                    json!({"format": name(*format), "fourcc": format!("{format:#010x}"),
                        "modifiers": mods})
                })
                .collect();
            let shm: Vec<Value> = f
                .shm
                .iter()
                .map(|&c| json!({"format": name(c), "fourcc": format!("{c:#010x}")}))
                .collect();
            (json!(formats), json!(shm), Value::Null)
        }
        Err(e) => (json!([]), json!([]), json!(e)),
    };
    json!({"name": r.name, "device": r.device, "error": error, "formats": formats, "shm": shm})
}

fn backend(d: &Detected) -> Value {
    let (detail, reason) = match &d.status {
        Ok(detail) => (json!(detail), Value::Null),
        Err(why) => (Value::Null, json!(why)),
    };
    json!({
        "kind": d.kind.as_str(),
        "name": d.name(),
        "path": d.path.as_ref().map(|p| p.display().to_string()),
        "available": d.available(),
        "detail": detail,
        "reason": reason,
        "placement": d.placement().map(|p| json!({
            "kind": p.kind.as_str(),
            "heap": p.heap,
            "devices": p.device,
            "dmabuf": p.dmabuf,
            "mappable": p.mappable,
            "contiguous": p.contiguous,
            "protected": p.protected,
            "layouts": p.capability.describe(),
            "serves": super::placement_line(&p),
        })),
    })
}
