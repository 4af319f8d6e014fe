//! The JSON form of the engine's outcomes: what `accord solve` prints, one
//! object per scenario.

use accord_engine::formats::{self, modifier_name};
use accord_engine::{Decision, Failure};
use serde_json::{json, Value};

/// `"0x0100000000000002"`: the JSON form of a modifier.
pub fn modifier_hex(m: u64) -> String {
    format!("{m:#018x}")
}

/// The JSON form of a decision (`"ok": true`).
pub fn decision_to_json(d: &Decision) -> Value {
    let mut v = json!({
        "ok": true,
        "format": formats::name(d.format),
        "modifier": modifier_hex(d.modifier),
        "modifier_name": modifier_name(d.modifier),
        "width": d.width,
        "height": d.height,
        "buffer_count": d.buffer_count,
        "usage": d.usage.names().collect::<Vec<_>>(),
        "stride_alignment": d.stride_alignment,
        "offset_alignment": d.offset_alignment,
        "base_alignment": d.base_alignment,
        "min_stride": d.min_stride,
        "max_stride": d.max_stride,
        "max_bytes": d.max_bytes,
        "contiguous": d.contiguous,
        "devices": d.devices,
        "scanout": d.scanout,
        "alternatives": d.alternatives.iter().map(|a| json!({
            "format": if d.raw { "raw".into() } else { formats::name(a.format) },
            "modifier": modifier_hex(a.modifier),
            "scanout": a.scanout,
        })).collect::<Vec<_>>(),
    });
    v["coherency_domain"] = d.coherency_domain.names().next().unwrap_or("cpu").into();
    if d.raw {
        // No image format: `"format": "raw"`, and the bytes per buffer.
        v["raw"] = true.into();
        v["format"] = "raw".into();
    }
    if d.min_size_bytes != 0 {
        v["min_size_bytes"] = d.min_size_bytes.into();
    }
    if let Some(cs) = d.color_space {
        v["color_space"] = cs.name().map_or_else(|| cs.0.into(), Into::into);
    }
    if let Some(l) = &d.layout {
        v["layout"] = json!({
            "planes": l.planes.iter().map(|p| json!({"offset": p.offset, "stride": p.stride})).collect::<Vec<_>>(),
            "size_bytes": l.size_bytes,
        });
    }
    v
}

/// The JSON form of a failure (`"ok": false`).
pub fn failure_to_json(f: &Failure) -> Value {
    json!({
        "ok": false,
        "reason": f.reason.as_str(),
        "message": f.message,
        "participants": f.participants,
    })
}

/// The JSON form of either outcome.
pub fn outcome_to_json(r: &std::result::Result<Decision, Failure>) -> Value {
    match r {
        Ok(d) => decision_to_json(d),
        Err(f) => failure_to_json(f),
    }
}

/// The JSON form of the late participants' checks against `d` (what the
/// compositor decides when they commit after allocation): one object each,
/// `{"name", "ok": true}` or `{"name", "ok": false, "reason", "message"}`.
/// Without a computed layout (a vendor modifier: the device lays it out)
/// the stride and size checks have nothing to check, and each object says
/// `"layout_known": false`.
pub fn late_to_json(d: &Decision, late: &[accord_engine::Constraints]) -> Value {
    let layout = d.layout.as_ref().map(|l| accord_engine::AllocatedLayout {
        planes: l.planes.clone(),
        size_bytes: l.size_bytes,
    });
    let known = layout.is_some();
    let layout = layout.unwrap_or(accord_engine::AllocatedLayout {
        planes: Vec::new(),
        size_bytes: 0,
    });
    Value::Array(
        late.iter()
            .map(|c| {
                let mut v = match accord_engine::check_late_join(d, &layout, c) {
                    Ok(()) => json!({"name": c.name, "ok": true}),
                    Err(f) => json!({
                        "name": c.name,
                        "ok": false,
                        "reason": f.reason.as_str(),
                        "message": f.message,
                    }),
                };
                if !known {
                    v["layout_known"] = false.into();
                }
                v
            })
            .collect(),
    )
}

/// The JSON form of a token group selection (what `accord solve` adds
/// for a scenario with groups): the child chosen for each group that takes
/// part, and the participants that would receive `not_selected`.
///
/// ```
/// let s = r#"{"participants": [{"name": "display", "formats": [{"format": "XRGB8888"}]}],
///             "groups": [{"name": "path", "children": [
///               {"participants": [{"name": "direct", "formats": [{"format": "NV12"}]}]},
///               {"participants": [{"name": "via gpu", "formats": [{"format": "XRGB8888"}]}]}]}]}"#;
/// let sc = accord_scenario::parse_scenario(s).unwrap();
/// let (sel, _) = accord_engine::groups::solve_groups(&sc.participants, &sc.branches, &sc.groups, &sc.policy).unwrap();
/// let j = accord_scenario::selection_to_json(&sc, &sel);
/// assert_eq!(j["selected"][0]["child"], 1);
/// assert_eq!(j["not_selected"][0], "direct");
/// ```
pub fn selection_to_json(
    sc: &crate::Scenario,
    selection: &accord_engine::groups::Selection,
) -> Value {
    let selected: Vec<Value> = sc
        .groups
        .iter()
        .zip(&selection.chosen)
        .filter_map(|(g, c)| Some(json!({"group": g.name, "child": (*c)?})))
        .collect();
    let not_selected: Vec<Value> = sc
        .participants
        .iter()
        .zip(&sc.branches)
        .filter(|(_, b)| !selection.includes(**b))
        .map(|(p, _)| Value::from(p.name.as_str()))
        .collect();
    json!({"selected": selected, "not_selected": not_selected})
}
